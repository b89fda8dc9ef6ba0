//! `ARC-LISTENER-DUPLICATE`: more than one AutoscalingListener targets the same
//! AutoscalingRunnerSet (arc-domain §4.5).
//!
//! The keeper is the listener a LIVE controller covering the ARS namespace would create: named
//! `model::listener_name(ars, controller.naming())` and living in that controller's namespace.
//! Every other listener of the group is stale: a pre-0.13.1 name after an in-place upgrade
//! (#4346, #4629), a listener left in an old controller namespace, or a second controller's
//! listener. One finding per stale listener: `[stale AL, keeper AL]`.

use crate::findings::{Finding, Fix, Severity};
use crate::model::{self, Controller, ListenerNaming};
use crate::snapshot::{Lookup, Object};

use super::Ctx;
use crate::facts::listeners::target;

#[allow(unused_imports)]
use crate::facts::keeper::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let groups = model::group_by(ctx.snap.autoscaling_listeners.iter(), |al| {
        target(al).map(|(ns, name)| (ns.to_owned(), name.to_owned()))
    });
    let mut out = Vec::new();
    for ((ns, name), als) in groups {
        if als.len() < 2 {
            continue;
        }
        let Lookup::Found(ars) = ctx.snap.autoscaling_runner_sets.get(Some(&ns), &name) else {
            continue;
        };
        out.extend(group_findings(ctx, ars, &als));
    }
    out
}

fn group_findings(ctx: &Ctx, ars: &Object, als: &[&Object]) -> Vec<Finding> {
    let keeper = keeper(ctx, ars);
    if keeper.is_none() && ctx.model.live_for(ars.meta.ns()).next().is_none() {
        // Nobody would keep any of them: ARC-NO-CONTROLLER / ARC-LISTENER-NS-FOREIGN report this.
        return Vec::new();
    }
    als.iter()
        .filter(|al| keeper.is_none_or(|(k, _)| !std::ptr::eq(k, **al)))
        .map(|stale| finding(ctx, ars, stale, keeper))
        .collect()
}

/// Is `stale` the listener of another live controller (not the keeper's) covering the ARS?
fn second_controller(
    ctx: &Ctx,
    ars: &Object,
    stale: &Object,
    keeper: Option<(&Object, &Controller)>,
) -> bool {
    let keeper_ns = keeper.map(|(_, c)| c.namespace.as_str());
    keeper_ns != Some(stale.meta.ns())
        && ctx
            .model
            .live_for(ars.meta.ns())
            .any(|c| c.namespace == stale.meta.ns())
}

/// Why `stale` is not the keeper, in words.
fn reason(
    ctx: &Ctx,
    ars: &Object,
    stale: &Object,
    keeper: Option<(&Object, &Controller)>,
) -> String {
    let old_name = model::listener_name(ars, ListenerNaming::Old);
    let same_ns_live = ctx
        .model
        .live_for(ars.meta.ns())
        .any(|c| c.namespace == stale.meta.ns());
    match keeper {
        Some((k, _)) if k.meta.ns() == stale.meta.ns() && stale.meta.name == old_name => format!(
            "it carries the pre-0.13.1 name (hash of the namespace only); controllers ≥ 0.13.1 name the listener {} \
             and an in-place upgrade leaves the old one behind (#4346)",
            k.meta.name
        ),
        Some((k, _)) if k.meta.ns() == stale.meta.ns() => {
            format!(
                "its name does not match the name {} the live controller computes",
                k.meta.name
            )
        }
        None if same_ns_live => {
            "its name does not match the name the live controller computes".to_owned()
        }
        _ if same_ns_live => format!(
            "a second live controller in {} created it; two controllers run listeners for the same scale set",
            stale.meta.ns()
        ),
        _ if ctx.model.gha().any(|c| c.namespace == stale.meta.ns()) => format!(
            "the controller in {} is not live; the listener is left over from it",
            stale.meta.ns()
        ),
        _ => format!(
            "no controller runs in {} any more; it is left over from a controller that moved or was removed",
            stale.meta.ns()
        ),
    }
}

