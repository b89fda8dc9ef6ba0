//! `ARC-STALE-CLUSTER-RBAC`: cluster-scoped RBAC of a controller (gha or legacy) whose namespace
//! is gone (arc-domain §4.1, §1.2). The Helm release record lived in that namespace and vanished
//! with it; the ClusterRole/ClusterRoleBinding survive, and reinstalling under the same release
//! name in another namespace fails with Helm's `invalid ownership metadata; … key
//! "meta.helm.sh/release-namespace" must equal …`.
//!
//! Stale = every ServiceAccount subject lives in a namespace that does not exist, or the
//! `meta.helm.sh/release-namespace` namespace does not exist — and no controller Deployment runs
//! as that ServiceAccount. Also covered: the `*-single-namespace-watch` Role/RoleBinding a
//! single-namespace controller leaves in its watched namespace. One finding per stale binding
//! ([ClusterRoleBinding, ClusterRole] or [RoleBinding, Role]), plus one per stale ClusterRole that
//! no binding covers.

use std::collections::BTreeSet;

use crate::findings::{Finding, Severity};
use crate::model::{A_HELM_RELEASE, A_HELM_RELEASE_NS, L_PART_OF};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use super::no_controller::deployments_listed;

const CODE: &str = "ARC-STALE-CLUSTER-RBAC";
const WATCH_SUFFIX: &str = "-single-namespace-watch";

/// Is this cluster-scoped RBAC object rendered by an ARC controller chart (either generation)?
fn is_controller_rbac(o: &Object) -> bool {
    let chart = o.meta.label("helm.sh/chart").unwrap_or("");
    matches!(
        o.meta.label(L_PART_OF),
        Some("gha-rs-controller" | "gha-runner-scale-set-controller")
    ) || o.meta.label("app.kubernetes.io/name") == Some("actions-runner-controller")
        || chart.starts_with("gha-rs-controller-")
        || chart.starts_with("gha-runner-scale-set-controller-")
        || chart.starts_with("actions-runner-controller-")
        || o.meta.name.ends_with("gha-rs-controller")
        || o.meta.name.contains("actions-runner-controller")
}

