//! `ARC-ARS-OUTDATED`: an AutoscalingRunnerSet in `status.phase=Outdated` (arc-domain §3, §4.5):
//! its runners exited with code 7 (deprecated runner version). In 0.14.x the Outdated path runs
//! the whole cleanup — listener, runner sets **and the GitHub scale set** (the
//! `runner-scale-set-id` annotation is removed) — and then waits for a spec change; at HEAD it
//! removes the listener and scales to 0. Jobs queue silently (#4595, #4596, #4601). It looks like
//! a deletion but is not one, and it is never an orphan. One finding per ARS (deleting ones are
//! left to the stuck/progress codes).

use crate::findings::{Finding, Severity};
use crate::model::{self, L_VERSION};
use crate::snapshot::Object;

use super::Ctx;
use crate::model::{SCALE_SET_CHART, release_of};

const CODE: &str = "ARC-ARS-OUTDATED";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .autoscaling_runner_sets
        .iter()
        .filter(|a| !a.meta.is_deleting() && a.str("/status/phase") == Some("Outdated"))
        .map(|a| finding_for(ctx, a))
        .collect()
}

fn finding_for(ctx: &Ctx, ars: &Object) -> Finding {
    let ns = ars.meta.ns();
    let listeners = ctx
        .snap
        .autoscaling_listeners
        .iter()
        .filter(|al| model::listener_target(al) == Some((ns, ars.meta.name)))
        .count();
    let mut state = vec![match model::scale_set_id(ars) {
        None => "its GitHub scale set was deleted (no runner-scale-set-id annotation)".to_owned(),
        Some(id) => format!("it is still registered as scale set {id}"),
    }];
    if listeners == 0 {
        state.push("it has no listener".to_owned());
    }
    let message = format!(
        "AutoscalingRunnerSet {} is Outdated: its runners exited because the runner version is deprecated, so the controller tore down its listener and runners and waits for a spec change; {}. Jobs for it queue forever without an error. This is not a deletion and not an orphan.",
        ars.meta.display(),
        state.join(", ")
    );
    let release = release_of(ars);
    let version = ars
        .meta
        .label(L_VERSION)
        .map(|v| format!(" --version {v}"))
        .unwrap_or_default();
    Finding::new(CODE, Severity::High, message)
        .object(ars.meta.obj_ref())
        .evidence(format!(
            "status.phase=Outdated; runner-scale-set-id {}",
            ars.meta.annotation(model::A_SCALE_SET_ID).unwrap_or("absent")
        ))
        .remediation(format!(
            "Update the runner image in the scale set's template (spec.template.spec.containers[name=runner].image) to a supported actions/runner version in the release values, then `helm upgrade {release} -n {ns} {SCALE_SET_CHART}{version} -f <values>`; the spec change makes the controller register it again and rebuild the listener."
        ))
        .remediation("Do not delete it or strip finalizers: apart from the runner version it is healthy.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;
    use serde_json::json;

    #[test]
    fn outdated_phase_is_high_and_mentions_the_lost_registration() {
        let mut snap = testing::scenario("B0");
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.body["status"]["phase"] = json!("Outdated").into();
        ars.meta.annotations.remove(model::A_SCALE_SET_ID);
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
        assert!(f[0].message.contains("scale set was deleted"));
    }

    #[test]
    fn deleting_outdated_ars_is_left_to_other_codes() {
        let mut snap = testing::scenario("B0");
        let ars = testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        );
        ars.body["status"]["phase"] = json!("Outdated").into();
        ars.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
