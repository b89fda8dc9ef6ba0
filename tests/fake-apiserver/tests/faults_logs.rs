//! Fault injection, the request log, pod logs, the clock.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fake_apiserver::{Fault, FaultAction};
use serde_json::json;

#[test]
fn status_fault_with_retry_after_counts_down() {
    let server = start(vec![ns("arc")]);
    server.add_fault(Fault::too_many_requests("^/api/v1/namespaces$", 3).times(2));
    let c = Client::new(&server);
    for _ in 0..2 {
        let r = c.get("/api/v1/namespaces");
        assert_eq!(r.header("retry-after").as_deref(), Some("3"));
        let b = r.expect(429);
        assert_eq!(b["reason"], "TooManyRequests");
        assert_eq!(b["details"]["retryAfterSeconds"], 3);
    }
    c.get("/api/v1/namespaces").expect(200);
    // Other paths are never affected.
    server.add_fault(Fault::status("secrets", 500).method("POST"));
    c.get("/api/v1/namespaces/arc/secrets").expect(200);
    let b = c
        .post("/api/v1/namespaces/arc/secrets", &secret("arc", "s"))
        .expect(500);
    assert_eq!(b["reason"], "InternalError");
    assert!(
        server
            .get_object("v1", "Secret", Some("arc"), "s")
            .is_none()
    );
    server.clear_faults();
    c.post("/api/v1/namespaces/arc/secrets", &secret("arc", "s"))
        .expect(201);
}

#[test]
fn custom_status_fault() {
    let server = start(vec![]);
    server.add_fault(Fault {
        method: Some("GET".into()),
        path_regex: "/version".into(),
        query_contains: None,
        action: FaultAction::Status {
            code: 503,
            reason: "ServiceUnavailable".into(),
            message: "etcd is sad".into(),
            retry_after_seconds: None,
        },
        times: Some(1),
    });
    let c = Client::new(&server);
    let b = c.get("/version").expect(503);
    assert_eq!(b["message"], "etcd is sad");
    c.get("/version").expect(200);
}

