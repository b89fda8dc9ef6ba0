//! `ARC-STUCK-ER` – an EphemeralRunner with a deletionTimestamp that cannot finish (arc-domain
//! §3 step 3, §4.4). The shared deletion analysis lives in [`super::deletion`].
//!
//! An ER deletion is *waiting* (not stuck) when a live, authorised controller can finish it: the
//! runner still runs a job on a live pod (the controller retries `RemoveRunner` every 30 s until the
//! job ends), or the controller can deregister it / delete its pod and JIT secret. It is *stuck*
//! when no live controller processes it, the controller lacks permissions, the Actions client
//! cannot be built (GitHub secret / proxy / TLS reference missing), the job "runs" forever because
//! its pod is gone or its node was lost, the runner was never registered (`status.runnerId` 0), or
//! its pod is stuck Terminating on a node that no longer exists.

use crate::findings::{Finding, Fix, Severity};
use crate::model::{Controller, F_ER, F_REG};
use crate::snapshot::Object;

use super::Ctx;
use super::common::CleanupPath;
use super::deletion::{
    Blocked, Cause, CauseKind, PodState, Verdict, client, describe, gate, job_id,
    lost_terminating_pod, perms, pod_state, remediations_in, runner_id, since, stuck,
    with_cause_evidence,
};

/// A runner busy with a job: waiting while its pod lives, stuck when the pod is gone or lost.
fn busy_runner(ctx: &Ctx, er: &Object, job: &str, step: &str) -> Verdict {
    let lost = |step: String| {
        let kind = CauseKind::JobLost {
            job: job.to_owned(),
        };
        stuck(&step, Cause::new(er.meta.obj_ref(), kind))
    };
    match pod_state(ctx, er.meta.ns(), &er.meta.name) {
        PodState::Present => {
            Verdict::Waiting(vec![format!("job {job} on runner {}", er.meta.name)])
        }
        PodState::LostNode(_, node) => lost(format!(
            "{step} (its pod was on node {node}, which no longer exists)"
        )),
        PodState::Missing => lost(step.to_owned()),
        PodState::Unknown => Verdict::Unknown(vec![format!("runner pod {}", er.meta.display())]),
    }
}

const STEP_DEREGISTER: &str = "deregister the runner from GitHub (registration finalizer)";
const STEP_POD: &str = "delete the runner pod and JIT secret (runner finalizer)";

/// Analyse a deleting EphemeralRunner (None when it carries no ARC finalizer).
pub(crate) fn classify(ctx: &Ctx, er: &Object) -> Option<Verdict> {
    let has_reg = er.meta.has_finalizer(F_REG);
    if !has_reg && !er.meta.has_finalizer(F_ER) {
        return None;
    }
    let step = if has_reg { STEP_DEREGISTER } else { STEP_POD };
    let c = match gate(ctx, er, CleanupPath::Runner, step) {
        Ok(c) => c,
        Err(v) => return Some(v),
    };
    Some(if has_reg {
        deregistration(ctx, c, er)
    } else {
        pod_cleanup(ctx, c, er)
    })
}

/// An ER the ERS (or ER reconciler) still has to deregister, judged for controller `c`.
pub(crate) fn deregistration(ctx: &Ctx, c: &Controller, er: &Object) -> Verdict {
    let ns = er.meta.ns();
    if let Some(job) = job_id(er) {
        return busy_runner(ctx, er, &job, STEP_DEREGISTER);
    }
    if runner_id(er) == 0 && er.meta.is_deleting() {
        let cause = Cause::new(er.meta.obj_ref(), CauseKind::NeverRegistered);
        return stuck(STEP_DEREGISTER, cause);
    }
    let need = [
        ("get", "", "secrets", ns),
        ("delete", "actions.github.com", "ephemeralrunners", ns),
    ];
    Verdict::combine(vec![
        perms(ctx, c, er, STEP_DEREGISTER, &need),
        client(ctx, er, STEP_DEREGISTER),
        Verdict::Waiting(vec![format!(
            "deregistration of runner {} (id {}) from GitHub",
            er.meta.name,
            runner_id(er)
        )]),
    ])
}

fn pod_cleanup(ctx: &Ctx, c: &Controller, er: &Object) -> Verdict {
    let ns = er.meta.ns();
    let need = [
        ("delete", "", "pods", ns),
        ("delete", "", "secrets", ns),
        ("list", "", "secrets", ns),
    ];
    let lost = lost_terminating_pod(ctx, ns, &er.meta.name, er).map(|c| stuck(STEP_POD, c));
    let waiting = || Verdict::Waiting(vec![format!("runner pod {} to be deleted", er.meta.name)]);
    Verdict::combine(vec![
        perms(ctx, c, er, STEP_POD, &need),
        lost.unwrap_or_else(waiting),
    ])
}

// ---------------------------------------------------------------------------------------------
// The check

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .ephemeral_runners
        .iter()
        .filter(|er| er.meta.is_deleting())
        .filter_map(|er| match classify(ctx, er)? {
            Verdict::Stuck(blocked) => Some(finding(ctx, er, &blocked)),
            _ => None,
        })
        .collect()
}

