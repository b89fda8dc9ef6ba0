//! Authentication, RBAC, impersonation and access reviews.

mod common;

use common::*;
use serde_json::{Value, json};

fn rbac_fixture() -> Vec<Value> {
    vec![
        ns("arc-runners"),
        ns("other"),
        secret("arc-runners", "github-secret"),
        secret("arc-runners", "other-secret"),
        secret("other", "s"),
        user("alice", &["devs"]),
        user("bob", &[]),
        user("impersonator", &[]),
        // alice: namespace-only reader, plus one secret by name.
        role(
            "arc-runners",
            "reader",
            json!([
                {"apiGroups": [""], "resources": ["pods", "pods/log", "configmaps"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"], "resourceNames": ["github-secret"]}
            ]),
        ),
        role_binding("arc-runners", "alice-reader", "Role", "reader", "alice"),
        // bob: everything in the core group of "other" through a Role on "*".
        role(
            "other",
            "all-core",
            json!([{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]),
        ),
        role_binding("other", "bob-all", "Role", "all-core", "bob"),
        // impersonator may impersonate alice and the group devs.
        cluster_role(
            "impersonate-alice",
            json!([
                {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]},
                {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"], "resourceNames": ["devs"]},
                {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}
            ]),
        ),
        cluster_role_binding(
            "impersonator",
            "impersonate-alice",
            json!([{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "impersonator"}]),
        ),
        // A service account with list on pods cluster-wide.
        cluster_role(
            "pod-lister",
            json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]),
        ),
        cluster_role_binding(
            "sa-pods",
            "pod-lister",
            json!([{"kind": "ServiceAccount", "name": "ctrl", "namespace": "arc-systems"}]),
        ),
    ]
}

#[test]
fn missing_or_unknown_token_is_401() {
    let server = start(vec![]);
    for token in [None, Some("nope".to_string())] {
        let c = Client::with_token(&server, token);
        let b = c.get("/api/v1/namespaces").expect(401);
        assert_eq!(b["kind"], "Status");
        assert_eq!(b["reason"], "Unauthorized");
        assert_eq!(b["message"], "Unauthorized");
        assert_eq!(b["code"], 401);
    }
    // Discovery needs authentication too.
    assert_eq!(
        Client::with_token(&server, None).get("/version").status,
        401
    );
    let recs = server.requests();
    assert!(recs.iter().all(|r| r.status == 401 && r.user.is_empty()));
}

#[test]
fn namespace_only_user_lists_namespaced_but_not_cluster_wide() {
    let server = start(rbac_fixture());
    let alice = Client::as_user(&server, "alice");

    alice.get("/api/v1/namespaces/arc-runners/pods").expect(200);
    let b = alice.get("/api/v1/pods").expect(403);
    assert_eq!(b["reason"], "Forbidden");
    assert_eq!(
        b["message"],
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" at the cluster scope"
    );
    assert_eq!(b["details"], json!({"kind": "pods"}));

    let b = alice.get("/api/v1/namespaces/other/pods").expect(403);
    assert_eq!(
        b["message"],
        "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\""
    );
    // Subresource rules.
    assert_ne!(
        alice
            .get("/api/v1/namespaces/arc-runners/pods/p/log")
            .status,
        403
    );
    let b = alice
        .get("/api/v1/namespaces/arc-runners/pods/p/status")
        .expect(403);
    assert!(
        b["message"]
            .as_str()
            .unwrap_or("")
            .contains("cannot get resource \"pods/status\""),
        "{b}"
    );
    // Discovery is allowed for every authenticated user.
    alice.get("/apis").expect(200);
    alice.get("/api/v1").expect(200);
    alice.get("/version").expect(200);
    let b = alice.get("/metrics").expect(403);
    assert_eq!(
        b["message"],
        "forbidden: User \"alice\" cannot get path \"/metrics\""
    );
}

#[test]
fn resource_names_restrict_gets_and_lists() {
    let server = start(rbac_fixture());
    let alice = Client::as_user(&server, "alice");
    alice
        .get("/api/v1/namespaces/arc-runners/secrets/github-secret")
        .expect(200);
    let b = alice
        .get("/api/v1/namespaces/arc-runners/secrets/other-secret")
        .expect(403);
    assert_eq!(
        b["message"],
        "secrets \"other-secret\" is forbidden: User \"alice\" cannot get resource \"secrets\" in API group \"\" in the namespace \"arc-runners\""
    );
    assert_eq!(b["details"]["name"], "other-secret");
    // A list is not covered by resourceNames...
    alice
        .get("/api/v1/namespaces/arc-runners/secrets")
        .expect(403);
    // ...unless it selects exactly that name (the real RequestInfo does this).
    let l = alice
        .get("/api/v1/namespaces/arc-runners/secrets?fieldSelector=metadata.name%3Dgithub-secret")
        .expect(200);
    assert_eq!(names(&l), vec!["github-secret"]);
}

#[test]
fn namespace_get_is_evaluated_in_its_own_namespace() {
    let server = start(rbac_fixture());
    let bob = Client::as_user(&server, "bob");
    // A Role on "*" in the core group of namespace "other" grants GET of that Namespace...
    bob.get("/api/v1/namespaces/other").expect(200);
    bob.get("/api/v1/namespaces/other/secrets").expect(200);
    // ...but not LIST of namespaces, nor other namespaces.
    bob.get("/api/v1/namespaces").expect(403);
    bob.get("/api/v1/namespaces/arc-runners").expect(403);
}

#[test]
fn missing_role_is_reported_in_the_reason() {
    let mut docs = rbac_fixture();
    docs.push(role_binding(
        "arc-runners",
        "dangling",
        "Role",
        "does-not-exist",
        "bob",
    ));
    let server = start(docs);
    let b = Client::as_user(&server, "bob")
        .get("/api/v1/namespaces/arc-runners/pods")
        .expect(403);
    assert_eq!(
        b["message"],
        "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"arc-runners\": RBAC: role.rbac.authorization.k8s.io \"does-not-exist\" not found"
    );
}

#[test]
fn impersonation_requires_permission_and_switches_the_user() {
    let server = start(rbac_fixture());
    let imp = Client::as_user(&server, "impersonator");
    // Without impersonation the impersonator can do nothing.
    imp.get("/api/v1/namespaces/arc-runners/pods").expect(403);
    let as_alice = Client::as_user(&server, "impersonator").header("Impersonate-User", "alice");
    as_alice
        .get("/api/v1/namespaces/arc-runners/pods")
        .expect(200);
    let b = as_alice.get("/api/v1/pods").expect(403);
    assert!(
        b["message"]
            .as_str()
            .unwrap_or("")
            .contains("User \"alice\""),
        "{b}"
    );

    let as_bob = Client::as_user(&server, "impersonator").header("Impersonate-User", "bob");
    let b = as_bob.get("/api/v1/namespaces/other/pods").expect(403);
    assert_eq!(
        b["message"],
        "users \"bob\" is forbidden: User \"impersonator\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let as_alice_admin = Client::as_user(&server, "impersonator")
        .header("Impersonate-User", "alice")
        .header("Impersonate-Group", "system:masters");
    as_alice_admin.get("/api/v1/pods").expect(403);

    // Service account impersonation gets the service account groups.
    let as_sa = Client::as_user(&server, "impersonator")
        .header("Impersonate-User", "system:serviceaccount:arc-systems:ctrl");
    as_sa.get("/api/v1/pods").expect(200);

    // The admin may impersonate anyone; the record shows both users.
    server.clear_requests();
    let admin_as_alice = Client::new(&server)
        .header("Impersonate-User", "alice")
        .header("Impersonate-Group", "devs");
    admin_as_alice
        .get("/api/v1/namespaces/arc-runners/configmaps")
        .expect(200);
    let rec = server.requests().pop().expect("recorded");
    assert_eq!(rec.user, "alice");
    assert_eq!(rec.authenticated_user, "admin");
    assert_eq!(rec.impersonate_user.as_deref(), Some("alice"));
    assert_eq!(rec.impersonate_groups, vec!["devs".to_string()]);
    // A group without a user is an error.
    let bad = Client::new(&server).header("Impersonate-Group", "devs");
    assert_eq!(bad.get("/api/v1/pods").status, 500);
}

#[test]
fn self_subject_access_review_uses_the_evaluator() {
    let server = start(rbac_fixture());
    let alice = Client::as_user(&server, "alice");
    let review = |ns: &str, verb: &str, resource: &str, name: &str| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": ns, "verb": verb, "resource": resource, "name": name}}})
    };
    let b = alice
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &review("arc-runners", "get", "secrets", "github-secret"),
        )
        .expect(201);
    assert_eq!(b["status"]["allowed"], true);
    assert_eq!(
        b["status"]["reason"],
        "RBAC: allowed by RoleBinding \"alice-reader/arc-runners\" of Role \"reader\" to User \"alice\""
    );
    let b = alice
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &review("", "list", "secrets", ""),
        )
        .expect(201);
    assert_eq!(b["status"]["allowed"], false);
    // Rules review lists what alice can do in the namespace.
    let b = alice
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "arc-runners"}}),
        )
        .expect(201);
    let rules = b["status"]["resourceRules"].as_array().expect("rules");
    assert!(
        rules
            .iter()
            .any(|r| r["resourceNames"] == json!(["github-secret"])),
        "{b}"
    );
}

