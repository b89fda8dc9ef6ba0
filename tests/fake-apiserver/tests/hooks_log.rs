//! Request-log completeness (bodies, dry runs), mutation hooks ("the object
//! changed between plan and apply") and the direct object helpers.

mod common;

use common::*;
use fake_apiserver::{ObjectRef, Trigger, TriggerAction};
use serde_json::json;

const ALS: &str = "/apis/actions.github.com/v1alpha1/namespaces/arc/autoscalinglisteners";
const AL_V: &str = "actions.github.com/v1alpha1";
const F_AL: &str = "autoscalinglistener.actions.github.com/finalizer";

fn al_ref(name: &str) -> ObjectRef {
    ObjectRef::new(AL_V, "AutoscalingListener", Some("arc"), name)
}

#[test]
fn request_log_records_bodies_and_dry_runs() {
    let server = start(vec![ns("arc"), configmap("arc", "c")]);
    let c = Client::new(&server);
    let cms = "/api/v1/namespaces/arc/configmaps";
    c.get(&format!("{cms}/c")).expect(200);
    let patch = json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "x"}]);
    c.patch(
        &format!("{cms}/c?dryRun=All"),
        "application/json-patch+json",
        &patch,
    );
    c.post(&format!("{cms}?dryRun=All"), &configmap("arc", "n"))
        .expect(201);
    c.delete_with(&format!("{cms}/c"), &json!({"dryRun": ["All"]}))
        .expect(200);
    c.delete(&format!("{cms}/c")).expect(200);
    let recs = server.requests();
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[0].body, None);
    assert!(!recs[0].dry_run);
    assert_eq!(recs[1].method, "PATCH");
    assert!(recs[1].dry_run);
    assert_eq!(recs[1].body_json(), Some(patch));
    assert_eq!(
        recs[1].content_type.as_deref(),
        Some("application/json-patch+json")
    );
    assert!(recs[2].dry_run);
    assert_eq!(recs[2].body_json().expect("json")["metadata"]["name"], "n");
    assert!(recs[3].dry_run, "dryRun in DeleteOptions counts");
    assert!(!recs[4].dry_run);
    assert_eq!(recs[4].body, None);
    // Bodies are bounded.
    let big = "x".repeat(100 * 1024);
    c.post(
        cms,
        &json!({"metadata": {"name": "big"}, "data": {"k": big}}),
    )
    .expect(201);
    let rec = server.requests().pop().expect("recorded");
    assert_eq!(
        rec.body.as_ref().map(String::len),
        Some(fake_apiserver::RequestRecord::MAX_BODY)
    );
    assert_eq!(rec.body_json(), None);
}

#[test]
fn touch_trigger_makes_resource_version_checks_fail() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL]),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let planned = c.get(&path).expect(200);
    let rv = planned["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let t = server.add_trigger(
        Trigger::new(
            "/autoscalinglisteners/l$",
            TriggerAction::Touch(al_ref("l")),
        )
        .method("PATCH")
        .times(1),
    );
    // The plan's resourceVersion no longer matches at apply time.
    let apply = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "test", "path": "/metadata/finalizers/0", "value": F_AL},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]);
    let e = c
        .patch(&path, "application/json-patch+json", &apply)
        .expect(422);
    assert_eq!(e["reason"], "Invalid");
    assert_eq!(t.fired(), 1);
    assert!(t.errors().is_empty());
    let now = c.get(&path).expect(200);
    assert_ne!(
        now["metadata"]["resourceVersion"],
        planned["metadata"]["resourceVersion"]
    );
    assert_eq!(
        now["metadata"]["finalizers"],
        planned["metadata"]["finalizers"]
    );
    // Fired once only: the retry with the fresh resourceVersion succeeds.
    let apply = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": now["metadata"]["resourceVersion"]},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]);
    c.patch(&path, "application/json-patch+json", &apply)
        .expect(200);
    assert_eq!(t.fired(), 1);
    // Hook writes are not requests.
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH")
            .count(),
        2
    );
}

