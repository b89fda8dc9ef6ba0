//! Shared reasoning for checks: reference states, access answers, and whether a live controller
//! can process an object's finalizers (arc-domain §4.0 "processable" vs "stranded").

use std::fmt;

use crate::model::{self, Controller, F_REG};
use crate::rbac::{self, Attrs};
use crate::snapshot::{Lookup, Object};

use super::Ctx;

/// State of a referenced Secret/ConfigMap/… .
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RefState<'a> {
    Present(&'a Object),
    /// Present but being deleted (held by a finalizer).
    Terminating(&'a Object),
    Missing,
    /// Not listed in that namespace: cannot tell.
    Unknown,
}

impl<'a> RefState<'a> {
    pub fn of(l: Lookup<'a>) -> RefState<'a> {
        match l {
            Lookup::Found(o) if o.meta.is_deleting() => RefState::Terminating(o),
            Lookup::Found(o) => RefState::Present(o),
            Lookup::Missing => RefState::Missing,
            Lookup::Unknown => RefState::Unknown,
        }
    }

    /// The object exists (deleting or not).
    pub fn exists(self) -> bool {
        matches!(self, RefState::Present(_) | RefState::Terminating(_))
    }
}

/// State of a Secret `ns/name`.
pub fn secret<'a>(ctx: &Ctx<'a>, ns: &str, name: &str) -> RefState<'a> {
    RefState::of(ctx.snap.secrets.get(Some(ns), name))
}

/// Is `user` (a ServiceAccount username) allowed `verb group/resource` in `ns`?
/// Uses a collected SubjectAccessReview answer when there is one, else evaluates the collected
/// bindings offline. `None` = unknown.
pub fn can(
    ctx: &Ctx,
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    ns: &str,
) -> Option<bool> {
    let q = model::question(user, verb, group, resource, ns);
    if let Some(a) = ctx.snap.access(&q) {
        return Some(a.allowed);
    }
    rbac::allows(
        ctx.snap,
        user,
        &rbac::service_account_groups(user),
        Attrs {
            verb,
            group,
            resource,
            namespace: ns,
            name: None,
        },
    )
}

/// Which controller cleanup path an object's finalizer needs (arc-domain §4.0 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPath<'a> {
    /// ARS in its namespace.
    Ars,
    /// AL in its namespace, for an ARS in `ars_namespace`.
    Listener { ars_namespace: Option<&'a str> },
    /// ERS or ER in its namespace.
    Runner,
}

/// One permission a cleanup path needs: (verb, group, resource, namespace).
pub type Need = (&'static str, &'static str, &'static str, String);

/// The permissions a controller needs to complete `path` for an object in `ns`.
pub fn needs(path: CleanupPath, ns: &str, controller: &Controller, obj: &Object) -> Vec<Need> {
    let n = |v: &'static str, g: &'static str, r: &'static str, ns: &str| (v, g, r, ns.to_owned());
    match path {
        CleanupPath::Ars => {
            let mut v = vec![
                n("get", "", "secrets", ns),
                n("patch", "rbac.authorization.k8s.io", "rolebindings", ns),
                n("patch", "rbac.authorization.k8s.io", "roles", ns),
                n("patch", "", "serviceaccounts", ns),
                n("patch", "", "secrets", ns),
                n(
                    "delete",
                    "actions.github.com",
                    "autoscalinglisteners",
                    &controller.namespace,
                ),
                n("delete", "actions.github.com", "ephemeralrunnersets", ns),
            ];
            if obj
                .at("/spec/githubServerTLS/certificateFrom/configMapKeyRef")
                .is_some()
            {
                v.push(n("get", "", "configmaps", ns));
            }
            v
        }
        CleanupPath::Listener { ars_namespace } => {
            let mut v = Vec::new();
            for r in ["pods", "secrets", "serviceaccounts"] {
                v.push(n("get", "", r, ns));
                v.push(n("delete", "", r, ns));
            }
            if let Some(r) = ars_namespace {
                v.push(n("delete", "rbac.authorization.k8s.io", "roles", r));
                v.push(n("delete", "rbac.authorization.k8s.io", "rolebindings", r));
            }
            v
        }
        CleanupPath::Runner => vec![
            n("get", "", "secrets", ns),
            n("delete", "", "pods", ns),
            n("delete", "", "secrets", ns),
            n("list", "", "secrets", ns),
            n("delete", "actions.github.com", "ephemeralrunners", ns),
        ],
    }
}

/// Why a live controller cannot complete an object's deletion.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocker {
    /// No gha controller Deployment exists at all.
    NoController,
    /// gha controllers exist, but none watches this namespace.
    OutOfScope,
    /// Controllers cover the namespace but none is healthy.
    ControllerUnhealthy(String),
    /// The controller's informers cannot sync (CRD/controller skew).
    CrdSkew(String),
    /// The controller's ServiceAccount lacks permissions (`user`, human-readable missing list).
    Forbidden { user: String, missing: Vec<String> },
    /// The GitHub config Secret the path needs does not exist.
    SecretMissing { namespace: String, name: String },
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NoController => f.write_str("no ARC controller is installed"),
            Blocker::OutOfScope => f.write_str("no ARC controller watches this namespace"),
            Blocker::ControllerUnhealthy(why) => write!(f, "the controller is not running ({why})"),
            Blocker::CrdSkew(why) => write!(f, "the controller cannot list ARC objects ({why})"),
            Blocker::Forbidden { user, missing } => {
                write!(f, "{user} is not allowed to {}", missing.join(", "))
            }
            Blocker::SecretMissing { namespace, name } => {
                write!(f, "GitHub config Secret {namespace}/{name} does not exist")
            }
        }
    }
}

