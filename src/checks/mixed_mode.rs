//! `MIXED-MODE` (stub: to be implemented).

use crate::findings::Finding;

use super::Ctx;

pub fn check(_ctx: &Ctx) -> Vec<Finding> {
    Vec::new()
}
