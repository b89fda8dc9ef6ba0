//! The controllers a real control plane runs, executed synchronously after
//! every write until nothing changes: removal of deleting objects without
//! finalizers, a kubelet for pods on existing nodes, the garbage collector
//! (background/foreground/orphan), the namespace controller and the CRD
//! finalizer.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::catalog::{CRD_GROUP, CRD_KIND, Catalog, ResourceType};
use crate::meta::{self, OwnerRef};
use crate::registry::{
    self, CRD_CLEANUP_FINALIZER, DeleteOptions, FINALIZER_FOREGROUND, FINALIZER_ORPHAN,
    set_condition,
};
use crate::store::{ObjKey, Store};

const MAX_ROUNDS: usize = 200;

/// Run every controller until the store is stable.
pub(crate) fn reconcile(store: &mut Store, now: Timestamp) {
    for _ in 0..MAX_ROUNDS {
        let before = store.current_rv();
        let catalog = Catalog::build(store);
        finalize_pass(store);
        orphan_pass(store, &catalog);
        foreground_pass(store, &catalog);
        gc_pass(store, &catalog, now);
        namespace_pass(store, &catalog, now);
        crd_pass(store, &catalog, now);
        if store.current_rv() == before {
            return;
        }
    }
}

fn put(store: &mut Store, key: &ObjKey, mut obj: Value) {
    let rv = store.next_rv();
    meta::set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
    store.put(key, obj);
}

fn drop_object(store: &mut Store, key: &ObjKey) {
    store.remove(key);
}

fn remove_finalizer(store: &mut Store, key: &ObjKey, fin: &str) {
    if let Some(mut obj) = store.get(key).cloned() {
        let fins: Vec<String> = meta::finalizers(&obj)
            .into_iter()
            .filter(|f| f != fin)
            .collect();
        meta::set_finalizers(&mut obj, &fins);
        put(store, key, obj);
    }
}

fn node_exists(store: &Store, node: &str) -> bool {
    !node.is_empty() && store.contains(&ObjKey::new("", "Node", "", node))
}

/// Deleting objects whose finalizers are all gone disappear; pods are
/// finished by a kubelet when their node exists (and stay Terminating when it
/// does not).
fn finalize_pass(store: &mut Store) {
    for key in store.keys() {
        let Some(obj) = store.get(&key) else { continue };
        if !meta::is_deleting(obj) {
            continue;
        }
        let fins = meta::finalizers(obj);
        if key.group.is_empty() && key.kind == "Pod" {
            let node = meta::str_field(obj, &["spec", "nodeName"]).to_string();
            let grace = meta::deletion_grace(obj);
            let kubelet = node_exists(store, &node);
            if fins.is_empty() {
                if node.is_empty() || kubelet || grace == Some(0) {
                    drop_object(store, &key);
                }
            } else if kubelet && grace != Some(0) {
                // The kubelet finished the pod: its final delete has grace 0.
                let mut o = obj.clone();
                meta::set_meta(&mut o, "deletionGracePeriodSeconds", json!(0));
                put(store, &key, o);
            }
            continue;
        }
        if key.group.is_empty() && key.kind == "Namespace" {
            let spec_fins = meta::string_list(obj.get("spec").and_then(|s| s.get("finalizers")));
            if fins.is_empty() && spec_fins.is_empty() {
                drop_object(store, &key);
            }
            continue;
        }
        if fins.is_empty() {
            drop_object(store, &key);
        }
    }
}

/// Where an owner reference points.
enum Owner {
    /// The owner's kind is not served: the GC cannot decide.
    Unknown,
    Absent,
    Present(ObjKey, bool /* waiting for dependents (foreground) */),
}

fn lookup_owner(store: &Store, catalog: &Catalog, dependent_ns: &str, r: &OwnerRef) -> Owner {
    let Some(rt) = catalog.by_api_version_kind(&r.api_version, &r.kind) else {
        return Owner::Unknown;
    };
    if rt.namespaced && dependent_ns.is_empty() {
        return Owner::Absent;
    }
    let key = ObjKey::new(
        &rt.group,
        &rt.kind,
        if rt.namespaced { dependent_ns } else { "" },
        &r.name,
    );
    match store.get(&key) {
        Some(o) if meta::uid(o) == r.uid => {
            let waiting = meta::is_deleting(o)
                && meta::finalizers(o)
                    .iter()
                    .any(|f| f == FINALIZER_FOREGROUND);
            Owner::Present(key, waiting)
        }
        _ => Owner::Absent,
    }
}

/// Dependents of every owner uid: (dependent key, its reference).
fn dependents_index(store: &Store) -> HashMap<String, Vec<(ObjKey, OwnerRef)>> {
    let mut idx: HashMap<String, Vec<(ObjKey, OwnerRef)>> = HashMap::new();
    for obj in store.iter() {
        for r in meta::owner_refs(obj) {
            idx.entry(r.uid.clone())
                .or_default()
                .push((ObjKey::of(obj), r));
        }
    }
    idx
}

