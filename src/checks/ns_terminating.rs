//! `ARC-NS-TERMINATING` – a namespace stuck Terminating because ARC objects inside still carry
//! finalizers that will not be removed (arc-domain §4.4, §8.4).
//!
//! For every Terminating namespace, the ARC objects in it with ARC finalizers (both generations)
//! are collected and each one's deletion is analysed with the stuck-deletion logic. Reported when
//! at least one of them cannot finish by itself; the namespace's `NamespaceFinalizersRemaining` /
//! `NamespaceContentRemaining` conditions are the evidence. A namespace whose ARC objects a live
//! controller is still processing is waiting, not stuck; one whose objects or controllers we could
//! not see stays unreported (ARC-NOT-CHECKED names the gap).

use crate::findings::{Finding, Severity};
use crate::model::{F_AL, F_ARS, F_CP, F_ER, F_ERS, F_LEG_LINKED, F_LEG_POD, F_LEG_RUNNER, F_REG};
use crate::snapshot::{Object, ObjectRef, Scope};

use super::Ctx;
use crate::facts::deletion::{Verdict, since};

/// Every finalizer string ARC (either generation) puts on objects.
pub(crate) const ARC_FINALIZERS: [&str; 9] = [
    F_ARS,
    F_AL,
    F_ERS,
    F_ER,
    F_REG,
    F_CP,
    F_LEG_RUNNER,
    F_LEG_POD,
    F_LEG_LINKED,
];

/// The ARC finalizers an object carries.
pub(crate) fn arc_finalizers(o: &Object) -> Vec<&str> {
    o.meta
        .finalizers
        .iter()
        .copied()
        .filter(|f| ARC_FINALIZERS.contains(f))
        .collect()
}

/// Bottom-up resolution order (arc-domain §5.5).
fn rank(kind: &str) -> u8 {
    match kind {
        "EphemeralRunner" => 0,
        "EphemeralRunnerSet" => 1,
        "AutoscalingListener" => 2,
        "AutoscalingRunnerSet" => 3,
        "Secret" | "Role" | "RoleBinding" | "ServiceAccount" => 4,
        _ => 5,
    }
}

/// The finding code that covers one blocking object.
fn code_for(o: &Object) -> &'static str {
    match o.meta.kind {
        "EphemeralRunner" => "ARC-STUCK-ER",
        "EphemeralRunnerSet" => "ARC-STUCK-ERS",
        "AutoscalingListener" => "ARC-STUCK-LISTENER",
        "AutoscalingRunnerSet" => "ARC-STUCK-ARS",
        "Runner" => "LEG-STUCK-RUNNER",
        "Pod" => "LEG-STUCK-POD",
        _ => "ARC-STUCK-PROTECTED",
    }
}

/// The first cause of a stuck verdict (None when waiting or undecidable).
fn why_stuck(v: Option<Verdict>) -> Option<String> {
    match v {
        Some(Verdict::Stuck(b)) => b.first().map(|b| b.cause.to_string()),
        _ => None,
    }
}

/// Why this object's ARC finalizers will not go away by themselves, and which finding code covers
/// it. None when a live controller is processing it (or will once the namespace deletion reaches
/// it) — and when we cannot tell, because what would decide it was not visible.
fn blocked(ctx: &Ctx, o: &Object) -> Option<(String, &'static str)> {
    let code = code_for(o);
    let why = match o.meta.kind {
        "AutoscalingRunnerSet" => why_stuck(ctx.deletion(o)),
        "AutoscalingListener" => why_stuck(ctx.deletion(o)),
        "EphemeralRunnerSet" => why_stuck(ctx.deletion(o)),
        "EphemeralRunner" => why_stuck(ctx.deletion(o)),
        _ if arc_finalizers(o) == [F_CP] => match crate::facts::protected::owner_ars(ctx, o) {
            Some(ars) => {
                let why = why_stuck(ctx.deletion(ars))?;
                let text = format!(
                    "waits for AutoscalingRunnerSet {} to release it, whose deletion cannot \
                     finish ({why})",
                    ars.meta.display()
                );
                return Some((text, "ARC-STUCK-ARS"));
            }
            None => ctx
                .snap
                .autoscaling_runner_sets
                .scope
                .covers(Some(o.meta.ns()))
                .then(|| "no scale set will ever release it".to_owned()),
        },
        _ => {
            let ns = o.meta.ns();
            let legacy_live = ctx.model.legacy().any(|c| c.healthy && c.covers(ns));
            let all_listed = ctx.snap.deployments.scope == Scope::All;
            (!legacy_live && all_listed)
                .then(|| "no live legacy controller processes it".to_owned())
        }
    };
    why.map(|w| (w, code))
}

