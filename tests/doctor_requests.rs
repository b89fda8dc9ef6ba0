//! What doctor asks the API server: never a Secret body, and a request count that grows with
//! kinds and pages, not with the number of namespaces.

mod common;

use common::{TestCluster, scenarios_dir};
use fake_apiserver::FakeServer;
use serde_json::{Value, json};

const METADATA_ACCEPT: &str = "as=PartialObjectMetadata";

/// `/api/v1/secrets…` or `/api/v1/namespaces/<ns>/secrets…`.
fn is_secret_request(path: &str) -> bool {
    let seg: Vec<&str> = path.split('/').collect();
    matches!(
        seg.as_slice(),
        ["", "api", "v1", "secrets", ..] | ["", "api", "v1", "namespaces", _, "secrets", ..]
    )
}

#[test]
fn no_secret_is_ever_requested_without_the_metadata_only_accept_header() {
    // Scenarios with many secret references, credential copies and logs.
    for id in ["B0", "S1", "S2", "S4", "S14", "N1"] {
        let c = TestCluster::scenario(id);
        c.server.clear_requests();
        let ctx: &[&str] = if id == "N1" {
            &["--context", "team-dev", "-n", "arc-runners"]
        } else {
            &[]
        };
        let (code, _, stderr) = c.doctor_json(ctx);
        assert!(code == 0 || code == 1, "{id}: {stderr}");
        let reqs = c.server.requests();
        let secret_reqs: Vec<_> = reqs.iter().filter(|r| is_secret_request(&r.path)).collect();
        assert!(!secret_reqs.is_empty(), "{id}: doctor must look at secrets");
        for r in secret_reqs {
            assert_eq!(
                r.method, "GET",
                "{id}: doctor is read-only: {} {}",
                r.method, r.path
            );
            let accept = r.accept.as_deref().unwrap_or("");
            assert!(
                accept.contains(METADATA_ACCEPT),
                "{id}: {} {}?{} sent Accept {accept:?}",
                r.method,
                r.path,
                r.query
            );
        }
        // And nothing but reads (SubjectAccessReviews are the only POSTs).
        for r in &reqs {
            assert!(
                r.method == "GET"
                    || (r.method == "POST" && r.path.contains("subjectaccessreviews")),
                "{id}: unexpected write {} {}",
                r.method,
                r.path
            );
        }
    }
}

#[test]
fn secret_path_classifier() {
    assert!(is_secret_request("/api/v1/secrets"));
    assert!(is_secret_request("/api/v1/namespaces/a/secrets"));
    assert!(is_secret_request("/api/v1/namespaces/a/secrets/x"));
    assert!(!is_secret_request("/api/v1/namespaces/secrets/pods"));
    assert!(!is_secret_request(
        "/apis/actions.github.com/v1alpha1/autoscalingrunnersets"
    ));
}

/// B0 plus `n` extra namespaces, each with what every real namespace has.
fn synthetic(n: usize) -> TestCluster {
    let mut docs: Vec<Value> = Vec::new();
    for i in 0..n {
        let ns = format!("synthetic-{i:04}");
        docs.push(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns},"status":{"phase":"Active"}}));
        docs.push(json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default","namespace":ns}}));
        docs.push(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kube-root-ca.crt","namespace":ns},"data":{"ca.crt":"x"}}));
    }
    TestCluster::from_builder(
        FakeServer::builder()
            .fixture(scenarios_dir().join("B0"))
            .objects(docs),
    )
}

struct Counted {
    total: usize,
    first_pages: Vec<String>,
    touched_synthetic: bool,
}

