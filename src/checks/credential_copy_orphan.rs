//! `ARC-CREDENTIAL-COPY-ORPHAN` – copies of GitHub credentials in a controller namespace that no
//! listener owns any more (arc-domain §1.4, §4.3).
//!
//! Candidates: listener config Secrets `<L>-config` (≥0.7, hold `config.json` with the
//! credentials) and ≤0.11 mirror Secrets named exactly `<L>` with label `secret-data-hash`.
//! A candidate is reported when its owning AutoscalingListener does not exist (owner UID not
//! found, or, without owner references, no AL named `<L>` in that namespace), or when it lives in
//! a namespace where no ARC controller runs (nothing will ever clean it up). Decided only when the
//! listeners (and, for the second case, the Deployments) of that namespace were listed.

use crate::findings::{Finding, Severity};
use crate::model::L_CTRL_SA_NS;
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;

const CONFIG_SUFFIX: &str = "-config";
const MIRROR_LABEL: &str = "secret-data-hash";

/// The listener name a credential copy belongs to, and what kind of copy it is.
fn listener_of(secret: &Object) -> Option<(&str, &'static str)> {
    let name = secret.meta.name;
    if let Some(l) = name.strip_suffix(CONFIG_SUFFIX)
        && l.ends_with("-listener")
    {
        return Some((
            l,
            "listener config Secret (config.json with the GitHub credentials)",
        ));
    }
    if secret.meta.labels.contains_key(MIRROR_LABEL) && name.ends_with("-listener") {
        return Some((name, "≤0.11 mirror copy of the GitHub config Secret"));
    }
    None
}

/// Does any ARC controller run in `ns`? None = Deployments there were not listed.
fn controller_in(ctx: &Ctx, ns: &str) -> Option<bool> {
    if !ctx.snap.deployments.scope.covers(Some(ns)) {
        return None;
    }
    let by_label = ctx
        .snap
        .deployments
        .iter()
        .any(|d| d.meta.label(L_CTRL_SA_NS) == Some(ns));
    Some(by_label || ctx.model.gha_in_namespace(ns).next().is_some())
}

/// Why the copy is orphaned, or None when it is owned (or we cannot tell).
fn orphaned(ctx: &Ctx, secret: &Object, listener: &str) -> Option<String> {
    let ns = secret.meta.ns();
    let als = &ctx.snap.autoscaling_listeners;
    if !als.scope.covers(Some(ns)) {
        return None;
    }
    let owners: Vec<_> = secret
        .meta
        .owner_references
        .iter()
        .filter(|o| o.kind == "AutoscalingListener" || o.kind.is_empty())
        .collect();
    let owner = match owners.first() {
        None => als.get(Some(ns), listener).found(),
        Some(_) => owners.iter().find_map(|o| als.by_uid(o.uid)),
    };
    match (owner, owners.first()) {
        (None, None) => Some(format!(
            "it has no owner reference and no AutoscalingListener {ns}/{listener} exists"
        )),
        (None, Some(o)) => Some(format!(
            "its owner AutoscalingListener {} (uid {}) no longer exists",
            o.name, o.uid
        )),
        (Some(al), _) => (controller_in(ctx, ns) == Some(false)).then(|| {
            format!(
                "its listener {} still exists, but no ARC controller runs in {ns}, so nothing will \
                 clean it up",
                al.meta.display()
            )
        }),
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    ctx.snap
        .secrets
        .iter()
        .filter_map(|s| {
            let (listener, what) = listener_of(s)?;
            let why = orphaned(ctx, s, listener)?;
            Some(finding(s, listener, what, &why))
        })
        .collect()
}

fn finding(secret: &Object, listener: &str, what: &str, why: &str) -> Finding {
    let ns = secret.meta.ns();
    let name = &secret.meta.name;
    Finding::new(
        "ARC-CREDENTIAL-COPY-ORPHAN",
        Severity::Medium,
        format!(
            "Secret {ns}/{name} is a {what} and {why}. It holds a live PAT or GitHub App private \
             key that nobody manages any more — typically left behind when a listener was removed \
             without its controller (controller moved or uninstalled first)."
        ),
    )
    .object(secret.meta.obj_ref())
    .object(ObjectRef::namespaced("AutoscalingListener", ns, listener))
    .remediation(format!(
        "Delete the copy: `kubectl delete secret {name} -n {ns}` (or `kubectl arc orphans --fix`). \
         A controller recreates it if a live listener still needs it."
    ))
    .remediation(
        "If the namespace was readable by others, rotate the PAT / GitHub App key and update the \
         original GitHub config Secret.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Fix;
    use crate::snapshot::{Collection, Scope, Snapshot};
    use crate::testing::{self, obj};
    use serde_json::json;

    const CFG: &str = "arc-runner-set-85f786b5-listener-config";

    #[test]
    fn config_secret_whose_listener_is_gone() {
        let mut s = testing::scenario("B0");
        testing::remove(&mut s, |o| o.meta.kind == "AutoscalingListener");
        let f = check(&Ctx::new(&s));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced("Secret", "arc-systems", CFG))
        );
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].fix, Fix::Auto);
    }

    #[test]
    fn copy_in_namespace_without_controller() {
        let mut s = testing::scenario("B0");
        testing::remove(&mut s, |o| o.meta.kind == "Deployment");
        let f = check(&Ctx::new(&s));
        assert_eq!(
            testing::codes(&f),
            vec![format!(
                "ARC-CREDENTIAL-COPY-ORPHAN Secret arc-systems/{CFG}"
            )]
        );
        assert!(f[0].message.contains("no ARC controller runs"));
    }

    #[test]
    fn mirror_secret_without_owner_and_unlisted_listeners() {
        let mirror = obj(
            "Secret",
            json!({"metadata":{"name":"x-12345678-listener","namespace":"c","labels":{"secret-data-hash":"abc"},
                   "ownerReferences":[{"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener","name":"x-12345678-listener","uid":"gone"}]}}),
        );
        let unrelated = obj(
            "Secret",
            json!({"metadata":{"name":"db-config","namespace":"c"}}),
        );
        let mut s = Snapshot {
            secrets: Collection::all(vec![mirror, unrelated]),
            autoscaling_listeners: Collection::all(vec![]),
            ..Snapshot::default()
        };
        let f = check(&Ctx::new(&s));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-CREDENTIAL-COPY-ORPHAN Secret c/x-12345678-listener"]
        );
        s.autoscaling_listeners.scope = Scope::None;
        assert!(
            check(&Ctx::new(&s)).is_empty(),
            "listeners not listed: cannot tell"
        );
    }
}
