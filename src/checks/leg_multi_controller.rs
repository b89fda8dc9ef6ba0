//! `LEG-MULTI-CONTROLLER`: several legacy controllers overlap (arc-domain §4.7, #933): two
//! cluster-wide ones, a cluster-wide one plus a `--watch-namespace` one, or two watching the same
//! namespace; or the same legacy webhook name registered by several webhook configurations of
//! one kind (each release installs its own, and they call different services). One finding per
//! cluster: [controller Deployments…, webhook configurations…].

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{Controller, ControllerScope, LEGACY_GROUP};
use crate::snapshot::{Collection, ObjectRef};

use super::Ctx;

const CODE: &str = "LEG-MULTI-CONTROLLER";

/// The overlapping controllers and how they overlap.
fn overlapping<'a>(cs: &[&'a Controller]) -> Option<(Vec<&'a Controller>, String)> {
    let wide = cs
        .iter()
        .filter(|c| c.scope == ControllerScope::ClusterWide)
        .count();
    let single = cs.len() - wide;
    if wide >= 2 || (wide >= 1 && single >= 1) {
        return Some((
            cs.to_vec(),
            format!(
                "{wide} cluster-wide and {single} single-namespace legacy controllers watch the same runners"
            ),
        ));
    }
    let mut by_ns: BTreeMap<&str, Vec<&Controller>> = BTreeMap::new();
    for c in cs {
        if let ControllerScope::SingleNamespace(w) = &c.scope {
            by_ns.entry(w.as_str()).or_default().push(c);
        }
    }
    let shared: Vec<(&str, Vec<&Controller>)> =
        by_ns.into_iter().filter(|(_, v)| v.len() >= 2).collect();
    if shared.is_empty() {
        return None;
    }
    let how = shared
        .iter()
        .map(|(w, v)| format!("{} legacy controllers watch namespace {w}", v.len()))
        .collect::<Vec<_>>()
        .join("; ");
    Some((shared.into_iter().flat_map(|(_, v)| v).collect(), how))
}

/// Legacy webhook names registered by more than one configuration of the same kind.
fn duplicate_webhooks(c: &Collection) -> BTreeMap<String, Vec<ObjectRef>> {
    let mut by_name: BTreeMap<String, Vec<ObjectRef>> = BTreeMap::new();
    for cfg in c.iter() {
        for h in cfg.array("/webhooks") {
            if let Some(n) = h["name"].as_str().filter(|n| n.ends_with(LEGACY_GROUP)) {
                let list = by_name.entry(n.to_owned()).or_default();
                if !list.contains(&cfg.meta.obj_ref()) {
                    list.push(cfg.meta.obj_ref());
                }
            }
        }
    }
    by_name.retain(|_, v| v.len() >= 2);
    by_name
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let legacy: Vec<&Controller> = ctx.model.legacy().collect();
    let overlap = overlapping(&legacy);
    let mut dups = duplicate_webhooks(&ctx.snap.mutating_webhooks);
    dups.extend(duplicate_webhooks(&ctx.snap.validating_webhooks));
    if overlap.is_none() && dups.is_empty() {
        return Vec::new();
    }
    let mut parts = Vec::new();
    let mut controllers = Vec::new();
    if let Some((mut cs, how)) = overlap {
        cs.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let names = cs
            .iter()
            .map(|c| format!("{}/{}", c.namespace, c.name))
            .collect::<Vec<_>>();
        parts.push(format!("{how} ({})", names.join(", ")));
        controllers = cs;
    }
    if !dups.is_empty() {
        let list = dups
            .iter()
            .map(|(n, cfgs)| {
                let names = cfgs.iter().map(|c| c.name.as_str()).collect::<Vec<_>>();
                format!("{n} in {}", names.join(" and "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        parts.push(format!(
            "the same legacy webhooks are registered several times ({list})"
        ));
    }
    let message = format!(
        "Several legacy actions-runner-controller installations overlap: {}. They race on the same Runners and pods (duplicate registrations, conflicting finalizer handling), and each webhook configuration calls its own service.",
        parts.join("; ")
    );
    let mut f = Finding::new(CODE, Severity::High, message)
        .objects(controllers.iter().map(|c| c.deployment_ref()));
    for cfgs in dups.values() {
        f = f.objects(cfgs.iter().cloned());
    }
    vec![
        f.remediation("Keep one legacy controller per watched namespace (scope.singleNamespace / --watch-namespace) and uninstall the others with `helm uninstall <release> -n <namespace>` after draining their runners.")
            .remediation("Delete the webhook configurations left by removed installations (`kubectl delete mutatingwebhookconfiguration <name>` / `kubectl delete validatingwebhookconfiguration <name>`)."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Object;
    use crate::testing;
    use serde_json::json;

    fn legacy(ns: &str, watch: Option<&str>) -> Object {
        let mut args = vec![json!("--sync-period=1m")];
        if let Some(w) = watch {
            args.push(json!(format!("--watch-namespace={w}")));
        }
        testing::obj(
            "Deployment",
            json!({"metadata": {"name": "actions-runner-controller", "namespace": ns,
                                "labels": {"app.kubernetes.io/name": "actions-runner-controller"}},
                   "spec": {"template": {"spec": {"containers": [{"name": "manager",
                     "image": "summerwind/actions-runner-controller:v0.27.6", "args": args}]}}},
                   "status": {"availableReplicas": 1}}),
        )
    }

    #[test]
    fn one_legacy_controller_is_fine_two_cluster_wide_are_not() {
        let mut snap = testing::scenario("B0");
        snap.deployments.items.push(legacy("a", None));
        assert!(check(&Ctx::new(&snap)).is_empty());
        snap.deployments.items.push(legacy("b", None));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].objects.len(), 2);
    }

    #[test]
    fn distinct_watch_namespaces_are_fine() {
        let mut snap = testing::scenario("B0");
        snap.deployments.items.push(legacy("a", Some("x")));
        snap.deployments.items.push(legacy("b", Some("y")));
        assert!(check(&Ctx::new(&snap)).is_empty());
        snap.deployments.items.push(legacy("c", Some("x")));
        assert_eq!(check(&Ctx::new(&snap)).len(), 1);
    }
}
