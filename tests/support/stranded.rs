//! A generated cluster for the orphans scale test and benchmark: `runners` stranded
//! EphemeralRunners (deleting, both ARC finalizers, no controller anywhere) spread over
//! `namespaces` namespaces, each with its runner pod and JIT secret.

use std::path::Path;

use fake_apiserver::FakeServer;
use serde_json::{Value, json};

pub fn docs(namespaces: usize, runners: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for n in 0..namespaces {
        let ns = format!("team-{n:03}");
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}));
    }
    for i in 0..runners {
        let ns = format!("team-{:03}", i % namespaces);
        let name = format!("rs-x7k2p-runner-{i:05}");
        out.push(json!({
            "apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
            "metadata": {
                "name": name, "namespace": ns,
                "labels": {"actions.github.com/scale-set-name": "rs", "actions.github.com/scale-set-namespace": ns},
                "finalizers": [
                    "ephemeralrunner.actions.github.com/runner-registration-finalizer",
                    "ephemeralrunner.actions.github.com/finalizer"
                ],
                "deletionTimestamp": "2026-07-01T10:00:00Z",
                "deletionGracePeriodSeconds": 0
            },
            "spec": {"githubConfigUrl": "https://github.com/example", "githubConfigSecret": "gh-pat"},
            "status": {"phase": "Running", "runnerId": 10_000 + i}
        }));
        out.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"actions-ephemeral-runner": "True"}},
            "spec": {"containers": [{"name": "runner", "image": "ghcr.io/actions/actions-runner:2.330.0"}]},
            "status": {"phase": "Running"}
        }));
        out.push(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": ns},
            "data": {"jitToken": "ZmFrZQ=="}
        }));
    }
    out
}

pub fn server(scenarios: &Path, namespaces: usize, runners: usize) -> fake_apiserver::Builder {
    FakeServer::builder()
        .fixture(scenarios.join("crds/gha-0.14.2.yaml"))
        .objects(docs(namespaces, runners))
}
