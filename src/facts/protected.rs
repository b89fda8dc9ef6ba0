//! Chart objects guarded by `actions.github.com/cleanup-protection` and the scale set that releases them.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{CLEANUP_ANNOTATIONS, L_SCALE_SET_NAME};
use crate::snapshot::{Collection, Object, Snapshot};

use super::Ctx;

/// The kinds the chart renders per scale set and guards with cleanup-protection.
pub(crate) fn protectable(snap: &Snapshot) -> [&Collection; 4] {
    [
        &snap.secrets,
        &snap.roles,
        &snap.role_bindings,
        &snap.service_accounts,
    ]
}

/// The ARS in the object's namespace that would release it: by cleanup annotation first, by the
/// scale-set-name label second.
pub(crate) fn owner_ars<'a>(ctx: &Ctx<'a>, o: &Object) -> Option<&'a Object> {
    let in_ns = || {
        ctx.snap
            .autoscaling_runner_sets
            .iter()
            .filter(|a| a.meta.namespace == o.meta.namespace)
    };
    let by_annotation = in_ns().find(|ars| {
        CLEANUP_ANNOTATIONS.iter().any(|(annotation, kind)| {
            *kind == o.meta.kind && ars.meta.annotation(annotation) == Some(o.meta.name)
        })
    });
    by_annotation.or_else(|| {
        let s = o.meta.label(L_SCALE_SET_NAME)?;
        in_ns().find(|a| a.meta.name == s || a.meta.label(L_SCALE_SET_NAME) == Some(s))
    })
}

/// Runner objects of the same scale set that still need the credentials / manager RBAC.
pub(crate) fn dependents<'a>(ctx: &Ctx<'a>, o: &Object) -> Vec<&'a Object> {
    let scale_set = o.meta.label(L_SCALE_SET_NAME);
    ctx.snap
        .ephemeral_runner_sets
        .iter()
        .chain(ctx.snap.ephemeral_runners.iter())
        .filter(|x| x.meta.namespace == o.meta.namespace)
        .filter(|x| scale_set.is_none_or(|s| x.meta.label(L_SCALE_SET_NAME) == Some(s)))
        .filter(|x| !x.meta.finalizers.is_empty())
        .collect()
}
