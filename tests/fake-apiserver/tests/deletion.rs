//! Deletion: finalizers, preconditions, propagation, garbage collection,
//! namespace lifecycle, stranded objects, pods on lost nodes.

mod common;

use common::*;
use serde_json::{Value, json};

const ALS: &str = "/apis/actions.github.com/v1alpha1/namespaces/arc/autoscalinglisteners";
const F_AL: &str = "autoscalinglistener.actions.github.com/finalizer";

fn owned(kind: &str, namespace: &str, name: &str, uid: &str, owner: Value) -> Value {
    let (api_version, extra) = match kind {
        "ConfigMap" => ("v1", json!({"data": {"k": "v"}})),
        "Secret" => ("v1", json!({"type": "Opaque"})),
        _ => ("v1", json!({})),
    };
    let mut o = json!({"apiVersion": api_version, "kind": kind, "metadata": {"namespace": namespace, "name": name, "uid": uid, "ownerReferences": [owner]}});
    if let (Some(m), Some(e)) = (o.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            m.insert(k.clone(), v.clone());
        }
    }
    o
}

fn owner_ref(kind: &str, name: &str, uid: &str, block: bool) -> Value {
    let api_version = if kind == "AutoscalingListener" {
        "actions.github.com/v1alpha1"
    } else {
        "v1"
    };
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "blockOwnerDeletion": block, "controller": true})
}

fn listener_with_uid(name: &str, uid: &str, finalizers: &[&str]) -> Value {
    let mut l = listener("arc", name, finalizers);
    l["metadata"]["uid"] = json!(uid);
    l
}

#[test]
fn finalizers_keep_a_deleted_object_until_the_last_one_goes() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        clock("2024-02-02T10:00:00Z"),
        listener("arc", "l", &[F_AL, "x.io/other"]),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let b = c.delete(&path).expect(200);
    assert_eq!(b["metadata"]["deletionTimestamp"], "2024-02-02T10:00:00Z");
    assert_eq!(b["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(b["metadata"]["finalizers"], json!([F_AL, "x.io/other"]));
    // A repeated delete is a no-op returning the object.
    let again = c.delete(&path).expect(200);
    assert_eq!(
        again["metadata"]["resourceVersion"],
        b["metadata"]["resourceVersion"]
    );
    // Adding a finalizer to a deleting object is forbidden.
    let e = c
        .merge_patch(
            &path,
            &json!({"metadata": {"finalizers": [F_AL, "x.io/other", "new.io/f"]}}),
        )
        .expect(422);
    assert_eq!(
        e["message"],
        "AutoscalingListener.actions.github.com \"l\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"new.io/f\"}"
    );
    assert_eq!(e["details"]["causes"][0]["reason"], "FieldValueForbidden");
    assert_eq!(e["details"]["causes"][0]["field"], "metadata.finalizers");
    assert_eq!(e["details"]["group"], "actions.github.com");
    assert_eq!(e["details"]["kind"], "AutoscalingListener");
    // Removing one finalizer keeps it; removing the last one deletes it.
    c.patch(
        &path,
        "application/json-patch+json",
        &json!([{"op": "remove", "path": "/metadata/finalizers/1"}]),
    )
    .expect(200);
    c.get(&path).expect(200);
    let last = c
        .patch(
            &path,
            "application/json-patch+json",
            &json!([{"op": "test", "path": "/metadata/finalizers/0", "value": F_AL}, {"op": "remove", "path": "/metadata/finalizers/0"}]),
        )
        .expect(200);
    assert!(last["metadata"]["deletionTimestamp"].is_string());
    c.get(&path).expect(404);
}

#[test]
fn delete_without_finalizers_returns_status_or_object() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[]),
        configmap("arc", "c"),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"namespace": "arc", "name": "sa"}}),
    ]);
    let c = Client::new(&server);
    let b = c.delete(&format!("{ALS}/l")).expect(200);
    assert_eq!(b["kind"], "Status");
    assert_eq!(b["status"], "Success");
    assert_eq!(b["details"]["name"], "l");
    assert_eq!(b["details"]["group"], "actions.github.com");
    assert_eq!(b["details"]["kind"], "autoscalinglisteners");
    assert!(b["details"]["uid"].is_string());
    let b = c.delete("/api/v1/namespaces/arc/configmaps/c").expect(200);
    assert_eq!(b["kind"], "Status");
    // Service accounts (like pods) return the deleted object.
    let b = c
        .delete("/api/v1/namespaces/arc/serviceaccounts/sa")
        .expect(200);
    assert_eq!(b["kind"], "ServiceAccount");
    let b = c.delete("/api/v1/namespaces/arc/configmaps/c").expect(404);
    assert_eq!(b["message"], "configmaps \"c\" not found");
}

