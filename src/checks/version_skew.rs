//! `ARC-VERSION-SKEW`: the controller deletes every AutoscalingRunnerSet whose
//! `app.kubernetes.io/version` label it considers foreign (arc-domain §4.1, #2521, #4080, #3233).
//!
//! Rules, as in the controller source:
//! * build version `dev` or `canary-*` accepts everything; identical strings always match;
//! * controller ≥ 0.12: major.minor must match;
//! * controller 0.5–0.11: the strings must be identical;
//! * controller < 0.5: no check;
//! * a controller version that is not a semantic version (e.g. `NA`) rejects every scale set;
//! * an ARS without the label is rejected.
//!
//! The build version is read from the controller's own logs when they were collected (the binary
//! reports it), else from the image tag, else from the Deployment's `app.kubernetes.io/version`.

use crate::findings::{Finding, Severity};
use crate::model::{
    self, CONTROLLER_CHART, Controller, L_VERSION, SCALE_SET_CHART, Version, release_of,
};
use crate::snapshot::Object;

use super::Ctx;

const CODE: &str = "ARC-VERSION-SKEW";

/// The controller's log line when it deletes a foreign ARS.
const DELETE_LOG: &str = "version doesn't match the build version";

fn accepts_everything(build: &str) -> bool {
    build == "dev" || build.starts_with("canary-")
}

/// Would a controller with build version `build` keep an ARS labelled `label`?
/// `Err` explains why it deletes it.
pub(crate) fn compatible(build: &str, label: Option<&str>) -> Result<(), String> {
    if accepts_everything(build) || label == Some(build) {
        return Ok(());
    }
    let Some(bv) = Version::parse(build) else {
        return Err(format!(
            "the controller reports version `{build}`, which is not a semantic version, so it rejects every scale set"
        ));
    };
    if bv < Version::new(0, 5, 0) {
        return Ok(());
    }
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return Err(format!("the scale set has no `{L_VERSION}` label"));
    };
    if bv < Version::new(0, 12, 0) {
        return Err(format!(
            "controller {build} requires the exact same version, the scale set is labelled {label}"
        ));
    }
    match Version::parse(label) {
        Some(lv) if lv.minor_line() == bv.minor_line() => Ok(()),
        Some(_) => Err(format!(
            "controller {build} requires the same major.minor, the scale set is labelled {label}"
        )),
        None => Err(format!(
            "the scale set's version label `{label}` is not a semantic version"
        )),
    }
}

struct Skew<'a> {
    controller: &'a Controller,
    /// The controller's build version (see `model::Controller::version`).
    build: &'a str,
    why: String,
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_runner_sets
        .iter()
        .filter_map(|ars| finding_for(ctx, ars))
        .collect()
}

fn finding_for(ctx: &Ctx, ars: &Object) -> Option<Finding> {
    let ns = ars.meta.ns();
    let label = ars.meta.label(L_VERSION);
    let skews: Vec<Skew> = ctx
        .model
        .gha()
        .filter(|c| c.covers(ns))
        .filter_map(|c| {
            let build = c.version.as_deref()?;
            let why = compatible(build, label).err()?;
            Some(Skew {
                controller: c,
                build,
                why,
            })
        })
        .collect();
    let first = skews.first()?;
    let mut f = Finding::new(CODE, Severity::Critical, message(ctx, ars, &skews))
        .object(ars.meta.obj_ref())
        .objects(skews.iter().map(|s| s.controller.deployment_ref()));
    for s in &skews {
        f = f.evidence(format!(
            "controller {}/{} build version {} (from {}); scale set label {L_VERSION}={}",
            s.controller.namespace,
            s.controller.name,
            s.build,
            s.controller.version_source,
            label.unwrap_or("<missing>")
        ));
    }
    for step in remediation(ars, first) {
        f = f.remediation(step);
    }
    Some(f)
}

