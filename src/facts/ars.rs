//! Deletion analysis of an AutoscalingRunnerSet: the controller's sequence of arc-domain §3, walked step by step to find the first unmet one.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::model::{self, CLEANUP_ANNOTATIONS, Controller, F_ARS, F_CP};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use super::common::{self, CleanupPath};
use super::deletion::{Perm, Verdict, client, gate, perms};
use super::ers;

pub(crate) const STEP_CONTROLLER: &str = "be reconciled by a live controller (step 1)";
pub(crate) const STEP_LISTENER: &str = "stop and delete the listener (step 2)";
pub(crate) const STEP_RUNNERS: &str = "delete the EphemeralRunnerSets and their runners (step 3)";
pub(crate) const STEP_GITHUB: &str = "delete the scale set on GitHub (step 4)";
pub(crate) const STEP_RELEASE: &str = "release the chart objects' cleanup-protection (step 5)";

/// The EphemeralRunnerSets of an ARS: owned by its UID, or (HEAD) named exactly like it.
pub(crate) fn runner_sets<'a>(ctx: &Ctx<'a>, ars: &Object) -> Vec<&'a Object> {
    ctx.snap
        .ephemeral_runner_sets
        .iter()
        .filter(|ers| ers.meta.namespace == ars.meta.namespace)
        .filter(|ers| {
            (!ars.meta.uid.is_empty()
                && ers
                    .meta
                    .owner_references
                    .iter()
                    .any(|o| o.uid == ars.meta.uid))
                || ers.meta.name == ars.meta.name
        })
        .collect()
}

/// Listeners targeting this ARS outside the namespace of controller `c` (invisible to step 2).
pub(crate) fn foreign_listeners<'a>(
    ctx: &Ctx<'a>,
    ars: &Object,
    c: Option<&Controller>,
) -> Vec<&'a Object> {
    let target = (ars.meta.ns(), ars.meta.name);
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| model::listener_target(al) == Some(target))
        .filter(|al| c.is_none_or(|c| al.meta.ns() != c.namespace))
        .collect()
}

/// The Deployment of a controller, as an object reference.
pub(crate) fn controller_ref(c: &Controller) -> ObjectRef {
    ObjectRef::namespaced("Deployment", &c.namespace, &c.name)
}

pub(crate) fn listener_step(ctx: &Ctx, c: &Controller, ars: &Object) -> Verdict {
    let name = model::listener_name(ars, c.naming());
    let al = match ctx
        .snap
        .autoscaling_listeners
        .get(Some(&c.namespace), &name)
    {
        Lookup::Missing => return Verdict::Waiting(Vec::new()),
        Lookup::Unknown => {
            return Verdict::Unknown(vec![format!("listener {}/{name}", c.namespace)]);
        }
        Lookup::Found(al) => al,
    };
    let mut parts = Vec::new();
    if !al.meta.is_deleting() {
        let need: [Perm; 1] = [(
            "delete",
            "actions.github.com",
            "autoscalinglisteners",
            &c.namespace,
        )];
        parts.push(perms(ctx, c, ars, STEP_LISTENER, &need));
    }
    let cleanup = ctx.deletion(al).unwrap_or(Verdict::Waiting(Vec::new()));
    parts.push(cleanup.at_step(STEP_LISTENER));
    parts.push(Verdict::Waiting(vec![format!(
        "listener {} to be deleted",
        al.meta.display()
    )]));
    Verdict::combine(parts)
}

