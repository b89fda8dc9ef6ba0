//! `cargo bench --bench doctor_scale [-- <namespaces>...]`
//!
//! Wall time and API request count of `kubectl-arc doctor` against the fake API server holding
//! the B0 install plus N synthetic namespaces (each with a ServiceAccount and a ConfigMap, as real
//! namespaces have). Targets belong here, not in timed tests.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{TestCluster, scenarios_dir};
use fake_apiserver::FakeServer;
use serde_json::json;

fn cluster(n: usize) -> TestCluster {
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

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect::<Vec<_>>();
    let sizes = if sizes.is_empty() {
        vec![10, 1_000, 5_000]
    } else {
        sizes
    };
    const RUNS: usize = 5;
    println!(
        "{:>10} {:>10} {:>12} {:>12}",
        "namespaces", "requests", "median", "max"
    );
    for n in sizes {
        let c = cluster(n);
        let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
        let mut requests = 0;
        for _ in 0..RUNS {
            c.server.clear_requests();
            let start = Instant::now();
            let out = c.run(&["doctor", "-o", "json"]);
            times.push(start.elapsed());
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            requests = c.server.requests().len();
        }
        times.sort();
        println!(
            "{n:>10} {requests:>10} {:>10.0}ms {:>10.0}ms",
            times[RUNS / 2].as_secs_f64() * 1e3,
            times[RUNS - 1].as_secs_f64() * 1e3
        );
    }
}
