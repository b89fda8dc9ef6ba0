//! `ARC-CONTROLLER-UNHEALTHY`: a gha controller Deployment exists but does not work
//! (arc-domain §4.1): no available replica, pods crash-looping or unable to pull, or a
//! configuration that the image cannot run — the `--update-strategy` flag (removed at HEAD, so a
//! 0.15+/canary image exits with `flag provided but not defined: -update-strategy`) or a missing
//! `CONTROLLER_MANAGER_POD_NAMESPACE` env (`unable to obtain manager pod namespace`). Pod
//! container statuses, termination messages and collected logs are the evidence.

use crate::findings::{Finding, Severity};
use crate::model::{self, Controller, Version};
use crate::snapshot::Object;

use super::Ctx;
use crate::model::CONTROLLER_CHART;

const CODE: &str = "ARC-CONTROLLER-UNHEALTHY";

const UPDATE_STRATEGY_FLAG: &str = "--update-strategy";
const UPDATE_STRATEGY_EXIT: &str = "flag provided but not defined: -update-strategy";
const POD_NS_ENV: &str = "CONTROLLER_MANAGER_POD_NAMESPACE";
const POD_NS_EXIT: &str = "unable to obtain manager pod namespace";
/// First release without `--update-strategy` (#4516; unreleased at HEAD in the snapshot).
const FLAG_REMOVED: Version = Version::new(0, 15, 0);

/// A configuration the image cannot run.
#[derive(Debug, Clone, PartialEq)]
enum Misconfig {
    /// `--update-strategy` passed to an image that no longer defines it.
    UpdateStrategyFlag { image: String },
    /// The manager container lacks the pod-namespace env.
    MissingPodNamespaceEnv,
}

impl Misconfig {
    fn describe(&self) -> String {
        match self {
            Misconfig::UpdateStrategyFlag { image } => format!(
                "its args pass {UPDATE_STRATEGY_FLAG}, which image {image} (0.15+/HEAD) no longer defines, so the manager exits at start (`{UPDATE_STRATEGY_EXIT}`) — the controller chart is older than the image"
            ),
            Misconfig::MissingPodNamespaceEnv => format!(
                "the manager container has no {POD_NS_ENV} env (fieldRef metadata.namespace), so it exits with `{POD_NS_EXIT}` — the Deployment was not rendered by the controller chart or was edited"
            ),
        }
    }
}

fn manager(dep: &Object) -> Option<&crate::node::Node> {
    let cs = model::containers(dep);
    cs.iter()
        .find(|c| c["name"] == "manager")
        .or_else(|| cs.first())
}

/// Is this image a build without `--update-strategy` (0.15+ or a canary/HEAD build)?
fn image_lacks_update_strategy(image: &str) -> bool {
    let tag = image
        .split('@')
        .next()
        .and_then(|i| i.rsplit_once(':'))
        .map(|(_, t)| t)
        .filter(|t| !t.contains('/'));
    match tag {
        Some(t) if t.starts_with("canary") => true,
        Some(t) => Version::parse(t).is_some_and(|v| v >= FLAG_REMOVED),
        None => false,
    }
}

fn misconfigs(ctx: &Ctx, c: &Controller, dep: &Object) -> Vec<Misconfig> {
    let texts = termination_texts(ctx, dep);
    let said = |needle: &str| texts.iter().any(|m| m.contains(needle));
    let mut out = Vec::new();
    let has_flag = c
        .args
        .iter()
        .any(|a| a == UPDATE_STRATEGY_FLAG || a.starts_with("--update-strategy="));
    if has_flag && (image_lacks_update_strategy(&c.image) || said(UPDATE_STRATEGY_EXIT)) {
        out.push(Misconfig::UpdateStrategyFlag {
            image: c.image.clone(),
        });
    }
    let has_env = manager(dep)
        .and_then(|m| m["env"].as_array())
        .is_some_and(|env| env.iter().any(|e| e["name"] == POD_NS_ENV));
    // A running manager without the env would already have exited: only trust the absence when
    // the controller is down (the env could also come from an envFrom source we do not read).
    if (!c.healthy && manager(dep).is_some() && !has_env) || said(POD_NS_EXIT) {
        out.push(Misconfig::MissingPodNamespaceEnv);
    }
    out
}

/// Termination/waiting messages of the controller's pods, and log lines with a known fatal
/// start-up error.
fn termination_texts(ctx: &Ctx, dep: &Object) -> Vec<String> {
    let mut out = Vec::new();
    for p in model::pods_of(ctx.snap, dep) {
        for cs in p.array("/status/containerStatuses") {
            for ptr in [
                "/lastState/terminated/message",
                "/state/terminated/message",
                "/state/waiting/message",
            ] {
                if let Some(m) = cs
                    .pointer(ptr)
                    .and_then(|m| m.as_str())
                    .filter(|m| !m.trim().is_empty())
                {
                    out.push(format!("pod {}: {}", p.meta.name, m.trim()));
                }
            }
        }
        for log in ctx.snap.logs_of(p.meta.ns(), p.meta.name) {
            out.extend(
                log.lines
                    .iter()
                    .filter(|l| l.contains(UPDATE_STRATEGY_EXIT) || l.contains(POD_NS_EXIT))
                    .map(|l| format!("pod {} log: {l}", p.meta.name)),
            );
        }
    }
    out
}

/// Deleting ARC objects this controller should process and no live controller covers.
fn stranded_deletions(ctx: &Ctx, c: &Controller) -> usize {
    let s = ctx.snap;
    s.autoscaling_runner_sets
        .iter()
        .chain(s.autoscaling_listeners.iter())
        .chain(s.ephemeral_runner_sets.iter())
        .chain(s.ephemeral_runners.iter())
        .filter(|o| o.meta.is_deleting() && c.covers(o.meta.ns()))
        .filter(|o| ctx.model.live_for(o.meta.ns()).next().is_none())
        .count()
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.model
        .gha()
        .filter_map(|c| finding_for(ctx, c))
        .collect()
}

