//! Deletion analysis of an EphemeralRunner (arc-domain §3 step 3, ER reconciler).
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{Controller, F_ER, F_REG};
use crate::snapshot::Object;

use super::Ctx;
use super::common::CleanupPath;
use super::deletion::{
    Cause, CauseKind, PodState, Verdict, client, gate, job_id, lost_terminating_pod, perms,
    pod_state, runner_id, stuck,
};

/// A runner busy with a job: waiting while its pod lives, stuck when the pod is gone or lost.
pub(crate) fn busy_runner(ctx: &Ctx, er: &Object, job: &str, step: &str) -> Verdict {
    let lost = |step: String| {
        let kind = CauseKind::JobLost {
            job: job.to_owned(),
        };
        stuck(&step, Cause::new(er.meta.obj_ref(), kind))
    };
    match pod_state(ctx, er.meta.ns(), er.meta.name) {
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

pub(crate) const STEP_DEREGISTER: &str =
    "deregister the runner from GitHub (registration finalizer)";
pub(crate) const STEP_POD: &str = "delete the runner pod and JIT secret (runner finalizer)";

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

pub(crate) fn pod_cleanup(ctx: &Ctx, c: &Controller, er: &Object) -> Verdict {
    let ns = er.meta.ns();
    let need = [
        ("delete", "", "pods", ns),
        ("delete", "", "secrets", ns),
        ("list", "", "secrets", ns),
    ];
    let lost = lost_terminating_pod(ctx, ns, er.meta.name, er).map(|c| stuck(STEP_POD, c));
    let waiting = || Verdict::Waiting(vec![format!("runner pod {} to be deleted", er.meta.name)]);
    Verdict::combine(vec![
        perms(ctx, c, er, STEP_POD, &need),
        lost.unwrap_or_else(waiting),
    ])
}

// ---------------------------------------------------------------------------------------------
// The check
