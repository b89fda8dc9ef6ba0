//! Create, update, patch, status subresources, dry runs.

mod common;

use common::*;
use serde_json::json;

const CMS: &str = "/api/v1/namespaces/arc/configmaps";
const ALS: &str = "/apis/actions.github.com/v1alpha1/namespaces/arc/autoscalinglisteners";

#[test]
fn create_fills_metadata_and_rejects_duplicates() {
    let server = start(vec![ns("arc"), clock("2024-06-01T08:00:00Z")]);
    let c = Client::new(&server);
    let b = c.post(CMS, &configmap("arc", "c1")).expect(201);
    assert_eq!(b["kind"], "ConfigMap");
    assert_eq!(b["apiVersion"], "v1");
    assert_eq!(b["metadata"]["creationTimestamp"], "2024-06-01T08:00:00Z");
    assert_eq!(b["metadata"]["uid"].as_str().map(str::len), Some(36));
    assert!(
        b["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|rv| rv.parse::<u64>().is_ok())
    );

    let b = c.post(CMS, &configmap("arc", "c1")).expect(409);
    assert_eq!(b["reason"], "AlreadyExists");
    assert_eq!(b["message"], "configmaps \"c1\" already exists");
    assert_eq!(b["details"], json!({"name": "c1", "kind": "configmaps"}));

    let b = c
        .post(
            CMS,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}),
        )
        .expect(201);
    let name = b["metadata"]["name"].as_str().expect("name");
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let b = c
        .post(
            CMS,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
        )
        .expect(422);
    assert_eq!(
        b["message"],
        "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
    );
    let b = c.post(CMS, &configmap("arc", "Bad_Name")).expect(422);
    assert_eq!(b["details"]["causes"][0]["field"], "metadata.name");
    let b = c.post(CMS, &configmap("other", "c2")).expect(400);
    assert_eq!(
        b["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
}

#[test]
fn create_in_missing_or_terminating_namespace() {
    let server = start(vec![
        ns("arc"),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dying"}}),
        configmap("dying", "held"),
    ]);
    let c = Client::new(&server);
    let b = c
        .post(
            "/api/v1/namespaces/nowhere/configmaps",
            &configmap("nowhere", "c"),
        )
        .expect(404);
    assert_eq!(b["message"], "namespaces \"nowhere\" not found");
    assert_eq!(
        b["details"],
        json!({"name": "nowhere", "kind": "namespaces"})
    );

    // Make "dying" Terminating: a finalizer on its content keeps it there.
    c.merge_patch(
        "/api/v1/namespaces/dying/configmaps/held",
        &json!({"metadata": {"finalizers": ["example.com/hold"]}}),
    )
    .expect(200);
    c.delete("/api/v1/namespaces/dying").expect(200);
    let b = c
        .post(
            "/api/v1/namespaces/dying/configmaps",
            &configmap("dying", "new"),
        )
        .expect(403);
    assert_eq!(b["reason"], "Forbidden");
    assert_eq!(
        b["message"],
        "configmaps \"new\" is forbidden: unable to create new content in namespace dying because it is being terminated"
    );
    assert_eq!(b["details"]["causes"][0]["reason"], "NamespaceTerminating");
    assert_eq!(b["details"]["causes"][0]["field"], "metadata.namespace");
}

#[test]
fn stale_resource_version_conflicts() {
    let server = start(vec![ns("arc"), configmap("arc", "c")]);
    let c = Client::new(&server);
    let cur = c.get(&format!("{CMS}/c")).expect(200);
    let mut a = cur.clone();
    a["data"]["k"] = json!("a");
    let updated = c.put(&format!("{CMS}/c"), &a).expect(200);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        cur["metadata"]["resourceVersion"]
    );
    let mut b = cur.clone();
    b["data"]["k"] = json!("b");
    let e = c.put(&format!("{CMS}/c"), &b).expect(409);
    assert_eq!(
        e["message"],
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // A patch carrying a stale resourceVersion conflicts as well.
    let e = c
        .merge_patch(&format!("{CMS}/c"), &json!({"metadata": {"resourceVersion": cur["metadata"]["resourceVersion"]}, "data": {"k": "z"}}))
        .expect(409);
    assert_eq!(e["reason"], "Conflict");
    // Without a resourceVersion the update is unconditional.
    let mut d = cur.clone();
    d["metadata"]
        .as_object_mut()
        .expect("meta")
        .remove("resourceVersion");
    d["data"]["k"] = json!("d");
    c.put(&format!("{CMS}/c"), &d).expect(200);
    // A no-op update does not bump the resourceVersion.
    let now = c.get(&format!("{CMS}/c")).expect(200);
    let same = c.put(&format!("{CMS}/c"), &now).expect(200);
    assert_eq!(
        same["metadata"]["resourceVersion"],
        now["metadata"]["resourceVersion"]
    );
    // Missing object.
    assert_eq!(
        c.put(
            &format!("{CMS}/nope"),
            &json!({"metadata": {"name": "nope"}})
        )
        .status,
        404
    );
    // Name mismatch.
    assert_eq!(
        c.put(&format!("{CMS}/c"), &json!({"metadata": {"name": "other"}}))
            .status,
        400
    );
}

#[test]
fn json_patch_test_failure_is_422() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &["a/b", "c/d"]),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let bad = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "c/d"}, {"op": "remove", "path": "/metadata/finalizers/0"}]);
    let b = c
        .patch(&path, "application/json-patch+json", &bad)
        .expect(422);
    assert_eq!(b["reason"], "Invalid");
    assert_eq!(
        b["message"],
        "the server rejected our request due to an error in our request"
    );
    let good = json!([{"op": "test", "path": "/metadata/finalizers/1", "value": "c/d"}, {"op": "remove", "path": "/metadata/finalizers/1"}]);
    let b = c
        .patch(&path, "application/json-patch+json", &good)
        .expect(200);
    assert_eq!(b["metadata"]["finalizers"], json!(["a/b"]));
    assert_eq!(
        c.patch(&path, "application/json-patch+json", &json!({"op": "nope"}))
            .status,
        400
    );
}

