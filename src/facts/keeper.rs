//! Which of several listeners for one scale set the live controller keeps.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{self, Controller};
use crate::snapshot::Object;

use super::Ctx;
use super::common;
use super::listeners::target;

pub(crate) const CODE: &str = "ARC-LISTENER-DUPLICATE";

/// The listener a LIVE controller keeps for `ars`, and that controller.
///
/// When several live controllers cover the namespace and each has its listener (two cluster-wide
/// controllers), prefer the one whose ServiceAccount may read Secrets in the ARS namespace (the
/// manager RoleBinding binds it), then a non-deleting listener, then the oldest one.
pub(crate) fn keeper<'a, 'c>(
    ctx: &'c Ctx<'a>,
    ars: &Object,
) -> Option<(&'a Object, &'c Controller)> {
    let ns = ars.meta.ns();
    let mut candidates: Vec<(&'a Object, &'c Controller)> = ctx
        .model
        .gha()
        .filter(|c| c.healthy && c.covers(ns))
        .filter_map(|c| {
            let name = model::listener_name(ars, c.naming());
            let al = ctx
                .snap
                .autoscaling_listeners
                .get(Some(&c.namespace), &name)
                .found()?;
            (target(al) == Some((ns, ars.meta.name))).then_some((al, c))
        })
        .collect();
    candidates.sort_by_key(|(al, c)| {
        (
            common::can(ctx, &c.username(), "get", "", "secrets", ns) != Some(true),
            al.meta.is_deleting(),
            al.meta.creation_timestamp.unwrap_or("~"),
            al.meta.display(),
        )
    });
    candidates.into_iter().next()
}
