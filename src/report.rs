//! Rendering a doctor report: a human report that fits a screen — one block per incident
//! (headline, what it affects, what to do), wrapped to the terminal width, colour only on a
//! terminal, details with `-v` — or a stable JSON/YAML document with every finding. The schema is
//! documented in README.md ("Report schema").

use std::fmt::Write as _;

use owo_colors::OwoColorize;
use serde::Serialize;

use crate::checks::not_checked;
use crate::findings::{Finding, Severity};
use crate::incidents::{self, Incident};
use crate::model::{Controller, ControllerScope, Generation, Model};
use crate::snapshot::{Gap, Snapshot};

pub const API_VERSION: &str = "kubectl-arc.dev/v1alpha1";

/// The whole report, as serialized for `-o json|yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub summary: Summary,
    pub controllers: Vec<ControllerRow>,
    /// Findings grouped by root cause, most severe first; every finding is in exactly one.
    pub incidents: Vec<Incident>,
    /// Every finding, most severe first.
    pub findings: Vec<ReportFinding>,
    pub not_checked: Vec<Gap>,
}

/// A finding as reported: its stable id, its incident, and the finding itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportFinding {
    pub id: String,
    /// Id of the incident it belongs to.
    pub incident: String,
    #[serde(flatten)]
    pub finding: Finding,
}

