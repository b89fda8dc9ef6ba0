//! What checks produce: findings with a code, a severity, the objects involved and the remedy.

use serde::Serialize;

use crate::snapshot::ObjectRef;

/// Severity scale (arc-domain §4.0): critical blocks namespace deletion, deletes or breaks
/// production objects, or stops the controller; high means leaks or outages are likely; medium
/// is hygiene with side effects; low/info are advisory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a finding can be repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fix {
    /// Safe for `orphans --fix` without extra flags.
    Auto,
    /// The tool may do it, but only with explicit confirmation / flag.
    Confirm,
    /// Instructions only.
    Manual,
}

/// One diagnosed problem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    /// The objects involved; the first is the primary object the finding is about.
    pub objects: Vec<ObjectRef>,
    pub remediation: Vec<String>,
    pub fix: Fix,
    /// Supporting facts: log lines, conditions, access-review answers. Never credentials.
    pub evidence: Vec<String>,
}

impl Finding {
    /// A finding with the catalog's title and default fix for `code`.
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Finding {
        let info = crate::codes::info(code);
        Finding {
            code,
            severity,
            title: info.map(|i| i.title.to_owned()).unwrap_or_default(),
            message: message.into(),
            objects: Vec::new(),
            remediation: Vec::new(),
            fix: info.map(|i| i.fix).unwrap_or(Fix::Manual),
            evidence: Vec::new(),
        }
    }

    pub fn object(mut self, o: ObjectRef) -> Finding {
        if !self.objects.contains(&o) {
            self.objects.push(o);
        }
        self
    }

    pub fn objects(mut self, os: impl IntoIterator<Item = ObjectRef>) -> Finding {
        for o in os {
            self = self.object(o);
        }
        self
    }

    pub fn remediation(mut self, step: impl Into<String>) -> Finding {
        self.remediation.push(step.into());
        self
    }

    pub fn evidence(mut self, e: impl Into<String>) -> Finding {
        let e = e.into();
        if !self.evidence.contains(&e) {
            self.evidence.push(e);
        }
        self
    }

    pub fn fix(mut self, fix: Fix) -> Finding {
        self.fix = fix;
        self
    }

    pub fn primary(&self) -> Option<&ObjectRef> {
        self.objects.first()
    }

    /// A stable identifier: the code plus a hash of the primary object (of the message when the
    /// finding names no object), e.g. `ARC-STUCK-LISTENER-5f0c1d2e`. The same problem gets the
    /// same id on every run; a report makes ids unique by suffixing repeats (`…-2`).
    pub fn id(&self) -> String {
        let key = match self.primary() {
            Some(o) => format!(
                "{}\u{1f}{}\u{1f}{}",
                o.kind,
                o.namespace.as_deref().unwrap_or(""),
                o.name
            ),
            None => self.message.clone(),
        };
        format!(
            "{}-{:08x}",
            self.code,
            fnv1a32(&format!("{}\u{1f}{key}", self.code))
        )
    }
}

/// 32-bit FNV-1a: a small, stable (across runs, platforms and versions) hash for identifiers.
pub fn fnv1a32(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
