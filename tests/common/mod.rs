//! Shared end-to-end harness: start the fake API server with a scenario, write a kubeconfig,
//! run the real `kubectl-arc` binary against it.

#![allow(dead_code, unused_macros)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fake_apiserver::FakeServer;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-arc");

pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// A running fake cluster plus a kubeconfig pointing at it.
pub struct TestCluster {
    pub server: FakeServer,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

/// `kubectl` on PATH, if installed.
pub fn kubectl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file())
}

/// The path of `kubectl`, or skip the test (loudly) when it is not installed.
macro_rules! require_kubectl {
    () => {
        match common::kubectl() {
            Some(k) => k,
            None => {
                eprintln!("\n!!!!! SKIPPED: kubectl is not on PATH; install it (e.g. apt-get install kubernetes-client) to run this test !!!!!\n");
                return;
            }
        }
    };
}

impl TestCluster {
    /// Start with the fixtures of scenario `id` (a directory under tests/scenarios).
    pub fn scenario(id: &str) -> TestCluster {
        Self::from_builder(FakeServer::builder().fixture(scenarios_dir().join(id)))
    }

    pub fn from_builder(b: fake_apiserver::Builder) -> TestCluster {
        let server = b.start().expect("fake API server starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = dir.path().join("kubeconfig");
        server
            .write_kubeconfig(&kubeconfig)
            .expect("kubeconfig written");
        TestCluster {
            server,
            dir,
            kubeconfig,
        }
    }

    /// Run `kubectl-arc <args>` with this cluster's kubeconfig (via --kubeconfig).
    /// The writes the server received (POST, PUT, PATCH, DELETE), access reviews aside.
    pub fn writes(&self) -> Vec<fake_apiserver::RequestRecord> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
            .filter(|r| !r.path.contains("accessreviews"))
            .collect()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--kubeconfig").arg(&self.kubeconfig);
        isolate(&mut cmd, self.dir.path());
        cmd.output().expect("kubectl-arc runs")
    }

    /// Run `doctor -o json` (plus args) and parse stdout.
    pub fn doctor_json(&self, args: &[&str]) -> (i32, Value, String) {
        let mut all = vec!["doctor", "-o", "json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "doctor stdout is not JSON ({e}); stderr: {stderr}; stdout: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (out.status.code().unwrap_or(-1), v, stderr)
    }
}

/// A clean environment: no ambient kubeconfig, no colour, HOME in the temp dir.
pub fn isolate(cmd: &mut Command, home: &Path) {
    cmd.env_remove("KUBECONFIG")
        .env_remove("RUST_BACKTRACE")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("KUBERNETES_SERVICE_HOST");
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
