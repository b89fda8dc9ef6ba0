//! `ARC-NO-CONTROLLER`: ARC objects exist but no LIVE gha controller covers their namespace
//! (arc-domain §4.1). Typical after the controller was uninstalled before its scale sets (#2781,
//! #3395) or its namespace was deleted (the user story).
//!
//! Scope split with the neighbouring codes: namespaces that no gha controller *watches* while
//! only single-namespace controllers exist are `ARC-OUT-OF-SCOPE`; namespaces whose covering
//! controllers exist but are all down are reported here too (nothing processes their finalizers),
//! and `ARC-CONTROLLER-UNHEALTHY` explains why the Deployment is down.

use std::collections::BTreeSet;

use crate::findings::{Finding, Severity};
use crate::model::{self, Controller, L_VERSION};
use crate::snapshot::{Object, Scope};

use super::Ctx;
use crate::model::CONTROLLER_CHART;

const CODE: &str = "ARC-NO-CONTROLLER";

/// Are controller Deployments listed cluster-wide (so "no controller" is a fact, not a 403)?
pub(crate) fn deployments_listed(ctx: &Ctx) -> bool {
    ctx.snap.deployments.scope == Scope::All
}

/// Why no live controller covers a namespace.
#[derive(Debug, Clone, PartialEq)]
enum Uncovered {
    /// No gha controller Deployment at all.
    NoDeployment,
    /// Covering controllers exist but none is healthy.
    NotRunning(Vec<String>),
}

/// `None` when a live controller covers `ns`, or when no controller watches it although some
/// exist (that is `ARC-OUT-OF-SCOPE`).
fn uncovered(ctx: &Ctx, ns: &str) -> Option<Uncovered> {
    let gha: Vec<&Controller> = ctx.model.gha().collect();
    if gha.is_empty() {
        return Some(Uncovered::NoDeployment);
    }
    let covering: Vec<&Controller> = gha.into_iter().filter(|c| c.covers(ns)).collect();
    if covering.is_empty() || covering.iter().any(|c| c.healthy) {
        return None;
    }
    Some(Uncovered::NotRunning(
        covering
            .iter()
            .map(|c| format!("{}/{}", c.namespace, c.name))
            .collect(),
    ))
}

/// The gha-generation objects that need a controller: ARS, AL, ERS, ER.
fn arc_objects<'a>(ctx: &'a Ctx) -> impl Iterator<Item = &'a Object> + 'a {
    let s = ctx.snap;
    s.autoscaling_runner_sets
        .iter()
        .chain(s.autoscaling_listeners.iter())
        .chain(s.ephemeral_runner_sets.iter())
        .chain(s.ephemeral_runners.iter())
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !deployments_listed(ctx) {
        return Vec::new();
    }
    let affected: Vec<(&Object, Uncovered)> = arc_objects(ctx)
        .filter_map(|o| uncovered(ctx, o.meta.ns()).map(|u| (o, u)))
        .collect();
    if affected.is_empty() {
        return Vec::new();
    }
    let objs = || affected.iter().map(|(o, _)| *o);
    let is_ars = |o: &Object| o.meta.kind == "AutoscalingRunnerSet";
    let mut primary: Vec<&Object> = objs().filter(|o| is_ars(o)).collect();
    primary.extend(objs().filter(|o| !is_ars(o) && o.meta.is_deleting()));
    if primary.is_empty() {
        primary = objs().collect();
    }
    let deleting: Vec<&Object> = objs().filter(|o| o.meta.is_deleting()).collect();
    let severity = if deleting.is_empty() {
        Severity::High
    } else {
        Severity::Critical
    };
    let reasons: BTreeSet<String> = affected.iter().map(|(_, u)| describe(u)).collect();
    let mut f = Finding::new(CODE, severity, message(ctx, &affected, &deleting, &reasons))
        .objects(primary.iter().map(|o| o.meta.obj_ref()));
    for o in &deleting {
        f = f.evidence(format!(
            "{} {} has deletionTimestamp {} and finalizers [{}]",
            o.meta.kind,
            o.meta.display(),
            o.meta.deletion_timestamp.unwrap_or("?"),
            o.meta.finalizers.join(", ")
        ));
    }
    for step in remediation(ctx, &affected) {
        f = f.remediation(step);
    }
    vec![f]
}

fn describe(u: &Uncovered) -> String {
    match u {
        Uncovered::NoDeployment => {
            "no gha-rs-controller Deployment exists in the cluster".to_owned()
        }
        Uncovered::NotRunning(cs) => format!(
            "the controller(s) covering it ({}) have no available replica",
            cs.join(", ")
        ),
    }
}

fn message(
    ctx: &Ctx,
    affected: &[(&Object, Uncovered)],
    deleting: &[&Object],
    reasons: &BTreeSet<String>,
) -> String {
    let count = |kind: &str| affected.iter().filter(|(o, _)| o.meta.kind == kind).count();
    let ars: Vec<String> = affected
        .iter()
        .filter(|(o, _)| o.meta.kind == "AutoscalingRunnerSet")
        .map(|(o, _)| o.meta.display())
        .collect();
    let what = if ars.is_empty() {
        format!(
            "{} AutoscalingListener(s), {} EphemeralRunnerSet(s) and {} EphemeralRunner(s)",
            count("AutoscalingListener"),
            count("EphemeralRunnerSet"),
            count("EphemeralRunner")
        )
    } else {
        format!("scale set(s) {}", ars.join(", "))
    };
    let mut m = format!(
        "No live ARC controller reconciles {what}: {}.",
        reasons.iter().cloned().collect::<Vec<_>>().join("; ")
    );
    if deleting.is_empty() {
        m.push_str(
            " Nothing scales, and deleting these scale sets would hang on their finalizers.",
        );
    } else {
        let names: Vec<String> = deleting
            .iter()
            .map(|o| format!("{} {}", o.meta.kind, o.meta.display()))
            .collect();
        m.push_str(&format!(
            " {} object(s) are being deleted and their finalizers can only be removed by a controller: {}.",
            deleting.len(),
            names.join(", ")
        ));
    }
    if ctx.model.gha().next().is_none() {
        m.push_str(
            " Likely cause: the controller was uninstalled (or its namespace deleted) before the scale sets.",
        );
    }
    m
}

