//! The server behaviours `kubectl arc orphans --fix` and `drain` rely on:
//! guarded JSON patches of finalizers and annotations, delete
//! preconditions, dry runs, stranded objects in a recreated namespace,
//! RoleBinding writes, and the namespace lifecycle finishing.

mod common;

use common::*;
use fake_apiserver::FakeServer;
use serde_json::{Value, json};

const ALS: &str = "/apis/actions.github.com/v1alpha1/namespaces/arc/autoscalinglisteners";
const F_AL: &str = "autoscalinglistener.actions.github.com/finalizer";
const F_CP: &str = "actions.github.com/cleanup-protection";
const JSON_PATCH: &str = "application/json-patch+json";
const RBS: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/arc/rolebindings";

fn rv(o: &Value) -> String {
    o["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_string()
}

/// The patch the repair tool sends: resourceVersion and finalizer tested,
/// one index removed.
fn strip(rv: &str, index: usize, finalizer: &str) -> Value {
    json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": finalizer},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")}
    ])
}

#[test]
fn guarded_finalizer_removal_by_index() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &["x.io/gitops", F_AL]),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let obj = c.delete(&path).expect(200);
    let before = rv(&obj);
    // Wrong index, wrong resourceVersion: 422, nothing changes.
    let e = c
        .patch(&path, JSON_PATCH, &strip(&before, 0, F_AL))
        .expect(422);
    assert_eq!(
        e["details"]["causes"][0],
        json!({"reason": "UnexpectedServerResponse", "message": "testing value /metadata/finalizers/0 failed: test failed"})
    );
    let e = c.patch(&path, JSON_PATCH, &strip("1", 1, F_AL)).expect(422);
    assert_eq!(
        e["details"]["causes"][0]["message"],
        "testing value /metadata/resourceVersion failed: test failed"
    );
    assert_eq!(rv(&c.get(&path).expect(200)), before);
    // The right one removes exactly that finalizer, keeping the other.
    let after = c
        .patch(&path, JSON_PATCH, &strip(&before, 1, F_AL))
        .expect(200);
    assert_eq!(after["metadata"]["finalizers"], json!(["x.io/gitops"]));
    assert_ne!(rv(&after), before);
    // A merge patch carrying a stale resourceVersion is a 409 Conflict.
    let e = c
        .merge_patch(
            &path,
            &json!({"metadata": {"resourceVersion": before, "finalizers": null}}),
        )
        .expect(409);
    assert_eq!(e["reason"], "Conflict");
    // Removing the last one deletes the object.
    c.patch(&path, JSON_PATCH, &strip(&rv(&after), 0, "x.io/gitops"))
        .expect(200);
    c.get(&path).expect(404);
}