#[test]
fn strategic_merge_patch_only_for_builtin_kinds() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[]),
        configmap("arc", "c"),
    ]);
    let c = Client::new(&server);
    let b = c
        .patch(
            &format!("{ALS}/l"),
            "application/strategic-merge-patch+json",
            &json!({"metadata": {"labels": {"a": "b"}}}),
        )
        .expect(415);
    assert_eq!(b["reason"], "UnsupportedMediaType");
    assert_eq!(
        b["message"],
        "the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/json-patch+json, application/merge-patch+json"
    );
    // Built-in: finalizers merge as a set; $deleteFromPrimitiveList removes.
    let path = format!("{CMS}/c");
    c.patch(
        &path,
        "application/strategic-merge-patch+json",
        &json!({"metadata": {"finalizers": ["x/a"]}}),
    )
    .expect(200);
    let b = c
        .patch(
            &path,
            "application/strategic-merge-patch+json",
            &json!({"metadata": {"finalizers": ["x/b"]}}),
        )
        .expect(200);
    assert_eq!(b["metadata"]["finalizers"], json!(["x/a", "x/b"]));
    let b = c
        .patch(
            &path,
            "application/strategic-merge-patch+json",
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/a"]}}),
        )
        .expect(200);
    assert_eq!(b["metadata"]["finalizers"], json!(["x/b"]));
    // Server-side apply and unknown types are refused.
    assert_eq!(
        c.request(
            "PATCH",
            &path,
            Some("application/apply-patch+yaml"),
            Some(b"{}".to_vec())
        )
        .status,
        415
    );
    assert_eq!(
        c.request(
            "PATCH",
            &path,
            Some("application/json"),
            Some(b"{}".to_vec())
        )
        .status,
        415
    );
}

