//! Deletion analysis of an EphemeralRunnerSet (arc-domain §3 step 3, ERS reconciler).
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{F_ER, F_ERS, Version};
use crate::snapshot::Object;

use super::Ctx;
use super::common::CleanupPath;
use super::deletion::{Cause, CauseKind, Perm, Verdict, gate, perms, stuck};
use super::er;

pub(crate) const STEP_RUNNERS: &str = "delete its EphemeralRunners";
pub(crate) const STEP_FINAL: &str = "delete its proxy Secret and remove its finalizer";

/// First controller version that only knows the renamed ERS finalizer (HEAD, #4516).
pub(crate) const RENAMED_FINALIZER: Version = Version::new(0, 15, 0);

/// The EphemeralRunners owned by an ERS (by owner UID).
pub(crate) fn children<'a>(ctx: &Ctx<'a>, ers: &Object) -> Vec<&'a Object> {
    if ers.meta.uid.is_empty() {
        return Vec::new();
    }
    ctx.snap
        .ephemeral_runners
        .iter()
        .filter(|er| er.meta.namespace == ers.meta.namespace)
        .filter(|er| {
            er.meta
                .owner_references
                .iter()
                .any(|o| o.uid == ers.meta.uid)
        })
        .collect()
}

/// The ERS finalizer it carries, if any.
pub(crate) fn finalizer(ers: &Object) -> Option<&'static str> {
    if ers.meta.has_finalizer(F_ERS) {
        Some(F_ERS)
    } else if ers.meta.has_finalizer(F_ER) {
        Some(F_ER)
    } else {
        None
    }
}

/// Analyse an ERS deletion (also used for an ERS the ARS deletion is about to delete).
/// None when it carries no ERS finalizer.
pub(crate) fn classify(ctx: &Ctx, ers: &Object) -> Option<Verdict> {
    let fin = finalizer(ers)?;
    let c = match gate(ctx, ers, CleanupPath::Runner, STEP_RUNNERS) {
        Ok(c) => c,
        Err(v) => return Some(v),
    };
    if fin == F_ER && c.parsed_version.is_some_and(|v| v >= RENAMED_FINALIZER) {
        let kind = CauseKind::UnknownFinalizer {
            finalizer: fin.to_owned(),
            version: c.version.clone().unwrap_or_default(),
        };
        return Some(stuck(STEP_FINAL, Cause::new(ers.meta.obj_ref(), kind)));
    }
    let ns = ers.meta.ns();
    let kids = children(ctx, ers);
    let mut parts = Vec::new();
    for er in &kids {
        let v = if er.meta.is_deleting() {
            ctx.deletion(er).unwrap_or_else(|| {
                Verdict::Waiting(vec![format!("runner {} to disappear", er.meta.name)])
            })
        } else {
            er::deregistration(ctx, c, er)
        };
        parts.push(v.at_step(STEP_RUNNERS));
    }
    let need: [Perm; 2] = [
        ("delete", "", "secrets", ns),
        ("delete", "actions.github.com", "ephemeralrunners", ns),
    ];
    parts.push(perms(ctx, c, ers, STEP_FINAL, &need));
    if kids.is_empty() {
        parts.push(Verdict::Waiting(vec![
            "removal of its finalizer".to_owned(),
        ]));
    }
    Some(Verdict::combine(parts))
}
