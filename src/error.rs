//! Failures that end a run, and the one place exit codes are decided.
//!
//! Exit codes (documented in README): 0 clean, 1 findings at or above `--fail-on`,
//! 2 usage error, 3 could not run (unreachable, auth, bad kubeconfig, internal error).

use std::fmt;
use std::process::ExitCode;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CANNOT_RUN: u8 = 3;

/// Why a run could not complete. Printed as one line on stderr.
#[derive(Debug)]
pub enum Failure {
    /// Bad flags or arguments (exit 2).
    Usage(String),
    /// Could not talk to the cluster or load its configuration (exit 3).
    CannotRun(String),
}

impl Failure {
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::CannotRun(_) => EXIT_CANNOT_RUN,
        })
    }

    pub fn cannot_run(msg: impl Into<String>) -> Failure {
        Failure::CannotRun(msg.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::CannotRun(m) => f.write_str(&one_line(m)),
        }
    }
}

impl std::error::Error for Failure {}

/// Collapse whitespace so a message is a single line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Join an error and its sources into one line, dropping repeated parts
/// (`a: b: c` rather than `a: b: c: c`).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = one_line(&err.to_string());
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn chains_are_one_line_without_repeats() {
        let e = E(
            "connect failed:\n  refused",
            Some(Box::new(E(
                "refused",
                Some(Box::new(E("os error 111", None))),
            ))),
        );
        assert_eq!(chain(&e), "connect failed: refused: os error 111");
    }
}