fn sa_subjects(binding: &Object) -> Vec<(String, String)> {
    binding
        .array("/subjects")
        .iter()
        .filter(|s| s["kind"] == "ServiceAccount")
        .filter_map(|s| {
            Some((
                s["namespace"].as_str()?.to_owned(),
                s["name"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// Does any controller Deployment (of either generation) run as `ns/name`?
fn sa_in_use(ctx: &Ctx, ns: &str, name: &str) -> bool {
    ctx.model
        .controllers
        .iter()
        .any(|c| c.namespace == ns && c.service_account == name)
}

/// Why an object is stale, or `None` (not stale, or cannot tell).
fn staleness(ctx: &Ctx, o: &Object, subjects: &[(String, String)]) -> Option<String> {
    let missing = |ns: &str| ctx.snap.namespace_exists(ns) == Some(false);
    let mut why = Vec::new();
    if !subjects.is_empty() && subjects.iter().all(|(ns, _)| missing(ns)) {
        let list = subjects
            .iter()
            .map(|(ns, n)| format!("{ns}/{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        why.push(format!(
            "its ServiceAccount subject(s) {list} live in a namespace that no longer exists"
        ));
    }
    if let Some(rns) = o
        .meta
        .annotation(A_HELM_RELEASE_NS)
        .filter(|ns| missing(ns))
    {
        why.push(format!(
            "its Helm release {} was installed in namespace {rns}, which no longer exists",
            o.meta.annotation(A_HELM_RELEASE).unwrap_or("?")
        ));
    }
    if why.is_empty() || subjects.iter().any(|(ns, name)| sa_in_use(ctx, ns, name)) {
        return None;
    }
    Some(why.join("; "))
}

/// Is a ClusterRole still bound by a binding that is not stale?
fn bound_by_live_binding(ctx: &Ctx, role: &str) -> bool {
    ctx.snap.cluster_role_bindings.iter().any(|b| {
        b.str("/roleRef/kind") == Some("ClusterRole")
            && b.str("/roleRef/name") == Some(role)
            && staleness(ctx, b, &sa_subjects(b)).is_none()
    })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !deployments_listed(ctx) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut covered_roles = BTreeSet::new();
    for crb in ctx
        .snap
        .cluster_role_bindings
        .iter()
        .filter(|o| is_controller_rbac(o))
    {
        let Some(why) = staleness(ctx, crb, &sa_subjects(crb)) else {
            continue;
        };
        let role = crb
            .str("/roleRef/name")
            .filter(|_| crb.str("/roleRef/kind") == Some("ClusterRole"));
        if let Some(r) = role {
            covered_roles.insert(r.to_owned());
        }
        let role = role.filter(|r| matches!(ctx.snap.cluster_roles.get(None, r), Lookup::Found(_)));
        out.push(binding_finding(crb, role, "ClusterRole", &why));
    }
    for cr in ctx
        .snap
        .cluster_roles
        .iter()
        .filter(|o| is_controller_rbac(o))
    {
        if covered_roles.contains(cr.meta.name) || bound_by_live_binding(ctx, cr.meta.name) {
            continue;
        }
        if let Some(why) = staleness(ctx, cr, &[]) {
            out.push(role_finding(cr, &why));
        }
    }
    for rb in ctx
        .snap
        .role_bindings
        .iter()
        .filter(|o| o.meta.name.ends_with(WATCH_SUFFIX))
    {
        let subjects = sa_subjects(rb);
        if subjects.is_empty() {
            continue;
        }
        let Some(why) = staleness(ctx, rb, &subjects) else {
            continue;
        };
        let role = rb
            .str("/roleRef/name")
            .filter(|_| rb.str("/roleRef/kind") == Some("Role"));
        let role =
            role.filter(|r| matches!(ctx.snap.roles.get(rb.meta.namespace, r), Lookup::Found(_)));
        out.push(binding_finding(rb, role, "Role", &why));
    }
    out
}

fn delete_cmd(r: &ObjectRef) -> String {
    match &r.namespace {
        Some(ns) => format!(
            "kubectl delete {} -n {ns} {}",
            r.kind.to_lowercase(),
            r.name
        ),
        None => format!("kubectl delete {} {}", r.kind.to_lowercase(), r.name),
    }
}

fn binding_finding(binding: &Object, role: Option<&str>, role_kind: &str, why: &str) -> Finding {
    let b = binding.meta.obj_ref();
    let role_ref = role.map(|r| ObjectRef::new(role_kind, binding.meta.namespace, r));
    let pair = match &role_ref {
        Some(r) => format!(
            "{} {} and {} {}",
            b.kind,
            binding.meta.display(),
            r.kind,
            r.name
        ),
        None => format!("{} {}", b.kind, binding.meta.display()),
    };
    let message = format!(
        "{pair} are left over from a removed ARC controller: {why}. They serve nothing, and reinstalling the controller under the same release name in another namespace fails with Helm's \"invalid ownership metadata\" error."
    );
    let mut cmds = vec![delete_cmd(&b)];
    cmds.extend(role_ref.iter().map(delete_cmd));
    let mut f = Finding::new(CODE, Severity::Medium, message)
        .object(b)
        .objects(role_ref)
        .evidence(format!("subjects: {}", subjects_text(binding)));
    if let Some(ns) = binding.meta.annotation(A_HELM_RELEASE_NS) {
        f = f.evidence(format!("{A_HELM_RELEASE_NS}={ns}"));
    }
    f.remediation(format!(
        "No Deployment runs as the bound ServiceAccount; delete the leftovers: `{}` (or `kubectl arc orphans --fix --include-confirm`).",
        cmds.join(" && ")
    ))
}

fn role_finding(role: &Object, why: &str) -> Finding {
    let r = role.meta.obj_ref();
    Finding::new(
        CODE,
        Severity::Medium,
        format!(
            "ClusterRole {} is left over from a removed ARC controller and no binding uses it: {why}. Reinstalling under the same release name elsewhere fails with Helm's \"invalid ownership metadata\" error.",
            role.meta.name
        ),
    )
    .remediation(format!(
        "`{}` (or `kubectl arc orphans --fix --include-confirm`).",
        delete_cmd(&r)
    ))
    .object(r)
}

fn subjects_text(binding: &Object) -> String {
    binding
        .array("/subjects")
        .iter()
        .map(|s| {
            format!(
                "{} {}/{}",
                s["kind"].as_str().unwrap_or("?"),
                s["namespace"].as_str().unwrap_or(""),
                s["name"].as_str().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn binding_to_deleted_namespace_is_stale_once_the_controller_is_gone() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| {
            (o.meta.kind == "Namespace" && o.meta.name == "arc-systems")
                || o.meta.kind == "Deployment"
        });
        let f = check(&Ctx::new(&snap));
        let crbs: Vec<_> = f
            .iter()
            .filter(|f| f.primary().is_some_and(|p| p.kind == "ClusterRoleBinding"))
            .collect();
        assert_eq!(crbs.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(crbs[0].severity, Severity::Medium);
        assert_eq!(
            crbs[0].objects.get(1).map(|o| o.kind.as_str()),
            Some("ClusterRole")
        );
    }

    #[test]
    fn binding_still_used_by_a_deployment_is_kept() {
        let mut snap = testing::scenario("B0");
        // The Namespace object is gone but the controller Deployment is still stored there.
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Namespace" && o.meta.name == "arc-systems"
        });
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn unknown_namespaces_mean_no_finding() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        snap.namespaces.scope = crate::snapshot::Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