fn finding_for(ctx: &Ctx, c: &Controller) -> Option<Finding> {
    let dep = ctx
        .snap
        .deployments
        .get(Some(&c.namespace), &c.name)
        .found()?;
    let bad = misconfigs(ctx, c, dep);
    if c.healthy && bad.is_empty() {
        return None;
    }
    let stranded = stranded_deletions(ctx, c);
    let severity = if stranded > 0 {
        Severity::Critical
    } else {
        Severity::High
    };
    let mut f = Finding::new(CODE, severity, message(c, dep, &bad, stranded))
        .object(c.deployment_ref())
        .objects(
            model::pods_of(ctx.snap, dep)
                .filter(|p| !model::pod_problems(p).is_empty())
                .map(|p| p.meta.obj_ref()),
        );
    for p in &c.problems {
        f = f.evidence(p.clone());
    }
    for t in termination_texts(ctx, dep).into_iter().take(4) {
        f = f.evidence(t);
    }
    for step in remediation(c, dep, &bad) {
        f = f.remediation(step);
    }
    Some(f)
}

fn message(c: &Controller, dep: &Object, bad: &[Misconfig], stranded: usize) -> String {
    let state = if dep.meta.is_deleting() {
        "is being deleted".to_owned()
    } else if c.healthy {
        "is still available but will fail on its next restart".to_owned()
    } else if c.problems.is_empty() {
        "is not working".to_owned()
    } else {
        format!("is not working ({})", c.problems.join("; "))
    };
    let mut m = format!(
        "ARC controller Deployment {}/{} {state}.",
        c.namespace, c.name
    );
    for b in bad {
        m.push_str(&format!(" Cause: {}.", b.describe()));
    }
    if stranded > 0 {
        m.push_str(&format!(
            " {stranded} ARC object(s) being deleted in its namespaces wait for it; their finalizers stay until it runs."
        ));
    } else if !c.healthy {
        m.push_str(" Scale sets it serves get no new runners and no cleanup while it is down.");
    }
    m
}

fn release(dep: &Object) -> &str {
    dep.meta
        .annotation(model::A_HELM_RELEASE)
        .or_else(|| dep.meta.label("app.kubernetes.io/instance"))
        .unwrap_or("<controller release>")
}

fn remediation(c: &Controller, dep: &Object, bad: &[Misconfig]) -> Vec<String> {
    let mut steps = Vec::new();
    let rel = release(dep);
    let ns = &c.namespace;
    let chart_version = c.version.as_deref().unwrap_or("<chart version>");
    for b in bad {
        steps.push(match b {
            Misconfig::UpdateStrategyFlag { image } => format!(
                "Align chart and image: either run the image of the chart's appVersion (`helm upgrade {rel} -n {ns} {CONTROLLER_CHART} --version {chart_version} --reuse-values` without an image override), or upgrade the chart to the release matching {image} so {UPDATE_STRATEGY_FLAG} is no longer rendered."
            ),
            Misconfig::MissingPodNamespaceEnv => format!(
                "Restore the env `{POD_NS_ENV}` (valueFrom.fieldRef.fieldPath: metadata.namespace) on the manager container, preferably by re-rendering the chart: `helm upgrade {rel} -n {ns} {CONTROLLER_CHART} --version {chart_version} --reuse-values`."
            ),
        });
    }
    steps.push(format!(
        "Inspect the pods: `kubectl -n {ns} describe deployment {0}` and `kubectl -n {ns} logs deployment/{0} -c manager --previous`.",
        c.name
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;
    use serde_json::json;

    fn b0_dep(snap: &mut crate::snapshot::Snapshot) -> &mut Object {
        testing::get_mut(
            snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        )
    }

    #[test]
    fn no_available_replica_is_high() {
        let mut snap = testing::scenario("B0");
        b0_dep(&mut snap).body["status"]["availableReplicas"] = json!(0).into();
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "Deployment",
                "arc-systems",
                "arc-gha-rs-controller"
            ))
        );
    }

    #[test]
    fn update_strategy_with_head_image_is_named_and_deletions_escalate() {
        let mut snap = testing::scenario("B0");
        {
            let dep = b0_dep(&mut snap);
            dep.body["status"]["availableReplicas"] = json!(0).into();
            dep.body["spec"]["template"]["spec"]["containers"][0]["image"] =
                json!("ghcr.io/actions/gha-runner-scale-set-controller:0.15.0").into();
        }
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(
            f[0].message.contains(UPDATE_STRATEGY_FLAG),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn missing_pod_namespace_env_is_named_when_the_controller_is_down() {
        let mut snap = testing::scenario("B0");
        let dep = b0_dep(&mut snap);
        dep.body["status"]["availableReplicas"] = json!(0).into();
        dep.body.edit(|b| {
            if let Some(env) = b
                .pointer_mut("/spec/template/spec/containers/0/env")
                .and_then(|e| e.as_array_mut())
            {
                env.retain(|e| e["name"] != POD_NS_ENV);
            }
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(f[0].message.contains(POD_NS_ENV));
    }

    #[test]
    fn image_versions_are_classified() {
        assert!(image_lacks_update_strategy(
            "ghcr.io/actions/gha-runner-scale-set-controller:canary-3c1a2b"
        ));
        assert!(image_lacks_update_strategy("x/y:0.15.1"));
        assert!(!image_lacks_update_strategy("x/y:0.14.2"));
        assert!(!image_lacks_update_strategy("registry:5000/y"));
    }
}
