//! Incidents: the findings that share a root cause, told once.
//!
//! Checks report one finding per code and object, so one cause — say, a controller that moved to
//! another namespace — shows up as half a dozen findings that each explain the same story and
//! repeat each other's remedies. Here findings are grouped by what they have in common, derived
//! from the findings' objects and the snapshot, never from a per-scenario table:
//!
//! * the same **object**: a finding's primary object, and any object of a finding that is itself
//!   the subject of another finding, being deleted, or in a dead namespace;
//! * the same **scale set**: the AutoscalingRunnerSet an object belongs to (itself, a listener's
//!   target, the `actions.github.com/scale-set-*` labels, or its owner's);
//! * the same **dead namespace**: Terminating or gone, whether objects live there, point there
//!   (listener targets and labels, RoleBinding subjects), or are that Namespace;
//! * the same **broken controller**: an unhealthy controller Deployment, and the objects it would
//!   serve when no live controller does;
//! * the same **owner** (even a deleted one), or the same name in one namespace for the kinds ARC
//!   names after their owner (a runner's Pod and JIT Secret, a listener's Pod and ServiceAccount).
//!
//! Each group becomes an [`Incident`]: a plain-words headline naming the root cause (derived from
//! the same facts: a controller that moved, a controller that is gone or broken, a dead namespace,
//! else the most causal finding), the severity of its worst finding, and one ordered,
//! de-duplicated remedy built from the findings' own steps. Access gaps (`ARC-NOT-CHECKED`) form
//! an incident of their own. Pure: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::checks::not_checked;
use crate::findings::{Finding, Severity, fnv1a32};
use crate::model::{self, Generation, Model};
use crate::snapshot::{Gap, ObjectRef, Snapshot};

/// The incident every `ARC-NOT-CHECKED` finding belongs to has this cause.
pub const COVERAGE_CAUSE: &str = "not-checked";

/// Findings that share a root cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Stable across runs: a hash of the root cause (`INC-1a2b3c4d`).
    pub id: String,
    pub headline: String,
    /// The most severe of its findings.
    pub severity: Severity,
    /// The root cause, machine-readable: `controller-moved:arc-systems>arc-controller`,
    /// `controller-gone:…`, `controller-broken:…`, `namespace-dead:…`, `not-checked`, or the id
    /// of the most causal finding.
    pub cause: String,
    /// Ids of its findings, the most causal first.
    pub findings: Vec<String>,
    /// What to do, in order.
    pub remedy: Vec<String>,
    /// Indices of its findings in the report's finding list (same order as `findings`).
    #[serde(skip)]
    pub members: Vec<usize>,
}

impl Incident {
    /// The incident of what could not be checked.
    pub fn is_coverage(&self) -> bool {
        self.cause == COVERAGE_CAUSE
    }
}

