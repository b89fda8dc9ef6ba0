//! `ARC-CRD-SKEW`: the installed `actions.github.com` CRDs (or objects stored under them) do not
//! match what the controller binary decodes, so its informers never sync (arc-domain §1.1, §4.1,
//! #4156, #3395).
//!
//! Helm installs CRDs only on first install, so after a controller upgrade the schemas often stay
//! at an older generation. The generation is guessed from the schema's property names (the
//! fingerprint table of arc-domain §1.1): a property introduced in version V proves "≥ V", a
//! property removed in V (or the boolean `status.failures` map of EphemeralRunner) proves "< V",
//! and — only when the preceding era's property is present in the same object — the absence of
//! the next era's property proves "< next". Trimmed or partial schemas therefore never produce a
//! guess on their own.
//!
//! Also reported: a missing CRD, a CRD being deleted, and EphemeralRunners that still store
//! boolean `status.failures` values while the controller is ≥ 0.12 (its list decoding fails).

use crate::findings::{Finding, Severity};
use crate::model::Controller;
use crate::snapshot::ObjectRef;

use super::Ctx;
use crate::model::CONTROLLER_CHART;

#[allow(unused_imports)]
use crate::facts::crd_skew::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.model
        .gha()
        .filter_map(|c| finding_for(ctx, c))
        .collect()
}

