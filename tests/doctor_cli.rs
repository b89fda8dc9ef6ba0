//! End to end: kubectl-style flags, exit codes, output formats, and bad input against the fake
//! API server. Every failure must be one line on stderr with a documented exit code.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, TestCluster, isolate, stderr, stdout};
use fake_apiserver::{Fault, FaultAction};
use serde_json::Value;

fn assert_one_line_error(err: &str, needle: &str) {
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    assert!(lines[0].contains(needle), "{err:?} lacks {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err:?}"
    );
}

fn run_plain(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    isolate(&mut cmd, home.path());
    cmd.output().expect("runs")
}

#[test]
fn missing_kubeconfig_is_exit_3_with_one_line() {
    let out = run_plain(&["doctor", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(out.status.code(), Some(3));
    assert_one_line_error(
        &stderr(&out),
        "cannot read kubeconfig /nonexistent/kubeconfig",
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn no_kubeconfig_anywhere_is_exit_3() {
    let out = run_plain(&["doctor"]);
    assert_eq!(out.status.code(), Some(3));
    assert_one_line_error(&stderr(&out), "kubeconfig");
}

#[test]
fn unknown_context_is_exit_3() {
    let c = TestCluster::scenario("B0");
    let out = c.run(&["doctor", "--context", "does-not-exist"]);
    assert_eq!(out.status.code(), Some(3));
    assert_one_line_error(&stderr(&out), "context \"does-not-exist\" not found");
}

#[test]
fn unreachable_server_is_exit_3() {
    // Take a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let dir = tempfile::tempdir().expect("tmp");
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
        ),
    )
    .expect("write kubeconfig");
    let out = run_plain(&["doctor", "--kubeconfig", kc.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(3));
    assert_one_line_error(&stderr(&out), "cannot reach the API server");
}

#[test]
fn rejected_token_is_exit_3() {
    let c = TestCluster::scenario("B0");
    let text = std::fs::read_to_string(&c.kubeconfig).expect("kubeconfig");
    let token = c.server.token_for("admin").expect("admin token");
    std::fs::write(&c.kubeconfig, text.replace(&token, "not-a-valid-token")).expect("rewrite");
    let out = c.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(3));
    assert_one_line_error(&stderr(&out), "401");
}

#[test]
fn usage_errors_are_exit_2() {
    for args in [
        vec!["doctor", "-o", "wide"],
        vec!["doctor", "--fail-on", "urgent"],
        vec!["doctor", "--request-timeout", "soon"],
        vec!["frobnicate"],
        vec!["doctor", "--no-such-flag"],
    ] {
        let out = run_plain(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
}

#[test]
fn help_names_the_plugin_as_kubectl_sees_it() {
    let out = run_plain(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("Usage: kubectl arc"), "{text}");
    assert!(text.contains("doctor"), "{text}");
}

#[test]
fn healthy_cluster_exits_0_and_table_has_no_colour_off_tty() {
    let c = TestCluster::scenario("B0");
    let out = c.run(&["doctor"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("No problems found."), "{text}");
    assert!(text.contains("arc-gha-rs-controller"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes off a TTY");
}

#[test]
fn fail_on_controls_the_exit_code() {
    let c = TestCluster::scenario("S1");
    assert_eq!(c.run(&["doctor"]).status.code(), Some(1));
    assert_eq!(
        c.run(&["doctor", "--fail-on", "none"]).status.code(),
        Some(0)
    );
    let (code, report, _) = c.doctor_json(&["--fail-on", "critical"]);
    let has_critical = report["summary"]["critical"].as_u64().unwrap_or(0) > 0;
    assert_eq!(code, i32::from(has_critical));
}

#[test]
fn yaml_and_json_outputs_are_the_same_report() {
    let c = TestCluster::scenario("S1");
    let (_, json, _) = c.doctor_json(&["--no-logs"]);
    let out = c.run(&["doctor", "-o", "yaml", "--no-logs"]);
    let yaml: Value = serde_saphyr::from_slice(&out.stdout).expect("yaml parses");
    assert_eq!(json["findings"], yaml["findings"]);
    assert_eq!(json["controllers"], yaml["controllers"]);
    assert_eq!(yaml["kind"], "DoctorReport");
}

#[test]
fn impersonation_flags_are_sent_as_headers() {
    let c = TestCluster::scenario("B0");
    c.server.clear_requests();
    let out = c.run(&[
        "doctor",
        "--as",
        "jane",
        "--as-group",
        "team-a",
        "--as-group",
        "team-b",
        "--fail-on",
        "none",
    ]);
    assert!(out.status.code().is_some());
    let reqs = c.server.requests();
    assert!(!reqs.is_empty());
    for r in &reqs {
        assert_eq!(
            r.impersonate_user.as_deref(),
            Some("jane"),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(
            r.impersonate_groups,
            ["team-a", "team-b"],
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[test]
fn request_timeout_bounds_a_hanging_server() {
    let c = TestCluster::scenario("B0");
    c.server.add_fault(Fault {
        method: None,
        path_regex: "^/version$".into(),
        query_contains: None,
        action: FaultAction::Latency(Duration::from_secs(20)),
        times: None,
    });
    let out = c.run(&["doctor", "--request-timeout", "1s"]);
    assert_eq!(out.status.code(), Some(3));
    assert_one_line_error(&stderr(&out), "no answer within 1s");
}

#[test]
fn throttling_is_retried_within_budget() {
    let c = TestCluster::scenario("S1");
    let baseline = c.doctor_json(&["--no-logs"]).1;
    c.server.clear_requests();
    c.server.add_fault(Fault {
        method: Some("GET".into()),
        path_regex: "/autoscalinglisteners$".into(),
        query_contains: None,
        action: FaultAction::Status {
            code: 429,
            reason: "TooManyRequests".into(),
            message: "too many requests, please try again later".into(),
            retry_after_seconds: Some(1),
        },
        times: Some(1),
    });
    let (_, report, stderr) = c.doctor_json(&["--no-logs"]);
    assert_eq!(report["findings"], baseline["findings"], "{stderr}");
    let listener_lists: Vec<u16> = c
        .server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/autoscalinglisteners"))
        .map(|r| r.status)
        .collect();
    assert_eq!(listener_lists, [429, 200]);
}

#[test]
fn expired_continue_token_restarts_the_list() {
    let c = TestCluster::scenario("S1");
    let baseline = c.doctor_json(&["--no-logs", "--chunk-size", "2"]).1;
    c.server.clear_requests();
    c.server.add_fault(Fault {
        method: Some("GET".into()),
        path_regex: "^/api/v1/secrets$".into(),
        query_contains: Some("continue=".into()),
        action: FaultAction::Expired,
        times: Some(1),
    });
    let (_, report, stderr) = c.doctor_json(&["--no-logs", "--chunk-size", "2"]);
    assert_eq!(report["findings"], baseline["findings"], "{stderr}");
    let secret_lists: Vec<(bool, u16)> = c
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/secrets")
        .map(|r| (r.query.contains("continue="), r.status))
        .collect();
    assert!(secret_lists.contains(&(true, 410)), "{secret_lists:?}");
    // After the 410 the list starts over from a first page.
    let after = secret_lists
        .iter()
        .skip_while(|x| x.1 != 410)
        .nth(1)
        .copied();
    assert_eq!(after, Some((false, 200)), "{secret_lists:?}");
}

#[test]
fn forbidden_cluster_wide_lists_are_reported_not_checked_never_absent() {
    let c = TestCluster::scenario("N1");
    let (code, report, stderr) = c.doctor_json(&["--context", "team-dev", "-n", "arc-runners"]);
    assert!(code == 0 || code == 1, "{stderr}");
    let not_checked = report["notChecked"].as_array().expect("notChecked");
    assert!(
        not_checked
            .iter()
            .any(|g| g["what"].as_str().is_some_and(|w| w.starts_with("secrets"))),
        "{not_checked:?}"
    );
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"ARC-NOT-CHECKED"));
    for absent_based in [
        "ARC-NO-CONTROLLER",
        "ARC-SECRET-DANGLING",
        "ARC-NS-MISSING",
        "ARC-ORPHAN-LISTENER",
    ] {
        assert!(
            !codes.contains(&absent_based),
            "{absent_based} reported from data we could not see: {codes:?}"
        );
    }
    // The per-namespace fallback really listed arc-runners.
    assert!(c.server.requests().iter().any(|r| r.path
        == "/apis/actions.github.com/v1alpha1/namespaces/arc-runners/autoscalingrunnersets"
        && r.status == 200));
}

#[test]
fn kubeconfig_env_merges_files_first_wins_and_skips_missing_ones() {
    let c = TestCluster::scenario("N1");
    // The first file only sets current-context; the full kubeconfig comes second.
    let first = c.dir.path().join("first");
    std::fs::write(
        &first,
        "apiVersion: v1\nkind: Config\ncurrent-context: team-dev\n",
    )
    .expect("write");
    let list = std::env::join_paths([
        std::path::PathBuf::from("/nonexistent/kubeconfig"),
        first,
        c.kubeconfig.clone(),
    ])
    .expect("join");
    let mut cmd = Command::new(BIN);
    cmd.args(["doctor", "-o", "json", "-n", "arc-runners"]);
    isolate(&mut cmd, c.dir.path());
    cmd.env("KUBECONFIG", &list);
    c.server.clear_requests();
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let users: std::collections::BTreeSet<String> =
        c.server.requests().iter().map(|r| r.user.clone()).collect();
    assert_eq!(
        users.into_iter().collect::<Vec<_>>(),
        ["team-dev"],
        "current-context from the first file wins"
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(!report["notChecked"].as_array().expect("array").is_empty());
}

/// A cluster-wide reader that may not read pod logs nor create SubjectAccessReviews.
fn reader_docs() -> Vec<Value> {
    let resources = [
        "namespaces",
        "nodes",
        "pods",
        "serviceaccounts",
        "secrets",
        "configmaps",
        "services",
        "endpoints",
        "deployments",
        "roles",
        "rolebindings",
        "clusterroles",
        "clusterrolebindings",
        "customresourcedefinitions",
        "autoscalingrunnersets",
        "autoscalinglisteners",
        "ephemeralrunnersets",
        "ephemeralrunners",
        "runners",
        "runnerdeployments",
        "runnerreplicasets",
        "runnersets",
        "horizontalrunnerautoscalers",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ];
    vec![
        serde_json::json!({"apiVersion": "fake.kubectl-arc.dev/v1", "kind": "User",
            "metadata": {"name": "reader"}, "spec": {"token": "reader-token"}}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "arc-reader"},
            "rules": [{"apiGroups": ["*"], "resources": resources, "verbs": ["get", "list"]}]}),
        serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "arc-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "arc-reader"},
            "subjects": [{"kind": "User", "name": "reader", "apiGroup": "rbac.authorization.k8s.io"}]}),
    ]
}

fn code_and_primary(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] != "ARC-NOT-CHECKED")
        .map(|f| format!("{} {}", f["code"], f["objects"][0]))
        .collect();
    v.sort();
    v
}

#[test]
fn without_log_and_review_rights_doctor_notes_the_gap_and_evaluates_rbac_offline() {
    let c = TestCluster::from_builder(
        fake_apiserver::FakeServer::builder()
            .fixture(common::scenarios_dir().join("S1"))
            .objects(reader_docs()),
    );
    let (_, admin, _) = c.doctor_json(&[]);
    c.server.clear_requests();
    let (code, reader, stderr) = c.doctor_json(&["--context", "reader"]);
    assert_eq!(code, 1, "{stderr}");
    // Same diagnosis as an admin's…
    assert_eq!(code_and_primary(&reader), code_and_primary(&admin));
    // …with the refused log reads reported as not checked, not as an error.
    let gaps: Vec<&str> = reader["notChecked"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|g| g["what"].as_str())
        .collect();
    assert!(gaps.iter().any(|g| g.starts_with("pods/log")), "{gaps:?}");
    assert!(
        reader["findings"]
            .as_array()
            .expect("array")
            .iter()
            .any(|f| f["code"] == "ARC-NOT-CHECKED"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("pod logs")))
    );
    // RBAC reachability was evaluated offline from the bindings, and says so.
    let mismatch = reader["findings"]
        .as_array()
        .expect("array")
        .iter()
        .find(|f| f["code"] == "ARC-MANAGER-BINDING-MISMATCH")
        .expect("mismatch found");
    assert!(
        mismatch["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e.as_str().is_some_and(|e| e.contains("evaluated offline"))),
        "{mismatch}"
    );
    assert!(
        !c.server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/subjectaccessreviews"))
    );
}
