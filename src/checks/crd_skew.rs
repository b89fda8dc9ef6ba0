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

use serde_json::Value;

use crate::findings::{Finding, Severity};
use crate::model::{Controller, Generation, Version};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use crate::model::CONTROLLER_CHART;

const CODE: &str = "ARC-CRD-SKEW";

const ARS_CRD: &str = "autoscalingrunnersets.actions.github.com";
const AL_CRD: &str = "autoscalinglisteners.actions.github.com";
const ERS_CRD: &str = "ephemeralrunnersets.actions.github.com";
const ER_CRD: &str = "ephemeralrunners.actions.github.com";
const GHA_CRDS: [&str; 4] = [ARS_CRD, AL_CRD, ERS_CRD, ER_CRD];

/// The first version whose ER `status.failures` values are date-time strings.
const FAILURES_AS_TIMESTAMPS: Version = Version::new(0, 12, 0);

const fn v(minor: u64) -> Version {
    Version::new(0, minor, 0)
}

/// A schema property and the version that introduced (or removed) it.
struct Marker {
    /// Path of property names from the schema root, e.g. `["spec", "vaultConfig"]`.
    path: &'static [&'static str],
    since: Version,
}

const fn m(path: &'static [&'static str], since: Version) -> Marker {
    Marker { path, since }
}

/// Properties introduced in a version, per CRD (presence ⇒ generation ≥ since).
fn added(crd: &str) -> &'static [Marker] {
    const ARS: &[Marker] = &[
        m(&["status", "pendingEphemeralRunners"], v(4)),
        m(&["spec", "listenerTemplate"], v(6)),
        m(&["spec", "listenerMetrics"], v(11)),
        m(&["spec", "vaultConfig"], v(12)),
        m(&["spec", "autoscalingListener"], v(14)),
        m(&["spec", "runnerScaleSetLabels"], v(14)),
        m(&["spec", "listenerServiceAccountMetadata"], v(14)),
        m(&["spec", "ephemeralRunnerSetMetadata"], v(14)),
        m(&["status", "phase"], v(14)),
    ];
    const AL: &[Marker] = &[
        m(&["spec", "template"], v(6)),
        m(&["spec", "metrics"], v(11)),
        m(&["spec", "vaultConfig"], v(12)),
        m(&["spec", "configSecretMetadata"], v(14)),
        m(&["spec", "serviceAccountMetadata"], v(14)),
        m(&["spec", "roleMetadata"], v(14)),
    ];
    const ERS: &[Marker] = &[
        m(&["status", "pendingEphemeralRunners"], v(4)),
        m(&["spec", "patchID"], v(9)),
        m(&["spec", "ephemeralRunnerSpec", "vaultConfig"], v(12)),
        m(&["spec", "ephemeralRunnerMetadata"], v(14)),
        m(&["status", "phase"], v(14)),
    ];
    const ER: &[Marker] = &[
        m(&["spec", "vaultConfig"], v(12)),
        m(&["status", "jobId"], v(13)),
        m(&["spec", "ephemeralRunnerConfigSecretMetadata"], v(14)),
    ];
    match crd {
        ARS_CRD => ARS,
        AL_CRD => AL,
        ERS_CRD => ERS,
        ER_CRD => ER,
        _ => &[],
    }
}

/// Properties removed in a version (presence ⇒ generation < since).
fn removed(crd: &str) -> &'static [Marker] {
    const ARS: &[Marker] = &[m(&["status", "state"], v(14))];
    const AL: &[Marker] = &[m(&["spec", "imagePullPolicy"], v(6))];
    const ER: &[Marker] = &[m(&["status", "runnerJITConfig"], v(13))];
    match crd {
        ARS_CRD => ARS,
        AL_CRD => AL,
        ER_CRD => ER,
        _ => &[],
    }
}

/// Successive properties, oldest first: when one is present and the next absent (with its
/// parent object described), the schema predates the next one.
fn chain(crd: &str) -> &'static [Marker] {
    const ARS: &[Marker] = &[
        m(&["spec", "listenerTemplate"], v(6)),
        m(&["spec", "listenerMetrics"], v(11)),
        m(&["spec", "vaultConfig"], v(12)),
        m(&["spec", "autoscalingListener"], v(14)),
    ];
    const AL: &[Marker] = &[
        m(&["spec", "template"], v(6)),
        m(&["spec", "metrics"], v(11)),
        m(&["spec", "vaultConfig"], v(12)),
        m(&["spec", "configSecretMetadata"], v(14)),
    ];
    const ERS: &[Marker] = &[
        m(&["spec", "patchID"], v(9)),
        m(&["spec", "ephemeralRunnerSpec", "vaultConfig"], v(12)),
        m(&["spec", "ephemeralRunnerMetadata"], v(14)),
    ];
    const ER: &[Marker] = &[
        m(&["spec", "vaultConfig"], v(12)),
        m(&["spec", "ephemeralRunnerConfigSecretMetadata"], v(14)),
    ];
    match crd {
        ARS_CRD => ARS,
        AL_CRD => AL,
        ERS_CRD => ERS,
        ER_CRD => ER,
        _ => &[],
    }
}

