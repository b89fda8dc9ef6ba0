//! Attach controller and listener log lines to findings as evidence.
//!
//! `snapshot.logs` holds the tails of the controller `manager` and listener `listener`
//! containers, as text (`time\tLEVEL\tLogger\tmessage\t{json}`) or JSON lines. [`PATTERNS`] maps
//! the message shapes ARC is known to log (arc-domain §4, the "Log:" lines of each catalog entry)
//! to the finding codes they support. A line is attached to a finding when
//! * the line matches a pattern listing the finding's code, and
//! * the finding is about the line: one of its objects is *named* in the line (name — or a name
//!   derived from it such as `<listener>-config` or the GitHub config Secret of a scale set — as a
//!   whole token, plus its namespace when the name alone is ambiguous), and/or the line *comes
//!   from* one of its objects (the log's pod, its Deployment, its listener and that listener's
//!   scale set), as the pattern requires.
//!
//! At most [`MAX_PER_FINDING`] distinct messages are attached per finding (most recent first,
//! repeats counted), each as `log <ns>/<pod>[<container>]: <line>`. Anything that looks like a
//! credential (tokens, keys, long base64-like strings, `Authorization` values) is redacted.
//! Pure: no I/O.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::node::Node;

use crate::findings::Finding;
use crate::model;
use crate::snapshot::{Object, ObjectRef, PodLog, Snapshot};

/// Evidence lines attached per finding at most.
pub const MAX_PER_FINDING: usize = 3;
/// Longest line kept (characters), after redaction.
const MAX_LINE: usize = 600;
const REDACTED: &str = "[REDACTED]";

/// How a matching line must relate to a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// One of the finding's objects is named in the line.
    Named,
    /// The line comes from one of the finding's objects (pod, its Deployment/listener/scale set).
    Source,
    /// Either of the above.
    Either,
}

/// A known log message shape: every string in `all` occurs in the line (case-sensitive).
struct Pattern {
    all: &'static [&'static str],
    codes: &'static [&'static str],
    by: By,
}

const fn p(all: &'static [&'static str], codes: &'static [&'static str], by: By) -> Pattern {
    Pattern { all, codes, by }
}

const SECRET_CODES: &[&str] = &[
    "ARC-SECRET-DANGLING",
    "ARC-SECRET-TERMINATING",
    "ARC-MANAGER-BINDING-MISMATCH",
    "ARC-MANAGER-RBAC-MISSING",
    "ARC-AUX-REF-DANGLING",
    "ARC-STUCK-ARS",
    "ARC-STUCK-ERS",
    "ARC-STUCK-ER",
    "ARC-SCALESET-LEAK-SUSPECTED",
];

const LISTENER_CLEANUP_CODES: &[&str] = &[
    "ARC-STUCK-LISTENER",
    "ARC-LISTENER-NS-FOREIGN",
    "ARC-NS-TERMINATING",
    "ARC-NS-MISSING",
];

