//! `ARC-CRD-SKEW` (stub: to be implemented).

use crate::findings::Finding;

use super::Ctx;

pub fn check(_ctx: &Ctx) -> Vec<Finding> {
    Vec::new()
}

/// When the controller's informers cannot sync because of CRD skew, why (used by
/// `common::assess` to mark finalizers as stranded).
pub fn blocking_skew(_ctx: &Ctx, _controller: &crate::model::Controller) -> Option<String> {
    None
}