fn finding(
    ctx: &Ctx,
    ars: &Object,
    stale: &Object,
    keeper: Option<(&Object, &Controller)>,
) -> Finding {
    let keeper_text = match keeper {
        Some((k, c)) => format!(
            "the live controller {}/{} keeps {}",
            c.namespace,
            c.name,
            k.meta.display()
        ),
        None => {
            let expected: Vec<String> = ctx
                .model
                .live_for(ars.meta.ns())
                .map(|c| format!("{}/{}", c.namespace, model::listener_name(ars, c.naming())))
                .collect();
            format!(
                "the live controller's listener {} does not exist yet",
                expected.join(" or ")
            )
        }
    };
    let deleting = if stale.meta.is_deleting() {
        " (already being deleted)"
    } else {
        ""
    };
    let message = format!(
        "AutoscalingListener {}{deleting} is a stale duplicate listener for AutoscalingRunnerSet {}: {}. \
         Meanwhile {keeper_text}; two listeners for one scale set fight over its GitHub session and runner set.",
        stale.meta.display(),
        ars.meta.display(),
        reason(ctx, ars, stale, keeper)
    );
    let second = second_controller(ctx, ars, stale, keeper);
    let mut f = Finding::new(CODE, Severity::High, message)
        .object(stale.meta.obj_ref())
        .objects(keeper.map(|(k, _)| k.meta.obj_ref()));
    for step in remediation(ars, stale, keeper, second) {
        f = f.remediation(step);
    }
    if second {
        f = f.fix(Fix::Manual);
    }
    f
}