#[test]
fn delete_preconditions() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener_with_uid("l", "uid-l", &[F_AL]),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let e = c
        .delete_with(&path, &json!({"preconditions": {"uid": "wrong"}}))
        .expect(409);
    assert_eq!(e["reason"], "Conflict");
    assert_eq!(
        e["message"],
        "Operation cannot be fulfilled on AutoscalingListener.actions.github.com \"l\": the UID in the precondition (wrong) does not match the UID in record (uid-l). The object might have been deleted and then recreated"
    );
    let rv = c.get(&path).expect(200)["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let e = c
        .delete_with(&path, &json!({"preconditions": {"resourceVersion": "1"}}))
        .expect(409);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or("")
            .contains("the ResourceVersion in the precondition (1) does not match")
    );
    c.delete_with(
        &path,
        &json!({"preconditions": {"uid": "uid-l", "resourceVersion": rv}}),
    )
    .expect(200);
    // Namespaces use the older "Precondition failed" wording.
    let e = c
        .delete_with(
            "/api/v1/namespaces/arc",
            &json!({"preconditions": {"uid": "nope"}}),
        )
        .expect(409);
    let ns_uid = server
        .get_object("v1", "Namespace", None, "arc")
        .expect("ns")["metadata"]["uid"]
        .clone();
    assert_eq!(
        e["message"],
        format!(
            "Operation cannot be fulfilled on namespaces \"arc\": Precondition failed: UID in precondition: nope, UID in object meta: {}",
            ns_uid.as_str().unwrap_or("")
        )
    );
    // Bad propagation policy.
    let e = c
        .delete_with(&path, &json!({"propagationPolicy": "Sideways"}))
        .expect(422);
    assert_eq!(e["reason"], "Invalid");
}

#[test]
fn background_garbage_collection() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener_with_uid("owner", "uid-owner", &[]),
        owned(
            "ConfigMap",
            "arc",
            "child",
            "uid-child",
            owner_ref("AutoscalingListener", "owner", "uid-owner", true),
        ),
        owned(
            "Secret",
            "arc",
            "grandchild",
            "uid-gc",
            owner_ref("ConfigMap", "child", "uid-child", false),
        ),
        // Its owner never existed: collected at load.
        owned(
            "ConfigMap",
            "arc",
            "orphaned",
            "uid-o",
            owner_ref("ConfigMap", "ghost", "uid-ghost", false),
        ),
    ]);
    let c = Client::new(&server);
    c.get("/api/v1/namespaces/arc/configmaps/orphaned")
        .expect(404);
    c.get("/api/v1/namespaces/arc/configmaps/child").expect(200);
    c.delete(&format!("{ALS}/owner")).expect(200);
    c.get("/api/v1/namespaces/arc/configmaps/child").expect(404);
    c.get("/api/v1/namespaces/arc/secrets/grandchild")
        .expect(404);
}

