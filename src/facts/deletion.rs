//! Deletion analysis shared by the stuck-deletion checks (`stuck_er`, `stuck_ers`,
//! `stuck_listener`, `stuck_ars`) and by `deletion_progressing`, `ns_terminating` and
//! `secret_terminating`: can a live, authorised controller finish an object's deletion
//! (waiting), or is it stuck — and on which step of the controller's sequence (arc-domain §3)?

use std::fmt;

use crate::findings::Finding;
use crate::model::{Controller, F_REG};
use crate::node::Node;
use crate::snapshot::{Lookup, Object, ObjectRef, Scope};

use super::Ctx;
use super::aux_refs::client_problems;
use super::common::{self, Blocker, CleanupPath};

/// Why one object's cleanup cannot proceed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CauseKind {
    /// No live controller reconciles it (none installed, out of scope, unhealthy, CRD skew).
    Controller(Blocker),
    /// The live controller's ServiceAccount lacks permissions.
    Forbidden { user: String, missing: Vec<String> },
    /// The Actions client cannot be built (missing GitHub secret / proxy / TLS references).
    Client(Vec<String>),
    /// `status.jobId` is set but the runner pod is gone or its node no longer exists.
    JobLost { job: String },
    /// Registration finalizer on a runner that was never registered (`status.runnerId` 0).
    NeverRegistered,
    /// The pod is Terminating on a node that no longer exists.
    PodLost { pod: ObjectRef, node: String },
    /// The controller does not recognise the finalizer string (ERS finalizer rename at HEAD).
    UnknownFinalizer { finalizer: String, version: String },
}

/// One blocked cleanup: what, and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cause {
    /// The object whose cleanup is blocked (may be a child of the object being judged).
    pub subject: ObjectRef,
    pub kind: CauseKind,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CauseKind::Controller(b) => write!(f, "{b}"),
            CauseKind::Forbidden { user, missing } => {
                write!(f, "{user} is not allowed to {}", missing.join(", "))
            }
            CauseKind::Client(problems) => write!(
                f,
                "the controller cannot build its GitHub (Actions) client: {}",
                problems.join("; ")
            ),
            CauseKind::JobLost { job } => write!(
                f,
                "{} still has job {job}, but its runner pod is gone, so GitHub keeps reporting the \
                 job as running and RemoveRunner answers JobStillRunning forever",
                self.subject
            ),
            CauseKind::NeverRegistered => write!(
                f,
                "{} was never registered (status.runnerId is 0), so deregistering it cannot \
                 succeed on released controllers",
                self.subject
            ),
            CauseKind::PodLost { pod, node } => write!(
                f,
                "{pod} is stuck Terminating on node {node}, which no longer exists"
            ),
            CauseKind::UnknownFinalizer { finalizer, version } => write!(
                f,
                "the controller ({version}) does not recognise the finalizer {finalizer}, so it \
                 never finalizes {}",
                self.subject
            ),
        }
    }
}

impl Cause {
    pub fn new(subject: ObjectRef, kind: CauseKind) -> Cause {
        Cause { subject, kind }
    }

