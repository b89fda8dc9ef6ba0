//! Listener targets: which scale set an AutoscalingListener serves, its pods, and its scale-set ID.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{self, L_SCALE_SET_NAME, L_SCALE_SET_NS};
use crate::snapshot::{Lookup, Object, Snapshot};

pub(crate) const CODE: &str = "ARC-ORPHAN-LISTENER";

/// The ARS a listener serves: its spec, falling back to its scale-set labels.
pub(crate) fn target(al: &Object) -> Option<(&str, &str)> {
    model::listener_target(al).or_else(|| {
        Some((
            al.meta.label(L_SCALE_SET_NS)?,
            al.meta.label(L_SCALE_SET_NAME)?,
        ))
    })
}

/// Lookup of the ARS a listener serves (`Unknown` when the listener names none).
pub(crate) fn target_ars<'a>(snap: &'a Snapshot, al: &Object) -> Lookup<'a> {
    match target(al) {
        Some((ns, name)) => snap.autoscaling_runner_sets.get(Some(ns), name),
        None => Lookup::Unknown,
    }
}

/// The listener pods of an AL: owned by its UID, or named like it in its namespace.
pub(crate) fn listener_pods<'a>(
    snap: &'a Snapshot,
    al: &'a Object,
) -> impl Iterator<Item = &'a Object> + 'a {
    snap.pods.in_namespace(al.meta.ns()).filter(move |p| {
        p.meta.name == al.meta.name
            || (!al.meta.uid.is_empty()
                && p.meta.owner_references.iter().any(|o| o.uid == al.meta.uid))
    })
}

/// A pod that is running and not being deleted.
pub(crate) fn is_running(pod: &Object) -> bool {
    pod.str("/status/phase") == Some("Running") && !pod.meta.is_deleting()
}

/// The running listener pod of an AL, if any.
pub(crate) fn running_pod<'a>(snap: &'a Snapshot, al: &'a Object) -> Option<&'a Object> {
    listener_pods(snap, al).find(|p| is_running(p))
}

/// `runnerScaleSetId` of a listener (integer or numeric string), ignoring 0.
pub(crate) fn listener_scale_set_id(al: &Object) -> Option<i64> {
    let v = al.at("/spec/runnerScaleSetId")?;
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|id| *id > 0)
}
