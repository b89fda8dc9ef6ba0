//! `ARC-NOT-CHECKED`: one finding per kind with collection gaps (`snapshot.gaps`; all pod-log
//! gaps together form one more) — something the API server refused or could not serve. Checks
//! treat such data as unknown and stay silent, so this finding is the only trace of what the
//! report could not cover. Objects: none.
//!
//! Severity (decision): a gap is advisory, not a cluster problem, so it is **info** — including
//! the usual namespace-scoped run (`-n <ns>`), where cluster-wide lists are forbidden and the
//! collector falls back to the namespaces asked about (N1). It is **medium** only when the gap
//! leaves a kind that every critical decision rests on completely invisible — controller
//! Deployments (is there a live controller?) or the ARC custom resources themselves (what is
//! stuck, stranded or orphaned?) — i.e. the kind's collection has no coverage at all after the
//! fallback. Then an empty report would be misleading, so the gap must stand out, yet it stays
//! below `high` so that the exit code does not depend on the caller's RBAC alone. Secrets,
//! RBAC, CRDs and Namespaces only refine blockers of findings that are still reported or
//! withheld explicitly; their gaps stay info.

use crate::findings::{Finding, Severity};
use crate::snapshot::{Gap, Scope};

use super::Ctx;

const CODE: &str = "ARC-NOT-CHECKED";

/// Kinds without which no critical finding can be decided, with what is skipped without them.
const CORE_KINDS: &[(&str, &str)] = &[
    (
        "Deployment",
        "controller presence and health (ARC-NO-CONTROLLER, stranded finalizers)",
    ),
    (
        "AutoscalingRunnerSet",
        "scale sets and their stuck deletions",
    ),
    ("AutoscalingListener", "listeners and their stuck deletions"),
    (
        "EphemeralRunnerSet",
        "runner sets and their stuck deletions",
    ),
    ("EphemeralRunner", "runners and their stuck deletions"),
];

/// What other kinds feed, for the message.
const OTHER_KINDS: &[(&str, &str)] = &[
    (
        "Secret",
        "dangling or terminating GitHub secrets and credential copies",
    ),
    ("Role", "controller permissions (RBAC reachability)"),
    (
        "RoleBinding",
        "manager and listener bindings, controller permissions",
    ),
    ("ClusterRole", "controller permissions, stale cluster RBAC"),
    (
        "ClusterRoleBinding",
        "controller permissions, stale cluster RBAC",
    ),
    (
        "CustomResourceDefinition",
        "CRD/controller skew (ARC-CRD-SKEW)",
    ),
    ("Namespace", "missing and Terminating namespaces"),
    ("MutatingWebhookConfiguration", "dangling legacy webhooks"),
    ("ValidatingWebhookConfiguration", "dangling legacy webhooks"),
    ("Service", "legacy webhook backends"),
    ("Endpoints", "legacy webhook backends' readiness"),
    ("Pod", "controller/listener/runner pod state"),
    ("ServiceAccount", "listener and chart ServiceAccounts"),
    ("ConfigMap", "TLS ConfigMap references"),
    // Legacy kinds are often simply not installed: invisible legacy kinds stay info.
    ("Runner", "legacy runners and their stuck deletions"),
    (
        "RunnerDeployment",
        "legacy runner deployments and their secrets",
    ),
    ("RunnerReplicaSet", "legacy runner replica sets"),
    ("RunnerSet", "legacy runner sets and their secrets"),
    (
        "HorizontalRunnerAutoscaler",
        "legacy autoscalers and their secrets",
    ),
];

/// Pod log reads are gaps of kind Pod, but only refine evidence.
fn is_log_gap(g: &Gap) -> bool {
    g.what.starts_with("pods/log")
}

/// Has nothing of `kind` been listed anywhere?
fn invisible(ctx: &Ctx, kind: &str) -> bool {
    ctx.snap
        .collections()
        .iter()
        .find(|(k, _)| *k == kind)
        .is_some_and(|(_, c)| c.scope == Scope::None)
}

/// (severity, what is skipped) for a gap.
fn classify(ctx: &Ctx, g: &Gap) -> (Severity, String) {
    if is_log_gap(g) {
        return (
            Severity::Info,
            "log-based evidence (known error messages)".to_owned(),
        );
    }
    let kind = g.kind.as_deref().unwrap_or("");
    if let Some((k, skipped)) = CORE_KINDS.iter().find(|(k, _)| *k == kind) {
        let sev = if invisible(ctx, k) {
            Severity::Medium
        } else {
            Severity::Info
        };
        return (sev, (*skipped).to_owned());
    }
    let skipped = OTHER_KINDS.iter().find(|(k, _)| *k == kind).map_or_else(
        || "checks that depend on it".to_owned(),
        |(_, s)| (*s).to_owned(),
    );
    (Severity::Info, skipped)
}

