//! The ARC controller simulator on the B0/L0 scenario fixtures.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_apiserver::{ControllerSim, DeletedScaleSet, FakeServer, RemovedRunner};
use serde_json::{Value, json};

const GHA_V: &str = "actions.github.com/v1alpha1";
const R: &str = "arc-runners";
const C: &str = "arc-systems";
const ARS: &str = "arc-runner-set";
const L: &str = "arc-runner-set-85f786b5-listener";
const ERS: &str = "arc-runner-set-x7k2p";
const ER: &str = "arc-runner-set-x7k2p-runner-4fzq8";
const SECRET: &str = "arc-runner-set-gha-rs-github-secret";
const MANAGER: &str = "arc-runner-set-gha-rs-manager";
const NO_PERM: &str = "arc-runner-set-gha-rs-no-permission";
const ARS_PATH: &str =
    "/apis/actions.github.com/v1alpha1/namespaces/arc-runners/autoscalingrunnersets/arc-runner-set";

fn b0() -> FakeServer {
    FakeServer::builder()
        .fixture("../scenarios/B0")
        .start()
        .expect("B0 loads")
}

fn sim(server: &FakeServer) -> ControllerSim {
    ControllerSim::gha(server, C)
        .deployment("arc-gha-rs-controller")
        .start()
}

fn gha(server: &FakeServer, kind: &str, ns: &str, name: &str) -> Option<Value> {
    server.get_object(GHA_V, kind, Some(ns), name)
}

fn core(server: &FakeServer, kind: &str, ns: &str, name: &str) -> Option<Value> {
    server.get_object("v1", kind, Some(ns), name)
}

fn rbac(server: &FakeServer, kind: &str, ns: &str, name: &str) -> Option<Value> {
    server.get_object("rbac.authorization.k8s.io/v1", kind, Some(ns), name)
}

/// What `helm uninstall arc-runner-set` deletes at once.
fn helm_uninstall(c: &Client) {
    c.delete(ARS_PATH).expect(200);
    c.delete(&format!("/api/v1/namespaces/{R}/secrets/{SECRET}"))
        .expect(200);
    c.delete(&format!("/api/v1/namespaces/{R}/serviceaccounts/{NO_PERM}"))
        .expect(200);
    for kind in ["roles", "rolebindings"] {
        c.delete(&format!(
            "/apis/rbac.authorization.k8s.io/v1/namespaces/{R}/{kind}/{MANAGER}"
        ))
        .expect(200);
    }
}

