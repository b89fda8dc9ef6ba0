//! `ARC-MANAGER-BINDING-MISMATCH`: a runner namespace's manager RoleBinding does not name the
//! ServiceAccount of the live controller that serves it (arc-domain §4.2 — the user story).
//!
//! The scale-set chart computes the manager RoleBinding's subject once, at install time, from the
//! controller Deployment it finds. The controller's ClusterRole has no Secret permissions at all,
//! so after the controller moves (new namespace or release name) it can no longer read the GitHub
//! secret, create runner pods or manage listener RBAC in R, and deletions cannot complete.
//!
//! Per ARS: the RoleBinding named by `actions.github.com/cleanup-manager-role-binding` (fallback:
//! label `app.kubernetes.io/component=manager-role-binding` + `actions.github.com/scale-set-name`).
//! Flagged when its subjects omit a LIVE controller covering R, confirmed with
//! [`common::can`] (`get secrets` in R): a collected SubjectAccessReview answer when there is one,
//! else offline evaluation of the collected bindings — the evidence says which. A controller that
//! can read secrets through some other binding is not flagged. Critical when no live controller
//! is bound; info when one is bound and another live controller is not (two controllers, S8).
//! Missing/terminating manager RBAC is `ARC-MANAGER-RBAC-MISSING`; listener RoleBindings are
//! covered by the listener RBAC codes. One finding per manager RoleBinding: [RoleBinding, ARS…].

use std::collections::BTreeMap;

use crate::findings::{Finding, Fix, Severity};
use crate::model::{self, Controller, L_COMPONENT, L_SCALE_SET_NAME, L_VERSION};
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;
use crate::facts::common;
use crate::model::{SCALE_SET_CHART, release_of};

const CODE: &str = "ARC-MANAGER-BINDING-MISMATCH";

/// The manager RoleBinding of an ARS, if it exists.
pub(crate) fn manager_role_binding<'a>(ctx: &Ctx<'a>, ars: &Object) -> Option<&'a Object> {
    let ns = ars.meta.ns();
    if let Some(name) = ars.meta.annotation(model::A_CLEANUP_MANAGER_RB) {
        return ctx.snap.role_bindings.get(Some(ns), name).found();
    }
    let set = ars.meta.label(L_SCALE_SET_NAME).unwrap_or(ars.meta.name);
    ctx.snap.role_bindings.iter().find(|rb| {
        rb.meta.ns() == ns
            && rb.meta.label(L_COMPONENT) == Some("manager-role-binding")
            && rb.meta.label(L_SCALE_SET_NAME) == Some(set)
    })
}