/// The `openAPIV3Schema` of the served v1alpha1 version (else the storage version).
fn schema(crd: &Object) -> Option<&Value> {
    let versions = crd.array("/spec/versions");
    versions
        .iter()
        .find(|v| v["name"] == "v1alpha1")
        .or_else(|| versions.iter().find(|v| v["storage"] == true))
        .or_else(|| versions.first())
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
}

/// The schema node of a property path.
fn property<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(root, |node, p| node.get("properties")?.get(*p))
}

/// Is the property map that would hold `path`'s last element itself described?
fn parent_listed(root: &Value, path: &[&str]) -> bool {
    let parent = &path[..path.len().saturating_sub(1)];
    property(root, parent).is_some_and(|n| n.get("properties").is_some())
}

/// Value type of ER `status.failures` entries: `Some(true)` boolean (< 0.12), `Some(false)`
/// date-time string (≥ 0.12), `None` not described.
fn failures_are_bool(root: &Value) -> Option<bool> {
    let items = property(root, &["status", "failures"])?.get("additionalProperties")?;
    match items.get("type").and_then(Value::as_str) {
        Some("boolean") => Some(true),
        Some("string") => Some(false),
        _ => None,
    }
}

/// The CRD generation bounds `[lo, hi)` inferred from a schema, with the facts used.
#[derive(Debug, Default, PartialEq)]
struct CrdGeneration {
    lo: Option<Version>,
    hi: Option<Version>,
    facts: Vec<String>,
}

impl CrdGeneration {
    fn raise(&mut self, to: Version, fact: String) {
        if self.lo.is_none_or(|lo| to > lo) {
            self.lo = Some(to);
        }
        self.facts.push(fact);
    }

    fn cap(&mut self, to: Version, fact: String) {
        if self.hi.is_none_or(|hi| to < hi) {
            self.hi = Some(to);
        }
        self.facts.push(fact);
    }

    fn describe(&self) -> String {
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) => format!("a generation from {lo} up to (not including) {hi}"),
            (Some(lo), None) => format!("the {}.{} generation or newer", lo.major, lo.minor),
            (None, Some(hi)) => format!("a generation older than {hi}"),
            (None, None) => "an unknown generation".to_owned(),
        }
    }
}

fn fingerprint(name: &str, root: &Value) -> CrdGeneration {
    let mut g = CrdGeneration::default();
    let dotted = |p: &[&str]| p.join(".");
    for mk in added(name) {
        if property(root, mk.path).is_some() {
            g.raise(
                mk.since,
                format!("has {} (added in {})", dotted(mk.path), mk.since),
            );
        }
    }
    for mk in removed(name) {
        if property(root, mk.path).is_some() {
            g.cap(
                mk.since,
                format!("has {} (removed in {})", dotted(mk.path), mk.since),
            );
        }
    }
    for pair in chain(name).windows(2) {
        let (prev, next) = (&pair[0], &pair[1]);
        if property(root, prev.path).is_some()
            && property(root, next.path).is_none()
            && parent_listed(root, next.path)
        {
            g.cap(
                next.since,
                format!("lacks {} (added in {})", dotted(next.path), next.since),
            );
        }
    }
    if name == ER_CRD {
        match failures_are_bool(root) {
            Some(true) => g.cap(
                FAILURES_AS_TIMESTAMPS,
                "status.failures values are boolean (before 0.12.0)".to_owned(),
            ),
            Some(false) => g.raise(
                FAILURES_AS_TIMESTAMPS,
                "status.failures values are date-time strings (0.12.0+)".to_owned(),
            ),
            None => {}
        }
    }
    // Contradictory facts (a hand-edited schema): do not guess.
    if let (Some(lo), Some(hi)) = (g.lo, g.hi)
        && lo >= hi
    {
        return CrdGeneration::default();
    }
    g
}

/// One problem found for one controller.
struct Problem {
    /// Short statement for the message.
    text: String,
    /// Supporting facts for the evidence (empty = `text` says it all).
    detail: String,
    objects: Vec<ObjectRef>,
}

fn crd_ref(name: &str) -> ObjectRef {
    ObjectRef::cluster("CustomResourceDefinition", name)
}

