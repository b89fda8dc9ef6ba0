//! End to end: for every scenario under tests/scenarios, start the fake API server with its
//! cluster.yaml, run the real `kubectl-arc doctor -o json`, and compare codes, severities and
//! objects with its expected.yaml — missing AND unexpected findings fail.

mod common;

use common::{TestCluster, scenarios_dir};
use serde_json::Value;

/// One expected object: kind, namespace (optional), name.
fn obj_key(v: &Value) -> (String, String, String) {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    (s("kind"), s("namespace"), s("name"))
}

fn describe(f: &Value) -> String {
    let objs: Vec<String> = f["objects"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    let (k, ns, n) = obj_key(o);
                    if ns.is_empty() {
                        format!("{k} {n}")
                    } else {
                        format!("{k} {ns}/{n}")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{} [{}] {}",
        f["code"].as_str().unwrap_or("?"),
        f["severity"].as_str().unwrap_or("?"),
        objs.join(", ")
    )
}

/// Does an actual finding satisfy an expected one?
fn matches(expected: &Value, actual: &Value) -> bool {
    if expected["code"] != actual["code"] {
        return false;
    }
    if let Some(sev) = expected.get("severity").and_then(Value::as_str)
        && actual["severity"].as_str() != Some(sev)
    {
        return false;
    }
    let want: Vec<_> = expected["objects"]
        .as_array()
        .map(|a| a.iter().map(obj_key).collect())
        .unwrap_or_default();
    let have: Vec<_> = actual["objects"]
        .as_array()
        .map(|a| a.iter().map(obj_key).collect())
        .unwrap_or_default();
    if let Some(first) = want.first()
        && have.first() != Some(first)
    {
        return false;
    }
    want.iter().all(|w| have.contains(w))
}

/// Compare a doctor report with an expected.yaml document; returns the problems found.
fn compare(expected: &Value, report: &Value, exit: i32) -> Vec<String> {
    let mut problems = Vec::new();
    let actual: Vec<&Value> = report["findings"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut used = vec![false; actual.len()];
    for e in expected["findings"].as_array().into_iter().flatten() {
        match actual
            .iter()
            .enumerate()
            .position(|(i, a)| !used[i] && matches(e, a))
        {
            Some(i) => used[i] = true,
            None => problems.push(format!("missing: {}", describe(e))),
        }
    }
    for (i, a) in actual.iter().enumerate() {
        if !used[i] {
            problems.push(format!("unexpected: {}", describe(a)));
        }
    }
    for code in expected["absent"].as_array().into_iter().flatten() {
        if actual.iter().any(|a| &a["code"] == code) {
            problems.push(format!("must be absent: {code}"));
        }
    }
    if let Some(want) = expected["exitCode"].as_i64()
        && i64::from(exit) != want
    {
        problems.push(format!("exit code {exit}, expected {want}"));
    }
    problems
}

fn run_scenario(id: &str) {
    let text = std::fs::read_to_string(scenarios_dir().join(id).join("expected.yaml"))
        .expect("expected.yaml");
    let expected: Value = serde_saphyr::from_str(&text).expect("expected.yaml parses");
    let cluster = TestCluster::scenario(id);
    let mut args: Vec<String> = Vec::new();
    if let Some(ctx) = expected["context"].as_str() {
        args.extend(["--context".to_owned(), ctx.to_owned()]);
    }
    for a in expected["args"].as_array().into_iter().flatten() {
        args.push(a.as_str().expect("args are strings").to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (exit, report, stderr) = cluster.doctor_json(&args);
    let problems = compare(&expected, &report, exit);
    assert!(
        problems.is_empty(),
        "scenario {id}:\n  {}\nactual findings:\n  {}\nstderr: {stderr}",
        problems.join("\n  "),
        report["findings"]
            .as_array()
            .map(|a| a.iter().map(describe).collect::<Vec<_>>().join("\n  "))
            .unwrap_or_default()
    );
}

macro_rules! scenarios {
    ($($name:ident => $id:literal),* $(,)?) => {
        $( #[test] fn $name() { run_scenario($id); } )*
        const LISTED: &[&str] = &[$($id),*];
    };
}

scenarios! {
    b0_healthy_baseline => "B0",
    s1_controller_moved => "S1",
    s2_namespaces_deleted_shared_id => "S2",
    s3_controller_uninstalled_first => "S3",
    s4_secret_deleted_first => "S4",
    s5_orphan_listener_after_upgrade => "S5",
    s6_version_skew => "S6",
    s6b_unparseable_controller_version => "S6b",
    s7_crd_skew => "S7",
    s8_two_controllers => "S8",
    s9_waiting_for_job => "S9",
    s10_dead_scale_set_id => "S10",
    s11_out_of_scope => "S11",
    s12_stranded_objects => "S12",
    s13_chart_leftovers => "S13",
    s14_legacy_webhooks_dangling => "S14",
    s15_dangling_aux_refs_and_copies => "S15",
    s16_controller_crash_loop => "S16",
    s17_orphan_sweep => "S17",
    s18_legacy_multi_controller => "S18",
    s19_gitops_prune => "S19",
    s20_stale_cluster_rbac => "S20",
    l0_legacy_healthy => "L0",
    m1_mixed_mode => "M1",
    n1_namespace_only_user => "N1",
}

#[test]
fn every_scenario_directory_is_tested() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(scenarios_dir()).expect("scenarios dir") {
        let path = entry.expect("entry").path();
        if path.join("expected.yaml").is_file() {
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            if !LISTED.contains(&id.as_str()) {
                missing.push(id);
            }
        }
    }
    assert!(missing.is_empty(), "scenarios without a test: {missing:?}");
}

#[test]
fn comparison_rejects_missing_unexpected_and_wrong_objects() {
    let expected: Value = serde_json::json!({"exitCode": 1, "absent": ["ARC-NO-CONTROLLER"], "findings": [
        {"code": "ARC-STUCK-ARS", "severity": "critical", "objects": [{"kind": "AutoscalingRunnerSet", "namespace": "r", "name": "a"}]}
    ]});
    let good: Value = serde_json::json!({"findings": [
        {"code": "ARC-STUCK-ARS", "severity": "critical", "objects": [{"kind": "AutoscalingRunnerSet", "namespace": "r", "name": "a"}, {"kind": "X", "name": "y"}]}
    ]});
    assert!(compare(&expected, &good, 1).is_empty());
    assert_eq!(compare(&expected, &good, 0).len(), 1);
    let wrong_primary: Value = serde_json::json!({"findings": [
        {"code": "ARC-STUCK-ARS", "severity": "critical", "objects": [{"kind": "X", "name": "y"}, {"kind": "AutoscalingRunnerSet", "namespace": "r", "name": "a"}]}
    ]});
    assert_eq!(compare(&expected, &wrong_primary, 1).len(), 2);
    let extra: Value = serde_json::json!({"findings": [
        good["findings"][0].clone(), {"code": "ARC-NO-CONTROLLER", "severity": "high", "objects": []}
    ]});
    assert_eq!(compare(&expected, &extra, 1).len(), 2);
}