    /// Ordered remediation steps for this cause.
    pub fn remediation(&self) -> Vec<String> {
        let s = &self.subject;
        let ns = s.namespace.as_deref().unwrap_or("");
        match &self.kind {
            CauseKind::Controller(Blocker::NoController) => vec![
                "Reinstall the gha-runner-scale-set-controller (same chart version as the scale \
                 set's app.kubernetes.io/version label, any namespace) so it finishes the cleanup \
                 itself, including the GitHub side."
                    .to_owned(),
                "Only if the controller cannot be restored: `kubectl arc orphans --fix --include-confirm` \
                 stripping the stranded finalizers bottom-up (record runner and scale-set IDs for \
                 GitHub cleanup)."
                    .to_owned(),
            ],
            CauseKind::Controller(Blocker::OutOfScope) => vec![format!(
                "Install a controller (same version) that watches namespace {ns}, or move the \
                 scale set into a watched namespace; see ARC-OUT-OF-SCOPE."
            )],
            CauseKind::Controller(Blocker::ControllerUnhealthy(_)) => vec![
                "Get the controller running again (see ARC-CONTROLLER-UNHEALTHY); it then resumes \
                 the cleanup."
                    .to_owned(),
            ],
            CauseKind::Controller(Blocker::CrdSkew(_)) => vec![
                "Apply the CRDs matching the controller version (`kubectl apply --server-side -f \
                 <chart>/crds`); see ARC-CRD-SKEW."
                    .to_owned(),
            ],
            CauseKind::Controller(b) => vec![format!("Resolve: {b}.")],
            CauseKind::Forbidden { user, .. } => vec![
                format!(
                    "Give {user} the missing permissions in {ns}: `helm upgrade` the scale-set \
                     release so its manager RoleBinding names the live controller (see \
                     ARC-MANAGER-BINDING-MISMATCH), or `kubectl arc orphans --fix --include-confirm` the \
                     temporary RoleBinding / subject patch."
                ),
                format!(
                    "If no controller will ever get that access in {ns} (e.g. an old controller \
                     namespace), `kubectl arc orphans --fix` removes the stranded finalizers \
                     bottom-up instead (it asks before touching anything that guards GitHub \
                     state)."
                ),
            ],
            CauseKind::Client(_) => vec![
                "Recreate the missing Secret/ConfigMap with the same name in the same namespace \
                 (see ARC-SECRET-DANGLING / ARC-AUX-REF-DANGLING); the controller then finishes \
                 everything."
                    .to_owned(),
                "If the credentials are gone for good: record the runner IDs (status.runnerId) and \
                 the scale set ID, then `kubectl arc orphans --fix --include-confirm` stripping the \
                 stranded finalizers bottom-up."
                    .to_owned(),
            ],
            CauseKind::JobLost { job } => vec![
                format!(
                    "Cancel workflow job {job} on GitHub (or wait for GitHub to time it out); the \
                     controller then deregisters the runner."
                ),
                format!(
                    "Or `kubectl arc orphans --fix --include-confirm` stripping {F_REG} from {s} (record \
                     status.runnerId for GitHub cleanup; ephemeral runners are removed after about \
                     a day offline)."
                ),
            ],
            CauseKind::NeverRegistered => vec![format!(
                "`kubectl arc orphans --fix --include-confirm` stripping {F_REG} from {s}: nothing is \
                 registered on GitHub for it."
            )],
            CauseKind::PodLost { pod, .. } => vec![format!(
                "Force-delete the pod: `kubectl delete pod {} -n {} --grace-period=0 --force`; \
                 the controller then continues.",
                pod.name,
                pod.namespace.as_deref().unwrap_or("")
            )],
            CauseKind::UnknownFinalizer { finalizer, .. } => vec![format!(
                "Once no EphemeralRunner owned by {s} remains, delete its proxy Secret (if any) \
                 and let `kubectl arc orphans --fix` strip {finalizer}."
            )],
        }
    }
}

/// One unmet step of a deletion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Blocked {
    /// What the step does, as a verb phrase ("deregister the runner from GitHub …").
    pub step: String,
    pub cause: Cause,
}

/// The outcome of analysing a deletion.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// A live, authorised controller is working on it; what it waits for.
    Waiting(Vec<String>),
    /// It cannot finish by itself; the first entry is the first unmet step.
    Stuck(Vec<Blocked>),
    /// Cannot decide (objects or permissions not visible).
    Unknown(Vec<String>),
}

impl Verdict {
    /// Combine step results in order: any stuck step wins, then unknown, then waiting.
    pub fn combine(parts: Vec<Verdict>) -> Verdict {
        let mut stuck = Vec::new();
        let mut unknown = Vec::new();
        let mut waiting = Vec::new();
        for p in parts {
            match p {
                Verdict::Stuck(b) => stuck.extend(b),
                Verdict::Unknown(u) => unknown.extend(u),
                Verdict::Waiting(w) => waiting.extend(w),
            }
        }
        if !stuck.is_empty() {
            Verdict::Stuck(stuck)
        } else if !unknown.is_empty() {
            Verdict::Unknown(unknown)
        } else {
            Verdict::Waiting(waiting)
        }
    }

