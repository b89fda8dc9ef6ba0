//! `cargo bench --bench doctor_scale [-- <case>...]`
//!
//! Wall time, API request count and peak RSS of the real `kubectl-arc doctor -A -o json`, run as
//! a child process against the fake API server (which runs in this process, so its memory is not
//! counted; the child's peak RSS comes from `wait4`). Targets belong here, not in timed tests.
//!
//! `DOCTOR_SCALE_BIN=<path>` measures another `kubectl-arc` build (say, the previous release) on
//! the same clusters, for before/after numbers. `DOCTOR_SCALE_SERVE=1` starts the first case's cluster, prints its kubeconfig and waits (for
//! profiling by hand).
//!
//! `arc:1000` checks issue 8's target (peak RSS ≤ 64 MiB) and the benchmark exits 1 when missed.
//!
//! Cases (default: `plain:10 plain:1000 plain:5000 arc:1000`):
//! * `plain:N` — the healthy B0 install plus N namespaces that only hold what every namespace
//!   holds (a ServiceAccount and a ConfigMap): request count must not grow with namespaces.
//! * `arc:N` — the B0 install plus N runner namespaces, each a copy of B0's `arc-runners`: a
//!   scale set with its GitHub Secret, manager RBAC, no-permission ServiceAccount and Helm
//!   release record, a runner set, 3 runners with their pods and JIT Secrets, and one listener
//!   (with pod, ServiceAccount, config Secret and listener RBAC) in the controller namespace —
//!   about 17 objects per namespace. Objects carry `managedFields` and the pod defaults a real
//!   API server adds, so their size is close to what a real cluster returns.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, TestCluster, isolate, scenarios_dir};
use fake_apiserver::FakeServer;
use serde_json::{Map, Value, json};

fn plain_cluster(n: usize) -> TestCluster {
    let docs = (0..n).flat_map(|i| {
        let ns = format!("synthetic-{i:05}");
        [
            json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns},"status":{"phase":"Active"}}),
            json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":ns}}),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":ns},"data":{"ca.crt":"x"}}),
        ]
    });
    TestCluster::from_builder(
        FakeServer::builder()
            .fixture(scenarios_dir().join("B0"))
            .objects(docs),
    )
}

const LISTENER: &str = "arc-runner-set-85f786b5-listener";
const RUNNER: &str = "4fzq8";

/// B0's documents that make up one runner namespace (and its listener in arc-systems).
fn runner_namespace_template() -> Vec<Value> {
    let path = scenarios_dir().join("B0/cluster.yaml");
    let text = std::fs::read_to_string(&path).expect("B0 fixture readable");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("B0 fixture parses");
    docs.into_iter()
        .filter(|d| {
            let ns = d.pointer("/metadata/namespace").and_then(Value::as_str);
            let name = d
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind = d["kind"].as_str().unwrap_or("");
            ns == Some("arc-runners")
                || (kind == "Namespace" && name == "arc-runners")
                || (ns == Some("arc-systems") && name.contains(LISTENER))
                || (kind == "PodLog" && name.contains(LISTENER))
        })
        .collect()
}

