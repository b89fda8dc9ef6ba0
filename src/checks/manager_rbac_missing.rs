//! `ARC-MANAGER-RBAC-MISSING`: a live (not deleting) AutoscalingRunnerSet whose manager Role or
//! RoleBinding — named by `actions.github.com/cleanup-manager-role-name` /
//! `actions.github.com/cleanup-manager-role-binding` — is gone or being deleted (arc-domain
//! §4.2). Typical after a GitOps prune or Argo CD app deletion that removed chart objects
//! independently of the ARS (#3440, #3512). While `cleanup-protection` holds a terminating
//! object the controller still has access; once it is released (or the object is gone) the
//! controller can no longer read the GitHub secret or create runners in the namespace.
//! One finding per ARS: [ARS, the Role/RoleBinding concerned].

use crate::findings::{Finding, Severity};
use crate::model::{A_CLEANUP_MANAGER_RB, A_CLEANUP_MANAGER_ROLE, F_CP, L_VERSION};
use crate::snapshot::{Collection, Lookup, Object, ObjectRef};

use super::Ctx;
use crate::model::{SCALE_SET_CHART, release_of};

const CODE: &str = "ARC-MANAGER-RBAC-MISSING";

/// State of one named manager object.
enum State {
    Missing,
    Terminating { protected: bool },
}

fn state(c: &Collection, ns: &str, name: &str) -> Option<State> {
    match c.get(Some(ns), name) {
        Lookup::Missing => Some(State::Missing),
        Lookup::Found(o) if o.meta.is_deleting() => Some(State::Terminating {
            protected: o.meta.has_finalizer(F_CP),
        }),
        _ => None,
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_runner_sets
        .iter()
        .filter(|a| !a.meta.is_deleting())
        .filter_map(|a| finding_for(ctx, a))
        .collect()
}

fn finding_for(ctx: &Ctx, ars: &Object) -> Option<Finding> {
    let ns = ars.meta.ns();
    let named = [
        ("Role", A_CLEANUP_MANAGER_ROLE, &ctx.snap.roles),
        ("RoleBinding", A_CLEANUP_MANAGER_RB, &ctx.snap.role_bindings),
    ];
    let problems: Vec<(ObjectRef, State)> = named
        .iter()
        .filter_map(|(kind, key, coll)| {
            let name = ars.meta.annotation(key)?;
            Some((
                ObjectRef::namespaced(kind, ns, name),
                state(coll, ns, name)?,
            ))
        })
        .collect();
    if problems.is_empty() {
        return None;
    }
    let parts: Vec<String> = problems
        .iter()
        .map(|(r, s)| match s {
            State::Missing => format!("{} {} does not exist", r.kind, r.name),
            State::Terminating { protected: true } => format!(
                "{} {} is being deleted (held only by actions.github.com/cleanup-protection)",
                r.kind, r.name
            ),
            State::Terminating { protected: false } => {
                format!("{} {} is being deleted", r.kind, r.name)
            }
        })
        .collect();
    let gone = problems.iter().any(|(_, s)| matches!(s, State::Missing));
    let effect = if gone {
        "The controller has already lost access to the GitHub secret, runner pods and listener RBAC in this namespace"
    } else {
        "The controller keeps access only until that finalizer is released, then loses the GitHub secret, runner pods and listener RBAC in this namespace"
    };
    let message = format!(
        "AutoscalingRunnerSet {} is live, but its manager RBAC is going: {}. {effect}. Likely cause: a GitOps prune or app deletion removed chart objects independently of the scale set.",
        ars.meta.display(),
        parts.join("; ")
    );
    let release = release_of(ars);
    let version = ars
        .meta
        .label(L_VERSION)
        .map(|v| format!(" --version {v}"))
        .unwrap_or_default();
    let mut f = Finding::new(CODE, Severity::High, message)
        .object(ars.meta.obj_ref())
        .objects(problems.iter().map(|(r, _)| r.clone()));
    for (r, _) in &problems {
        f = f.evidence(format!("ARS annotation names {} {}/{}", r.kind, ns, r.name));
    }
    if !gone {
        f = f.remediation("Stop whatever is deleting the chart objects (GitOps prune / app deletion) and do not remove cleanup-protection while the scale set lives; once the terminating objects are gone, re-sync the release.");
    }
    Some(
        f.remediation(format!(
            "Re-sync the scale-set release so the manager Role/RoleBinding are recreated: `helm upgrade {release} -n {ns} {SCALE_SET_CHART}{version} --reuse-values` (or sync the GitOps application)."
        ))
        .remediation("Never strip the scale set's finalizer while it lives."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn pruned_binding_is_high_with_ars_primary() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| {
            o.meta.kind == "RoleBinding" && o.meta.name == "arc-runner-set-gha-rs-manager"
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].objects[0],
            ObjectRef::namespaced("AutoscalingRunnerSet", "arc-runners", "arc-runner-set")
        );
        assert_eq!(
            f[0].objects[1],
            ObjectRef::namespaced(
                "RoleBinding",
                "arc-runners",
                "arc-runner-set-gha-rs-manager"
            )
        );
    }

    #[test]
    fn terminating_role_is_reported_but_deleting_ars_is_not() {
        let mut snap = testing::scenario("B0");
        testing::get_mut(
            &mut snap,
            "Role",
            Some("arc-runners"),
            "arc-runner-set-gha-rs-manager",
        )
        .meta
        .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert_eq!(check(&Ctx::new(&snap)).len(), 1);
        testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        )
        .meta
        .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn unlisted_roles_are_unknown() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| o.meta.kind == "Role");
        snap.roles.scope = crate::snapshot::Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
