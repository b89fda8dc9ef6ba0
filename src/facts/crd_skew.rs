//! Which CRD generation is installed versus what each controller decodes (arc-domain §1.1): the CRD/controller skew that keeps a controller from syncing.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::node::Node;

use crate::model::{Controller, Generation, Version};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;

pub(crate) const CODE: &str = "ARC-CRD-SKEW";

pub(crate) const ARS_CRD: &str = "autoscalingrunnersets.actions.github.com";
pub(crate) const AL_CRD: &str = "autoscalinglisteners.actions.github.com";
pub(crate) const ERS_CRD: &str = "ephemeralrunnersets.actions.github.com";
pub(crate) const ER_CRD: &str = "ephemeralrunners.actions.github.com";
pub(crate) const GHA_CRDS: [&str; 4] = [ARS_CRD, AL_CRD, ERS_CRD, ER_CRD];

/// The first version whose ER `status.failures` values are date-time strings.
pub(crate) const FAILURES_AS_TIMESTAMPS: Version = Version::new(0, 12, 0);

pub(crate) const fn v(minor: u64) -> Version {
    Version::new(0, minor, 0)
}

/// A schema property and the version that introduced (or removed) it.
pub(crate) struct Marker {
    /// Path of property names from the schema root, e.g. `["spec", "vaultConfig"]`.
    path: &'static [&'static str],
    since: Version,
}

pub(crate) const fn m(path: &'static [&'static str], since: Version) -> Marker {
    Marker { path, since }
}

/// Properties introduced in a version, per CRD (presence ⇒ generation ≥ since).
pub(crate) fn added(crd: &str) -> &'static [Marker] {
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
pub(crate) fn removed(crd: &str) -> &'static [Marker] {
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
pub(crate) fn chain(crd: &str) -> &'static [Marker] {
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
pub(crate) fn schema(crd: &Object) -> Option<&Node> {
    let versions = crd.array("/spec/versions");
    versions
        .iter()
        .find(|v| v["name"] == "v1alpha1")
        .or_else(|| versions.iter().find(|v| v["storage"] == true))
        .or_else(|| versions.first())
        .and_then(|v| v.pointer("/schema/openAPIV3Schema"))
}

/// The schema node of a property path.
pub(crate) fn property<'a>(root: &'a Node, path: &[&str]) -> Option<&'a Node> {
    path.iter()
        .try_fold(root, |node, p| node.get("properties")?.get(*p))
}

/// Is the property map that would hold `path`'s last element itself described?
pub(crate) fn parent_listed(root: &Node, path: &[&str]) -> bool {
    let parent = &path[..path.len().saturating_sub(1)];
    property(root, parent).is_some_and(|n| n.get("properties").is_some())
}

/// Node type of ER `status.failures` entries: `Some(true)` boolean (< 0.12), `Some(false)`
/// date-time string (≥ 0.12), `None` not described.
pub(crate) fn failures_are_bool(root: &Node) -> Option<bool> {
    let items = property(root, &["status", "failures"])?.get("additionalProperties")?;
    match items.get("type").and_then(Node::as_str) {
        Some("boolean") => Some(true),
        Some("string") => Some(false),
        _ => None,
    }
}

/// The CRD generation bounds `[lo, hi)` inferred from a schema, with the facts used.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct CrdGeneration {
    pub(crate) lo: Option<Version>,
    pub(crate) hi: Option<Version>,
    pub(crate) facts: Vec<String>,
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

pub(crate) fn fingerprint(name: &str, root: &Node) -> CrdGeneration {
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
pub(crate) struct Problem {
    /// Short statement for the message.
    pub(crate) text: String,
    /// Supporting facts for the evidence (empty = `text` says it all).
    pub(crate) detail: String,
    pub(crate) objects: Vec<ObjectRef>,
}

pub(crate) fn crd_ref(name: &str) -> ObjectRef {
    ObjectRef::cluster("CustomResourceDefinition", name)
}

/// Every CRD skew problem for `c` (empty = none found, or cannot tell).
pub(crate) fn problems(ctx: &Ctx, c: &Controller) -> Vec<Problem> {
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
                            crd.meta.deletion_timestamp.unwrap_or("?")
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

pub(crate) fn generation_mismatch(name: &str, root: &Node, controller: Version) -> Option<Problem> {
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
pub(crate) fn bool_failures(ctx: &Ctx, c: &Controller) -> Option<Problem> {
    let ers: Vec<ObjectRef> = ctx
        .snap
        .ephemeral_runners
        .iter()
        .filter(|er| c.covers(er.meta.ns()))
        .filter(|er| {
            er.at("/status/failures")
                .and_then(Node::as_object)
                .is_some_and(|m| m.values().any(Node::is_boolean))
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

/// The problems in one sentence, with same-direction CRD skews grouped.
pub(crate) fn summary(ps: &[Problem]) -> String {
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
