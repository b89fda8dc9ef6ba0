//! `cargo bench --bench orphans_scale [-- <runners> <namespaces>]`
//!
//! Wall time and API requests of `kubectl-arc orphans --fix --yes --include-confirm` against the
//! fake API server holding N stranded EphemeralRunners (deleting, both finalizers, no controller)
//! with their pods and JIT secrets, spread over M namespaces (default 1,000 over 100). A fresh
//! cluster per run; median of 3. Targets belong here, not in timed tests.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/stranded.rs"]
mod stranded;

use std::time::{Duration, Instant};

use common::{TestCluster, scenarios_dir};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let runners = args.first().copied().unwrap_or(1_000);
    let namespaces = args.get(1).copied().unwrap_or(100);
    const RUNS: usize = 3;
    let mut times: Vec<Duration> = Vec::new();
    let mut requests = 0;
    for _ in 0..RUNS {
        let c = TestCluster::from_builder(stranded::server(&scenarios_dir(), namespaces, runners));
        let backup = c.dir.path().join("backup").display().to_string();
        c.server.clear_requests();
        let start = Instant::now();
        let out = c.run(&[
            "orphans",
            "--fix",
            "--yes",
            "--include-confirm",
            "-o",
            "json",
            "--backup-dir",
            &backup,
        ]);
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
        "orphans --fix: {runners} stranded runners in {namespaces} namespaces ({} objects changed): \
         {requests} requests ({:.2} per object), median {:.2?}, max {:.2?}",
        runners * 3,
        requests as f64 / (runners * 3) as f64,
        times[RUNS / 2],
        times[RUNS - 1]
    );
}
