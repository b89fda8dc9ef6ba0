//! `ARC-LISTENER-DRIFT`: a listener points at objects that no longer exist (arc-domain §4.5).
//!
//! For every non-deleting AutoscalingListener whose AutoscalingRunnerSet exists:
//! * `spec.ephemeralRunnerSetName` names no EphemeralRunnerSet in the ARS namespace (#4561, #4489);
//! * `spec.runnerScaleSetId` differs from the ARS annotation `runner-scale-set-id` (#4322);
//! * its Role in the ARS namespace (labelled for this listener) grants `patch` on
//!   `ephemeralrunnersets` for names that do not exist, or not for the listener's own ERS.
//!
//! One finding per listener, listing every drift found.

use crate::node::Node;

use crate::findings::{Finding, Fix, Severity};
use crate::model::{self, L_LISTENER_NAME, L_LISTENER_NS};
use crate::snapshot::{Lookup, Object};

use super::Ctx;
use crate::facts::listeners::{listener_scale_set_id, target_ars};

const CODE: &str = "ARC-LISTENER-DRIFT";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| !al.meta.is_deleting())
        .filter_map(|al| match target_ars(ctx.snap, al) {
            Lookup::Found(ars) => drift(ctx, al, ars),
            _ => None,
        })
        .collect()
}

fn drift(ctx: &Ctx, al: &Object, ars: &Object) -> Option<Finding> {
    let mut problems = Vec::new();
    let mut role = None;
    if let Some(p) = missing_ers(ctx, al, ars) {
        problems.push(p);
    }
    if let Some(p) = id_mismatch(al, ars) {
        problems.push(p);
    }
    if let Some((r, p)) = role_drift(ctx, al, ars) {
        role = Some(r);
        problems.push(p);
    }
    if problems.is_empty() {
        return None;
    }
    let message = format!(
        "AutoscalingListener {} (for AutoscalingRunnerSet {}) is out of date: {}. The listener cannot scale \
         its runners and typically crash-loops until it is recreated.",
        al.meta.display(),
        ars.meta.display(),
        problems.join("; ")
    );
    let f = Finding::new(CODE, Severity::High, message)
        .object(al.meta.obj_ref())
        .object(ars.meta.obj_ref())
        .objects(role.map(|r: &Object| r.meta.obj_ref()));
    let (ns, name) = (al.meta.ns(), &al.meta.name);
    Some(if ctx.model.live_for(ars.meta.ns()).next().is_some() {
        f.remediation(format!(
            "Delete the listener so the controller recreates it from the current scale set: \
             `kubectl delete autoscalinglistener {name} -n {ns}` (or `kubectl arc orphans --fix`)."
        ))
        .remediation(format!(
            "Verify the new listener: `kubectl get autoscalinglistener -n {ns} -o wide` and its pod logs."
        ))
    } else {
        f.fix(Fix::Manual)
            .remediation(format!(
                "No live controller covers {}: restore the controller first (see ARC-NO-CONTROLLER / ARC-OUT-OF-SCOPE); \
                 deleting the listener now would leave nobody to recreate it.",
                ars.meta.ns()
            ))
            .remediation(format!("Then delete the listener: `kubectl delete autoscalinglistener {name} -n {ns}`."))
    })
}

/// `spec.ephemeralRunnerSetName` names no ERS in the ARS namespace.
fn missing_ers(ctx: &Ctx, al: &Object, ars: &Object) -> Option<String> {
    let ers = al.str("/spec/ephemeralRunnerSetName")?;
    ctx.snap
        .ephemeral_runner_sets
        .get(Some(ars.meta.ns()), ers)
        .is_missing()
        .then(|| {
            format!(
                "its EphemeralRunnerSet {}/{ers} does not exist",
                ars.meta.ns()
            )
        })
}

/// `spec.runnerScaleSetId` differs from the ARS annotation (both present).
fn id_mismatch(al: &Object, ars: &Object) -> Option<String> {
    let mine = listener_scale_set_id(al)?;
    let theirs = model::scale_set_id(ars)?;
    (mine != theirs).then(|| {
        format!("it uses scale set ID {mine} but the scale set is registered as {theirs} (annotation runner-scale-set-id)")
    })
}

/// The listener's Role in the ARS namespace, when it is labelled for this listener.
fn own_role<'a>(ctx: &Ctx<'a>, al: &Object, ars: &Object) -> Option<&'a Object> {
    let role = ctx
        .snap
        .roles
        .get(Some(ars.meta.ns()), al.meta.name)
        .found()?;
    let labelled_ns = role.meta.label(L_LISTENER_NS);
    let labelled_name = role.meta.label(L_LISTENER_NAME);
    (labelled_ns.is_none_or(|n| n == al.meta.ns())
        && labelled_name.is_none_or(|n| n == al.meta.name))
    .then_some(role)
}

