//! `ARC-MULTIPLE-CONTROLLERS`: more than one gha controller reconciles the same objects
//! (arc-domain §4.1): ≥2 cluster-wide controllers; ≥1 cluster-wide plus ≥1 single-namespace; or
//! ≥2 single-namespace controllers watching the same namespace. Several single-namespace
//! controllers with distinct watched namespaces are a supported setup and are not reported.
//!
//! Every cluster-wide controller creates its own listener (in its own namespace) for every scale
//! set, so the listeners fight for one GitHub session (`409 … already has an active session`,
//! #3209, #3351) and race on the EphemeralRunnerSet; scale-set chart installs fail with
//! `More than one gha-rs-controller deployment found …`. One finding per cluster.

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{Controller, ControllerScope};

use super::Ctx;

const CODE: &str = "ARC-MULTIPLE-CONTROLLERS";

/// The controllers that overlap, and a sentence saying how.
fn overlapping<'a>(controllers: &[&'a Controller]) -> Option<(Vec<&'a Controller>, String)> {
    let wide = controllers
        .iter()
        .filter(|c| c.scope == ControllerScope::ClusterWide)
        .count();
    let mut single: BTreeMap<&str, Vec<&Controller>> = BTreeMap::new();
    for c in controllers {
        if let ControllerScope::SingleNamespace(w) = &c.scope {
            single.entry(w.as_str()).or_default().push(c);
        }
    }
    let single_count: usize = single.values().map(Vec::len).sum();
    if wide >= 2 || (wide > 0 && single_count > 0) {
        let how = if single_count == 0 {
            format!("{wide} cluster-wide controllers each reconcile every scale set")
        } else {
            format!(
                "{wide} cluster-wide controller(s) and {single_count} single-namespace controller(s) reconcile the same namespaces"
            )
        };
        return Some((controllers.to_vec(), how));
    }
    let shared: Vec<(&str, Vec<&Controller>)> =
        single.into_iter().filter(|(_, cs)| cs.len() >= 2).collect();
    if shared.is_empty() {
        return None;
    }
    let how = shared
        .iter()
        .map(|(w, cs)| format!("{} controllers watch namespace {w}", cs.len()))
        .collect::<Vec<_>>()
        .join("; ");
    Some((shared.into_iter().flat_map(|(_, cs)| cs).collect(), how))
}

fn describe(c: &Controller) -> String {
    let scope = match &c.scope {
        ControllerScope::ClusterWide => "cluster-wide".to_owned(),
        ControllerScope::SingleNamespace(w) => format!("watching {w}"),
    };
    format!(
        "{}/{} ({scope}, version {}, ServiceAccount {}{})",
        c.namespace,
        c.name,
        c.version.as_deref().unwrap_or("unknown"),
        c.service_account,
        if c.healthy { "" } else { ", not running" }
    )
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let controllers: Vec<&Controller> = ctx
        .model
        .gha()
        .filter(|c| {
            ctx.snap
                .deployments
                .get(Some(&c.namespace), &c.name)
                .found()
                .is_some_and(|d| !d.meta.is_deleting())
        })
        .collect();
    let Some((mut involved, how)) = overlapping(&controllers) else {
        return Vec::new();
    };
    involved.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let list = involved
        .iter()
        .map(|c| describe(c))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "More than one ARC controller reconciles the same scale sets: {how} ({list}). Each one creates its own listener per scale set, so listeners fight for the GitHub session (409 \"already has an active session\") and race on the runner sets; new scale-set installs fail with \"More than one gha-rs-controller deployment found\"."
    );
    let mut f = Finding::new(CODE, Severity::High, message)
        .objects(involved.iter().map(|c| c.deployment_ref()));
    for c in &involved {
        f = f.evidence(format!("controller {}", describe(c)));
    }
    vec![
        f.remediation("Pick the controller to keep — normally the one the scale sets' manager RoleBindings name (see ARC-MANAGER-BINDING-MISMATCH).")
            .remediation("Remove the other one in order: its listeners first (`kubectl arc drain <its namespace>`), then `helm uninstall <release> -n <its namespace>`; never just delete its namespace, which strands its listeners (ARC-STUCK-LISTENER).")
            .remediation("Deleting either duplicate listener also deletes the listener Role/RoleBinding they share in the runner namespace; the surviving controller recreates them."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Object, ObjectRef};
    use crate::testing;

    fn push_arg(dep: &mut Object, arg: String) {
        dep.body.edit(|b| {
            if let Some(args) = b
                .pointer_mut("/spec/template/spec/containers/0/args")
                .and_then(|a| a.as_array_mut())
            {
                args.push(serde_json::json!(arg));
            }
        });
    }

    fn second_controller(snap: &mut crate::snapshot::Snapshot, ns: &str, watch: Option<&str>) {
        let mut dep: Object = testing::get_mut(
            snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        )
        .clone();
        dep.meta.namespace = Some(crate::intern::intern(ns));
        dep.meta.name = "arc2-gha-rs-controller";
        dep.meta.uid = "uid-arc2";
        if let Some(w) = watch {
            push_arg(&mut dep, format!("--watch-single-namespace={w}"));
        }
        snap.deployments.items.push(dep);
    }

    #[test]
    fn two_cluster_wide_controllers_are_reported_once() {
        let mut snap = testing::scenario("B0");
        second_controller(&mut snap, "arc-controller", None);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(f[0].objects.len(), 2);
        assert!(f[0].objects.contains(&ObjectRef::namespaced(
            "Deployment",
            "arc-controller",
            "arc2-gha-rs-controller"
        )));
    }

    #[test]
    fn cluster_wide_plus_single_namespace_overlap() {
        let mut snap = testing::scenario("B0");
        second_controller(&mut snap, "team-a", Some("team-a"));
        assert_eq!(check(&Ctx::new(&snap)).len(), 1);
    }

    #[test]
    fn distinct_single_namespace_controllers_are_supported_same_one_is_not() {
        let mut snap = testing::scenario("B0");
        second_controller(&mut snap, "team-a", Some("team-a"));
        let dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        let saved = dep.clone();
        push_arg(dep, "--watch-single-namespace=team-b".to_owned());
        assert!(check(&Ctx::new(&snap)).is_empty());
        let dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        *dep = saved;
        push_arg(dep, "--watch-single-namespace=team-a".to_owned());
        assert_eq!(check(&Ctx::new(&snap)).len(), 1);
    }
}