/// Dependents of `owner` that really refer to it (namespace rules applied).
fn dependents_of(
    store: &Store,
    catalog: &Catalog,
    idx: &HashMap<String, Vec<(ObjKey, OwnerRef)>>,
    owner_key: &ObjKey,
    owner_uid: &str,
) -> Vec<(ObjKey, OwnerRef)> {
    idx.get(owner_uid)
        .map(|deps| {
            deps.iter()
                .filter(
                    |(dk, r)| match lookup_owner(store, catalog, &dk.namespace, r) {
                        Owner::Present(k, _) => &k == owner_key,
                        _ => false,
                    },
                )
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The `orphan` finalizer: drop references to the owner, then the finalizer.
fn orphan_pass(store: &mut Store, catalog: &Catalog) {
    let owners: Vec<(ObjKey, String)> = store
        .iter()
        .filter(|o| {
            meta::is_deleting(o) && meta::finalizers(o).iter().any(|f| f == FINALIZER_ORPHAN)
        })
        .map(|o| (ObjKey::of(o), meta::uid(o).to_string()))
        .collect();
    if owners.is_empty() {
        return;
    }
    let idx = dependents_index(store);
    for (owner_key, uid) in owners {
        for (dk, _) in dependents_of(store, catalog, &idx, &owner_key, &uid) {
            if let Some(mut d) = store.get(&dk).cloned()
                && meta::remove_owner_refs(&mut d, std::slice::from_ref(&uid))
            {
                put(store, &dk, d);
            }
        }
        remove_finalizer(store, &owner_key, FINALIZER_ORPHAN);
    }
}

/// `foregroundDeletion`: released once no dependent blocks the owner.
fn foreground_pass(store: &mut Store, catalog: &Catalog) {
    let owners: Vec<(ObjKey, String)> = store
        .iter()
        .filter(|o| {
            meta::is_deleting(o)
                && meta::finalizers(o)
                    .iter()
                    .any(|f| f == FINALIZER_FOREGROUND)
        })
        .map(|o| (ObjKey::of(o), meta::uid(o).to_string()))
        .collect();
    if owners.is_empty() {
        return;
    }
    let idx = dependents_index(store);
    for (owner_key, uid) in owners {
        let blocking = dependents_of(store, catalog, &idx, &owner_key, &uid)
            .iter()
            .any(|(_, r)| r.block_owner_deletion);
        if !blocking {
            remove_finalizer(store, &owner_key, FINALIZER_FOREGROUND);
        }
    }
}

/// `attemptToDeleteItem` for every object with owner references.
fn gc_pass(store: &mut Store, catalog: &Catalog, now: Timestamp) {
    let candidates: Vec<ObjKey> = store
        .iter()
        .filter(|o| !meta::owner_refs(o).is_empty() && !meta::is_deleting(o))
        .map(ObjKey::of)
        .collect();
    if candidates.is_empty() {
        return;
    }
    let idx = dependents_index(store);
    for key in candidates {
        let Some(obj) = store.get(&key).cloned() else {
            continue;
        };
        if meta::is_deleting(&obj) {
            continue;
        }
        let refs = meta::owner_refs(&obj);
        if refs.is_empty() {
            continue;
        }
        let mut solid = 0usize;
        let mut dangling: Vec<String> = Vec::new();
        let mut waiting: Vec<String> = Vec::new();
        for r in &refs {
            match lookup_owner(store, catalog, &key.namespace, r) {
                Owner::Unknown => solid += 1,
                Owner::Absent => dangling.push(r.uid.clone()),
                Owner::Present(_, true) => waiting.push(r.uid.clone()),
                Owner::Present(_, false) => solid += 1,
            }
        }
        if solid > 0 {
            if dangling.is_empty() && waiting.is_empty() {
                continue;
            }
            let mut d = obj.clone();
            let mut uids = dangling;
            uids.extend(waiting);
            if meta::remove_owner_refs(&mut d, &uids) {
                put(store, &key, d);
            }
            continue;
        }
        let Some(rt) = catalog.by_kind(&key.group, &key.kind).cloned() else {
            continue;
        };
        let has_dependents = idx.get(meta::uid(&obj)).is_some_and(|d| !d.is_empty());
        let fins = meta::finalizers(&obj);
        let policy = if !waiting.is_empty() && has_dependents {
            "Foreground"
        } else if fins.iter().any(|f| f == FINALIZER_ORPHAN) {
            "Orphan"
        } else if fins.iter().any(|f| f == FINALIZER_FOREGROUND) {
            "Foreground"
        } else {
            "Background"
        };
        let _ = registry::delete(
            store,
            now,
            &rt,
            &key,
            &DeleteOptions::with_policy(policy),
            false,
        );
    }
}

const NS_CONDITIONS: &[(&str, &str, &str)] = &[
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// The namespace controller: delete everything in a Terminating namespace,
/// report what remains in its conditions, release the `kubernetes`
/// finalizer when it is empty.
fn namespace_pass(store: &mut Store, catalog: &Catalog, now: Timestamp) {
    let terminating: Vec<ObjKey> = store
        .list("", "Namespace")
        .filter(|n| meta::is_deleting(n))
        .map(ObjKey::of)
        .collect();
    for ns_key in terminating {
        let Some(ns_obj) = store.get(&ns_key).cloned() else {
            continue;
        };
        let ns = ns_key.name.clone();
        let spec_fins = meta::string_list(ns_obj.get("spec").and_then(|s| s.get("finalizers")));
        if !spec_fins.iter().any(|f| f == "kubernetes") {
            continue;
        }
        let kinds: Vec<ResourceType> = catalog.namespaced_kinds().into_iter().cloned().collect();
        for rt in &kinds {
            let keys: Vec<ObjKey> = store
                .list_from(&rt.group, &rt.kind, Some(&ns), None)
                .filter(|(_, o)| !meta::is_deleting(o))
                .map(|(_, o)| ObjKey::of(o))
                .collect();
            for k in keys {
                let _ = registry::delete(store, now, rt, &k, &DeleteOptions::background(), false);
            }
        }
        let mut remaining: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_finalizer: BTreeMap<String, usize> = BTreeMap::new();
        for rt in &kinds {
            for (_, o) in store.list_from(&rt.group, &rt.kind, Some(&ns), None) {
                *remaining
                    .entry(format!("{}.{}", rt.resource, rt.group))
                    .or_default() += 1;
                for f in meta::finalizers(o) {
                    *by_finalizer.entry(f).or_default() += 1;
                }
            }
        }
        let Some(mut ns_obj) = store.get(&ns_key).cloned() else {
            continue;
        };
        for (ty, ok_reason, ok_message) in NS_CONDITIONS {
            let (status, reason, message) = match *ty {
                "NamespaceContentRemaining" if !remaining.is_empty() => {
                    let mut parts: Vec<String> = remaining
                        .iter()
                        .map(|(r, n)| format!("{r} has {n} resource instances"))
                        .collect();
                    parts.sort();
                    (
                        "True",
                        "SomeResourcesRemain".to_string(),
                        format!("Some resources are remaining: {}", parts.join(", ")),
                    )
                }
                "NamespaceFinalizersRemaining" if !by_finalizer.is_empty() => {
                    let mut parts: Vec<String> = by_finalizer
                        .iter()
                        .map(|(f, n)| format!("{f} in {n} resource instances"))
                        .collect();
                    parts.sort();
                    (
                        "True",
                        "SomeFinalizersRemain".to_string(),
                        format!(
                            "Some content in the namespace has finalizers remaining: {}",
                            parts.join(", ")
                        ),
                    )
                }
                _ => ("False", ok_reason.to_string(), ok_message.to_string()),
            };
            set_condition(&mut ns_obj, ty, status, &reason, &message, now);
        }
        if remaining.is_empty() {
            let fins: Vec<String> = spec_fins
                .into_iter()
                .filter(|f| f != "kubernetes")
                .collect();
            if let Some(spec) = ns_obj.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("finalizers".into(), json!(fins));
            }
        }
        let current = store.get(&ns_key).cloned();
        if current.as_ref() != Some(&ns_obj) {
            put(store, &ns_key, ns_obj);
        }
    }
}

/// The CRD finalizer: delete every instance, then release the CRD.
fn crd_pass(store: &mut Store, catalog: &Catalog, now: Timestamp) {
    let deleting: Vec<Value> = store
        .list(CRD_GROUP, CRD_KIND)
        .filter(|c| {
            meta::is_deleting(c)
                && meta::finalizers(c)
                    .iter()
                    .any(|f| f == CRD_CLEANUP_FINALIZER)
        })
        .cloned()
        .collect();
    for crd in deleting {
        let crd_key = ObjKey::of(&crd);
        let group = meta::str_field(&crd, &["spec", "group"]).to_string();
        let kind = meta::str_field(&crd, &["spec", "names", "kind"]).to_string();
        if let Some(rt) = catalog.by_kind(&group, &kind).cloned() {
            let keys: Vec<ObjKey> = store
                .list(&group, &kind)
                .filter(|o| !meta::is_deleting(o))
                .map(ObjKey::of)
                .collect();
            for k in keys {
                let _ = registry::delete(store, now, &rt, &k, &DeleteOptions::background(), false);
            }
        }
        let remaining = store.list(&group, &kind).count();
        let Some(mut obj) = store.get(&crd_key).cloned() else {
            continue;
        };
        if remaining == 0 {
            let fins: Vec<String> = meta::finalizers(&obj)
                .into_iter()
                .filter(|f| f != CRD_CLEANUP_FINALIZER)
                .collect();
            meta::set_finalizers(&mut obj, &fins);
            set_condition(
                &mut obj,
                "Terminating",
                "False",
                "InstanceDeletionCompleted",
                "removed all instances",
                now,
            );
        } else {
            set_condition(
                &mut obj,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                now,
            );
        }
        if store.get(&crd_key) != Some(&obj) {
            put(store, &crd_key, obj);
        }
    }
}
