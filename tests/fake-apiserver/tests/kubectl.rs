//! The real `kubectl` against the fake server (HTTPS, generated kubeconfig).
//!
//! Uses `$KUBECTL` or `kubectl` from PATH. When no kubectl can be found the tests are skipped
//! with a loud message (`.ci/run` installs it); `FAKE_APISERVER_REQUIRE_KUBECTL=1` turns that
//! into a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use fake_apiserver::FakeServer;
use serde_json::json;

fn kubectl_path() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("KUBECTL") {
        return Some(PathBuf::from(k));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("kubectl"))
            .find(|p| p.is_file())
    })
}

struct Kubectl {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(server: &FakeServer) -> Option<Kubectl> {
        let Some(bin) = kubectl_path() else {
            if std::env::var("FAKE_APISERVER_REQUIRE_KUBECTL").as_deref() == Ok("1") {
                panic!("kubectl not found (set KUBECTL or install it)");
            }
            eprintln!(
                "\n!!!!! SKIPPED: kubectl not found (set KUBECTL or install it, e.g. apt-get install kubernetes-client) !!!!!\n"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"))
            .expect("kubeconfig");
        Some(Kubectl { bin, dir })
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs")
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write");
        p
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn scenario() -> FakeServer {
    start(vec![
        ns("arc-systems"),
        ns("arc-runners"),
        listener_crd(),
        listener(
            "arc-systems",
            "arc-runner-set-85f786b5-listener",
            &["autoscalinglistener.actions.github.com/finalizer"],
        ),
        secret("arc-runners", "github-secret"),
        user("alice", &[]),
        role(
            "arc-runners",
            "reader",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]),
        ),
        role_binding("arc-runners", "alice", "Role", "reader", "alice"),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "arc-systems", "name": "controller"},
            "spec": {"containers": [{"name": "manager", "image": "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2"}]}}),
        json!({"apiVersion": FAKE, "kind": "PodLog", "spec": {"namespace": "arc-systems", "pod": "controller", "text": "one\ntwo\n"}}),
    ])
}

#[test]
fn kubectl_reads_the_cluster() {
    let server = scenario();
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let out = k.ok(&["get", "namespaces", "-o", "name"]);
    assert!(
        out.contains("namespace/arc-systems") && out.contains("namespace/default"),
        "{out}"
    );
    let out = k.ok(&["get", "autoscalinglisteners", "-A", "-o", "name"]);
    assert_eq!(
        out.trim(),
        "autoscalinglistener.actions.github.com/arc-runner-set-85f786b5-listener"
    );
    let out = k.ok(&[
        "get",
        "secret",
        "github-secret",
        "-n",
        "arc-runners",
        "-o",
        "jsonpath={.data.token}",
    ]);
    assert_eq!(out, "aGVsbG8=");
    let out = k.ok(&["logs", "-n", "arc-systems", "controller", "--tail=1"]);
    assert_eq!(out, "two\n");
    let out = k.ok(&["get", "pods", "-n", "arc-systems"]);
    assert!(
        out.starts_with("NAME") && out.contains("controller"),
        "{out}"
    );
    // The kubeconfig has a context per user.
    let out = k.run(&["--context", "alice", "get", "secrets", "-n", "arc-runners"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot list resource \"secrets\""));
    k.ok(&["--context", "alice", "get", "pods", "-n", "arc-runners"]);
}

#[test]
fn kubectl_auth_can_i_uses_rbac() {
    let server = scenario();
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    assert_eq!(
        k.ok(&[
            "auth",
            "can-i",
            "list",
            "pods",
            "-n",
            "arc-runners",
            "--as",
            "alice"
        ])
        .trim(),
        "yes"
    );
    let out = k.run(&[
        "auth",
        "can-i",
        "list",
        "secrets",
        "-n",
        "arc-runners",
        "--as",
        "alice",
    ]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.impersonate_user.as_deref() == Some("alice"))
    );
}

#[test]
fn kubectl_writes() {
    let server = scenario();
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let f = k.file(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kubectl\n  namespace: arc-runners\ndata:\n  a: \"1\"\n",
    );
    k.ok(&["create", "-f", path_str(&f)]);
    assert!(
        server
            .get_object("v1", "ConfigMap", Some("arc-runners"), "from-kubectl")
            .is_some()
    );
    k.ok(&["apply", "-f", path_str(&f)]);
    k.ok(&[
        "label",
        "configmap",
        "from-kubectl",
        "-n",
        "arc-runners",
        "x=y",
    ]);
    let cm = server
        .get_object("v1", "ConfigMap", Some("arc-runners"), "from-kubectl")
        .expect("exists");
    assert_eq!(cm["metadata"]["labels"]["x"], "y");
    // A failing JSON patch test.
    let out = k.run(&[
        "patch",
        "autoscalinglistener",
        "arc-runner-set-85f786b5-listener",
        "-n",
        "arc-systems",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/metadata/finalizers/0","value":"wrong"}]"#,
    ]);
    assert!(!out.status.success());
    // kubectl 1.32 prints the Status message; 1.20 only "The request is invalid".
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("The request is invalid"), "{err}");
    // Typed clients send protobuf bodies.
    k.ok(&["create", "namespace", "scratch"]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "scratch",
        "--from-literal=k=v",
    ]);
    let s = server
        .get_object("v1", "Secret", Some("scratch"), "s")
        .expect("secret");
    assert_eq!(s["data"]["k"], "dg==");
    // Deleting a namespace whose content has a finalizer leaves it Terminating.
    k.ok(&["delete", "namespace", "arc-systems", "--wait=false"]);
    let out = k.ok(&[
        "get",
        "namespace",
        "arc-systems",
        "-o",
        "jsonpath={.status.phase}",
    ]);
    assert_eq!(out, "Terminating");
    k.ok(&["delete", "namespace", "scratch"]);
    assert!(
        server
            .get_object("v1", "Namespace", None, "scratch")
            .is_none()
    );
}

#[test]
fn kubectl_delete_waits_for_finalizers() {
    let server = scenario();
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let child = Command::new(&k.bin)
        .arg("--kubeconfig")
        .arg(k.kubeconfig())
        .arg("--cache-dir")
        .arg(k.dir.path().join("cache"))
        .args([
            "delete",
            "autoscalinglistener",
            "arc-runner-set-85f786b5-listener",
            "-n",
            "arc-systems",
            "--timeout=60s",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl delete");
    // Whatever the interleaving, removing the finalizer lets the delete finish.
    Client::new(&server)
        .merge_patch(
            "/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners/arc-runner-set-85f786b5-listener",
            &json!({"metadata": {"finalizers": null}}),
        )
        .expect(200);
    let out = child.wait_with_output().expect("kubectl finishes");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        server
            .list_objects("actions.github.com/v1alpha1", "AutoscalingListener")
            .is_empty()
    );
}
