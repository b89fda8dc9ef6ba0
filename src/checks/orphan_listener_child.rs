//! `ARC-ORPHAN-LISTENER-CHILD`: listener Pods, ServiceAccounts and proxy Secrets whose
//! AutoscalingListener is gone (arc-domain §4.5).
//!
//! A listener child is an object owned by an AutoscalingListener (by owner reference, resolved by
//! UID so malformed kinds, #4475, are tolerated) or labelled
//! `app.kubernetes.io/component=runner-scale-set-listener`. It is orphaned when its owner UID
//! resolves to no listener, or — without an owner reference — when no listener of its name exists
//! in its namespace.
//!
//! Split with `ARC-CREDENTIAL-COPY-ORPHAN`: this code reports Pods, ServiceAccounts and
//! `<L>-proxy` Secrets; `<L>-config` Secrets and ≤0.11 mirror Secrets (named `L`) hold GitHub
//! credentials and are reported there only. Objects already being deleted are skipped.

use crate::findings::{Finding, Severity};
use crate::model::L_COMPONENT;
use crate::snapshot::{Lookup, Object};

use super::Ctx;
use crate::facts::listeners::is_running;

const CODE: &str = "ARC-ORPHAN-LISTENER-CHILD";
const LISTENER_COMPONENT: &str = "runner-scale-set-listener";
const AL_KIND: &str = "AutoscalingListener";

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    let pods = snap.pods.iter().filter(|o| is_listener_child(o));
    let sas = snap
        .service_accounts
        .iter()
        .filter(|o| is_listener_child(o));
    let secrets = snap.secrets.iter().filter(|o| {
        o.meta.name.ends_with("-proxy")
            && (is_listener_child(o) || o.meta.name.ends_with("-listener-proxy"))
    });
    pods.chain(sas)
        .chain(secrets)
        .filter(|o| !o.meta.is_deleting())
        .filter_map(|o| orphan(ctx, o))
        .collect()
}

/// Owned by a listener (or by an owner whose kind is unreadable), or labelled as a listener part.
fn is_listener_child(o: &Object) -> bool {
    let owners = &o.meta.owner_references;
    if owners
        .iter()
        .any(|r| r.kind == AL_KIND || malformed(r.kind))
    {
        return true;
    }
    owners.is_empty() && o.meta.label(L_COMPONENT) == Some(LISTENER_COMPONENT)
}

/// Owner kinds written by 0.12.0–0.14.1 (#4475).
fn malformed(kind: &str) -> bool {
    kind.is_empty() || kind == "/"
}

/// The listener name a child belongs to (`L` for the pod/SA, `L` from `L-proxy`).
fn listener_name(o: &Object) -> &str {
    if o.meta.kind == "Secret" {
        o.meta.name.strip_suffix("-proxy").unwrap_or(o.meta.name)
    } else {
        o.meta.name
    }
}

/// Why `o` has no listener, or None when it has one or we cannot tell.
fn missing_owner(ctx: &Ctx, o: &Object) -> Option<String> {
    let ns = o.meta.ns();
    let als = &ctx.snap.autoscaling_listeners;
    let owners: Vec<_> = o
        .meta
        .owner_references
        .iter()
        .filter(|r| r.kind == AL_KIND || malformed(r.kind))
        .collect();
    if let Some(first) = owners.first() {
        if owners.iter().any(|r| als.by_uid(r.uid).is_some()) || !als.scope.covers(Some(ns)) {
            return None;
        }
        return Some(format!(
            "its owner AutoscalingListener {ns}/{} (uid {}) no longer exists",
            first.name, first.uid
        ));
    }
    let name = listener_name(o);
    match als.get(Some(ns), name) {
        Lookup::Missing => Some(format!("no AutoscalingListener {ns}/{name} exists")),
        _ => None,
    }
}