#[test]
fn deletion_is_observable_stage_by_stage() {
    let server = b0();
    let sim = sim(&server);
    assert_eq!(
        sim.user().as_deref(),
        Some("system:serviceaccount:arc-systems:arc-gha-rs-controller")
    );
    // Nothing to do before the ARS is deleted.
    assert!(!sim.tick());
    let c = Client::new(&server);
    helm_uninstall(&c);
    let requests = server.requests().len();
    assert!(
        core(&server, "Secret", R, SECRET).expect("protected")["metadata"]["deletionTimestamp"]
            .is_string()
    );

    // 1: the listener and everything it owns is gone.
    assert!(sim.tick());
    assert!(gha(&server, "AutoscalingListener", C, L).is_none());
    assert!(core(&server, "Pod", C, L).is_none());
    assert!(core(&server, "ServiceAccount", C, L).is_none());
    assert!(core(&server, "Secret", C, &format!("{L}-config")).is_none());
    assert!(rbac(&server, "Role", R, L).is_none());
    assert!(rbac(&server, "RoleBinding", R, L).is_none());
    assert!(gha(&server, "EphemeralRunnerSet", R, ERS).is_some());
    assert!(gha(&server, "EphemeralRunner", R, ER).is_some());

    // 2: runners deregistered and deleted; the runner set is terminating.
    assert!(sim.tick());
    assert!(gha(&server, "EphemeralRunner", R, ER).is_none());
    assert!(core(&server, "Pod", R, ER).is_none());
    assert!(core(&server, "Secret", R, ER).is_none());
    let ers = gha(&server, "EphemeralRunnerSet", R, ERS).expect("still there");
    assert!(ers["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        sim.removed_runners(),
        vec![RemovedRunner {
            namespace: R.into(),
            name: ER.into(),
            runner_id: 1001
        }]
    );

    // 3: the runner set is gone.
    assert!(sim.tick());
    assert!(gha(&server, "EphemeralRunnerSet", R, ERS).is_none());
    let ars = gha(&server, "AutoscalingRunnerSet", R, ARS).expect("ars");
    assert_eq!(ars["metadata"]["annotations"]["runner-scale-set-id"], "42");
    assert!(sim.deleted_scale_sets().is_empty());

    // 4: the scale set is deleted on GitHub.
    assert!(sim.tick());
    let ars = gha(&server, "AutoscalingRunnerSet", R, ARS).expect("ars");
    assert!(
        ars["metadata"]["annotations"]
            .get("runner-scale-set-id")
            .is_none()
    );
    assert_eq!(
        sim.deleted_scale_sets(),
        vec![DeletedScaleSet {
            namespace: R.into(),
            name: ARS.into(),
            id: 42
        }]
    );
    assert!(core(&server, "Secret", R, SECRET).is_some());

    // 5: cleanup-protection released; Helm's pending deletes complete.
    assert!(sim.tick());
    assert!(core(&server, "Secret", R, SECRET).is_none());
    assert!(core(&server, "ServiceAccount", R, NO_PERM).is_none());
    assert!(rbac(&server, "Role", R, MANAGER).is_none());
    assert!(rbac(&server, "RoleBinding", R, MANAGER).is_none());
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_some());

    // 6: the ARS finalizer goes, then nothing is left to do.
    assert!(sim.tick());
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
    assert!(!sim.tick());
    // None of the simulator's writes is a request.
    assert_eq!(server.requests().len(), requests);
    let log = sim.log();
    assert!(
        log.iter()
            .any(|l| l.contains("Successfully removed finalizer after cleanup")),
        "{log:#?}"
    );
    assert!(!log.iter().any(|l| l.starts_with("ERROR")), "{log:#?}");
}

#[test]
fn a_directly_deleted_ars_leaves_unprotected_chart_objects() {
    let server = b0();
    let sim = sim(&server);
    Client::new(&server).delete(ARS_PATH).expect(200);
    assert_eq!(sim.settle(20), 6);
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
    for obj in [
        core(&server, "Secret", R, SECRET),
        core(&server, "ServiceAccount", R, NO_PERM),
        rbac(&server, "Role", R, MANAGER),
        rbac(&server, "RoleBinding", R, MANAGER),
    ] {
        let obj = obj.expect("kept");
        assert!(obj["metadata"].get("finalizers").is_none(), "{obj}");
        assert!(obj["metadata"].get("deletionTimestamp").is_none());
    }
}

#[test]
fn a_busy_runner_holds_the_runner_set_until_its_job_ends() {
    let server = b0();
    let sim = sim(&server);
    server
        .update_object(GHA_V, "EphemeralRunner", Some(R), ER, |er| {
            er["status"]["jobId"] = json!("8812");
        })
        .expect("job assigned");
    helm_uninstall(&Client::new(&server));
    sim.settle(20);
    let er = gha(&server, "EphemeralRunner", R, ER).expect("busy runner stays");
    assert!(er["metadata"].get("deletionTimestamp").is_none());
    assert!(gha(&server, "AutoscalingListener", C, L).is_none());
    assert!(
        gha(&server, "EphemeralRunnerSet", R, ERS).expect("ers")["metadata"]["deletionTimestamp"]
            .is_string()
    );
    assert!(
        sim.log()
            .iter()
            .any(|l| l.contains("Skipping ephemeral runner since it is running a job"))
    );
    assert!(sim.removed_runners().is_empty());

    sim.finish_job(R, ER).expect("job ends");
    assert_eq!(
        core(&server, "Pod", R, ER).expect("pod")["status"]["phase"],
        "Succeeded"
    );
    sim.settle(20);
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
    assert!(gha(&server, "EphemeralRunner", R, ER).is_none());
    assert_eq!(sim.removed_runners().len(), 1);
    assert!(sim.finish_job(R, "nope").is_err());
}

