//! Resolution of GitHub config Secret references (arc-domain §1.8): who points at which Secret, in which namespace.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use std::collections::BTreeMap;

use crate::model::{self, A_CLEANUP_SECRET};
use crate::snapshot::Object;

use super::Ctx;

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

pub(crate) fn via_for(kind: &str) -> &'static str {
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
        obj.meta.namespace
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
        via: via_for(obj.meta.kind),
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
        kind_rank(a.meta.kind)
            .cmp(&kind_rank(b.meta.kind))
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
