//! `kubectl-arc __complete` against the fake API server, without kubectl in between (the kubectl
//! round trip is in tests/release.rs): namespaces with ARC objects first, the kubeconfig taken
//! from `KUBECONFIG` or from `--kubeconfig/--context` on the line, a short bound on slow or
//! unreachable servers, silence on errors, and metadata-only reads that never touch Secrets.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{BIN, TestCluster, isolate, stderr, stdout};
use fake_apiserver::Fault;

/// `kubectl-arc __complete -- WORDS` as the helper runs it; `KUBECONFIG` only when given.
fn complete(home: &Path, kubeconfig_env: Option<&Path>, words: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["__complete", "--"]).args(words);
    isolate(&mut cmd, home);
    if let Some(k) = kubeconfig_env {
        cmd.env("KUBECONFIG", k);
    }
    cmd.output().expect("kubectl-arc runs")
}

/// (candidate values, directive line); asserts exit 0 and nothing on stderr.
fn answer(o: &Output) -> (Vec<String>, String) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    assert_eq!(stderr(o), "", "completion must be silent on stderr");
    let out = stdout(o);
    let mut lines: Vec<&str> = out.lines().collect();
    let directive = lines.pop().unwrap_or("").to_owned();
    assert!(
        directive.starts_with(':'),
        "last line is the directive: {out:?}"
    );
    (
        lines
            .iter()
            .map(|l| l.split('\t').next().unwrap_or("").to_owned())
            .collect(),
        directive,
    )
}

/// S1 plus a namespace without ARC objects that sorts before every ARC namespace, so "ARC
/// first" and "alphabetical" give different orders.
fn s1_with_apps() -> TestCluster {
    TestCluster::from_builder(
        fake_apiserver::FakeServer::builder()
            .fixture(common::scenarios_dir().join("S1"))
            .object(serde_json::json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}
            })),
    )
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn drain_offers_arc_namespaces_first_and_reads_metadata_only() {
    let c = s1_with_apps();
    c.server.clear_requests();
    let (values, directive) = answer(&complete(c.dir.path(), Some(&c.kubeconfig), &["drain", ""]));
    assert_eq!(
        values,
        strings(&[
            "arc-controller",
            "arc-runners",
            "arc-systems",
            "apps",
            "default",
            "kube-node-lease",
            "kube-public",
            "kube-system"
        ])
    );
    assert_eq!(directive, ":36");

    let requests = c.server.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.method, "GET", "{} {}", r.method, r.path);
        assert!(
            !r.path.contains("/secrets"),
            "completion read Secrets: {}",
            r.path
        );
        if r.path.starts_with("/apis/actions.") || r.path.starts_with("/apis/apps/") {
            assert!(
                r.accept
                    .as_deref()
                    .is_some_and(|a| a.contains("as=PartialObjectMetadataList")),
                "{} not metadata-only: {:?}",
                r.path,
                r.accept
            );
        }
    }

    // The stuck listener's namespace says it is Terminating and what ARC left there.
    let o = complete(c.dir.path(), Some(&c.kubeconfig), &["drain", "arc-s"]);
    assert_eq!(
        stdout(&o),
        "arc-systems\tTerminating; ARC: AutoscalingListener\n:36\n"
    );
}

#[test]
fn the_kubeconfig_and_context_on_the_line_win() {
    let c = TestCluster::scenario("B0");
    let kc = c.kubeconfig.to_str().unwrap();
    // No KUBECONFIG in the environment: --kubeconfig on the line, before or after the subcommand.
    let (a, _) = answer(&complete(
        c.dir.path(),
        None,
        &["--kubeconfig", kc, "drain", "arc-"],
    ));
    let eq = format!("--kubeconfig={kc}");
    let (b, _) = answer(&complete(c.dir.path(), None, &["drain", &eq, "arc-"]));
    assert_eq!(a, strings(&["arc-runners", "arc-systems"]));
    assert_eq!(a, b);
    // A context that does not exist: nothing, silently.
    let (none, directive) = answer(&complete(
        c.dir.path(),
        Some(&c.kubeconfig),
        &["drain", "--context", "nope", ""],
    ));
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(directive, ":36");
    // Contexts from the kubeconfig named on the line.
    let (contexts, _) = answer(&complete(
        c.dir.path(),
        None,
        &["doctor", "--kubeconfig", kc, "--context", ""],
    ));
    assert_eq!(contexts, strings(&["admin"]));
}

