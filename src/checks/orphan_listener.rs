//! `ARC-ORPHAN-LISTENER`: an AutoscalingListener whose AutoscalingRunnerSet
//! (`spec.autoscalingRunnerSetNamespace/Name`) no longer exists (arc-domain §4.5).
//!
//! Released controllers (≤ 0.14.2) never delete such a listener: they log
//! `Failed to find AutoscalingRunnerSet.` forever and its pod keeps a GitHub session. Listeners
//! that are already deleting are `ARC-STUCK-LISTENER`'s business and are skipped here.
//!
//! Also holds the small listener helpers the other listener checks share.

use crate::findings::{Finding, Severity};
use crate::snapshot::Object;

use super::Ctx;

#[allow(unused_imports)]
use crate::facts::listeners::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| !al.meta.is_deleting())
        .filter_map(|al| orphan(ctx, al))
        .collect()
}

fn orphan(ctx: &Ctx, al: &Object) -> Option<Finding> {
    let (ars_ns, ars_name) = target(al)?;
    if !target_ars(ctx.snap, al).is_missing() {
        return None;
    }
    let pod = running_pod(ctx.snap, al);
    let severity = if pod.is_some() {
        Severity::High
    } else {
        Severity::Medium
    };
    let why = if ctx.snap.namespace_exists(ars_ns) == Some(false) {
        format!("its namespace {ars_ns} no longer exists")
    } else {
        "it was deleted (or its finalizer was stripped) without the listener being cleaned up"
            .to_owned()
    };
    let pod_text = match pod {
        Some(p) => format!(
            " Its pod {} is still Running and keeps a GitHub session for a scale set nobody manages.",
            p.meta.display()
        ),
        None => String::new(),
    };
    let id_text = listener_scale_set_id(al)
        .map(|id| format!(" (scale set ID {id})"))
        .unwrap_or_default();
    let message = format!(
        "AutoscalingListener {} serves AutoscalingRunnerSet {ars_ns}/{ars_name}{id_text}, which does not exist: {why}. \
         Released controllers (≤ 0.14.2) never remove such a listener; they log `Failed to find AutoscalingRunnerSet.` on every retry.{pod_text}",
        al.meta.display()
    );
    let mut f = Finding::new(CODE, severity, message)
        .object(al.meta.obj_ref())
        .objects(pod.map(|p| p.meta.obj_ref()));
    for step in remediation(ctx, al, ars_ns) {
        f = f.remediation(step);
    }
    Some(f)
}

fn remediation(ctx: &Ctx, al: &Object, ars_ns: &str) -> Vec<String> {
    let ns = al.meta.ns();
    let name = &al.meta.name;
    let mut steps = vec![format!(
        "Delete the listener: `kubectl delete autoscalinglistener {name} -n {ns}` (or `kubectl arc orphans --fix`)."
    )];
    if ctx.model.live_for(ns).any(|c| c.namespace == ns) {
        steps.push(format!(
            "The live controller in {ns} then removes the listener pod, ServiceAccount and config Secret in {ns} \
             and Role/RoleBinding {name} in {ars_ns}; check with `kubectl get pods,sa,secrets -n {ns}`."
        ));
    } else {
        steps.push(format!(
            "No live controller runs in {ns}, so the deletion will hang on its finalizer: run `kubectl arc orphans --fix` \
             again to delete its children and strip the finalizer (ARC-STUCK-LISTENER)."
        ));
    }
    if let Some(id) = listener_scale_set_id(al) {
        steps.push(format!(
            "Scale set {id} may remain registered on GitHub: delete it in the organization's runner group settings if \
             no other scale set uses that ID."
        ));
    }
    steps
}

