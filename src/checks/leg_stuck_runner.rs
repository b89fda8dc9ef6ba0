//! `LEG-STUCK-RUNNER`: a legacy Runner is being deleted but keeps `runner.actions.summerwind.dev`
//! and nothing can remove it (arc-domain §4.7): no running legacy controller watches its
//! namespace, or a dangling legacy webhook rejects every Runner update (the finalizer patch
//! included, §8.6). A Runner whose controller is running and reachable is left alone: the
//! controller removes the finalizer as part of its normal deletion. One finding per Runner.
//! Severity: critical when it blocks a Terminating namespace, else high.

use crate::findings::{Finding, Severity};
use crate::model::{F_LEG_POD, F_LEG_RUNNER};
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;
use super::leg_no_controller::legacy_live_for;
use super::leg_secret_dangling::controller_env_secrets;
use super::leg_webhook_dangling::dangling_hooks;
use super::no_controller::deployments_listed;
use crate::facts::common::{self, RefState};

const CODE: &str = "LEG-STUCK-RUNNER";
const CREDS_ANNOTATION: &str = "actions-runner/github-api-creds-secret";

/// JSON patch removing one finalizer at its index, guarded by a `test` op.
pub(crate) fn strip_patch(kind: &str, o: &Object, finalizer: &str) -> Option<String> {
    let i = o.meta.finalizers.iter().position(|f| *f == finalizer)?;
    Some(format!(
        r#"kubectl patch {kind} -n {} {} --type=json -p '[{{"op":"test","path":"/metadata/finalizers/{i}","value":"{finalizer}"}},{{"op":"remove","path":"/metadata/finalizers/{i}"}}]'"#,
        o.meta.ns(),
        o.meta.name
    ))
}

/// Why nothing can finish a legacy object's deletion: (reasons, objects involved — dangling
/// webhook configurations that reject updates of `resource`, missing credential Secrets).
pub(crate) fn legacy_blockers(
    ctx: &Ctx,
    o: &Object,
    resource: &str,
) -> (Vec<String>, Vec<ObjectRef>) {
    let mut why = Vec::new();
    let live = legacy_live_for(ctx, o.meta.ns());
    if deployments_listed(ctx) && !live {
        why.push(format!(
            "no running legacy controller watches namespace {}",
            o.meta.ns()
        ));
    }
    let mut configs: Vec<ObjectRef> = Vec::new();
    for h in dangling_hooks(ctx)
        .iter()
        .filter(|h| h.intercepts(resource, "UPDATE"))
    {
        let r = h.config.meta.obj_ref();
        if !configs.contains(&r) {
            why.push(format!(
                "{} {} rejects every update of {resource} (its webhook {} has no backend)",
                r.kind, r.name, h.webhook
            ));
            configs.push(r);
        }
    }
    if live && o.meta.has_finalizer(F_LEG_POD) {
        for secret in missing_credentials(ctx, o) {
            why.push(format!(
                "its GitHub credentials Secret {} does not exist, so the controller cannot unregister the runner (LEG-SECRET-DANGLING)",
                secret.namespace.as_deref().map_or_else(|| secret.name.clone(), |ns| format!("{ns}/{}", secret.name))
            ));
            configs.push(secret);
        }
    }
    (why, configs)
}

/// The credentials a runner pod's unregistration uses, when they are known to be missing: the
/// per-resource Secret (pod annotation `actions-runner/github-api-creds-secret`, else the owning
/// Runner's `githubAPICredentialsFrom`), or else every auth Secret of the live legacy controllers.
fn missing_credentials(ctx: &Ctx, pod: &Object) -> Vec<ObjectRef> {
    let ns = pod.meta.ns();
    let per_resource = pod
        .meta
        .annotation(CREDS_ANNOTATION)
        .filter(|n| !n.is_empty())
        .or_else(|| {
            let runner = ctx.snap.runners.get(Some(ns), pod.meta.name).found()?;
            runner.str("/spec/githubAPICredentialsFrom/secretRef/name")
        });
    if let Some(name) = per_resource {
        return match common::secret(ctx, ns, name) {
            RefState::Missing => vec![ObjectRef::namespaced("Secret", ns, name)],
            _ => Vec::new(),
        };
    }
    let mut out = Vec::new();
    for c in ctx.model.legacy().filter(|c| c.healthy && c.covers(ns)) {
        let Some(dep) = ctx
            .snap
            .deployments
            .get(Some(&c.namespace), &c.name)
            .found()
        else {
            return Vec::new();
        };
        let names = controller_env_secrets(dep);
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| common::secret(ctx, &c.namespace, n) == RefState::Missing)
            .collect();
        // One usable controller is enough.
        if names.is_empty() || missing.len() < names.len() {
            return Vec::new();
        }
        out.extend(
            missing
                .into_iter()
                .map(|n| ObjectRef::namespaced("Secret", &c.namespace, n)),
        );
    }
    out
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .runners
        .iter()
        .filter(|r| r.meta.is_deleting() && r.meta.has_finalizer(F_LEG_RUNNER))
        .filter_map(|r| finding_for(ctx, r))
        .collect()
}