/// The ServiceAccounts the affected scale sets' manager RoleBindings name: reinstalling the
/// controller as exactly that SA makes the existing bindings valid again.
fn bound_service_accounts(
    ctx: &Ctx,
    affected: &[(&Object, Uncovered)],
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (ars, _) in affected
        .iter()
        .filter(|(o, _)| o.meta.kind == "AutoscalingRunnerSet")
    {
        let Some(rb_name) = ars.meta.annotation(model::A_CLEANUP_MANAGER_RB) else {
            continue;
        };
        let Some(rb) = ctx
            .snap
            .role_bindings
            .get(Some(ars.meta.ns()), rb_name)
            .found()
        else {
            continue;
        };
        for s in rb.array("/subjects") {
            if s["kind"] == "ServiceAccount"
                && let (Some(ns), Some(name)) = (s["namespace"].as_str(), s["name"].as_str())
            {
                out.insert((ns.to_owned(), name.to_owned()));
            }
        }
    }
    out
}

fn remediation(ctx: &Ctx, affected: &[(&Object, Uncovered)]) -> Vec<String> {
    let versions: BTreeSet<&str> = affected
        .iter()
        .filter(|(o, _)| o.meta.kind == "AutoscalingRunnerSet")
        .filter_map(|(o, _)| o.meta.label(L_VERSION))
        .collect();
    let version = versions
        .iter()
        .next()
        .copied()
        .unwrap_or("<scale-set chart version>");
    let shown = versions.iter().copied().collect::<Vec<_>>().join(", ");
    let mut steps = Vec::new();
    let not_running: BTreeSet<&String> = affected
        .iter()
        .filter_map(|(_, u)| match u {
            Uncovered::NotRunning(cs) => Some(cs),
            Uncovered::NoDeployment => None,
        })
        .flatten()
        .collect();
    if !not_running.is_empty() {
        steps.push(format!(
            "Bring the existing controller back first (see ARC-CONTROLLER-UNHEALTHY for {}).",
            not_running
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if affected.iter().any(|(_, u)| *u == Uncovered::NoDeployment) {
        steps.extend(reinstall_steps(ctx, affected, &shown, version));
    }
    steps.push(
        "Only if no controller can be restored: `kubectl arc orphans --fix --include-confirm` removes the stranded finalizers bottom-up and lists the GitHub registrations left behind.".to_owned(),
    );
    steps
}

/// How to reinstall a controller that the existing bindings accept.
fn reinstall_steps(
    ctx: &Ctx,
    affected: &[(&Object, Uncovered)],
    shown: &str,
    version: &str,
) -> Vec<String> {
    let first = match bound_service_accounts(ctx, affected).into_iter().next() {
        Some((ns, sa)) => {
            let (release, extra) = match sa.strip_suffix("-gha-rs-controller") {
                Some(r) if !r.is_empty() => (r.to_owned(), String::new()),
                _ => ("arc".to_owned(), format!(" --set serviceAccount.name={sa}")),
            };
            format!(
                "Reinstall the controller at the scale sets' chart version ({shown}) as ServiceAccount {ns}/{sa}, which their manager RoleBindings still name: `helm install {release} -n {ns} --create-namespace {CONTROLLER_CHART} --version {version}{extra}`. It then finishes every pending cleanup itself, including GitHub deregistration."
            )
        }
        None => format!(
            "Reinstall the controller at the scale sets' chart version: `helm install arc -n arc-systems --create-namespace {CONTROLLER_CHART} --version {version}`."
        ),
    };
    vec![
        first,
        "If it runs under a different ServiceAccount than the manager RoleBindings name, rebind them (ARC-MANAGER-BINDING-MISMATCH); otherwise it cannot read the GitHub secrets.".to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;

    fn without_controllers(id: &str) -> crate::snapshot::Snapshot {
        let mut snap = testing::scenario(id);
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        snap
    }

    #[test]
    fn no_controller_with_live_scale_set_is_high() {
        let snap = without_controllers("B0");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "AutoscalingRunnerSet",
                "arc-runners",
                "arc-runner-set"
            ))
        );
        assert!(
            f[0].remediation
                .iter()
                .any(|r| r.contains("helm install arc -n arc-systems")),
            "{:?}",
            f[0].remediation
        );
    }

    #[test]
    fn deleting_objects_escalate_to_critical() {
        let mut snap = without_controllers("B0");
        let ers = snap
            .ephemeral_runner_sets
            .items
            .first_mut()
            .expect("B0 has an ERS");
        ers.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].objects.len(), 2, "{:?}", f[0].objects);
        assert_eq!(f[0].objects[1].kind, "EphemeralRunnerSet");
    }

    #[test]
    fn unlisted_deployments_mean_unknown() {
        let mut snap = without_controllers("B0");
        snap.deployments.scope = Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn crashing_controller_leaves_objects_uncovered() {
        let mut snap = testing::scenario("B0");
        let dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        dep.body["status"]["availableReplicas"] = serde_json::json!(0).into();
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(
            f[0].message.contains("no available replica"),
            "{}",
            f[0].message
        );
        assert!(
            !f[0].remediation.iter().any(|r| r.contains("helm install")),
            "{:?}",
            f[0].remediation
        );
    }
}