#[test]
fn delete_precondition_meets_a_changed_object() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL]),
    ]);
    let c = Client::new(&server);
    let path = format!("{ALS}/l");
    let planned = c.get(&path).expect(200);
    server.add_trigger(
        Trigger::new(
            "/autoscalinglisteners/l$",
            TriggerAction::SetAnnotation(al_ref("l"), "x.io/changed".into(), Some("yes".into())),
        )
        .method("DELETE"),
    );
    let e = c
        .delete_with(
            &path,
            &json!({"preconditions": {"uid": planned["metadata"]["uid"], "resourceVersion": planned["metadata"]["resourceVersion"]}}),
        )
        .expect(409);
    assert_eq!(e["reason"], "Conflict");
    let obj = c.get(&path).expect(200);
    assert_eq!(obj["metadata"]["annotations"]["x.io/changed"], "yes");
    assert!(obj["metadata"].get("deletionTimestamp").is_none());
}

#[test]
fn typed_actions_follow_the_registry_semantics() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL]),
        listener("arc", "gone", &[]),
        configmap("arc", "c"),
    ]);
    let c = Client::new(&server);
    c.delete(&format!("{ALS}/l")).expect(200);
    // Adding a finalizer to a deleting object is refused, as for any client.
    let add = server.add_trigger(
        Trigger::new(
            "/configmaps/c$",
            TriggerAction::AddFinalizer(al_ref("l"), "x.io/late".into()),
        )
        .times(1),
    );
    // A concurrent client deletes another object.
    let del = server.add_trigger(
        Trigger::new("/configmaps/c$", TriggerAction::Delete(al_ref("gone"))).times(1),
    );
    c.get("/api/v1/namespaces/arc/configmaps/c").expect(200);
    assert_eq!(add.fired(), 1);
    let errs = add.errors();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].code, 422);
    assert!(
        errs[0]
            .message
            .contains("no new finalizers can be added if the object is being deleted")
    );
    assert_eq!(del.fired(), 1);
    c.get(&format!("{ALS}/gone")).expect(404);
    // Removing the last finalizer of a deleting object deletes it.
    server.add_trigger(Trigger::new(
        "/configmaps/c$",
        TriggerAction::RemoveFinalizer(al_ref("l"), F_AL.into()),
    ));
    c.get("/api/v1/namespaces/arc/configmaps/c").expect(200);
    c.get(&format!("{ALS}/l")).expect(404);
    // A custom hook sees the objects.
    server.clear_triggers();
    server.add_trigger(
        Trigger::new(
            "/configmaps$",
            TriggerAction::Custom(Box::new(|o| {
                let r = ObjectRef::new("v1", "ConfigMap", Some("arc"), "c");
                o.update(&r, |cm| cm["data"]["k"] = json!("hooked"))
                    .expect("update");
            })),
        )
        .method("GET"),
    );
    let l = c.get("/api/v1/namespaces/arc/configmaps").expect(200);
    assert_eq!(l["items"][0]["data"]["k"], "hooked");
}