#[test]
fn latency_then_normal_handling() {
    let server = start(vec![ns("arc")]);
    server.add_fault(Fault::latency("/namespaces/arc$", Duration::from_millis(300)).times(1));
    let c = Client::new(&server);
    let t = Instant::now();
    c.get("/api/v1/namespaces/arc").expect(200);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let t = Instant::now();
    c.get("/api/v1/namespaces/arc").expect(200);
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[test]
fn drop_closes_the_connection() {
    let server = start(vec![ns("arc")]);
    server.add_fault(Fault::drop_connection("/namespaces/arc$").times(1));
    let c = Client::new(&server);
    let r = c.try_request("GET", "/api/v1/namespaces/arc", None, None, &[]);
    assert!(r.is_err(), "expected a dropped connection, got {r:?}");
    c.get("/api/v1/namespaces/arc").expect(200);
    let recs = server.requests();
    assert_eq!(recs[0].status, 0);
    assert_eq!(recs[1].status, 200);
}

#[test]
fn fault_fixture_documents() {
    let server = start(vec![
        json!({"apiVersion": FAKE, "kind": "Fault", "spec": {"pathRegex": "/pods", "queryContains": "limit=", "status": 429, "retryAfterSeconds": 2, "times": 1}}),
    ]);
    let c = Client::new(&server);
    c.get("/api/v1/pods").expect(200);
    let r = c.get("/api/v1/pods?limit=5");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after").as_deref(), Some("2"));
    c.get("/api/v1/pods?limit=5").expect(200);
}

#[test]
fn request_log_records_everything() {
    let server = start(vec![user("alice", &[])]);
    let c = Client::new(&server);
    c.get_accept(
        "/api/v1/namespaces",
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    );
    Client::as_user(&server, "alice").get("/api/v1/secrets");
    Client::with_token(&server, None).get("/api");
    c.merge_patch(
        "/api/v1/namespaces/default",
        &json!({"metadata": {"labels": {"a": "b"}}}),
    );
    let recs = server.requests();
    assert_eq!(recs.len(), 4);
    assert_eq!(
        recs[0].accept.as_deref(),
        Some("application/json;as=Table;v=v1;g=meta.k8s.io")
    );
    assert_eq!(
        (
            recs[0].method.as_str(),
            recs[0].status,
            recs[0].user.as_str()
        ),
        ("GET", 200, "admin")
    );
    assert_eq!((recs[1].status, recs[1].user.as_str()), (403, "alice"));
    assert_eq!(
        (
            recs[2].status,
            recs[2].user.as_str(),
            recs[2].authenticated_user.as_str()
        ),
        (401, "", "")
    );
    assert_eq!(
        recs[3].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[test]
fn pod_logs() {
    let pod = |name: &str, containers: &[&str]| {
        let cs: Vec<_> = containers
            .iter()
            .map(|c| json!({"name": c, "image": "i"}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "arc", "name": name}, "spec": {"containers": cs}})
    };
    let server = start(vec![
        ns("arc"),
        pod("one", &["runner"]),
        pod("two", &["manager", "proxy"]),
        json!({"apiVersion": FAKE, "kind": "PodLog", "spec": {"namespace": "arc", "pod": "one", "text": "a\nb\nc\n"}}),
        json!({"apiVersion": FAKE, "kind": "PodLog", "spec": {"namespace": "arc", "pod": "two", "container": "manager", "text": "Failed to find AutoscalingRunnerSet.\n"}}),
        json!({"apiVersion": FAKE, "kind": "PodLog", "spec": {"namespace": "arc", "pod": "one", "previous": true, "text": "crashed\n"}}),
    ]);
    let c = Client::new(&server);
    let r = c.get("/api/v1/namespaces/arc/pods/one/log");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    assert_eq!(r.text(), "a\nb\nc\n");
    assert_eq!(
        c.get("/api/v1/namespaces/arc/pods/one/log?tailLines=2")
            .text(),
        "b\nc\n"
    );
    assert_eq!(
        c.get("/api/v1/namespaces/arc/pods/one/log?previous=true")
            .text(),
        "crashed\n"
    );
    let b = c.get("/api/v1/namespaces/arc/pods/two/log").expect(400);
    assert_eq!(
        b["message"],
        "a container name must be specified for pod two, choose one of: [manager proxy]"
    );
    assert_eq!(
        c.get("/api/v1/namespaces/arc/pods/two/log?container=manager")
            .text(),
        "Failed to find AutoscalingRunnerSet.\n"
    );
    assert_eq!(
        c.get("/api/v1/namespaces/arc/pods/two/log?container=proxy")
            .text(),
        ""
    );
    assert_eq!(
        c.get("/api/v1/namespaces/arc/pods/two/log?container=nope")
            .status,
        400
    );
    let b = c.get("/api/v1/namespaces/arc/pods/missing/log").expect(404);
    assert_eq!(b["message"], "pods \"missing\" not found");
    assert_eq!(
        c.get("/api/v1/namespaces/arc/pods/two/log?container=proxy&previous=true")
            .status,
        400
    );
}

#[test]
fn clock_controls_timestamps_and_load_bypasses_admission() {
    let server = start(vec![clock("2030-01-01T00:00:00Z")]);
    let c = Client::new(&server);
    c.post("/api/v1/namespaces", &ns("a")).expect(201);
    server.clock().advance(Duration::from_secs(3600));
    let b = c.post("/api/v1/namespaces", &ns("b")).expect(201);
    assert_eq!(b["metadata"]["creationTimestamp"], "2030-01-01T01:00:00Z");
    server
        .clock()
        .set("2031-01-01T00:00:00Z".parse().expect("ts"));
    assert_eq!(server.clock().now().to_string(), "2031-01-01T00:00:00Z");
    // load(): into a namespace that does not exist (a stranded object).
    server.load(configmap("ghost-ns", "c")).expect("loads");
    let got = c
        .get("/api/v1/namespaces/ghost-ns/configmaps/c")
        .expect(200);
    assert_eq!(got["metadata"]["creationTimestamp"], "2031-01-01T00:00:00Z");
    assert_eq!(
        c.merge_patch(
            "/api/v1/namespaces/ghost-ns/configmaps/c",
            &json!({"data": {"x": "y"}})
        )
        .status,
        404
    );
    assert!(server.load(json!({"kind": "ConfigMap"})).is_err());
}