#[test]
fn a_missing_github_secret_blocks_deregistration() {
    let server = b0();
    let sim = sim(&server);
    server
        .update_object("v1", "Secret", Some(R), SECRET, |s| {
            s["metadata"]["finalizers"] = json!([]);
        })
        .expect("unprotected");
    server
        .delete_object("v1", "Secret", Some(R), SECRET)
        .expect("deleted");
    Client::new(&server).delete(ARS_PATH).expect(200);
    sim.settle(20);
    // The listener went (no GitHub needed); the runners cannot be removed.
    assert!(gha(&server, "AutoscalingListener", C, L).is_none());
    assert!(gha(&server, "EphemeralRunner", R, ER).is_some());
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_some());
    let expected =
        format!("failed to resolve app config: failed to get kubernetes secret: \"{R}/{SECRET}\"");
    assert!(
        sim.log().iter().any(|l| l.contains(&expected)),
        "{:#?}",
        sim.log()
    );
    // An invalid secret is no better.
    server
        .create_object(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": R, "name": SECRET}, "data": {"other": "eA=="}}))
        .expect("recreated");
    sim.settle(5);
    assert!(gha(&server, "EphemeralRunner", R, ER).is_some());
    assert!(
        sim.log()
            .iter()
            .any(|l| l.contains("no credentials provided"))
    );
    // Unreachable GitHub blocks too.
    server
        .update_object("v1", "Secret", Some(R), SECRET, |s| {
            s["data"] = json!({"github_token": "eA=="});
        })
        .expect("fixed");
    sim.set_github_reachable(false);
    sim.settle(5);
    assert!(gha(&server, "EphemeralRunner", R, ER).is_some());
    sim.set_github_reachable(true);
    sim.settle(20);
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
    assert_eq!(sim.deleted_scale_sets().len(), 1);
}

#[test]
fn rbac_of_the_controller_service_account_is_honoured() {
    let server = b0();
    let sim = sim(&server);
    // The manager RoleBinding names a service account that does not exist
    // (the controller "moved"): nothing in arc-runners may be touched.
    let c = Client::new(&server);
    let rb = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{R}/rolebindings/{MANAGER}");
    c.patch(
        &rb,
        "application/strategic-merge-patch+json",
        &json!({"subjects": [{"kind": "ServiceAccount", "name": "arc-gha-rs-controller", "namespace": "arc-controller"}]}),
    )
    .expect(200);
    c.delete(ARS_PATH).expect(200);
    sim.settle(20);
    // The listener was deleted (cluster-wide rights) but its Role/RoleBinding
    // in arc-runners cannot be, so it hangs.
    let al = gha(&server, "AutoscalingListener", C, L).expect("stuck listener");
    assert!(al["metadata"]["deletionTimestamp"].is_string());
    assert!(rbac(&server, "RoleBinding", R, L).is_some());
    let log = sim.log();
    assert!(
        log.iter().any(|l| l.contains(&format!(
            "rolebindings.rbac.authorization.k8s.io \"{L}\" is forbidden: User \"system:serviceaccount:arc-systems:arc-gha-rs-controller\" cannot delete resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"arc-runners\""
        ))),
        "{log:#?}"
    );
    // Repairing the subject lets the controller finish by itself.
    c.patch(
        &rb,
        "application/json-patch+json",
        &json!([{"op": "replace", "path": "/subjects/0/namespace", "value": C}]),
    )
    .expect(200);
    sim.settle(20);
    assert!(gha(&server, "AutoscalingListener", C, L).is_none());
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
}

#[test]
fn a_dead_or_paused_controller_does_nothing() {
    let server = b0();
    let sim = sim(&server);
    Client::new(&server).delete(ARS_PATH).expect(200);
    sim.pause();
    assert!(sim.is_alive() && sim.is_paused());
    assert!(!sim.tick());
    sim.stop();
    assert!(!sim.is_alive());
    let d = server
        .get_object("apps/v1", "Deployment", Some(C), "arc-gha-rs-controller")
        .expect("deployment");
    assert_eq!(d["status"]["availableReplicas"], 0);
    assert_eq!(d["status"]["readyReplicas"], 0);
    assert_eq!(d["status"]["unavailableReplicas"], 1);
    assert_eq!(sim.settle(10), 0);
    assert!(gha(&server, "AutoscalingListener", C, L).is_some());
    assert_eq!(sim.ticks(), 0);
    sim.resume();
    let d = server
        .get_object("apps/v1", "Deployment", Some(C), "arc-gha-rs-controller")
        .expect("deployment");
    assert_eq!(d["status"]["availableReplicas"], 1);
    assert!(d["status"].get("unavailableReplicas").is_none());
    sim.settle(20);
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
}

