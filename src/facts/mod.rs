//! Facts derived once from a [`Snapshot`], below the checks and the repair plan.
//!
//! Which controller is live for a namespace ([`Model`]), whether a finalizer is stranded or a
//! live controller can process it ([`common::assess`]), which step of the controller's deletion
//! sequence is the first unmet one ([`deletion::Verdict`], memoised per object by
//! [`Ctx::deletion`]), and which Secret/ConfigMap an object references ([`secret_refs`],
//! [`aux_refs`]). Checks (`crate::checks`) and the plan (`crate::plan`) read these; they never call
//! each other. Everything here is pure.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::model::Model;
use crate::snapshot::{Object, Snapshot};

pub mod ars;
pub mod aux_refs;
pub mod common;
pub mod crd_skew;
pub mod deletion;
pub mod er;
pub mod ers;
pub mod keeper;
pub mod listener;
pub mod listeners;
pub mod protected;
pub mod secret_refs;
pub mod shared_id;

use deletion::Verdict;

/// What every check and the plan see: the snapshot and the facts derived from it.
pub struct Ctx<'a> {
    pub snap: &'a Snapshot,
    pub model: Model,
    /// Deletion verdicts by object UID (or kind/ns/name when the UID is empty), computed on first
    /// use and shared by every reader.
    verdicts: RefCell<HashMap<String, Option<Verdict>>>,
}

impl<'a> Ctx<'a> {
    pub fn new(snap: &'a Snapshot) -> Ctx<'a> {
        Ctx {
            snap,
            model: Model::build(snap),
            verdicts: RefCell::new(HashMap::new()),
        }
    }

    /// The deletion verdict of an ARC object (ARS, AL, ERS, ER): can a live, authorised,
    /// version-compatible controller finish it (`Waiting`), is it stranded (`Stuck`, first unmet
    /// step first), or can we not tell (`Unknown`)? `None` for objects without the finalizer the
    /// analysis is about. Valid for objects about to be deleted too (what would happen).
    pub(crate) fn deletion(&self, obj: &Object) -> Option<Verdict> {
        let key = if obj.meta.uid.is_empty() {
            format!("{}/{}/{}", obj.meta.kind, obj.meta.ns(), obj.meta.name)
        } else {
            obj.meta.uid.to_owned()
        };
        if let Some(v) = self.verdicts.borrow().get(&key) {
            return v.clone();
        }
        let v = match obj.meta.kind {
            "AutoscalingRunnerSet" => ars::classify(self, obj),
            "AutoscalingListener" => listener::classify(self, obj),
            "EphemeralRunnerSet" => ers::classify(self, obj),
            "EphemeralRunner" => er::classify(self, obj),
            _ => None,
        };
        self.verdicts.borrow_mut().insert(key, v.clone());
        v
    }
}
