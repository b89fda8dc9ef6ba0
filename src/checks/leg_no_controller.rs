//! `LEG-NO-CONTROLLER`: legacy (`actions.summerwind.dev`) Runners or runner pods carry legacy
//! finalizers, but no running legacy controller watches their namespace (arc-domain §4.7). The
//! Runner finalizer and the pod finalizers (GitHub unregistration, linked resources) are only
//! removed by that controller. Critical when any of those objects is being deleted. One finding
//! per cluster: [the legacy objects with finalizers].

use crate::findings::{Finding, Severity};
use crate::model::{F_LEG_LINKED, F_LEG_POD, F_LEG_RUNNER};
use crate::snapshot::Object;

use super::Ctx;
use super::no_controller::deployments_listed;

const CODE: &str = "LEG-NO-CONTROLLER";
const LEGACY_CHART: &str = "actions-runner-controller/actions-runner-controller";

/// Is there a running legacy controller that watches `ns`?
pub(crate) fn legacy_live_for(ctx: &Ctx, ns: &str) -> bool {
    ctx.model.legacy().any(|c| c.healthy && c.covers(ns))
}

/// Legacy objects carrying a legacy finalizer: Runners, then runner pods.
fn legacy_finalized<'a>(ctx: &'a Ctx) -> impl Iterator<Item = &'a Object> + 'a {
    let runners = ctx
        .snap
        .runners
        .iter()
        .filter(|r| r.meta.has_finalizer(F_LEG_RUNNER));
    let pods = ctx
        .snap
        .pods
        .iter()
        .filter(|p| p.meta.has_finalizer(F_LEG_POD) || p.meta.has_finalizer(F_LEG_LINKED));
    runners.chain(pods)
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !deployments_listed(ctx) {
        return Vec::new();
    }
    let stranded: Vec<&Object> = legacy_finalized(ctx)
        .filter(|o| !legacy_live_for(ctx, o.meta.ns()))
        .collect();
    if stranded.is_empty() {
        return Vec::new();
    }
    let deleting = stranded.iter().filter(|o| o.meta.is_deleting()).count();
    let severity = if deleting > 0 {
        Severity::Critical
    } else {
        Severity::High
    };
    let existing: Vec<String> = ctx
        .model
        .legacy()
        .map(|c| format!("{}/{}", c.namespace, c.name))
        .collect();
    let controllers = if existing.is_empty() {
        "no legacy actions-runner-controller Deployment exists".to_owned()
    } else {
        format!(
            "the legacy controller(s) {} are not running or do not watch these namespaces",
            existing.join(", ")
        )
    };
    let names: Vec<String> = stranded
        .iter()
        .map(|o| format!("{} {}", o.meta.kind, o.meta.display()))
        .collect();
    let mut message = format!(
        "{} legacy runner object(s) carry actions.summerwind.dev finalizers that only the legacy controller removes, but {controllers}: {}.",
        stranded.len(),
        names.join(", ")
    );
    if deleting > 0 {
        message.push_str(&format!(
            " {deleting} of them are being deleted and will hang (and block their namespace's deletion)."
        ));
    }
    let mut f =
        Finding::new(CODE, severity, message).objects(stranded.iter().map(|o| o.meta.obj_ref()));
    for o in &stranded {
        f = f.evidence(format!(
            "{} {}: finalizers [{}]{}",
            o.meta.kind,
            o.meta.display(),
            o.meta.finalizers.join(", "),
            o.meta
                .annotation("actions-runner/id")
                .map(|id| format!(", runner id {id}"))
                .unwrap_or_default()
        ));
    }
    vec![
        f.remediation(format!(
            "Preferred: reinstall the legacy controller so it unregisters the runners itself: `helm install actions-runner-controller {LEGACY_CHART} -n actions-runner-system --create-namespace` (same version as before, with its GitHub credentials)."
        ))
        .remediation("Before any manual repair, delete dangling legacy webhook configurations (LEG-WEBHOOK-DANGLING): they reject every Runner update, finalizer patches included.")
        .remediation("If no controller can be restored: `kubectl arc orphans --fix --include-confirm` strips runner.actions.summerwind.dev, actions.summerwind.dev/linked-resources and actions.summerwind.dev/runner-pod after recording each runner id (pod annotation actions-runner/id) for removal in GitHub's runner settings."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use serde_json::json;

    fn legacy_runner(deleting: bool) -> Object {
        let mut meta = testing::meta(Some("ci"), "example-rd-abcde-fghij");
        meta["finalizers"] = json!([F_LEG_RUNNER]);
        if deleting {
            meta["deletionTimestamp"] = json!("2026-07-01T10:00:00Z");
        }
        testing::obj(
            "Runner",
            json!({"metadata": meta, "spec": {"repository": "acme/app"}}),
        )
    }

    #[test]
    fn finalized_runner_without_controller_is_high_and_deleting_is_critical() {
        let mut snap = testing::scenario("B0");
        snap.runners.items.push(legacy_runner(false));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].primary().map(|p| p.kind.as_str()), Some("Runner"));
        snap.runners.items = vec![legacy_runner(true)];
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::Critical);
    }

    #[test]
    fn unlisted_deployments_mean_unknown() {
        let mut snap = testing::scenario("B0");
        snap.runners.items.push(legacy_runner(true));
        snap.deployments.scope = crate::snapshot::Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
