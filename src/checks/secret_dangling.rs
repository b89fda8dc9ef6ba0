//! `ARC-SECRET-DANGLING` – the GitHub config Secret an ARS/ERS/ER/AL names does not exist
//! (arc-domain §4.3).
//!
//! Referrers: ARS `spec.githubConfigSecret` and annotation
//! `actions.github.com/cleanup-github-secret-name`, ERS `spec.ephemeralRunnerSpec.githubConfigSecret`,
//! ER `spec.githubConfigSecret` (all resolved in the object's namespace) and AL
//! `spec.githubConfigSecret` (resolved in the ARS namespace, `spec.autoscalingRunnerSetNamespace`).
//! Vault-backed references (`vaultConfig.type`) name a vault key, not a Secret, and are skipped.
//! Only a Secret our own listing shows as absent is reported: "missing" is NotFound, never a
//! permission problem; an unlisted namespace stays silent.

use crate::findings::{Finding, Severity};
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;
use crate::facts::common::{self, RefState};

#[allow(unused_imports)]
use crate::facts::secret_refs::*;

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let refs = github_refs(ctx);
    by_secret(&refs)
        .into_iter()
        .filter(|((ns, name), _)| common::secret(ctx, ns, name) == RefState::Missing)
        .map(|((ns, name), group)| finding(ctx, &ns, &name, &group))
        .collect()
}