fn remediation(
    ars: &Object,
    stale: &Object,
    keeper: Option<(&Object, &Controller)>,
    second: bool,
) -> Vec<String> {
    let (ns, name) = (stale.meta.ns(), &stale.meta.name);
    let ars_ns = ars.meta.ns();
    let mut steps = Vec::new();
    if second {
        steps.push(format!(
            "Two live controllers serve {}: uninstall one of them in order (drain its scale sets first); \
             deleting {ns}/{name} alone is undone because its controller recreates it.",
            ars.meta.display()
        ));
    } else if stale.meta.is_deleting() {
        steps.push(format!(
            "It is already being deleted; finish the deletion as described by ARC-STUCK-LISTENER for {ns}/{name} \
             (`kubectl arc orphans --fix`)."
        ));
    } else {
        steps.push(format!(
            "Delete the stale listener: `kubectl delete autoscalinglistener {name} -n {ns}` (or `kubectl arc orphans --fix`)."
        ));
    }
    if let Some((k, _)) = keeper
        && k.meta.name == *name
    {
        steps.push(format!(
            "Both listeners share Role/RoleBinding {name} in {ars_ns}: deleting the stale one removes them too; \
             the live controller recreates them for {} (check `kubectl get role,rolebinding {name} -n {ars_ns}`).",
            k.meta.display()
        ));
    } else {
        steps.push(format!(
            "Its listener pod, ServiceAccount and config Secret in {ns} and Role/RoleBinding {name} in {ars_ns} go with it."
        ));
    }
    steps
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

    fn listener(ns: &str, name: &str) -> Object {
        testing::obj(
            "AutoscalingListener",
            json!({"metadata":{"name":name,"namespace":ns,"uid":format!("uid-{ns}-{name}"),
                               "finalizers":["autoscalinglistener.actions.github.com/finalizer"]},
                   "spec":{"autoscalingRunnerSetNamespace":"arc-runners","autoscalingRunnerSetName":"arc-runner-set",
                           "ephemeralRunnerSetName":"arc-runner-set-9qd2m","runnerScaleSetId":42}}),
        )
    }

    #[test]
    fn single_listener_is_fine() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn old_scheme_listener_after_upgrade_is_stale() {
        let mut snap = base();
        snap.autoscaling_listeners
            .items
            .push(listener("arc-systems", "arc-runner-set-754b578d-listener"));
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [
                "ARC-LISTENER-DUPLICATE AutoscalingListener arc-systems/arc-runner-set-754b578d-listener"
            ]
        );
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].objects[1].name, L);
        assert!(f[0].message.contains("pre-0.13.1"), "{}", f[0].message);
        assert_eq!(f[0].fix, Fix::Auto);
    }

    #[test]
    fn listener_in_old_controller_namespace_is_stale_and_keeper_is_live_one() {
        // S1 shape: controller moved to arc-controller; old AL (deleting) remains in arc-systems.
        let mut snap = base();
        let dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        dep.meta.namespace = Some("arc-controller");
        let al = testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), L);
        al.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        snap.autoscaling_listeners
            .items
            .push(listener("arc-controller", L));
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-LISTENER-DUPLICATE AutoscalingListener arc-systems/{L}"
            )]
        );
        assert_eq!(f[0].objects[1].namespace.as_deref(), Some("arc-controller"));
        assert!(f[0].message.contains("already being deleted"));
        assert!(
            f[0].message.contains("no controller runs in arc-systems"),
            "{}",
            f[0].message
        );
        assert!(f[0].remediation[1].contains("share Role/RoleBinding"));
    }

    #[test]
    fn no_live_controller_means_no_keeper_and_no_finding() {
        let mut snap = base();
        snap.autoscaling_listeners
            .items
            .push(listener("arc-other", L));
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn missing_keeper_reports_every_listener_as_stale() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        snap.autoscaling_listeners
            .items
            .push(listener("arc-old", L));
        snap.autoscaling_listeners
            .items
            .push(listener("arc-systems", "arc-runner-set-754b578d-listener"));
        let f = run(&snap);
        assert_eq!(f.len(), 2);
        assert!(
            f.iter()
                .all(|f| f.objects.len() == 1 && f.message.contains("does not exist yet"))
        );
    }

    #[test]
    fn second_live_controller_duplicate_is_manual() {
        let mut snap = base();
        let mut dep = snap.deployments.items[0].clone();
        dep.meta.namespace = Some("arc-controller");
        dep.meta.name = "arc2-gha-rs-controller";
        dep.meta.uid = "dep2";
        snap.deployments.items.push(dep);
        snap.autoscaling_listeners
            .items
            .push(listener("arc-controller", L));
        let f = run(&snap);
        // The arc-systems controller is bound by the manager RoleBinding: it keeps its listener.
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-LISTENER-DUPLICATE AutoscalingListener arc-controller/{L}"
            )]
        );
        assert_eq!(f[0].fix, Fix::Manual);
        assert!(
            f[0].message.contains("second live controller"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn listeners_of_a_missing_ars_are_left_to_orphan_listener() {
        let mut snap = base();
        snap.autoscaling_listeners
            .items
            .push(listener("arc-systems", "arc-runner-set-754b578d-listener"));
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn scenarios() {
        let expect: &[(&str, &[&str])] = &[
            ("B0", &[]),
            (
                "S1",
                &[
                    "ARC-LISTENER-DUPLICATE AutoscalingListener arc-systems/arc-runner-set-85f786b5-listener",
                ],
            ),
            (
                "S5",
                &[
                    "ARC-LISTENER-DUPLICATE AutoscalingListener arc-systems/arc-runner-set-754b578d-listener",
                ],
            ),
            (
                "S8",
                &[
                    "ARC-LISTENER-DUPLICATE AutoscalingListener arc-controller/arc-runner-set-85f786b5-listener",
                ],
            ),
            ("S9", &[]),
            (
                "S12",
                &[
                    "ARC-LISTENER-DUPLICATE AutoscalingListener arc-systems/arc-runner-set-85f786b5-listener",
                ],
            ),
            ("S17", &[]),
        ];
        for (id, want) in expect {
            let snap = scenario(id);
            assert_eq!(testing::codes(&run(&snap)), *want, "{id}");
        }
    }
}