/// ServiceAccount subjects `(index, namespace, name)`.
fn sa_subjects(rb: &Object) -> Vec<(usize, String, String)> {
    rb.array("/subjects")
        .iter()
        .enumerate()
        .filter(|(_, s)| s["kind"] == "ServiceAccount")
        .filter_map(|(i, s)| {
            Some((
                i,
                s["namespace"].as_str()?.to_owned(),
                s["name"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// One live controller the binding leaves out, with the access answer that confirms it.
struct Unbound<'a> {
    controller: &'a Controller,
    /// Evidence line (and how the answer was obtained).
    evidence: String,
}

/// Decide access for `c` in `ns`; `None` when it can read secrets after all.
fn unbound<'a>(ctx: &Ctx, c: &'a Controller, ns: &str) -> Option<Unbound<'a>> {
    let user = c.username();
    let q = model::question(&user, "get", "", "secrets", ns);
    let via_sar = ctx.snap.access(&q).is_some();
    let evidence = match (common::can(ctx, &user, "get", "", "secrets", ns), via_sar) {
        (Some(true), _) => return None,
        (Some(false), true) => {
            format!("confirmed by SubjectAccessReview: {user} cannot get secrets in {ns}")
        }
        (Some(false), false) => {
            format!("evaluated offline from RoleBindings: {user} cannot get secrets in {ns}")
        }
        (None, _) => format!(
            "not confirmed: {user}'s access to secrets in {ns} could not be evaluated (bindings not fully visible, no SubjectAccessReview answer)"
        ),
    };
    Some(Unbound {
        controller: c,
        evidence,
    })
}

/// What is wrong with a subject ServiceAccount, for the message.
fn subject_state(ctx: &Ctx, ns: &str, name: &str) -> String {
    match ctx.snap.namespace_exists(ns) {
        Some(false) => return format!("{ns}/{name} (namespace {ns} no longer exists)"),
        Some(true) if ctx.snap.namespace_terminating(ns) => {
            return format!("{ns}/{name} (namespace {ns} is Terminating)");
        }
        _ => {}
    }
    match ctx
        .model
        .gha()
        .find(|c| c.namespace == ns && c.service_account == name)
    {
        Some(c) if c.healthy => format!(
            "{ns}/{name} (controller {}/{}, which does not cover this namespace)",
            c.namespace, c.name
        ),
        Some(c) => format!(
            "{ns}/{name} (controller {}/{}, which is not running)",
            c.namespace, c.name
        ),
        None => format!("{ns}/{name} (no controller runs as it)"),
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut by_rb: BTreeMap<ObjectRef, (&Object, Vec<&Object>)> = BTreeMap::new();
    for ars in ctx.snap.autoscaling_runner_sets.iter() {
        if let Some(rb) = manager_role_binding(ctx, ars) {
            by_rb
                .entry(rb.meta.obj_ref())
                .or_insert((rb, Vec::new()))
                .1
                .push(ars);
        }
    }
    by_rb
        .into_values()
        .filter_map(|(rb, arss)| finding_for(ctx, rb, &arss))
        .collect()
}

fn finding_for(ctx: &Ctx, rb: &Object, arss: &[&Object]) -> Option<Finding> {
    let ns = rb.meta.ns();
    let live: Vec<&Controller> = ctx.model.live_for(ns).collect();
    let subjects = sa_subjects(rb);
    let bound = |c: &Controller| {
        subjects
            .iter()
            .any(|(_, sns, sn)| *sns == c.namespace && *sn == c.service_account)
    };
    let bound_live: Vec<&Controller> = live.iter().copied().filter(|c| bound(c)).collect();
    let missing: Vec<Unbound> = live
        .iter()
        .copied()
        .filter(|c| !bound(c))
        .filter_map(|c| unbound(ctx, c, ns))
        .collect();
    let first = missing.first()?;
    let ars = arss.first()?;
    let severity = if bound_live.is_empty() {
        Severity::Critical
    } else {
        Severity::Info
    };
    let message = if bound_live.is_empty() {
        critical_message(ctx, rb, ars, &subjects, first.controller)
    } else {
        info_message(rb, &bound_live, &missing)
    };
    let mut f = Finding::new(CODE, severity, message)
        .object(rb.meta.obj_ref())
        .objects(arss.iter().map(|a| a.meta.obj_ref()))
        .objects(missing.iter().map(|u| u.controller.deployment_ref()));
    for u in &missing {
        f = f.evidence(u.evidence.clone());
    }
    f = f.evidence(format!(
        "{} subjects: {}",
        rb.meta.display(),
        subjects_text(&subjects)
    ));
    if !bound_live.is_empty() || missing.len() > 1 {
        return Some(
            f.fix(Fix::Manual)
                .remediation("Keep one controller (see ARC-MULTIPLE-CONTROLLERS); rebinding this RoleBinding to a second controller would only move the problem.")
                .remediation(format!(
                    "Once only one controller is left, re-render the scale set so the binding names it: `helm upgrade {} -n {ns} {SCALE_SET_CHART} --reuse-values`.",
                    release_of(ars)
                )),
        );
    }
    for step in remediation(ctx, rb, ars, &subjects, first.controller) {
        f = f.remediation(step);
    }
    Some(f)
}

fn subjects_text(subjects: &[(usize, String, String)]) -> String {
    if subjects.is_empty() {
        return "no ServiceAccount subject".to_owned();
    }
    subjects
        .iter()
        .map(|(_, ns, n)| format!("ServiceAccount {ns}/{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn critical_message(
    ctx: &Ctx,
    rb: &Object,
    ars: &Object,
    subjects: &[(usize, String, String)],
    c: &Controller,
) -> String {
    let ns = rb.meta.ns();
    let bound = if subjects.is_empty() {
        "no ServiceAccount".to_owned()
    } else {
        subjects
            .iter()
            .map(|(_, sns, sn)| subject_state(ctx, sns, sn))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let secret = model::github_config_secret(ars)
        .map(|(s, _)| format!(" GitHub secret {ns}/{s},"))
        .unwrap_or_default();
    let consequence = if ars.meta.is_deleting() {
        format!(
            "the deletion of AutoscalingRunnerSet {} cannot complete",
            ars.meta.display()
        )
    } else {
        "no runner can be created or deregistered".to_owned()
    };
    format!(
        "Manager RoleBinding {} binds {bound}, but the live controller {}/{} runs as {}/{}. That controller cannot read the{secret} create runner pods or manage listener RBAC in {ns}, so {consequence}. Cause: the subject was computed when the scale-set chart was installed; the controller has since moved or been renamed.",
        rb.meta.display(),
        c.namespace,
        c.name,
        c.namespace,
        c.service_account
    )
}

fn info_message(rb: &Object, bound: &[&Controller], missing: &[Unbound]) -> String {
    let names = |cs: Vec<&Controller>| {
        cs.iter()
            .map(|c| format!("{}/{}", c.namespace, c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "Manager RoleBinding {} names controller {} but not the other live controller(s) {}, which therefore cannot read secrets or create runners in {} — a side effect of running several controllers (see ARC-MULTIPLE-CONTROLLERS).",
        rb.meta.display(),
        names(bound.to_vec()),
        names(missing.iter().map(|u| u.controller).collect()),
        rb.meta.ns()
    )
}

fn remediation(
    ctx: &Ctx,
    rb: &Object,
    ars: &Object,
    subjects: &[(usize, String, String)],
    c: &Controller,
) -> Vec<String> {
    let ns = rb.meta.ns();
    let release = release_of(ars);
    let version = ars
        .meta
        .label(L_VERSION)
        .map(|v| format!(" --version {v}"))
        .unwrap_or_default();
    let index = subjects.first().map_or(0, |(i, _, _)| *i);
    let patch = format!(
        r#"kubectl patch rolebinding -n {ns} {} --type=json -p '[{{"op":"replace","path":"/subjects/{index}","value":{{"kind":"ServiceAccount","name":"{}","namespace":"{}"}}}}]'"#,
        rb.meta.name, c.service_account, c.namespace
    );
    let role = rb.str("/roleRef/name").unwrap_or("<manager role>");
    let mut steps = vec![
        format!(
            "Preferred: re-render the scale set so the chart looks up the current controller: `helm upgrade {release} -n {ns} {SCALE_SET_CHART}{version} --reuse-values` (or add `--set controllerServiceAccount.name={},controllerServiceAccount.namespace={}`).",
            c.service_account, c.namespace
        ),
        format!(
            "Or rebind it in place (`kubectl arc orphans --fix --include-confirm`; keeps cleanup-protection, and the next helm upgrade rewrites it anyway): `{patch}`."
        ),
    ];
    if ctx.snap.namespace_terminating(ns) {
        steps.push(format!(
            "Namespace {ns} is Terminating, so new RoleBindings are rejected there: patch the existing binding as above rather than creating a temporary one."
        ));
    } else {
        steps.push(format!(
            "Or grant access temporarily and remove it after cleanup: `kubectl create rolebinding kubectl-arc-manager -n {ns} --role={role} --serviceaccount={}:{} && kubectl label rolebinding -n {ns} kubectl-arc-manager app.kubernetes.io/managed-by=kubectl-arc`.",
            c.namespace, c.service_account
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::AccessAnswer;
    use crate::testing;

    /// B0 with the controller moved to `arc-controller` (Deployment only; bindings untouched).
    #[test]
    fn moved_controller_is_critical_and_evaluated_offline() {
        let snap = testing::b0_controller_moved();
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].objects[0],
            ObjectRef::namespaced(
                "RoleBinding",
                "arc-runners",
                "arc-runner-set-gha-rs-manager"
            )
        );
        assert_eq!(
            f[0].objects[1],
            ObjectRef::namespaced("AutoscalingRunnerSet", "arc-runners", "arc-runner-set")
        );
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.starts_with("evaluated offline from RoleBindings")),
            "{:?}",
            f[0].evidence
        );
        assert_eq!(f[0].fix, Fix::Confirm);
    }

    #[test]
    fn subject_access_review_answers_are_preferred_and_named() {
        let mut snap = testing::b0_controller_moved();
        let q = model::question(
            "system:serviceaccount:arc-controller:arc-gha-rs-controller",
            "get",
            "",
            "secrets",
            "arc-runners",
        );
        let answer = |allowed| AccessAnswer {
            question: q.clone(),
            allowed,
            source: "SubjectAccessReview",
        };
        snap.access.push(answer(false));
        let f = check(&Ctx::new(&snap));
        assert!(
            f[0].evidence
                .iter()
                .any(|e| e.starts_with("confirmed by SubjectAccessReview")),
            "{:?}",
            f[0].evidence
        );
        // An allowed answer (e.g. a hand-made binding) means the controller works: no finding.
        snap.access = vec![answer(true)];
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn second_unbound_live_controller_is_info() {
        let mut snap = testing::scenario("B0");
        let mut dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        )
        .clone();
        dep.meta.namespace = Some("arc-controller");
        dep.meta.name = "arc2-gha-rs-controller";
        dep.body["spec"]["template"]["spec"]["serviceAccountName"] =
            serde_json::json!("arc2-gha-rs-controller").into();
        snap.deployments.items.push(dep);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
        assert_eq!(f[0].fix, Fix::Manual);
    }

    #[test]
    fn no_live_controller_is_left_to_no_controller() {
        let mut snap = testing::b0_controller_moved();
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