#[test]
fn subject_access_review_needs_create_permission() {
    let server = start(rbac_fixture());
    let sar = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "alice", "groups": ["devs"], "resourceAttributes": {"namespace": "arc-runners", "verb": "list", "resource": "pods"}}});
    let b = Client::as_user(&server, "alice")
        .post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar)
        .expect(403);
    assert_eq!(
        b["message"],
        "subjectaccessreviews.authorization.k8s.io is forbidden: User \"alice\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
    );
    let admin = Client::new(&server);
    let b = admin
        .post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &sar)
        .expect(201);
    assert_eq!(b["status"]["allowed"], true);
    let mut denied = sar.clone();
    denied["spec"]["resourceAttributes"]["namespace"] = json!("other");
    let b = admin
        .post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &denied,
        )
        .expect(201);
    assert_eq!(b["status"]["allowed"], false);
    // Reviews are create-only.
    assert_eq!(
        admin
            .get("/apis/authorization.k8s.io/v1/subjectaccessreviews")
            .status,
        405
    );
}

#[test]
fn group_subjects_and_service_account_subjects_match() {
    let mut docs = rbac_fixture();
    docs.push(cluster_role(
        "ns-reader",
        json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}]),
    ));
    docs.push(cluster_role_binding(
        "devs-ns",
        "ns-reader",
        json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]),
    ));
    docs.push(json!({"apiVersion": FAKE, "kind": "User", "metadata": {"name": "system:serviceaccount:arc-systems:ctrl"}, "spec": {"token": "sa-token", "groups": ["system:serviceaccounts", "system:serviceaccounts:arc-systems"]}}));
    let server = start(docs);
    Client::as_user(&server, "alice")
        .get("/api/v1/namespaces")
        .expect(200);
    Client::as_user(&server, "bob")
        .get("/api/v1/namespaces")
        .expect(403);
    Client::as_user(&server, "system:serviceaccount:arc-systems:ctrl")
        .get("/api/v1/pods")
        .expect(200);
    Client::as_user(&server, "system:serviceaccount:arc-systems:ctrl")
        .get("/api/v1/secrets")
        .expect(403);
}
