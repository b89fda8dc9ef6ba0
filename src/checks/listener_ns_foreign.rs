//! `ARC-LISTENER-NS-FOREIGN`: an AutoscalingListener lives in a namespace where no gha controller
//! runs (arc-domain §4.2) — very likely a listener created by a controller that was moved or
//! uninstalled. No controller caches or has RBAC in that namespace, so nothing will update or
//! clean it up; its pod may still hold a GitHub session for the scale set.
//!
//! The catalog says "outside every LIVE controller's namespace"; a controller that exists in the
//! listener's namespace but is temporarily down is not treated as foreign here (that is
//! `ARC-CONTROLLER-UNHEALTHY`; deleting a sick controller's listeners would be wrong).
//! Severity: critical when the listener's namespace is Terminating (it blocks it), else high.
//! The `[auto]` delete only applies when a live controller serves the listener's scale set (it
//! creates its own listener); otherwise the fix is manual (reinstall the controller).

use crate::findings::{Finding, Fix, Severity};
use crate::model::{self, Controller};
use crate::snapshot::Object;

use super::Ctx;
use super::no_controller::deployments_listed;

const CODE: &str = "ARC-LISTENER-NS-FOREIGN";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    if !deployments_listed(ctx) {
        return Vec::new();
    }
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| ctx.model.gha_in_namespace(al.meta.ns()).next().is_none())
        .map(|al| finding_for(ctx, al))
        .collect()
}

/// The listener's pod (same name, same namespace), if collected.
fn listener_pod<'a>(ctx: &Ctx<'a>, al: &Object) -> Option<&'a Object> {
    ctx.snap.pods.get(al.meta.namespace, al.meta.name).found()
}

fn finding_for(ctx: &Ctx, al: &Object) -> Finding {
    let ns = al.meta.ns();
    let terminating = ctx.snap.namespace_terminating(ns);
    let pod = listener_pod(ctx, al);
    let pod_running =
        pod.is_some_and(|p| p.str("/status/phase") == Some("Running") && !p.meta.is_deleting());
    let target = model::listener_target(al);
    let serving: Vec<&Controller> = target
        .map(|(rns, _)| ctx.model.live_for(rns).collect())
        .unwrap_or_default();
    let severity = if terminating {
        Severity::Critical
    } else {
        Severity::High
    };

    let mut message = format!(
        "AutoscalingListener {} is in namespace {ns}, where no ARC controller runs{}.",
        al.meta.display(),
        live_namespaces(ctx)
    );
    message.push_str(&match target {
        Some((rns, rname)) => format!(
            " It serves scale set {rns}/{rname} and is most likely left over from a controller that was moved or uninstalled."
        ),
        None => " It is most likely left over from a controller that was moved or uninstalled.".to_owned(),
    });
    if al.meta.is_deleting() {
        message.push_str(" It is being deleted, but no controller has access to this namespace to finish its cleanup (see ARC-STUCK-LISTENER).");
    }
    if terminating {
        message.push_str(&format!(
            " Its finalizer blocks the deletion of namespace {ns}."
        ));
    }
    if pod_running {
        message.push_str(" Its pod is still Running with the old configuration: a second listener for the scale set that nothing manages.");
    }

    let mut f = Finding::new(CODE, severity, message).object(al.meta.obj_ref());
    if let Some(p) = pod {
        f = f.object(p.meta.obj_ref()).evidence(format!(
            "listener pod {} phase {}",
            p.meta.display(),
            p.str("/status/phase").unwrap_or("unknown")
        ));
    }
    for c in &serving {
        f = f.object(c.deployment_ref());
    }
    if serving.is_empty() {
        let rns = target.map_or("<runner namespace>", |(n, _)| n);
        return f
            .fix(Fix::Manual)
            .remediation(format!(
                "No live controller serves {rns}: reinstall the controller (ARC-NO-CONTROLLER). Installed in {ns} with the ServiceAccount the manager RoleBindings name, it adopts this listener again."
            ))
            .remediation(format!(
                "Otherwise, once a controller serves {rns} elsewhere, delete this listener: `kubectl delete autoscalinglistener -n {ns} {}`.",
                al.meta.name
            ));
    }
    let live = serving
        .iter()
        .map(|c| format!("{}/{}", c.namespace, c.name))
        .collect::<Vec<_>>()
        .join(", ");
    f.remediation(format!(
        "Delete it (`kubectl arc orphans --fix`, or `kubectl delete autoscalinglistener -n {ns} {}`); the live controller {live} creates its own listener.",
        al.meta.name
    ))
    .remediation(format!(
        "No controller can process its finalizer in {ns}: `kubectl arc orphans --fix` then deletes its pod, ServiceAccount and config/proxy Secrets in {ns} and strips autoscalinglistener.actions.github.com/finalizer (ARC-STUCK-LISTENER). That cleanup also deletes the same-named listener Role/RoleBinding in the runner namespace; the live controller recreates them with its own subject."
    ))
}

fn live_namespaces(ctx: &Ctx) -> String {
    let ns = ctx.model.live_controller_namespaces();
    if ns.is_empty() {
        " (no live ARC controller exists at all)".to_owned()
    } else {
        format!(" (live controllers run in {})", ns.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;

    #[test]
    fn listener_left_in_old_namespace_is_auto_fixable() {
        let snap = testing::b0_controller_moved();
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].fix, Fix::Auto);
        assert_eq!(
            f[0].objects[0],
            ObjectRef::namespaced(
                "AutoscalingListener",
                "arc-systems",
                "arc-runner-set-85f786b5-listener"
            )
        );
    }

    #[test]
    fn terminating_namespace_is_critical() {
        let mut snap = testing::b0_controller_moved();
        let ns = testing::get_mut(&mut snap, "Namespace", None, "arc-systems");
        ns.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::Critical);
    }

    #[test]
    fn without_any_controller_the_fix_is_manual() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fix, Fix::Manual);
    }

    #[test]
    fn crashing_controller_in_the_namespace_is_not_foreign() {
        let mut snap = testing::scenario("B0");
        let dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        dep.body["status"]["availableReplicas"] = serde_json::json!(0).into();
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