/// Known message shapes (arc-domain §3, §4) and the codes they support.
const PATTERNS: &[Pattern] = &[
    // Listener cleanup failing in a foreign / terminating namespace (S1).
    p(
        &["failed to get listener config secret"],
        LISTENER_CLEANUP_CODES,
        By::Named,
    ),
    p(
        &["Failed to cleanup resources after deletion"],
        LISTENER_CLEANUP_CODES,
        By::Named,
    ),
    // Listener whose scale set is gone (≤0.14.2 / HEAD).
    p(
        &["Failed to find AutoscalingRunnerSet."],
        &["ARC-ORPHAN-LISTENER", "ARC-SCALESET-LEAK-SUSPECTED"],
        By::Named,
    ),
    p(
        &["AutoscalingRunnerSet is not found, deleting autoscaling listener"],
        &["ARC-ORPHAN-LISTENER"],
        By::Named,
    ),
    // GitHub config secret unreadable (≥0.12 hides NotFound vs Forbidden; ≤0.11 says which).
    p(&["failed to resolve app config"], SECRET_CODES, By::Named),
    p(
        &["Failed to get app config for AutoscalingRunnerSet."],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["failed to find GitHub config secret"],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["Failed to find GitHub config secret."],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["failed to get secret: secrets", "not found"],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["Failed to clean up runner from service"],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["Failed to clean up EphemeralRunners"],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["Failed to initialize Actions service client"],
        SECRET_CODES,
        By::Named,
    ),
    p(
        &["failed to list runner-linked secrets"],
        &[
            "ARC-STUCK-ER",
            "ARC-MANAGER-BINDING-MISMATCH",
            "ARC-MANAGER-RBAC-MISSING",
        ],
        By::Named,
    ),
    // Any RBAC denial for a ServiceAccount naming one of the finding's objects.
    p(
        &["is forbidden: User \"system:serviceaccount:"],
        &[
            "ARC-MANAGER-BINDING-MISMATCH",
            "ARC-MANAGER-RBAC-MISSING",
            "ARC-LISTENER-NS-FOREIGN",
            "ARC-LISTENER-RBAC-COLLISION",
            "ARC-STUCK-ARS",
            "ARC-STUCK-LISTENER",
            "ARC-STUCK-ERS",
            "ARC-STUCK-ER",
            "ARC-OUT-OF-SCOPE",
        ],
        By::Named,
    ),
    // Listener Role in R cannot be created/updated (controller move, collision).
    p(
        &["listener role"],
        &[
            "ARC-MANAGER-BINDING-MISMATCH",
            "ARC-LISTENER-RBAC-COLLISION",
            "ARC-LISTENER-NS-FOREIGN",
            "ARC-LISTENER-DUPLICATE",
        ],
        By::Named,
    ),
    // Listener SA may not patch its ERS (Role/RoleBinding bound to the other listener, S8).
    p(
        &["ephemeralrunnersets.actions.github.com", "is forbidden"],
        &[
            "ARC-LISTENER-RBAC-COLLISION",
            "ARC-LISTENER-DUPLICATE",
            "ARC-SESSION-CONFLICT",
            "ARC-LISTENER-DRIFT",
            "ARC-MULTIPLE-CONTROLLERS",
        ],
        By::Either,
    ),
    p(
        &["autoscalinglisteners.actions.github.com", "already exists"],
        &["ARC-LISTENER-DUPLICATE", "ARC-LISTENER-NS-FOREIGN"],
        By::Named,
    ),
    // Sessions and scale set IDs.
    p(
        &["already has an active session"],
        &[
            "ARC-SESSION-CONFLICT",
            "ARC-LISTENER-DUPLICATE",
            "ARC-LISTENER-NS-FOREIGN",
            "ARC-MULTIPLE-CONTROLLERS",
        ],
        By::Either,
    ),
    p(
        &["RunnerScaleSetNotFoundException"],
        &[
            "ARC-SCALESET-ID-DEAD",
            "ARC-SCALESET-ID-SHARED",
            "ARC-LISTENER-DUPLICATE",
            "ARC-LISTENER-DRIFT",
        ],
        By::Either,
    ),
    p(
        &["No runner scale set found with identifier"],
        &[
            "ARC-SCALESET-ID-DEAD",
            "ARC-SCALESET-ID-SHARED",
            "ARC-LISTENER-DUPLICATE",
            "ARC-LISTENER-DRIFT",
        ],
        By::Either,
    ),
    p(
        &["RunnerScaleSetExistsException"],
        &["ARC-SCALESET-ID-SHARED"],
        By::Named,
    ),
    p(
        &["does not have annotation describing scale set id"],
        &["ARC-SCALESET-LEAK-SUSPECTED", "ARC-STUCK-ARS"],
        By::Named,
    ),
    // Version and CRD skew.
    p(
        &["Autoscaling runner set version doesn't match the build version"],
        &[
            "ARC-VERSION-SKEW",
            "ARC-DELETION-PROGRESSING",
            "ARC-STUCK-ARS",
        ],
        By::Either,
    ),
    p(
        &["cannot unmarshal bool into Go struct field EphemeralRunnerStatus"],
        &["ARC-CRD-SKEW", "ARC-STUCK-ER"],
        By::Either,
    ),
    p(
        &["failed to list *v1alpha1."],
        &["ARC-CRD-SKEW"],
        By::Source,
    ),
    p(
        &["Failed to watch *v1alpha1."],
        &["ARC-CRD-SKEW"],
        By::Source,
    ),
    p(
        &["the server doesn't have a resource type"],
        &["ARC-CRD-SKEW"],
        By::Source,
    ),
    p(&["no matches for kind"], &["ARC-CRD-SKEW"], By::Source),
    // Controller not starting.
    p(
        &["flag provided but not defined"],
        &["ARC-CONTROLLER-UNHEALTHY", "ARC-VERSION-SKEW"],
        By::Source,
    ),
    p(
        &["unable to obtain manager pod namespace"],
        &["ARC-CONTROLLER-UNHEALTHY"],
        By::Source,
    ),
    // Deletion progress.
    p(
        &["Waiting for listener to be deleted"],
        &["ARC-STUCK-ARS", "ARC-DELETION-PROGRESSING"],
        By::Named,
    ),
    p(
        &["Runner is not finished yet"],
        &["ARC-STUCK-ER", "ARC-DELETION-PROGRESSING"],
        By::Named,
    ),
    p(
        &["Skipping ephemeral runner since it is running a job"],
        &["ARC-DELETION-PROGRESSING", "ARC-STUCK-ERS", "ARC-STUCK-ARS"],
        By::Named,
    ),
    p(
        &["Failed to remove finalizers on dependent resources"],
        &[
            "ARC-STUCK-ARS",
            "ARC-STUCK-PROTECTED",
            "ARC-MANAGER-RBAC-MISSING",
        ],
        By::Named,
    ),
    p(
        &["unable to create new content in namespace"],
        &["ARC-NS-TERMINATING", "ARC-MANAGER-BINDING-MISMATCH"],
        By::Named,
    ),
    // Legacy mode.
    p(
        &["failed calling webhook"],
        &[
            "LEG-WEBHOOK-DANGLING",
            "LEG-STUCK-RUNNER",
            "LEG-STUCK-POD",
            "LEG-NO-CONTROLLER",
            "ARC-NS-MISSING",
        ],
        By::Named,
    ),
    p(
        &["Runner unregistration is in-progress"],
        &["LEG-STUCK-POD", "LEG-STUCK-RUNNER"],
        By::Named,
    ),
    p(
        &["static runner is still busy"],
        &["LEG-STUCK-POD", "LEG-STUCK-RUNNER"],
        By::Named,
    ),
    p(
        &["Failed to unregister runner"],
        &[
            "LEG-STUCK-POD",
            "LEG-STUCK-RUNNER",
            "LEG-SECRET-DANGLING",
            "LEG-NO-CONTROLLER",
        ],
        By::Named,
    ),
    p(
        &["failed to get secret", "not found"],
        &["LEG-SECRET-DANGLING", "LEG-STUCK-POD", "LEG-STUCK-RUNNER"],
        By::Named,
    ),
    p(
        &["No GitHub credentials configured"],
        &["LEG-SECRET-DANGLING"],
        By::Source,
    ),
];

