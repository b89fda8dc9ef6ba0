//! `ARC-ORPHAN-CHART-RBAC`: leftovers of a `gha-runner-scale-set` Helm release whose
//! AutoscalingRunnerSet is gone (arc-domain §4.5).
//!
//! Candidates are Roles, RoleBindings, ServiceAccounts and Secrets labelled
//! `app.kubernetes.io/part-of=gha-rs` (0.4.x: `gha-runner-scale-set`, which controller-made objects
//! also carry, so those additionally need a Helm marker) and `actions.github.com/scale-set-name=S`,
//! with no owner reference and no listener labels, where no AutoscalingRunnerSet S exists in that
//! namespace. Objects that are being deleted are `ARC-STUCK-PROTECTED`'s business and skipped.

use crate::findings::{Finding, Severity};
use crate::model::{
    A_HELM_RELEASE, F_CP, L_COMPONENT, L_LISTENER_NAME, L_LISTENER_NS, L_PART_OF, L_SCALE_SET_NAME,
};
use crate::snapshot::{Lookup, Object};

use super::Ctx;

const CODE: &str = "ARC-ORPHAN-CHART-RBAC";
const PART_OF: &str = "gha-rs";
const PART_OF_04: &str = "gha-runner-scale-set";
/// Components the controller (not the chart) sets.
const CONTROLLER_COMPONENTS: [&str; 4] = [
    "runner-scale-set-listener",
    "runner-set",
    "runner",
    "autoscaling-runner-set",
];

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let s = ctx.snap;
    s.roles
        .iter()
        .chain(s.role_bindings.iter())
        .chain(s.service_accounts.iter())
        .chain(s.secrets.iter())
        .filter(|o| !o.meta.is_deleting())
        .filter_map(|o| chart_scale_set(o).map(|set| (o, set)))
        .filter(|(o, set)| ars_missing(ctx, o.meta.ns(), set))
        .map(|(o, set)| finding(ctx, o, set))
        .collect()
}

fn helm_marked(o: &Object) -> bool {
    o.meta.label("app.kubernetes.io/managed-by") == Some("Helm")
        || o.meta.annotation(A_HELM_RELEASE).is_some()
        || o.meta.has_finalizer(F_CP)
}

/// The scale-set name S of a chart-rendered object, or None when it is not one.
fn chart_scale_set(o: &Object) -> Option<&str> {
    let part_of = o.meta.label(L_PART_OF)?;
    let chart = part_of == PART_OF || part_of == PART_OF_04 && helm_marked(o);
    let controller_made = !o.meta.owner_references.is_empty()
        || o.meta.label(L_LISTENER_NS).is_some()
        || o.meta.label(L_LISTENER_NAME).is_some()
        || o.meta
            .label(L_COMPONENT)
            .is_some_and(|c| CONTROLLER_COMPONENTS.contains(&c))
        || o.meta.label("owner") == Some("helm");
    if !chart || controller_made {
        return None;
    }
    o.meta.label(L_SCALE_SET_NAME).filter(|s| !s.is_empty())
}

/// No ARS S in `ns` (by name, `_` → `-`, or by scale-set label); false when not listed there.
fn ars_missing(ctx: &Ctx, ns: &str, set: &str) -> bool {
    let arss = &ctx.snap.autoscaling_runner_sets;
    match arss.get(Some(ns), &set.replace('_', "-")) {
        Lookup::Missing => !arss
            .in_namespace(ns)
            .any(|a| a.meta.label(L_SCALE_SET_NAME) == Some(set)),
        _ => false,
    }
}

/// A manager RoleBinding whose Role still exists (or may exist) and whose subject ServiceAccount
/// exists but is not any controller's: that name was reused, and the new owner gets the rights.
fn grants_reused_sa(ctx: &Ctx, o: &Object) -> bool {
    if o.meta.kind != "RoleBinding" {
        return false;
    }
    let manager = o.meta.label(L_COMPONENT) == Some("manager-role-binding")
        || o.meta.name.ends_with("-manager")
        || o.meta.name.ends_with("-manager-role-binding");
    let role_exists = match o.str("/roleRef/kind") {
        Some("Role") => {
            let role = o.str("/roleRef/name").unwrap_or("");
            !ctx.snap.roles.get(o.meta.namespace, role).is_missing()
        }
        // A ClusterRole reference (or an unreadable one): assume it grants.
        _ => true,
    };
    let reused = o
        .array("/subjects")
        .iter()
        .filter(|s| s["kind"] == "ServiceAccount")
        .any(|s| {
            let (ns, name) = (
                s["namespace"].as_str().unwrap_or(""),
                s["name"].as_str().unwrap_or(""),
            );
            let controller_sa = ctx
                .model
                .gha()
                .any(|c| c.namespace == ns && c.service_account == name);
            !controller_sa
                && ctx
                    .snap
                    .service_accounts
                    .get(Some(ns), name)
                    .found()
                    .is_some()
        });
    manager && role_exists && reused
}