impl Report {
    /// Assemble a report: ids for the findings, and the incidents they form.
    pub fn new(
        findings: Vec<Finding>,
        snap: &Snapshot,
        model: &Model,
        mut summary: Summary,
    ) -> Report {
        let ids = incidents::finding_ids(&findings);
        let incidents = incidents::build(&findings, &ids, snap, model);
        let mut incident_of = vec![String::new(); findings.len()];
        for inc in &incidents {
            for &i in &inc.members {
                incident_of[i].clone_from(&inc.id);
            }
        }
        summary.incidents = incidents.iter().filter(|i| !i.is_coverage()).count();
        let findings = findings
            .into_iter()
            .zip(ids)
            .zip(incident_of)
            .map(|((finding, id), incident)| ReportFinding {
                id,
                incident,
                finding,
            })
            .collect();
        Report {
            api_version: API_VERSION,
            kind: "DoctorReport",
            summary,
            controllers: model.controllers.iter().map(ControllerRow::from).collect(),
            incidents,
            findings,
            not_checked: snap.gaps.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
    pub total: usize,
    /// Incidents (root causes) the findings form, not counting what could not be checked.
    pub incidents: usize,
    /// `--fail-on` threshold (`none` = never fail).
    pub fail_on: String,
    pub exit_code: u8,
    /// API requests this run sent.
    pub api_requests: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerRow {
    pub namespace: String,
    pub name: String,
    /// `gha` (actions.github.com scale sets) or `legacy` (actions.summerwind.dev).
    pub generation: Generation,
    pub version: Option<String>,
    /// `cluster` or `namespace`.
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch_namespace: Option<String>,
    pub service_account: String,
    pub healthy: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl From<&Controller> for ControllerRow {
    fn from(c: &Controller) -> ControllerRow {
        let (scope, watch_namespace) = match &c.scope {
            ControllerScope::ClusterWide => ("cluster", None),
            ControllerScope::SingleNamespace(w) => ("namespace", Some(w.clone())),
        };
        ControllerRow {
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            generation: c.generation,
            version: c.version.clone(),
            scope,
            watch_namespace,
            service_account: c.service_account.clone(),
            healthy: c.healthy,
            problems: c.problems.clone(),
        }
    }
}

impl Summary {
    pub fn count(findings: &[Finding]) -> Summary {
        let n = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
        Summary {
            critical: n(Severity::Critical),
            high: n(Severity::High),
            medium: n(Severity::Medium),
            low: n(Severity::Low),
            info: n(Severity::Info),
            total: findings.len(),
            incidents: 0,
            fail_on: String::new(),
            exit_code: 0,
            api_requests: 0,
        }
    }
}

/// Serialize as JSON (pretty, trailing newline).
pub fn to_json<T: Serialize + ?Sized>(r: &T) -> String {
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// Serialize as YAML.
pub fn to_yaml<T: Serialize>(r: &T) -> String {
    let mut s = serde_saphyr::to_string(r).unwrap_or_else(|e| format!("error: {e}"));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// How to render the table.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub color: bool,
    /// Columns to wrap to.
    pub width: usize,
    /// Show every finding's message, evidence and own remediation (`-v`).
    pub details: bool,
}

/// The width to wrap to: the terminal's when stdout is one, else `COLUMNS`, else 100.
pub fn output_width(stdout_is_terminal: bool) -> usize {
    const MIN: usize = 40;
    if stdout_is_terminal
        && let Some((terminal_size::Width(w), _)) =
            terminal_size::terminal_size_of(std::io::stdout())
    {
        return usize::from(w).max(MIN);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0)
        .map_or(100, |w| w.max(MIN))
}

/// Greedy word wrap: `first` prefixes the first line, `rest` the others; no line is longer than
/// `width` characters (a word longer than a line is split), and none ends in spaces.
pub fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let len = |s: &str| s.chars().count();
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut has_word = false;
    for word in text.split_whitespace() {
        let mut word = word.to_owned();
        loop {
            let used = len(&line) + usize::from(has_word);
            if used + len(&word) <= width {
                if has_word {
                    line.push(' ');
                }
                line.push_str(&word);
                has_word = true;
                break;
            }
            if has_word {
                lines.push(std::mem::replace(&mut line, rest.to_owned()));
                has_word = false;
                continue;
            }
            // Only the indent so far and the word does not fit: split it, preferably after a
            // `,`, `&`, `/` or `=` in the second half of the line.
            let room = width.saturating_sub(len(&line)).max(1);
            let chars: Vec<char> = word.chars().collect();
            let fits = &chars[..room.min(chars.len())];
            let cut = [',', '&', '/', '=']
                .iter()
                .find_map(|sep| {
                    fits.iter()
                        .rposition(|c| c == sep)
                        .map(|i| i + 1)
                        .filter(|&i| i * 2 >= room)
                })
                .unwrap_or(room);
            let head: String = chars[..cut].iter().collect();
            word = chars[cut..].iter().collect();
            line.push_str(&head);
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            if word.is_empty() {
                break;
            }
        }
    }
    if has_word || lines.is_empty() {
        lines.push(line);
    }
    lines.into_iter().map(|l| l.trim_end().to_owned()).collect()
}

/// Colour styles, applied only when enabled.
struct Paint {
    on: bool,
}

impl Paint {
    fn sev(&self, s: Severity, text: &str) -> String {
        if !self.on {
            return text.to_owned();
        }
        match s {
            Severity::Critical => text.red().bold().to_string(),
            Severity::High => text.red().to_string(),
            Severity::Medium => text.yellow().to_string(),
            Severity::Low => text.cyan().to_string(),
            Severity::Info => text.blue().to_string(),
        }
    }
    fn bold(&self, text: &str) -> String {
        if self.on {
            text.bold().to_string()
        } else {
            text.to_owned()
        }
    }
    fn dim(&self, text: &str) -> String {
        if self.on {
            text.dimmed().to_string()
        } else {
            text.to_owned()
        }
    }
}

/// A plain text table whose last column wraps; no trailing spaces.
fn table(header: &[&str], rows: &[Vec<String>], width: usize, indent: &str) -> Vec<String> {
    let n = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let fixed: usize = indent.len() + w[..n - 1].iter().map(|c| c + 2).sum::<usize>();
    let last = width.saturating_sub(fixed).max(10);
    let mut out = Vec::new();
    let header_row: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for r in std::iter::once(&header_row).chain(rows) {
        let mut prefix = indent.to_owned();
        for (i, c) in r.iter().enumerate().take(n - 1) {
            let _ = write!(prefix, "{c:<width$}  ", width = w[i]);
        }
        let pad = " ".repeat(prefix.chars().count());
        let cell = r.get(n - 1).map(String::as_str).unwrap_or("");
        let lines = wrap(cell, fixed + last, &prefix, &pad);
        out.extend(lines);
    }
    out.into_iter().map(|l| l.trim_end().to_owned()).collect()
}

fn fix_word(f: crate::findings::Fix) -> &'static str {
    crate::codes::fix_words(f)
}

/// Human output.
pub fn to_table(r: &Report, o: TableOptions) -> String {
    let p = Paint { on: o.color };
    let width = o.width;
    let mut out: Vec<String> = Vec::new();
    let deployments_hidden = r
        .not_checked
        .iter()
        .any(|g| g.kind.as_deref() == Some("Deployment"));
    if r.controllers.is_empty() && deployments_hidden {
        out.extend(wrap(
            "ARC controllers: none visible (Deployments could not be listed everywhere)",
            width,
            "",
            "  ",
        ));
    } else if r.controllers.is_empty() {
        out.push(p.bold("ARC controllers: none found"));
    } else {
        out.push(p.bold("ARC controllers"));
        let rows: Vec<Vec<String>> = r
            .controllers
            .iter()
            .map(|c| {
                let scope = match &c.watch_namespace {
                    Some(w) => format!("namespace {w}"),
                    None => "cluster".to_owned(),
                };
                let mode = match c.generation {
                    Generation::Gha => "scale-set",
                    Generation::Legacy => "legacy",
                };
                vec![
                    c.namespace.clone(),
                    c.name.clone(),
                    mode.to_owned(),
                    c.version.clone().unwrap_or_else(|| "?".into()),
                    scope,
                    if c.healthy {
                        "yes".to_owned()
                    } else {
                        format!("no: {}", c.problems.join("; "))
                    },
                ]
            })
            .collect();
        out.extend(table(
            &["NAMESPACE", "NAME", "MODE", "VERSION", "SCOPE", "HEALTHY"],
            &rows,
            width,
            "",
        ));
    }
    out.push(String::new());
    let problems: Vec<&Incident> = r.incidents.iter().filter(|i| !i.is_coverage()).collect();
    if problems.is_empty() {
        out.push(p.bold(if r.not_checked.is_empty() {
            "No problems found."
        } else {
            "No problems found in what could be checked."
        }));
        out.push(String::new());
    }
    for inc in &problems {
        render_incident(&mut out, r, inc, &p, o);
        out.push(String::new());
    }
    if !r.not_checked.is_empty() {
        let gaps: Vec<&Gap> = r.not_checked.iter().collect();
        let coverage = r.incidents.iter().find(|i| i.is_coverage());
        let sev = coverage.map_or(Severity::Info, |i| i.severity);
        let title = format!(
            "Not checked ({} request{} refused or unanswered):",
            gaps.len(),
            if gaps.len() == 1 { "" } else { "s" }
        );
        for line in wrap(&title, width, "", "  ") {
            out.push(if sev > Severity::Info {
                p.sev(sev, &line)
            } else {
                p.bold(&line)
            });
        }
        for line in not_checked::advice(&gaps) {
            out.extend(wrap(&line, width, "  - ", "    "));
        }
        if o.details {
            for g in &gaps {
                out.extend(
                    wrap(
                        &format!("{}: {}", g.what, g.reason),
                        width,
                        "      ",
                        "        ",
                    )
                    .into_iter()
                    .map(|l| p.dim(&l)),
                );
            }
        }
        out.push(String::new());
    }
    let s = &r.summary;
    let counts: Vec<String> = [
        (s.critical, "critical"),
        (s.high, "high"),
        (s.medium, "medium"),
        (s.low, "low"),
        (s.info, "info"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, w)| format!("{n} {w}"))
    .collect();
    let findings = if counts.is_empty() {
        "no findings".to_owned()
    } else {
        format!(
            "{} incident{} from {} finding{} ({})",
            s.incidents,
            if s.incidents == 1 { "" } else { "s" },
            s.total,
            if s.total == 1 { "" } else { "s" },
            counts.join(", ")
        )
    };
    let summary = format!(
        "Summary: {findings}; {} not checked; exit {} (--fail-on {}).",
        r.not_checked.len(),
        s.exit_code,
        s.fail_on
    );
    out.extend(wrap(&summary, width, "", "  "));
    if !problems.is_empty() && !o.details {
        out.extend(
            wrap(
                "More: -v (messages, evidence), -o json (everything), kubectl arc explain <CODE>.",
                width,
                "",
                "  ",
            )
            .into_iter()
            .map(|l| p.dim(&l)),
        );
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn render_incident(out: &mut Vec<String>, r: &Report, inc: &Incident, p: &Paint, o: TableOptions) {
    let width = o.width;
    let label = inc.severity.as_str().to_uppercase();
    let lead = format!("{label:<9} ");
    let pad = " ".repeat(lead.len());
    for (i, line) in wrap(&inc.headline, width, &lead, &pad)
        .into_iter()
        .enumerate()
    {
        out.push(if i == 0 {
            let rest = &line[lead.len()..];
            format!("{}{}", p.sev(inc.severity, &lead), p.bold(rest))
        } else {
            p.bold(&line)
        });
    }
    if o.details {
        let text = format!("incident {} — cause: {}", inc.id, inc.cause);
        out.extend(
            wrap(&text, width, "  ", "    ")
                .into_iter()
                .map(|l| p.dim(&l)),
        );
    }
    out.push(p.dim("  What it affects:"));
    let members: Vec<&ReportFinding> = inc.members.iter().map(|&i| &r.findings[i]).collect();
    let code_w = members
        .iter()
        .map(|f| f.finding.code.len())
        .max()
        .unwrap_or(0);
    for f in &members {
        let sev = f.finding.severity;
        let object = f
            .finding
            .primary()
            .map(incidents::friendly)
            .unwrap_or_else(|| f.finding.title.clone());
        let mut lead = format!("    {:<8}  {:<code_w$}  ", sev.as_str(), f.finding.code);
        let mut pad = " ".repeat(lead.len());
        if lead.len() + 20 > width {
            // Too narrow for one line: code, then the object below it.
            out.push(p.sev(sev, &format!("    {}  {}", sev.as_str(), f.finding.code)));
            lead = "      ".to_owned();
            pad.clone_from(&lead);
        }
        for (i, line) in wrap(&object, width, &lead, &pad).into_iter().enumerate() {
            out.push(if i == 0 {
                let (l, rest) = line.split_at(lead.len());
                format!("{}{rest}", p.sev(sev, l))
            } else {
                line
            });
        }
        if o.details {
            render_details(out, f, p, width);
        }
    }
    if !inc.remedy.is_empty() {
        out.push(p.dim("  What to do:"));
        for (i, step) in inc.remedy.iter().enumerate() {
            let lead = format!("    {}. ", i + 1);
            let pad = " ".repeat(lead.len());
            out.extend(wrap(step, width, &lead, &pad));
        }
    }
}

fn render_details(out: &mut Vec<String>, f: &ReportFinding, p: &Paint, width: usize) {
    let x = &f.finding;
    let ind = "        ";
    out.extend(
        wrap(&format!("{} [{}]", x.title, f.id), width, ind, ind)
            .into_iter()
            .map(|l| p.bold(&l)),
    );
    out.extend(wrap(&x.message, width, ind, ind));
    if x.objects.len() > 1 {
        out.push(p.dim(&format!("{ind}objects:")));
        for obj in &x.objects[1..] {
            out.extend(wrap(
                &obj.to_string(),
                width,
                &format!("{ind}  - "),
                &format!("{ind}    "),
            ));
        }
    }
    if !x.evidence.is_empty() {
        out.push(p.dim(&format!("{ind}evidence:")));
        for e in &x.evidence {
            out.extend(wrap(e, width, &format!("{ind}  - "), &format!("{ind}    ")));
        }
    }
    if !x.remediation.is_empty() {
        let label = format!("its own remediation ({}):", fix_word(x.fix));
        out.extend(wrap(&label, width, ind, ind).into_iter().map(|l| p.dim(&l)));
        for (i, step) in x.remediation.iter().enumerate() {
            let lead = format!("{ind}  {}. ", i + 1);
            let pad = " ".repeat(lead.len());
            out.extend(wrap(step, width, &lead, &pad));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;

    fn report() -> Report {
        let findings = vec![
            Finding::new(
                "ARC-NS-TERMINATING",
                Severity::Critical,
                "Namespace arc-systems is stuck.",
            )
            .object(ObjectRef::cluster("Namespace", "arc-systems"))
            .object(ObjectRef::namespaced(
                "AutoscalingListener",
                "arc-systems",
                "l",
            ))
            .remediation("do x")
            .evidence("condition NamespaceFinalizersRemaining"),
            Finding::new("MIXED-MODE", Severity::Info, "Both installed."),
        ];
        let mut summary = Summary::count(&findings);
        summary.fail_on = "high".into();
        summary.exit_code = 1;
        let snap = Snapshot {
            gaps: vec![Gap {
                what: "secrets (all namespaces)".into(),
                kind: Some("Secret".into()),
                namespace: None,
                reason: "secrets is forbidden: User \"u\" cannot list resource \"secrets\"".into(),
            }],
            ..Snapshot::default()
        };
        let mut findings = findings;
        findings.extend(crate::checks::not_checked::check(&crate::checks::Ctx::new(
            &snap,
        )));
        Report::new(findings, &snap, &Model::default(), summary)
    }

    #[test]
    fn json_has_the_documented_shape() {
        let v: serde_json::Value = serde_json::from_str(&to_json(&report())).expect("valid json");
        assert_eq!(v["kind"], "DoctorReport");
        assert_eq!(v["summary"]["critical"], 1);
        assert_eq!(v["summary"]["exitCode"], 1);
        assert_eq!(v["summary"]["incidents"], 2);
        let f = &v["findings"][0];
        for key in [
            "id",
            "incident",
            "code",
            "severity",
            "title",
            "message",
            "objects",
            "remediation",
            "fix",
            "evidence",
        ] {
            assert!(f.get(key).is_some(), "finding lacks {key}");
        }
        assert!(
            f["id"]
                .as_str()
                .expect("id")
                .starts_with("ARC-NS-TERMINATING-")
        );
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["fix"], "manual");
        assert_eq!(
            f["objects"][0],
            serde_json::json!({"kind":"Namespace","name":"arc-systems"})
        );
        let inc = &v["incidents"][0];
        for key in ["id", "headline", "severity", "cause", "findings", "remedy"] {
            assert!(inc.get(key).is_some(), "incident lacks {key}");
        }
        assert_eq!(inc["findings"][0], f["id"]);
        assert_eq!(f["incident"], inc["id"]);
        assert_eq!(v["notChecked"][0]["what"], "secrets (all namespaces)");
        let last = v["incidents"]
            .as_array()
            .expect("incidents")
            .last()
            .cloned();
        assert_eq!(last.expect("coverage")["cause"], "not-checked");
    }

    #[test]
    fn yaml_round_trips_to_the_same_document() {
        let r = report();
        let from_yaml: serde_json::Value =
            serde_saphyr::from_str(&to_yaml(&r)).expect("valid yaml");
        let from_json: serde_json::Value = serde_json::from_str(&to_json(&r)).expect("valid json");
        assert_eq!(from_yaml, from_json);
        assert!(to_yaml(&r).ends_with('\n'));
    }

    fn opts(color: bool, width: usize, details: bool) -> TableOptions {
        TableOptions {
            color,
            width,
            details,
        }
    }

    #[test]
    fn table_tells_incidents_and_gaps_within_the_width_without_escape_codes() {
        for width in [40, 60, 100] {
            let t = to_table(&report(), opts(false, width, true));
            assert!(!t.contains('\u{1b}'));
            for line in t.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}");
                assert_eq!(line, line.trim_end());
            }
        }
        let t = to_table(&report(), opts(false, 100, false));
        let crit = t
            .find("CRITICAL  Namespace arc-systems")
            .expect("critical incident");
        let info = t
            .find("INFO      Both ARC generations")
            .expect("info incident");
        assert!(crit < info);
        assert!(t.contains("    1. Namespace arc-systems: do x"), "{t}");
        assert!(t.contains("Not checked (1 request refused or unanswered):"));
        let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(
                "ask for `list secrets -A` (check with `kubectl auth can-i list secrets -A`)"
            ),
            "{t}"
        );
        assert!(
            !t.contains("NamespaceFinalizersRemaining"),
            "evidence only with -v"
        );
        assert!(
            to_table(&report(), opts(false, 100, true)).contains("NamespaceFinalizersRemaining")
        );
        assert!(t.contains("exit 1 (--fail-on high)"));
        assert!(to_table(&report(), opts(true, 100, false)).contains('\u{1b}'));
    }

    #[test]
    fn wrap_fills_lines_indents_and_splits_long_words() {
        assert_eq!(wrap("aa bb cc dd", 8, "- ", "  "), ["- aa bb", "  cc dd"]);
        assert_eq!(wrap("", 8, "- ", "  "), ["-"]);
        let long = wrap("x abcdefghijklmnop", 8, "", "");
        assert_eq!(long, ["x", "abcdefgh", "ijklmnop"]);
        let args = wrap("--set a.b=c,d.e=fgh", 12, "", "");
        assert_eq!(args, ["--set", "a.b=c,", "d.e=fgh"]);
        for l in wrap(&"word ".repeat(50), 23, "    1. ", "       ") {
            assert!(l.chars().count() <= 23);
        }
    }

    #[test]
    fn width_comes_from_columns_when_not_a_terminal() {
        // Only the non-terminal path is testable here; COLUMNS is read at call time.
        let w = output_width(false);
        let expect = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|w| *w > 0)
            .map_or(100, |w| w.max(40));
        assert_eq!(w, expect);
    }
}