pub(crate) fn runners_step(ctx: &Ctx, c: &Controller, ars: &Object) -> Verdict {
    let r = ars.meta.ns();
    let mut parts = Vec::new();
    for ers in runner_sets(ctx, ars) {
        if !ers.meta.is_deleting() {
            let need: [Perm; 1] = [("delete", "actions.github.com", "ephemeralrunnersets", r)];
            parts.push(perms(ctx, c, ars, STEP_RUNNERS, &need));
        }
        let v = ctx.deletion(ers).unwrap_or(Verdict::Waiting(Vec::new()));
        parts.push(v.at_step(STEP_RUNNERS));
        let n = ers::children(ctx, ers).len();
        parts.push(Verdict::Waiting(vec![format!(
            "EphemeralRunnerSet {} to be deleted ({n} runner(s) left)",
            ers.meta.display()
        )]));
    }
    Verdict::combine(parts)
}

pub(crate) fn github_step(ctx: &Ctx, c: &Controller, ars: &Object) -> Verdict {
    let Some(id) = model::scale_set_id(ars) else {
        return Verdict::Waiting(Vec::new());
    };
    let r = ars.meta.ns();
    let mut need: Vec<Perm> = vec![("get", "", "secrets", r)];
    if ars
        .at("/spec/githubServerTLS/certificateFrom/configMapKeyRef")
        .is_some()
    {
        need.push(("get", "", "configmaps", r));
    }
    Verdict::combine(vec![
        perms(ctx, c, ars, STEP_GITHUB, &need),
        client(ctx, ars, STEP_GITHUB),
        Verdict::Waiting(vec![format!("deletion of scale set {id} on GitHub")]),
    ])
}

/// API group and resource of a chart object kind named in a cleanup annotation.
pub(crate) fn resource_of(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "RoleBinding" => ("rbac.authorization.k8s.io", "rolebindings"),
        "Role" => ("rbac.authorization.k8s.io", "roles"),
        "ServiceAccount" => ("", "serviceaccounts"),
        _ => ("", "secrets"),
    }
}

pub(crate) fn release_step(ctx: &Ctx, c: &Controller, ars: &Object) -> Verdict {
    let r = ars.meta.ns();
    let user = c.username();
    let mut need: Vec<Perm> = Vec::new();
    for (annotation, kind) in CLEANUP_ANNOTATIONS {
        let Some(name) = ars.meta.annotation(annotation) else {
            continue;
        };
        let protected = match ctx.snap.lookup(&ObjectRef::namespaced(kind, r, name)) {
            Lookup::Found(o) => o.meta.has_finalizer(F_CP),
            Lookup::Missing => false,
            Lookup::Unknown => true,
        };
        let (group, resource) = resource_of(kind);
        // A Secret the controller may not even read counts as released (NotFound/Forbidden = done).
        let readable = resource != "secrets"
            || common::can(ctx, &user, "get", "", "secrets", r) != Some(false);
        if protected && readable && !need.iter().any(|p| p.2 == resource) {
            need.push(("patch", group, resource, r));
        }
    }
    perms(ctx, c, ars, STEP_RELEASE, &need)
}

/// Analyse an ARS deletion (also usable for an ARS about to be deleted). None when it carries no
/// ARS finalizer.
pub(crate) fn classify(ctx: &Ctx, ars: &Object) -> Option<Verdict> {
    if !ars.meta.has_finalizer(F_ARS) {
        return None;
    }
    let c = match gate(ctx, ars, CleanupPath::Ars, STEP_CONTROLLER) {
        Ok(c) => c,
        Err(v) => return Some(v),
    };
    let before = Verdict::combine(vec![listener_step(ctx, c, ars), runners_step(ctx, c, ars)]);
    // While earlier steps are in progress, do not claim to wait for the GitHub deletion yet.
    let github = match (&before, github_step(ctx, c, ars)) {
        (Verdict::Waiting(w), Verdict::Waiting(_)) if !w.is_empty() => Verdict::Waiting(Vec::new()),
        (_, g) => g,
    };
    let release = release_step(ctx, c, ars);
    Some(match Verdict::combine(vec![before, github, release]) {
        Verdict::Waiting(w) if w.is_empty() => Verdict::Waiting(vec![
            "release of its chart objects and removal of its finalizer".to_owned(),
        ]),
        v => v,
    })
}
