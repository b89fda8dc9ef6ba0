//! Discovery, CRD-defined groups, unknown paths, HTTP/2.

mod common;

use common::*;
use serde_json::{Value, json};

fn group_names(list: &Value) -> Vec<String> {
    list["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["name"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn core_discovery_documents() {
    let server = start(vec![]);
    let c = Client::new(&server);
    let v = c.get("/version").expect(200);
    assert_eq!(v["major"], "1");
    let api = c.get("/api").expect(200);
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let core = c.get("/api/v1").expect(200);
    assert_eq!(core["kind"], "APIResourceList");
    assert_eq!(core["groupVersion"], "v1");
    let find = |name: &str| -> Value {
        core["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in core discovery"))
    };
    let pods = find("pods");
    assert_eq!(pods["namespaced"], true);
    assert_eq!(pods["kind"], "Pod");
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert!(
        pods["verbs"]
            .as_array()
            .expect("verbs")
            .contains(&json!("list"))
    );
    assert_eq!(find("pods/log")["verbs"], json!(["get"]));
    assert_eq!(find("namespaces/finalize")["verbs"], json!(["update"]));
    assert_eq!(find("namespaces")["namespaced"], false);
    find("namespaces/status");
    let apps = c.get("/apis/apps/v1").expect(200);
    assert!(
        apps["resources"]
            .as_array()
            .expect("r")
            .iter()
            .any(|r| r["name"] == "deployments/status")
    );
    let apis = c.get("/apis").expect(200);
    assert_eq!(apis["kind"], "APIGroupList");
    let groups = group_names(&apis);
    for g in [
        "apps",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
        "authorization.k8s.io",
    ] {
        assert!(groups.contains(&g.to_string()), "{g} missing: {groups:?}");
    }
    let g = c.get("/apis/apps").expect(200);
    assert_eq!(g["kind"], "APIGroup");
    assert_eq!(g["preferredVersion"]["groupVersion"], "apps/v1");
}

#[test]
fn crd_group_appears_and_disappears_with_its_crd() {
    let server = start(vec![ns("arc-systems")]);
    let c = Client::new(&server);
    assert!(!group_names(&c.get("/apis").expect(200)).contains(&"actions.github.com".to_string()));
    let r = c.get("/apis/actions.github.com/v1alpha1");
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "404 page not found\n");
    assert_eq!(
        c.get("/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners")
            .status,
        404
    );

    c.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        &listener_crd(),
    )
    .expect(201);
    let apis = c.get("/apis").expect(200);
    let g = apis["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["name"] == "actions.github.com")
        .cloned();
    assert_eq!(
        g.expect("group listed")["preferredVersion"]["version"],
        "v1alpha1"
    );
    let rl = c.get("/apis/actions.github.com/v1alpha1").expect(200);
    let res: Vec<&str> = rl["resources"]
        .as_array()
        .expect("r")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        res,
        vec!["autoscalinglisteners", "autoscalinglisteners/status"]
    );
    assert_eq!(rl["resources"][0]["singularName"], "autoscalinglistener");
    c.post(
        "/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners",
        &listener("arc-systems", "l", &[]),
    )
    .expect(201);

    // Deleting the CRD deletes its instances, then the group is gone.
    c.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/autoscalinglisteners.actions.github.com").expect(200);
    assert!(!group_names(&c.get("/apis").expect(200)).contains(&"actions.github.com".to_string()));
    assert_eq!(c.get("/apis/actions.github.com/v1alpha1").status, 404);
    assert!(
        server
            .list_objects("actions.github.com/v1alpha1", "AutoscalingListener")
            .is_empty()
    );
}