#[test]
fn gc_drops_only_dangling_references_when_another_owner_lives() {
    let mut two_owners = owned(
        "ConfigMap",
        "arc",
        "shared",
        "uid-s",
        owner_ref("AutoscalingListener", "a", "uid-a", false),
    );
    two_owners["metadata"]["ownerReferences"]
        .as_array_mut()
        .expect("refs")
        .push(json!({"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingListener", "name": "b", "uid": "uid-b"}));
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener_with_uid("a", "uid-a", &[]),
        listener_with_uid("b", "uid-b", &[]),
        two_owners,
    ]);
    let c = Client::new(&server);
    c.delete(&format!("{ALS}/a")).expect(200);
    let shared = c
        .get("/api/v1/namespaces/arc/configmaps/shared")
        .expect(200);
    assert_eq!(
        shared["metadata"]["ownerReferences"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(shared["metadata"]["ownerReferences"][0]["uid"], "uid-b");
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener_with_uid("owner", "uid-owner", &[]),
        {
            let mut d = owned(
                "ConfigMap",
                "arc",
                "held",
                "uid-held",
                owner_ref("AutoscalingListener", "owner", "uid-owner", true),
            );
            d["metadata"]["finalizers"] = json!(["x.io/hold"]);
            d
        },
        owned(
            "ConfigMap",
            "arc",
            "free",
            "uid-free",
            owner_ref("AutoscalingListener", "owner", "uid-owner", false),
        ),
    ]);
    let c = Client::new(&server);
    let b = c
        .delete_with(
            &format!("{ALS}/owner"),
            &json!({"propagationPolicy": "Foreground"}),
        )
        .expect(200);
    assert!(
        b["metadata"]["finalizers"]
            .as_array()
            .expect("f")
            .contains(&json!("foregroundDeletion"))
    );
    // Dependents are being deleted; the blocking one holds the owner.
    c.get("/api/v1/namespaces/arc/configmaps/free").expect(404);
    let held = c.get("/api/v1/namespaces/arc/configmaps/held").expect(200);
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    let owner = c.get(&format!("{ALS}/owner")).expect(200);
    assert_eq!(
        owner["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    // Releasing the dependent releases the owner.
    c.merge_patch(
        "/api/v1/namespaces/arc/configmaps/held",
        &json!({"metadata": {"finalizers": null}}),
    )
    .expect(200);
    c.get(&format!("{ALS}/owner")).expect(404);

    // Without dependents foregroundDeletion goes at once (§8.5).
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener_with_uid(
            "solo",
            "uid-solo",
            &["actions.github.com/cleanup-protection"],
        ),
    ]);
    let c = Client::new(&server);
    c.delete_with(
        &format!("{ALS}/solo"),
        &json!({"propagationPolicy": "Foreground"}),
    )
    .expect(200);
    let solo = c.get(&format!("{ALS}/solo")).expect(200);
    assert_eq!(
        solo["metadata"]["finalizers"],
        json!(["actions.github.com/cleanup-protection"])
    );
}

#[test]
fn orphan_propagation_keeps_dependents() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener_with_uid("owner", "uid-owner", &[]),
        owned(
            "ConfigMap",
            "arc",
            "child",
            "uid-child",
            owner_ref("AutoscalingListener", "owner", "uid-owner", true),
        ),
    ]);
    let c = Client::new(&server);
    c.delete(&format!("{ALS}/owner?propagationPolicy=Orphan"))
        .expect(200);
    c.get(&format!("{ALS}/owner")).expect(404);
    let child = c.get("/api/v1/namespaces/arc/configmaps/child").expect(200);
    assert!(
        child["metadata"].get("ownerReferences").is_none(),
        "{child}"
    );
}

