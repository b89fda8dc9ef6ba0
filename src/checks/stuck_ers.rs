//! `ARC-STUCK-ERS` – an EphemeralRunnerSet with a deletionTimestamp and its finalizer
//! (`ephemeralrunnerset.actions.github.com/finalizer`, or `ephemeralrunner.actions.github.com/finalizer`
//! up to 0.14.2) that cannot finish (arc-domain §3 step 3, §4.4).
//!
//! The ERS reconciler deletes finished runners, deregisters pending/idle ones with an Actions
//! client built from the GitHub secret, skips runners with a job until the job ends, waits for
//! runners already being deleted, then deletes its proxy Secret and removes its finalizer. It is
//! stuck when no live controller processes it, a HEAD controller does not know the old finalizer
//! string, a child runner is stuck (see `ARC-STUCK-ER`), or idle runners cannot be deregistered
//! (credentials or permissions). Runners busy with a job on a live pod mean "waiting", not stuck.

use crate::findings::{Finding, Severity};
use crate::model::F_ER;
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::deletion::{
    Blocked, Verdict, describe, remediations_in, since, with_cause_evidence,
};

#[allow(unused_imports)]
use crate::facts::ers::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .ephemeral_runner_sets
        .iter()
        .filter(|ers| ers.meta.is_deleting())
        .filter_map(|ers| match ctx.deletion(ers)? {
            Verdict::Stuck(blocked) => Some(finding(ctx, ers, &blocked)),
            _ => None,
        })
        .collect()
}

fn finding(ctx: &Ctx, ers: &Object, blocked: &[Blocked]) -> Finding {
    let ns = ers.meta.ns();
    let kids = children(ctx, ers);
    let mut message = format!(
        "EphemeralRunnerSet {} has been deleting{} and cannot finish (finalizer {}; {} runner(s) \
         remain): {}.",
        ers.meta.display(),
        since(ers),
        finalizer(ers).unwrap_or(F_ER),
        kids.len(),
        describe(ers, blocked)
    );
    if ctx.snap.namespace_terminating(ns) {
        message.push_str(&format!(" It blocks the deletion of namespace {ns}."));
    }
    let mut f =
        Finding::new("ARC-STUCK-ERS", Severity::Critical, message).object(ers.meta.obj_ref());
    for b in blocked {
        f = f.object(b.cause.subject.clone());
    }
    for r in remediations_in(ctx, blocked) {
        f = f.remediation(r);
    }
    f = f.remediation(format!(
        "Resolve the runners first; once no EphemeralRunner owned by {} remains and no controller \
         can finish it, `kubectl arc orphans --fix` deletes its proxy Secret and strips the \
         finalizer.",
        ers.meta.display()
    ));
    with_cause_evidence(f, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Version;
    use crate::snapshot::{ObjectRef, Snapshot};
    use crate::testing;
    use serde_json::json;

    const ERS: &str = "arc-runner-set-x7k2p";
    const SECRET: &str = "arc-runner-set-gha-rs-github-secret";

    fn delete_ers(snap: &mut Snapshot) {
        testing::get_mut(snap, "EphemeralRunnerSet", Some("arc-runners"), ERS)
            .meta
            .deletion_timestamp = Some("2026-07-01T10:00:00Z");
    }

    #[test]
    fn b0_deleting_ers_with_idle_runner_is_processable() {
        let mut snap = testing::scenario("B0");
        assert!(check(&Ctx::new(&snap)).is_empty());
        delete_ers(&mut snap);
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
        let ers = snap
            .ephemeral_runner_sets
            .iter()
            .next()
            .expect("B0 has an ERS");
        assert_eq!(children(&ctx, ers).len(), 1);
        assert!(matches!(classify(&ctx, ers), Some(Verdict::Waiting(_))));
    }

    #[test]
    fn idle_runner_without_credentials_blocks_it() {
        let mut snap = testing::scenario("B0");
        delete_ers(&mut snap);
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Secret" && o.meta.name == SECRET
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec![format!(
                "ARC-STUCK-ERS EphemeralRunnerSet arc-runners/{ERS}"
            )]
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].message.contains("does not exist"), "{}", f[0].message);
    }

    #[test]
    fn busy_runner_is_waiting() {
        let mut snap = testing::scenario("B0");
        delete_ers(&mut snap);
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Secret" && o.meta.name == SECRET
        });
        testing::get_mut(
            &mut snap,
            "EphemeralRunner",
            Some("arc-runners"),
            "arc-runner-set-x7k2p-runner-4fzq8",
        )
        .body["status"]["jobId"] = json!("77").into();
        // The only runner is busy: the ERS skips it and needs no client yet.
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
    }

    #[test]
    fn head_controller_does_not_know_old_finalizer() {
        let mut snap = testing::scenario("B0");
        delete_ers(&mut snap);
        testing::remove(&mut snap, |o| o.meta.kind == "EphemeralRunner");
        let mut ctx = Ctx::new(&snap);
        for c in &mut ctx.model.controllers {
            c.parsed_version = Some(Version::new(0, 15, 0));
            c.version = Some("0.15.0".to_owned());
        }
        let f = check(&ctx);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("does not recognise"),
            "{}",
            f[0].message
        );
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "EphemeralRunnerSet",
                "arc-runners",
                ERS
            ))
        );
    }

    #[test]
    fn no_controller_is_stuck() {
        let mut snap = testing::scenario("B0");
        delete_ers(&mut snap);
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("no ARC controller"));
    }
}