fn count(n: usize) -> Counted {
    let c = synthetic(n);
    c.server.clear_requests();
    let (code, report, stderr) = c.doctor_json(&["--chunk-size", "500"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        report["summary"]["total"], 0,
        "synthetic namespaces must not cause findings"
    );
    let reqs = c.server.requests();
    let mut first_pages: Vec<String> = reqs
        .iter()
        .filter(|r| !r.query.contains("continue="))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    first_pages.sort();
    Counted {
        total: reqs.len(),
        first_pages,
        touched_synthetic: reqs
            .iter()
            .any(|r| r.path.contains("/namespaces/synthetic-")),
    }
}

#[test]
fn request_count_does_not_grow_with_namespaces() {
    let small = count(10);
    let large = count(1000);
    eprintln!(
        "doctor API requests: 10 namespaces -> {}, 1000 namespaces -> {}",
        small.total, large.total
    );
    // The same requests are made…
    assert_eq!(small.first_pages, large.first_pages);
    // …plus only the extra pages of the kinds that have one object per namespace
    // (Namespace, ServiceAccount, ConfigMap: 1,000+ items at 500 per page = 2 more pages each).
    assert!(
        large.total <= small.total + 6,
        "{} vs {}",
        large.total,
        small.total
    );
    assert!(
        !small.touched_synthetic && !large.touched_synthetic,
        "no per-namespace requests"
    );
}

/// B0 plus B0's scale set copied into `n` more runner namespaces.
fn with_scale_set_copies(n: usize) -> TestCluster {
    let text = std::fs::read_to_string(scenarios_dir().join("B0/cluster.yaml")).expect("B0");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("B0 parses");
    let ars = docs
        .iter()
        .find(|d| d["kind"] == "AutoscalingRunnerSet")
        .expect("B0 has a scale set")
        .clone();
    let mut extra = Vec::new();
    for i in 0..n {
        let ns = format!("runners-{i}");
        extra.push(json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns},"status":{"phase":"Active"}}));
        let mut copy = ars.clone();
        copy["metadata"]["namespace"] = json!(ns);
        copy["metadata"]["uid"] = json!(format!("copy-{i}"));
        extra.push(copy);
    }
    TestCluster::from_builder(
        FakeServer::builder()
            .fixture(scenarios_dir().join("B0"))
            .objects(extra),
    )
}

/// (user, verb, group, resource) → namespaces asked ("" = all namespaces), from the request log.
fn reviews(c: &TestCluster) -> std::collections::BTreeMap<[String; 4], Vec<String>> {
    let mut out: std::collections::BTreeMap<[String; 4], Vec<String>> = Default::default();
    for r in c.server.requests() {
        if r.method != "POST" || !r.path.ends_with("/subjectaccessreviews") {
            continue;
        }
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap_or("{}")).expect("JSON");
        let a = &body["spec"]["resourceAttributes"];
        let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
        out.entry([
            s(&body["spec"]["user"]),
            s(&a["verb"]),
            s(&a["group"]),
            s(&a["resource"]),
        ])
        .or_default()
        .push(s(&a["namespace"]));
    }
    out
}

#[test]
fn access_reviews_do_not_grow_with_runner_namespaces_where_the_controller_may_act_everywhere() {
    let small = with_scale_set_copies(1);
    let big = with_scale_set_copies(6);
    let mut results = Vec::new();
    for c in [&small, &big] {
        c.server.clear_requests();
        let (code, _, stderr) = c.doctor_json(&[]);
        assert!(code == 0 || code == 1, "{stderr}");
        results.push(reviews(c));
    }
    let (small_reviews, big_reviews) = (&results[0], &results[1]);
    for (perm, namespaces) in big_reviews {
        // Asked cluster-wide at most once, and then namespace by namespace only when denied.
        assert!(
            namespaces.iter().filter(|n| n.is_empty()).count() <= 1,
            "{perm:?}: {namespaces:?}"
        );
    }
    // Permissions granted everywhere cost one review, however many namespaces need them.
    let everywhere: Vec<_> = big_reviews
        .iter()
        .filter(|(_, ns)| ns.as_slice() == [String::new()])
        .map(|(p, _)| p)
        .collect();
    assert!(!everywhere.is_empty(), "{big_reviews:#?}");
    for p in &everywhere {
        assert_eq!(small_reviews.get(*p).map(Vec::len), Some(1), "{p:?}");
    }
    // A permission denied cluster-wide is still asked where it is needed (B0's manager Role
    // grants some only in arc-runners), so the analysis sees the same answers.
    assert!(
        big_reviews
            .values()
            .any(|ns| ns.contains(&String::new()) && ns.contains(&"arc-runners".to_owned())),
        "{big_reviews:#?}"
    );
}