#[test]
fn namespace_deletion_lifecycle() {
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"namespace": "arc", "name": "sa", "finalizers": ["actions.github.com/cleanup-protection"]}});
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        clock("2024-05-05T05:05:05Z"),
        listener("arc", "l1", &[F_AL]),
        listener("arc", "l2", &[F_AL]),
        sa,
        configmap("arc", "plain"),
    ]);
    let c = Client::new(&server);
    let b = c.delete("/api/v1/namespaces/arc").expect(200);
    assert_eq!(b["status"]["phase"], "Terminating");
    assert_eq!(b["metadata"]["deletionTimestamp"], "2024-05-05T05:05:05Z");
    let nsobj = c.get("/api/v1/namespaces/arc").expect(200);
    assert_eq!(nsobj["spec"]["finalizers"], json!(["kubernetes"]));
    let cond = |o: &Value, ty: &str| -> Value {
        o["status"]["conditions"]
            .as_array()
            .expect("conditions")
            .iter()
            .find(|c| c["type"] == ty)
            .cloned()
            .unwrap_or_else(|| panic!("no {ty} condition in {o}"))
    };
    assert_eq!(
        cond(&nsobj, "NamespaceDeletionDiscoveryFailure")["status"],
        "False"
    );
    assert_eq!(
        cond(&nsobj, "NamespaceDeletionGroupVersionParsingFailure")["status"],
        "False"
    );
    assert_eq!(
        cond(&nsobj, "NamespaceDeletionContentFailure")["status"],
        "False"
    );
    let remaining = cond(&nsobj, "NamespaceContentRemaining");
    assert_eq!(remaining["status"], "True");
    assert_eq!(remaining["reason"], "SomeResourcesRemain");
    assert_eq!(
        remaining["message"],
        "Some resources are remaining: autoscalinglisteners.actions.github.com has 2 resource instances, serviceaccounts. has 1 resource instances"
    );
    let fins = cond(&nsobj, "NamespaceFinalizersRemaining");
    assert_eq!(fins["status"], "True");
    assert_eq!(
        fins["message"],
        "Some content in the namespace has finalizers remaining: actions.github.com/cleanup-protection in 1 resource instances, autoscalinglistener.actions.github.com/finalizer in 2 resource instances"
    );
    // Content without finalizers is gone, the rest is Terminating.
    c.get("/api/v1/namespaces/arc/configmaps/plain").expect(404);
    assert!(c.get(&format!("{ALS}/l1")).expect(200)["metadata"]["deletionTimestamp"].is_string());

    // Release everything: the namespace disappears.
    for l in ["l1", "l2"] {
        c.merge_patch(
            &format!("{ALS}/{l}"),
            &json!({"metadata": {"finalizers": null}}),
        )
        .expect(200);
    }
    let nsobj = c.get("/api/v1/namespaces/arc").expect(200);
    assert_eq!(
        cond(&nsobj, "NamespaceContentRemaining")["message"],
        "Some resources are remaining: serviceaccounts. has 1 resource instances"
    );
    c.merge_patch(
        "/api/v1/namespaces/arc/serviceaccounts/sa",
        &json!({"metadata": {"finalizers": null}}),
    )
    .expect(200);
    c.get("/api/v1/namespaces/arc").expect(404);
}

#[test]
fn force_finalized_namespace_strands_objects() {
    let server = start(vec![ns("arc-systems"), listener_crd()]);
    let c = Client::new(&server);
    let path = "/apis/actions.github.com/v1alpha1/namespaces/arc-systems/autoscalinglisteners";
    c.post(path, &listener("arc-systems", "l", &[F_AL]))
        .expect(201);
    c.delete("/api/v1/namespaces/arc-systems").expect(200);
    let mut nsobj = c.get("/api/v1/namespaces/arc-systems").expect(200);
    nsobj["spec"]["finalizers"] = json!([]);
    c.put("/api/v1/namespaces/arc-systems/finalize", &nsobj)
        .expect(200);
    c.get("/api/v1/namespaces/arc-systems").expect(404);

    // Stranded: listed cluster-wide, readable...
    let l = c
        .get("/apis/actions.github.com/v1alpha1/autoscalinglisteners")
        .expect(200);
    assert_eq!(names(&l), vec!["l"]);
    let obj = c.get(&format!("{path}/l")).expect(200);
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    // ...but every write except DELETE is refused.
    let e = c
        .merge_patch(
            &format!("{path}/l"),
            &json!({"metadata": {"finalizers": null}}),
        )
        .expect(404);
    assert_eq!(e["message"], "namespaces \"arc-systems\" not found");
    assert_eq!(
        c.patch(
            &format!("{path}/l"),
            "application/json-patch+json",
            &json!([{"op": "remove", "path": "/metadata/finalizers"}])
        )
        .status,
        404
    );
    assert_eq!(c.put(&format!("{path}/l"), &obj).status, 404);
    assert_eq!(
        c.merge_patch(&format!("{path}/l/status"), &json!({"status": {"a": 1}}))
            .status,
        404
    );
    assert_eq!(
        c.post(path, &listener("arc-systems", "new", &[])).status,
        404
    );
    c.delete(&format!("{path}/l")).expect(200);

    // Recreating the namespace makes them writable again.
    c.post("/api/v1/namespaces", &ns("arc-systems")).expect(201);
    c.merge_patch(
        &format!("{path}/l"),
        &json!({"metadata": {"finalizers": null}}),
    )
    .expect(200);
    c.get(&format!("{path}/l")).expect(404);
}

