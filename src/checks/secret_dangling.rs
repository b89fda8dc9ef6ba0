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

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{self, A_CLEANUP_SECRET};
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;
use super::common::{self, RefState};

/// How an object points at a GitHub config Secret.
#[derive(Debug, Clone)]
pub(crate) struct GithubRef<'a> {
    pub referrer: &'a Object,
    /// Namespace the Secret is looked up in.
    pub namespace: String,
    pub name: String,
    /// Field path, for messages.
    pub via: &'static str,
}

fn via_for(kind: &str) -> &'static str {
    match kind {
        "EphemeralRunnerSet" => "spec.ephemeralRunnerSpec.githubConfigSecret",
        _ => "spec.githubConfigSecret",
    }
}

/// The namespace an object's GitHub config Secret resolves in (AL: the ARS namespace).
pub(crate) fn secret_namespace(obj: &Object) -> Option<&str> {
    if obj.meta.kind == "AutoscalingListener" {
        obj.str("/spec/autoscalingRunnerSetNamespace")
    } else {
        obj.meta.namespace.as_deref()
    }
}

/// The non-vault GitHub config Secret reference of one object, if any.
pub(crate) fn github_ref(obj: &Object) -> Option<GithubRef<'_>> {
    let (name, vault) = model::github_config_secret(obj)?;
    if vault {
        return None;
    }
    Some(GithubRef {
        referrer: obj,
        namespace: secret_namespace(obj)?.to_owned(),
        name: name.to_owned(),
        via: via_for(&obj.meta.kind),
    })
}

/// Every GitHub config Secret reference in the snapshot (vault references skipped).
pub(crate) fn github_refs<'a>(ctx: &Ctx<'a>) -> Vec<GithubRef<'a>> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    for ars in &snap.autoscaling_runner_sets {
        out.extend(github_ref(ars));
        if let Some(name) = ars
            .meta
            .annotation(A_CLEANUP_SECRET)
            .filter(|n| !n.is_empty())
        {
            out.push(GithubRef {
                referrer: ars,
                namespace: ars.meta.ns().to_owned(),
                name: name.to_owned(),
                via: "annotation actions.github.com/cleanup-github-secret-name",
            });
        }
    }
    for c in [
        &snap.ephemeral_runner_sets,
        &snap.ephemeral_runners,
        &snap.autoscaling_listeners,
    ] {
        out.extend(c.iter().filter_map(github_ref));
    }
    out
}

/// References grouped by the Secret they name (`(namespace, name)`), in a stable order.
pub(crate) fn by_secret<'r, 'a>(
    refs: &'r [GithubRef<'a>],
) -> BTreeMap<(String, String), Vec<&'r GithubRef<'a>>> {
    let mut m: BTreeMap<(String, String), Vec<&GithubRef>> = BTreeMap::new();
    for r in refs {
        m.entry((r.namespace.clone(), r.name.clone()))
            .or_default()
            .push(r);
    }
    m
}

/// Referrer order in findings: ARS, AL, ERS, ER, then anything else.
pub(crate) fn kind_rank(kind: &str) -> u8 {
    match kind {
        "AutoscalingRunnerSet" => 0,
        "AutoscalingListener" => 1,
        "EphemeralRunnerSet" => 2,
        "EphemeralRunner" => 3,
        _ => 4,
    }
}

/// Distinct objects, ARS first, then AL, ERS, ER, others; stable by reference.
pub(crate) fn distinct_sorted<'a>(objs: impl IntoIterator<Item = &'a Object>) -> Vec<&'a Object> {
    let mut v: Vec<&Object> = Vec::new();
    for o in objs {
        if !v.iter().any(|x| std::ptr::eq(*x, o)) {
            v.push(o);
        }
    }
    v.sort_by(|a, b| {
        kind_rank(&a.meta.kind)
            .cmp(&kind_rank(&b.meta.kind))
            .then_with(|| a.meta.obj_ref().cmp(&b.meta.obj_ref()))
    });
    v
}

/// The distinct referrer objects of a group, ARS first.
pub(crate) fn referrers<'a>(refs: &[&GithubRef<'a>]) -> Vec<&'a Object> {
    distinct_sorted(refs.iter().map(|r| r.referrer))
}

/// Short `Kind ns/name` list for messages, with "and N more" past a few.
pub(crate) fn list(objs: &[&Object]) -> String {
    const MAX: usize = 4;
    let mut parts: Vec<String> = objs
        .iter()
        .take(MAX)
        .map(|o| format!("{} {}", o.meta.kind, o.meta.display()))
        .collect();
    if objs.len() > MAX {
        parts.push(format!("{} more", objs.len() - MAX));
    }
    parts.join(", ")
}

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
             manual cleanup on GitHub, then run `kubectl arc orphans --fix` and confirm stripping \
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
    use crate::snapshot::{Collection, Scope, Snapshot};
    use crate::testing::{self, obj};
    use serde_json::json;

    fn snap_with(items: Vec<Object>, secrets: Vec<Object>) -> Snapshot {
        let mut s = Snapshot {
            secrets: Collection::all(secrets),
            ..Snapshot::default()
        };
        for o in items {
            let kind = o.meta.kind.clone();
            if let Some(c) = s.collection_mut(&kind) {
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
        a.meta
            .annotations
            .insert(A_CLEANUP_SECRET.to_owned(), "chart-secret".to_owned());
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
