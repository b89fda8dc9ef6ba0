//! `kubectl arc orphans [--fix]` end to end against the fake API server: the plan each scenario's
//! expected.yaml names (`orphans.actions`), the state `--fix` leaves, idempotency, backups,
//! preconditions and the request-log guarantees.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestCluster, scenarios_dir, stderr};
use serde_json::Value;

const SCENARIOS: [&str; 25] = [
    "B0", "S1", "S2", "S3", "S4", "S5", "S6", "S6b", "S7", "S8", "S9", "S10", "S11", "S12", "S13",
    "S14", "S15", "S16", "S17", "S18", "S19", "S20", "L0", "M1", "N1",
];

fn expected_actions(id: &str) -> Vec<String> {
    let text = std::fs::read_to_string(scenarios_dir().join(id).join("expected.yaml"))
        .expect("expected.yaml");
    let v: Value = serde_saphyr::from_str(&text).expect("expected.yaml parses");
    v.pointer("/orphans/actions")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{id}: expected.yaml has no orphans.actions"))
        .iter()
        .map(|a| a.as_str().expect("string").to_owned())
        .collect()
}

/// One action as expected.yaml spells it: `<tag> <operation> <Kind ns/name>`.
fn line(a: &Value) -> String {
    let op = match a["action"].as_str().unwrap_or("") {
        "delete" => "delete".to_owned(),
        "stripFinalizer" => format!("strip {}", a["finalizer"].as_str().unwrap_or("")),
        "removeAnnotation" => format!(
            "remove-annotation {}",
            a["annotation"].as_str().unwrap_or("")
        ),
        "patchSubject" => format!(
            "patch-subject {}/{}",
            a["toNamespace"].as_str().unwrap_or(""),
            a["toName"].as_str().unwrap_or("")
        ),
        "createNamespace" => "create-namespace".to_owned(),
        other => other.to_owned(),
    };
    let o = &a["object"];
    let obj = match o["namespace"].as_str() {
        Some(ns) => format!(
            "{} {ns}/{}",
            o["kind"].as_str().unwrap_or(""),
            o["name"].as_str().unwrap_or("")
        ),
        None => format!(
            "{} {}",
            o["kind"].as_str().unwrap_or(""),
            o["name"].as_str().unwrap_or("")
        ),
    };
    format!("{} {op} {obj}", a["tag"].as_str().unwrap_or(""))
}

