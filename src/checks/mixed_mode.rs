//! `MIXED-MODE` (info): both ARC generations are present — the `actions.github.com` scale-set
//! mode and the legacy `actions.summerwind.dev` mode (arc-domain §0, §4.7). Supported (different
//! CRD groups), but drains, upgrades and uninstalls must treat them separately. A generation
//! counts as present when a controller Deployment of it exists or objects of its kinds exist.
//! The message lists the namespaces each owns. One finding per cluster.

use std::collections::BTreeSet;

use crate::findings::{Finding, Severity};
use crate::model::{Controller, ControllerScope};
use crate::snapshot::Object;

use super::Ctx;

const CODE: &str = "MIXED-MODE";

fn namespaces<'a>(objs: impl Iterator<Item = &'a Object>) -> BTreeSet<&'a str> {
    objs.map(|o| o.meta.ns())
        .filter(|n| !n.is_empty())
        .collect()
}

fn controllers_text(cs: &[&Controller]) -> String {
    if cs.is_empty() {
        return "no controller".to_owned();
    }
    cs.iter()
        .map(|c| {
            let scope = match &c.scope {
                ControllerScope::ClusterWide => "cluster-wide".to_owned(),
                ControllerScope::SingleNamespace(w) => format!("watching {w}"),
            };
            format!("controller {}/{} ({scope})", c.namespace, c.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(set: &BTreeSet<&str>) -> String {
    if set.is_empty() {
        "none".to_owned()
    } else {
        set.iter().copied().collect::<Vec<_>>().join(", ")
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let s = ctx.snap;
    let gha: Vec<&Controller> = ctx.model.gha().collect();
    let legacy: Vec<&Controller> = ctx.model.legacy().collect();
    let gha_ns = namespaces(
        s.autoscaling_runner_sets
            .iter()
            .chain(s.ephemeral_runner_sets.iter())
            .chain(s.ephemeral_runners.iter()),
    );
    let legacy_objects = || {
        s.runners
            .iter()
            .chain(s.runner_deployments.iter())
            .chain(s.runner_replica_sets.iter())
            .chain(s.runner_sets.iter())
            .chain(s.horizontal_runner_autoscalers.iter())
    };
    let legacy_ns = namespaces(legacy_objects());
    let gha_present = !gha.is_empty() || !gha_ns.is_empty();
    let legacy_present = !legacy.is_empty() || !legacy_ns.is_empty();
    if !(gha_present && legacy_present) {
        return Vec::new();
    }
    let message = format!(
        "Both ARC generations are installed. Scale-set mode (actions.github.com): {}; scale sets/runners in {}. Legacy mode (actions.summerwind.dev): {}; runners in {}. Drain, upgrade and uninstall each generation separately.",
        controllers_text(&gha),
        join(&gha_ns),
        controllers_text(&legacy),
        join(&legacy_ns)
    );
    let mut f = Finding::new(CODE, Severity::Info, message)
        .objects(gha.iter().map(|c| c.deployment_ref()))
        .objects(legacy.iter().map(|c| c.deployment_ref()));
    if gha.is_empty()
        && let Some(o) = s.autoscaling_runner_sets.iter().next()
    {
        f = f.object(o.meta.obj_ref());
    }
    if legacy.is_empty()
        && let Some(o) = legacy_objects().next()
    {
        f = f.object(o.meta.obj_ref());
    }
    vec![f.remediation("No action needed. When migrating, move workloads to scale sets first and uninstall the legacy controller last (drain its runners, then delete its webhook configurations and CRDs).")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use serde_json::json;

    #[test]
    fn legacy_runners_next_to_scale_sets_are_info() {
        let mut snap = testing::scenario("B0");
        snap.runner_deployments.items.push(testing::obj(
            "RunnerDeployment",
            json!({"metadata": testing::meta(Some("ci"), "example-rd")}),
        ));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(f[0].message.contains("runners in ci"), "{}", f[0].message);
        assert_eq!(f[0].primary().map(|p| p.kind.as_str()), Some("Deployment"));
    }
}