fn finding_for(ctx: &Ctx, c: &Controller) -> Option<Finding> {
    let ps = problems(ctx, c);
    if ps.is_empty() {
        return None;
    }
    let version = c.version.clone();
    let shown = version.as_deref().unwrap_or("unknown");
    let (mut crds, others): (Vec<ObjectRef>, Vec<ObjectRef>) = ps
        .iter()
        .flat_map(|p| p.objects.iter().cloned())
        .partition(|o| o.kind == "CustomResourceDefinition");
    crds.sort();
    let message = format!(
        "Controller {}/{} (version {shown}) cannot list/watch all ARC objects: {}. Its informers never sync, so it processes no object of the affected kinds — finalizers included —{} (Helm installs CRDs only on first install and never upgrades them).",
        c.namespace,
        c.name,
        summary(&ps),
        if c.healthy {
            " even though the Deployment is available"
        } else {
            ""
        }
    );
    let mut f = Finding::new(CODE, Severity::Critical, message)
        .objects(crds)
        .objects(others.iter().cloned())
        .object(c.deployment_ref());
    for p in &ps {
        f = f.evidence(if p.detail.is_empty() {
            p.text.clone()
        } else {
            p.detail.clone()
        });
    }
    f = f.remediation(format!(
        "Apply the CRDs that ship with the controller's chart version: `helm pull {CONTROLLER_CHART} --version {shown} --untar && kubectl apply --server-side --force-conflicts -f gha-runner-scale-set-controller/crds/`."
    ));
    if !others.is_empty() {
        let cmds = others
            .iter()
            .map(|r| {
                format!(
                    "kubectl delete ephemeralrunner -n {} {}",
                    r.namespace.as_deref().unwrap_or(""),
                    r.name
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        f = f.remediation(format!(
            "The EphemeralRunners with boolean status.failures are disposable: record their status.runnerId, then delete them ({cmds}); the controller cannot list them, so their finalizers must then be stripped with `kubectl arc orphans --fix --include-confirm`."
        ));
    }
    Some(f.remediation(
        "Never delete a CRD while instances with finalizers exist (the CRD deletion waits for them).",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Version;
    use crate::snapshot::Object;
    use crate::testing;
    use serde_json::Value;
    use serde_json::json;

    fn crd(name: &str, spec_props: Value, status_props: Value) -> Object {
        testing::obj(
            "CustomResourceDefinition",
            json!({"metadata": {"name": name, "uid": format!("uid-{name}")},
                   "spec": {"versions": [{"name": "v1alpha1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": spec_props},
                        "status": {"type": "object", "properties": status_props}}}}}]}}),
        )
    }

    fn er_crd(failure_type: &str) -> Object {
        crd(
            ER_CRD,
            json!({"githubConfigUrl": {"type": "string"}}),
            json!({"failures": {"type": "object", "additionalProperties": {"type": failure_type}}}),
        )
    }

    fn generations(file: &str) -> Vec<(String, Option<Version>, Option<Version>)> {
        let path = testing::scenarios_dir().join("crds").join(file);
        testing::load_docs(&path)
            .into_iter()
            .map(|d| testing::obj("CustomResourceDefinition", d))
            .filter_map(|c| {
                let g = fingerprint(c.meta.name, schema(&c)?);
                Some((c.meta.name.to_owned(), g.lo, g.hi))
            })
            .collect()
    }

    #[test]
    fn fingerprint_uses_presence_removal_and_chains() {
        let old_ars = crd(
            ARS_CRD,
            json!({"listenerTemplate": {}, "listenerMetrics": {}, "githubConfigUrl": {}}),
            json!({"state": {}}),
        );
        let g = fingerprint(ARS_CRD, schema(&old_ars).expect("schema"));
        assert_eq!((g.lo, g.hi), (Some(v(11)), Some(v(12))));
        let new_ars = crd(
            ARS_CRD,
            json!({"vaultConfig": {}, "autoscalingListener": {}}),
            json!({"phase": {}}),
        );
        let g = fingerprint(ARS_CRD, schema(&new_ars).expect("schema"));
        assert_eq!((g.lo, g.hi), (Some(v(14)), None));
        // A trimmed schema without markers proves nothing.
        let trimmed = crd(ARS_CRD, json!({"githubConfigUrl": {}}), json!({}));
        assert_eq!(
            fingerprint(ARS_CRD, schema(&trimmed).expect("schema")),
            CrdGeneration::default()
        );
        let g = fingerprint(ER_CRD, schema(&er_crd("boolean")).expect("schema"));
        assert_eq!(g.hi, Some(FAILURES_AS_TIMESTAMPS));
    }

    #[test]
    fn fixture_crds_fingerprint_to_their_generation() {
        for (name, lo, hi) in generations("gha-0.14.2.yaml") {
            assert!(hi.is_none(), "{name}: {hi:?}");
            assert!(lo.is_some_and(|lo| lo >= v(12)), "{name}: {lo:?}");
        }
        for (name, _, hi) in generations("gha-0.11.0.yaml") {
            assert!(hi.is_some_and(|hi| hi <= v(12)), "{name}: {hi:?}");
        }
        let old = generations("gha-0.9.0.yaml");
        let ars = old.iter().find(|(n, ..)| n == ARS_CRD).expect("ARS CRD");
        assert_eq!(ars.2, Some(v(11)));
    }

    #[test]
    fn healthy_baseline_is_quiet() {
        let snap = testing::scenario("B0");
        let ctx = Ctx::new(&snap);
        assert!(check(&ctx).is_empty());
        let c = ctx.model.gha().next().expect("B0 has a controller");
        assert_eq!(blocking_skew(&ctx, c), None);
    }

    #[test]
    fn old_er_crd_and_boolean_failures_block_a_012_controller() {
        let mut snap = testing::scenario("B0");
        snap.crds.items.retain(|c| c.meta.name != ER_CRD);
        snap.crds.items.push(er_crd("boolean"));
        let er = snap
            .ephemeral_runners
            .items
            .first_mut()
            .expect("B0 has an ER");
        er.body["status"]["failures"] = json!({"3f0c": true}).into();
        let ctx = Ctx::new(&snap);
        let f = check(&ctx);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(f[0].objects[0], crd_ref(ER_CRD));
        assert_eq!(f[0].objects[1].kind, "EphemeralRunner");
        assert_eq!(f[0].objects.len(), 3, "{:?}", f[0].objects);
        assert_eq!(
            f[0].objects.last().map(|o| o.kind.as_str()),
            Some("Deployment")
        );
        let c = ctx.model.gha().next().expect("controller");
        assert!(blocking_skew(&ctx, c).is_some());
    }

    #[test]
    fn missing_and_deleting_crds_are_reported() {
        let mut snap = testing::scenario("B0");
        snap.crds.items.retain(|c| c.meta.name != ERS_CRD);
        if let Some(c) = snap.crds.items.iter_mut().find(|c| c.meta.name == ARS_CRD) {
            c.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        }
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert!(f[0].objects.contains(&crd_ref(ERS_CRD)));
        assert!(f[0].message.contains("not installed"));
    }

    #[test]
    fn unlisted_crds_are_not_reported_missing() {
        let mut snap = testing::scenario("B0");
        snap.crds = crate::snapshot::Collection::default();
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
