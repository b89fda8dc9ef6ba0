//! `kubectl arc drain <ns>` end to end against the fake API server, with the controller's side
//! played by `fake_apiserver::ControllerSim` (alive, paused or absent).

mod common;

use std::time::Duration;

use common::{TestCluster, stderr};
use fake_apiserver::ControllerSim;
use serde_json::Value;

const GHA: &str = "actions.github.com/v1alpha1";

fn drain(c: &TestCluster, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["drain", "-o", "json", "--poll-interval", "100ms"];
    all.extend_from_slice(args);
    let backup = c.dir.path().join("backup").display().to_string();
    all.extend(["--backup-dir", &backup]);
    let out = c.run(&all);
    let err = stderr(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "drain -o json: {e}\nstdout: {}\nstderr: {err}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap_or(-1), v, err)
}

fn live(c: &TestCluster) -> ControllerSim {
    ControllerSim::gha(&c.server, "arc-systems")
        .deployment("arc-gha-rs-controller")
        .tick_every(Duration::from_millis(40))
        .start()
}

fn stages(v: &Value) -> Vec<String> {
    v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| s["stage"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn healthy_drain_follows_the_controller_stage_by_stage() {
    let c = TestCluster::scenario("B0");
    let sim = live(&c);
    let (code, v, err) = drain(&c, &["arc-runners", "--yes", "--timeout", "60s"]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert_eq!(
        stages(&v),
        [
            "listenerGone",
            "runnersZero",
            "runnerSetGone",
            "scaleSetGone",
            "released"
        ],
        "{v}"
    );
    // Progress on stderr, in order.
    let order = [
        "listener gone",
        "runners 0",
        "runner set gone",
        "scale set gone",
        "cleanup-protection released",
    ];
    let mut at = 0;
    for want in order {
        let pos = err[at..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing or out of order in:\n{err}"));
        at += pos;
    }
    assert!(
        v["result"]
            .as_str()
            .unwrap_or("")
            .contains("safe to delete namespace arc-runners"),
        "{v}"
    );
    assert!(v["leftovers"].as_array().expect("leftovers").is_empty());
    assert!(
        c.server
            .list_objects(GHA, "AutoscalingRunnerSet")
            .is_empty()
    );
    assert!(c.server.list_objects(GHA, "AutoscalingListener").is_empty());
    // The controller (not the tool) deleted the scale set on GitHub and deregistered the runner.
    assert_eq!(sim.deleted_scale_sets().len(), 1);
    // The tool itself only deleted the scale set.
    let w = c.writes();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].method, "DELETE");
    assert!(w[0].path.ends_with("/autoscalingrunnersets/arc-runner-set"));
}

#[test]
fn dry_run_sends_no_write() {
    let c = TestCluster::scenario("B0");
    let (code, v, err) = drain(&c, &["arc-runners", "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["actions"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(c.writes().is_empty(), "{:?}", c.writes());
}

#[test]
fn without_a_controller_drain_refuses_and_force_cleans_up() {
    let c = TestCluster::scenario("S3");
    let (code, v, _) = drain(&c, &["arc-runners", "--yes"]);
    assert_eq!(code, 1);
    assert!(
        v["preflight"]
            .as_array()
            .expect("preflight")
            .iter()
            .any(|p| p["ok"] == false)
    );
    assert!(v["result"].as_str().unwrap_or("").contains("--force"));
    assert!(
        c.writes().is_empty(),
        "refused drain wrote: {:?}",
        c.writes()
    );
    let (code, v, err) = drain(&c, &["arc-runners", "--force", "--yes"]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert!(
        v["result"]
            .as_str()
            .unwrap_or("")
            .contains("safe to delete namespace arc-runners")
    );
    assert!(v["leftovers"].as_array().expect("leftovers").is_empty());
    // What the controller would have cleaned on GitHub is reported.
    let leaks = v["githubLeftovers"].as_array().expect("githubLeftovers");
    assert!(
        leaks
            .iter()
            .any(|l| l["kind"] == "scaleSet" && l["id"] == "42"),
        "{leaks:?}"
    );
    assert!(leaks.iter().any(|l| l["kind"] == "runner"), "{leaks:?}");
    assert!(c.server.list_objects(GHA, "AutoscalingListener").is_empty());
}

#[test]
fn a_controller_that_does_not_progress_times_out_then_force_finishes() {
    let c = TestCluster::scenario("B0");
    let sim = live(&c);
    sim.pause();
    let (code, v, err) = drain(&c, &["arc-runners", "--yes", "--timeout", "1s"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        v["result"].as_str().unwrap_or("").contains("timed out"),
        "{v}"
    );
    assert!(
        v["result"].as_str().unwrap_or("").contains("--force"),
        "{v}"
    );
    let (code, v, err) = drain(&c, &["arc-runners", "--force", "--yes"]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert!(
        c.server
            .list_objects(GHA, "AutoscalingRunnerSet")
            .is_empty()
    );
    assert!(c.server.list_objects(GHA, "EphemeralRunner").is_empty());
}

#[test]
fn a_busy_runner_is_waited_for_and_reported_on_timeout() {
    let c = TestCluster::scenario("S9");
    let sim = live(&c);
    let (code, v, err) = drain(&c, &["arc-runners", "--yes", "--timeout", "1s"]);
    assert_eq!(code, 1, "{err}");
    let waiting: Vec<String> = v["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .flat_map(|s| s["waitingFor"].as_array().cloned().unwrap_or_default())
        .filter_map(|w| w.as_str().map(str::to_owned))
        .collect();
    assert!(waiting.iter().any(|w| w.contains("job 8812")), "{v}");
    assert!(
        v["preflight"]
            .as_array()
            .expect("preflight")
            .iter()
            .any(|p| p["code"] == "DRAIN-RUNNING-JOB")
    );
    // The job ends: the controller finishes and drain succeeds.
    let er = c.server.list_objects(GHA, "EphemeralRunner")[0]["metadata"]["name"]
        .as_str()
        .expect("er")
        .to_owned();
    sim.finish_job("arc-runners", &er).expect("job finishes");
    let (code, v, err) = drain(&c, &["arc-runners", "--yes", "--timeout", "60s"]);
    assert_eq!(code, 0, "{err}\n{v}");
}

#[test]
fn the_controller_namespace_is_refused_until_its_runner_namespaces_are_drained() {
    let c = TestCluster::scenario("B0");
    let _sim = live(&c);
    let (code, v, _) = drain(&c, &["arc-systems"]);
    assert_eq!(code, 1);
    let msgs: String = v["preflight"]
        .as_array()
        .expect("preflight")
        .iter()
        .map(|p| p["message"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(msgs.contains("arc-runners"), "{v}");
    assert!(c.writes().is_empty());
    let (code, _, err) = drain(&c, &["arc-runners", "--yes", "--timeout", "60s"]);
    assert_eq!(code, 0, "{err}");
    let (code, v, err) = drain(&c, &["arc-systems"]);
    assert_eq!(code, 0, "{err}\n{v}");
    let removes = v["uninstallRemoves"].as_array().expect("removes");
    assert!(
        removes
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("helm uninstall")),
        "{v}"
    );
    let leaves = v["uninstallLeaves"].as_array().expect("leaves");
    assert!(
        leaves
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("Lease"))
    );
    assert!(
        leaves
            .iter()
            .any(|r| r.as_str().unwrap_or("").contains("CRDs"))
    );
}

#[test]
fn a_shared_scale_set_id_is_refused_and_force_only_touches_the_stale_side() {
    let c = TestCluster::scenario("S2");
    let (code, v, _) = drain(&c, &["arc-runners", "--yes"]);
    assert_eq!(code, 1);
    assert!(
        v["preflight"]
            .as_array()
            .expect("preflight")
            .iter()
            .any(|p| p["code"] == "ARC-SCALESET-ID-SHARED")
    );
    assert!(c.writes().is_empty());
    let (code, v, err) = drain(&c, &["arc-runners", "--force", "--yes"]);
    assert_eq!(code, 0, "{err}\n{v}");
    let w = c.writes();
    // The live side is never touched.
    assert!(
        !w.iter().any(|r| r.path.contains("/namespaces/ci-runners/")),
        "{w:?}"
    );
    let keeper = c
        .server
        .get_object(
            GHA,
            "AutoscalingRunnerSet",
            Some("ci-runners"),
            "arc-runner-set",
        )
        .expect("live ARS");
    assert_eq!(
        keeper["metadata"]["annotations"]["runner-scale-set-id"],
        "42"
    );
    // The stale side lost its ID before anything else was written.
    let first = w.first().expect("writes");
    assert_eq!(first.method, "PATCH");
    assert!(
        first
            .path
            .ends_with("/namespaces/arc-runners/autoscalingrunnersets/arc-runner-set"),
        "{first:?}"
    );
    assert!(
        first
            .body
            .as_deref()
            .unwrap_or("")
            .contains("runner-scale-set-id"),
        "{first:?}"
    );
    assert!(
        c.server
            .get_object(
                GHA,
                "AutoscalingRunnerSet",
                Some("arc-runners"),
                "arc-runner-set"
            )
            .is_none()
    );
}

#[test]
fn legacy_namespace_with_dangling_webhooks() {
    let c = TestCluster::scenario("S14");
    let (code, v, _) = drain(&c, &["ci", "--yes"]);
    assert_eq!(code, 1, "{v}");
    assert!(c.writes().is_empty());
    let (code, v, err) = drain(&c, &["ci", "--force", "--yes"]);
    assert_eq!(code, 0, "{err}\n{v}");
    let w = c.writes();
    let first_runner = w
        .iter()
        .position(|r| r.path.contains("/runners/"))
        .expect("runner write");
    let hooks: Vec<usize> = w
        .iter()
        .enumerate()
        .filter(|(_, r)| r.path.contains("webhookconfigurations"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hooks.len(), 2, "{w:?}");
    assert!(
        hooks.iter().all(|h| *h < first_runner),
        "webhooks go before any Runner write"
    );
    assert!(
        c.server
            .list_objects("actions.summerwind.dev/v1alpha1", "Runner")
            .is_empty()
    );
}

#[test]
fn unknown_and_empty_namespaces() {
    let c = TestCluster::scenario("B0");
    let out = c.run(&["drain", "no-such-namespace"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.starts_with("error: namespace no-such-namespace does not exist"),
        "{e}"
    );
    assert!(e.lines().count() <= 2);
    let (code, v, _) = drain(&c, &["kube-system"]);
    assert_eq!(code, 0);
    assert!(
        v["result"]
            .as_str()
            .unwrap_or("")
            .contains("nothing to drain")
    );
    assert!(c.writes().is_empty());
}

#[test]
fn a_namespace_only_user_is_refused_with_what_could_not_be_checked() {
    let c = TestCluster::scenario("N1");
    let (code, v, err) = drain(&c, &["arc-runners", "--context", "team-dev", "--yes"]);
    assert_eq!(code, 1, "{err}\n{v}");
    assert!(
        v["preflight"]
            .as_array()
            .expect("preflight")
            .iter()
            .any(|p| p["ok"] == false),
        "{v}"
    );
    assert!(c.writes().is_empty());
}

#[test]
fn the_seed_incident_is_recovered_when_the_old_namespace_is_already_gone() {
    // S12: arc-systems was forced through /finalize; its stale listener is stranded in storage.
    let c = TestCluster::scenario("S12");
    let (code, _, _) = drain(&c, &["arc-systems", "--yes"]);
    assert_eq!(
        code, 1,
        "without --force the stranded listener refuses the drain"
    );
    assert!(c.writes().is_empty());
    let (code, v, err) = drain(&c, &["arc-systems", "--force", "--yes"]);
    assert_eq!(code, 0, "{err}\n{v}");
    assert!(
        c.server
            .get_object(
                GHA,
                "AutoscalingListener",
                Some("arc-systems"),
                "arc-runner-set-85f786b5-listener"
            )
            .is_none()
    );
    // The namespace was recreated only for the repair and is gone again.
    assert!(
        c.server
            .get_object("v1", "Namespace", None, "arc-systems")
            .is_none()
    );
    let w = c.writes();
    assert!(
        w.iter()
            .any(|r| r.method == "POST" && r.path == "/api/v1/namespaces"),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|r| r.method == "DELETE" && r.path == "/api/v1/namespaces/arc-systems"),
        "{w:?}"
    );
}