fn finding_for(ctx: &Ctx, runner: &Object) -> Option<Finding> {
    let (why, configs) = legacy_blockers(ctx, runner, "runners");
    if why.is_empty() {
        return None;
    }
    let ns = runner.meta.ns();
    let terminating = ctx.snap.namespace_terminating(ns);
    let severity = if terminating {
        Severity::Critical
    } else {
        Severity::High
    };
    let pod = ctx.snap.pods.get(Some(ns), runner.meta.name).found();
    let runner_id = pod.and_then(|p| p.meta.annotation("actions-runner/id"));
    let mut message = format!(
        "Legacy Runner {} has been deleting since {} but keeps finalizer {F_LEG_RUNNER}: {}.",
        runner.meta.display(),
        runner.meta.deletion_timestamp.unwrap_or("?"),
        why.join("; ")
    );
    if terminating {
        message.push_str(&format!(" It blocks the deletion of namespace {ns}."));
    }
    let mut f = Finding::new(CODE, severity, message)
        .object(runner.meta.obj_ref())
        .objects(configs.iter().cloned());
    if let Some(p) = pod {
        f = f.object(p.meta.obj_ref()).evidence(format!(
            "runner pod {} finalizers [{}]{}",
            p.meta.display(),
            p.meta.finalizers.join(", "),
            runner_id
                .map(|id| format!(", runner id {id}"))
                .unwrap_or_default()
        ));
    }
    for c in configs.iter().filter(|c| c.kind != "Secret") {
        f = f.remediation(format!(
            "First delete the dangling webhook configuration: `kubectl delete {} {}` (see LEG-WEBHOOK-DANGLING).",
            c.kind.to_lowercase(),
            c.name
        ));
    }
    let strip = strip_patch("runner", runner, F_LEG_RUNNER).unwrap_or_default();
    if !legacy_live_for(ctx, ns) {
        f = f.remediation("Preferred: restore the legacy controller (LEG-NO-CONTROLLER) so it finishes the deletion itself.");
    }
    Some(
        f.remediation(format!(
                "Otherwise strip the finalizer (`kubectl arc orphans --fix --include-confirm`): `{strip}`; the runner pod is then garbage-collected and its actions.summerwind.dev/runner-pod finalizer must go as well (LEG-STUCK-POD). Remove runner {} from GitHub's runner settings (non-ephemeral runners expire after 14 days offline).",
                runner_id.unwrap_or("<id from pod annotation actions-runner/id>")
            )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use serde_json::json;

    fn runner(deleting: bool) -> Object {
        let mut meta = testing::meta(Some("arc-runners"), "example-rd-abcde-fghij");
        meta["finalizers"] = json!([F_LEG_RUNNER]);
        if deleting {
            meta["deletionTimestamp"] = json!("2026-07-01T10:00:00Z");
        }
        testing::obj("Runner", json!({"metadata": meta}))
    }

    #[test]
    fn deleting_runner_without_controller_is_high_then_critical_in_terminating_namespace() {
        let mut snap = testing::scenario("B0");
        snap.runners.items.push(runner(true));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "Runner",
                "arc-runners",
                "example-rd-abcde-fghij"
            ))
        );
        assert!(
            f[0].remediation
                .iter()
                .any(|r| r.contains("/metadata/finalizers/0"))
        );
        testing::get_mut(&mut snap, "Namespace", None, "arc-runners")
            .meta
            .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::Critical);
    }

    #[test]
    fn live_runner_is_not_stuck() {
        let mut snap = testing::scenario("B0");
        snap.runners.items.push(runner(false));
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
