//! Lists: selectors, pagination, expiry, metadata-only and table answers.

mod common;

use std::time::Duration;

use common::*;
use fake_apiserver::Fault;
use serde_json::{Value, json};

fn labelled(namespace: &str, name: &str, labels: Value) -> Value {
    let mut cm = configmap(namespace, name);
    cm["metadata"]["labels"] = labels;
    cm
}

fn fixture() -> Vec<Value> {
    vec![
        ns("a"),
        ns("a-b"),
        ns("b"),
        labelled("a", "web", json!({"app": "web", "tier": "front"})),
        labelled("a", "api", json!({"app": "api", "tier": "back"})),
        labelled("a", "db", json!({"app": "db"})),
        labelled("a-b", "x", json!({"app": "web"})),
        labelled("b", "y", json!({"app": "api", "legacy": "true"})),
    ]
}

#[test]
fn lists_are_typed_and_in_storage_order() {
    let server = start(fixture());
    let c = Client::new(&server);
    let l = c.get("/api/v1/configmaps").expect(200);
    assert_eq!(l["kind"], "ConfigMapList");
    assert_eq!(l["apiVersion"], "v1");
    assert!(l["metadata"]["resourceVersion"].is_string());
    assert!(l["metadata"].get("continue").is_none());
    // etcd key order: "a-b/…" sorts before "a/…".
    assert_eq!(names(&l), vec!["x", "api", "db", "web", "y"]);
    // Items of typed lists carry no apiVersion/kind, like the real server.
    assert!(l["items"][0].get("kind").is_none());
    let l = c.get("/api/v1/namespaces/a/configmaps").expect(200);
    assert_eq!(names(&l), vec!["api", "db", "web"]);
    // A namespace without objects (or that does not exist) lists empty.
    assert_eq!(
        names(&c.get("/api/v1/namespaces/zzz/configmaps").expect(200)),
        Vec::<String>::new()
    );
}

#[test]
fn label_and_field_selectors() {
    let server = start(fixture());
    let c = Client::new(&server);
    let sel = |q: &str| names(&c.get(&format!("/api/v1/configmaps?{q}")).expect(200));
    assert_eq!(sel("labelSelector=app%3Dweb"), vec!["x", "web"]);
    assert_eq!(sel("labelSelector=app%3D%3Dweb"), vec!["x", "web"]);
    assert_eq!(sel("labelSelector=app!%3Dweb"), vec!["api", "db", "y"]);
    assert_eq!(
        sel("labelSelector=app%20in%20(api%2Cdb)"),
        vec!["api", "db", "y"]
    );
    assert_eq!(
        sel("labelSelector=app%20notin%20(api%2Cdb)"),
        vec!["x", "web"]
    );
    assert_eq!(sel("labelSelector=tier"), vec!["api", "web"]);
    assert_eq!(sel("labelSelector=!tier"), vec!["x", "db", "y"]);
    assert_eq!(sel("labelSelector=app%3Dapi%2C!legacy"), vec!["api"]);
    assert_eq!(sel("fieldSelector=metadata.name%3Dweb"), vec!["web"]);
    assert_eq!(
        sel("fieldSelector=metadata.namespace%3Da%2Cmetadata.name!%3Dweb"),
        vec!["api", "db"]
    );
    assert_eq!(sel("fieldSelector=metadata.namespace%3D%3Db"), vec!["y"]);
    let b = c
        .get("/api/v1/configmaps?fieldSelector=data.k%3Dv")
        .expect(400);
    assert_eq!(b["message"], "field label not supported: data.k");
    assert_eq!(c.get("/api/v1/configmaps?labelSelector=%3Dx").status, 400);
}