#[test]
fn direct_helpers_use_the_usual_semantics_and_are_not_logged() {
    let server = start(vec![
        ns("arc"),
        listener_crd(),
        listener("arc", "l", &[F_AL, "x.io/other"]),
    ]);
    let before = server
        .get_object(AL_V, "AutoscalingListener", Some("arc"), "l")
        .expect("exists");
    let after = server
        .update_object(AL_V, "AutoscalingListener", Some("arc"), "l", |o| {
            o["metadata"]["labels"] = json!({"a": "b"});
        })
        .expect("updated");
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(after["metadata"]["labels"]["a"], "b");
    // Status goes through the status subresource.
    let after = server
        .update_object(AL_V, "AutoscalingListener", Some("arc"), "l", |o| {
            o["status"] = json!({"phase": "x"});
        })
        .expect("status");
    assert_eq!(after["status"]["phase"], "x");
    // Deleting: kept by its finalizers.
    let pending = server
        .delete_object(AL_V, "AutoscalingListener", Some("arc"), "l")
        .expect("delete")
        .expect("still there");
    assert!(pending["metadata"]["deletionTimestamp"].is_string());
    let e = server
        .update_object(AL_V, "AutoscalingListener", Some("arc"), "l", |o| {
            o["metadata"]["finalizers"] = json!([F_AL, "x.io/other", "x.io/new"]);
        })
        .expect_err("no new finalizers");
    assert_eq!(e.code, 422);
    // A stale resourceVersion conflicts.
    let e = server
        .update_object(AL_V, "AutoscalingListener", Some("arc"), "l", |o| {
            o["metadata"]["resourceVersion"] = json!("1");
        })
        .expect_err("stale");
    assert_eq!(e.code, 409);
    server
        .update_object(AL_V, "AutoscalingListener", Some("arc"), "l", |o| {
            o["metadata"]["finalizers"] = json!([]);
        })
        .expect("released");
    assert!(
        server
            .get_object(AL_V, "AutoscalingListener", Some("arc"), "l")
            .is_none()
    );
    // Create: admission applies (no namespace → 404).
    let e = server
        .create_object(configmap("nowhere", "x"))
        .expect_err("namespace missing");
    assert_eq!(e.code, 404);
    assert_eq!(e.message, "namespaces \"nowhere\" not found");
    server
        .create_object(configmap("arc", "x"))
        .expect("created");
    let touched = server
        .touch_object("v1", "ConfigMap", Some("arc"), "x")
        .expect("touched");
    assert!(touched["metadata"]["resourceVersion"].is_string());
    assert!(server.requests().is_empty());
}

#[test]
fn create_label_and_forced_delete_through_hooks() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "arc", "name": "p"},
        "spec": {"nodeName": "lost-node", "containers": [{"name": "c", "image": "i"}]}, "status": {"phase": "Running"}});
    let server = start(vec![ns("arc"), pod]);
    let c = Client::new(&server);
    let t = server.add_trigger(
        Trigger::new(
            "^/api/v1/namespaces/arc/configmaps$",
            TriggerAction::Create(configmap("arc", "appeared")),
        )
        .method("GET")
        .query_contains("labelSelector"),
    );
    server.add_trigger(
        Trigger::new(
            "^/api/v1/namespaces/arc/configmaps$",
            TriggerAction::SetLabel(
                ObjectRef::new("v1", "ConfigMap", Some("arc"), "appeared"),
                "a".into(),
                Some("b".into()),
            ),
        )
        .method("GET")
        .query_contains("labelSelector")
        .times(1),
    );
    c.get("/api/v1/namespaces/arc/configmaps").expect(200);
    assert_eq!(t.fired(), 0);
    let l = c
        .get("/api/v1/namespaces/arc/configmaps?labelSelector=a%3Db")
        .expect(200);
    assert_eq!(names(&l), vec!["appeared"]);
    // The second time the create is refused (AlreadyExists) and recorded.
    c.get("/api/v1/namespaces/arc/configmaps?labelSelector=a%3Db")
        .expect(200);
    assert_eq!(t.fired(), 2);
    assert_eq!(t.errors()[0].reason, "AlreadyExists");
    // A pod on a lost node stays Terminating until forced.
    let p = ObjectRef::new("v1", "Pod", Some("arc"), "p");
    let left = server.with_objects(|o| {
        assert_eq!(o.list("v1", "Pod", Some("arc")).len(), 1);
        let pending = o.delete(&p).expect("delete");
        let forced = o.delete_with(&p, Some(0)).expect("force");
        (pending.is_some(), forced)
    });
    assert_eq!(left, (true, None));
}

#[test]
fn public_handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<fake_apiserver::FakeServer>();
    check::<fake_apiserver::ControllerSim>();
    check::<fake_apiserver::TriggerHandle>();
    fn send<T: Send>() {}
    send::<Trigger>();
}