    /// Relabel every stuck step (a child's blocked step becomes the parent's step).
    pub fn at_step(self, step: &str) -> Verdict {
        match self {
            Verdict::Stuck(b) => Verdict::Stuck(
                b.into_iter()
                    .map(|x| Blocked {
                        step: step.to_owned(),
                        cause: x.cause,
                    })
                    .collect(),
            ),
            v => v,
        }
    }
}

/// The live controller that would process `obj`, or why there is none: `Stuck` at `step` with the
/// controller-level cause, or `Unknown` when that conclusion would rest on Deployments we could not
/// list cluster-wide (a controller may run in a namespace we cannot see).
pub(crate) fn gate<'c>(
    ctx: &'c Ctx<'_>,
    obj: &Object,
    path: CleanupPath,
    step: &str,
) -> Result<&'c Controller, Verdict> {
    let a = common::assess(ctx, obj, path);
    let subject = obj.meta.obj_ref();
    let controller_level = a.blockers.iter().find(|b| {
        matches!(
            b,
            Blocker::NoController
                | Blocker::OutOfScope
                | Blocker::ControllerUnhealthy(_)
                | Blocker::CrdSkew(_)
        )
    });
    let absence_based = |b: &Blocker| !matches!(b, Blocker::CrdSkew(_));
    match (controller_level, a.controller) {
        (Some(b), _) if absence_based(b) && ctx.snap.deployments.scope != Scope::All => {
            Err(Verdict::Unknown(vec![format!(
                "controllers (Deployments not listed cluster-wide) for {subject}"
            )]))
        }
        (Some(b), _) => Err(stuck(
            step,
            Cause::new(subject, CauseKind::Controller(b.clone())),
        )),
        (None, Some(c)) => Ok(c),
        (None, None) => Err(Verdict::Unknown(vec![format!("controller for {subject}")])),
    }
}

/// One permission: (verb, group, resource, namespace).
pub(crate) type Perm<'p> = (&'p str, &'p str, &'p str, &'p str);

/// Check permissions of `c`: `Stuck` with the denied ones, `Unknown` when some answers are
/// unknown, else `Waiting([])`.
pub(crate) fn perms(
    ctx: &Ctx,
    c: &Controller,
    subject: &Object,
    step: &str,
    wanted: &[Perm],
) -> Verdict {
    let user = c.username();
    let mut missing = Vec::new();
    let mut unknown = Vec::new();
    for (verb, group, resource, ns) in wanted {
        let label = format!("{verb} {resource} in {ns}");
        match common::can(ctx, &user, verb, group, resource, ns) {
            Some(true) => {}
            Some(false) => missing.push(label),
            None => unknown.push(format!("whether {user} may {label}")),
        }
    }
    if !missing.is_empty() {
        let kind = CauseKind::Forbidden { user, missing };
        return stuck(step, Cause::new(subject.meta.obj_ref(), kind));
    }
    if !unknown.is_empty() {
        return Verdict::Unknown(unknown);
    }
    Verdict::Waiting(Vec::new())
}

/// A stuck verdict with one cause.
pub(crate) fn stuck(step: &str, cause: Cause) -> Verdict {
    Verdict::Stuck(vec![Blocked {
        step: step.to_owned(),
        cause,
    }])
}

/// Whether the Actions client of `obj` can be built (from our listing).
pub(crate) fn client(ctx: &Ctx, obj: &Object, step: &str) -> Verdict {
    let problems = client_problems(ctx, obj);
    if problems.is_empty() {
        Verdict::Waiting(Vec::new())
    } else {
        stuck(
            step,
            Cause::new(obj.meta.obj_ref(), CauseKind::Client(problems)),
        )
    }
}

/// What we know about a pod.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PodState<'a> {
    Missing,
    Unknown,
    /// On a node that no longer exists (name of the node).
    LostNode(&'a Object, &'a str),
    Present,
}

pub(crate) fn pod_state<'a>(ctx: &Ctx<'a>, ns: &str, name: &str) -> PodState<'a> {
    let nodes = &ctx.snap.nodes;
    match ctx.snap.pods.get(Some(ns), name) {
        Lookup::Missing => PodState::Missing,
        Lookup::Unknown => PodState::Unknown,
        Lookup::Found(p) => match p.str("/spec/nodeName") {
            // An empty node list means nodes were not really collected: never call that "lost".
            Some(node) if !nodes.is_empty() && nodes.get(None, node).is_missing() => {
                PodState::LostNode(p, node)
            }
            _ => PodState::Present,
        },
    }
}

