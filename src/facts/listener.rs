//! Deletion analysis of an AutoscalingListener (arc-domain §3 step 2, listener reconciler).
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{self, F_AL, L_LISTENER_NAME, L_LISTENER_NS};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use super::common::CleanupPath;
use super::deletion::{Perm, Verdict, gate, lost_terminating_pod, perms, stuck};

pub(crate) const STEP: &str =
    "clean up the listener's pod, secrets, service account and Role/RoleBinding";

/// The runner namespace of a listener unless it is known to be gone.
pub(crate) fn runner_namespace<'a>(ctx: &Ctx, al: &'a Object) -> Option<&'a str> {
    let (r, _) = model::listener_target(al)?;
    (ctx.snap.namespace_exists(r) != Some(false)).then_some(r)
}

/// Is a listener Role/RoleBinding in R labelled for this very listener?
pub(crate) fn labelled_for(o: &Object, al: &Object) -> bool {
    o.meta.label(L_LISTENER_NS) == Some(al.meta.ns())
        && o.meta
            .label(L_LISTENER_NAME)
            .is_none_or(|n| n == al.meta.name)
}

/// Children of a listener that still exist, as object references (Role/RoleBinding in R only
/// when labelled for this listener).
pub(crate) fn leftovers(ctx: &Ctx, al: &Object) -> Vec<ObjectRef> {
    let snap = ctx.snap;
    let n = al.meta.ns();
    let l = al.meta.name;
    let mut out = Vec::new();
    if snap.pods.get(Some(n), l).found().is_some() {
        out.push(ObjectRef::namespaced("Pod", n, l));
    }
    for name in [format!("{l}-config"), format!("{l}-proxy"), l.to_owned()] {
        if snap.secrets.get(Some(n), &name).found().is_some() {
            out.push(ObjectRef::namespaced("Secret", n, &name));
        }
    }
    if snap.service_accounts.get(Some(n), l).found().is_some() {
        out.push(ObjectRef::namespaced("ServiceAccount", n, l));
    }
    if let Some(r) = runner_namespace(ctx, al) {
        for (kind, c) in [("Role", &snap.roles), ("RoleBinding", &snap.role_bindings)] {
            if let Lookup::Found(o) = c.get(Some(r), l)
                && labelled_for(o, al)
            {
                out.push(ObjectRef::namespaced(kind, r, l));
            }
        }
    }
    out
}

/// The permissions the cleanup still needs, given which children may still exist.
pub(crate) fn needed<'a>(ctx: &Ctx, al: &'a Object, r: Option<&'a str>) -> Vec<Perm<'a>> {
    let snap = ctx.snap;
    let n = al.meta.ns();
    let l = al.meta.name;
    let may_exist = |lookup: Lookup| !lookup.is_missing();
    let mut need: Vec<Perm> = vec![("get", "", "secrets", n)];
    if may_exist(snap.pods.get(Some(n), l)) {
        need.push(("delete", "", "pods", n));
    }
    let secrets = [format!("{l}-config"), format!("{l}-proxy")];
    if secrets
        .iter()
        .any(|s| may_exist(snap.secrets.get(Some(n), s)))
    {
        need.push(("delete", "", "secrets", n));
    }
    if may_exist(snap.service_accounts.get(Some(n), l)) {
        need.push(("delete", "", "serviceaccounts", n));
    }
    if let Some(r) = r {
        if may_exist(snap.roles.get(Some(r), l)) {
            need.push(("delete", "rbac.authorization.k8s.io", "roles", r));
        }
        if may_exist(snap.role_bindings.get(Some(r), l)) {
            need.push(("delete", "rbac.authorization.k8s.io", "rolebindings", r));
        }
    }
    need
}

/// Analyse a listener deletion (also used for a listener the ARS deletion is about to delete).
/// None when it carries no listener finalizer.
pub(crate) fn classify(ctx: &Ctx, al: &Object) -> Option<Verdict> {
    if !al.meta.has_finalizer(F_AL) {
        return None;
    }
    let r = runner_namespace(ctx, al);
    let c = match gate(ctx, al, CleanupPath::Listener { ars_namespace: r }, STEP) {
        Ok(c) => c,
        Err(v) => return Some(v),
    };
    let n = al.meta.ns();
    let lost = lost_terminating_pod(ctx, n, al.meta.name, al).map(|cause| stuck(STEP, cause));
    let waiting = || {
        Verdict::Waiting(vec![format!(
            "listener {} to be cleaned up",
            al.meta.display()
        )])
    };
    Some(Verdict::combine(vec![
        perms(ctx, c, al, STEP, &needed(ctx, al, r)),
        lost.unwrap_or_else(waiting),
    ]))
}