fn finding(ctx: &Ctx, ns: &str, name: &str, group: &[&GithubRef]) -> Finding {
    let objs = referrers(group);
    let deleting: Vec<&Object> = objs
        .iter()
        .copied()
        .filter(|o| o.meta.is_deleting())
        .collect();
    let severity = if deleting.is_empty() {
        Severity::High
    } else {
        Severity::Critical
    };
    let effect = if deleting.is_empty() {
        "the controller cannot create, scale or deregister runners for them".to_owned()
    } else {
        format!(
            "the deletion of {} cannot finish: deregistering runners and deleting the scale set \
             on GitHub need these credentials, so the finalizers wait forever",
            list(&deleting)
        )
    };
    let message = format!(
        "Secret {ns}/{name} does not exist (NotFound in our own listing of {ns} — a missing \
         object, not a permission problem) but {} still reference it; {effect}. It was deleted \
         before the scale set finished its cleanup (manual delete, GitOps prune, external-secrets \
         removal, separate helm uninstall) or the name is a typo.",
        list(&objs)
    );
    let mut f = Finding::new("ARC-SECRET-DANGLING", severity, message)
        .object(ObjectRef::namespaced("Secret", ns, name))
        .objects(objs.iter().map(|o| o.meta.obj_ref()))
        .remediation(format!(
            "Best: recreate the Secret with valid credentials under the same name and namespace — \
             `kubectl create secret generic {name} -n {ns} --from-literal=github_token=<PAT>` (or \
             the GitHub App keys github_app_id, github_app_installation_id, \
             github_app_private_key); the controller then finishes everything, including the \
             GitHub-side cleanup."
        ));
    if !deleting.is_empty() {
        f = f.remediation(
            "Only if the credentials are gone for good: record the scale set ID (annotation \
             runner-scale-set-id) and the runner IDs (status.runnerId of the EphemeralRunners) for \
             manual cleanup on GitHub, then run `kubectl arc orphans --fix --include-confirm` stripping \
             the stranded finalizers bottom-up (EphemeralRunners, EphemeralRunnerSet, \
             AutoscalingRunnerSet) and removing runner-scale-set-id so no controller attempts the \
             GitHub call.",
        );
    }
    for r in group {
        f = f.evidence(format!(
            "{} {} {} = {}",
            r.referrer.meta.kind,
            r.referrer.meta.display(),
            r.via,
            r.name
        ));
    }
    if ctx.snap.namespace_terminating(ns) {
        f = f.evidence(format!("namespace {ns} is Terminating"));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Fix;
    use crate::model::A_CLEANUP_SECRET;
    use crate::snapshot::{Collection, Scope, Snapshot};
    use crate::testing::{self, obj};
    use serde_json::json;

    fn snap_with(items: Vec<Object>, secrets: Vec<Object>) -> Snapshot {
        let mut s = Snapshot {
            secrets: Collection::all(secrets),
            ..Snapshot::default()
        };
        for o in items {
            let kind = o.meta.kind;
            if let Some(c) = s.collection_mut(kind) {
                c.items.push(o);
                c.scope = Scope::All;
            }
        }
        s
    }

    fn ars(deleting: bool, secret: &str) -> Object {
        let mut m = json!({"name":"set","namespace":"r","uid":"u-ars"});
        if deleting {
            m["deletionTimestamp"] = json!("2026-07-01T10:00:00Z");
        }
        obj(
            "AutoscalingRunnerSet",
            json!({"metadata": m, "spec": {"githubConfigSecret": secret}}),
        )
    }

    #[test]
    fn b0_has_no_dangling_secret() {
        let snap = testing::scenario("B0");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn b0_without_secret_is_high_with_every_referrer() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Secret" && o.meta.name == "arc-runner-set-gha-rs-github-secret"
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "Secret",
                "arc-runners",
                "arc-runner-set-gha-rs-github-secret"
            ))
        );
        let kinds: Vec<&str> = f[0].objects.iter().map(|o| o.kind.as_str()).collect();
        for k in [
            "AutoscalingRunnerSet",
            "AutoscalingListener",
            "EphemeralRunnerSet",
            "EphemeralRunner",
        ] {
            assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
        }
        assert_eq!(f[0].fix, Fix::Manual);
    }

    #[test]
    fn deleting_referrer_makes_it_critical() {
        let s = snap_with(vec![ars(true, "gh-pat")], vec![]);
        let f = check(&Ctx::new(&s));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert!(f[0].message.contains("not a permission problem"));
    }

    #[test]
    fn existing_or_unlisted_or_vault_secret_is_silent() {
        let secret = obj(
            "Secret",
            json!({"metadata":{"name":"gh-pat","namespace":"r"}}),
        );
        let s = snap_with(vec![ars(false, "gh-pat")], vec![secret]);
        assert!(check(&Ctx::new(&s)).is_empty());

        let mut s = snap_with(vec![ars(false, "gh-pat")], vec![]);
        s.secrets.scope = Scope::Namespaces(["other".to_owned()].into());
        assert!(
            check(&Ctx::new(&s)).is_empty(),
            "403 on secrets means unknown, not missing"
        );

        let vault = obj(
            "AutoscalingRunnerSet",
            json!({"metadata":{"name":"v","namespace":"r"},
                   "spec":{"githubConfigSecret":"vault-key","vaultConfig":{"type":"azure_key_vault"}}}),
        );
        assert!(check(&Ctx::new(&snap_with(vec![vault], vec![]))).is_empty());
    }

    #[test]
    fn listener_reference_resolves_in_the_runner_namespace() {
        let al = obj(
            "AutoscalingListener",
            json!({"metadata":{"name":"l","namespace":"c"},
                   "spec":{"autoscalingRunnerSetNamespace":"r","githubConfigSecret":"gh"}}),
        );
        let in_r = obj("Secret", json!({"metadata":{"name":"gh","namespace":"r"}}));
        assert!(check(&Ctx::new(&snap_with(vec![al.clone()], vec![in_r]))).is_empty());
        let in_c = obj("Secret", json!({"metadata":{"name":"gh","namespace":"c"}}));
        let f = check(&Ctx::new(&snap_with(vec![al], vec![in_c])));
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced("Secret", "r", "gh"))
        );
    }

    #[test]
    fn cleanup_annotation_is_checked_too() {
        let mut a = ars(false, "gh-pat");
        a.meta.annotations.insert(A_CLEANUP_SECRET, "chart-secret");
        let secret = obj(
            "Secret",
            json!({"metadata":{"name":"gh-pat","namespace":"r"}}),
        );
        let f = check(&Ctx::new(&snap_with(vec![a], vec![secret])));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced("Secret", "r", "chart-secret"))
        );
    }
}
