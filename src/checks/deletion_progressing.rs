//! `ARC-DELETION-PROGRESSING` (info) – an AutoscalingRunnerSet is being deleted and a live,
//! authorised controller is carrying the deletion out (arc-domain §3, §6 S9). Says what the
//! deletion currently waits for: the listener, runners, a running job, the GitHub scale-set
//! deletion, or the final release of chart objects. Anything stuck is `ARC-STUCK-ARS` instead.
//!
//! When the ARS is already gone (its finalizer stripped by hand) and the garbage collector is
//! deleting its EphemeralRunnerSet, the deleting ERS is the primary object instead (S13), as long
//! as a live controller processes it; otherwise it is `ARC-STUCK-ERS`.

use crate::findings::{Finding, Severity};
use crate::model::{self, L_SCALE_SET_NAME};
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::ars::controller_ref;
use crate::facts::deletion::{Verdict, since};

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let arss = snap
        .autoscaling_runner_sets
        .iter()
        .filter(|ars| ars.meta.is_deleting())
        .filter_map(|ars| match ctx.deletion(ars)? {
            Verdict::Waiting(what) => Some(finding(ctx, ars, &what)),
            _ => None,
        });
    let orphaned_sets = snap
        .ephemeral_runner_sets
        .iter()
        .filter(|ers| ers.meta.is_deleting() && ars_gone(ctx, ers))
        .filter_map(|ers| match ctx.deletion(ers)? {
            Verdict::Waiting(what) => Some(finding(ctx, ers, &what)),
            _ => None,
        });
    arss.chain(orphaned_sets).collect()
}

/// The ERS's AutoscalingRunnerSet is known to be gone (not owned by an existing ARS, and no ARS
/// with its scale-set name in its namespace).
fn ars_gone(ctx: &Ctx, ers: &Object) -> bool {
    let arss = &ctx.snap.autoscaling_runner_sets;
    let ns = ers.meta.ns();
    if !arss.scope.covers(Some(ns)) {
        return false;
    }
    let owned = ers
        .meta
        .owner_references
        .iter()
        .any(|o| arss.by_uid(o.uid).is_some());
    let by_name = ers
        .meta
        .label(L_SCALE_SET_NAME)
        .is_some_and(|s| arss.get(Some(ns), s).found().is_some());
    !owned && !by_name
}

fn finding(ctx: &Ctx, obj: &Object, what: &[String]) -> Finding {
    let c = ctx.model.live_for(obj.meta.ns()).next();
    let who = c.map_or_else(
        || "the controller".to_owned(),
        |c| format!("controller {}/{}", c.namespace, c.name),
    );
    let kind = obj.meta.kind;
    let context = if kind == "EphemeralRunnerSet" {
        " (its AutoscalingRunnerSet is gone, so the garbage collector deleted it; the scale set \
         itself will not be deleted on GitHub)"
    } else {
        ""
    };
    let message = format!(
        "Deletion of {kind} {}{}{context} is in progress: {who} is carrying it out and is waiting \
         for {}.",
        obj.meta.display(),
        since(obj),
        what.join(", ")
    );
    let mut f = Finding::new("ARC-DELETION-PROGRESSING", Severity::Info, message)
        .object(obj.meta.obj_ref())
        .remediation(format!(
            "Nothing to fix: wait, and watch it with `kubectl get {} {} -n {} -w` (runners with a \
             job are removed only after the job ends).",
            kind.to_lowercase(),
            obj.meta.name,
            obj.meta.ns()
        ))
        .remediation(
            "Do not strip finalizers or delete the GitHub config Secret, the manager \
             Role/RoleBinding or the namespace while it progresses: the controller still needs \
             them.",
        );
    if let Some(c) = c {
        f = f.object(controller_ref(c));
    }
    if let Some(id) = model::scale_set_id(obj) {
        f = f.evidence(format!(
            "annotation runner-scale-set-id={id} (deleted on GitHub in step 4)"
        ));
    }
    for w in what {
        f = f.evidence(format!("waiting for {w}"));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;

    #[test]
    fn s9_waits_for_the_job() {
        let snap = testing::scenario("S9");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "AutoscalingRunnerSet",
                "arc-runners",
                "arc-runner-set"
            ))
        );
        assert!(
            f[0].message.contains("waiting for job 8812"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn s13_deleting_runner_set_without_scale_set() {
        let snap = testing::scenario("S13");
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-DELETION-PROGRESSING EphemeralRunnerSet arc-runners/arc-runner-set-x7k2p"]
        );
        assert!(f[0].message.contains("job 8813"), "{}", f[0].message);
    }

    #[test]
    fn stuck_deletion_is_not_progressing() {
        let snap = testing::scenario("S3");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
