//! `ARC-OUT-OF-SCOPE`: an AutoscalingRunnerSet (or a deleting EphemeralRunnerSet/EphemeralRunner
//! without one) lives in a namespace that no controller watches — only single-namespace
//! controllers exist and the namespace is neither their watched namespace nor their own
//! (arc-domain §4.1). Nothing reconciles it; once deleted it hangs on its finalizers forever.
//!
//! One finding per object. A deleting ERS/ER is only reported on its own when no ARS in the
//! same namespace is reported (the ARS finding already covers the namespace).

use std::collections::BTreeSet;

use crate::findings::{Finding, Severity};
use crate::model::{self, Controller, ControllerScope, L_VERSION};
use crate::snapshot::Object;

use super::Ctx;
use super::no_controller::deployments_listed;
use crate::model::{CONTROLLER_CHART, release_of};

const CODE: &str = "ARC-OUT-OF-SCOPE";

/// The gha controllers, when all of them are single-namespace.
fn single_namespace_only<'a>(ctx: &'a Ctx) -> Option<Vec<&'a Controller>> {
    let gha: Vec<&Controller> = ctx.model.gha().collect();
    let all_single = !gha.is_empty()
        && gha
            .iter()
            .all(|c| matches!(c.scope, ControllerScope::SingleNamespace(_)));
    all_single.then_some(gha)
}

fn watched(cs: &[&Controller]) -> String {
    cs.iter()
        .map(|c| match &c.scope {
            ControllerScope::SingleNamespace(w) => {
                format!("{}/{} watches {w} and {}", c.namespace, c.name, c.namespace)
            }
            ControllerScope::ClusterWide => format!("{}/{} is cluster-wide", c.namespace, c.name),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !deployments_listed(ctx) {
        return Vec::new();
    }
    let Some(controllers) = single_namespace_only(ctx) else {
        return Vec::new();
    };
    let uncovered = |o: &&Object| !controllers.iter().any(|c| c.covers(o.meta.ns()));
    let ars: Vec<&Object> = ctx
        .snap
        .autoscaling_runner_sets
        .iter()
        .filter(uncovered)
        .collect();
    let reported: BTreeSet<&str> = ars.iter().map(|a| a.meta.ns()).collect();
    let mut out: Vec<Finding> = ars.iter().map(|a| ars_finding(a, &controllers)).collect();
    let runners = ctx
        .snap
        .ephemeral_runner_sets
        .iter()
        .chain(ctx.snap.ephemeral_runners.iter());
    out.extend(
        runners
            .filter(uncovered)
            .filter(|o| o.meta.is_deleting() && !reported.contains(o.meta.ns()))
            .map(|o| runner_finding(o, &controllers)),
    );
    out
}

fn ars_finding(ars: &Object, controllers: &[&Controller]) -> Finding {
    let ns = ars.meta.ns();
    let deleting = ars.meta.is_deleting();
    let registered = model::scale_set_id(ars);
    let never_reconciled = !ars.meta.has_finalizer(model::F_ARS) && registered.is_none();
    let mut message = format!(
        "AutoscalingRunnerSet {} is in namespace {ns}, which no ARC controller watches ({}); nothing reconciles it.",
        ars.meta.display(),
        watched(controllers)
    );
    if never_reconciled {
        message.push_str(" It was never reconciled (no finalizer, no runner-scale-set-id), so nothing was registered on GitHub and it can be deleted safely.");
    } else if deleting {
        message.push_str(" It is being deleted and its finalizer can only be removed by a controller that watches this namespace.");
    } else if let Some(id) = registered {
        message.push_str(&format!(
            " It is registered on GitHub as scale set {id} but no listener serves it."
        ));
    }
    let severity = if deleting {
        Severity::Critical
    } else {
        Severity::High
    };
    let release = release_of(ars);
    let version = ars
        .meta
        .label(L_VERSION)
        .unwrap_or("<scale-set chart version>");
    let mut f = Finding::new(CODE, severity, message)
        .object(ars.meta.obj_ref())
        .objects(controllers.iter().map(|c| c.deployment_ref()))
        .evidence(format!(
            "finalizers [{}]; runner-scale-set-id {}",
            ars.meta.finalizers.join(", "),
            registered.map_or_else(|| "absent".to_owned(), |i| i.to_string())
        ));
    if never_reconciled {
        f = f
            .remediation(format!(
                "If the scale set is not wanted here, remove it: `helm uninstall {release} -n {ns}` (or `kubectl delete autoscalingrunnerset -n {ns} {}`).",
                ars.meta.name
            ))
            .remediation("Its chart objects keep the actions.github.com/cleanup-protection finalizer, which no controller will release; afterwards `kubectl arc orphans --fix` strips it (ARC-STUCK-PROTECTED).");
    }
    f.remediation(format!(
        "To run it, install a controller for {ns} at the same version: `helm install arc-{ns} -n <controller namespace> {CONTROLLER_CHART} --version {version} --set flags.watchSingleNamespace={ns}`, then `helm upgrade {release} -n {ns} --reuse-values` so its manager RoleBinding names that controller; or move the scale set into a watched namespace."
    ))
}

fn runner_finding(o: &Object, controllers: &[&Controller]) -> Finding {
    let ns = o.meta.ns();
    Finding::new(
        CODE,
        Severity::Critical,
        format!(
            "{} {} is being deleted in namespace {ns}, which no ARC controller watches ({}); its finalizers [{}] will never be removed.",
            o.meta.kind,
            o.meta.display(),
            watched(controllers),
            o.meta.finalizers.join(", ")
        ),
    )
    .object(o.meta.obj_ref())
    .objects(controllers.iter().map(|c| c.deployment_ref()))
    .remediation(format!(
        "Install a controller that watches {ns} (`--set flags.watchSingleNamespace={ns}`) so it finishes the cleanup; if none can, `kubectl arc orphans --fix --include-confirm` removes the stranded finalizers bottom-up."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;

    fn single_namespace(snap: &mut crate::snapshot::Snapshot, w: &str) {
        let dep = testing::get_mut(
            snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        dep.body.edit(|b| {
            if let Some(args) = b
                .pointer_mut("/spec/template/spec/containers/0/args")
                .and_then(|a| a.as_array_mut())
            {
                args.push(serde_json::json!(format!("--watch-single-namespace={w}")));
            }
        });
    }

    #[test]
    fn covered_namespace_is_quiet() {
        let mut snap = testing::scenario("B0");
        single_namespace(&mut snap, "arc-runners");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn unwatched_namespace_is_high_and_deleting_is_critical() {
        let mut snap = testing::scenario("B0");
        single_namespace(&mut snap, "team-a");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "AutoscalingRunnerSet",
                "arc-runners",
                "arc-runner-set"
            ))
        );
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::Critical);
    }

    #[test]
    fn deleting_runner_set_without_ars_is_reported_on_its_own() {
        let mut snap = testing::scenario("B0");
        single_namespace(&mut snap, "team-a");
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        snap.ephemeral_runner_sets.items[0].meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].primary().map(|o| o.kind.as_str()),
            Some("EphemeralRunnerSet")
        );
    }
}
