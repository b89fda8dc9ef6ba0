//! `ARC-STUCK-ARS` – an AutoscalingRunnerSet with a deletionTimestamp and
//! `autoscalingrunnerset.actions.github.com/finalizer` that cannot finish (arc-domain §3, §4.4).
//!
//! The deletion is walked through the controller's sequence and the first unmet step is reported:
//! (1) a live controller reconciles it; (2) the listener in *that controller's* namespace is
//! deleted and cleaned up; (3) the EphemeralRunnerSets and their runners are gone; (4) with a
//! numeric `runner-scale-set-id`, the Actions client can be built to delete the scale set on
//! GitHub; (5) the chart objects named in the cleanup annotations can be released. A deletion a
//! live, authorised controller is carrying out (waiting for a listener, runners, a job) is not
//! stuck; `deletion_progressing` reports it.

use crate::findings::{Finding, Severity};
use crate::model::{self, F_ARS};
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::deletion::{
    Blocked, Verdict, describe, remediations_in, since, with_cause_evidence,
};

#[allow(unused_imports)]
use crate::facts::ars::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_runner_sets
        .iter()
        .filter(|ars| ars.meta.is_deleting())
        .filter_map(|ars| match ctx.deletion(ars)? {
            Verdict::Stuck(blocked) => Some(finding(ctx, ars, &blocked)),
            _ => None,
        })
        .collect()
}

