//! `ARC-STUCK-PROTECTED` – Helm-rendered scale-set objects (Secret, Role, RoleBinding,
//! ServiceAccount) with a deletionTimestamp held by `actions.github.com/cleanup-protection` that
//! nobody will release (arc-domain §1.6, §3 step 5, §4.4).
//!
//! The ARS reconciler releases exactly the objects named in its `actions.github.com/cleanup-*`
//! annotations, as the last step of the ARS deletion. The naming ARS is found by annotation
//! first, by the `actions.github.com/scale-set-name` label second. Reported when no ARS names the
//! object (ARS gone, finalizer stripped earlier, annotation never there) — [auto] fix — or when the
//! naming ARS is not being deleted (the object was pruned from under a live scale set) — manual.
//! Not reported while the naming ARS is itself being deleted: then the object waits legitimately
//! (S3; the ARS is the thing to look at). Not repeated for the manager Role/RoleBinding and the
//! GitHub config Secret of a live ARS, which `ARC-MANAGER-RBAC-MISSING` and
//! `ARC-SECRET-TERMINATING` report (S19).

use crate::findings::{Finding, Fix, Severity};
use crate::model::{
    self, A_CLEANUP_MANAGER_RB, A_CLEANUP_MANAGER_ROLE, A_CLEANUP_SECRET, F_CP, L_SCALE_SET_NAME,
};
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::deletion::since;

use crate::facts::protected::{dependents, owner_ars, protectable};

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    for o in protectable(snap).into_iter().flat_map(|c| c.iter()) {
        if !o.meta.is_deleting() || !o.meta.has_finalizer(F_CP) {
            continue;
        }
        if !snap.autoscaling_runner_sets.scope.covers(Some(o.meta.ns())) {
            continue;
        }
        match owner_ars(ctx, o) {
            None => out.push(unreleased(ctx, o)),
            Some(ars) if !ars.meta.is_deleting() && !reported_elsewhere(o, ars) => {
                out.push(pruned_from_live(o, ars));
            }
            Some(_) => {}
        }
    }
    out
}

/// Objects pruned from under a live ARS that a more specific code already reports: the manager
/// Role/RoleBinding (`ARC-MANAGER-RBAC-MISSING`) and the GitHub config Secret
/// (`ARC-SECRET-TERMINATING`).
fn reported_elsewhere(o: &Object, ars: &Object) -> bool {
    let name = Some(o.meta.name);
    match o.meta.kind {
        "Role" => ars.meta.annotation(A_CLEANUP_MANAGER_ROLE) == name,
        "RoleBinding" => ars.meta.annotation(A_CLEANUP_MANAGER_RB) == name,
        "Secret" => {
            ars.meta.annotation(A_CLEANUP_SECRET) == name
                || model::github_config_secret(ars)
                    .is_some_and(|(s, vault)| !vault && Some(s) == name)
        }
        _ => false,
    }
}

fn unreleased(ctx: &Ctx, o: &Object) -> Finding {
    let ns = o.meta.ns();
    let deps = dependents(ctx, o);
    let message = format!(
        "{} {} has been deleting{} but is held by {F_CP}, and no AutoscalingRunnerSet in {ns} \
         names it in its cleanup annotations or carries its scale-set name{}, so no controller \
         will ever release it. Typical causes: the controller was uninstalled before the scale \
         set, the ARS finalizer was stripped by hand, or GitOps ordering.",
        o.meta.kind,
        o.meta.display(),
        since(o),
        o.meta
            .label(L_SCALE_SET_NAME)
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    );
    let mut f =
        Finding::new("ARC-STUCK-PROTECTED", Severity::High, message).object(o.meta.obj_ref());
    if !deps.is_empty() {
        let names: Vec<String> = deps
            .iter()
            .map(|d| format!("{} {}", d.meta.kind, d.meta.display()))
            .collect();
        f = f
            .objects(deps.iter().map(|d| d.meta.obj_ref()))
            .remediation(format!(
                "Wait until {} {} gone: the controller still needs this object (credentials / \
                 manager RBAC) to deregister those runners.",
                names.join(", "),
                if deps.len() == 1 { "is" } else { "are" }
            ));
    }
    let i = o
        .meta
        .finalizers
        .iter()
        .position(|x| *x == F_CP)
        .unwrap_or(0);
    f.remediation(format!(
        "Then remove the single {F_CP} finalizer — exactly what the controller would have done: \
         `kubectl arc orphans --fix`, or `kubectl patch {} {} -n {ns} --type=json -p \
         '[{{\"op\":\"test\",\"path\":\"/metadata/finalizers/{i}\",\"value\":\"{F_CP}\"}},\
         {{\"op\":\"remove\",\"path\":\"/metadata/finalizers/{i}\"}}]'`.",
        o.meta.kind.to_lowercase(),
        o.meta.name,
    ))
}