#[test]
fn guarded_annotation_removal_with_escaped_keys() {
    let ars_crd = crd(
        "AutoscalingRunnerSet",
        "autoscalingrunnersets",
        "Namespaced",
    );
    let ars = json!({
        "apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingRunnerSet",
        "metadata": {"namespace": "arc", "name": "a", "annotations": {
            "runner-scale-set-id": "42",
            "actions.github.com/cleanup-github-secret-name": "s",
            "a~b": "tilde"
        }}
    });
    let server = start(vec![ns("arc"), ars_crd, ars]);
    let c = Client::new(&server);
    let path = "/apis/actions.github.com/v1alpha1/namespaces/arc/autoscalingrunnersets/a";
    let obj = c.get(path).expect(200);
    let remove = |key: &str, value: &str, rv: &str| {
        json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "test", "path": format!("/metadata/annotations/{key}"), "value": value},
            {"op": "remove", "path": format!("/metadata/annotations/{key}")}
        ])
    };
    c.patch(
        path,
        JSON_PATCH,
        &remove("runner-scale-set-id", "43", &rv(&obj)),
    )
    .expect(422);
    let obj = c
        .patch(
            path,
            JSON_PATCH,
            &remove("runner-scale-set-id", "42", &rv(&obj)),
        )
        .expect(200);
    assert!(
        obj["metadata"]["annotations"]
            .get("runner-scale-set-id")
            .is_none()
    );
    // RFC 6901: '/' is '~1', '~' is '~0'.
    let obj = c
        .patch(
            path,
            JSON_PATCH,
            &remove(
                "actions.github.com~1cleanup-github-secret-name",
                "s",
                &rv(&obj),
            ),
        )
        .expect(200);
    let obj = c
        .patch(path, JSON_PATCH, &remove("a~0b", "tilde", &rv(&obj)))
        .expect(200);
    // Like ObjectMeta's omitempty: an emptied map is not stored.
    assert!(obj["metadata"].get("annotations").is_none(), "{obj}");
    // Removing an absent key or index fails the whole patch.
    let e = c
        .patch(
            path,
            JSON_PATCH,
            &json!([{"op": "remove", "path": "/metadata/annotations/nope"}]),
        )
        .expect(422);
    assert_eq!(
        e["details"]["causes"][0]["message"],
        "remove operation does not apply: doc is missing path: \"/metadata/annotations/nope\": missing value"
    );
    c.merge_patch(
        path,
        &json!({"metadata": {"annotations": {"k": "v"}, "finalizers": ["a/b"]}}),
    )
    .expect(200);
    let e = c
        .patch(
            path,
            JSON_PATCH,
            &json!([{"op": "remove", "path": "/metadata/annotations/nope"}]),
        )
        .expect(422);
    assert_eq!(
        e["details"]["causes"][0]["message"],
        "error in remove for path: '/metadata/annotations/nope': Unable to remove nonexistent key: nope: missing value"
    );
    let e = c
        .patch(
            path,
            JSON_PATCH,
            &json!([{"op": "remove", "path": "/metadata/finalizers/1"}]),
        )
        .expect(422);
    assert_eq!(
        e["details"]["causes"][0]["message"],
        "error in remove for path: '/metadata/finalizers/1': Unable to access invalid index: 1: invalid index referenced"
    );
}

#[test]
fn delete_with_uid_and_resource_version_preconditions() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL]),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "arc", "name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let obj = c.get(&path).expect(200);
    let pre = |o: &Value| json!({"preconditions": {"uid": o["metadata"]["uid"], "resourceVersion": o["metadata"]["resourceVersion"]}});
    server
        .touch_object(
            "actions.github.com/v1alpha1",
            "AutoscalingListener",
            Some("arc"),
            "l",
        )
        .expect("touched");
    let e = c.delete_with(&path, &pre(&obj)).expect(409);
    assert_eq!(e["reason"], "Conflict");
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("does not match the ResourceVersion in record")
    );
    let obj = c.get(&path).expect(200);
    assert!(obj["metadata"].get("deletionTimestamp").is_none());
    let mut wrong_uid = pre(&obj);
    wrong_uid["preconditions"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    c.delete_with(&path, &wrong_uid).expect(409);
    let deleted = c.delete_with(&path, &pre(&obj)).expect(200);
    assert!(deleted["metadata"]["deletionTimestamp"].is_string());
    // A pod without a node goes at once and the answer is the pod.
    let pod = c.get("/api/v1/namespaces/arc/pods/p").expect(200);
    let b = c
        .delete_with("/api/v1/namespaces/arc/pods/p", &pre(&pod))
        .expect(200);
    assert_eq!(b["kind"], "Pod");
    c.get("/api/v1/namespaces/arc/pods/p").expect(404);
}