fn finding(ctx: &Ctx, ars: &Object, blocked: &[Blocked]) -> Finding {
    let r = ars.meta.ns();
    let live = ctx.model.live_for(r).next();
    let mut message = format!(
        "AutoscalingRunnerSet {} has been deleting{} and cannot finish: {}.",
        ars.meta.display(),
        since(ars),
        describe(ars, blocked)
    );
    let foreign = live
        .map(|c| foreign_listeners(ctx, ars, Some(c)))
        .unwrap_or_default();
    if !foreign.is_empty() {
        let names: Vec<String> = foreign.iter().map(|o| o.meta.display()).collect();
        message.push_str(&format!(
            " Listener(s) {} outside the live controller's namespace also target it; step 2 does \
             not wait for them, but they block their own namespace (see ARC-STUCK-LISTENER).",
            names.join(", ")
        ));
    }
    if ctx.snap.namespace_terminating(r) {
        message.push_str(&format!(" It blocks the deletion of namespace {r}."));
    }
    let mut f =
        Finding::new("ARC-STUCK-ARS", Severity::Critical, message).object(ars.meta.obj_ref());
    for b in blocked {
        f = f.object(b.cause.subject.clone());
    }
    for r in remediations_in(ctx, blocked) {
        f = f.remediation(r);
    }
    let id = model::scale_set_id(ars);
    f = f.remediation(match id {
        Some(id) => format!(
            "If it stays stranded: `kubectl arc orphans --fix --include-confirm`. It removes \
             runner-scale-set-id first when another scale set shares the ID (see \
             ARC-SCALESET-ID-SHARED), strips {F_ARS} once no \
             listener, EphemeralRunnerSet or runner of it remains, and releases its chart objects. \
             Delete scale set {id} on GitHub by hand afterwards (the tool never reads credentials)."
        ),
        None => format!(
            "If it stays stranded: `kubectl arc orphans --fix --include-confirm` stripping {F_ARS} once \
             no listener, EphemeralRunnerSet or runner of it remains; its chart objects are then \
             released."
        ),
    });
    if let Some(id) = id {
        f = f.evidence(format!("annotation runner-scale-set-id={id}"));
    }
    with_cause_evidence(f, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::snapshot::Snapshot;
    use crate::testing;
    use serde_json::json;

    const ARS: &str = "arc-runner-set";

    fn delete_ars(snap: &mut Snapshot) {
        testing::get_mut(snap, "AutoscalingRunnerSet", Some("arc-runners"), ARS)
            .meta
            .deletion_timestamp = Some("2026-07-01T10:00:00Z");
    }

    fn primary() -> ObjectRef {
        ObjectRef::namespaced("AutoscalingRunnerSet", "arc-runners", ARS)
    }

    fn the_ars<'a>(snap: &'a Snapshot, ns: &str) -> &'a Object {
        snap.autoscaling_runner_sets
            .iter()
            .find(|a| a.meta.ns() == ns && a.meta.name == ARS)
            .expect("ARS present")
    }

    #[test]
    fn b0_deletion_is_progressing_not_stuck() {
        let mut snap = testing::scenario("B0");
        assert!(check(&Ctx::new(&snap)).is_empty());
        delete_ars(&mut snap);
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
        match classify(&ctx, the_ars(&snap, "arc-runners")) {
            Some(Verdict::Waiting(w)) => {
                assert!(w.iter().any(|x| x.contains("listener")), "{w:?}")
            }
            v => panic!("expected waiting, got {v:?}"),
        }
    }

    #[test]
    fn s3_no_controller() {
        let snap = testing::scenario("S3");
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec![format!("ARC-STUCK-ARS {}", primary())]
        );
        assert_eq!(f[0].severity, Severity::Critical);
        let m = &f[0].message;
        assert!(
            m.contains("step 1") && m.contains("no ARC controller"),
            "{m}"
        );
    }

    #[test]
    fn no_controller_is_not_concluded_from_a_namespace_scoped_view() {
        // S3 as a user who can only list arc-runners: the controller could run anywhere.
        let mut snap = testing::scenario("S3");
        for kind in ["Deployment", "Pod", "AutoscalingListener"] {
            let c = snap.collection_mut(kind).expect("known kind");
            c.items.retain(|o| o.meta.ns() == "arc-runners");
            c.scope = crate::snapshot::Scope::Namespaces(["arc-runners".to_owned()].into());
        }
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
        let v = classify(&ctx, the_ars(&snap, "arc-runners"));
        assert!(matches!(v, Some(Verdict::Unknown(_))), "{v:?}");
    }

    #[test]
    fn s4_runner_sets_remain_and_scale_set_cannot_be_deleted() {
        let snap = testing::scenario("S4");
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec![format!("ARC-STUCK-ARS {}", primary())]
        );
        let m = &f[0].message;
        assert!(
            m.contains("step 3") && m.contains("step 4") && m.contains("gh-pat"),
            "{m}"
        );
    }

    #[test]
    fn s9_waiting_for_job_is_not_stuck() {
        let snap = testing::scenario("S9");
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
        match classify(&ctx, the_ars(&snap, "arc-runners")) {
            Some(Verdict::Waiting(w)) => {
                assert!(w.iter().any(|x| x.contains("job 8812")), "{w:?}")
            }
            v => panic!("expected waiting, got {v:?}"),
        }
    }

    #[test]
    fn missing_secret_with_scale_set_id_blocks_step_4() {
        let mut snap = testing::scenario("B0");
        delete_ars(&mut snap);
        testing::remove(&mut snap, |o| {
            matches!(
                o.meta.kind,
                "AutoscalingListener" | "EphemeralRunnerSet" | "EphemeralRunner"
            ) || (o.meta.kind == "Secret" && o.meta.name == "arc-runner-set-gha-rs-github-secret")
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains("step 4"), "{}", f[0].message);
        // Without the scale-set ID the GitHub call is skipped: nothing blocks any more.
        testing::get_mut(&mut snap, "AutoscalingRunnerSet", Some("arc-runners"), ARS)
            .meta
            .annotations
            .remove("runner-scale-set-id");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn listener_in_other_namespace_does_not_block_but_is_noticed() {
        let mut snap = testing::scenario("B0");
        delete_ars(&mut snap);
        let al = testing::get_mut(
            &mut snap,
            "AutoscalingListener",
            Some("arc-systems"),
            "arc-runner-set-85f786b5-listener",
        );
        al.meta.namespace = Some("old-ns");
        al.body["spec"]["autoscalingRunnerSetNamespace"] = json!("arc-runners").into();
        let ctx = Ctx::new(&snap);
        let ars = the_ars(&snap, "arc-runners");
        let live = ctx.model.live_for("arc-runners").next();
        assert_eq!(foreign_listeners(&ctx, ars, live).len(), 1);
        let v = classify(&ctx, ars).expect("has finalizer");
        assert!(matches!(v, Verdict::Waiting(_)), "{v:?}");
    }
}