/// `resourceNames` of the Role's `ephemeralrunnersets` rules.
fn ers_resource_names(role: &Object) -> Vec<&str> {
    role.array("/rules")
        .iter()
        .filter(|r| {
            r["resources"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|x| x == "ephemeralrunnersets"))
        })
        .flat_map(|r| r["resourceNames"].as_array().unwrap_or(&[]))
        .filter_map(Node::as_str)
        .collect()
}

/// The Role grants patch on ERS names that do not exist, or not on the listener's own ERS.
fn role_drift<'a>(ctx: &Ctx<'a>, al: &Object, ars: &Object) -> Option<(&'a Object, String)> {
    let role = own_role(ctx, al, ars)?;
    let names = ers_resource_names(role);
    if names.is_empty() {
        return None;
    }
    let ns = ars.meta.ns();
    let runner_sets = &ctx.snap.ephemeral_runner_sets;
    let gone: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| runner_sets.get(Some(ns), n).is_missing())
        .collect();
    let own = al
        .str("/spec/ephemeralRunnerSetName")
        .filter(|e| runner_sets.get(Some(ns), e).found().is_some());
    let mut parts = Vec::new();
    if !gone.is_empty() {
        parts.push(format!(
            "grants patch on EphemeralRunnerSet(s) that do not exist ({})",
            gone.join(", ")
        ));
    }
    if let Some(e) = own.filter(|e| !names.contains(e)) {
        parts.push(format!(
            "does not grant patch on its EphemeralRunnerSet {e}"
        ));
    }
    (!parts.is_empty()).then(|| {
        (
            role,
            format!("its Role {} {}", role.meta.display(), parts.join(" and ")),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{L, base, scenario};
    use crate::snapshot::Snapshot;
    use crate::testing;
    use serde_json::json;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    fn set_ers(snap: &mut Snapshot, ers: &str) {
        let al = testing::get_mut(snap, "AutoscalingListener", Some("arc-systems"), L);
        al.body["spec"]["ephemeralRunnerSetName"] = json!(ers).into();
    }

    #[test]
    fn consistent_listener_has_no_drift() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn missing_ers_is_drift() {
        let mut snap = base();
        set_ers(&mut snap, "arc-runner-set-9qd2m");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-LISTENER-DRIFT AutoscalingListener arc-systems/{L}"
            )]
        );
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].message.contains("arc-runner-set-9qd2m"));
        // The Role still grants the existing ERS, and the listener's own ERS is gone: no role drift.
        assert!(!f[0].message.contains("Role"), "{}", f[0].message);
        assert_eq!(f[0].fix, Fix::Auto);
    }

    #[test]
    fn scale_set_id_mismatch_is_drift() {
        let mut snap = base();
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.annotations.insert("runner-scale-set-id", "43");
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("scale set ID 42") && f[0].message.contains("43"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn missing_annotation_is_not_a_mismatch() {
        let mut snap = base();
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.annotations.remove("runner-scale-set-id");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn role_naming_a_gone_ers_is_drift() {
        let mut snap = base();
        let role = testing::get_mut(&mut snap, "Role", Some("arc-runners"), L);
        role.body["rules"][0]["resourceNames"] = json!(["arc-runner-set-old12"]).into();
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert!(f[0].objects.iter().any(|o| o.kind == "Role"));
        assert!(f[0].message.contains("arc-runner-set-old12"));
        assert!(
            f[0].message
                .contains("does not grant patch on its EphemeralRunnerSet arc-runner-set-x7k2p")
        );
    }

    #[test]
    fn role_labelled_for_another_listener_is_not_ours() {
        let mut snap = base();
        let role = testing::get_mut(&mut snap, "Role", Some("arc-runners"), L);
        role.body["rules"][0]["resourceNames"] = json!(["arc-runner-set-old12"]).into();
        role.meta
            .labels
            .insert("auto-scaling-listener-namespace", "arc-controller");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn deleting_listener_or_missing_ars_is_skipped() {
        let mut snap = base();
        set_ers(&mut snap, "gone");
        testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), L)
            .meta
            .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(run(&snap).is_empty());
        let mut snap = base();
        set_ers(&mut snap, "gone");
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn unlisted_runner_sets_are_not_drift() {
        let mut snap = base();
        set_ers(&mut snap, "gone");
        snap.ephemeral_runner_sets.scope = crate::snapshot::Scope::None;
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn without_live_controller_fix_is_manual() {
        let mut snap = base();
        set_ers(&mut snap, "gone");
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fix, Fix::Manual);
    }

    #[test]
    fn scenarios() {
        let expect: &[(&str, &[&str])] = &[
            ("B0", &[]),
            ("S1", &[]),
            (
                "S5",
                &[
                    "ARC-LISTENER-DRIFT AutoscalingListener arc-systems/arc-runner-set-754b578d-listener",
                ],
            ),
            ("S8", &[]),
            ("S9", &[]),
            ("S17", &[]),
        ];
        for (id, want) in expect {
            let snap = scenario(id);
            assert_eq!(testing::codes(&run(&snap)), *want, "{id}");
        }
    }
}