/// `ns/name` of the RoleBinding's subjects, for the message.
fn subjects(o: &Object) -> String {
    o.array("/subjects")
        .iter()
        .map(|s| {
            let ns = s["namespace"].as_str().unwrap_or("");
            let name = s["name"].as_str().unwrap_or("?");
            if ns.is_empty() {
                name.to_owned()
            } else {
                format!("{ns}/{name}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Helm release that rendered the object, when its release record still exists.
fn live_release<'a>(ctx: &Ctx, o: &'a Object) -> Option<&'a str> {
    let release = o
        .meta
        .annotation(A_HELM_RELEASE)
        .or_else(|| o.meta.label("app.kubernetes.io/instance"))?;
    let prefix = format!("sh.helm.release.v1.{release}.v");
    ctx.snap
        .secrets
        .in_namespace(o.meta.ns())
        .any(|s| s.meta.name.starts_with(&prefix))
        .then_some(release)
}

fn finding(ctx: &Ctx, o: &Object, set: &str) -> Finding {
    let (ns, name, kind) = (o.meta.ns(), &o.meta.name, o.meta.kind);
    let reused = grants_reused_sa(ctx, o);
    let severity = if reused {
        Severity::Medium
    } else {
        Severity::Low
    };
    let effect = if reused {
        format!(
            " It still grants {} the manager Role's rights in {ns} (Secrets, Pods, Roles), and that ServiceAccount \
             now exists without being an ARC controller's.",
            subjects(o)
        )
    } else if kind == "RoleBinding" && !o.array("/subjects").is_empty() {
        format!(
            " It still grants {} the manager Role's rights in {ns}.",
            subjects(o)
        )
    } else if kind == "Secret" {
        " It may still hold GitHub credentials.".to_owned()
    } else {
        String::new()
    };
    let message = format!(
        "{kind} {ns}/{name} was rendered by the scale-set release {set}, but no AutoscalingRunnerSet {set} exists in \
         {ns}: the scale set was removed without its chart objects (deleted directly, or its release was removed \
         partially).{effect}"
    );
    let mut f = Finding::new(CODE, severity, message).object(o.meta.obj_ref());
    let lower = kind.to_lowercase();
    if let Some(release) = live_release(ctx, o) {
        f = f.remediation(format!(
            "Its Helm release record still exists: `helm uninstall {release} -n {ns}` removes it (objects held by \
             {F_CP} then need `kubectl arc orphans --fix`, see ARC-STUCK-PROTECTED)."
        ));
    } else if let Some(i) = o.meta.finalizers.iter().position(|x| *x == F_CP) {
        f = f.remediation(format!(
            "Remove the cleanup-protection finalizer (no controller will): `kubectl patch {lower} {name} -n {ns} --type=json \
             -p '[{{\"op\":\"test\",\"path\":\"/metadata/finalizers/{i}\",\"value\":\"{F_CP}\"}},{{\"op\":\"remove\",\"path\":\"/metadata/finalizers/{i}\"}}]'`"
        ));
    }
    f.remediation(format!(
        "Delete it: `kubectl delete {lower} {name} -n {ns}` (or `kubectl arc orphans --fix --include-confirm`)."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{base, scenario};
    use crate::snapshot::{Scope, Snapshot};
    use crate::testing;
    use serde_json::json;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    fn without_ars() -> Snapshot {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        snap
    }

    #[test]
    fn chart_objects_of_a_live_scale_set_are_fine() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn leftovers_without_ars_are_reported_low() {
        let f = run(&without_ars());
        assert_eq!(
            testing::codes(&f),
            [
                "ARC-ORPHAN-CHART-RBAC Role arc-runners/arc-runner-set-gha-rs-manager",
                "ARC-ORPHAN-CHART-RBAC RoleBinding arc-runners/arc-runner-set-gha-rs-manager",
                "ARC-ORPHAN-CHART-RBAC ServiceAccount arc-runners/arc-runner-set-gha-rs-no-permission",
                "ARC-ORPHAN-CHART-RBAC Secret arc-runners/arc-runner-set-gha-rs-github-secret",
            ]
        );
        // The manager RoleBinding binds the live controller's own ServiceAccount: no escalation.
        assert!(f.iter().all(|f| f.severity == Severity::Low));
        assert!(f[1].message.contains("arc-systems/arc-gha-rs-controller"));
        // Listener Role/RoleBinding (controller-made, part-of=gha-runner-scale-set) are not chart objects.
        assert!(f.iter().all(|f| !f.objects[0].name.ends_with("-listener")));
        assert!(
            f[0].remediation[0].contains("/metadata/finalizers/0"),
            "{:?}",
            f[0].remediation
        );
    }

    #[test]
    fn manager_binding_to_a_reused_service_account_is_medium() {
        let mut snap = without_ars();
        // The controller moved away; someone else's ServiceAccount now has the old name.
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = run(&snap);
        let rb = f
            .iter()
            .find(|f| f.objects[0].kind == "RoleBinding")
            .expect("binding reported");
        assert_eq!(rb.severity, Severity::Medium);
        assert!(
            rb.message.contains("without being an ARC controller's"),
            "{}",
            rb.message
        );
    }

    #[test]
    fn manager_binding_without_role_is_low() {
        let mut snap = without_ars();
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Role" && o.meta.name == "arc-runner-set-gha-rs-manager"
        });
        let f = run(&snap);
        let rb = f
            .iter()
            .find(|f| f.objects[0].kind == "RoleBinding")
            .expect("binding reported");
        assert_eq!(rb.severity, Severity::Low);
    }

    #[test]
    fn deleting_objects_are_left_to_stuck_protected() {
        let mut snap = without_ars();
        for (k, n) in [
            ("Role", "arc-runner-set-gha-rs-manager"),
            ("RoleBinding", "arc-runner-set-gha-rs-manager"),
            ("ServiceAccount", "arc-runner-set-gha-rs-no-permission"),
            ("Secret", "arc-runner-set-gha-rs-github-secret"),
        ] {
            testing::get_mut(&mut snap, k, Some("arc-runners"), n)
                .meta
                .deletion_timestamp = Some("x");
        }
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn helm_release_record_suggests_uninstall() {
        let mut snap = without_ars();
        snap.secrets.items.push(testing::obj(
            "Secret",
            json!({"metadata":{"name":"sh.helm.release.v1.arc-runner-set.v1","namespace":"arc-runners",
                               "labels":{"owner":"helm","name":"arc-runner-set","status":"deployed"}}}),
        ));
        let f = run(&snap);
        assert_eq!(f.len(), 4);
        assert!(f[0].remediation[0].contains("helm uninstall arc-runner-set -n arc-runners"));
    }

    #[test]
    fn old_chart_label_needs_helm_marker_and_unlisted_ars_is_unknown() {
        let mut snap = without_ars();
        testing::remove(&mut snap, |o| {
            o.meta.kind != "ServiceAccount" || o.meta.ns() != "arc-runners"
        });
        let sa = testing::get_mut(
            &mut snap,
            "ServiceAccount",
            Some("arc-runners"),
            "arc-runner-set-gha-rs-no-permission",
        );
        sa.meta
            .labels
            .insert("app.kubernetes.io/part-of", "gha-runner-scale-set");
        assert_eq!(run(&snap).len(), 1);
        let sa = testing::get_mut(
            &mut snap,
            "ServiceAccount",
            Some("arc-runners"),
            "arc-runner-set-gha-rs-no-permission",
        );
        sa.meta.labels.remove("app.kubernetes.io/managed-by");
        sa.meta.annotations.clear();
        sa.meta.finalizers.clear();
        assert!(run(&snap).is_empty());
        let mut snap = without_ars();
        snap.autoscaling_runner_sets.scope = Scope::None;
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn scenarios() {
        for id in ["B0", "S1", "S3", "S9", "S11", "S13", "S19"] {
            let snap = scenario(id);
            assert!(run(&snap).is_empty(), "{id}: {:#?}", run(&snap));
        }
        let f = run(&scenario("S17"));
        assert_eq!(
            testing::codes(&f),
            [
                "ARC-ORPHAN-CHART-RBAC Role arc-runners/arc-runner-set-gpu-gha-rs-manager",
                "ARC-ORPHAN-CHART-RBAC RoleBinding arc-runners/arc-runner-set-gpu-gha-rs-manager",
                "ARC-ORPHAN-CHART-RBAC ServiceAccount arc-runners/arc-runner-set-gpu-gha-rs-no-permission",
                "ARC-ORPHAN-CHART-RBAC Secret arc-runners/arc-runner-set-gpu-gha-rs-github-secret",
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Low), "{f:#?}");
    }
}