/// Attach matching log lines as evidence to `findings` (see the module docs).
pub fn attach_evidence(findings: &mut [Finding], snap: &Snapshot) {
    if snap.logs.is_empty() {
        return;
    }
    let sources: Vec<Vec<ObjectRef>> = snap.logs.iter().map(|l| log_subjects(snap, l)).collect();
    for f in findings.iter_mut() {
        let patterns: Vec<&Pattern> = PATTERNS
            .iter()
            .filter(|p| p.codes.contains(&f.code))
            .collect();
        if patterns.is_empty() {
            continue;
        }
        let names = finding_names(snap, f);
        for line in pick(snap, &sources, &patterns, &names, &f.objects) {
            if !f.evidence.contains(&line) {
                f.evidence.push(line);
            }
        }
    }
}

/// A name that identifies a finding object in a log line.
#[derive(Debug)]
struct Name {
    text: String,
    /// The namespace that must also appear when the name alone is ambiguous.
    namespace: Option<String>,
    ambiguous: bool,
}

impl Name {
    fn in_line(&self, line: &str) -> bool {
        contains_token(line, &self.text)
            && (!self.ambiguous
                || self
                    .namespace
                    .as_deref()
                    .is_none_or(|ns| contains_token(&without_users(line), ns)))
    }
}

