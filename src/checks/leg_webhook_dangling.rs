//! `LEG-WEBHOOK-DANGLING`: a legacy (Mutating|Validating)WebhookConfiguration whose
//! `*.actions.summerwind.dev` webhooks call a Service that does not exist, lives in a namespace
//! that does not exist, or (when its Endpoints were collected) has no ready address (arc-domain
//! §4.7, #1159, #933, #2204). The webhooks use `failurePolicy: Fail` and cover CREATE and UPDATE,
//! so every Runner/RunnerDeployment/RunnerReplicaSet write — finalizer patches included — fails
//! with `failed calling webhook …` until the configurations are deleted (§8.6). One finding per
//! configuration: [configuration, Service(s)].

use std::collections::BTreeSet;

use crate::node::Node;

use crate::findings::{Finding, Severity};
use crate::model::LEGACY_GROUP;
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;

const CODE: &str = "LEG-WEBHOOK-DANGLING";

/// Why a webhook's backend is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broken {
    NamespaceMissing,
    ServiceMissing,
    NoReadyEndpoints,
}

/// One legacy webhook of a configuration whose backend is unreachable.
#[derive(Debug, Clone)]
pub(crate) struct DanglingHook<'a> {
    pub config: &'a Object,
    pub webhook: String,
    pub service: ObjectRef,
    pub broken: Broken,
    /// `rules` of the webhook, to tell which writes it blocks.
    pub rules: &'a [Node],
}

impl DanglingHook<'_> {
    fn describe(&self) -> String {
        let svc = format!(
            "{}/{}",
            self.service.namespace.as_deref().unwrap_or(""),
            self.service.name
        );
        match self.broken {
            Broken::NamespaceMissing => format!(
                "webhook {} calls Service {svc}, whose namespace no longer exists",
                self.webhook
            ),
            Broken::ServiceMissing => {
                format!(
                    "webhook {} calls Service {svc}, which does not exist",
                    self.webhook
                )
            }
            Broken::NoReadyEndpoints => {
                format!(
                    "webhook {} calls Service {svc}, which has no ready endpoints",
                    self.webhook
                )
            }
        }
    }

    /// Does this webhook intercept `operation` on `resource`?
    pub fn intercepts(&self, resource: &str, operation: &str) -> bool {
        let has = |v: &Node, want: &str| {
            v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str().is_some_and(|x| x == "*" || x == want))
            })
        };
        self.rules
            .iter()
            .any(|r| has(&r["resources"], resource) && has(&r["operations"], operation))
    }
}

fn ready(endpoints: &Object) -> bool {
    endpoints
        .array("/subsets")
        .iter()
        .any(|s| s["addresses"].as_array().is_some_and(|a| !a.is_empty()))
}

fn broken(ctx: &Ctx, ns: &str, name: &str) -> Option<Broken> {
    if ctx.snap.namespace_exists(ns) == Some(false) {
        return Some(Broken::NamespaceMissing);
    }
    match ctx.snap.services.get(Some(ns), name) {
        Lookup::Missing => return Some(Broken::ServiceMissing),
        Lookup::Unknown => return None,
        Lookup::Found(_) => {}
    }
    match ctx.snap.endpoints.get(Some(ns), name) {
        Lookup::Found(ep) if !ready(ep) => Some(Broken::NoReadyEndpoints),
        _ => None,
    }
}

/// Every legacy webhook whose backend is unreachable, across both configuration kinds.
pub(crate) fn dangling_hooks<'a>(ctx: &Ctx<'a>) -> Vec<DanglingHook<'a>> {
    let configs = ctx
        .snap
        .mutating_webhooks
        .iter()
        .chain(ctx.snap.validating_webhooks.iter());
    let mut out = Vec::new();
    for config in configs {
        for hook in config.array("/webhooks") {
            let name = hook["name"].as_str().unwrap_or("");
            if !name.ends_with(LEGACY_GROUP) {
                continue;
            }
            let svc = &hook["clientConfig"]["service"];
            let (Some(ns), Some(sname)) = (svc["namespace"].as_str(), svc["name"].as_str()) else {
                continue;
            };
            if let Some(b) = broken(ctx, ns, sname) {
                out.push(DanglingHook {
                    config,
                    webhook: name.to_owned(),
                    service: ObjectRef::namespaced("Service", ns, sname),
                    broken: b,
                    rules: hook["rules"].as_array().unwrap_or(&[]),
                });
            }
        }
    }
    out
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let hooks = dangling_hooks(ctx);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for h in &hooks {
        let key = h.config.meta.obj_ref();
        if seen.insert(key.clone()) {
            let mine: Vec<&DanglingHook> = hooks
                .iter()
                .filter(|x| x.config.meta.obj_ref() == key)
                .collect();
            out.extend(finding_for(ctx, &mine));
        }
    }
    out
}