/// Every CRD skew problem for `c` (empty = none found, or cannot tell).
fn problems(ctx: &Ctx, c: &Controller) -> Vec<Problem> {
    let mut out = Vec::new();
    let version = c.parsed_version;
    for name in GHA_CRDS {
        match ctx.snap.crds.get(None, name) {
            Lookup::Missing => out.push(Problem {
                text: format!("CRD {name} is not installed"),
                detail: String::new(),
                objects: vec![crd_ref(name)],
            }),
            Lookup::Unknown => {}
            Lookup::Found(crd) => {
                if crd.meta.is_deleting() {
                    out.push(Problem {
                        text: format!("CRD {name} is being deleted (it waits for every instance)"),
                        detail: format!(
                            "CRD {name} deletionTimestamp {}",
                            crd.meta.deletion_timestamp.as_deref().unwrap_or("?")
                        ),
                        objects: vec![crd_ref(name)],
                    });
                }
                if let (Some(v), Some(root)) = (version, schema(crd))
                    && let Some(p) = generation_mismatch(name, root, v)
                {
                    out.push(p);
                }
            }
        }
    }
    if version.is_some_and(|v| v >= FAILURES_AS_TIMESTAMPS) {
        out.extend(bool_failures(ctx, c));
    }
    out
}

fn generation_mismatch(name: &str, root: &Value, controller: Version) -> Option<Problem> {
    let g = fingerprint(name, root);
    let newer = g.lo.is_some_and(|lo| controller < lo);
    let older = g.hi.is_some_and(|hi| controller >= hi);
    if !newer && !older {
        return None;
    }
    let direction = if older { "older" } else { "newer" };
    Some(Problem {
        text: format!("CRD {name} is {direction} than controller {controller}"),
        detail: format!(
            "CRD {name} is {} — {direction} than controller {controller}: {}",
            g.describe(),
            g.facts.join(", ")
        ),
        objects: vec![crd_ref(name)],
    })
}

/// EphemeralRunners in the controller's scope that store boolean `status.failures` values.
fn bool_failures(ctx: &Ctx, c: &Controller) -> Option<Problem> {
    let ers: Vec<ObjectRef> = ctx
        .snap
        .ephemeral_runners
        .iter()
        .filter(|er| c.covers(er.meta.ns()))
        .filter(|er| {
            er.at("/status/failures")
                .and_then(Value::as_object)
                .is_some_and(|m| m.values().any(Value::is_boolean))
        })
        .map(|er| er.meta.obj_ref())
        .collect();
    if ers.is_empty() {
        return None;
    }
    let names: Vec<String> = ers
        .iter()
        .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name))
        .collect();
    Some(Problem {
        text: format!(
            "{} EphemeralRunner(s) store boolean status.failures values, which a ≥0.12 controller cannot decode",
            ers.len()
        ),
        detail: format!(
            "EphemeralRunners with boolean status.failures: {}",
            names.join(", ")
        ),
        objects: ers,
    })
}

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
            "The EphemeralRunners with boolean status.failures are disposable: record their status.runnerId, then delete them ({cmds}); the controller cannot list them, so their finalizers must then be stripped with `kubectl arc orphans --fix` (asks for confirmation)."
        ));
    }
    Some(f.remediation(
        "Never delete a CRD while instances with finalizers exist (the CRD deletion waits for them).",
    ))
}

/// The problems in one sentence, with same-direction CRD skews grouped.
fn summary(ps: &[Problem]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for dir in ["older", "newer"] {
        let suffix = format!(" is {dir} than controller ");
        let names: Vec<(&str, &str)> = ps
            .iter()
            .filter_map(|p| p.text.strip_prefix("CRD ")?.split_once(&suffix))
            .collect();
        match names.as_slice() {
            [] => {}
            [(n, v)] => parts.push(format!("CRD {n} is {dir} than controller {v}")),
            many => parts.push(format!(
                "CRDs {} are {dir} than controller {}",
                many.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                many[0].1
            )),
        }
    }
    parts.extend(
        ps.iter()
            .filter(|p| !p.text.contains(" than controller "))
            .map(|p| p.text.clone()),
    );
    parts.join("; ")
}

/// When the controller's informers cannot sync because of CRD skew, why (used by
/// `common::assess` to mark finalizers as stranded).
pub fn blocking_skew(ctx: &Ctx, controller: &Controller) -> Option<String> {
    if controller.generation != Generation::Gha {
        return None;
    }
    let ps = problems(ctx, controller);
    (!ps.is_empty()).then(|| summary(&ps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
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
                let g = fingerprint(&c.meta.name, schema(&c)?);
                Some((c.meta.name.clone(), g.lo, g.hi))
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
        er.body["status"]["failures"] = json!({"3f0c": true});
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
            c.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z".to_owned());
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