#[test]
fn scale_sets_outside_the_scope_are_ignored() {
    let server = b0();
    let sim = ControllerSim::gha(&server, C)
        .watch_single_namespace("team-a")
        .start();
    assert_eq!(sim.user(), None);
    Client::new(&server).delete(ARS_PATH).expect(200);
    assert_eq!(sim.settle(10), 0);
    assert!(gha(&server, "AutoscalingListener", C, L).is_some());
    let in_scope = ControllerSim::gha(&server, C)
        .watch_single_namespace(R)
        .start();
    in_scope.settle(20);
    assert!(gha(&server, "AutoscalingRunnerSet", R, ARS).is_none());
}

#[test]
fn a_listener_in_another_namespace_is_not_this_controllers() {
    let server = b0();
    // A controller in arc-controller looks for its listener there only.
    let sim = ControllerSim::gha(&server, "arc-controller").start();
    Client::new(&server).delete(ARS_PATH).expect(200);
    sim.tick();
    let al = gha(&server, "AutoscalingListener", C, L).expect("untouched");
    assert!(al["metadata"].get("deletionTimestamp").is_none());
    // It went straight on to the runner set.
    assert!(
        gha(&server, "EphemeralRunnerSet", R, ERS).expect("ers")["metadata"]["deletionTimestamp"]
            .is_string()
    );
}

#[test]
fn background_ticks_finish_the_deletion_and_stop_on_drop() {
    let server = b0();
    let sim = ControllerSim::gha(&server, C)
        .deployment("arc-gha-rs-controller")
        .tick_every(Duration::from_millis(5))
        .start();
    Client::new(&server).delete(ARS_PATH).expect(200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gha(&server, "AutoscalingRunnerSet", R, ARS).is_some() {
        assert!(Instant::now() < deadline, "{:#?}", sim.log());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(sim.ticks() >= 6);
    drop(sim);
}

#[test]
fn legacy_runners_and_pods_are_released_when_alive() {
    let server = FakeServer::builder()
        .fixture("../scenarios/L0")
        .start()
        .expect("L0 loads");
    let legacy_v = "actions.summerwind.dev/v1alpha1";
    let sim = ControllerSim::legacy(&server, "actions-runner-system")
        .deployment("actions-runner-controller")
        .start();
    let runner = "example-rd-abcde-fghij";
    sim.mark_busy("ci", runner);
    Client::new(&server)
        .delete("/apis/actions.summerwind.dev/v1alpha1/namespaces/ci/runnerdeployments/example-rd")
        .expect(200);
    // GC: the replica set is gone, the runner is terminating.
    assert!(
        server
            .get_object(legacy_v, "RunnerReplicaSet", Some("ci"), "example-rd-abcde")
            .is_none()
    );
    assert!(
        server
            .get_object(legacy_v, "Runner", Some("ci"), runner)
            .expect("runner")["metadata"]["deletionTimestamp"]
            .is_string()
    );
    // The runner goes first, its (busy) pod waits for the job.
    assert!(sim.tick());
    assert!(
        server
            .get_object(legacy_v, "Runner", Some("ci"), runner)
            .is_none()
    );
    let pod = core(&server, "Pod", "ci", runner).expect("pod");
    assert!(pod["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(sim.settle(5), 0);
    assert!(core(&server, "Pod", "ci", runner).is_some());
    sim.finish_job("ci", runner).expect("idle");
    assert!(sim.tick());
    assert!(core(&server, "Pod", "ci", runner).is_none());
    assert_eq!(
        sim.removed_runners(),
        vec![RemovedRunner {
            namespace: "ci".into(),
            name: runner.into(),
            runner_id: 77
        }]
    );
}
