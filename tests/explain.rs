//! End to end: `kubectl arc explain <CODE>` for every code of the catalog (the source of
//! docs/codes.md), and a usage error for a code that does not exist.

mod common;

use std::process::{Command, Output};

use common::{BIN, isolate, stderr, stdout};

fn explain(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(BIN);
    cmd.arg("explain").args(args);
    isolate(&mut cmd, home.path());
    cmd.env("COLUMNS", "100");
    cmd.output().expect("kubectl-arc runs")
}

#[test]
fn every_catalog_code_is_explained() {
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md"),
    )
    .expect("docs/codes.md");
    assert!(kubectl_arc::codes::CATALOG.len() >= 45);
    for c in kubectl_arc::codes::CATALOG {
        let out = explain(&[c.code]);
        assert_eq!(out.status.code(), Some(0), "{}: {}", c.code, stderr(&out));
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("{} — {}", c.code, c.title)),
            "{text}"
        );
        for part in [
            "Severity: ",
            "Fix: ",
            "What it means",
            "Why it happens",
            "How it is fixed",
        ] {
            assert!(text.contains(part), "{}: no {part:?}", c.code);
        }
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for body in [c.meaning, c.why, c.remedy] {
            let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(&body), "{}: text not printed whole", c.code);
        }
        // The same text as docs/codes.md.
        assert!(
            docs.contains(&format!("**What it means.** {}", c.meaning)),
            "{}",
            c.code
        );
        assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
        assert!(stderr(&out).is_empty());
    }
}

#[test]
fn codes_are_found_without_prefix_or_case() {
    let out = explain(&["stuck-listener"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("ARC-STUCK-LISTENER — "));
    let out = explain(&["ARC-STUCK-LISTENER", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["code"], "ARC-STUCK-LISTENER");
    assert_eq!(v["fix"], "auto");
    assert!(v["why"].as_str().is_some_and(|w| !w.is_empty()));
}

#[test]
fn an_unknown_code_is_a_usage_error() {
    for args in [vec!["ARC-NO-SUCH-THING"], vec!["ARC-STUCK"]] {
        let out = explain(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stdout(&out).is_empty());
        let err = stderr(&out);
        assert!(err.starts_with("error: unknown finding code"), "{err}");
    }
    assert!(stderr(&explain(&["ARC-STUCK"])).contains("did you mean ARC-STUCK-ARS"));
    // No code at all: clap's usage error.
    assert_eq!(explain(&[]).status.code(), Some(2));
}