#[test]
fn dry_run_all_changes_nothing() {
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"namespace": "arc", "name": "sa", "finalizers": [F_CP]}});
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL]),
        sa,
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let snapshot = |s: &FakeServer| {
        (
            s.list_objects("actions.github.com/v1alpha1", "AutoscalingListener"),
            s.list_objects("v1", "ServiceAccount"),
            s.list_objects("v1", "Namespace"),
            s.list_objects("rbac.authorization.k8s.io/v1", "RoleBinding"),
        )
    };
    // Dry-run DELETE of an object with finalizers.
    let before = snapshot(&server);
    let b = c.delete(&format!("{path}?dryRun=All")).expect(200);
    assert!(b["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(snapshot(&server), before);
    c.delete(&path).expect(200);
    // Dry-run removal of the last finalizer of a deleting object.
    let before = snapshot(&server);
    let obj = c.get(&path).expect(200);
    c.patch(
        &format!("{path}?dryRun=All"),
        JSON_PATCH,
        &strip(&rv(&obj), 0, F_AL),
    )
    .expect(200);
    c.delete_with(
        "/api/v1/namespaces/arc/serviceaccounts/sa",
        &json!({"dryRun": ["All"], "propagationPolicy": "Foreground"}),
    )
    .expect(200);
    // Dry-run namespace delete and RoleBinding create.
    c.delete("/api/v1/namespaces/arc?dryRun=All").expect(200);
    c.post(
        &format!("{RBS}?dryRun=All"),
        &role_binding("arc", "tmp", "ClusterRole", "view", "u"),
    )
    .expect(201);
    assert_eq!(snapshot(&server), before);
    assert!(server.requests().iter().filter(|r| r.dry_run).count() >= 5);
}

#[test]
fn recreating_a_force_deleted_namespace_makes_stranded_objects_writable() {
    let server = FakeServer::builder()
        .fixture("../scenarios/S12")
        .start()
        .expect("S12 loads");
    let c = Client::new(&server);
    let path = "/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners/arc-runner-set-85f786b5-listener";
    c.get("/api/v1/namespaces/arc-systems").expect(404);
    let obj = c.get(path).expect(200);
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    let e = c
        .patch(path, JSON_PATCH, &strip(&rv(&obj), 0, F_AL))
        .expect(404);
    assert_eq!(e["message"], "namespaces \"arc-systems\" not found");
    // Recreate the namespace: the stranded listener is in it again.
    c.post("/api/v1/namespaces", &ns("arc-systems")).expect(201);
    let l = c
        .get("/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners")
        .expect(200);
    assert_eq!(names(&l), vec!["arc-runner-set-85f786b5-listener"]);
    c.patch(path, JSON_PATCH, &strip(&rv(&obj), 0, F_AL))
        .expect(200);
    c.get(path).expect(404);
    // Deleting the recreated (now empty) namespace finishes at once.
    c.delete("/api/v1/namespaces/arc-systems").expect(200);
    c.get("/api/v1/namespaces/arc-systems").expect(404);
}

#[test]
fn rolebindings_with_labels_and_subject_patches() {
    let server = start(vec![
        ns("arc"),
        role(
            "arc",
            "r",
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
        ),
    ]);
    let c = Client::new(&server);
    let mut rb = role_binding("arc", "tmp", "Role", "r", "u");
    rb["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "kubectl-arc"});
    rb["subjects"] = json!([{"kind": "ServiceAccount", "name": "ctrl", "namespace": "old"}]);
    let created = c.post(RBS, &rb).expect(201);
    assert_eq!(
        created["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubectl-arc"
    );
    let l = c
        .get(&format!(
            "{RBS}?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dkubectl-arc"
        ))
        .expect(200);
    assert_eq!(names(&l), vec!["tmp"]);
    let can_get = |sa_ns: &str| {
        let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": format!("system:serviceaccount:{sa_ns}:ctrl"), "groups": ["system:serviceaccounts"],
                     "resourceAttributes": {"namespace": "arc", "verb": "get", "resource": "secrets"}}});
        c.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar)
            .expect(201)["status"]["allowed"]
            == json!(true)
    };
    assert!(can_get("old") && !can_get("new"));
    // Strategic merge: subjects (no merge key) are replaced as a whole.
    let p = c
        .patch(
            &format!("{RBS}/tmp"),
            "application/strategic-merge-patch+json",
            &json!({"subjects": [{"kind": "ServiceAccount", "name": "ctrl", "namespace": "new"}]}),
        )
        .expect(200);
    assert_eq!(p["subjects"].as_array().map(Vec::len), Some(1));
    assert!(can_get("new") && !can_get("old"));
    // JSON patch guarded by a test of the current subject.
    let p = c
        .patch(
            &format!("{RBS}/tmp"),
            JSON_PATCH,
            &json!([
                {"op": "test", "path": "/subjects/0/namespace", "value": "new"},
                {"op": "replace", "path": "/subjects/0/namespace", "value": "newer"}
            ]),
        )
        .expect(200);
    assert_eq!(p["subjects"][0]["namespace"], "newer");
    assert!(can_get("newer"));
    // roleRef is immutable.
    let e = c
        .merge_patch(
            &format!("{RBS}/tmp"),
            &json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "other"}}),
        )
        .expect(422);
    assert_eq!(
        e["message"],
        "RoleBinding.rbac.authorization.k8s.io \"tmp\" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef"
    );
    c.delete(&format!("{RBS}/tmp")).expect(200);
    // Creation validates roleRef and subjects; User subjects get their apiGroup.
    let bad = json!({"metadata": {"name": "bad"}, "roleRef": {"kind": "Secret", "name": "r"},
        "subjects": [{"kind": "Robot", "name": "x"}]});
    let e = c.post(RBS, &bad).expect(422);
    assert_eq!(
        e["message"],
        "RoleBinding.rbac.authorization.k8s.io \"bad\" is invalid: [roleRef.apiGroup: Unsupported value: \"\": supported values: \"rbac.authorization.k8s.io\", roleRef.kind: Unsupported value: \"Secret\": supported values: \"Role\", \"ClusterRole\", subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"]"
    );
    let ok = json!({"metadata": {"name": "ok"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}]});
    let b = c.post(RBS, &ok).expect(201);
    assert_eq!(b["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
}

#[test]
fn secret_string_data_is_merged_into_data() {
    let server = start(vec![ns("arc")]);
    let c = Client::new(&server);
    let b = c
        .post(
            "/api/v1/namespaces/arc/secrets",
            &json!({"metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eA=="}, "stringData": {"b": "yy", "github_token": "t"}}),
        )
        .expect(201);
    assert!(b.get("stringData").is_none());
    assert_eq!(
        b["data"],
        json!({"a": "eA==", "b": "eXk=", "github_token": "dA=="})
    );
}