fn finding_for(ctx: &Ctx, hooks: &[&DanglingHook]) -> Option<Finding> {
    let first = hooks.first()?;
    let config = first.config;
    let services: BTreeSet<ObjectRef> = hooks.iter().map(|h| h.service.clone()).collect();
    let only_endpoints = hooks.iter().all(|h| h.broken == Broken::NoReadyEndpoints);
    let details = hooks
        .iter()
        .map(|h| h.describe())
        .collect::<Vec<_>>()
        .join("; ");
    let message = format!(
        "{} {} points at a legacy ARC webhook backend that is {}: {details}. With failurePolicy Fail this rejects every create/update of Runners, RunnerDeployments and RunnerReplicaSets (finalizer patches included) and the creation of labelled runner pods.",
        config.meta.kind,
        config.meta.name,
        if only_endpoints {
            "not serving"
        } else {
            "gone"
        }
    );
    let kind = config.meta.kind.to_lowercase();
    let mut f = Finding::new(CODE, Severity::Critical, message)
        .object(config.meta.obj_ref())
        .objects(services.iter().cloned());
    for h in hooks {
        f = f.evidence(h.describe());
    }
    if only_endpoints && ctx.model.legacy().next().is_some() {
        f = f.remediation(format!(
            "The Service exists but no controller pod backs it: fix the legacy controller first (`kubectl get pods -n {} -l app.kubernetes.io/name=actions-runner-controller`).",
            first.service.namespace.as_deref().unwrap_or("")
        ));
    }
    Some(f.remediation(format!(
        "If the legacy controller is gone for good, delete the stale configuration (cluster-scoped, no finalizers) before any legacy finalizer is stripped: `kubectl delete {kind} {}` (or `kubectl arc orphans --fix --include-confirm`).",
        config.meta.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;
    use crate::testing;
    use serde_json::json;

    fn config(kind: &str, ns: &str) -> Object {
        testing::obj(
            kind,
            json!({"metadata": testing::meta(None, "actions-runner-controller-mutating-webhook-configuration"),
                   "webhooks": [{"name": "mutate.runner.actions.summerwind.dev", "failurePolicy": "Fail",
                     "clientConfig": {"service": {"namespace": ns, "name": "actions-runner-controller-webhook"}},
                     "rules": [{"operations": ["CREATE", "UPDATE"], "resources": ["runners"], "apiGroups": ["actions.summerwind.dev"]}]}]}),
        )
    }

    fn with_config(ns: &str) -> Snapshot {
        let mut snap = testing::scenario("B0");
        snap.mutating_webhooks
            .items
            .push(config("MutatingWebhookConfiguration", ns));
        snap
    }

    #[test]
    fn webhook_into_missing_namespace_is_critical() {
        let snap = with_config("actions-runner-system");
        let ctx = Ctx::new(&snap);
        let f = check(&ctx);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].objects[0].kind, "MutatingWebhookConfiguration");
        assert_eq!(
            f[0].objects[1],
            ObjectRef::namespaced(
                "Service",
                "actions-runner-system",
                "actions-runner-controller-webhook"
            )
        );
        let hooks = dangling_hooks(&ctx);
        assert!(hooks[0].intercepts("runners", "UPDATE"));
        assert!(!hooks[0].intercepts("pods", "UPDATE"));
    }

    #[test]
    fn existing_service_with_ready_endpoints_is_fine_and_empty_endpoints_are_not() {
        let mut snap = with_config("arc-systems");
        snap.services.items.push(testing::obj(
            "Service",
            json!({"metadata": testing::meta(Some("arc-systems"), "actions-runner-controller-webhook")}),
        ));
        assert!(check(&Ctx::new(&snap)).is_empty());
        snap.endpoints.items.push(testing::obj(
            "Endpoints",
            json!({"metadata": testing::meta(Some("arc-systems"), "actions-runner-controller-webhook"),
                   "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}]}]}),
        ));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("no ready endpoints"));
    }

    #[test]
    fn unlisted_services_are_unknown() {
        let mut snap = with_config("arc-systems");
        snap.services.scope = crate::snapshot::Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
