//! End to end: the doctor report people read. The table (wrapped at 100 columns) for S1, S2, S5
//! and B0 is compared with snapshots in `tests/snapshots/doctor/` (rewrite them after an intended
//! change with `KUBECTL_ARC_BLESS=1 cargo test --test doctor_report`, and review the diff); every
//! finding belongs to exactly one incident, ids are stable across runs, refused and failed reads
//! are reported once by cause, and a user who can read no ARC resource does not get a green exit.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, TestCluster, isolate, scenarios_dir, stderr, stdout};
use fake_apiserver::Fault;
use serde_json::Value;

const WIDTH: usize = 100;

/// Run `kubectl-arc <args>` against the cluster with a fixed terminal width.
fn run_with_columns(c: &TestCluster, args: &[&str], columns: usize) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--kubeconfig").arg(&c.kubeconfig);
    isolate(&mut cmd, c.dir.path());
    cmd.env("COLUMNS", columns.to_string());
    cmd.output().expect("kubectl-arc runs")
}

fn snapshot_path(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/doctor")
        .join(format!("{id}.txt"))
}

/// The table of scenario `id`, checked for width and compared with its snapshot.
fn table(id: &str) -> String {
    let c = TestCluster::scenario(id);
    let out = run_with_columns(&c, &["doctor"], WIDTH);
    let text = stdout(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{id}: {}",
        stderr(&out)
    );
    for line in text.lines() {
        assert!(
            line.chars().count() <= WIDTH,
            "{id}: line longer than {WIDTH}: {line:?}"
        );
        assert_eq!(line, line.trim_end(), "{id}: trailing spaces");
    }
    let path = snapshot_path(id);
    if std::env::var_os("KUBECTL_ARC_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("snapshot dir");
        std::fs::write(&path, &text).expect("snapshot written");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        text == want,
        "{id}: the table differs from {} (if intended: KUBECTL_ARC_BLESS=1 cargo test --test doctor_report)\n--- got ---\n{text}--- want ---\n{want}",
        path.display()
    );
    text
}

#[test]
fn s1_is_one_incident_on_one_screen() {
    let t = table("S1");
    assert!(t.lines().count() <= 40, "{} lines:\n{t}", t.lines().count());
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "CRITICAL The ARC controller moved from arc-systems to arc-controller; arc-systems is stuck Terminating on a listener the new controller cannot clean up"
        ),
        "{t}"
    );
    assert_eq!(t.matches("What to do:").count(), 1, "one remedy:\n{t}");
    for code in [
        "ARC-NS-TERMINATING",
        "ARC-STUCK-LISTENER",
        "ARC-LISTENER-NS-FOREIGN",
        "ARC-LISTENER-DUPLICATE",
        "ARC-LISTENER-RBAC-COLLISION",
        "ARC-MANAGER-BINDING-MISMATCH",
    ] {
        assert_eq!(t.matches(code).count(), 1, "{code} once:\n{t}");
    }
    // The evidence (log lines) is for -v and JSON.
    assert!(!t.contains("Failed to cleanup resources"), "{t}");
}

#[test]
fn s2_is_one_incident_that_protects_the_shared_id_first() {
    let t = table("S2");
    assert_eq!(t.matches("What to do:").count(), 1, "{t}");
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    let id_step = flat.find("runner-scale-set-id-").expect("shared-id step");
    let rebind = flat
        .find("helm upgrade arc-runner-set")
        .expect("rebind step");
    assert!(
        id_step < rebind,
        "the shared ID is removed before the controller can proceed:\n{t}"
    );
}

#[test]
fn s5_is_one_incident_with_one_step() {
    let t = table("S5");
    assert_eq!(t.matches("What to do:").count(), 1, "{t}");
    assert_eq!(t.matches("    1. ").count(), 1, "one step:\n{t}");
    assert!(!t.contains("    2. "), "{t}");
}

#[test]
fn b0_says_no_problems_found_with_the_controllers_table() {
    let t = table("B0");
    assert!(t.starts_with("ARC controllers\nNAMESPACE"), "{t}");
    assert!(
        t.contains("arc-systems  arc-gha-rs-controller  scale-set  0.14.2"),
        "{t}"
    );
    assert!(t.contains("No problems found."), "{t}");
    assert!(!t.contains("What to do"), "{t}");
}

#[test]
fn verbose_table_has_messages_and_evidence_and_still_fits() {
    let c = TestCluster::scenario("S1");
    let out = run_with_columns(&c, &["doctor", "-v"], 80);
    let t = stdout(&out);
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Failed to cleanup resources after deletion"),
        "{t}"
    );
    assert!(flat.contains("its own remediation"), "{t}");
    assert!(flat.contains("incident INC-"), "{t}");
    assert!(t.lines().all(|l| l.chars().count() <= 80), "{t}");
}

fn args_of(id: &str) -> Vec<String> {
    let text = std::fs::read_to_string(scenarios_dir().join(id).join("expected.yaml"))
        .expect("expected.yaml");
    let expected: Value = serde_saphyr::from_str(&text).expect("expected.yaml parses");
    let mut args = Vec::new();
    if let Some(ctx) = expected["context"].as_str() {
        args.extend(["--context".to_owned(), ctx.to_owned()]);
    }
    for a in expected["args"].as_array().into_iter().flatten() {
        args.push(a.as_str().expect("string").to_owned());
    }
    args
}

fn scenario_ids() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios dir")
        .filter_map(|e| {
            let p = e.ok()?.path();
            p.join("expected.yaml")
                .is_file()
                .then(|| p.file_name()?.to_str().map(str::to_owned))
                .flatten()
        })
        .collect();
    ids.sort();
    ids
}

