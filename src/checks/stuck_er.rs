//! `ARC-STUCK-ER` – an EphemeralRunner with a deletionTimestamp that cannot finish (arc-domain
//! §3 step 3, §4.4). The shared deletion analysis lives in [`crate::facts::deletion`].
//!
//! An ER deletion is *waiting* (not stuck) when a live, authorised controller can finish it: the
//! runner still runs a job on a live pod (the controller retries `RemoveRunner` every 30 s until the
//! job ends), or the controller can deregister it / delete its pod and JIT secret. It is *stuck*
//! when no live controller processes it, the controller lacks permissions, the Actions client
//! cannot be built (GitHub secret / proxy / TLS reference missing), the job "runs" forever because
//! its pod is gone or its node was lost, the runner was never registered (`status.runnerId` 0), or
//! its pod is stuck Terminating on a node that no longer exists.

use crate::findings::{Finding, Fix, Severity};
use crate::model::F_REG;
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::deletion::{
    Blocked, Verdict, describe, remediations_in, runner_id, since, with_cause_evidence,
};

#[allow(unused_imports)]
use crate::facts::er::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .ephemeral_runners
        .iter()
        .filter(|er| er.meta.is_deleting())
        .filter_map(|er| match ctx.deletion(er)? {
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
            er.str("/status/runnerName").unwrap_or(er.meta.name)
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
    use crate::facts::deletion::{Cause, CauseKind, stuck};
    use crate::model::F_ER;
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
            .deletion_timestamp = Some(DT);
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
            json!("8812").into();
        {
            let ctx = Ctx::new(&snap);
            assert_eq!(
                classify(&ctx, the_er(&snap)),
                Some(Verdict::Waiting(vec![format!("job 8812 on runner {ER}")]))
            );
        }
        testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER).body["spec"]["nodeName"] =
            json!("gone-node").into();
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
            json!({"phase": "Terminating"}).into();
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
            .finalizers = vec![F_ER];
        let pod = testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER);
        pod.meta.deletion_timestamp = Some(DT);
        pod.body["spec"]["nodeName"] = json!("gone-node").into();
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