#[test]
fn pods_on_a_lost_node_stay_terminating_until_forced() {
    let pod = |name: &str, node: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "arc", "name": name},
            "spec": {"nodeName": node, "containers": [{"name": "runner", "image": "ghcr.io/actions/runner"}]},
            "status": {"phase": "Running"}})
    };
    let server = start(vec![
        ns("arc"),
        clock("2024-01-01T00:00:00Z"),
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}),
        pod("on-node", "node-1"),
        pod("lost", "gone-node"),
        pod("unscheduled", ""),
    ]);
    let c = Client::new(&server);
    // The kubelet of an existing node finishes at once; the pod is returned.
    let b = c.delete("/api/v1/namespaces/arc/pods/on-node").expect(200);
    assert_eq!(b["kind"], "Pod");
    c.get("/api/v1/namespaces/arc/pods/on-node").expect(404);
    c.delete("/api/v1/namespaces/arc/pods/unscheduled")
        .expect(200);
    c.get("/api/v1/namespaces/arc/pods/unscheduled").expect(404);
    // On a node that is gone the pod stays Terminating with its grace period.
    let b = c.delete("/api/v1/namespaces/arc/pods/lost").expect(200);
    assert_eq!(b["metadata"]["deletionTimestamp"], "2024-01-01T00:00:30Z");
    assert_eq!(b["metadata"]["deletionGracePeriodSeconds"], 30);
    c.delete("/api/v1/namespaces/arc/pods/lost").expect(200);
    c.get("/api/v1/namespaces/arc/pods/lost").expect(200);
    c.delete_with(
        "/api/v1/namespaces/arc/pods/lost",
        &json!({"gracePeriodSeconds": 0}),
    )
    .expect(200);
    c.get("/api/v1/namespaces/arc/pods/lost").expect(404);

    // A fixture pod already Terminating on a lost node stays so.
    let server = start(vec![ns("arc"), {
        let mut p = pod("stuck", "gone-node");
        p["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        p["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        p
    }]);
    let c = Client::new(&server);
    c.get("/api/v1/namespaces/arc/pods/stuck").expect(200);
    c.delete("/api/v1/namespaces/arc/pods/stuck?gracePeriodSeconds=0")
        .expect(200);
    c.get("/api/v1/namespaces/arc/pods/stuck").expect(404);
}

#[test]
fn fixture_objects_with_deletion_timestamp_and_no_finalizers_are_removed() {
    let mut gone = configmap("arc", "gone");
    gone["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    let mut kept = configmap("arc", "kept");
    kept["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    kept["metadata"]["finalizers"] = json!(["x.io/f"]);
    let server = start(vec![ns("arc"), gone, kept]);
    assert!(
        server
            .get_object("v1", "ConfigMap", Some("arc"), "gone")
            .is_none()
    );
    assert!(
        server
            .get_object("v1", "ConfigMap", Some("arc"), "kept")
            .is_some()
    );
}

#[test]
fn dangling_webhooks_fail_updates_but_not_deletes() {
    let webhook = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "actions-runner-controller-mutating-webhook-configuration"},
        "webhooks": [{
            "name": "mutate.runner.actions.summerwind.dev",
            "clientConfig": {"service": {"name": "arc-webhook", "namespace": "actions-runner-system", "path": "/mutate-actions-summerwind-dev-v1alpha1-runner"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["configmaps"]}],
            "admissionReviewVersions": ["v1"], "sideEffects": "None"
        }]
    });
    let server = start(vec![ns("arc"), configmap("arc", "c"), webhook]);
    let c = Client::new(&server);
    let e = c
        .merge_patch(
            "/api/v1/namespaces/arc/configmaps/c",
            &json!({"metadata": {"labels": {"a": "b"}}}),
        )
        .expect(500);
    assert_eq!(e["reason"], "InternalError");
    assert_eq!(
        e["message"],
        "Internal error occurred: failed calling webhook \"mutate.runner.actions.summerwind.dev\": failed to call webhook: Post \"https://arc-webhook.actions-runner-system.svc:443/mutate-actions-summerwind-dev-v1alpha1-runner?timeout=10s\": service \"arc-webhook\" not found"
    );
    c.delete("/api/v1/namespaces/arc/configmaps/c").expect(200);
}