#[test]
fn crd_deletion_waits_for_instances_with_finalizers() {
    let server = start(vec![
        ns("arc-systems"),
        listener_crd(),
        listener("arc-systems", "l", &["example.com/hold"]),
    ]);
    let c = Client::new(&server);
    let crd_path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/autoscalinglisteners.actions.github.com";
    let b = c.delete(crd_path).expect(200);
    assert!(b["metadata"]["deletionTimestamp"].is_string());
    let crd = c.get(crd_path).expect(200);
    assert_eq!(
        crd["metadata"]["finalizers"],
        json!(["customresourcecleanup.apiextensions.k8s.io"])
    );
    let term = crd["status"]["conditions"]
        .as_array()
        .expect("conds")
        .iter()
        .find(|c| c["type"] == "Terminating")
        .cloned();
    assert_eq!(term.expect("Terminating condition")["status"], "True");
    // The instance is being deleted but held by its finalizer; the group is still served.
    let l = c
        .get("/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners/l")
        .expect(200);
    assert!(l["metadata"]["deletionTimestamp"].is_string());
    c.merge_patch(
        "/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners/l",
        &json!({"metadata": {"finalizers": null}}),
    )
    .expect(200);
    assert_eq!(c.get(crd_path).status, 404);
}

#[test]
fn unknown_paths_are_plain_text_404() {
    let server = start(vec![ns("a")]);
    let c = Client::new(&server);
    for p in [
        "/nope",
        "/apis/nope.example.com/v1",
        "/apis/apps/v2",
        "/api/v2",
        "/api/v1/namespaces/a/widgets",
        "/api/v1/namespaces/a/nodes",
        "/api/v1/namespaces/a/pods/p/exec",
        "/apis/apps/v1/deployments/x",
    ] {
        let r = c.get(p);
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.text(), "404 page not found\n", "{p}");
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .starts_with("text/plain"),
            "{p}"
        );
    }
    // A known object that does not exist is a Status.
    let b = c.get("/api/v1/namespaces/a/secrets/x").expect(404);
    assert_eq!(b["message"], "secrets \"x\" not found");
    assert_eq!(b["details"], json!({"name": "x", "kind": "secrets"}));
    let b = c.get("/api/v1/namespaces/missing").expect(404);
    assert_eq!(b["message"], "namespaces \"missing\" not found");
}

#[test]
fn aggregated_discovery_when_asked_for() {
    let server = start(vec![listener_crd()]);
    let c = Client::new(&server);
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let r = c.get_accept("/apis", accept);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let b = r.json();
    assert_eq!(b["kind"], "APIGroupDiscoveryList");
    let arc = b["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["metadata"]["name"] == "actions.github.com")
        .cloned();
    let arc = arc.expect("CRD group in aggregated discovery");
    assert_eq!(
        arc["versions"][0]["resources"][0]["resource"],
        "autoscalinglisteners"
    );
    assert_eq!(arc["versions"][0]["resources"][0]["scope"], "Namespaced");
    let core = c.get_accept("/api", accept).json();
    assert_eq!(core["items"][0]["metadata"]["name"], "");
    // Plain JSON otherwise.
    assert_eq!(
        c.get_accept("/apis", "application/json").json()["kind"],
        "APIGroupList"
    );
}

#[test]
fn http2_via_alpn() {
    let server = start(vec![ns("a")]);
    let c = Client::http2(&server);
    let b = c.get("/api/v1/namespaces/a").expect(200);
    assert_eq!(b["metadata"]["name"], "a");
}

#[test]
fn wrong_method_is_405_and_bad_json_is_400() {
    let server = start(vec![ns("a")]);
    let c = Client::new(&server);
    let b = c
        .post("/api/v1/namespaces/a/secrets/x", &json!({}))
        .expect(405);
    assert_eq!(b["reason"], "MethodNotAllowed");
    assert_eq!(
        c.request(
            "PUT",
            "/apis",
            Some("application/json"),
            Some(b"{}".to_vec())
        )
        .status,
        405
    );
    let b = c
        .request(
            "POST",
            "/api/v1/namespaces/a/configmaps",
            Some("application/json"),
            Some(b"{not json".to_vec()),
        )
        .expect(400);
    assert_eq!(b["reason"], "BadRequest");
    let b = c
        .request(
            "POST",
            "/api/v1/namespaces/a/configmaps",
            Some("text/csv"),
            Some(b"a,b".to_vec()),
        )
        .expect(415);
    assert_eq!(b["reason"], "UnsupportedMediaType");
}
