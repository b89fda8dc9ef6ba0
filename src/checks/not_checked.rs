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

pub const CODE: &str = "ARC-NOT-CHECKED";

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
    let what = sample(gaps.iter().map(|g| g.what.as_str()), 3);
    let message = if is_log_gap(first) && cause(first) == GapCause::KubeletUnreachable {
        format!(
            "Not checked: pod logs ({what}) — the node's kubelet is unreachable (the API server said: {}); the logs were skipped, so log-based evidence is missing.",
            first.reason.trim()
        )
    } else {
        format!(
            "Not checked: {subject} ({what}) — {}: {}. Skipped: {skipped}; {consequence}.",
            cause(first).words(),
            first.reason.trim()
        )
    };
    let mut f = Finding::new(CODE, severity, message);
    for g in gaps {
        f = f.evidence(format!("{}: {}", g.what, g.reason.trim()));
    }
    for step in advice(gaps) {
        f = f.remediation(step);
    }
    f
}

/// Why something could not be read, as far as the answer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GapCause {
    /// 403: the user may not.
    Forbidden,
    /// A pod log could not be fetched: 5xx, timeout or connection error on the log endpoint,
    /// which the API server proxies to the node's kubelet.
    KubeletUnreachable,
    /// 404: the API or object is not there.
    NotInstalled,
    /// The API server failed (5xx) or did not answer in time.
    ServerError,
    /// The API server could not be reached for this request.
    Unreachable,
}

impl GapCause {
    pub fn words(self) -> &'static str {
        match self {
            GapCause::Forbidden => "access denied (403)",
            GapCause::KubeletUnreachable => "the node's kubelet is unreachable",
            GapCause::NotInstalled => "not installed (404)",
            GapCause::ServerError => "the API server failed or did not answer",
            GapCause::Unreachable => "the API server could not be reached",
        }
    }
}

/// Classify a gap by its reason (`ApiError`'s text: the API server's message, `… (HTTP <code>)`
/// for other statuses, `no answer within …` for timeouts, else a connection error).
pub fn cause(g: &Gap) -> GapCause {
    let r = g.reason.to_ascii_lowercase();
    let server = r.contains("(http 5") || r.starts_with("no answer within");
    if is_log_gap(g) && !r.contains("forbidden") && !r.contains("not found") {
        return GapCause::KubeletUnreachable;
    }
    if server {
        GapCause::ServerError
    } else if r.contains("forbidden") || r.contains("(http 403)") || r.contains("(http 401)") {
        GapCause::Forbidden
    } else if r.contains("not found") || r.contains("(http 404)") {
        GapCause::NotInstalled
    } else {
        GapCause::Unreachable
    }
}

/// The permission a refused request needed: (`verb resource`, scope flag).
fn permission(g: &Gap) -> (String, String) {
    let resource = g.what.split_whitespace().next().unwrap_or(&g.what);
    let listed = g.what.contains("(all namespaces)")
        || g.what.contains("(cluster-scoped)")
        || g.what.contains(" in namespace ");
    let verb = if listed { "list" } else { "get" };
    let scope = match g.namespace.as_deref() {
        Some(ns) => format!("-n {ns}"),
        None if g.what.contains("(all namespaces)") => "-A".to_owned(),
        None => String::new(),
    };
    (format!("{verb} {resource}"), scope)
}

/// `a, b, c and 4 more`.
fn sample<'a>(items: impl Iterator<Item = &'a str>, max: usize) -> String {
    let mut all: Vec<&str> = items.collect();
    all.dedup();
    let n = all.len();
    if n <= max {
        return all.join(", ");
    }
    format!("{} and {} more", all[..max].join(", "), n - max)
}

/// What to do about gaps: one line per cause, each permission or pod named once.
pub fn advice(gaps: &[&Gap]) -> Vec<String> {
    let mut by_cause: std::collections::BTreeMap<GapCause, Vec<&Gap>> =
        std::collections::BTreeMap::new();
    for g in gaps {
        by_cause.entry(cause(g)).or_default().push(g);
    }
    let mut out = Vec::new();
    for (c, gs) in by_cause {
        let whats = sample(gs.iter().map(|g| g.what.as_str()), 3);
        out.push(match c {
            GapCause::Forbidden => {
                let mut by_scope: std::collections::BTreeMap<(String, String), Vec<String>> =
                    std::collections::BTreeMap::new();
                for g in &gs {
                    let (perm, scope) = permission(g);
                    let (verb, resource) = perm.split_once(' ').unwrap_or(("get", &perm));
                    let e = by_scope
                        .entry((verb.to_owned(), scope))
                        .or_default();
                    if !e.iter().any(|r| r == resource) {
                        e.push(resource.to_owned());
                    }
                }
                // Cluster-wide listings first: they are what a namespace user lacks.
                let mut groups: Vec<(&(String, String), &Vec<String>)> = by_scope.iter().collect();
                groups.sort_by_key(|((verb, scope), _)| (scope != "-A", scope.is_empty(), verb.clone()));
                let asks: Vec<String> = groups
                    .iter()
                    .map(|((verb, scope), rs)| {
                        if let [one] = rs.as_slice() {
                            return format!("`{}`", format!("{verb} {one} {scope}").trim_end());
                        }
                        let rs = sample(rs.iter().map(String::as_str), 4);
                        match scope.as_str() {
                            "" => format!("`{verb}` on {rs}"),
                            "-A" => format!("`{verb}` on {rs} in all namespaces"),
                            s => format!("`{verb}` on {rs} in namespace {}", s.trim_start_matches("-n ")),
                        }
                    })
                    .collect();
                // The cluster-wide listing is the one worth asking about first.
                let ((verb, scope), rs) = by_scope
                    .iter()
                    .find(|((_, scope), _)| scope == "-A")
                    .or_else(|| by_scope.iter().next())
                    .expect("one gap at least");
                let check = format!("kubectl auth can-i {verb} {} {scope}", rs[0]);
                format!(
                    "Access denied (403): ask for {} (check with `{}`); until then those parts stay unchecked.",
                    asks.join("; "),
                    check.trim_end()
                )
            }
            GapCause::KubeletUnreachable => {
                let pods = sample(
                    gs.iter().map(|g| {
                        g.what
                            .strip_prefix("pods/log ")
                            .and_then(|w| w.split_whitespace().next())
                            .unwrap_or(&g.what)
                    }),
                    3,
                );
                format!(
                    "The node's kubelet is unreachable: the logs of {} were skipped ({}); nothing to fix in ARC — check the node if it persists.",
                    if gs.len() == 1 { "1 pod".to_owned() } else { format!("{} pods", gs.len()) },
                    pods
                )
            }
            GapCause::NotInstalled => format!("Not installed (404): {whats}; nothing to check there."),
            GapCause::ServerError => format!(
                "The API server failed or did not answer for {whats}; re-run later (or with a longer `--request-timeout`)."
            ),
            GapCause::Unreachable => {
                format!("The API server could not be reached for {whats}; re-run later.")
            }
        });
    }
    out
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