fn severity_rank(s: &Value) -> u8 {
    match s.as_str() {
        Some("critical") => 4,
        Some("high") => 3,
        Some("medium") => 2,
        Some("low") => 1,
        _ => 0,
    }
}

/// (incident id → finding ids) and (finding id → incident id) of a report.
fn incident_map(report: &Value) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, String>) {
    let incidents = report["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| {
            (
                i["id"].as_str().expect("id").to_owned(),
                i["findings"]
                    .as_array()
                    .expect("findings")
                    .iter()
                    .map(|f| f.as_str().expect("id").to_owned())
                    .collect(),
            )
        })
        .collect();
    let findings = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["id"].as_str().expect("id").to_owned(),
                f["incident"].as_str().expect("incident").to_owned(),
            )
        })
        .collect();
    (incidents, findings)
}

#[test]
fn every_finding_belongs_to_exactly_one_incident_in_every_scenario() {
    for id in scenario_ids() {
        let c = TestCluster::scenario(&id);
        let args = args_of(&id);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, report, stderr) = c.doctor_json(&args);
        let findings = report["findings"].as_array().expect("findings");
        let (incidents, finding_incident) = incident_map(&report);
        assert_eq!(
            finding_incident.len(),
            findings.len(),
            "{id}: finding ids are unique"
        );
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (inc, members) in &incidents {
            assert!(!members.is_empty(), "{id}: empty incident {inc}");
            for m in members {
                *seen.entry(m.as_str()).or_default() += 1;
                assert_eq!(
                    finding_incident.get(m),
                    Some(inc),
                    "{id}: {m} names its incident"
                );
            }
        }
        for f in finding_incident.keys() {
            assert_eq!(seen.get(f.as_str()), Some(&1), "{id}: {f} in one incident");
        }
        for inc in report["incidents"].as_array().expect("incidents") {
            let worst = findings
                .iter()
                .filter(|f| f["incident"] == inc["id"])
                .map(|f| severity_rank(&f["severity"]))
                .max();
            assert_eq!(
                Some(severity_rank(&inc["severity"])),
                worst,
                "{id}: incident severity is its worst finding's"
            );
            assert!(
                !inc["headline"].as_str().unwrap_or("").is_empty(),
                "{id}: headline"
            );
        }
        let summary_incidents = report["summary"]["incidents"].as_u64().expect("count");
        let not_checked = report["incidents"]
            .as_array()
            .expect("incidents")
            .iter()
            .filter(|i| i["cause"] == "not-checked")
            .count();
        assert_eq!(
            summary_incidents as usize + not_checked,
            incidents.len(),
            "{id}: {stderr}"
        );
    }
}

#[test]
fn incident_and_finding_ids_are_stable_across_runs() {
    for id in ["S1", "S2", "S17"] {
        let ids = |r: &Value| -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
            let (incidents, findings) = incident_map(r);
            (incidents, findings.into_keys().collect())
        };
        // Two separate servers: nothing carries over but the cluster's content.
        let first = ids(&TestCluster::scenario(id).doctor_json(&[]).1);
        let second = ids(&TestCluster::scenario(id).doctor_json(&[]).1);
        assert_eq!(first, second, "{id}");
        assert!(!first.0.is_empty());
    }
    // S1's seed incident has the same id whatever else is in the cluster: it is derived from
    // the root cause (the controller's move), not from the findings around it.
    let s1 = incident_map(&TestCluster::scenario("S1").doctor_json(&[]).1).0;
    let s2 = incident_map(&TestCluster::scenario("S2").doctor_json(&[]).1).0;
    assert_eq!(s1.keys().next(), s2.keys().next());
}

#[test]
fn unreachable_kubelet_is_one_gap_with_the_right_advice() {
    let c = TestCluster::scenario("B0");
    c.server
        .add_fault(Fault::status(r"^/api/v1/namespaces/[^/]+/pods/[^/]+/log$", 500).method("GET"));
    let out = run_with_columns(&c, &["doctor"], WIDTH);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let t = stdout(&out);
    assert_eq!(t.matches("kubelet is unreachable").count(), 1, "{t}");
    assert!(t.contains("the logs of 2 pods were skipped"), "{t}");
    assert!(!t.contains("allowed to read"), "{t}");
    assert!(
        !t.contains("auth can-i"),
        "no permission advice for a 500:\n{t}"
    );

    let (exit, report, _) = c.doctor_json(&[]);
    assert_eq!(exit, 0);
    let not_checked: Vec<&Value> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "ARC-NOT-CHECKED")
        .collect();
    assert_eq!(not_checked.len(), 1, "{report}");
    let steps = not_checked[0]["remediation"].as_array().expect("steps");
    assert_eq!(steps.len(), 1, "said once, not once per pod: {steps:?}");
    assert!(
        steps[0]
            .as_str()
            .unwrap_or("")
            .contains("kubelet is unreachable")
    );
    assert!(
        not_checked[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("the node's kubelet is unreachable")
    );
    assert_eq!(report["notChecked"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_user_who_can_read_no_arc_resource_gets_exit_3_and_a_hint() {
    let c = TestCluster::scenario("N1");
    let out = c.run(&["doctor", "--context", "team-dev"]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).is_empty(), "no report over nothing checked");
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: nothing was checked"), "{err}");
    assert!(err.contains("-n <namespace>"), "{err}");
    // The same user, pointed at the namespace it may read, gets a report.
    let out = c.run(&["doctor", "--context", "team-dev", "-n", "arc-runners"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("No problems found in what could be checked."));
}