/// Fixtures shared by the listener/orphan check tests.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::snapshot::Snapshot;
    use crate::testing;
    use serde_json::json;

    /// B0's listener name.
    pub(crate) const L: &str = "arc-runner-set-85f786b5-listener";
    /// B0's runner name.
    pub(crate) const ER: &str = "arc-runner-set-x7k2p-runner-4fzq8";

    /// A healthy install shaped like B0 (arc-domain §6.0): live controller in arc-systems, ARS
    /// arc-runners/arc-runner-set with its chart objects, listener (pod, SA, config Secret,
    /// Role/RoleBinding), ERS, ER, runner pod and JIT Secret.
    pub(crate) fn base() -> Snapshot {
        let ctrl_labels = json!({"app.kubernetes.io/part-of":"gha-rs-controller","app.kubernetes.io/version":"0.14.2",
            "actions.github.com/controller-service-account-namespace":"arc-systems",
            "actions.github.com/controller-service-account-name":"arc-gha-rs-controller"});
        let chart = |name: &str, component: &str| {
            json!({"name":name,"namespace":"arc-runners","uid":format!("uid-{name}"),
                   "finalizers":["actions.github.com/cleanup-protection"],
                   "annotations":{"meta.helm.sh/release-name":"arc-runner-set","meta.helm.sh/release-namespace":"arc-runners"},
                   "labels":{"app.kubernetes.io/part-of":"gha-rs","app.kubernetes.io/managed-by":"Helm",
                             "app.kubernetes.io/component":component,
                             "actions.github.com/scale-set-name":"arc-runner-set",
                             "actions.github.com/scale-set-namespace":"arc-runners"}})
        };
        let listener_labels = json!({"app.kubernetes.io/part-of":"gha-runner-scale-set",
            "app.kubernetes.io/component":"runner-scale-set-listener",
            "actions.github.com/scale-set-name":"arc-runner-set","actions.github.com/scale-set-namespace":"arc-runners",
            "auto-scaling-listener-namespace":"arc-systems","auto-scaling-listener-name":L});
        let owned_by = |kind: &str, name: &str, uid: &str| json!([{"apiVersion":"actions.github.com/v1alpha1","kind":kind,"name":name,"uid":uid,"controller":true}]);
        testing::snapshot_from_docs(vec![
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"arc-systems"},"status":{"phase":"Active"}}),
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"arc-runners"},"status":{"phase":"Active"}}),
            json!({"apiVersion":"apps/v1","kind":"Deployment",
                   "metadata":{"name":"arc-gha-rs-controller","namespace":"arc-systems","labels":ctrl_labels},
                   "spec":{"template":{"spec":{"serviceAccountName":"arc-gha-rs-controller",
                       "containers":[{"name":"manager","image":"ghcr.io/actions/gha-runner-scale-set-controller:0.14.2",
                                      "args":["--auto-scaling-runner-set-only"]}]}}},
                   "status":{"availableReplicas":1}}),
            json!({"apiVersion":"v1","kind":"ServiceAccount",
                   "metadata":{"name":"arc-gha-rs-controller","namespace":"arc-systems"}}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingRunnerSet",
                   "metadata":{"name":"arc-runner-set","namespace":"arc-runners","uid":"ars-uid",
                               "finalizers":["autoscalingrunnerset.actions.github.com/finalizer"],
                               "labels":{"app.kubernetes.io/part-of":"gha-rs","app.kubernetes.io/version":"0.14.2",
                                         "app.kubernetes.io/component":"autoscaling-runner-set",
                                         "actions.github.com/scale-set-name":"arc-runner-set",
                                         "actions.github.com/scale-set-namespace":"arc-runners"},
                               "annotations":{"runner-scale-set-id":"42",
                                   "actions.github.com/cleanup-github-secret-name":"arc-runner-set-gha-rs-github-secret",
                                   "actions.github.com/cleanup-manager-role-binding":"arc-runner-set-gha-rs-manager",
                                   "actions.github.com/cleanup-manager-role-name":"arc-runner-set-gha-rs-manager",
                                   "actions.github.com/cleanup-no-permission-service-account-name":"arc-runner-set-gha-rs-no-permission"}},
                   "spec":{"githubConfigUrl":"https://github.com/acme",
                           "githubConfigSecret":"arc-runner-set-gha-rs-github-secret","minRunners":1,"maxRunners":5},
                   "status":{"phase":"Running"}}),
            json!({"apiVersion":"v1","kind":"Secret","metadata":chart("arc-runner-set-gha-rs-github-secret","")}),
            json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                   "metadata":chart("arc-runner-set-gha-rs-manager","manager-role"),
                   "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list","create","delete","patch","update"]}]}),
            json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
                   "metadata":chart("arc-runner-set-gha-rs-manager","manager-role-binding"),
                   "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"arc-runner-set-gha-rs-manager"},
                   "subjects":[{"kind":"ServiceAccount","name":"arc-gha-rs-controller","namespace":"arc-systems"}]}),
            json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":chart("arc-runner-set-gha-rs-no-permission","")}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener",
                   "metadata":{"name":L,"namespace":"arc-systems","uid":"al-uid",
                               "finalizers":["autoscalinglistener.actions.github.com/finalizer"],
                               "labels":{"app.kubernetes.io/component":"runner-scale-set-listener",
                                         "actions.github.com/scale-set-name":"arc-runner-set",
                                         "actions.github.com/scale-set-namespace":"arc-runners"}},
                   "spec":{"autoscalingRunnerSetNamespace":"arc-runners","autoscalingRunnerSetName":"arc-runner-set",
                           "ephemeralRunnerSetName":"arc-runner-set-x7k2p","runnerScaleSetId":42,
                           "githubConfigSecret":"arc-runner-set-gha-rs-github-secret",
                           "githubConfigUrl":"https://github.com/acme"}}),
            json!({"apiVersion":"v1","kind":"Pod",
                   "metadata":{"name":L,"namespace":"arc-systems","uid":"al-pod-uid","labels":listener_labels,
                               "ownerReferences":owned_by("AutoscalingListener",L,"al-uid")},
                   "spec":{"serviceAccountName":L},
                   "status":{"phase":"Running"}}),
            json!({"apiVersion":"v1","kind":"ServiceAccount",
                   "metadata":{"name":L,"namespace":"arc-systems","labels":listener_labels,
                               "ownerReferences":owned_by("AutoscalingListener",L,"al-uid")}}),
            json!({"apiVersion":"v1","kind":"Secret",
                   "metadata":{"name":format!("{L}-config"),"namespace":"arc-systems",
                               "ownerReferences":owned_by("AutoscalingListener",L,"al-uid")}}),
            json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                   "metadata":{"name":L,"namespace":"arc-runners","labels":listener_labels},
                   "rules":[{"apiGroups":["actions.github.com"],"resources":["ephemeralrunnersets"],
                             "resourceNames":["arc-runner-set-x7k2p"],"verbs":["patch"]},
                            {"apiGroups":["actions.github.com"],"resources":["ephemeralrunners","ephemeralrunners/status"],
                             "verbs":["patch"]}]}),
            json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
                   "metadata":{"name":L,"namespace":"arc-runners","labels":listener_labels},
                   "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":L},
                   "subjects":[{"kind":"ServiceAccount","name":L,"namespace":"arc-systems"}]}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"EphemeralRunnerSet",
                   "metadata":{"name":"arc-runner-set-x7k2p","namespace":"arc-runners","uid":"ers-uid",
                               "finalizers":["ephemeralrunner.actions.github.com/finalizer"],
                               "labels":{"app.kubernetes.io/component":"runner-set",
                                         "actions.github.com/scale-set-name":"arc-runner-set"},
                               "ownerReferences":owned_by("AutoscalingRunnerSet","arc-runner-set","ars-uid")},
                   "spec":{"replicas":1,"ephemeralRunnerSpec":{"githubConfigSecret":"arc-runner-set-gha-rs-github-secret",
                                                               "runnerScaleSetId":42}}}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"EphemeralRunner",
                   "metadata":{"name":ER,"namespace":"arc-runners","uid":"er-uid",
                               "finalizers":["ephemeralrunner.actions.github.com/finalizer",
                                             "ephemeralrunner.actions.github.com/runner-registration-finalizer"],
                               "labels":{"app.kubernetes.io/component":"runner",
                                         "actions.github.com/scale-set-name":"arc-runner-set"},
                               "ownerReferences":owned_by("EphemeralRunnerSet","arc-runner-set-x7k2p","ers-uid")},
                   "spec":{"githubConfigSecret":"arc-runner-set-gha-rs-github-secret","runnerScaleSetId":42},
                   "status":{"phase":"Running","runnerId":1001,"runnerName":ER}}),
            json!({"apiVersion":"v1","kind":"Pod",
                   "metadata":{"name":ER,"namespace":"arc-runners",
                               "labels":{"actions-ephemeral-runner":"True","app.kubernetes.io/component":"runner"},
                               "ownerReferences":owned_by("EphemeralRunner",ER,"er-uid")},
                   "status":{"phase":"Running"}}),
            json!({"apiVersion":"v1","kind":"Secret",
                   "metadata":{"name":ER,"namespace":"arc-runners",
                               "ownerReferences":owned_by("EphemeralRunner",ER,"er-uid")}}),
        ])
    }

    /// The scenario snapshot (fixtures in tests/scenarios).
    pub(crate) fn scenario(id: &str) -> Snapshot {
        testing::scenario(id)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{L, base, scenario};
    use super::*;
    use crate::snapshot::Snapshot;
    use crate::testing;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    #[test]
    fn healthy_listener_is_not_an_orphan() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn listener_without_ars_and_running_pod_is_high() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-ORPHAN-LISTENER AutoscalingListener arc-systems/{L}"
            )]
        );
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].objects.iter().any(|o| o.kind == "Pod"));
        assert!(f[0].message.contains("scale set ID 42"));
        assert!(
            f[0].remediation[1].contains("live controller in arc-systems"),
            "{:?}",
            f[0].remediation
        );
    }

    #[test]
    fn listener_without_ars_and_without_pod_is_medium() {
        let mut snap = base();
        testing::remove(&mut snap, |o| {
            matches!(o.meta.kind, "AutoscalingRunnerSet" | "Pod")
        });
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
    }

    #[test]
    fn missing_ars_namespace_is_named_and_no_controller_means_stuck_listener_next() {
        let mut snap = base();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "AutoscalingRunnerSet"
                || o.meta.kind == "Deployment"
                || o.meta.kind == "Namespace" && o.meta.name == "arc-runners"
        });
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message
                .contains("namespace arc-runners no longer exists"),
            "{}",
            f[0].message
        );
        assert!(f[0].remediation[1].contains("ARC-STUCK-LISTENER"));
    }

    #[test]
    fn deleting_listener_is_left_to_stuck_listener() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        let al = testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), L);
        al.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn unlisted_runner_sets_are_not_checked() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        snap.autoscaling_runner_sets.scope = crate::snapshot::Scope::None;
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn scenario_s13_listener_left_after_finalizer_strip() {
        let snap = scenario("S13");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-ORPHAN-LISTENER AutoscalingListener arc-systems/{L}"
            )]
        );
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn scenarios_without_orphan_listeners() {
        for id in ["B0", "L0", "S1", "S3", "S5", "S8", "S9", "S12", "S17"] {
            let snap = scenario(id);
            assert!(run(&snap).is_empty(), "{id}: {:#?}", run(&snap));
        }
    }
}