fn args_of(id: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(scenarios_dir().join(id).join("expected.yaml")).expect("read");
    let v: Value = serde_saphyr::from_str(&text).expect("parses");
    let mut out: Vec<String> = Vec::new();
    if let Some(ctx) = v["context"].as_str() {
        out.extend(["--context".to_owned(), ctx.to_owned()]);
    }
    out.extend(
        v["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
    out
}

fn orphans_json(c: &TestCluster, extra: &[&str]) -> (i32, Value, String) {
    let mut args = vec!["orphans", "-o", "json"];
    args.extend_from_slice(extra);
    let out = c.run(&args);
    let err = stderr(&out);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("orphans -o json: {e}\nstderr: {err}"));
    (out.status.code().unwrap_or(-1), v, err)
}

/// `orphans --fix --yes --include-confirm -o json`, backups under the cluster's temp dir.
fn fix_all(c: &TestCluster) -> (i32, Value, String) {
    let backup = c.dir.path().join("backup").display().to_string();
    orphans_json(
        c,
        &[
            "--fix",
            "--yes",
            "--include-confirm",
            "--backup-dir",
            &backup,
        ],
    )
}

/// The outcome of the step whose action matches `pred`, as `result` text.
fn outcome_of(v: &Value, pred: impl Fn(&Value) -> bool) -> String {
    let step = v["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| pred(a))
        .expect("planned")["step"]
        .clone();
    v["outcome"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == step)
        .expect("outcome")["result"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Every stored object's resourceVersion, by kind/namespace/name.
fn versions(c: &TestCluster) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (av, kind) in [
        ("v1", "Namespace"),
        ("v1", "Pod"),
        ("v1", "Secret"),
        ("v1", "ServiceAccount"),
        ("rbac.authorization.k8s.io/v1", "Role"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("actions.github.com/v1alpha1", "AutoscalingRunnerSet"),
        ("actions.github.com/v1alpha1", "AutoscalingListener"),
        ("actions.github.com/v1alpha1", "EphemeralRunnerSet"),
        ("actions.github.com/v1alpha1", "EphemeralRunner"),
        ("actions.summerwind.dev/v1alpha1", "Runner"),
        ("apps/v1", "Deployment"),
    ] {
        for o in c.server.list_objects(av, kind) {
            let m = &o["metadata"];
            out.insert(
                format!(
                    "{kind} {}/{}",
                    m["namespace"].as_str().unwrap_or(""),
                    m["name"].as_str().unwrap_or("")
                ),
                m["resourceVersion"].as_str().unwrap_or("").to_owned(),
            );
        }
    }
    out
}

#[test]
fn plans_match_every_scenario() {
    let mut failures = Vec::new();
    for id in SCENARIOS {
        let c = TestCluster::scenario(id);
        let args = args_of(id);
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, v, err) = orphans_json(&c, &extra);
        let got: Vec<String> = v["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .map(line)
            .collect();
        let want = expected_actions(id);
        if got != want {
            failures.push(format!(
                "{id}: got\n  {}\nwant\n  {}\n{err}",
                got.join("\n  "),
                want.join("\n  ")
            ));
        }
        let want_code = if want.is_empty() { 0 } else { 1 };
        assert_eq!(code, want_code, "{id}: exit code of the read-only plan");
        assert_eq!(v["kind"], "OrphansPlan");
        assert_eq!(v["apiVersion"], "kubectl-arc.dev/v1alpha1");
        // Steps are numbered in order and only point backwards.
        for (i, a) in v["actions"].as_array().expect("actions").iter().enumerate() {
            assert_eq!(a["step"].as_u64(), Some(i as u64 + 1), "{id}");
            for p in a["after"].as_array().into_iter().flatten() {
                assert!(
                    p.as_u64().expect("step") < i as u64 + 1,
                    "{id}: step {} after {p}",
                    i + 1
                );
            }
            assert!(
                !a["why"].as_array().expect("why").is_empty(),
                "{id}: every action says why"
            );
        }
        // The read-only plan sends no write.
        assert!(
            c.writes().is_empty(),
            "{id}: orphans without --fix wrote: {:?}",
            c.writes()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn fix_leaves_the_planned_state_and_a_second_run_changes_nothing() {
    for id in SCENARIOS {
        let c = TestCluster::scenario(id);
        let args = args_of(id);
        let mut extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let backup = c.dir.path().join("backup");
        let backup_s = backup.display().to_string();
        extra.extend([
            "--fix",
            "--yes",
            "--include-confirm",
            "--backup-dir",
            &backup_s,
        ]);
        let before = versions(&c);
        let (code, v, err) = orphans_json(&c, &extra);
        let outcome = &v["outcome"];
        let steps = outcome["steps"].as_array().expect("outcome.steps");
        assert_eq!(
            steps.len(),
            v["actions"].as_array().expect("actions").len(),
            "{id}"
        );
        for s in steps {
            assert_eq!(s["result"], "done", "{id}: step {s}\n{err}");
        }
        assert_eq!(
            outcome["remainingActions"].as_array().map(Vec::len),
            Some(0),
            "{id}: {outcome}"
        );
        assert_eq!(code, 0, "{id}: {err}");
        // Every action took effect; nothing else changed.
        let after = versions(&c);
        let acted: Vec<String> = v["actions"]
            .as_array()
            .expect("actions")
            .iter()
            .map(|a| {
                let o = &a["object"];
                format!(
                    "{} {}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["namespace"].as_str().unwrap_or(""),
                    o["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        for (k, rv) in &before {
            if acted.contains(k) {
                continue;
            }
            // Objects garbage-collected with what we deleted may go; nothing may be modified.
            if let Some(now) = after.get(k) {
                assert_eq!(
                    now, rv,
                    "{id}: {k} changed although the plan does not touch it"
                );
            }
        }
        for a in v["actions"].as_array().expect("actions") {
            let o = &a["object"];
            let k = format!(
                "{} {}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["namespace"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or("")
            );
            match a["action"].as_str() {
                Some("delete") => {
                    let gone_or_held = !after.contains_key(&k) || before.get(&k) != after.get(&k);
                    assert!(gone_or_held, "{id}: {k} still unchanged after delete");
                }
                Some("stripFinalizer") => {
                    let fin = a["finalizer"].as_str().unwrap_or("");
                    let still = c
                        .server
                        .list_objects(&api_version(&o["kind"]), o["kind"].as_str().unwrap_or(""))
                        .into_iter()
                        .any(|x| {
                            x["metadata"]["name"] == o["name"]
                                && x["metadata"]["namespace"] == o["namespace"]
                                && x["metadata"]["finalizers"]
                                    .as_array()
                                    .is_some_and(|f| f.iter().any(|f| f == fin))
                        });
                    assert!(!still, "{id}: {k} still has {fin}");
                }
                _ => {}
            }
        }
        // Second run: nothing to do, no write, no resourceVersion changes.
        c.server.clear_requests();
        let settled = versions(&c);
        let (code2, v2, err2) = fix_all(&c);
        assert_eq!(
            v2["actions"].as_array().map(Vec::len),
            Some(0),
            "{id}: second run plans {}",
            v2["actions"]
        );
        assert!(
            c.writes().is_empty(),
            "{id}: second run wrote {:?}",
            c.writes()
        );
        assert_eq!(versions(&c), settled, "{id}: second run changed objects");
        assert_eq!(code2, 0, "{id}: {err2}");
    }
}

fn api_version(kind: &Value) -> String {
    match kind.as_str().unwrap_or("") {
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => {
            "rbac.authorization.k8s.io/v1".into()
        }
        "AutoscalingRunnerSet"
        | "AutoscalingListener"
        | "EphemeralRunnerSet"
        | "EphemeralRunner" => "actions.github.com/v1alpha1".into(),
        "Runner" => "actions.summerwind.dev/v1alpha1".into(),
        _ => "v1".into(),
    }
}

#[test]
fn request_log_proves_the_mutation_mechanics() {
    for id in ["S1", "S2", "S3", "S4", "S12", "S13", "S17"] {
        let c = TestCluster::scenario(id);
        let (_, v, err) = fix_all(&c);
        assert!(v["outcome"].is_object(), "{id}: {err}");
        for r in c.server.requests() {
            if r.path.contains("/secrets") && r.method == "GET" {
                let accept = r.accept.clone().unwrap_or_default();
                assert!(
                    accept.contains("as=PartialObjectMetadata"),
                    "{id}: Secret read without metadata-only Accept: {r:?}"
                );
            }
            if r.method == "PATCH" {
                assert_eq!(
                    r.content_type.as_deref(),
                    Some("application/json-patch+json"),
                    "{id}: {r:?}"
                );
                let ops = r.body_json().expect("PATCH has a JSON body");
                let ops = ops.as_array().expect("a JSON patch is an array");
                // Never a wholesale finalizer list: only `remove` of one index, after a `test` of
                // that exact finalizer at that index.
                for (i, op) in ops.iter().enumerate() {
                    let path = op["path"].as_str().unwrap_or("");
                    assert_ne!(
                        path, "/metadata/finalizers",
                        "{id}: finalizer list replaced: {ops:?}"
                    );
                    if op["op"] == "remove" && path.starts_with("/metadata/finalizers/") {
                        let prev = &ops[i - 1];
                        assert_eq!(prev["op"], "test", "{id}: {ops:?}");
                        assert_eq!(prev["path"], op["path"], "{id}: {ops:?}");
                        assert!(prev["value"].is_string(), "{id}: {ops:?}");
                    }
                }
                assert!(
                    ops.iter()
                        .any(|op| op["op"] == "test" && op["path"] == "/metadata/resourceVersion"),
                    "{id}: {ops:?}"
                );
            }
            if r.method == "DELETE" {
                let body = r.body_json().unwrap_or_default();
                assert!(
                    body["preconditions"]["uid"].is_string()
                        && body["preconditions"]["resourceVersion"].is_string(),
                    "{id}: DELETE without preconditions: {r:?}"
                );
            }
            if r.method == "PUT" {
                panic!("{id}: no object is ever replaced wholesale: {r:?}");
            }
        }
    }
}

#[test]
fn server_dry_run_sends_dry_run_writes_and_client_dry_run_sends_none() {
    let c = TestCluster::scenario("S3");
    let before = versions(&c);
    let backup = c.dir.path().join("b").display().to_string();
    let (code, v, err) = orphans_json(
        &c,
        &[
            "--fix",
            "--yes",
            "--include-confirm",
            "--dry-run=server",
            "--backup-dir",
            &backup,
        ],
    );
    assert!(
        v["outcome"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{err}"
    );
    let w = c.writes();
    assert!(!w.is_empty());
    for r in &w {
        assert!(
            r.query.contains("dryRun=All"),
            "write without dryRun=All: {r:?}"
        );
    }
    assert_eq!(versions(&c), before, "a server dry run changed the cluster");
    let _ = code;
    c.server.clear_requests();
    let (code, _, err) = orphans_json(&c, &["--fix", "--dry-run", "--include-confirm"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        c.writes().is_empty(),
        "--dry-run sent writes: {:?}",
        c.writes()
    );
}

#[test]
fn refusals_without_yes_and_without_include_confirm() {
    let c = TestCluster::scenario("S3");
    let before = versions(&c);
    let out = c.run(&["orphans", "--fix"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("--yes") && e.lines().count() <= 2, "{e}");
    assert!(c.writes().is_empty());
    assert_eq!(versions(&c), before);
    // Without --include-confirm, confirm steps (and what depends on them) are listed, not done.
    let backup = c.dir.path().join("b").display().to_string();
    let (code, v, _) = orphans_json(&c, &["--fix", "--yes", "--backup-dir", &backup]);
    assert_eq!(code, 1);
    let actions = v["actions"].as_array().expect("actions");
    for (a, s) in actions
        .iter()
        .zip(v["outcome"]["steps"].as_array().expect("steps"))
    {
        if a["tag"] == "confirm" {
            assert_eq!(s["result"], "notIncluded", "{a}");
        }
    }
    let ars = c
        .server
        .list_objects("actions.github.com/v1alpha1", "AutoscalingRunnerSet");
    assert!(
        ars.iter().any(|a| a["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())),
        "ARS finalizer (confirm) must survive"
    );
}

#[test]
fn an_object_changed_between_plan_and_apply_is_skipped_not_clobbered() {
    use fake_apiserver::{ObjectRef, Trigger, TriggerAction};
    let c = TestCluster::scenario("S3");
    // Someone adds a label to the ARS after the plan was made: the hook fires on the first write
    // of the run, long before the ARS's own step.
    let ars = ObjectRef::new(
        "actions.github.com/v1alpha1",
        "AutoscalingRunnerSet",
        Some("arc-runners"),
        "arc-runner-set",
    );
    let hook = c.server.add_trigger(
        Trigger::new(
            "/ephemeralrunners/",
            TriggerAction::SetLabel(ars, "changed-by".into(), Some("someone-else".into())),
        )
        .times(1),
    );
    let (code, v, err) = fix_all(&c);
    assert_eq!(hook.fired(), 1, "{err}");
    let step = v["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["object"]["kind"] == "AutoscalingRunnerSet" && a["action"] == "stripFinalizer")
        .expect("ARS strip planned")["step"]
        .as_u64()
        .expect("step");
    let outcome = v["outcome"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == step)
        .expect("outcome")
        .clone();
    assert_eq!(outcome["result"], "skipped", "{outcome}");
    assert!(
        outcome["detail"]
            .as_str()
            .unwrap_or("")
            .contains("changed since the plan"),
        "{outcome}"
    );
    // Not clobbered: the label and the finalizer are both still there.
    let now = c
        .server
        .get_object(
            "actions.github.com/v1alpha1",
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        )
        .expect("ARS still there");
    assert_eq!(now["metadata"]["labels"]["changed-by"], "someone-else");
    assert_eq!(
        now["metadata"]["finalizers"][0],
        "autoscalingrunnerset.actions.github.com/finalizer"
    );
    assert_eq!(code, 1, "skipped steps make the run exit 1");
    // The next run re-plans from the new state and finishes.
    let (code, v2, err) = fix_all(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        v2["outcome"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["result"] == "done")
    );
}

#[test]
fn a_failed_step_skips_its_dependents_but_not_independent_steps() {
    let c = TestCluster::scenario("S17");
    // Every DELETE of the orphaned runner pod fails with a 500 (retried, then reported).
    c.server.add_fault(fake_apiserver::Fault {
        method: Some("DELETE".into()),
        path_regex: "/pods/arc-runner-set-x7k2p-runner-9vbnm$".into(),
        query_contains: None,
        action: fake_apiserver::FaultAction::Status {
            code: 500,
            reason: "InternalError".into(),
            message: "boom".into(),
            retry_after_seconds: None,
        },
        times: None,
    });
    let (code, v, _) = fix_all(&c);
    assert_eq!(code, 1);
    let result = |kind: &str, name: &str| {
        outcome_of(&v, |a| {
            a["object"]["kind"] == kind && a["object"]["name"] == name
        })
    };
    assert_eq!(result("Pod", "arc-runner-set-x7k2p-runner-9vbnm"), "failed");
    // The JIT secret is mounted by that pod: it waits for it, so it is skipped.
    assert_eq!(
        result("Secret", "arc-runner-set-x7k2p-runner-9vbnm"),
        "skipped"
    );
    // Independent steps still ran.
    assert_eq!(result("Role", "arc-runner-set-754b578d-listener"), "done");
    assert_eq!(result("Pod", "arc-runner-set-754b578d-listener"), "done");
}

#[test]
fn backups_restore_with_the_real_kubectl_into_a_fresh_server() {
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!("\n!!! kubectl not found on PATH: backup restore test SKIPPED !!!\n");
        return;
    }
    let c = TestCluster::scenario("S3");
    let backup = c.dir.path().join("backup");
    let backup_s = backup.display().to_string();
    let (code, v, err) = fix_all(&c);
    assert_eq!(code, 0, "{err}");
    let files: Vec<_> = std::fs::read_dir(&backup).expect("backup dir").collect();
    // One backup per mutated object.
    let mut objects: Vec<String> = v["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| a["object"].to_string())
        .collect();
    objects.sort();
    objects.dedup();
    assert_eq!(
        files.len(),
        objects.len(),
        "one backup file per mutated object"
    );
    // A fresh server with the CRDs and namespaces only.
    let fresh = TestCluster::from_builder(
        fake_apiserver::FakeServer::builder()
            .fixture(scenarios_dir().join("crds/gha-0.14.2.yaml"))
            .objects(["arc-runners", "arc-systems"].map(|n| serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))),
    );
    let out = std::process::Command::new("kubectl")
        .args(["create", "-f", &backup_s, "--kubeconfig"])
        .arg(&fresh.kubeconfig)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl create -f failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ars = fresh
        .server
        .list_objects("actions.github.com/v1alpha1", "AutoscalingRunnerSet");
    assert_eq!(ars.len(), 1);
    assert_eq!(
        ars[0]["metadata"]["finalizers"][0],
        "autoscalingrunnerset.actions.github.com/finalizer"
    );
    assert!(!fresh.server.list_objects("v1", "Secret").is_empty());
}

#[path = "support/stranded.rs"]
mod stranded;

#[test]
fn a_thousand_stranded_runners_are_fixed_with_requests_linear_in_the_objects_changed() {
    let c = TestCluster::from_builder(stranded::server(&scenarios_dir(), 100, 1_000));
    let (_, plan, err) = orphans_json(&c, &[]);
    let planned = plan["actions"].as_array().expect("actions");
    // Per runner: strip the registration finalizer, delete pod and JIT secret, strip the runner
    // finalizer.
    assert_eq!(planned.len(), 4_000, "{err}");
    c.server.clear_requests();
    let (code, v, err) = fix_all(&c);
    assert_eq!(code, 0, "{err}");
    assert!(
        v["outcome"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["result"] == "done")
    );
    let objects_changed = 3_000;
    let reqs = c.server.requests();
    let collection = reqs
        .iter()
        .filter(|r| r.method == "GET" && r.query.contains("limit="))
        .count();
    let per_object = reqs.len() - collection;
    eprintln!(
        "orphans --fix, 1000 runners / 100 namespaces: {} requests ({} object reads/writes, {} list pages)",
        reqs.len(),
        per_object,
        collection
    );
    assert!(
        per_object <= 4 * objects_changed,
        "{per_object} requests for {objects_changed} objects"
    );
    // Listing does not grow with objects beyond pagination (two collections: plan and settle).
    assert!(collection < 200, "{collection} list requests");
    assert!(
        c.server
            .list_objects("actions.github.com/v1alpha1", "EphemeralRunner")
            .is_empty()
    );
    let left = v["outcome"]["githubLeftovers"]
        .as_array()
        .expect("leftovers");
    assert_eq!(
        left.len(),
        1_000,
        "every deregistration left behind is listed"
    );
}

#[test]
fn an_interrupted_fix_is_continued_by_the_next_run() {
    let c = TestCluster::scenario("S3");
    // Slow every write down so the run can be killed between steps.
    c.server.add_fault(fake_apiserver::Fault {
        method: Some("PATCH".into()),
        path_regex: ".".into(),
        query_contains: None,
        action: fake_apiserver::FaultAction::Latency(Duration::from_millis(300)),
        times: None,
    });
    let backup = c.dir.path().join("b").display().to_string();
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args([
        "orphans",
        "--fix",
        "--yes",
        "--include-confirm",
        "-o",
        "json",
        "--backup-dir",
        &backup,
        "--kubeconfig",
    ])
    .arg(&c.kubeconfig)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    common::isolate(&mut cmd, c.dir.path());
    let mut child = cmd.spawn().expect("spawn");
    let start = std::time::Instant::now();
    while c.writes().len() < 3 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("interrupt");
    let _ = child.wait();
    let done_before = c.writes().len();
    assert!(
        done_before >= 3,
        "the first run made progress before it was stopped"
    );
    c.server.clear_faults();
    let (code, v, err) = fix_all(&c);
    assert_eq!(code, 0, "{err}\n{}", v["outcome"]);
    assert!(
        c.server
            .list_objects("actions.github.com/v1alpha1", "AutoscalingRunnerSet")
            .is_empty()
    );
    // The second run planned only what was left.
    assert!(v["actions"].as_array().expect("actions").len() < 19);
}