#[test]
fn pagination_with_continue_and_expiry() {
    let mut docs = fixture();
    docs.push(clock("2024-01-01T00:00:00Z"));
    let server = start(docs);
    let c = Client::new(&server);
    let p1 = c.get("/api/v1/configmaps?limit=2").expect(200);
    assert_eq!(names(&p1), vec!["x", "api"]);
    assert_eq!(p1["metadata"]["remainingItemCount"], 3);
    let rv = p1["metadata"]["resourceVersion"].clone();
    let tok = p1["metadata"]["continue"]
        .as_str()
        .expect("continue token")
        .to_string();
    // A write between pages does not change the list's resourceVersion.
    c.post("/api/v1/namespaces/b/configmaps", &configmap("b", "z"))
        .expect(201);
    let p2 = c
        .get(&format!("/api/v1/configmaps?limit=2&continue={tok}"))
        .expect(200);
    assert_eq!(names(&p2), vec!["db", "web"]);
    assert_eq!(p2["metadata"]["resourceVersion"], rv);
    let tok2 = p2["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    let p3 = c
        .get(&format!("/api/v1/configmaps?limit=2&continue={tok2}"))
        .expect(200);
    assert_eq!(names(&p3), vec!["y", "z"]);
    assert!(p3["metadata"].get("continue").is_none());
    assert!(p3["metadata"].get("remainingItemCount").is_none());

    // Selectors: no remainingItemCount.
    let s = c
        .get("/api/v1/configmaps?limit=1&labelSelector=app%3Dweb")
        .expect(200);
    assert!(s["metadata"]["continue"].is_string());
    assert!(s["metadata"].get("remainingItemCount").is_none());

    // Tokens older than five minutes of the fake clock expire.
    let p1 = c.get("/api/v1/configmaps?limit=2").expect(200);
    let tok = p1["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    server.clock().advance(Duration::from_secs(4 * 60));
    c.get(&format!("/api/v1/configmaps?limit=2&continue={tok}"))
        .expect(200);
    server.clock().advance(Duration::from_secs(2 * 60));
    let e = c
        .get(&format!("/api/v1/configmaps?limit=2&continue={tok}"))
        .expect(410);
    assert_eq!(e["reason"], "Expired");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("too old to display a consistent list result")
    );
    // The fresh token in the Status continues where the old one stopped.
    let fresh = e["metadata"]["continue"].as_str().expect("fresh token");
    let rest = c
        .get(&format!("/api/v1/configmaps?limit=10&continue={fresh}"))
        .expect(200);
    assert_eq!(names(&rest), vec!["db", "web", "y", "z"]);
    assert_eq!(c.get("/api/v1/configmaps?continue=garbage").status, 400);
}

#[test]
fn expired_fault_answers_410_with_a_token() {
    let server = start(fixture());
    server.add_fault(
        Fault::expired("/configmaps$")
            .query_contains("continue=")
            .times(1),
    );
    let c = Client::new(&server);
    let p1 = c.get("/api/v1/configmaps?limit=1").expect(200);
    let tok = p1["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    let e = c
        .get(&format!("/api/v1/configmaps?limit=1&continue={tok}"))
        .expect(410);
    assert_eq!(e["reason"], "Expired");
    assert!(e["metadata"]["continue"].is_string());
    // Only once.
    c.get(&format!("/api/v1/configmaps?limit=1&continue={tok}"))
        .expect(200);
}

#[test]
fn metadata_only_lists_carry_no_data() {
    let mut docs = fixture();
    docs.push(secret("a", "s1"));
    docs.push(secret("b", "s2"));
    let server = start(docs);
    let c = Client::new(&server);
    let accept =
        "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    let r = c.get_accept("/api/v1/secrets?limit=1", accept);
    let l = r.expect(200);
    assert_eq!(l["kind"], "PartialObjectMetadataList");
    assert_eq!(l["apiVersion"], "meta.k8s.io/v1");
    assert!(l["metadata"]["continue"].is_string());
    let item = &l["items"][0];
    assert_eq!(item["kind"], "PartialObjectMetadata");
    assert_eq!(item["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(item["metadata"]["name"], "s1");
    assert!(
        item.get("data").is_none() && item.get("type").is_none() && item.get("spec").is_none(),
        "{item}"
    );
    let one = c.get_accept(
        "/api/v1/namespaces/a/secrets/s1",
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
    );
    let one = one.expect(200);
    assert_eq!(one["kind"], "PartialObjectMetadata");
    assert!(one.get("data").is_none());
    // The request log keeps the Accept header.
    let rec = server
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/secrets")
        .expect("recorded");
    assert_eq!(rec.accept.as_deref(), Some(accept));
    assert_eq!(rec.query, "limit=1");
    // Only protobuf → 406.
    assert_eq!(
        c.get_accept("/api/v1/secrets", "application/vnd.kubernetes.protobuf")
            .status,
        406
    );
}

#[test]
fn table_answers_for_kubectl_get() {
    let mut docs = fixture();
    docs.push(clock("2024-01-01T00:00:00Z"));
    let server = start(docs);
    server.clock().advance(Duration::from_secs(150));
    let c = Client::new(&server);
    let t = c
        .get_accept(
            "/api/v1/namespaces/a/configmaps",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .expect(200);
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["columnDefinitions"][0]["name"], "Name");
    assert_eq!(t["rows"][0]["cells"], json!(["api", "2m30s"]));
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

#[test]
fn big_clusters_page_through_every_item() {
    let mut docs = vec![ns("big")];
    for i in 0..3000 {
        docs.push(secret("big", &format!("s-{i:05}")));
    }
    let started = std::time::Instant::now();
    let server = start(docs);
    let c = Client::new(&server);
    let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let path = match &token {
            Some(t) => format!("/api/v1/secrets?limit=500&continue={t}"),
            None => "/api/v1/secrets?limit=500".to_string(),
        };
        let page = c.get_accept(&path, accept).expect(200);
        seen.extend(names(&page));
        token = page["metadata"]["continue"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 3000);
    assert_eq!(seen.first().map(String::as_str), Some("s-00000"));
    assert_eq!(seen.last().map(String::as_str), Some("s-02999"));
    // Writes stay cheap with many objects around.
    for i in 0..50 {
        c.merge_patch(
            &format!("/api/v1/namespaces/big/secrets/s-{i:05}"),
            &json!({"metadata": {"labels": {"x": "y"}}}),
        )
        .expect(200);
    }
    eprintln!("big cluster test took {:?}", started.elapsed());
}
