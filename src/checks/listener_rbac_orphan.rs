//! `ARC-LISTENER-RBAC-ORPHAN`: a listener Role/RoleBinding in a runner namespace whose listener
//! (labels `auto-scaling-listener-namespace`/`-name`) does not exist or whose namespace is gone,
//! and that no other listener of the same name wants (arc-domain §4.5).
//!
//! Classification is shared with `ARC-LISTENER-RBAC-COLLISION`
//! ([`super::listener_rbac_collision::classify`]), so a pair gets at most one of the two codes.

use crate::findings::{Finding, Severity};

use super::Ctx;
use super::listener_rbac_collision::{Pair, Verdict, classify, pairs};

const CODE: &str = "ARC-LISTENER-RBAC-ORPHAN";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    pairs(ctx)
        .iter()
        .filter_map(|p| match classify(ctx, p) {
            Verdict::Orphan { reason } => Some(finding(p, &reason)),
            _ => None,
        })
        .collect()
}

fn finding(pair: &Pair, reason: &str) -> Finding {
    let (r, l) = (pair.namespace, pair.name);
    let message = format!(
        "Listener {} {r}/{l} is left behind: {reason}, and no other listener of that name serves {r}. \
         Listener RBAC has no owner reference, so nothing garbage-collects it; it still lets ServiceAccount {l} \
         patch runners in {r} if that name is ever reused.",
        pair.kinds_text()
    );
    Finding::new(CODE, Severity::Low, message).objects(pair.refs()).remediation(format!(
        "Delete it (no finalizers): `kubectl delete {} {l} -n {r}` (or `kubectl arc orphans --fix`).",
        pair.kubectl_kinds()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{L, base, scenario};
    use crate::snapshot::Snapshot;
    use crate::testing;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    #[test]
    fn healthy_pair_is_not_orphan() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn pair_without_listener_is_orphan() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!("ARC-LISTENER-RBAC-ORPHAN Role arc-runners/{L}")]
        );
        assert_eq!(f[0].objects.len(), 2);
        assert_eq!(f[0].objects[1].kind, "RoleBinding");
        assert_eq!(f[0].severity, Severity::Low);
        assert!(f[0].message.contains("does not exist"));
        assert!(f[0].remediation[0].contains("kubectl delete role,rolebinding"));
    }

    #[test]
    fn lone_binding_whose_listener_namespace_is_gone_is_orphan() {
        let mut snap = base();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "AutoscalingListener"
                || o.meta.kind == "Role" && o.meta.name == L
                || o.meta.kind == "Namespace" && o.meta.name == "arc-systems"
        });
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-LISTENER-RBAC-ORPHAN RoleBinding arc-runners/{L}"
            )]
        );
        assert!(
            f[0].message.contains("no longer exists"),
            "{}",
            f[0].message
        );
        assert!(f[0].remediation[0].contains("delete rolebinding"));
    }

    #[test]
    fn unlisted_listeners_are_not_orphans() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        snap.autoscaling_listeners.scope =
            crate::snapshot::Scope::Namespaces(["arc-runners".to_owned()].into());
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn pair_wanted_by_a_listener_elsewhere_is_not_orphan() {
        // Labels point at a gone listener, but a listener of that name in another namespace
        // still serves arc-runners: that is a collision/mismatch question, not an orphan.
        let mut snap = base();
        let al = testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), L);
        al.meta.namespace = Some("arc-other");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn scenarios() {
        let expect: &[(&str, &[&str])] = &[
            ("B0", &[]),
            ("S1", &[]),
            ("S5", &[]),
            ("S8", &[]),
            ("S9", &[]),
            ("S12", &[]),
            ("S13", &[]),
            (
                "S17",
                &["ARC-LISTENER-RBAC-ORPHAN Role arc-runners/arc-runner-set-754b578d-listener"],
            ),
        ];
        for (id, want) in expect {
            let snap = scenario(id);
            assert_eq!(testing::codes(&run(&snap)), *want, "{id}");
        }
    }
}