/// Outcome of asking "can a live controller finish this object's deletion?".
#[derive(Debug, Clone)]
pub struct Assessment<'a> {
    /// The live controller that would process it (first one covering the namespace).
    pub controller: Option<&'a Controller>,
    /// Empty = processable (the controller can do it; wait or fix nothing).
    pub blockers: Vec<Blocker>,
    /// Some permission answers were unknown (not checked).
    pub unknown: Vec<String>,
}

impl Assessment<'_> {
    pub fn processable(&self) -> bool {
        self.blockers.is_empty()
    }

    /// "because …" text for messages.
    pub fn reason(&self) -> String {
        self.blockers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Does the path need the GitHub secret for this object?
fn needs_github(path: CleanupPath, obj: &Object) -> bool {
    match path {
        CleanupPath::Ars => model::scale_set_id(obj).is_some(),
        CleanupPath::Listener { .. } => false,
        CleanupPath::Runner => match obj.meta.kind {
            "EphemeralRunner" => obj.meta.has_finalizer(F_REG),
            // An ERS builds a client only for pending/idle runners; treat any runner as needing it.
            _ => true,
        },
    }
}

/// Assess whether a live controller can process `obj`'s finalizers along `path`.
pub fn assess<'c>(ctx: &'c Ctx<'_>, obj: &Object, path: CleanupPath) -> Assessment<'c> {
    let ns = obj.meta.ns();
    let mut a = Assessment {
        controller: None,
        blockers: Vec::new(),
        unknown: Vec::new(),
    };
    // Without a cluster-wide view of Deployments we cannot tell whether a controller exists.
    if !ctx.snap.deployments.scope.covers(None) {
        a.unknown
            .push("controller Deployments (not listed cluster-wide)".to_owned());
        return a;
    }
    let gha: Vec<&Controller> = ctx.model.gha().collect();
    if gha.is_empty() {
        a.blockers.push(Blocker::NoController);
        return a;
    }
    let covering: Vec<&Controller> = gha.iter().copied().filter(|c| c.covers(ns)).collect();
    if covering.is_empty() {
        a.blockers.push(Blocker::OutOfScope);
        return a;
    }
    let Some(c) = covering.iter().copied().find(|c| c.healthy) else {
        let why = covering
            .iter()
            .flat_map(|c| c.problems.iter().cloned())
            .collect::<Vec<_>>();
        a.blockers
            .push(Blocker::ControllerUnhealthy(why.join(", ")));
        return a;
    };
    a.controller = Some(c);
    if let Some(skew) = super::crd_skew::blocking_skew(ctx, c) {
        a.blockers.push(Blocker::CrdSkew(skew));
    }
    let user = c.username();
    let mut missing = Vec::new();
    for (verb, group, resource, in_ns) in needs(path, ns, c, obj) {
        let label = format!("{verb} {resource} in {in_ns}");
        match can(ctx, &user, verb, group, resource, &in_ns) {
            Some(true) => {}
            Some(false) => missing.push(label),
            None => a.unknown.push(label),
        }
    }
    if !missing.is_empty() {
        a.blockers.push(Blocker::Forbidden { user, missing });
    }
    if needs_github(path, obj)
        && let Some((name, false)) = model::github_config_secret(obj)
        && secret(ctx, ns, name) == RefState::Missing
    {
        a.blockers.push(Blocker::SecretMissing {
            namespace: ns.to_owned(),
            name: name.to_owned(),
        });
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn b0_deletions_would_be_processable() {
        let snap = testing::scenario("B0");
        let ctx = Ctx::new(&snap);
        let ars = snap
            .autoscaling_runner_sets
            .iter()
            .next()
            .expect("B0 has an ARS");
        let a = assess(&ctx, ars, CleanupPath::Ars);
        assert!(a.processable(), "{}", a.reason());
        assert_eq!(
            a.controller.map(|c| c.namespace.as_str()),
            Some("arc-systems")
        );
    }

    #[test]
    fn moved_controller_cannot_read_old_runner_namespace_secrets_after_rebinding_is_lost() {
        let snap = testing::scenario("S1");
        let ctx = Ctx::new(&snap);
        let old_al = snap
            .autoscaling_listeners
            .iter()
            .find(|l| l.meta.ns() == "arc-systems")
            .expect("S1 keeps the old listener");
        let a = assess(
            &ctx,
            old_al,
            CleanupPath::Listener {
                ars_namespace: Some("arc-runners"),
            },
        );
        assert!(!a.processable());
        assert!(
            matches!(a.blockers[0], Blocker::Forbidden { .. }),
            "{:?}",
            a.blockers
        );
    }
}