fn pruned_from_live(o: &Object, ars: &Object) -> Finding {
    let message = format!(
        "{} {} is being deleted (held by {F_CP}) while AutoscalingRunnerSet {}, which owns it, is \
         not; something (GitOps prune, Argo CD app deletion, a separate helm uninstall) removed \
         chart objects independently of the scale set. It stays Terminating until the scale set \
         is deleted, and the scale set loses it as soon as it is released.",
        o.meta.kind,
        o.meta.display(),
        ars.meta.display()
    );
    Finding::new("ARC-STUCK-PROTECTED", Severity::High, message)
        .object(o.meta.obj_ref())
        .object(ars.meta.obj_ref())
        .fix(Fix::Manual)
        .remediation(
            "Stop whatever deletes it (GitOps prune / app deletion) and re-sync the scale-set \
             release.",
        )
        .remediation(format!(
            "Do not strip {F_CP} while AutoscalingRunnerSet {} lives; delete the scale set \
             properly (helm uninstall) when it is meant to go — the controller then releases it.",
            ars.meta.display()
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ObjectRef, Scope, Snapshot};
    use crate::testing;

    const SECRET: &str = "arc-runner-set-gha-rs-github-secret";

    fn terminate_chart_objects(snap: &mut Snapshot) {
        for (kind, name) in [
            ("Secret", SECRET),
            ("Role", "arc-runner-set-gha-rs-manager"),
            ("RoleBinding", "arc-runner-set-gha-rs-manager"),
            ("ServiceAccount", "arc-runner-set-gha-rs-no-permission"),
        ] {
            testing::get_mut(snap, kind, Some("arc-runners"), name)
                .meta
                .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        }
    }

    #[test]
    fn s3_waits_for_the_deleting_scale_set() {
        let snap = testing::scenario("S3");
        let f = check(&Ctx::new(&snap));
        assert!(f.is_empty(), "{:?}", testing::codes(&f));
    }

    #[test]
    fn ars_gone_gives_four_auto_findings() {
        let mut snap = testing::scenario("B0");
        terminate_chart_objects(&mut snap);
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 4, "{:?}", testing::codes(&f));
        assert!(
            f.iter()
                .all(|f| f.fix == Fix::Auto && f.severity == Severity::High)
        );
        let secret = f
            .iter()
            .find(|f| f.primary() == Some(&ObjectRef::namespaced("Secret", "arc-runners", SECRET)))
            .expect("secret finding");
        // The runner set still needs the secret: wait first.
        assert!(
            secret.remediation[0].contains("Wait until"),
            "{:?}",
            secret.remediation
        );
    }

    #[test]
    fn pruned_from_live_scale_set_is_manual_and_not_repeated() {
        let mut snap = testing::scenario("B0");
        terminate_chart_objects(&mut snap);
        let f = check(&Ctx::new(&snap));
        // Manager Role/RoleBinding and the GitHub secret are reported by more specific codes.
        assert_eq!(
            testing::codes(&f),
            vec![
                "ARC-STUCK-PROTECTED ServiceAccount arc-runners/arc-runner-set-gha-rs-no-permission"
            ]
        );
        assert_eq!(f[0].fix, Fix::Manual);
        assert_eq!(f[0].objects[1].kind, "AutoscalingRunnerSet");
    }

    #[test]
    fn unlisted_scale_sets_mean_silence() {
        let mut snap = testing::scenario("B0");
        terminate_chart_objects(&mut snap);
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        snap.autoscaling_runner_sets.scope = Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