/// Unique, stable ids for a report's findings ([`Finding::id`], repeats suffixed `-2`, `-3`, …).
pub fn finding_ids(findings: &[Finding]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    findings
        .iter()
        .map(|f| {
            let id = f.id();
            let n = seen.entry(id.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { id } else { format!("{id}-{n}") }
        })
        .collect()
}

/// Group `findings` (whose ids are `ids`) into incidents, most severe first.
pub fn build(
    findings: &[Finding],
    ids: &[String],
    snap: &Snapshot,
    model: &Model,
) -> Vec<Incident> {
    let facts = Facts::new(findings, snap, model);
    let mut dsu = Dsu::new(findings.len());
    let mut owner_of_key: BTreeMap<String, usize> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        for k in facts.keys(f) {
            match owner_of_key.get(&k) {
                Some(&j) => dsu.union(i, j),
                None => {
                    owner_of_key.insert(k, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..findings.len() {
        groups.entry(dsu.find(i)).or_default().push(i);
    }
    let mut out: Vec<Incident> = groups
        .into_values()
        .map(|mut members| {
            members.sort_by_key(|&i| {
                (
                    cause_rank(findings[i].code),
                    std::cmp::Reverse(findings[i].severity),
                    i,
                )
            });
            facts.incident(findings, ids, &members)
        })
        .collect();
    out.sort_by_key(|inc| {
        (
            inc.is_coverage(),
            std::cmp::Reverse(inc.severity),
            inc.members.iter().min().copied(),
        )
    });
    out
}

/// How causal a code is: lower codes explain higher ones (controller and version topology, then
/// the references that break, then what gets stuck or orphaned, then aggregates and advice).
fn cause_rank(code: &str) -> u8 {
    match code {
        "ARC-CRD-SKEW"
        | "ARC-VERSION-SKEW"
        | "ARC-MULTIPLE-CONTROLLERS"
        | "LEG-MULTI-CONTROLLER"
        | "ARC-CONTROLLER-UNHEALTHY"
        | "ARC-NO-CONTROLLER"
        | "LEG-NO-CONTROLLER"
        | "ARC-OUT-OF-SCOPE" => 0,
        "ARC-MANAGER-BINDING-MISMATCH"
        | "ARC-LISTENER-DUPLICATE"
        | "ARC-MANAGER-RBAC-MISSING"
        | "ARC-SECRET-DANGLING"
        | "ARC-SECRET-INVALID"
        | "ARC-SECRET-TERMINATING"
        | "LEG-SECRET-DANGLING"
        | "ARC-AUX-REF-DANGLING"
        | "ARC-SCALESET-ID-DEAD"
        | "ARC-SCALESET-ID-SHARED"
        | "ARC-ARS-OUTDATED"
        | "LEG-WEBHOOK-DANGLING"
        | "ARC-STALE-CLUSTER-RBAC" => 1,
        "ARC-NS-TERMINATING"
        | "ARC-NS-MISSING"
        | "ARC-DELETION-PROGRESSING"
        | "ARC-SCALESET-LEAK-SUSPECTED"
        | "MIXED-MODE"
        | "ARC-NOT-CHECKED" => 3,
        _ => 2,
    }
}

/// Remedy order: steps that protect something must come before anything lets a controller (or
/// the tool) proceed — an ID shared with a live scale set, webhooks that reject finalizer patches.
fn remedy_rank(code: &str) -> u8 {
    match code {
        "ARC-SCALESET-ID-SHARED" | "LEG-WEBHOOK-DANGLING" => 0,
        c => 1 + cause_rank(c),
    }
}

struct Dsu(Vec<usize>);

impl Dsu {
    fn new(n: usize) -> Dsu {
        Dsu((0..n).collect())
    }
    fn find(&mut self, i: usize) -> usize {
        let mut r = i;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut j = i;
        while self.0[j] != r {
            let next = self.0[j];
            self.0[j] = r;
            j = next;
        }
        r
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the smaller index as the root: stable groups.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

/// What the grouping and the headlines read from the snapshot.
struct Facts<'a> {
    snap: &'a Snapshot,
    model: &'a Model,
    /// Objects some finding is about.
    primaries: BTreeSet<&'a ObjectRef>,
}

impl<'a> Facts<'a> {
    fn new(findings: &'a [Finding], snap: &'a Snapshot, model: &'a Model) -> Facts<'a> {
        Facts {
            snap,
            model,
            primaries: findings.iter().filter_map(Finding::primary).collect(),
        }
    }

    fn dead(&self, ns: &str) -> bool {
        self.snap.namespace_terminating(ns) || self.snap.namespace_exists(ns) == Some(false)
    }

    fn deleting(&self, o: &ObjectRef) -> bool {
        self.snap
            .lookup(o)
            .found()
            .is_some_and(|x| x.meta.is_deleting())
    }

    /// Namespaces an object is in, is, or points at.
    fn namespaces_of(&self, o: &ObjectRef) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(ns) = &o.namespace {
            out.insert(ns.clone());
        }
        if o.kind == "Namespace" {
            out.insert(o.name.clone());
        }
        if let Some(obj) = self.snap.lookup(o).found() {
            if let Some(ns) = obj.meta.label(model::L_LISTENER_NS) {
                out.insert(ns.to_owned());
            }
            if matches!(o.kind.as_str(), "RoleBinding" | "ClusterRoleBinding") {
                for s in obj.array("/subjects") {
                    if let Some(ns) = s["namespace"].as_str() {
                        out.insert(ns.to_owned());
                    }
                }
            }
            if o.kind == "AutoscalingListener"
                && let Some((ns, _)) = model::listener_target(obj)
            {
                out.insert(ns.to_owned());
            }
        }
        out
    }

    /// The scale set (`namespace/name`) an object belongs to.
    fn scale_set(&self, o: &ObjectRef) -> Option<String> {
        if o.kind == "AutoscalingRunnerSet" {
            return Some(format!(
                "{}/{}",
                o.namespace.as_deref().unwrap_or(""),
                o.name
            ));
        }
        let mut obj = self.snap.lookup(o).found()?;
        for _ in 0..3 {
            if obj.meta.kind == "AutoscalingListener"
                && let Some((ns, name)) = model::listener_target(obj)
            {
                return Some(format!("{ns}/{name}"));
            }
            if let (Some(ns), Some(name)) = (
                obj.meta.label(model::L_SCALE_SET_NS),
                obj.meta.label(model::L_SCALE_SET_NAME),
            ) {
                return Some(format!("{ns}/{name}"));
            }
            obj = obj
                .meta
                .owner_references
                .iter()
                .find_map(|r| self.snap.by_uid(r.uid))?;
        }
        None
    }

    /// Controllers (Deployment refs) that are not working.
    fn broken_controller(&self, o: &ObjectRef) -> Option<String> {
        if o.kind != "Deployment" {
            return None;
        }
        self.model
            .controllers
            .iter()
            .find(|c| {
                !c.healthy
                    && Some(c.namespace.as_str()) == o.namespace.as_deref()
                    && c.name == o.name
            })
            .map(|c| format!("{}/{}", c.namespace, c.name))
    }

    /// The grouping keys of a finding.
    fn keys(&self, f: &Finding) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        if f.code == not_checked::CODE {
            keys.insert(COVERAGE_CAUSE.to_owned());
            return keys;
        }
        for (i, o) in f.objects.iter().enumerate() {
            let namespaces = self.namespaces_of(o);
            let dead: Vec<&String> = namespaces.iter().filter(|ns| self.dead(ns)).collect();
            if i == 0 || self.primaries.contains(o) || self.deleting(o) || !dead.is_empty() {
                keys.insert(format!("object:{o}"));
            }
            for ns in dead {
                keys.insert(format!("dead-namespace:{ns}"));
            }
            if let Some(s) = self.scale_set(o) {
                keys.insert(format!("scale-set:{s}"));
            }
            if let Some(c) = self.broken_controller(o) {
                keys.insert(format!("controller:{c}"));
            }
            // ARC names a runner's pod and JIT secret, a listener's pod, ServiceAccount and
            // Secret, a scale set's Role and RoleBinding alike: same namespace and name, same thing.
            if matches!(
                o.kind.as_str(),
                "Pod" | "Secret" | "ServiceAccount" | "Role" | "RoleBinding"
            ) && let Some(ns) = &o.namespace
            {
                keys.insert(format!("name:{ns}/{}", o.name));
            }
            // Leftovers of one owner belong together, even when the owner itself is gone.
            if let Some(obj) = self.snap.lookup(o).found() {
                for r in obj.meta.owner_references.iter().filter(|r| r.controller) {
                    keys.insert(format!("owner:{} {}/{}", r.kind, obj.meta.ns(), r.name));
                }
            }
        }
        // Nothing serves these objects: the broken controllers that would have are the cause.
        let generation = match f.code {
            "ARC-NO-CONTROLLER" | "ARC-OUT-OF-SCOPE" => Some(Generation::Gha),
            "LEG-NO-CONTROLLER" => Some(Generation::Legacy),
            _ => None,
        };
        if let (Some(g), Some(ns)) = (generation, f.primary().and_then(|p| p.namespace.as_deref()))
        {
            for c in &self.model.controllers {
                if c.generation == g && !c.healthy && c.covers(ns) {
                    keys.insert(format!("controller:{}/{}", c.namespace, c.name));
                }
            }
        }
        keys
    }

    fn incident(&self, findings: &[Finding], ids: &[String], members: &[usize]) -> Incident {
        let fs: Vec<&Finding> = members.iter().map(|&i| &findings[i]).collect();
        let severity = fs
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        let (cause, headline) = self.root_cause(&fs, &ids[members[0]]);
        let remedy = if cause == COVERAGE_CAUSE {
            let gaps: Vec<&Gap> = self.snap.gaps.iter().collect();
            not_checked::advice(&gaps)
        } else {
            remedy(&fs)
        };
        Incident {
            id: format!("INC-{:08x}", fnv1a32(&cause)),
            headline,
            severity,
            cause,
            findings: members.iter().map(|&i| ids[i].clone()).collect(),
            remedy,
            members: members.to_vec(),
        }
    }

    /// (cause key, headline).
    fn root_cause(&self, fs: &[&Finding], root_id: &str) -> (String, String) {
        if fs.iter().all(|f| f.code == not_checked::CODE) {
            return (
                COVERAGE_CAUSE.to_owned(),
                "Some of the cluster could not be read; those parts were not checked".to_owned(),
            );
        }
        let objects: BTreeSet<&ObjectRef> = fs.iter().flat_map(|f| f.objects.iter()).collect();
        let namespaces: BTreeSet<String> =
            objects.iter().flat_map(|o| self.namespaces_of(o)).collect();
        if let Some(moved) = self.controller_moved(&objects, &namespaces) {
            return moved;
        }
        if let Some(gone) = self.controller_gone(fs, &objects, &namespaces) {
            return gone;
        }
        if let Some(dead) = self.namespace_dead(fs) {
            return dead;
        }
        if let Some(gone) = self.scale_set_gone(fs) {
            return gone;
        }
        let root = fs[0];
        (root_id.to_owned(), headline_for(root))
    }

    /// The controller moved: a live gha controller runs in L, and the incident touches a former
    /// controller namespace F (no controller there now) that holds listeners or that a
    /// RoleBinding still names as the controller's.
    fn controller_moved(
        &self,
        objects: &BTreeSet<&ObjectRef>,
        namespaces: &BTreeSet<String>,
    ) -> Option<(String, String)> {
        let live = self.model.live_controller_namespaces();
        let to = live.first()?;
        let former: Vec<&String> = namespaces
            .iter()
            .filter(|ns| !live.contains(&ns.as_str()))
            .filter(|ns| self.model.controllers.iter().all(|c| &c.namespace != *ns))
            .filter(|ns| {
                objects.iter().any(|o| {
                    (o.kind == "AutoscalingListener" && o.namespace.as_ref() == Some(*ns))
                        || (o.kind == "RoleBinding" && self.binds_controller_sa_in(o, ns))
                })
            })
            .collect();
        let from = former.first()?;
        let dead: Vec<&String> = std::iter::once(*from)
            .chain(namespaces.iter().filter(|ns| *ns != *from))
            .filter(|ns| self.dead(ns))
            .collect();
        let mut clauses = Vec::new();
        for ns in &dead {
            let what = self.stuck_in(ns);
            if self.snap.namespace_terminating(ns) {
                clauses.push(format!(
                    "{ns} is stuck Terminating on {what} the new controller cannot clean up"
                ));
            } else {
                clauses.push(format!("{ns} is gone, but {what} stayed behind in storage"));
            }
        }
        if clauses.is_empty() {
            let left = self.arc_objects_in(objects, from);
            if !left.is_empty() {
                clauses.push(format!("{left} left in {from} will not be cleaned up"));
            }
        }
        let mut headline = format!("The ARC controller moved from {from} to {to}");
        if !clauses.is_empty() {
            headline.push_str("; ");
            headline.push_str(&clauses.join("; "));
        }
        Some((format!("controller-moved:{from}>{to}"), headline))
    }

    /// Does this RoleBinding name a ServiceAccount in `ns` that looks like a controller's?
    fn binds_controller_sa_in(&self, rb: &ObjectRef, ns: &str) -> bool {
        self.snap.lookup(rb).found().is_some_and(|o| {
            o.array("/subjects").iter().any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["namespace"].as_str() == Some(ns)
                    && s["name"].as_str().is_some_and(|n| n.contains("controller"))
            })
        })
    }

    /// "a listener", "2 listeners and a runner", "3 ARC objects": what is stuck in `ns`.
    fn stuck_in(&self, ns: &str) -> String {
        let mut counts: BTreeMap<(u8, &'static str), usize> = BTreeMap::new();
        for (kind, c) in self.snap.collections() {
            let Some((order, word)) = arc_kind_word(kind) else {
                continue;
            };
            let n = c
                .in_namespace(ns)
                .filter(|o| o.meta.is_deleting() && !o.meta.finalizers.is_empty())
                .count();
            if n > 0 {
                *counts.entry((order, word)).or_default() += n;
            }
        }
        if counts.is_empty() {
            return "ARC objects".to_owned();
        }
        let parts: Vec<String> = counts
            .into_iter()
            .map(|((_, word), n)| count_words(n, word))
            .collect();
        join_and(&parts)
    }

    /// "the listener arc-systems/x" or "2 ARC objects", for objects in `ns`.
    fn arc_objects_in(&self, objects: &BTreeSet<&ObjectRef>, ns: &str) -> String {
        let inside: Vec<&&ObjectRef> = objects
            .iter()
            .filter(|o| o.namespace.as_deref() == Some(ns) && arc_kind_word(&o.kind).is_some())
            .collect();
        match inside.as_slice() {
            [] => String::new(),
            [one] => format!("the {}", friendly(one)),
            many => format!("{} ARC objects", many.len()),
        }
    }

    /// No live controller serves these objects: it is broken, or gone.
    fn controller_gone(
        &self,
        fs: &[&Finding],
        objects: &BTreeSet<&ObjectRef>,
        namespaces: &BTreeSet<String>,
    ) -> Option<(String, String)> {
        let f = fs
            .iter()
            .find(|f| matches!(f.code, "ARC-NO-CONTROLLER" | "LEG-NO-CONTROLLER"))?;
        let legacy = f.code.starts_with("LEG-");
        let ns = f
            .primary()
            .and_then(|p| p.namespace.clone())
            .unwrap_or_default();
        let generation = if legacy {
            Generation::Legacy
        } else {
            Generation::Gha
        };
        let subjects: Vec<String> = objects
            .iter()
            .filter(|o| {
                if legacy {
                    o.kind == "Runner"
                } else {
                    o.kind == "AutoscalingRunnerSet"
                }
            })
            .map(|o| friendly(o))
            .collect();
        let what = match subjects.as_slice() {
            [] => format!("the ARC objects in {ns}"),
            [one] => one.clone(),
            many => format!(
                "{} {}",
                many.len(),
                if legacy { "runners" } else { "scale sets" }
            ),
        };
        let deleting = objects.iter().any(|o| self.deleting(o));
        let effect = if deleting {
            format!("nothing can finish the deletion of {what}")
        } else {
            format!("nothing reconciles {what}")
        };
        let who = if legacy {
            "legacy ARC controller"
        } else {
            "ARC controller"
        };
        if let Some(c) = self
            .model
            .controllers
            .iter()
            .find(|c| c.generation == generation && !c.healthy && c.covers(&ns))
        {
            let why = c
                .problems
                .first()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            return Some((
                format!("controller-broken:{}/{}", c.namespace, c.name),
                format!(
                    "The {who} {}/{} is not working{why}, so {effect}",
                    c.namespace, c.name
                ),
            ));
        }
        // A dead namespace other than the objects' own: where the controller was.
        if let Some(d) = namespaces.iter().find(|d| **d != ns && self.dead(d)) {
            let state = if self.snap.namespace_terminating(d) {
                "is stuck Terminating"
            } else {
                "was deleted"
            };
            return Some((
                format!("controller-gone:{d}"),
                format!("Namespace {d} {state} with the {who} in it, so {effect}"),
            ));
        }
        Some((
            format!("controller-gone:{ns}"),
            format!("No {who} is running for {ns}, so {effect}"),
        ))
    }

    /// The scale set the findings belong to is gone; they are its leftovers.
    fn scale_set_gone(&self, fs: &[&Finding]) -> Option<(String, String)> {
        let mut left: BTreeMap<String, BTreeSet<&ObjectRef>> = BTreeMap::new();
        for f in fs {
            if let Some(o) = f.primary()
                && o.kind != "AutoscalingRunnerSet"
                && let Some(s) = self.scale_set(o)
            {
                left.entry(s).or_default().insert(o);
            }
        }
        let (set, objects) = left.into_iter().find(|(s, _)| {
            let (ns, name) = s.split_once('/').unwrap_or(("", s));
            self.snap
                .autoscaling_runner_sets
                .get(Some(ns), name)
                .is_missing()
        })?;
        let mut kinds: Vec<String> = Vec::new();
        for o in &objects {
            let k = arc_kind_word(&o.kind).map_or(o.kind.clone(), |(_, w)| w.to_owned());
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let n = objects.len();
        let what = if n == 1 {
            format!("its {}", kinds[0])
        } else {
            format!("{n} of its objects ({})", kinds.join(", "))
        };
        Some((
            format!("scale-set-gone:{set}"),
            format!("Scale set {set} is gone, but {what} stayed behind"),
        ))
    }

    /// A Terminating or deleted namespace is what the findings have in common.
    fn namespace_dead(&self, fs: &[&Finding]) -> Option<(String, String)> {
        let f = fs
            .iter()
            .find(|f| matches!(f.code, "ARC-NS-TERMINATING" | "ARC-NS-MISSING"))?;
        let ns = f.primary().filter(|p| p.kind == "Namespace")?.name.clone();
        let others: Vec<&&Finding> = fs
            .iter()
            .filter(|g| !matches!(g.code, "ARC-NS-TERMINATING" | "ARC-NS-MISSING"))
            .collect();
        let state = if f.code == "ARC-NS-TERMINATING" {
            format!(
                "Namespace {ns} is stuck Terminating on {}",
                self.stuck_in(&ns)
            )
        } else {
            format!("Namespace {ns} was deleted, but ARC objects still live in or point at it")
        };
        let headline = match others.first() {
            Some(g) => format!("{state}; {}", lower_first(&headline_for(g))),
            None => state,
        };
        Some((format!("namespace-dead:{ns}"), headline))
    }
}

/// Word for an ARC kind, with its bottom-up order.
fn arc_kind_word(kind: &str) -> Option<(u8, &'static str)> {
    Some(match kind {
        "AutoscalingListener" => (0, "listener"),
        "EphemeralRunner" => (1, "runner"),
        "EphemeralRunnerSet" => (2, "runner set"),
        "AutoscalingRunnerSet" => (3, "scale set"),
        "Runner" => (4, "legacy runner"),
        "RunnerReplicaSet" => (5, "legacy runner replica set"),
        "RunnerDeployment" => (6, "legacy runner deployment"),
        "RunnerSet" => (7, "legacy runner set"),
        "HorizontalRunnerAutoscaler" => (8, "legacy autoscaler"),
        _ => return None,
    })
}

fn count_words(n: usize, word: &str) -> String {
    if n == 1 {
        let article = if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if !s.starts_with("ARC") => f.to_lowercase().chain(c).collect(),
        _ => s.to_owned(),
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An object as people say it: `scale set arc-runners/arc-runner-set`, `namespace arc-systems`,
/// `Secret arc-runners/gh-pat`.
pub fn friendly(o: &ObjectRef) -> String {
    let kind = match o.kind.as_str() {
        "AutoscalingRunnerSet" => "scale set",
        "AutoscalingListener" => "listener",
        "EphemeralRunnerSet" => "runner set",
        "EphemeralRunner" => "runner",
        "Namespace" => "namespace",
        "CustomResourceDefinition" => "CRD",
        k => k,
    };
    match &o.namespace {
        Some(ns) => format!("{kind} {ns}/{}", o.name),
        None => format!("{kind} {}", o.name),
    }
}

/// The headline of an incident whose root cause is finding `f` (plain words, per code).
fn headline_for(f: &Finding) -> String {
    let o = f.primary().map(friendly).unwrap_or_else(|| "it".to_owned());
    let cap = upper_first(&o);
    match f.code {
        "ARC-NO-CONTROLLER" => format!("No live ARC controller serves {o}"),
        "ARC-CONTROLLER-UNHEALTHY" => format!("The ARC controller {o} is not working"),
        "ARC-MULTIPLE-CONTROLLERS" => {
            format!("More than one ARC controller reconciles the same scale sets ({o} and others)")
        }
        "ARC-OUT-OF-SCOPE" => {
            format!("{cap} is outside every controller's watched namespaces: nothing reconciles it")
        }
        "ARC-VERSION-SKEW" => format!(
            "The controller is deleting {o}: the scale set's chart version does not match the controller's"
        ),
        "ARC-CRD-SKEW" => format!(
            "The ARC CRDs do not match the controller's version, so it cannot process ARC objects ({o})"
        ),
        "ARC-STALE-CLUSTER-RBAC" => format!(
            "Cluster RBAC of a removed controller was left behind ({o}); reinstalling under that name fails"
        ),
        "ARC-MANAGER-BINDING-MISMATCH" => format!(
            "The live controller cannot work in a runner namespace: {o} names another ServiceAccount"
        ),
        "ARC-MANAGER-RBAC-MISSING" => {
            format!("{cap} lost its manager Role/RoleBinding while it still runs")
        }
        "ARC-LISTENER-NS-FOREIGN" => format!("{cap} was left in a namespace no controller serves"),
        "ARC-SECRET-DANGLING" => format!("The GitHub config {o} does not exist"),
        "ARC-SECRET-INVALID" => format!("The GitHub config {o} cannot be used"),
        "ARC-SECRET-TERMINATING" => {
            format!("The GitHub config {o} is being deleted while it is still needed")
        }
        "ARC-AUX-REF-DANGLING" => {
            format!("{cap}, which scale-set objects reference, does not exist")
        }
        "ARC-CREDENTIAL-COPY-ORPHAN" => {
            format!("A copy of GitHub credentials has no owner any more ({o})")
        }
        "ARC-STUCK-ARS" | "ARC-STUCK-LISTENER" | "ARC-STUCK-ERS" | "ARC-STUCK-ER"
        | "LEG-STUCK-RUNNER" | "LEG-STUCK-POD" => format!("The deletion of {o} is stuck"),
        "ARC-STUCK-PROTECTED" => {
            format!("{cap} is stuck on cleanup-protection that nothing will release")
        }
        "ARC-NS-TERMINATING" => format!("{cap} is stuck Terminating on ARC finalizers"),
        "ARC-NS-MISSING" => {
            format!("{cap} no longer exists, but ARC objects still live in or point at it")
        }
        "ARC-DELETION-PROGRESSING" => {
            format!("{cap} is being deleted; the controller is working on it (nothing is stuck)")
        }
        "ARC-ORPHAN-LISTENER" => format!("{cap} serves a scale set that no longer exists"),
        "ARC-LISTENER-DUPLICATE" => format!("Two listeners serve one scale set; {o} is stale"),
        "ARC-LISTENER-DRIFT" => format!("{cap} points at objects that no longer exist"),
        "ARC-LISTENER-RBAC-ORPHAN" => format!("Listener RBAC without a listener ({o})"),
        "ARC-LISTENER-RBAC-COLLISION" => format!("Two listeners claim the same {o}"),
        "ARC-ORPHAN-LISTENER-CHILD" => format!("Listener leftovers without a listener ({o})"),
        "ARC-ORPHAN-RUNNER-OBJECTS" => format!("Runner leftovers without an owner ({o})"),
        "ARC-ORPHAN-CHART-RBAC" => {
            format!("Scale-set chart leftovers without a scale set ({o})")
        }
        "ARC-HELM-RELEASE-ORPHAN" => format!("A Helm release record is out of sync ({o})"),
        "ARC-ARS-OUTDATED" => {
            format!("{cap} is Outdated (deprecated runner version): its jobs queue and never run")
        }
        "ARC-SCALESET-ID-SHARED" => format!(
            "Several scale sets share one GitHub registration ({o} and others): deleting one deletes it for all"
        ),
        "ARC-SCALESET-LEAK-SUSPECTED" => {
            format!("{cap} is probably still registered on GitHub, with nothing left to delete it")
        }
        "ARC-SCALESET-ID-DEAD" => {
            format!("{cap} points at a GitHub scale set that no longer exists")
        }
        "ARC-SESSION-CONFLICT" => {
            format!("Several listeners fight over one scale set's GitHub session ({o})")
        }
        "LEG-NO-CONTROLLER" => {
            format!("No legacy ARC controller runs, but {o} still carries its finalizers")
        }
        "LEG-WEBHOOK-DANGLING" => {
            format!("{cap} calls a Service that is gone, so every legacy runner update is rejected")
        }
        "LEG-SECRET-DANGLING" => format!("The legacy ARC credentials {o} does not exist"),
        "LEG-MULTI-CONTROLLER" => {
            format!("Several legacy ARC controllers overlap ({o} and others)")
        }
        "MIXED-MODE" => {
            "Both ARC generations are installed (supported; drain and upgrade them separately)"
                .to_owned()
        }
        _ => format!("{}: {o}", f.title),
    }
}

/// Codes a remediation step refers to (`… (see ARC-STUCK-LISTENER)`).
fn referenced_codes(step: &str) -> impl Iterator<Item = &str> {
    step.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-'))
        .filter(|w| {
            (w.starts_with("ARC-") || w.starts_with("LEG-") || *w == "MIXED-MODE")
                && crate::codes::info(w).is_some()
        })
}

/// The shell commands quoted in a step (`…`), other than the generic `kubectl arc orphans --fix`.
fn commands_in(step: &str) -> Vec<String> {
    step.split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("kubectl ") || c.starts_with("helm "))
        .filter(|c| !c.starts_with("kubectl arc "))
        .map(str::to_owned)
        .collect()
}

fn is_warning(step: &str) -> bool {
    step.starts_with("Never ") || step.starts_with("Do not ") || step.starts_with("Don't ")
}

/// One ordered, de-duplicated remedy for the incident's findings (most causal first): each
/// finding's first action step — unless it defers to another finding of the same incident, or
/// is an alternative ("Or …") — then the warnings ("Never …", "Do not …") of all of them.
fn remedy(fs: &[&Finding]) -> Vec<String> {
    let codes: BTreeSet<&str> = fs.iter().map(|f| f.code).collect();
    let primaries: BTreeSet<&ObjectRef> = fs.iter().filter_map(|f| f.primary()).collect();
    // A finding that only sums up others (every other object it names is another finding's
    // subject, e.g. a namespace stuck on them) adds warnings, not steps.
    // So does a namespace whose content has findings of its own.
    let aggregate = |f: &Finding| {
        let sums_up = f.objects.len() > 1 && f.objects[1..].iter().all(|o| primaries.contains(o));
        let holds_others = f.primary().is_some_and(|p| {
            p.kind == "Namespace"
                && primaries
                    .iter()
                    .any(|q| q.namespace.as_deref() == Some(p.name.as_str()))
        });
        fs.len() > 1 && (sums_up || holds_others)
    };
    let mut commands: BTreeSet<String> = BTreeSet::new();
    let mut ordered: Vec<&&Finding> = fs.iter().collect();
    ordered.sort_by_key(|f| remedy_rank(f.code));
    let mut actions: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for f in ordered {
        let mut first = true;
        for step in &f.remediation {
            let step = step.trim();
            if step.is_empty() {
                continue;
            }
            if is_warning(step) {
                // The same warning about another object says nothing new.
                let gist = |w: &str| w.split(':').next().unwrap_or(w).to_owned();
                if !warnings.iter().any(|w| gist(w) == gist(step)) {
                    warnings.push(step.to_owned());
                }
                continue;
            }
            if !std::mem::take(&mut first) {
                continue;
            }
            let defers = referenced_codes(step).any(|c| c != f.code && codes.contains(c));
            if defers || aggregate(f) || step.starts_with("Or ") {
                continue;
            }
            // The same command as an earlier step is the same step.
            let cmds = commands_in(step);
            if cmds.iter().any(|c| commands.contains(c)) {
                continue;
            }
            commands.extend(cmds);
            let mut text = step.to_owned();
            for prefix in ["Preferred: ", "Best: "] {
                if let Some(rest) = text.strip_prefix(prefix) {
                    text = upper_first(rest);
                }
            }
            // Steps are written about the finding's own object ("delete it"): name it unless
            // the step does so at once.
            if let Some(p) = f.primary()
                && !text
                    .split_whitespace()
                    .take(6)
                    .any(|w| w.contains(p.name.as_str()))
            {
                text = format!("{}: {}", upper_first(&friendly(p)), lower_first(&text));
            }
            if !actions.contains(&text) {
                actions.push(text);
            }
        }
    }
    actions.extend(warnings);
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn incidents_of(id: &str) -> (Vec<Finding>, Vec<Incident>) {
        let snap = testing::scenario(id);
        let findings = crate::checks::run(&snap);
        let ids = finding_ids(&findings);
        let incidents = build(&findings, &ids, &snap, &Model::build(&snap));
        (findings, incidents)
    }

    #[test]
    fn the_seed_incident_is_one_with_its_cause_in_the_headline() {
        let (findings, incidents) = incidents_of("S1");
        assert_eq!(findings.len(), 6);
        assert_eq!(incidents.len(), 1);
        let inc = &incidents[0];
        assert_eq!(
            inc.headline,
            "The ARC controller moved from arc-systems to arc-controller; arc-systems is stuck \
             Terminating on a listener the new controller cannot clean up"
        );
        assert_eq!(inc.cause, "controller-moved:arc-systems>arc-controller");
        assert_eq!(inc.severity, Severity::Critical);
        assert_eq!(inc.members.len(), 6);
        // The cause first, the namespace that waits on everything last.
        assert_eq!(
            findings[inc.members[0]].code,
            "ARC-MANAGER-BINDING-MISMATCH"
        );
        assert_eq!(
            findings[*inc.members.last().expect("one")].code,
            "ARC-NS-TERMINATING"
        );
        assert!(inc.remedy[0].contains("helm upgrade arc-runner-set"));
        assert!(
            inc.remedy
                .last()
                .expect("steps")
                .starts_with("Never force the namespace")
        );
        assert!(inc.remedy.len() <= 5, "{:#?}", inc.remedy);
    }

    #[test]
    fn unrelated_problems_stay_apart_and_leftovers_of_one_scale_set_go_together() {
        let (_, s15) = incidents_of("S15");
        let heads: Vec<&str> = s15.iter().map(|i| i.headline.as_str()).collect();
        assert!(
            heads
                .iter()
                .any(|h| h.contains("team-a/team-a-large is Outdated")),
            "{heads:?}"
        );
        assert!(s15.len() >= 2, "{heads:?}");
        let (findings, s17) = incidents_of("S17");
        let gpu = s17
            .iter()
            .find(|i| i.cause == "scale-set-gone:arc-runners/arc-runner-set-gpu")
            .expect("gpu leftovers");
        assert_eq!(gpu.members.len(), 5);
        assert!(
            gpu.members
                .iter()
                .all(|&m| findings[m].code.contains("ORPHAN-CHART-RBAC")
                    || findings[m].code == "ARC-HELM-RELEASE-ORPHAN")
        );
    }

    #[test]
    fn a_broken_or_missing_controller_is_the_cause() {
        let (_, s16) = incidents_of("S16");
        assert_eq!(s16.len(), 1);
        assert!(
            s16[0].cause.starts_with("controller-broken:arc-systems/"),
            "{}",
            s16[0].cause
        );
        let (_, s3) = incidents_of("S3");
        assert_eq!(s3.len(), 1);
        assert_eq!(s3[0].cause, "controller-gone:arc-runners");
        let (_, s14) = incidents_of("S14");
        assert_eq!(s14.len(), 1);
        assert!(
            s14[0]
                .headline
                .starts_with("Namespace actions-runner-system was deleted")
        );
        // Webhooks that reject finalizer patches go first.
        assert!(s14[0].remedy[0].contains("webhook"), "{:#?}", s14[0].remedy);
    }

    #[test]
    fn repeated_steps_are_given_once() {
        let (findings, s5) = incidents_of("S5");
        assert_eq!(s5.len(), 1);
        assert_eq!(findings.len(), 3);
        assert_eq!(s5[0].remedy.len(), 1, "{:#?}", s5[0].remedy);
    }

    #[test]
    fn gaps_form_their_own_incident_and_ids_are_unique() {
        let snap = crate::snapshot::Snapshot {
            gaps: vec![Gap {
                what: "pods/log arc-systems/x [manager]".into(),
                kind: Some("Pod".into()),
                namespace: Some("arc-systems".into()),
                reason: "Internal error occurred: injected fault (HTTP 500)".into(),
            }],
            ..testing::scenario("S1")
        };
        let findings = crate::checks::run(&snap);
        let ids = finding_ids(&findings);
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
        let incidents = build(&findings, &ids, &snap, &Model::build(&snap));
        assert_eq!(incidents.len(), 2);
        let cov = incidents.last().expect("two");
        assert!(cov.is_coverage());
        assert_eq!(cov.remedy.len(), 1);
        assert!(
            cov.remedy[0].contains("kubelet is unreachable"),
            "{:?}",
            cov.remedy
        );
        let mut dup = findings.clone();
        dup.push(findings[0].clone());
        let ids = finding_ids(&dup);
        assert_eq!(ids.last(), Some(&format!("{}-2", ids[0])));
    }
}