/// The pod `ns/name` is stuck Terminating on a lost node: the cause, about `subject`.
pub(crate) fn lost_terminating_pod(
    ctx: &Ctx,
    ns: &str,
    name: &str,
    subject: &Object,
) -> Option<Cause> {
    match pod_state(ctx, ns, name) {
        PodState::LostNode(p, node) if p.meta.is_deleting() => Some(Cause::new(
            subject.meta.obj_ref(),
            CauseKind::PodLost {
                pod: p.meta.obj_ref(),
                node: node.to_owned(),
            },
        )),
        _ => None,
    }
}

/// `status.jobId` of an ER (string or number), if set.
pub(crate) fn job_id(er: &Object) -> Option<String> {
    match er.at("/status/jobId")? {
        Node::String(s) if !s.is_empty() => Some((*s).to_owned()),
        Node::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `status.runnerId` of an ER (0 when absent).
pub(crate) fn runner_id(er: &Object) -> i64 {
    er.i64("/status/runnerId")
        .or_else(|| er.str("/status/runnerId").and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// " since <timestamp>" for a deleting object.
pub(crate) fn since(obj: &Object) -> String {
    obj.meta
        .deletion_timestamp
        .map(|t| format!(" since {t}"))
        .unwrap_or_default()
}

/// Message fragment for the blocked steps of `primary`: first unmet step, then any later ones.
/// Causes about another object (a child) name it.
pub(crate) fn describe(primary: &Object, blocked: &[Blocked]) -> String {
    let me = primary.meta.obj_ref();
    let mut parts: Vec<String> = Vec::new();
    let mut steps: Vec<&str> = Vec::new();
    let mut causes: Vec<String> = Vec::new();
    for b in blocked {
        // One sentence per step: its first cause.
        if steps.contains(&b.step.as_str()) {
            continue;
        }
        let cause = b.cause.to_string();
        let about = if b.cause.subject == me || cause.contains(&b.cause.subject.to_string()) {
            cause.clone()
        } else {
            format!("for {}: {cause}", b.cause.subject)
        };
        if steps.is_empty() {
            parts.push(format!(
                "the first unmet step of the deletion sequence is to {} — {about}",
                b.step
            ));
        } else if causes.contains(&cause) {
            parts.push(format!(
                "the step to {} is blocked for the same reason",
                b.step
            ));
        } else {
            parts.push(format!("the step to {} is blocked too — {about}", b.step));
        }
        steps.push(&b.step);
        causes.push(cause);
    }
    parts.join("; ")
}

/// Deduplicated remediation steps of all causes, in order.
pub(crate) fn remediations(blocked: &[Blocked]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in blocked {
        for r in b.cause.remediation() {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

/// Remediation steps for `blocked`, plus the NamespaceLifecycle caveat when a permission fix has
/// to happen in a Terminating namespace (new RoleBindings are rejected there; patching the
/// existing manager RoleBinding's subjects still works).
pub(crate) fn remediations_in(ctx: &Ctx, blocked: &[Blocked]) -> Vec<String> {
    let mut out = remediations(blocked);
    let terminating = blocked.iter().find_map(|b| match &b.cause.kind {
        CauseKind::Forbidden { .. } => b
            .cause
            .subject
            .namespace
            .as_deref()
            .filter(|ns| ctx.snap.namespace_terminating(ns)),
        _ => None,
    });
    if let Some(ns) = terminating {
        out.insert(
            1.min(out.len()),
            format!(
                "Namespace {ns} is Terminating, so no new RoleBinding can be created there: patch \
                 the subjects of the existing (terminating) manager RoleBinding to the live \
                 controller's ServiceAccount instead, and undo it after the cleanup."
            ),
        );
    }
    out
}

/// Add evidence about the causes (which objects, which permissions).
pub(crate) fn with_cause_evidence(mut f: Finding, blocked: &[Blocked]) -> Finding {
    for b in blocked {
        f = f.evidence(format!("{}: {}", b.cause.subject, b.cause));
    }
    f
}