/// Condition messages of a namespace that explain what it waits for.
fn conditions(ns: &Object) -> Vec<String> {
    ns.array("/status/conditions")
        .iter()
        .filter(|c| {
            matches!(
                c["type"].as_str(),
                Some("NamespaceFinalizersRemaining" | "NamespaceContentRemaining")
            ) && c["status"].as_str() != Some("False")
        })
        .map(|c| {
            format!(
                "{}: {}",
                c["type"].as_str().unwrap_or(""),
                c["message"].as_str().unwrap_or("").trim()
            )
        })
        .collect()
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .namespaces
        .iter()
        .filter(|n| ctx.snap.namespace_terminating(n.meta.name))
        .filter_map(|n| finding(ctx, n))
        .collect()
}

fn finding(ctx: &Ctx, ns: &Object) -> Option<Finding> {
    let name = ns.meta.name;
    let mut holders: Vec<&Object> = ctx
        .snap
        .collections()
        .into_iter()
        .flat_map(|(_, c)| c.in_namespace(name))
        .filter(|o| !arc_finalizers(o).is_empty())
        .collect();
    holders.sort_by(|a, b| {
        rank(a.meta.kind)
            .cmp(&rank(b.meta.kind))
            .then_with(|| a.meta.obj_ref().cmp(&b.meta.obj_ref()))
    });
    let stuck: Vec<(&Object, (String, &str))> = holders
        .iter()
        .filter_map(|o| blocked(ctx, o).map(|why| (*o, why)))
        .collect();
    if stuck.is_empty() {
        return None;
    }
    let parts: Vec<String> = stuck
        .iter()
        .map(|(o, (why, code))| {
            format!(
                "{} {} [{}] — {why} (see {code})",
                o.meta.kind,
                o.meta.display(),
                arc_finalizers(o).join(", ")
            )
        })
        .collect();
    let message = format!(
        "Namespace {name} has been Terminating{} and cannot finish: {} ARC object(s) in it still \
         carry finalizers that no controller will remove: {}.",
        since(ns),
        stuck.len(),
        parts.join("; ")
    );
    let mut f = Finding::new("ARC-NS-TERMINATING", Severity::Critical, message)
        .object(ObjectRef::cluster("Namespace", name))
        .objects(stuck.iter().map(|(o, _)| o.meta.obj_ref()))
        .objects(holders.iter().map(|o| o.meta.obj_ref()))
        .remediation(
            "Resolve the objects above bottom-up — EphemeralRunners, EphemeralRunnerSets, \
             AutoscalingListeners, AutoscalingRunnerSets, then chart objects — following their \
             own findings; `kubectl arc orphans --fix` performs the permitted steps in that order.",
        )
        .remediation(format!(
            "Never force the namespace through the /finalize subresource (or remove its \
             `kubernetes` finalizer): the objects would stay stranded in etcd and reappear if \
             {name} is recreated."
        ));
    for c in conditions(ns) {
        f = f.evidence(c);
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Collection;
    use crate::testing;
    use serde_json::json;

    #[test]
    fn s1_old_controller_namespace_blocked_by_listener() {
        let snap = testing::scenario("S1");
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-NS-TERMINATING Namespace arc-systems"]
        );
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].objects[1].kind, "AutoscalingListener");
    }

    #[test]
    fn terminating_namespace_with_processable_deletion_is_silent() {
        let mut snap = testing::scenario("B0");
        let n = testing::get_mut(&mut snap, "Namespace", None, "arc-runners");
        n.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        n.body["status"] = json!({"phase": "Terminating"}).into();
        let f = check(&Ctx::new(&snap));
        assert!(f.is_empty(), "{:?}", testing::codes(&f));
        // Without a controller, the same namespace is stuck on the ARC finalizers.
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-NS-TERMINATING Namespace arc-runners"]
        );
        assert_eq!(f[0].objects[1].kind, "EphemeralRunner");
    }

    #[test]
    fn undecidable_from_a_namespace_scoped_view() {
        // S1 seen by a user who can only list arc-systems: the controller could run elsewhere.
        let mut snap = testing::scenario("S1");
        for kind in ["Deployment", "Pod", "Role", "RoleBinding"] {
            let c = snap.collection_mut(kind).expect("known kind");
            c.items.retain(|o| o.meta.ns() == "arc-systems");
            c.scope = Scope::Namespaces(["arc-systems".to_owned()].into());
        }
        snap.cluster_role_bindings = Collection::default();
        let f = check(&Ctx::new(&snap));
        assert!(f.is_empty(), "{:?}", testing::codes(&f));
    }

    #[test]
    fn conditions_are_evidence() {
        let snap = testing::scenario("S1");
        let f = check(&Ctx::new(&snap));
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.starts_with("NamespaceFinalizersRemaining"))
        );
    }
}
