//! `ARC-STUCK-LISTENER` – an AutoscalingListener with a deletionTimestamp and
//! `autoscalinglistener.actions.github.com/finalizer` that no live controller can finish
//! (arc-domain §3 step 2, §4.4).
//!
//! The listener reconciler deletes the listener Pod, `L-config`, `L-proxy` and SA `L` in the
//! listener namespace and Role/RoleBinding `L` in the runner namespace R, then removes the
//! finalizer. Secrets are not cached, so it always needs a live `get secrets` in the listener
//! namespace; the other children need `delete` only while they exist. A deleted R is not a blocker
//! (NotFound is tolerated). Stuck when no live controller covers the listener namespace, its
//! ServiceAccount lacks those permissions (typically a listener left in an old controller
//! namespace), or the listener pod is stuck Terminating on a node that no longer exists.

use crate::findings::{Finding, Fix, Severity};
use crate::model::{self, F_AL, L_LISTENER_NAME, L_LISTENER_NS};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use super::common::CleanupPath;
use super::deletion::{
    Blocked, CauseKind, Perm, Verdict, describe, gate, lost_terminating_pod, perms, since, stuck,
    with_cause_evidence,
};

const STEP: &str = "clean up the listener's pod, secrets, service account and Role/RoleBinding";

/// The runner namespace of a listener unless it is known to be gone.
fn runner_namespace<'a>(ctx: &Ctx, al: &'a Object) -> Option<&'a str> {
    let (r, _) = model::listener_target(al)?;
    (ctx.snap.namespace_exists(r) != Some(false)).then_some(r)
}

/// Is a listener Role/RoleBinding in R labelled for this very listener?
fn labelled_for(o: &Object, al: &Object) -> bool {
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
    let l = al.meta.name.as_str();
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
fn needed<'a>(ctx: &Ctx, al: &'a Object, r: Option<&'a str>) -> Vec<Perm<'a>> {
    let snap = ctx.snap;
    let n = al.meta.ns();
    let l = al.meta.name.as_str();
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
    let lost = lost_terminating_pod(ctx, n, &al.meta.name, al).map(|cause| stuck(STEP, cause));
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

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| al.meta.is_deleting())
        .filter_map(|al| match classify(ctx, al)? {
            Verdict::Stuck(blocked) => Some(finding(ctx, al, &blocked)),
            _ => None,
        })
        .collect()
}

fn finding(ctx: &Ctx, al: &Object, blocked: &[Blocked]) -> Finding {
    let n = al.meta.ns();
    let terminating = ctx.snap.namespace_terminating(n);
    let ns_missing = ctx.snap.namespace_exists(n) == Some(false);
    let severity = if terminating {
        Severity::Critical
    } else {
        Severity::High
    };
    let mut message = format!(
        "AutoscalingListener {} has been deleting{} and cannot finish: {}.",
        al.meta.display(),
        since(al),
        describe(al, blocked)
    );
    if !ctx.model.live_controller_namespaces().contains(&n) {
        message.push_str(&format!(
            " {n} is not the namespace of any live controller: this listener is left over from a \
             previous controller install."
        ));
    }
    if terminating {
        message.push_str(&format!(" Namespace {n} is Terminating and waits for it."));
    }
    if ns_missing {
        message.push_str(&format!(
            " Namespace {n} no longer exists: the listener is stranded in storage (it can be read \
             and deleted, but not patched)."
        ));
    }
    let left = leftovers(ctx, al);
    let mut f = Finding::new("ARC-STUCK-LISTENER", severity, message)
        .object(al.meta.obj_ref())
        .objects(left.iter().cloned());
    if ns_missing {
        f = f.fix(Fix::Confirm).remediation(format!(
            "Namespace {n} is gone, so the finalizer cannot be removed in place: recreate it \
             (`kubectl create namespace {n}`), continue with the steps below, then `kubectl delete \
             namespace {n}` again."
        ));
    }
    for b in blocked {
        if let CauseKind::PodLost { .. } | CauseKind::Controller(_) = b.cause.kind {
            for r in b.cause.remediation() {
                f = f.remediation(r);
            }
        }
    }
    f = if left.is_empty() {
        f.remediation(format!(
            "Its pod, config/proxy Secrets, ServiceAccount and Role/RoleBinding are already gone; \
             the finalizer guards only Kubernetes objects (no GitHub state), so `kubectl arc \
             orphans --fix` can strip {F_AL} from it."
        ))
    } else {
        let list: Vec<String> = left.iter().map(ToString::to_string).collect();
        f.remediation(format!(
            "Delete its leftover children yourself (`kubectl arc orphans --fix` does this): {}.",
            list.join(", ")
        ))
        .remediation(format!(
            "Then strip {F_AL} from AutoscalingListener {} (`kubectl arc orphans --fix`) — or let \
             a live controller with access remove it by itself.",
            al.meta.display()
        ))
    };
    with_cause_evidence(f, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;
    use crate::testing;

    const L: &str = "arc-runner-set-85f786b5-listener";

    fn delete_al(snap: &mut Snapshot) {
        testing::get_mut(snap, "AutoscalingListener", Some("arc-systems"), L)
            .meta
            .deletion_timestamp = Some("2026-07-01T10:00:00Z".to_owned());
    }

    #[test]
    fn b0_listener_deletion_is_processable() {
        let mut snap = testing::scenario("B0");
        assert!(check(&Ctx::new(&snap)).is_empty());
        delete_al(&mut snap);
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty(), "{:?}", testing::codes(&check(&ctx)));
    }

    #[test]
    fn s1_old_listener_is_stuck_and_critical() {
        let snap = testing::scenario("S1");
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec![format!(
                "ARC-STUCK-LISTENER AutoscalingListener arc-systems/{L}"
            )]
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].message.contains("not allowed"), "{}", f[0].message);
        assert_eq!(f[0].fix, Fix::Auto);
    }

    #[test]
    fn no_controller_is_stuck_high_and_lists_leftovers() {
        let mut snap = testing::scenario("B0");
        delete_al(&mut snap);
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].objects.iter().any(|o| o.kind == "Pod"));
        assert!(f[0].objects.iter().any(|o| o.kind == "RoleBinding"));
    }

    #[test]
    fn stranded_in_missing_namespace_needs_confirmation() {
        let mut snap = testing::scenario("S1");
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Namespace" && o.meta.name == "arc-systems"
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(f[0].fix, Fix::Confirm);
        assert!(f[0].remediation[0].contains("kubectl create namespace arc-systems"));
    }
}