/// One finding for all gaps of one kind (or all pod-log gaps).
fn finding_for(ctx: &Ctx, gaps: &[&Gap]) -> Finding {
    let first = gaps[0];
    let (severity, skipped) = classify(ctx, first);
    let subject = if is_log_gap(first) {
        "pod logs".to_owned()
    } else {
        first.kind.clone().unwrap_or_else(|| first.what.clone())
    };
    let covered = first.kind.as_deref().and_then(|kind| {
        ctx.snap
            .collections()
            .iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, c)| match &c.scope {
                Scope::Namespaces(set) => Some(set.iter().cloned().collect::<Vec<_>>().join(", ")),
                _ => None,
            })
    });
    let consequence = match (&covered, severity) {
        (Some(ns), _) => format!("only namespace(s) {ns} could be read; problems elsewhere are not reported"),
        (None, Severity::Medium) => {
            "nothing of this kind could be read anywhere, so an empty report does not mean a healthy cluster".to_owned()
        }
        _ => "problems there are not reported".to_owned(),
    };
    let what: Vec<&str> = gaps.iter().map(|g| g.what.as_str()).collect();
    let mut f = Finding::new(
        CODE,
        severity,
        format!(
            "Not checked: {subject} ({}) — the API server said: {}. Skipped: {skipped}; {consequence}.",
            what.join("; "),
            first.reason.trim()
        ),
    );
    for g in gaps {
        f = f.evidence(format!("{}: {}", g.what, g.reason.trim()));
        let resource = g.what.split_whitespace().next().unwrap_or(&g.what);
        let ns_flag = g
            .namespace
            .as_deref()
            .map_or_else(|| "-A".to_owned(), |n| format!("-n {n}"));
        let verb = if is_log_gap(g) { "get" } else { "list" };
        f = f.remediation(format!(
            "Re-run with a user allowed to read it (check with `kubectl auth can-i {verb} {resource} {ns_flag}`), or accept that this part was not checked."
        ));
    }
    f
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut groups: std::collections::BTreeMap<String, Vec<&Gap>> =
        std::collections::BTreeMap::new();
    for g in &ctx.snap.gaps {
        let key = if is_log_gap(g) {
            "pods/log".to_owned()
        } else {
            g.kind.clone().unwrap_or_else(|| g.what.clone())
        };
        groups.entry(key).or_default().push(g);
    }
    groups.values().map(|gs| finding_for(ctx, gs)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Collection, Snapshot};

    fn gap(what: &str, kind: Option<&str>, ns: Option<&str>) -> Gap {
        Gap {
            what: what.to_owned(),
            kind: kind.map(str::to_owned),
            namespace: ns.map(str::to_owned),
            reason: "secrets is forbidden: User \"alice\" cannot list resource \"secrets\" in API group \"\" at the cluster scope".to_owned(),
        }
    }

    #[test]
    fn one_info_finding_per_kind_without_objects() {
        let snap = Snapshot {
            gaps: vec![
                gap(
                    "customresourcedefinitions.apiextensions.k8s.io a",
                    Some("CustomResourceDefinition"),
                    None,
                ),
                gap(
                    "customresourcedefinitions.apiextensions.k8s.io b",
                    Some("CustomResourceDefinition"),
                    None,
                ),
                gap(
                    "pods/log arc-systems/x [manager]",
                    Some("Pod"),
                    Some("arc-systems"),
                ),
                gap(
                    "pods/log arc-systems/y [listener]",
                    Some("Pod"),
                    Some("arc-systems"),
                ),
                gap("secrets (all namespaces)", Some("Secret"), None),
            ],
            secrets: Collection::new(
                Scope::Namespaces(["arc-runners".to_owned()].into()),
                Vec::new(),
            ),
            ..Snapshot::default()
        };
        let f = check(&Ctx::new(&snap));
        let subjects: Vec<&str> = f
            .iter()
            .map(|f| f.message.split(" (").next().unwrap_or(""))
            .collect();
        assert_eq!(
            subjects,
            [
                "Not checked: CustomResourceDefinition",
                "Not checked: Secret",
                "Not checked: pod logs"
            ]
        );
        assert!(
            f.iter()
                .all(|f| f.objects.is_empty() && f.severity == Severity::Info)
        );
        assert_eq!(
            f[0].evidence.len(),
            2,
            "both CRD gaps are evidence of one finding"
        );
        assert!(f[1].message.contains("cannot list resource \"secrets\""));
        assert!(
            f[1].message
                .contains("only namespace(s) arc-runners could be read"),
            "{}",
            f[1].message
        );
        assert!(
            f[1].remediation[0].contains("kubectl auth can-i list secrets -A"),
            "{:?}",
            f[1].remediation
        );
        assert!(
            f[2].remediation[0].contains("can-i get pods/log -n arc-systems"),
            "{:?}",
            f[2].remediation
        );
    }

    #[test]
    fn invisible_core_kind_is_medium_partial_coverage_is_info() {
        let mut snap = Snapshot {
            gaps: vec![gap(
                "autoscalingrunnersets.actions.github.com (all namespaces)",
                Some("AutoscalingRunnerSet"),
                None,
            )],
            ..Snapshot::default()
        };
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::Medium);
        snap.autoscaling_runner_sets = Collection::new(
            Scope::Namespaces(["arc-runners".to_owned()].into()),
            Vec::new(),
        );
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::Info);
    }
}