fn orphan(ctx: &Ctx, o: &Object) -> Option<Finding> {
    let why = missing_owner(ctx, o)?;
    let (ns, name) = (o.meta.ns(), &o.meta.name);
    let (what, effect) = match o.meta.kind {
        "Pod" if is_running(o) => (
            "listener Pod",
            " It is still Running and may hold a GitHub session for its scale set, competing with the live listener.",
        ),
        "Pod" => ("listener Pod", " Nothing will restart or remove it."),
        "Secret" => (
            "listener proxy Secret",
            " It holds proxy settings (possibly proxy credentials) that nothing uses.",
        ),
        _ => ("listener ServiceAccount", " Nothing uses it any more."),
    };
    let message = format!("The {what} {ns}/{name} is left behind: {why}.{effect}");
    let kind = o.meta.kind.to_lowercase();
    Some(
        Finding::new(CODE, Severity::Medium, message)
            .object(o.meta.obj_ref())
            .remediation(format!("Delete it: `kubectl delete {kind} {name} -n {ns}` (or `kubectl arc orphans --fix`).")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{L, base, scenario};
    use crate::snapshot::{Scope, Snapshot};
    use crate::testing;
    use serde_json::json;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    #[test]
    fn children_of_a_live_listener_are_fine() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn pod_and_sa_of_a_gone_listener_are_orphans_but_config_secret_is_not_ours() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [
                format!("ARC-ORPHAN-LISTENER-CHILD Pod arc-systems/{L}"),
                format!("ARC-ORPHAN-LISTENER-CHILD ServiceAccount arc-systems/{L}"),
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Medium));
        assert!(f[0].message.contains("Running"));
        assert!(f[0].message.contains("uid al-uid"));
        assert!(f[1].remediation[0].contains("kubectl delete serviceaccount"));
    }

    #[test]
    fn proxy_secret_by_owner_is_reported() {
        let mut snap = base();
        snap.secrets.items.push(testing::obj(
            "Secret",
            json!({"metadata":{"name":format!("{L}-proxy"),"namespace":"arc-systems",
                   "ownerReferences":[{"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener",
                                       "name":L,"uid":"gone-uid"}]}}),
        ));
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-ORPHAN-LISTENER-CHILD Secret arc-systems/{L}-proxy"
            )]
        );
    }

    #[test]
    fn unowned_labelled_pod_without_listener_of_its_name() {
        let mut snap = base();
        snap.pods.items.push(testing::obj(
            "Pod",
            json!({"metadata":{"name":"old-754b578d-listener","namespace":"arc-systems",
                   "labels":{"app.kubernetes.io/component":"runner-scale-set-listener"}},
                   "status":{"phase":"Failed"}}),
        ));
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            ["ARC-ORPHAN-LISTENER-CHILD Pod arc-systems/old-754b578d-listener"]
        );
        assert!(f[0].message.contains("Nothing will restart"));
    }

    #[test]
    fn deleting_children_and_unlisted_listeners_are_skipped() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        for kind in ["Pod", "ServiceAccount"] {
            testing::get_mut(&mut snap, kind, Some("arc-systems"), L)
                .meta
                .deletion_timestamp = Some("x");
        }
        assert!(run(&snap).is_empty());
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        snap.autoscaling_listeners.scope = Scope::None;
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn runner_pods_are_not_listener_children() {
        let mut snap = base();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "EphemeralRunner" || o.meta.kind == "AutoscalingListener"
        });
        let f = run(&snap);
        assert_eq!(f.len(), 2);
        assert!(
            f.iter()
                .all(|f| f.objects[0].namespace.as_deref() == Some("arc-systems")),
            "{f:#?}"
        );
    }

    #[test]
    fn scenarios() {
        let expect: &[(&str, &[&str])] = &[
            ("B0", &[]),
            ("S1", &[]),
            ("S3", &[]),
            ("S5", &[]),
            ("S8", &[]),
            ("S9", &[]),
            ("S13", &[]),
            ("S15", &[]),
            (
                "S17",
                &[
                    "ARC-ORPHAN-LISTENER-CHILD Pod arc-systems/arc-runner-set-754b578d-listener",
                    "ARC-ORPHAN-LISTENER-CHILD ServiceAccount arc-systems/arc-runner-set-754b578d-listener",
                ],
            ),
        ];
        for (id, want) in expect {
            let snap = scenario(id);
            assert_eq!(testing::codes(&run(&snap)), *want, "{id}");
        }
    }
}
