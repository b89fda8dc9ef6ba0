//! `LEG-STUCK-POD`: a legacy runner pod is being deleted but keeps
//! `actions.summerwind.dev/runner-pod` (removed only after GitHub unregistration) or
//! `actions.summerwind.dev/linked-resources` (removed after hook pods/secrets are gone), and
//! nothing can remove them (arc-domain §4.7): no running legacy controller watches its
//! namespace, or a dangling legacy webhook intercepts pod updates. While a running controller is
//! unregistering a busy runner the pod legitimately waits (`Runner unregistration is
//! in-progress…`); that is not reported. One finding per Pod; critical when it blocks a
//! Terminating namespace, else high.

use crate::findings::{Finding, Severity};
use crate::model::{F_LEG_LINKED, F_LEG_POD};
use crate::snapshot::Object;

use super::Ctx;
use super::leg_no_controller::legacy_live_for;
use super::leg_stuck_runner::{legacy_blockers, strip_patch};

const CODE: &str = "LEG-STUCK-POD";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .pods
        .iter()
        .filter(|p| {
            p.meta.is_deleting()
                && (p.meta.has_finalizer(F_LEG_POD) || p.meta.has_finalizer(F_LEG_LINKED))
        })
        .filter_map(|p| finding_for(ctx, p))
        .collect()
}

fn finding_for(ctx: &Ctx, pod: &Object) -> Option<Finding> {
    let (why, configs) = legacy_blockers(ctx, pod, "pods");
    if why.is_empty() {
        return None;
    }
    let ns = pod.meta.ns();
    let terminating = ctx.snap.namespace_terminating(ns);
    let severity = if terminating {
        Severity::Critical
    } else {
        Severity::High
    };
    let held: Vec<&str> = [F_LEG_POD, F_LEG_LINKED]
        .into_iter()
        .filter(|f| pod.meta.has_finalizer(f))
        .collect();
    let runner_id = pod.meta.annotation("actions-runner/id");
    let mut message = format!(
        "Legacy runner Pod {} is being deleted but keeps {}: {}.",
        pod.meta.display(),
        held.join(" and "),
        why.join("; ")
    );
    if pod.meta.has_finalizer(F_LEG_POD) {
        message.push_str(&format!(
            " That finalizer waits for the runner{} to be unregistered from GitHub.",
            runner_id
                .map(|id| format!(" (id {id})"))
                .unwrap_or_default()
        ));
    }
    if terminating {
        message.push_str(&format!(" It blocks the deletion of namespace {ns}."));
    }
    let mut f = Finding::new(CODE, severity, message)
        .object(pod.meta.obj_ref())
        .objects(configs.iter().cloned())
        .evidence(format!("finalizers [{}]", pod.meta.finalizers.join(", ")));
    if let Some(id) = runner_id {
        f = f.evidence(format!("annotation actions-runner/id={id}"));
    }
    for c in configs.iter().filter(|c| c.kind == "Secret") {
        f = f.remediation(format!(
            "Best: recreate Secret {}/{} with the GitHub credentials; the controller then unregisters runner {} and removes the finalizer itself.",
            c.namespace.as_deref().unwrap_or(""),
            c.name,
            runner_id.unwrap_or("<id>")
        ));
    }
    for c in configs.iter().filter(|c| c.kind != "Secret") {
        f = f.remediation(format!(
            "First delete the dangling webhook configuration: `kubectl delete {} {}` (see LEG-WEBHOOK-DANGLING).",
            c.kind.to_lowercase(),
            c.name
        ));
    }
    if !legacy_live_for(ctx, ns) {
        f = f.remediation("Preferred: restore the legacy controller (LEG-NO-CONTROLLER) so it unregisters the runner and cleans linked resources itself.");
    }
    if pod.meta.has_finalizer(F_LEG_LINKED) {
        f = f.remediation(format!(
            "Delete its container-hook objects first: `kubectl delete pods,secrets -n {ns} -l runner-pod={}`.",
            pod.meta.name
        ));
    }
    let patches: Vec<String> = held
        .iter()
        .filter_map(|h| strip_patch("pod", pod, h))
        .collect();
    Some(f.remediation(format!(
        "Otherwise record runner id {} for removal in GitHub's runner settings, then strip the finalizers (`kubectl arc orphans --fix --include-confirm`): `{}` (indexes shift after each removal; re-read the list between patches).",
        runner_id.unwrap_or("<unknown>"),
        patches.join(" && ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;
    use serde_json::json;

    fn pod(deleting: bool) -> Object {
        let mut meta = testing::meta(Some("ci"), "example-rd-abcde-fghij");
        meta["finalizers"] = json!([F_LEG_POD]);
        meta["annotations"] = json!({"actions-runner/id": "77"});
        meta["labels"] = json!({"actions-runner": ""});
        if deleting {
            meta["deletionTimestamp"] = json!("2026-07-01T10:00:00Z");
        }
        testing::obj(
            "Pod",
            json!({"metadata": meta, "status": {"phase": "Running"}}),
        )
    }

    #[test]
    fn deleting_pod_without_controller_names_the_runner_id() {
        let mut snap = testing::scenario("B0");
        snap.pods.items.push(pod(true));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "Pod",
                "ci",
                "example-rd-abcde-fghij"
            ))
        );
        assert!(f[0].message.contains("id 77"));
    }

    #[test]
    fn live_pod_is_not_stuck() {
        let mut snap = testing::scenario("B0");
        snap.pods.items.push(pod(false));
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