#[test]
fn kubeconfig_files_in_kubeconfig_are_merged_for_contexts() {
    let c = TestCluster::scenario("B0");
    let other = c.dir.path().join("other");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: prod-admin\n  context: {cluster: prod, user: p}\nusers:\n- name: p\n  user: {token: x}\n",
    )
    .unwrap();
    let list = std::env::join_paths([c.kubeconfig.as_path(), other.as_path()]).unwrap();
    let (values, directive) = answer(&complete(
        c.dir.path(),
        Some(Path::new(&list)),
        &["orphans", "--context", ""],
    ));
    assert_eq!(values, strings(&["admin", "prod-admin"]));
    assert_eq!(directive, ":4");
}

#[test]
fn a_hanging_server_costs_at_most_the_budget_and_prints_nothing() {
    let c = TestCluster::scenario("S1");
    c.server
        .add_fault(Fault::latency(".*", Duration::from_secs(20)));
    let started = Instant::now();
    let o = complete(c.dir.path(), Some(&c.kubeconfig), &["drain", ""]);
    let took = started.elapsed();
    assert_eq!(answer(&o), (Vec::new(), ":36".to_owned()));
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn slow_arc_lists_still_leave_the_namespaces() {
    let c = s1_with_apps();
    // Only the custom resources and Deployments hang; /version and namespaces answer.
    c.server
        .add_fault(Fault::latency("^/apis/", Duration::from_secs(20)));
    let started = Instant::now();
    let (values, _) = answer(&complete(c.dir.path(), Some(&c.kubeconfig), &["-n", ""]));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(
        values,
        strings(&[
            "apps",
            "arc-controller",
            "arc-runners",
            "arc-systems",
            "default",
            "kube-node-lease",
            "kube-public",
            "kube-system"
        ]),
        "plain sorted list when the ARC lists do not answer in time"
    );
}

#[test]
fn a_namespace_limited_user_gets_what_it_may_see_and_no_error() {
    let c = TestCluster::scenario("N1");
    let (values, directive) = answer(&complete(
        c.dir.path(),
        Some(&c.kubeconfig),
        &["drain", "--context", "team-dev", ""],
    ));
    // Cluster-wide LISTs are forbidden for team-dev: nothing to offer, and no complaint.
    assert!(values.is_empty(), "{values:?}");
    assert_eq!(directive, ":36");
    assert!(
        c.server
            .requests()
            .iter()
            .any(|r| r.authenticated_user == "team-dev" && r.status == 403),
        "the forbidden path was exercised"
    );
}

#[test]
fn static_completions_need_no_cluster() {
    let home = tempfile::tempdir().unwrap();
    let (values, directive) = answer(&complete(home.path(), None, &["dr"]));
    assert_eq!((values, directive.as_str()), (strings(&["drain"]), ":4"));
    let (values, _) = answer(&complete(home.path(), None, &["explain", "arc-orphan-l"]));
    assert_eq!(
        values,
        strings(&["ARC-ORPHAN-LISTENER", "ARC-ORPHAN-LISTENER-CHILD"])
    );
    let (values, _) = answer(&complete(home.path(), None, &["version", "--cl"]));
    assert_eq!(values, strings(&["--client", "--cluster"]));
    // Without the `--` separator too (a hand-written helper), and with no words at all.
    let mut cmd = Command::new(BIN);
    cmd.args(["__complete", "doctor", "--fail-on", "cr"]);
    isolate(&mut cmd, home.path());
    let (values, _) = answer(&cmd.output().unwrap());
    assert_eq!(values, strings(&["critical"]));
    let (values, _) = answer(&complete(home.path(), None, &[]));
    assert!(values.contains(&"doctor".to_owned()) && !values.iter().any(|v| v.starts_with("__")));
}

#[cfg(unix)]
#[test]
fn completion_prints_the_helper_that_kubectl_runs() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("completion");
    isolate(&mut cmd, home.path());
    let o = cmd.output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let helper = stdout(&o);
    assert_eq!(
        helper,
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kubectl_complete-arc")
        )
        .unwrap()
    );
    // Saved and run the way kubectl runs it, it answers like the hidden command.
    let bin_dir = home.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(BIN, bin_dir.join("kubectl-arc")).unwrap();
    let path = bin_dir.join("kubectl_complete-arc");
    std::fs::write(&path, &helper).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&path)
        .args(["doctor", "-o", ""])
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "table\njson\nyaml\n:4\n", "{}", stderr(&out));
    // The README shows the same one-liner.
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    assert!(
        readme.contains("kubectl arc completion >"),
        "README lacks the completion step"
    );
}
