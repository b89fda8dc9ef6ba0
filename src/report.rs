//! Rendering a doctor report: a human table (grouped by severity, colour only on a terminal) or
//! a stable JSON/YAML document. The schema is documented in README.md ("Report schema").

use std::fmt::Write as _;

use comfy_table::{ContentArrangement, Table, presets};
use owo_colors::OwoColorize;
use serde::Serialize;

use crate::findings::{Finding, Fix, Severity};
use crate::model::{Controller, ControllerScope, Generation};
use crate::snapshot::Gap;

pub const API_VERSION: &str = "kubectl-arc.dev/v1alpha1";

/// The whole report, as serialized for `-o json|yaml`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub summary: Summary,
    pub controllers: Vec<ControllerRow>,
    pub findings: Vec<Finding>,
    pub not_checked: Vec<Gap>,
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
            fail_on: String::new(),
            exit_code: 0,
            api_requests: 0,
        }
    }
}

/// Serialize as JSON (pretty, trailing newline).
pub fn to_json(r: &Report) -> String {
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    s.push('\n');
    s
}

/// Serialize as YAML.
pub fn to_yaml(r: &Report) -> String {
    let mut s = serde_saphyr::to_string(r).unwrap_or_else(|e| format!("error: {e}"));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
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

fn fix_word(f: Fix) -> &'static str {
    match f {
        Fix::Auto => "auto: `kubectl arc orphans --fix` may do this",
        Fix::Confirm => "confirm: the tool may do this only with explicit confirmation",
        Fix::Manual => "manual",
    }
}

/// Human output.
pub fn to_table(r: &Report, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = String::new();
    if r.controllers.is_empty() {
        let _ = writeln!(out, "{}\n", p.bold("ARC controllers: none found"));
    } else {
        let _ = writeln!(out, "{}", p.bold("ARC controllers"));
        let mut t = Table::new();
        t.load_style(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled);
        t.set_header(["NAMESPACE", "NAME", "MODE", "VERSION", "SCOPE", "HEALTHY"]);
        for c in &r.controllers {
            let scope = match &c.watch_namespace {
                Some(w) => format!("namespace {w}"),
                None => "cluster".to_owned(),
            };
            let mode = match c.generation {
                Generation::Gha => "scale-set",
                Generation::Legacy => "legacy",
            };
            t.add_row([
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
            ]);
        }
        let _ = writeln!(out, "{t}\n");
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "No findings.");
    }
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let group: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{}",
            p.sev(
                sev,
                &format!("{} ({})", sev.as_str().to_uppercase(), group.len())
            )
        );
        for f in group {
            let primary = f.primary().map(ToString::to_string).unwrap_or_default();
            let _ = writeln!(out, "  {} {}  {}", p.sev(sev, "●"), p.bold(f.code), primary);
            let _ = writeln!(out, "    {}", f.title);
            let _ = writeln!(out, "    {}", f.message);
            if f.objects.len() > 1 {
                let _ = writeln!(out, "    {}", p.dim("objects:"));
                for o in &f.objects[1..] {
                    let _ = writeln!(out, "      - {o}");
                }
            }
            if !f.evidence.is_empty() {
                let _ = writeln!(out, "    {}", p.dim("evidence:"));
                for e in &f.evidence {
                    let _ = writeln!(out, "      - {e}");
                }
            }
            if !f.remediation.is_empty() {
                let _ = writeln!(
                    out,
                    "    {}",
                    p.dim(&format!("remediation ({}):", fix_word(f.fix)))
                );
                for (i, step) in f.remediation.iter().enumerate() {
                    let _ = writeln!(out, "      {}. {step}", i + 1);
                }
            }
            out.push('\n');
        }
    }
    let s = &r.summary;
    let fail = if s.fail_on == "none" {
        "--fail-on none".to_owned()
    } else {
        format!("--fail-on {}", s.fail_on)
    };
    let _ = writeln!(
        out,
        "Summary: {} critical, {} high, {} medium, {} low, {} info; {} not checked; exit {} ({fail}).",
        s.critical,
        s.high,
        s.medium,
        s.low,
        s.info,
        r.not_checked.len(),
        s.exit_code
    );
    out
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
        Report {
            api_version: API_VERSION,
            kind: "DoctorReport",
            summary,
            controllers: vec![],
            findings,
            not_checked: vec![Gap {
                what: "secrets (all namespaces)".into(),
                kind: None,
                namespace: None,
                reason: "forbidden".into(),
            }],
        }
    }

    #[test]
    fn json_has_the_documented_shape() {
        let v: serde_json::Value = serde_json::from_str(&to_json(&report())).expect("valid json");
        assert_eq!(v["kind"], "DoctorReport");
        assert_eq!(v["summary"]["critical"], 1);
        assert_eq!(v["summary"]["exitCode"], 1);
        let f = &v["findings"][0];
        for key in [
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
        assert_eq!(f["severity"], "critical");
        assert_eq!(f["fix"], "manual");
        assert_eq!(
            f["objects"][0],
            serde_json::json!({"kind":"Namespace","name":"arc-systems"})
        );
        assert_eq!(v["notChecked"][0]["what"], "secrets (all namespaces)");
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

    #[test]
    fn table_groups_by_severity_and_has_no_escape_codes_without_colour() {
        let t = to_table(&report(), false);
        assert!(!t.contains('\u{1b}'));
        let crit = t.find("CRITICAL (1)").expect("critical group");
        let info = t.find("INFO (1)").expect("info group");
        assert!(crit < info);
        assert!(t.contains("ARC-NS-TERMINATING  Namespace arc-systems"));
        assert!(t.contains("1. do x"));
        assert!(t.contains("exit 1 (--fail-on high)"));
        assert!(to_table(&report(), true).contains('\u{1b}'));
    }
}
