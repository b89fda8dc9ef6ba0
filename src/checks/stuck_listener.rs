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
use crate::model::F_AL;
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::deletion::{Blocked, CauseKind, Verdict, describe, since, with_cause_evidence};

#[allow(unused_imports)]
use crate::facts::listener::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| al.meta.is_deleting())
        .filter_map(|al| match ctx.deletion(al)? {
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
            .deletion_timestamp = Some("2026-07-01T10:00:00Z");
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
