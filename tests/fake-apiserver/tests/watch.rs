//! Watches resume from a resourceVersion and follow selectors.

mod common;

use common::*;
use serde_json::{Value, json};

fn events(body: &str) -> Vec<(String, String)> {
    body.lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line {l:?}: {e}"));
            (
                v["type"].as_str().unwrap_or("").to_string(),
                v["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn watch_replays_changes_after_a_resource_version() {
    let server = start(vec![ns("arc"), configmap("arc", "keep")]);
    let c = Client::new(&server);
    let rv = c.get("/api/v1/namespaces/arc/configmaps").expect(200)["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    c.post("/api/v1/namespaces/arc/configmaps", &configmap("arc", "a"))
        .expect(201);
    c.merge_patch(
        "/api/v1/namespaces/arc/configmaps/a",
        &json!({"data": {"x": "1"}}),
    )
    .expect(200);
    c.delete("/api/v1/namespaces/arc/configmaps/a").expect(200);
    c.post(
        "/api/v1/namespaces/arc/secrets",
        &secret("arc", "not-a-configmap"),
    )
    .expect(201);
    let r = c.get(&format!(
        "/api/v1/namespaces/arc/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(
        events(&r.text()),
        vec![
            ("ADDED".into(), "a".into()),
            ("MODIFIED".into(), "a".into()),
            ("DELETED".into(), "a".into())
        ]
    );
    // Without a resourceVersion: the current state as ADDED events.
    let r = c.get("/api/v1/namespaces/arc/configmaps?watch=1&timeoutSeconds=1");
    assert_eq!(
        events(&r.text()),
        vec![("ADDED".to_string(), "keep".to_string())]
    );
}

#[test]
fn watch_follows_label_selectors_and_streams_live_changes() {
    let server = start(vec![ns("arc")]);
    let c = Client::new(&server);
    let rv = c.get("/api/v1/configmaps").expect(200)["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let watcher = {
        let url = format!(
            "/api/v1/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion={rv}&timeoutSeconds=2"
        );
        let client = Client::new(&server);
        std::thread::spawn(move || client.get(&url).text())
    };
    let mut cm = configmap("arc", "x");
    cm["metadata"]["labels"] = json!({"app": "db"});
    c.post("/api/v1/namespaces/arc/configmaps", &cm).expect(201);
    c.merge_patch(
        "/api/v1/namespaces/arc/configmaps/x",
        &json!({"metadata": {"labels": {"app": "web"}}}),
    )
    .expect(200);
    c.merge_patch(
        "/api/v1/namespaces/arc/configmaps/x",
        &json!({"metadata": {"labels": {"app": "db"}}}),
    )
    .expect(200);
    let body = watcher.join().expect("watcher");
    assert_eq!(
        events(&body),
        vec![
            ("ADDED".to_string(), "x".to_string()),
            ("DELETED".to_string(), "x".to_string())
        ]
    );
}