/// What a real API server returns and the fixtures leave out: `managedFields` mirroring the
/// object's fields, and the pod defaults (service-account token volume, tolerations, …).
fn realistic(mut doc: Value) -> Value {
    if doc["kind"] == "PodLog" {
        return doc;
    }
    if doc["kind"] == "Pod" {
        let spec = &mut doc["spec"];
        spec["dnsPolicy"] = json!("ClusterFirst");
        spec["enableServiceLinks"] = json!(true);
        spec["preemptionPolicy"] = json!("PreemptLowerPriority");
        spec["priority"] = json!(0);
        spec["schedulerName"] = json!("default-scheduler");
        spec["securityContext"] = json!({});
        spec["terminationGracePeriodSeconds"] = json!(30);
        spec["tolerations"] = json!([
            {"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},
            {"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}
        ]);
        let token = json!({"name":"kube-api-access-x7q2n","projected":{"defaultMode":420,"sources":[
            {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
            {"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},
            {"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}
        ]}});
        match spec["volumes"].as_array_mut() {
            Some(v) => v.push(token),
            None => spec["volumes"] = json!([token]),
        }
        if let Some(cs) = spec["containers"].as_array_mut() {
            for c in cs {
                c["imagePullPolicy"] = json!("Always");
                c["resources"] = json!({});
                c["terminationMessagePath"] = json!("/dev/termination-log");
                c["terminationMessagePolicy"] = json!("File");
                let mount = json!({"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-x7q2n","readOnly":true});
                match c["volumeMounts"].as_array_mut() {
                    Some(v) => v.push(mount),
                    None => c["volumeMounts"] = json!([mount]),
                }
            }
        }
    }
    let mut fields = Map::new();
    if let Some(o) = doc.as_object() {
        for (k, v) in o {
            if !matches!(k.as_str(), "apiVersion" | "kind") {
                fields.insert(format!("f:{k}"), fields_v1(v));
            }
        }
    }
    let api_version = doc["apiVersion"].clone();
    doc["metadata"]["managedFields"] = json!([{
        "manager": "kube-controller-manager", "operation": "Update", "apiVersion": api_version,
        "time": "2026-06-01T09:15:00Z", "fieldsType": "FieldsV1", "fieldsV1": Value::Object(fields),
    }]);
    doc
}

/// The shape of a `fieldsV1` entry for a value.
fn fields_v1(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (format!("f:{k}"), fields_v1(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Object(
            a.iter()
                .enumerate()
                .map(|(i, v)| {
                    let key = match v.get("name").and_then(Value::as_str) {
                        Some(n) => format!("k:{{\"name\":\"{n}\"}}"),
                        None => format!("v:{i}"),
                    };
                    (key, fields_v1(v))
                })
                .collect(),
        ),
        _ => json!({}),
    }
}

fn arc_cluster(n: usize) -> (TestCluster, usize) {
    let template = runner_namespace_template();
    let runner_ids = [RUNNER, "4fzq9", "4fzqb"];
    let mut docs = Vec::new();
    for i in 0..n {
        let ns = format!("runners-{i:04}");
        let hash = kubectl_arc::model::fnv_hash_string(&format!("{ns}@@https://github.com/acme"));
        let listener = format!("arc-runner-set-{}-listener", &hash[..hash.len().min(8)]);
        let uid_prefix = format!("{:08x}-0000-0000-0000-", i + 1);
        let id = 1000 + i;
        for doc in &template {
            let text = doc.to_string();
            let copies: Vec<String> = if text.contains(RUNNER) {
                runner_ids
                    .iter()
                    .enumerate()
                    .map(|(j, id)| {
                        text.replace(RUNNER, id)
                            .replace("000000a40001", &format!("000000a4{j}001"))
                            .replace("000000d30003", &format!("000000d3{j}003"))
                    })
                    .collect()
            } else {
                vec![text]
            };
            for t in copies {
                let t = t
                    .replace("arc-runners", &ns)
                    .replace(LISTENER, &listener)
                    .replace("00000000-0000-0000-0000-", &uid_prefix)
                    .replace(
                        r#""runner-scale-set-id":"42""#,
                        &format!(r#""runner-scale-set-id":"{id}""#),
                    )
                    .replace(
                        r#""runnerScaleSetId":42"#,
                        &format!(r#""runnerScaleSetId":{id}"#),
                    );
                let mut d: Value = serde_json::from_str(&t).expect("valid JSON");
                if d["kind"] == "EphemeralRunnerSet" {
                    d["spec"]["replicas"] = json!(3);
                    d["status"]["currentReplicas"] = json!(3);
                    d["status"]["runningEphemeralRunners"] = json!(3);
                }
                if d["kind"] == "AutoscalingRunnerSet" {
                    d["spec"]["minRunners"] = json!(3);
                    d["status"]["currentRunners"] = json!(3);
                    d["status"]["runningEphemeralRunners"] = json!(3);
                }
                docs.push(realistic(d));
            }
        }
        for d in [
            json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":ns,"uid":format!("{uid_prefix}0000000000f1")}}),
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":ns,"uid":format!("{uid_prefix}0000000000f2")},"data":{"ca.crt":"-----BEGIN CERTIFICATE-----\nMIIC/jCCAeagAwIBAgIBADANBgkqhkiG9w0BAQsFADAVMRMwEQYDVQQDEwprdWJl\n-----END CERTIFICATE-----\n"}}),
        ] {
            docs.push(realistic(d));
        }
    }
    let objects = docs.iter().filter(|d| d["kind"] != "PodLog").count();
    let cluster = TestCluster::from_builder(
        FakeServer::builder()
            .fixture(scenarios_dir().join("B0"))
            .objects(docs),
    );
    (cluster, objects)
}

/// One run of the real binary.
struct Run {
    code: i32,
    wall: Duration,
    /// Peak RSS of the child, KiB.
    max_rss: i64,
    stdout: Vec<u8>,
    stderr: String,
}

/// Environment variable that turns this benchmark binary into the launcher (see [`launch`]).
const LAUNCHER: &str = "DOCTOR_SCALE_LAUNCHER";
const RSS_TAG: &str = "doctor_scale: max_rss_kib=";

/// Run `kubectl-arc` through a small launcher process (this binary, re-executed) that reports the
/// child's peak RSS. Measuring from here directly would be wrong: the kernel seeds a spawned
/// child's peak RSS with the RSS of the process that spawned it — here, the fake API server.
fn run_measured(c: &TestCluster, args: &[&str]) -> Run {
    let me = std::env::current_exe().expect("own path");
    let mut cmd = Command::new(me);
    // `DOCTOR_SCALE_BIN` measures another build (e.g. the previous release) on the same cluster.
    let bin = std::env::var_os("DOCTOR_SCALE_BIN").unwrap_or_else(|| BIN.into());
    cmd.env(LAUNCHER, "1")
        .arg(bin)
        .args(args)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    isolate(&mut cmd, c.dir.path());
    let start = Instant::now();
    let out = cmd.output().expect("launcher runs");
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let max_rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix(RSS_TAG))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("launcher did not report RSS: {stderr}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        wall,
        max_rss,
        stdout: out.stdout,
        stderr,
    }
}

/// Launcher mode: run argv[1..] with inherited stdio, wait for it with `wait4`, report its peak
/// RSS on stderr, and exit with its exit code. This process stays small, so the child's peak RSS
/// is its own.
fn launch() -> ! {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("program to launch");
    let mut cmd = Command::new(program);
    cmd.args(args).env_remove(LAUNCHER);
    let child = cmd.spawn().expect("child starts");
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 on our own child with valid out-pointers; `usage` is plain old data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    // The child is reaped: `Child` must not wait for it again.
    std::mem::forget(child);
    eprintln!("{RSS_TAG}{}", usage.ru_maxrss);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        125
    };
    std::process::exit(code)
}

fn main() {
    if std::env::var_os(LAUNCHER).is_some() {
        launch();
    }
    let mut cases: Vec<(String, usize)> = std::env::args()
        .skip(1)
        .filter_map(|a| {
            let (kind, n) = a.split_once(':')?;
            Some((kind.to_owned(), n.parse().ok()?))
        })
        .filter(|(k, _)| k == "plain" || k == "arc")
        .collect();
    if cases.is_empty() {
        cases = vec![
            ("plain".into(), 10),
            ("plain".into(), 1_000),
            ("plain".into(), 5_000),
            ("arc".into(), 1_000),
        ];
    }
    const RUNS: usize = 5;
    let mut missed = false;
    println!(
        "{:>6} {:>10} {:>8} {:>9} {:>9} {:>10} {:>10} {:>13}",
        "case", "namespaces", "objects", "requests", "findings", "median", "max", "peak RSS"
    );
    for (kind, n) in cases {
        let (c, objects) = if kind == "arc" {
            arc_cluster(n)
        } else {
            (plain_cluster(n), 3 * n)
        };
        if std::env::var_os("DOCTOR_SCALE_SERVE").is_some() {
            // For profiling by hand: keep the cluster up and say where it is.
            println!("serving {kind}:{n}; kubeconfig {}", c.kubeconfig.display());
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut peak = 0;
        let mut requests = 0;
        let mut findings = 0;
        let mut codes = std::collections::BTreeSet::new();
        for _ in 0..RUNS {
            c.server.clear_requests();
            let run = run_measured(&c, &["doctor", "-A", "-o", "json", "--fail-on", "none"]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            times.push(run.wall);
            peak = peak.max(run.max_rss);
            requests = c.server.requests().len();
            let report: Value = serde_json::from_slice(&run.stdout).expect("JSON report");
            findings = report["summary"]["total"].as_u64().unwrap_or(0);
            codes.extend(
                report["findings"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["code"].as_str().map(str::to_owned)),
            );
        }
        times.sort();
        println!(
            "{kind:>6} {n:>10} {objects:>8} {requests:>9} {findings:>9} {:>8.0}ms {:>8.0}ms {:>9.1} MiB",
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3,
            peak as f64 / 1024.0
        );
        if !codes.is_empty() {
            println!("{:>6} findings: {codes:?}", "");
        }
        if kind == "arc" && n == 1_000 {
            let met = peak <= RSS_TARGET_KIB;
            println!(
                "{:>6} target: peak RSS <= {} MiB at 1,000 runner namespaces: {}",
                "",
                RSS_TARGET_KIB / 1024,
                if met { "met" } else { "MISSED" }
            );
            missed |= !met;
        }
    }
    if missed {
        std::process::exit(1);
    }
}

/// Peak RSS allowed for `doctor -A -o json` on `arc:1000` (issue 8), KiB.
const RSS_TARGET_KIB: i64 = 64 * 1024;
