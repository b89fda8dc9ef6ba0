//! Test support: build a [`Snapshot`] straight from the scenario fixtures (the same YAML the fake
//! API server loads), so check unit tests run on exactly the states the end-to-end tests use.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::snapshot::{Collection, Object, PodLog, Scope, Snapshot};

const FAKE_GROUP: &str = "fake.kubectl-arc.dev/v1";

/// Directory holding the scenario fixtures.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios")
}

/// Parse a multi-document YAML file, following `Include` documents.
pub fn load_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("cannot parse fixture {}: {e}", path.display()));
    let mut out = Vec::new();
    for d in docs {
        if d["apiVersion"] == FAKE_GROUP && d["kind"] == "Include" {
            let rel = d["spec"]["path"].as_str().expect("Include needs spec.path");
            let base = path.parent().unwrap_or(Path::new("."));
            out.extend(load_docs(&base.join(rel)));
        } else if !d.is_null() {
            out.push(d);
        }
    }
    out
}

/// A snapshot of fully visible (admin) documents: every collection is scoped `All`.
pub fn snapshot_from_docs(docs: impl IntoIterator<Item = Value>) -> Snapshot {
    let mut snap = Snapshot::default();
    for d in docs {
        let kind = d["kind"].as_str().unwrap_or("").to_owned();
        if d["apiVersion"] == FAKE_GROUP {
            match kind.as_str() {
                "PodLog" => {
                    let s = &d["spec"];
                    snap.logs.push(PodLog {
                        namespace: s["namespace"].as_str().unwrap_or("").to_owned(),
                        pod: s["pod"].as_str().unwrap_or("").to_owned(),
                        container: s["container"].as_str().unwrap_or("").to_owned(),
                        lines: s["text"]
                            .as_str()
                            .unwrap_or("")
                            .lines()
                            .map(str::to_owned)
                            .collect(),
                    });
                }
                "Clock" => snap.now = d["spec"]["now"].as_str().map(str::to_owned),
                _ => {}
            }
            continue;
        }
        if let Some(c) = snap.collection_mut(&kind) {
            c.items.push(Object::from_json(&kind, d));
        }
    }
    for kind in all_kinds() {
        if let Some(c) = snap.collection_mut(kind) {
            c.scope = Scope::All;
        }
    }
    snap
}

fn all_kinds() -> Vec<&'static str> {
    Snapshot::default()
        .collections()
        .iter()
        .map(|(k, _)| *k)
        .collect()
}

/// The snapshot of scenario `id` (e.g. `"S1"`), as an admin would collect it.
pub fn scenario(id: &str) -> Snapshot {
    snapshot_from_docs(load_docs(&scenarios_dir().join(id).join("cluster.yaml")))
}

/// Build an object of `kind` from a JSON literal (metadata + body).
pub fn obj(kind: &str, v: Value) -> Object {
    Object::from_json(kind, v)
}

/// Remove objects matching a predicate from every collection (scenario mutations in tests).
pub fn remove(snap: &mut Snapshot, pred: impl Fn(&Object) -> bool) {
    for kind in all_kinds() {
        if let Some(c) = snap.collection_mut(kind) {
            c.items.retain(|o| !pred(o));
        }
    }
}

/// Find a mutable object by kind/namespace/name (panics when absent: tests only).
pub fn get_mut<'a>(
    snap: &'a mut Snapshot,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> &'a mut Object {
    let c: &mut Collection = snap.collection_mut(kind).expect("known kind");
    c.items
        .iter_mut()
        .find(|o| o.meta.name == name && o.meta.namespace == ns)
        .unwrap_or_else(|| panic!("{kind} {ns:?}/{name} not in snapshot"))
}

/// B0 with its controller Deployment moved to `arc-controller` (its bindings still name
/// arc-systems): the seed user story in its smallest form.
pub fn b0_controller_moved() -> Snapshot {
    let mut snap = scenario("B0");
    let dep = get_mut(
        &mut snap,
        "Deployment",
        Some("arc-systems"),
        "arc-gha-rs-controller",
    );
    dep.meta.namespace = Some("arc-controller");
    snap
}

/// Codes (with primary object) of findings, for compact assertions.
pub fn codes(findings: &[crate::findings::Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| match f.primary() {
            Some(p) => format!("{} {}", f.code, p),
            None => f.code.to_owned(),
        })
        .collect()
}

/// A minimal metadata JSON helper.
pub fn meta(ns: Option<&str>, name: &str) -> Value {
    match ns {
        Some(ns) => json!({"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}")}),
        None => json!({"name": name, "uid": format!("uid-{name}")}),
    }
}