#[test]
fn namespace_deletion_finishes_when_empty_or_released() {
    let cp = |kind: &str, name: &str| json!({"apiVersion": "v1", "kind": kind, "metadata": {"namespace": "arc", "name": name, "finalizers": [F_CP]}});
    let server = start(vec![
        ns("empty"),
        configmap("empty", "c"),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"namespace": "empty", "name": "sa"}}),
        role_binding("empty", "rb", "ClusterRole", "view", "u"),
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL]),
        cp("Secret", "s"),
        cp("ServiceAccount", "sa"),
    ]);
    let c = Client::new(&server);
    // Content without finalizers: the namespace controller finishes at once.
    c.delete("/api/v1/namespaces/empty").expect(200);
    c.get("/api/v1/namespaces/empty").expect(404);
    c.get("/api/v1/namespaces/empty/configmaps/c").expect(404);
    // Finalizers keep it Terminating until the last one is released.
    c.delete("/api/v1/namespaces/arc").expect(200);
    let release = |path: &str, fin: &str| {
        let o = c.get(path).expect(200);
        c.patch(path, JSON_PATCH, &strip(&rv(&o), 0, fin))
            .expect(200);
    };
    release(&format!("{ALS}/l"), F_AL);
    release("/api/v1/namespaces/arc/secrets/s", F_CP);
    let nsobj = c.get("/api/v1/namespaces/arc").expect(200);
    assert_eq!(nsobj["status"]["phase"], "Terminating");
    release("/api/v1/namespaces/arc/serviceaccounts/sa", F_CP);
    c.get("/api/v1/namespaces/arc").expect(404);
}