fn finding(ctx: &Ctx, er: &Object, blocked: &[Blocked]) -> Finding {
    let ns = er.meta.ns();
    let terminating = ctx.snap.namespace_terminating(ns);
    let severity = if terminating {
        Severity::Critical
    } else {
        Severity::High
    };
    let fins = er.meta.finalizers.join(", ");
    let mut message = format!(
        "EphemeralRunner {} has been deleting{} and cannot finish (finalizers: {fins}): {}.",
        er.meta.display(),
        since(er),
        describe(er, blocked)
    );
    if terminating {
        message.push_str(&format!(" It blocks the deletion of namespace {ns}."));
    }
    let id = runner_id(er);
    if er.meta.has_finalizer(F_REG) && id > 0 {
        message.push_str(&format!(
            " If its registration finalizer is stripped, runner {} (id {id}) probably stays \
             registered on GitHub until GitHub removes it (about a day offline).",
            er.str("/status/runnerName").unwrap_or(&er.meta.name)
        ));
    }
    let mut f = Finding::new("ARC-STUCK-ER", severity, message).object(er.meta.obj_ref());
    for b in blocked {
        f = f.object(b.cause.subject.clone());
    }
    if !er.meta.has_finalizer(F_REG) {
        f = f.fix(Fix::Auto);
    }
    for r in remediations_in(ctx, blocked) {
        f = f.remediation(r);
    }
    if id > 0 {
        f = f.evidence(format!("status.runnerId={id}"));
    }
    with_cause_evidence(f, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ObjectRef, Snapshot};
    use crate::testing;
    use serde_json::json;

    const ER: &str = "arc-runner-set-x7k2p-runner-4fzq8";
    const DT: &str = "2026-07-01T10:00:00Z";

    /// Make sure some node exists, so a pod on another node counts as lost.
    fn with_node(snap: &mut Snapshot) {
        snap.nodes.items.push(testing::obj(
            "Node",
            json!({"metadata":{"name":"live-node"}}),
        ));
    }

    fn delete_er(snap: &mut Snapshot) {
        testing::get_mut(snap, "EphemeralRunner", Some("arc-runners"), ER)
            .meta
            .deletion_timestamp = Some(DT.to_owned());
    }

    fn the_er(snap: &Snapshot) -> &Object {
        snap.ephemeral_runners
            .iter()
            .find(|e| e.meta.name == ER)
            .expect("B0 has the ER")
    }

    #[test]
    fn b0_is_silent_and_deleting_idle_runner_is_processable() {
        let mut snap = testing::scenario("B0");
        assert!(check(&Ctx::new(&snap)).is_empty());
        delete_er(&mut snap);
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
        assert!(matches!(
            classify(&ctx, the_er(&snap)),
            Some(Verdict::Waiting(_))
        ));
    }

    #[test]
    fn missing_secret_blocks_deregistration() {
        let mut snap = testing::scenario("B0");
        delete_er(&mut snap);
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Secret" && o.meta.name == "arc-runner-set-gha-rs-github-secret"
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec![format!("ARC-STUCK-ER EphemeralRunner arc-runners/{ER}")]
        );
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("does not exist"), "{}", f[0].message);
        assert_eq!(f[0].fix, Fix::Confirm);
    }

    #[test]
    fn running_job_waits_but_lost_node_is_stuck() {
        let mut snap = testing::scenario("B0");
        delete_er(&mut snap);
        testing::get_mut(&mut snap, "EphemeralRunner", Some("arc-runners"), ER).body["status"]["jobId"] =
            json!("8812");
        {
            let ctx = Ctx::new(&snap);
            assert_eq!(
                classify(&ctx, the_er(&snap)),
                Some(Verdict::Waiting(vec![format!("job 8812 on runner {ER}")]))
            );
        }
        testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER).body["spec"]["nodeName"] =
            json!("gone-node");
        with_node(&mut snap);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("gone-node"), "{}", f[0].message);
        assert!(f[0].message.contains("JobStillRunning"), "{}", f[0].message);
    }

    #[test]
    fn no_controller_and_terminating_namespace_is_critical() {
        let mut snap = testing::scenario("B0");
        delete_er(&mut snap);
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        testing::get_mut(&mut snap, "Namespace", None, "arc-runners").body["status"] =
            json!({"phase": "Terminating"});
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(
            f[0].message.contains("no ARC controller"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn pod_finalizer_only_with_lost_pod_is_auto_fixable() {
        let mut snap = testing::scenario("B0");
        delete_er(&mut snap);
        testing::get_mut(&mut snap, "EphemeralRunner", Some("arc-runners"), ER)
            .meta
            .finalizers = vec![F_ER.to_owned()];
        let pod = testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER);
        pod.meta.deletion_timestamp = Some(DT.to_owned());
        pod.body["spec"]["nodeName"] = json!("gone-node");
        with_node(&mut snap);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fix, Fix::Auto);
        assert!(
            f[0].remediation
                .iter()
                .any(|r| r.contains("--grace-period=0"))
        );
    }

    #[test]
    fn verdicts_combine_stuck_first() {
        let cause = Cause::new(
            ObjectRef::namespaced("EphemeralRunner", "r", "e"),
            CauseKind::NeverRegistered,
        );
        let v = Verdict::combine(vec![
            Verdict::Waiting(vec!["x".to_owned()]),
            Verdict::Unknown(vec!["y".to_owned()]),
            stuck("s", cause),
        ]);
        assert!(matches!(v, Verdict::Stuck(_)));
        let v = Verdict::combine(vec![
            Verdict::Waiting(vec!["x".to_owned()]),
            Verdict::Unknown(vec!["y".to_owned()]),
        ]);
        assert_eq!(v, Verdict::Unknown(vec!["y".to_owned()]));
    }
}