/// The line with ServiceAccount user names (`system:serviceaccount:<ns>:<sa>`) blanked, so the
/// namespace of the *caller* in an RBAC denial does not count as the namespace of the object.
fn without_users(line: &str) -> String {
    const USER: &str = "system:serviceaccount:";
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(USER) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .char_indices()
            .find(|&(_, c)| is_value_end(c) || c == '\\')
            .map_or(tail.len(), |(j, _)| j);
        out.push(' ');
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Does another object of this kind and name exist in a different namespace?
fn ambiguous(snap: &Snapshot, kind: &str, name: &str, ns: Option<&str>) -> bool {
    ns.is_some()
        && snap
            .collections()
            .iter()
            .filter(|(k, _)| *k == kind)
            .any(|(_, c)| {
                c.iter()
                    .any(|o| o.meta.name == name && o.meta.namespace != ns)
            })
}

/// Names by which the finding's objects may appear in a log line.
fn finding_names(snap: &Snapshot, f: &Finding) -> Vec<Name> {
    let mut out = Vec::new();
    for r in &f.objects {
        let ns = r.namespace.clone();
        let amb = ambiguous(snap, &r.kind, &r.name, ns.as_deref());
        let mut push = |text: String, ambiguous: bool| {
            if !text.is_empty() {
                out.push(Name {
                    text,
                    namespace: ns.clone(),
                    ambiguous,
                });
            }
        };
        push(r.name.clone(), amb);
        let obj = snap.lookup(r).found();
        match r.kind.as_str() {
            "AutoscalingListener" => {
                push(format!("{}-config", r.name), amb);
                push(format!("{}-proxy", r.name), amb);
            }
            "AutoscalingRunnerSet" | "EphemeralRunnerSet" | "EphemeralRunner" => {
                if let Some((secret, false)) = obj.and_then(model::github_config_secret) {
                    push(
                        secret.to_owned(),
                        ambiguous(snap, "Secret", secret, ns.as_deref()),
                    );
                }
                // Lines about its runner sets / runners are about it too.
                for child in obj.into_iter().flat_map(|o| children(snap, o)) {
                    push(child.meta.name.to_owned(), false);
                }
            }
            "CustomResourceDefinition" => {
                // Reflector errors name the Go type, e.g. `*v1alpha1.EphemeralRunner`.
                if let Some(kind) = obj.and_then(|o| o.str("/spec/names/kind")) {
                    push(format!("v1alpha1.{kind}"), false);
                }
            }
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
                for w in obj.map(|o| o.array("/webhooks")).unwrap_or(&[]) {
                    for ptr in ["/name", "/clientConfig/service/name"] {
                        if let Some(s) = w.pointer(ptr).and_then(Node::as_str) {
                            push(s.to_owned(), false);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The EphemeralRunnerSets of an ARS, or the EphemeralRunners of an ERS (by owner UID).
fn children<'a>(snap: &'a Snapshot, o: &'a Object) -> Vec<&'a Object> {
    let uid = o.meta.uid;
    let kids = match o.meta.kind {
        "AutoscalingRunnerSet" => &snap.ephemeral_runner_sets,
        "EphemeralRunnerSet" => &snap.ephemeral_runners,
        _ => return Vec::new(),
    };
    if uid.is_empty() {
        return Vec::new();
    }
    kids.in_namespace(o.meta.ns())
        .filter(|k| k.meta.owner_references.iter().any(|r| r.uid == uid))
        .collect()
}

/// What a log comes from: its pod, the pod's Deployment, its listener and that listener's ARS.
fn log_subjects(snap: &Snapshot, log: &PodLog) -> Vec<ObjectRef> {
    let ns = log.namespace.as_str();
    let mut out = vec![ObjectRef::namespaced("Pod", ns, &log.pod)];
    let pod = snap.pods.get(Some(ns), &log.pod).found();
    let owner_uids: Vec<&str> = pod
        .map(|p| p.meta.owner_references.iter().map(|o| o.uid).collect())
        .unwrap_or_default();
    // Deployment pods are named `<deployment>-<replicaset hash>-<pod suffix>`.
    for d in snap.deployments.in_namespace(ns) {
        let rest = log
            .pod
            .strip_prefix(d.meta.name)
            .and_then(|r| r.strip_prefix('-'));
        if rest.is_some_and(|r| r.split('-').count() == 2) {
            out.push(d.meta.obj_ref());
        }
    }
    let listener = |al: &&Object| al.meta.name == log.pod || owner_uids.contains(&al.meta.uid);
    for al in snap.autoscaling_listeners.in_namespace(ns).filter(listener) {
        out.push(al.meta.obj_ref());
        if let Some((r, a)) = model::listener_target(al) {
            out.push(ObjectRef::namespaced("AutoscalingRunnerSet", r, a));
        }
    }
    out
}

/// One candidate line for a finding.
struct Hit<'a> {
    log: &'a PodLog,
    line: &'a str,
    count: usize,
}

/// Up to [`MAX_PER_FINDING`] formatted evidence lines, most recent distinct messages first.
fn pick(
    snap: &Snapshot,
    sources: &[Vec<ObjectRef>],
    patterns: &[&Pattern],
    names: &[Name],
    objects: &[ObjectRef],
) -> Vec<String> {
    let mut hits: Vec<Hit> = Vec::new();
    let mut seen: BTreeMap<(usize, String), usize> = BTreeMap::new();
    for (i, log) in snap.logs.iter().enumerate() {
        let from_finding = sources[i].iter().any(|s| objects.contains(s));
        for line in log
            .lines
            .iter()
            .rev()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
        {
            let relevant = patterns.iter().any(|p| {
                p.all.iter().all(|needle| line.contains(needle))
                    && match p.by {
                        By::Named => names.iter().any(|n| n.in_line(line)),
                        By::Source => from_finding,
                        By::Either => from_finding || names.iter().any(|n| n.in_line(line)),
                    }
            });
            if !relevant {
                continue;
            }
            let key = (i, normalize(line));
            if let Some(&h) = seen.get(&key) {
                hits[h].count += 1;
            } else if hits.len() < MAX_PER_FINDING {
                seen.insert(key, hits.len());
                hits.push(Hit {
                    log,
                    line,
                    count: 1,
                });
            }
        }
    }
    hits.iter().map(format_hit).collect()
}

fn format_hit(h: &Hit) -> String {
    let repeated = if h.count > 1 {
        format!(" (seen {} times)", h.count)
    } else {
        String::new()
    };
    format!(
        "log {}/{}[{}]: {}{repeated}",
        h.log.namespace,
        h.log.pod,
        h.log.container,
        truncate(&redact(&h.line.replace('\t', " ")), MAX_LINE)
    )
}

/// The message without its timestamp, so repeats of one message count as one.
fn normalize(line: &str) -> String {
    if line.starts_with('{')
        && let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(line)
    {
        for k in ["ts", "time", "timestamp", "T"] {
            m.remove(k);
        }
        return Value::Object(m).to_string();
    }
    match line.split_once('\t') {
        Some((first, rest)) if first.starts_with(|c: char| c.is_ascii_digit()) => rest.to_owned(),
        _ => line.to_owned(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Matching helpers

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `needle` occurs in `hay` as a whole token (not as part of a longer name).
fn contains_token(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(i, _)| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        before.is_none_or(|c| !is_name_char(c)) && after.is_none_or(|c| !is_name_char(c))
    })
}

// ---------------------------------------------------------------------------------------------
// Redaction

/// Keys whose values are credentials.
const SENSITIVE_KEYS: &[&str] = &[
    "github_token",
    "github_app_private_key",
    "private_key",
    "privatekey",
    "jittoken",
    "jit_token",
    "jitconfig",
    "encodedjitconfig",
    "registration_token",
    "access_token",
    "accesstoken",
    "password",
    "authorization",
    "token",
];

/// Prefixes of GitHub credentials.
const TOKEN_PREFIXES: &[&str] = &["github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"];

/// Remove anything that looks like a credential from a log line.
pub fn redact(line: &str) -> String {
    let s = redact_key_values(line);
    let s = redact_after_words(&s, &["Bearer ", "bearer ", "RemoteAuth ", "Basic "]);
    redact_runs(&s)
}

fn is_value_end(c: char) -> bool {
    c == '"' || c == '\'' || c == ',' || c == '}' || c == ']' || c.is_whitespace()
}

/// `"key": "value"`, `key=value`, `key: value` for sensitive keys → value redacted.
fn redact_key_values(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let hit = SENSITIVE_KEYS.iter().find(|k| {
            lower[i..].starts_with(*k)
                && line[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_')
        });
        let Some(key) = hit else {
            let c = line[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let key_end = i + key.len();
        // Separator: optional quote, spaces, ':' or '=', spaces, optional quote.
        let rest = &line[key_end..];
        let sep_len = rest
            .char_indices()
            .find(|&(_, c)| !(c == '"' || c == '\'' || c == ' ' || c == ':' || c == '='))
            .map_or(rest.len(), |(j, _)| j);
        let sep = &rest[..sep_len];
        if !(sep.contains(':') || sep.contains('=')) || lower[key_end..].starts_with('_') {
            out.push_str(&line[i..key_end]);
            i = key_end;
            continue;
        }
        let value = &rest[sep_len..];
        let value_len = value
            .char_indices()
            .find(|&(_, c)| is_value_end(c))
            .map_or(value.len(), |(j, _)| j);
        out.push_str(&line[i..key_end + sep_len]);
        if value_len > 0 {
            out.push_str(REDACTED);
        }
        i = key_end + sep_len + value_len;
    }
    out
}

/// The word following any of `words` → redacted.
fn redact_after_words(line: &str, words: &[&str]) -> String {
    let mut s = line.to_owned();
    for w in words {
        let mut from = 0;
        while let Some(pos) = s[from..].find(w) {
            let start = from + pos + w.len();
            let len = s[start..]
                .char_indices()
                .find(|&(_, c)| is_value_end(c))
                .map_or(s.len() - start, |(j, _)| j);
            if len > 0 && &s[start..start + len] != REDACTED {
                s.replace_range(start..start + len, REDACTED);
            }
            from = start + REDACTED.len().min(s.len() - start);
        }
    }
    s
}

fn is_b64_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=' || c == '_'
}

/// Does a run of base64-like characters look like a secret?
fn secret_like(run: &str) -> bool {
    if TOKEN_PREFIXES.iter().any(|p| run.starts_with(p)) && run.len() >= 20 {
        return true;
    }
    run.split('/').any(|seg| {
        seg.len() >= 20
            && seg.chars().any(|c| c.is_ascii_digit())
            && seg.chars().any(|c| c.is_ascii_alphabetic())
    })
}

/// Long base64-like runs (tokens, keys, JWT parts) → redacted.
fn redact_runs(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if secret_like(run) {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in line.chars() {
        if is_b64_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;
    use crate::testing;
    use serde_json::json;

    const L: &str = "arc-runner-set-85f786b5-listener";

    fn log(ns: &str, pod: &str, container: &str, lines: &[&str]) -> PodLog {
        PodLog {
            namespace: ns.into(),
            pod: pod.into(),
            container: container.into(),
            lines: lines.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// S1 shape: two listeners of the same name; the new controller cannot clean up the old one.
    fn s1() -> Snapshot {
        let mut snap = testing::snapshot_from_docs(vec![
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"arc-gha-rs-controller","namespace":"arc-controller"}}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener",
                   "metadata":{"name":L,"namespace":"arc-systems"},
                   "spec":{"autoscalingRunnerSetNamespace":"arc-runners","autoscalingRunnerSetName":"arc-runner-set"}}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener",
                   "metadata":{"name":L,"namespace":"arc-controller"},
                   "spec":{"autoscalingRunnerSetNamespace":"arc-runners","autoscalingRunnerSetName":"arc-runner-set"}}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingRunnerSet",
                   "metadata":{"name":"arc-runner-set","namespace":"arc-runners"},
                   "spec":{"githubConfigSecret":"arc-runner-set-gha-rs-github-secret"}}),
        ]);
        snap.logs.push(log("arc-controller", "arc-gha-rs-controller-6d9f7c8b4-x2x9k", "manager", &[
            "2026-07-01T10:00:00Z\tINFO\tAutoscalingListener\tRemoving finalizer\t{\"autoscalinglistener\": \"arc-controller/other\"}",
            &format!("2026-07-01T10:00:01Z\tERROR\tAutoscalingListener\tFailed to cleanup resources after deletion\t{{\"autoscalinglistener\": {{\"name\":\"{L}\",\"namespace\":\"arc-systems\"}}, \"error\": \"failed to get listener config secret: secrets \\\"{L}-config\\\" is forbidden: User \\\"system:serviceaccount:arc-controller:arc-gha-rs-controller\\\" cannot get resource \\\"secrets\\\" in API group \\\"\\\" in the namespace \\\"arc-systems\\\"\"}}"),
            &format!("2026-07-01T10:00:06Z\tERROR\tAutoscalingListener\tFailed to cleanup resources after deletion\t{{\"autoscalinglistener\": {{\"name\":\"{L}\",\"namespace\":\"arc-systems\"}}, \"error\": \"failed to get listener config secret: secrets \\\"{L}-config\\\" is forbidden: User \\\"system:serviceaccount:arc-controller:arc-gha-rs-controller\\\" cannot get resource \\\"secrets\\\" in API group \\\"\\\" in the namespace \\\"arc-systems\\\"\"}}"),
            "2026-07-01T10:00:02Z\tERROR\tAutoscalingListener\tFailed to get app config for AutoscalingRunnerSet.\t{\"error\": \"failed to resolve app config: failed to get kubernetes secret: \\\"arc-runners/arc-runner-set-gha-rs-github-secret\\\"\"}",
        ]));
        snap
    }

    fn finding(code: &'static str, objects: &[ObjectRef]) -> Finding {
        Finding::new(code, Severity::High, "m").objects(objects.iter().cloned())
    }

    #[test]
    fn forbidden_listener_cleanup_is_attached_to_the_old_listener_only() {
        let snap = s1();
        let mut fs = vec![
            finding(
                "ARC-STUCK-LISTENER",
                &[ObjectRef::namespaced(
                    "AutoscalingListener",
                    "arc-systems",
                    L,
                )],
            ),
            finding(
                "ARC-STUCK-LISTENER",
                &[ObjectRef::namespaced(
                    "AutoscalingListener",
                    "arc-controller",
                    L,
                )],
            ),
            finding(
                "ARC-ORPHAN-LISTENER",
                &[ObjectRef::namespaced(
                    "AutoscalingListener",
                    "arc-systems",
                    L,
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1, "{:?}", fs[0].evidence);
        let e = &fs[0].evidence[0];
        assert!(
            e.starts_with("log arc-controller/arc-gha-rs-controller-6d9f7c8b4-x2x9k[manager]: "),
            "{e}"
        );
        assert!(
            e.contains("is forbidden") && e.contains("(seen 2 times)"),
            "{e}"
        );
        assert!(!e.contains('\t'));
        // arc-controller appears only as the caller's namespace: not evidence for the new listener.
        assert!(fs[1].evidence.is_empty(), "{:?}", fs[1].evidence);
        // The code filter keeps unrelated codes clean.
        assert!(fs[2].evidence.is_empty());
    }

    #[test]
    fn ambiguous_names_need_their_namespace() {
        let mut snap = s1();
        snap.logs.push(log("arc-controller", "x", "manager", &[&format!(
            "ERROR\tFailed to cleanup resources after deletion\t{{\"autoscalinglistener\": \"arc-systems/{L}\"}}"
        )]));
        snap.logs.remove(0);
        let mut fs = vec![
            finding(
                "ARC-STUCK-LISTENER",
                &[ObjectRef::namespaced(
                    "AutoscalingListener",
                    "arc-systems",
                    L,
                )],
            ),
            finding(
                "ARC-STUCK-LISTENER",
                &[ObjectRef::namespaced(
                    "AutoscalingListener",
                    "arc-controller",
                    L,
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1);
        assert!(fs[1].evidence.is_empty(), "{:?}", fs[1].evidence);
    }

    #[test]
    fn secret_errors_attach_through_the_scale_sets_secret_name() {
        let snap = s1();
        let mut fs = vec![
            finding(
                "ARC-MANAGER-BINDING-MISMATCH",
                &[
                    ObjectRef::namespaced(
                        "RoleBinding",
                        "arc-runners",
                        "arc-runner-set-gha-rs-manager",
                    ),
                    ObjectRef::namespaced("AutoscalingRunnerSet", "arc-runners", "arc-runner-set"),
                ],
            ),
            finding(
                "ARC-SECRET-DANGLING",
                &[ObjectRef::namespaced(
                    "Secret",
                    "arc-runners",
                    "other-secret",
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1);
        assert!(fs[0].evidence[0].contains("failed to resolve app config"));
        assert!(fs[1].evidence.is_empty());
    }

    #[test]
    fn listener_pod_logs_attach_by_source_to_its_scale_set() {
        let mut snap = s1();
        snap.logs.push(log("arc-systems", L, "listener", &[
            "{\"level\":\"error\",\"ts\":1,\"msg\":\"createSession failed\",\"error\":\"actions error: StatusCode 404: GitHub.Actions.Runtime.WebApi.RunnerScaleSetNotFoundException, No runner scale set found with identifier 12.\"}",
            "{\"level\":\"error\",\"ts\":2,\"msg\":\"createSession failed\",\"error\":\"actions error: StatusCode 404: GitHub.Actions.Runtime.WebApi.RunnerScaleSetNotFoundException, No runner scale set found with identifier 12.\"}",
        ]));
        let mut fs = vec![
            finding(
                "ARC-SCALESET-ID-DEAD",
                &[ObjectRef::namespaced(
                    "AutoscalingRunnerSet",
                    "arc-runners",
                    "arc-runner-set",
                )],
            ),
            finding(
                "ARC-SCALESET-ID-DEAD",
                &[ObjectRef::namespaced(
                    "AutoscalingRunnerSet",
                    "ci-runners",
                    "arc-runner-set",
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1, "{:?}", fs[0].evidence);
        assert!(fs[0].evidence[0].starts_with(&format!("log arc-systems/{L}[listener]: ")));
        assert!(fs[0].evidence[0].ends_with("(seen 2 times)"));
        assert!(fs[1].evidence.is_empty());
    }

    #[test]
    fn at_most_three_lines_and_no_duplicates() {
        let mut snap = s1();
        let lines: Vec<String> = (0..10)
            .map(|i| format!("ERROR\tAutoscalingListener\tFailed to find AutoscalingRunnerSet.\t{{\"listener\":\"arc-systems/{L}\",\"n\":{i}}}"))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        snap.logs.push(log("arc-controller", "c", "manager", &refs));
        let mut fs = vec![finding(
            "ARC-ORPHAN-LISTENER",
            &[ObjectRef::namespaced(
                "AutoscalingListener",
                "arc-systems",
                L,
            )],
        )];
        attach_evidence(&mut fs, &snap);
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), MAX_PER_FINDING);
        assert!(
            fs[0].evidence[0].contains("\"n\":9"),
            "most recent first: {:?}",
            fs[0].evidence
        );
    }

    #[test]
    fn codes_without_patterns_and_unrelated_objects_get_nothing() {
        let snap = s1();
        let mut fs = vec![
            finding(
                "ARC-ORPHAN-CHART-RBAC",
                &[ObjectRef::namespaced("Role", "arc-runners", "x")],
            ),
            finding(
                "ARC-STUCK-LISTENER",
                &[ObjectRef::namespaced(
                    "AutoscalingListener",
                    "arc-systems",
                    "arc-runner-set",
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert!(fs.iter().all(|f| f.evidence.is_empty()), "{fs:#?}");
    }

    #[test]
    fn session_conflict_lines_come_from_the_listener_pod() {
        let mut snap = s1();
        snap.logs.push(log("arc-systems", L, "listener", &[
            "2026-07-01T10:00:00Z\tERROR\tlistener\tfailed to create session: 409 The runner scale set arc-runner-set already has an active session for owner arc-runner-set-754b578d-listener.",
        ]));
        let mut fs = vec![finding(
            "ARC-SESSION-CONFLICT",
            &[
                ObjectRef::namespaced("Pod", "arc-systems", L),
                ObjectRef::namespaced("AutoscalingListener", "arc-systems", L),
            ],
        )];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1);
    }

    #[test]
    fn a_scale_set_is_named_through_its_runner_set() {
        // S9 shape: the ERS reconciler names the ERS and the runner, not the ARS.
        let mut snap = testing::snapshot_from_docs(vec![
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingRunnerSet",
                   "metadata":{"name":"arc-runner-set","namespace":"arc-runners","uid":"ars-uid"}}),
            json!({"apiVersion":"actions.github.com/v1alpha1","kind":"EphemeralRunnerSet",
                   "metadata":{"name":"arc-runner-set-x7k2p","namespace":"arc-runners",
                               "ownerReferences":[{"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingRunnerSet",
                                                   "name":"arc-runner-set","uid":"ars-uid"}]}}),
        ]);
        snap.logs.push(log("arc-systems", "c", "manager", &[
            "2026-07-01T10:02:03Z\tINFO\tEphemeralRunnerSet\tSkipping ephemeral runner since it is running a job\t{\"ephemeralrunnerset\": {\"name\": \"arc-runner-set-x7k2p\", \"namespace\": \"arc-runners\"}, \"jobId\": \"8812\"}",
        ]));
        let mut fs = vec![
            finding(
                "ARC-DELETION-PROGRESSING",
                &[ObjectRef::namespaced(
                    "AutoscalingRunnerSet",
                    "arc-runners",
                    "arc-runner-set",
                )],
            ),
            finding(
                "ARC-DELETION-PROGRESSING",
                &[ObjectRef::namespaced(
                    "AutoscalingRunnerSet",
                    "arc-runners",
                    "other",
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1);
        assert!(fs[1].evidence.is_empty());
    }

    #[test]
    fn controller_wide_errors_attach_by_source_and_crd_type() {
        let mut snap = testing::snapshot_from_docs(vec![
            json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"arc-gha-rs-controller","namespace":"arc-systems"}}),
            json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
                   "metadata":{"name":"ephemeralrunners.actions.github.com"},"spec":{"names":{"kind":"EphemeralRunner"}}}),
            json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
                   "metadata":{"name":"ephemeralrunnersets.actions.github.com"},"spec":{"names":{"kind":"EphemeralRunnerSet"}}}),
        ]);
        snap.logs.push(log("arc-systems", "arc-gha-rs-controller-7tfdf26qkn-p55hl", "manager", &[
            "2026-07-01T09:58:02Z\tERROR\tcontroller-runtime.cache.UnhandledError\tFailed to watch\t{\"type\": \"*v1alpha1.EphemeralRunner\", \"error\": \"failed to list *v1alpha1.EphemeralRunner: json: cannot unmarshal bool into Go struct field EphemeralRunnerStatus.items.status.failures of type string\"}",
            "flag provided but not defined: -update-strategy",
        ]));
        let dep = ObjectRef::namespaced("Deployment", "arc-systems", "arc-gha-rs-controller");
        let mut fs = vec![
            finding(
                "ARC-CRD-SKEW",
                &[ObjectRef::cluster(
                    "CustomResourceDefinition",
                    "ephemeralrunners.actions.github.com",
                )],
            ),
            finding(
                "ARC-CRD-SKEW",
                &[ObjectRef::cluster(
                    "CustomResourceDefinition",
                    "ephemeralrunnersets.actions.github.com",
                )],
            ),
            finding("ARC-CONTROLLER-UNHEALTHY", std::slice::from_ref(&dep)),
            finding(
                "ARC-CONTROLLER-UNHEALTHY",
                &[ObjectRef::namespaced(
                    "Deployment",
                    "other",
                    "arc-gha-rs-controller",
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1, "{:?}", fs[0].evidence);
        assert!(fs[1].evidence.is_empty(), "{:?}", fs[1].evidence);
        assert_eq!(
            fs[2].evidence,
            [
                "log arc-systems/arc-gha-rs-controller-7tfdf26qkn-p55hl[manager]: flag provided but not defined: -update-strategy"
            ]
        );
        assert!(fs[3].evidence.is_empty());
    }

    #[test]
    fn legacy_unregistration_failures_attach_to_the_pod_and_secret() {
        let mut snap = Snapshot::default();
        snap.logs.push(log("actions-runner-system", "actions-runner-controller-7m6bnrvdhp-tgtgg", "manager", &[
            "2026-07-01T10:04:32Z\tERROR\tactions-runner-controller.runnerpod\tFailed to unregister runner before deleting the pod\t{\"runnerpod\": \"team2-ci/team2-rd-k7tqm-x2f9b\", \"error\": \"failed to get secret \\\"team2-github-app\\\": secrets \\\"team2-github-app\\\" not found\"}",
        ]));
        let mut fs = vec![
            finding(
                "LEG-STUCK-POD",
                &[ObjectRef::namespaced(
                    "Pod",
                    "team2-ci",
                    "team2-rd-k7tqm-x2f9b",
                )],
            ),
            finding(
                "LEG-SECRET-DANGLING",
                &[ObjectRef::namespaced(
                    "Secret",
                    "team2-ci",
                    "team2-github-app",
                )],
            ),
            finding(
                "LEG-SECRET-DANGLING",
                &[ObjectRef::namespaced(
                    "Secret",
                    "team2-arc-system",
                    "controller-manager",
                )],
            ),
        ];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1);
        assert_eq!(fs[1].evidence.len(), 1);
        assert!(fs[2].evidence.is_empty());
    }

    #[test]
    fn tokens_are_redacted() {
        let line = "auth failed {\"github_token\": \"ghp_abcdefghijklmnopqrstuvwxyz0123456789\", \"password\":\"hunter2\"} \
                    Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIzNDU2Nzg5 \
                    key=MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7 token=abc";
        let r = redact(line);
        for secret in ["ghp_", "hunter2", "eyJ", "MIIEvQ", "=abc"] {
            assert!(!r.contains(secret), "{secret} leaked: {r}");
        }
        assert!(r.contains("auth failed"));
    }

    #[test]
    fn names_and_paths_survive_redaction() {
        let line = "secrets \"arc-runner-set-85f786b5-listener-config\" is forbidden: User \
                    \"system:serviceaccount:arc-controller:arc-gha-rs-controller\" GET /_apis/runtime/runnerscalesets/42 \
                    GitHub.Actions.Runtime.WebApi.RunnerScaleSetNotFoundException tokenSource=x";
        assert_eq!(redact(line), line);
    }

    #[test]
    fn redacted_lines_are_what_gets_attached() {
        let mut snap = s1();
        snap.logs.push(log("arc-systems", L, "listener", &[
            "ERROR\tlistener\tNo runner scale set found with identifier 12 {\"token\":\"ghs_0123456789abcdefghijABCDEFGHIJ\"}",
        ]));
        let mut fs = vec![finding(
            "ARC-SCALESET-ID-DEAD",
            &[ObjectRef::namespaced(
                "AutoscalingRunnerSet",
                "arc-runners",
                "arc-runner-set",
            )],
        )];
        attach_evidence(&mut fs, &snap);
        assert_eq!(fs[0].evidence.len(), 1);
        assert!(!fs[0].evidence[0].contains("ghs_"), "{}", fs[0].evidence[0]);
        assert!(fs[0].evidence[0].contains(REDACTED));
    }

    #[test]
    fn token_boundaries() {
        assert!(contains_token(
            "secrets \"arc-runner-set\" x",
            "arc-runner-set"
        ));
        assert!(contains_token("\"arc-runners/gh-pat\"", "gh-pat"));
        assert!(!contains_token("arc-runner-set-x7k2p", "arc-runner-set"));
        assert!(!contains_token("my-arc-runner-set", "arc-runner-set"));
        assert!(contains_token("set arc-runner-set.", "arc-runner-set"));
    }

    #[test]
    fn every_pattern_code_is_in_the_catalog() {
        for p in PATTERNS {
            for c in p.codes {
                assert!(crate::codes::info(c).is_some(), "{c}");
            }
        }
    }
}