#[test]
fn status_subresource_separates_spec_and_status() {
    let server = start(vec![ns("arc"), listener_crd(), listener("arc", "l", &[])]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let before = c.get(&path).expect(200);
    assert_eq!(
        before["metadata"]["generation"], 1,
        "filled like uid when absent"
    );
    // Writes to the main resource ignore status.
    let b = c
        .merge_patch(
            &path,
            &json!({"status": {"phase": "Running"}, "spec": {"x": 1}}),
        )
        .expect(200);
    assert!(b.get("status").is_none(), "{b}");
    assert_eq!(b["spec"]["x"], 1);
    // Writes to /status change only status.
    let b = c
        .merge_patch(&format!("{path}/status"), &json!({"status": {"phase": "Running"}, "spec": {"x": 2}, "metadata": {"labels": {"a": "b"}}}))
        .expect(200);
    assert_eq!(b["status"]["phase"], "Running");
    assert_eq!(b["spec"]["x"], 1);
    assert!(b["metadata"].get("labels").is_none());
    let s = c.get(&format!("{path}/status")).expect(200);
    assert_eq!(s["status"]["phase"], "Running");
    // Generation follows spec changes of objects created through the API.
    let created = c.post(ALS, &listener("arc", "l2", &[])).expect(201);
    assert_eq!(created["metadata"]["generation"], 1);
    let b = c
        .merge_patch(&format!("{ALS}/l2"), &json!({"spec": {"x": 1}}))
        .expect(200);
    assert_eq!(b["metadata"]["generation"], 2);
    let b = c
        .merge_patch(
            &format!("{ALS}/l2"),
            &json!({"metadata": {"labels": {"a": "b"}}}),
        )
        .expect(200);
    assert_eq!(b["metadata"]["generation"], 2);
    let b = c
        .merge_patch(
            &format!("{ALS}/l2/status"),
            &json!({"status": {"phase": "x"}}),
        )
        .expect(200);
    assert_eq!(b["metadata"]["generation"], 2);
    // A kind without a status subresource has no /status.
    assert_eq!(
        c.get("/api/v1/namespaces/arc/configmaps/x/status").status,
        404
    );
}

#[test]
fn dry_run_changes_nothing() {
    let server = start(vec![ns("arc"), configmap("arc", "c")]);
    let c = Client::new(&server);
    let before = server
        .get_object("v1", "ConfigMap", Some("arc"), "c")
        .expect("exists");
    c.post(&format!("{CMS}?dryRun=All"), &configmap("arc", "new"))
        .expect(201);
    assert!(
        server
            .get_object("v1", "ConfigMap", Some("arc"), "new")
            .is_none()
    );
    c.merge_patch(
        &format!("{CMS}/c?dryRun=All"),
        &json!({"data": {"k": "changed"}}),
    )
    .expect(200);
    let b = c.delete(&format!("{CMS}/c?dryRun=All")).expect(200);
    assert_eq!(b["status"], "Success");
    let b = c
        .delete_with(&format!("{CMS}/c"), &json!({"dryRun": ["All"]}))
        .expect(200);
    assert_eq!(b["status"], "Success");
    assert_eq!(
        server.get_object("v1", "ConfigMap", Some("arc"), "c"),
        Some(before)
    );
    assert_eq!(c.delete(&format!("{CMS}/c?dryRun=Some")).status, 400);
}

#[test]
fn owner_references_are_validated() {
    let server = start(vec![ns("arc")]);
    let c = Client::new(&server);
    let mut cm = configmap("arc", "c");
    cm["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "", "kind": "", "name": "x", "uid": "u"}]);
    let b = c.post(CMS, &cm).expect(422);
    assert_eq!(
        b["message"],
        "ConfigMap \"c\" is invalid: [metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty, metadata.ownerReferences.kind: Invalid value: \"\": kind must not be empty]"
    );
}

#[test]
fn yaml_request_bodies_and_namespace_defaults() {
    let server = start(vec![]);
    let c = Client::new(&server);
    let yaml = b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-yaml\n".to_vec();
    let b = c
        .request(
            "POST",
            "/api/v1/namespaces",
            Some("application/yaml"),
            Some(yaml),
        )
        .expect(201);
    assert_eq!(b["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(b["status"]["phase"], "Active");
    assert_eq!(
        b["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "from-yaml"
    );
    // The system namespaces exist, and cannot be deleted.
    let b = c.delete("/api/v1/namespaces/default").expect(403);
    assert_eq!(
        b["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

#[test]
fn system_namespaces_are_as_old_as_the_cluster() {
    let mut old = ns("old");
    old["metadata"]["creationTimestamp"] = json!("2023-03-03T00:00:00Z");
    let server = start(vec![clock("2024-01-01T00:00:00Z"), old]);
    let c = Client::new(&server);
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let b = c.get(&format!("/api/v1/namespaces/{name}")).expect(200);
        assert_eq!(
            b["metadata"]["creationTimestamp"], "2023-03-03T00:00:00Z",
            "{name}"
        );
    }
}
