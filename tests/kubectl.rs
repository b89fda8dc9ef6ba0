//! Proof by a real client: the installed `kubectl` works unchanged against the fake API server,
//! and dispatches `kubectl arc …` to our binary. Skipped, loudly, only when kubectl is absent
//! (`.ci/run` installs it).

#[macro_use]
mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, TestCluster, stderr, stdout};

fn kc(k: &Path, c: &TestCluster, args: &[&str]) -> Output {
    Command::new(k)
        .arg("--kubeconfig")
        .arg(&c.kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", c.dir.path())
        .output()
        .expect("kubectl runs")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "kubectl failed: {}\n{}",
        stderr(o),
        stdout(o)
    );
    stdout(o)
}

#[test]
fn kubectl_reads_namespaces_crds_and_secrets() {
    let k = require_kubectl!();
    let c = TestCluster::scenario("N1");
    let ns = ok(&kc(&k, &c, &["get", "ns"]));
    assert!(
        ns.contains("arc-systems") && ns.contains("arc-runners"),
        "{ns}"
    );
    let ars = ok(&kc(&k, &c, &["get", "autoscalingrunnersets", "-A"]));
    assert!(
        ars.contains("arc-runners") && ars.contains("arc-runner-set"),
        "{ars}"
    );
    let secrets = ok(&kc(&k, &c, &["get", "secrets", "-A"]));
    assert!(
        secrets.contains("arc-runner-set-gha-rs-github-secret"),
        "{secrets}"
    );
    assert!(
        c.server.requests().iter().any(|r| r.accept.is_some()),
        "the request log records Accept headers"
    );
}

#[test]
fn kubectl_delete_keeps_an_object_with_finalizers_and_json_patch_releases_it() {
    let k = require_kubectl!();
    let c = TestCluster::scenario("N1");
    let target = [
        "autoscalingrunnerset",
        "arc-runner-set",
        "-n",
        "arc-runners",
    ];
    let del = kc(
        &k,
        &c,
        &[
            "delete",
            target[0],
            target[1],
            "-n",
            target[3],
            "--wait=false",
        ],
    );
    ok(&del);
    let mut get = vec!["get"];
    get.extend(target);
    get.extend(["-o", "jsonpath={.metadata.deletionTimestamp}"]);
    let dt = ok(&kc(&k, &c, &get));
    assert!(!dt.trim().is_empty(), "deletionTimestamp set, object kept");
    let patch = r#"[{"op":"test","path":"/metadata/finalizers/0","value":"autoscalingrunnerset.actions.github.com/finalizer"},{"op":"remove","path":"/metadata/finalizers/0"}]"#;
    ok(&kc(
        &k,
        &c,
        &[
            "patch",
            target[0],
            target[1],
            "-n",
            target[3],
            "--type=json",
            "-p",
            patch,
        ],
    ));
    let gone = kc(&k, &c, &["get", target[0], target[1], "-n", target[3]]);
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("NotFound") || stderr(&gone).contains("not found"),
        "{}",
        stderr(&gone)
    );
}

#[test]
fn kubectl_auth_can_i_as_a_namespace_limited_user() {
    let k = require_kubectl!();
    let c = TestCluster::scenario("N1");
    let yes = kc(
        &k,
        &c,
        &[
            "--context",
            "team-dev",
            "auth",
            "can-i",
            "list",
            "secrets",
            "-n",
            "arc-runners",
        ],
    );
    assert_eq!(stdout(&yes).trim(), "yes", "{}", stderr(&yes));
    let no = kc(
        &k,
        &c,
        &[
            "--context",
            "team-dev",
            "auth",
            "can-i",
            "list",
            "secrets",
            "-n",
            "arc-systems",
        ],
    );
    assert_eq!(stdout(&no).trim(), "no");
    assert!(!no.status.success());
    let cluster = kc(
        &k,
        &c,
        &[
            "--context",
            "team-dev",
            "auth",
            "can-i",
            "list",
            "secrets",
            "--all-namespaces",
        ],
    );
    assert_eq!(stdout(&cluster).trim(), "no");
    // And the API server really enforces it.
    let denied = kc(&k, &c, &["--context", "team-dev", "get", "secrets", "-A"]);
    assert!(!denied.status.success());
    assert!(stderr(&denied).contains("forbidden"), "{}", stderr(&denied));
}

#[test]
fn kubectl_paginates_with_chunk_size() {
    let k = require_kubectl!();
    let c = TestCluster::scenario("N1");
    c.server.clear_requests();
    let all = ok(&kc(
        &k,
        &c,
        &["get", "secrets", "-A", "--chunk-size=2", "-o", "name"],
    ));
    let names: Vec<&str> = all.lines().collect();
    assert!(names.len() > 2, "{all}");
    let pages: Vec<String> = c
        .server
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/secrets")
        .map(|r| r.query.clone())
        .collect();
    assert!(pages.len() >= 2, "{pages:?}");
    assert!(pages.iter().all(|q| q.contains("limit=2")), "{pages:?}");
    assert!(
        pages.iter().skip(1).all(|q| q.contains("continue=")),
        "{pages:?}"
    );
    // Every secret the server holds was listed exactly once across pages.
    let held = c.server.list_objects("v1", "Secret").len();
    assert_eq!(names.len(), held);
}

#[test]
fn kubectl_dispatches_the_plugin() {
    let k = require_kubectl!();
    let c = TestCluster::scenario("B0");
    let bin_dir = tempfile::tempdir().expect("tmp");
    std::os::unix::fs::symlink(BIN, bin_dir.path().join("kubectl-arc")).expect("symlink");
    let path = std::env::join_paths(std::iter::once(bin_dir.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let list = Command::new(&k)
        .args(["plugin", "list"])
        .env("PATH", &path)
        .output()
        .expect("kubectl plugin list");
    assert!(
        stdout(&list).contains("kubectl-arc"),
        "{}{}",
        stdout(&list),
        stderr(&list)
    );
    let out = Command::new(&k)
        .args(["arc", "doctor", "-o", "json", "--kubeconfig"])
        .arg(&c.kubeconfig)
        .env("PATH", &path)
        .env_remove("KUBECONFIG")
        .output()
        .expect("kubectl arc runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["summary"]["total"], 0);
    let help = Command::new(&k)
        .args(["arc", "--help"])
        .env("PATH", &path)
        .output()
        .expect("help");
    assert!(
        stdout(&help).contains("Usage: kubectl arc"),
        "{}",
        stdout(&help)
    );
}