fn message(ctx: &Ctx, ars: &Object, skews: &[Skew]) -> String {
    let who = skews
        .iter()
        .map(|s| {
            format!(
                "{}/{} ({})",
                s.controller.namespace, s.controller.name, s.build
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let why = skews.first().map(|s| s.why.as_str()).unwrap_or_default();
    let id = model::scale_set_id(ars)
        .map(|id| format!(" together with its GitHub scale set {id}"))
        .unwrap_or_default();
    let release = release_of(ars);
    if ars.meta.is_deleting() {
        let logged = skews
            .iter()
            .any(|s| !deletion_log_lines(ctx, s.controller, ars.meta.name).is_empty());
        let initiator = if logged {
            "was deleted by the controller itself"
        } else {
            "is being deleted, most likely by the controller itself"
        };
        format!(
            "AutoscalingRunnerSet {} {initiator} (controller-initiated deletion) because of a version mismatch with controller {who}: {why}. The controller removes it{id}, while Helm still lists release {release} as deployed.",
            ars.meta.display()
        )
    } else {
        format!(
            "Controller {who} will delete AutoscalingRunnerSet {}{id} as soon as it reconciles it: {why}. Helm would still list release {release} as deployed.",
            ars.meta.display()
        )
    }
}

fn deletion_log_lines(ctx: &Ctx, c: &Controller, ars_name: &str) -> Vec<String> {
    c.log_lines(ctx.snap)
        .into_iter()
        .filter(|l| l.contains(DELETE_LOG) && l.contains(ars_name))
        .map(str::to_owned)
        .take(2)
        .collect()
}

fn remediation(ars: &Object, s: &Skew) -> Vec<String> {
    let ns = ars.meta.ns();
    let release = release_of(ars);
    let build = s.build;
    let c = s.controller;
    let label = ars.meta.label(L_VERSION).and_then(Version::parse);
    let mut steps = Vec::new();
    match (Version::parse(build), label) {
        (None, _) => steps.push(format!(
            "Run an official controller image whose build reports a real version: `kubectl set image deployment/{} -n {} manager=ghcr.io/actions/gha-runner-scale-set-controller:<chart version>` (or `helm upgrade` the controller release without the custom image).",
            c.name, c.namespace
        )),
        (Some(bv), Some(lv)) if lv < bv => steps.push(format!(
            "Upgrade the scale-set release to the controller's version: `helm upgrade {release} -n {ns} {SCALE_SET_CHART} --version {build} --reuse-values`."
        )),
        (Some(_), Some(lv)) => steps.push(format!(
            "Upgrade the controller to the scale set's version (or a newer patch of the same minor): `helm upgrade <controller release> -n {} {CONTROLLER_CHART} --version {lv} --reuse-values`, then upgrade every scale-set release to match.",
            c.namespace
        )),
        (Some(_), None) => steps.push(format!(
            "Re-render the scale set so it carries the version label: `helm upgrade {release} -n {ns} {SCALE_SET_CHART} --version {build} --reuse-values`."
        )),
    }
    steps.push(format!(
        "If the controller already deleted the scale set, recreate it with `helm upgrade {release} -n {ns} {SCALE_SET_CHART} --version <controller version> --reuse-values` once the versions match."
    ));
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;

    #[test]
    fn rules_follow_the_controller_source() {
        assert!(compatible("0.14.2", Some("0.14.0")).is_ok());
        assert!(compatible("0.14.2", Some("0.13.1")).is_err());
        assert!(compatible("0.12.0", Some("0.12.1")).is_ok());
        assert!(compatible("0.9.1", Some("0.9.0")).is_err());
        assert!(compatible("0.9.1", Some("0.9.1")).is_ok());
        assert!(compatible("0.4.0", Some("0.3.0")).is_ok());
        assert!(compatible("NA", Some("0.9.0")).is_err());
        assert!(compatible("dev", None).is_ok());
        assert!(compatible("canary-1234abc", Some("0.1.0")).is_ok());
        assert!(compatible("0.14.2", None).is_err());
        assert!(compatible("0.14.2", Some("main")).is_err());
    }

    #[test]
    fn older_scale_set_label_is_critical_and_names_ars_then_controller() {
        let mut snap = testing::scenario("B0");
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.labels.insert(L_VERSION, "0.13.1");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].objects,
            vec![
                ObjectRef::namespaced("AutoscalingRunnerSet", "arc-runners", "arc-runner-set"),
                ObjectRef::namespaced("Deployment", "arc-systems", "arc-gha-rs-controller"),
            ]
        );
        assert!(
            f[0].remediation[0].contains("--version 0.14.2"),
            "{:?}",
            f[0].remediation
        );
    }

    #[test]
    fn deleting_ars_is_reported_as_controller_initiated() {
        let mut snap = testing::scenario("B0");
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.labels.insert(L_VERSION, "0.13.1");
        ars.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        let f = check(&Ctx::new(&snap));
        assert!(
            f[0].message.contains("controller-initiated"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn missing_label_is_incompatible() {
        let mut snap = testing::scenario("B0");
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.meta.labels.remove(L_VERSION);
        assert_eq!(check(&Ctx::new(&snap)).len(), 1);
    }
}
