//! The plain-data picture of a cluster that every check reads.
//!
//! `cluster` fills a [`Snapshot`]; everything downstream (checks, plan, report) is pure and only
//! reads it. Objects are kept as their metadata plus the rest of the JSON body (`spec`, `status`,
//! `rules`, …) so checks can read any field without a typed struct per kind. Secrets and other
//! bulky kinds are collected metadata-only: their `body` is always `Null`.
//!
//! A snapshot of 1,000 runner namespaces holds ~25,000 objects for the whole run, so everything
//! in it is compact: strings are interned (`&'static str`, [`crate::intern`]), labels and
//! annotations are sorted pairs ([`StrMap`]), bodies are [`Node`]s (JSON with boxed-slice objects,
//! 24 bytes a value) pruned to the fields the analysis reads.
//!
//! Every collection records how far it was listed ([`Scope`]): a lookup outside that scope returns
//! [`Lookup::Unknown`], never "missing" — a 403 means "not checked", not "absent".

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::intern::{Str, StrMap, intern};
use crate::node::Node;

/// `metadata` of any object, in the shape the checks need.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// Kind, e.g. `AutoscalingRunnerSet` (always set by the collector).
    pub kind: Str,
    pub namespace: Option<Str>,
    pub name: Str,
    pub uid: Str,
    pub resource_version: Str,
    pub labels: StrMap,
    pub annotations: StrMap,
    pub finalizers: Vec<Str>,
    pub deletion_timestamp: Option<Str>,
    pub creation_timestamp: Option<Str>,
    pub owner_references: Vec<OwnerRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerRef {
    pub api_version: Str,
    pub kind: Str,
    pub name: Str,
    pub uid: Str,
    pub controller: bool,
}

impl Meta {
    /// Parse `metadata` of a Kubernetes object (or of a PartialObjectMetadata item).
    pub fn from_json(kind: &str, metadata: &Value) -> Meta {
        let s = |k: &str| metadata.get(k).and_then(Value::as_str).map(intern);
        let map = |k: &str, dropped: &[&str]| -> StrMap {
            metadata
                .get(k)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k, v)))
                        .filter(|(k, _)| !dropped.contains(&k.as_str()))
                        .collect()
                })
                .unwrap_or_default()
        };
        let finalizers = metadata
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(intern).collect())
            .unwrap_or_default();
        let owner_references = metadata
            .get("ownerReferences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|o| OwnerRef {
                        api_version: str_of(o, "apiVersion"),
                        kind: str_of(o, "kind"),
                        name: str_of(o, "name"),
                        uid: str_of(o, "uid"),
                        controller: o
                            .get("controller")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Meta {
            kind: intern(kind),
            namespace: s("namespace").filter(|n| !n.is_empty()),
            name: s("name").unwrap_or_default(),
            uid: s("uid").unwrap_or_default(),
            resource_version: s("resourceVersion").unwrap_or_default(),
            labels: map("labels", &[]),
            annotations: map("annotations", DROPPED_ANNOTATIONS),
            finalizers,
            deletion_timestamp: s("deletionTimestamp"),
            creation_timestamp: s("creationTimestamp"),
            owner_references,
        }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key)
    }

    pub fn is_deleting(&self) -> bool {
        self.deletion_timestamp.is_some()
    }

    pub fn has_finalizer(&self, f: &str) -> bool {
        self.finalizers.contains(&f)
    }

    pub fn ns(&self) -> &str {
        self.namespace.unwrap_or("")
    }

    pub fn obj_ref(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.to_owned(),
            namespace: self.namespace.map(str::to_owned),
            name: self.name.to_owned(),
        }
    }

    /// `ns/name` (or `name` for cluster-scoped objects), for messages.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

fn str_of(v: &Value, k: &str) -> Str {
    intern(v.get(k).and_then(Value::as_str).unwrap_or_default())
}

/// A reference to an object (which may not exist), as findings and plans name them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> ObjectRef {
        ObjectRef::new(kind, Some(namespace), name)
    }

    pub fn cluster(kind: &str, name: &str) -> ObjectRef {
        ObjectRef::new(kind, None, name)
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One collected object: metadata plus the rest of its body (without `metadata`).
/// For metadata-only collections `body` is `Node::Null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    pub meta: Meta,
    pub body: Node,
}

impl Object {
    /// Build from a full object JSON (`{"apiVersion":…,"kind":…,"metadata":…,…}`) or a
    /// PartialObjectMetadata item. `kind` wins over the JSON's `kind` (metadata items say
    /// `PartialObjectMetadata`). The body is pruned to what the analysis reads ([`keeps_field`],
    /// [`prune_field`]), exactly as the collector's page decoder does.
    pub fn from_json(kind: &str, v: Value) -> Object {
        let Value::Object(mut m) = v else {
            return Object {
                meta: Meta::from_json(kind, &Value::Null),
                body: Node::Null,
            };
        };
        let metadata = m.remove("metadata").unwrap_or(Value::Null);
        let meta = Meta::from_json(kind, &metadata);
        drop(metadata);
        let mut body = serde_json::Map::new();
        for (key, mut value) in m {
            if keeps_field(kind, &key) {
                prune_field(kind, &key, &mut value);
                body.insert(key, value);
            }
        }
        let body = if body.is_empty() {
            Node::Null
        } else {
            Node::from(Value::Object(body))
        };
        Object { meta, body }
    }

    /// `from_json` without pruning: the whole body (tests compare the analysis on both).
    #[cfg(test)]
    pub(crate) fn from_json_unpruned(kind: &str, v: Value) -> Object {
        let mut o = Object::from_json(kind, Value::Null);
        o.meta = Meta::from_json(kind, v.get("metadata").unwrap_or(&Value::Null));
        if let Value::Object(mut m) = v {
            for k in ["metadata", "apiVersion", "kind"] {
                m.remove(k);
            }
            if kind == "Secret" {
                m.remove("data");
                m.remove("stringData");
            }
            if !m.is_empty() {
                o.body = Node::from(Value::Object(m));
            }
        }
        o
    }

    /// The value at a JSON pointer into the body, e.g. `/spec/githubConfigSecret`.
    pub fn at(&self, pointer: &str) -> Option<&Node> {
        self.body.pointer(pointer)
    }

    /// A non-empty string at a JSON pointer.
    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.at(pointer)
            .and_then(Node::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn i64(&self, pointer: &str) -> Option<i64> {
        self.at(pointer).and_then(Node::as_i64)
    }

    pub fn array(&self, pointer: &str) -> &[Node] {
        self.at(pointer).and_then(Node::as_array).unwrap_or(&[])
    }
}

// ---------------------------------------------------------------------------------------------
// Pruning: keep only what the analysis reads.
//
// Objects are kept for the whole run, so everything collected is cut down to the fields that
// checks, the model, log scanning and reports read (found by `rg '\.(str|at|array|i64)\("/' src`
// and the `["…"]` indexing in `src/checks`, `src/model.rs`, `src/rbac.rs`, `src/logscan.rs`).
// Bulky kinds with many objects are cut hardest; kinds with few objects (Deployments, CRDs,
// webhooks, Namespaces, the ARC kinds except runners) keep their whole body. `managedFields` is
// never kept (it is not a `Meta` field), nor Secret payloads. Reading a new field of a pruned kind
// means adding it here; `tests::pruning_keeps_what_the_checks_read` runs every check on pruned
// and unpruned fixtures and fails when they disagree.

/// Annotations never kept: large, and read by nothing.
pub const DROPPED_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// Whether the top-level body field `key` of an object of `kind` is kept.
pub fn keeps_field(kind: &str, key: &str) -> bool {
    match (kind, key) {
        (_, "metadata" | "apiVersion" | "kind") => false,
        // Never keep Secret payloads, even if a caller handed us a full object.
        ("Secret", k) => !matches!(k, "data" | "stringData"),
        ("Pod", k) => matches!(k, "spec" | "status"),
        ("Role" | "ClusterRole", k) => matches!(k, "rules" | "aggregationRule"),
        ("RoleBinding" | "ClusterRoleBinding", k) => matches!(k, "subjects" | "roleRef"),
        _ => true,
    }
}

/// Cut a kept top-level field down to what is read (and drop the spare capacity parsing left in
/// its arrays: objects are kept for the whole run).
pub fn prune_field(kind: &str, key: &str, v: &mut Value) {
    prune_kind_field(kind, key, v);
    shrink(v);
}

fn shrink(v: &mut Value) {
    match v {
        Value::Array(a) => {
            a.shrink_to_fit();
            a.iter_mut().for_each(shrink);
        }
        Value::Object(m) => m.values_mut().for_each(shrink),
        _ => {}
    }
}

fn prune_kind_field(kind: &str, key: &str, v: &mut Value) {
    match (kind, key) {
        ("Pod", "spec") => prune_pod_spec(v),
        ("Pod", "status") => prune_pod_status(v),
        // The runner pod template: the runner Pod itself is collected.
        ("EphemeralRunner", "spec") => remove_keys(v, &["spec", "metadata"]),
        ("EphemeralRunnerSet", "spec") => {
            if let Some(ers) = v.get_mut("ephemeralRunnerSpec") {
                remove_keys(ers, &["spec", "metadata"]);
            }
        }
        _ => {}
    }
}

fn remove_keys(v: &mut Value, keys: &[&str]) {
    if let Some(m) = v.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
}

fn retain_keys(v: &mut Value, keep: &[&str]) {
    if let Some(m) = v.as_object_mut() {
        m.retain(|k, _| keep.contains(&k.as_str()));
    }
}

/// Pod spec: containers (identity, command line, env and secret references), Secret and
/// ConfigMap volumes, pull secrets, node and ServiceAccount.
fn prune_pod_spec(spec: &mut Value) {
    retain_keys(
        spec,
        &[
            "containers",
            "initContainers",
            "volumes",
            "imagePullSecrets",
            "nodeName",
            "serviceAccountName",
        ],
    );
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                retain_keys(c, &["name", "image", "command", "args", "env", "envFrom"]);
            }
        }
    }
    if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        vols.retain_mut(|v| {
            if let Some(sources) = v
                .pointer_mut("/projected/sources")
                .and_then(Value::as_array_mut)
            {
                sources.retain(|s| s.get("secret").is_some());
            }
            let projected = v
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            if !projected {
                remove_keys(v, &["projected"]);
            }
            retain_keys(v, &["name", "secret", "configMap", "projected"]);
            v.get("secret").is_some() || v.get("configMap").is_some() || projected
        });
    }
}

/// Pod status: phase and container states (waiting/terminated reasons and messages).
fn prune_pod_status(status: &mut Value) {
    retain_keys(
        status,
        &[
            "phase",
            "reason",
            "message",
            "containerStatuses",
            "initContainerStatuses",
        ],
    );
    for list in ["containerStatuses", "initContainerStatuses"] {
        if let Some(cs) = status.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                retain_keys(
                    c,
                    &[
                        "name",
                        "image",
                        "ready",
                        "started",
                        "restartCount",
                        "state",
                        "lastState",
                    ],
                );
                for state in ["state", "lastState"] {
                    // `running: {startedAt}` carries nothing the analysis reads.
                    if let Some(r) = c.pointer_mut(&format!("/{state}/running"))
                        && let Some(m) = r.as_object_mut()
                    {
                        m.clear();
                    }
                }
            }
        }
    }
}

/// How much of a kind was listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// Not listed at all (forbidden, API not installed, or not attempted).
    #[default]
    None,
    /// Listed cluster-wide: absence is meaningful everywhere.
    All,
    /// Listed only in these namespaces (per-namespace fallback after a cluster-wide 403).
    Namespaces(BTreeSet<String>),
}

impl Scope {
    /// Whether absence of an object in `namespace` (None = cluster-scoped) is meaningful.
    pub fn covers(&self, namespace: Option<&str>) -> bool {
        match (self, namespace) {
            (Scope::All, _) => true,
            (Scope::Namespaces(set), Some(ns)) => set.contains(ns),
            _ => false,
        }
    }
}

/// Result of looking up an object by name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    Found(&'a Object),
    /// Listed, and not there.
    Missing,
    /// Not listed where it would be: we cannot tell.
    Unknown,
}

impl<'a> Lookup<'a> {
    pub fn found(self) -> Option<&'a Object> {
        match self {
            Lookup::Found(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_missing(self) -> bool {
        matches!(self, Lookup::Missing)
    }
}

/// All objects of one kind that were collected, and how far the listing reached.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Collection {
    pub items: Vec<Object>,
    pub scope: Scope,
}

impl Collection {
    pub fn new(scope: Scope, mut items: Vec<Object>) -> Collection {
        // Kept for the whole run: drop the growth slack of listing page by page.
        items.shrink_to_fit();
        Collection { items, scope }
    }

    /// A fully listed collection (tests and fixtures).
    pub fn all(items: Vec<Object>) -> Collection {
        Collection::new(Scope::All, items)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Object> {
        self.items.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, namespace: Option<&str>, name: &str) -> Lookup<'_> {
        match self
            .items
            .iter()
            .find(|o| o.meta.name == name && o.meta.namespace == namespace)
        {
            Some(o) => Lookup::Found(o),
            None if self.scope.covers(namespace) => Lookup::Missing,
            None => Lookup::Unknown,
        }
    }

    pub fn by_uid(&self, uid: &str) -> Option<&Object> {
        self.items.iter().find(|o| o.meta.uid == uid)
    }

    pub fn in_namespace<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.items
            .iter()
            .filter(move |o| o.meta.namespace == Some(ns))
    }
}

impl<'a> IntoIterator for &'a Collection {
    type Item = &'a Object;
    type IntoIter = std::slice::Iter<'a, Object>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// The tail of one container's log.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PodLog {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub lines: Vec<String>,
}

/// One authorization question asked about a ServiceAccount (SubjectAccessReview), or answered
/// offline from the bindings when the caller may not create reviews.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AccessQuestion {
    /// `system:serviceaccount:<ns>:<name>`.
    pub user: Str,
    pub verb: Str,
    /// API group ("" = core).
    pub group: Str,
    pub resource: Str,
    pub namespace: Str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessAnswer {
    pub question: AccessQuestion,
    pub allowed: bool,
    /// `SubjectAccessReview` when the API server answered.
    pub source: Str,
}

/// Something that could not be collected; reported as `ARC-NOT-CHECKED`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    /// What was not checked, e.g. `secrets (cluster-wide)` or `pods/log arc-systems/x`.
    pub what: String,
    /// Kind affected, when the gap is a listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Namespace affected (None = cluster-wide / cluster-scoped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Why, e.g. the API server's 403 message.
    pub reason: String,
}

/// Everything collected from the cluster.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Collection time (RFC 3339), used for ages in messages; None in unit tests.
    pub now: Option<String>,
    pub namespaces: Collection,
    pub nodes: Collection,
    /// Controller Deployments of both generations (filtered from all Deployments).
    pub deployments: Collection,
    /// ARC-related Pods (controller, listener, runner, legacy runner, hook pods), full objects.
    pub pods: Collection,
    pub service_accounts: Collection,
    /// Metadata only. Never contains data.
    pub secrets: Collection,
    /// Metadata only.
    pub config_maps: Collection,
    pub services: Collection,
    pub endpoints: Collection,
    pub roles: Collection,
    pub role_bindings: Collection,
    pub cluster_roles: Collection,
    pub cluster_role_bindings: Collection,
    /// The ARC CustomResourceDefinitions of both groups that exist.
    pub crds: Collection,
    pub autoscaling_runner_sets: Collection,
    pub autoscaling_listeners: Collection,
    pub ephemeral_runner_sets: Collection,
    pub ephemeral_runners: Collection,
    pub runners: Collection,
    pub runner_deployments: Collection,
    pub runner_replica_sets: Collection,
    pub runner_sets: Collection,
    pub horizontal_runner_autoscalers: Collection,
    pub mutating_webhooks: Collection,
    pub validating_webhooks: Collection,
    pub logs: Vec<PodLog>,
    pub access: Vec<AccessAnswer>,
    pub gaps: Vec<Gap>,
}

impl Snapshot {
    /// Does the namespace exist? `None` when namespaces could not be listed.
    pub fn namespace_exists(&self, ns: &str) -> Option<bool> {
        match self.namespaces.get(None, ns) {
            Lookup::Found(_) => Some(true),
            Lookup::Missing => Some(false),
            Lookup::Unknown => None,
        }
    }

    /// The Namespace object, if listed.
    pub fn namespace(&self, ns: &str) -> Option<&Object> {
        self.namespaces.get(None, ns).found()
    }

    /// Is the namespace Terminating (phase or deletionTimestamp)?
    pub fn namespace_terminating(&self, ns: &str) -> bool {
        self.namespace(ns)
            .is_some_and(|n| n.meta.is_deleting() || n.str("/status/phase") == Some("Terminating"))
    }

    /// The answer to an access question, if one was collected.
    pub fn access(&self, q: &AccessQuestion) -> Option<&AccessAnswer> {
        self.access.iter().find(|a| &a.question == q)
    }

    /// Logs of one pod (all containers).
    pub fn logs_of<'a>(
        &'a self,
        ns: &'a str,
        pod: &'a str,
    ) -> impl Iterator<Item = &'a PodLog> + 'a {
        self.logs
            .iter()
            .filter(move |l| l.namespace == ns && l.pod == pod)
    }

    /// Every collection with its kind name, for generic scans (e.g. "anything with finalizer X").
    pub fn collections(&self) -> [(&'static str, &Collection); 25] {
        [
            ("Namespace", &self.namespaces),
            ("Node", &self.nodes),
            ("Deployment", &self.deployments),
            ("Pod", &self.pods),
            ("ServiceAccount", &self.service_accounts),
            ("Secret", &self.secrets),
            ("ConfigMap", &self.config_maps),
            ("Service", &self.services),
            ("Endpoints", &self.endpoints),
            ("Role", &self.roles),
            ("RoleBinding", &self.role_bindings),
            ("ClusterRole", &self.cluster_roles),
            ("ClusterRoleBinding", &self.cluster_role_bindings),
            ("CustomResourceDefinition", &self.crds),
            ("AutoscalingRunnerSet", &self.autoscaling_runner_sets),
            ("AutoscalingListener", &self.autoscaling_listeners),
            ("EphemeralRunnerSet", &self.ephemeral_runner_sets),
            ("EphemeralRunner", &self.ephemeral_runners),
            ("Runner", &self.runners),
            ("RunnerDeployment", &self.runner_deployments),
            ("RunnerReplicaSet", &self.runner_replica_sets),
            ("RunnerSet", &self.runner_sets),
            (
                "HorizontalRunnerAutoscaler",
                &self.horizontal_runner_autoscalers,
            ),
            ("MutatingWebhookConfiguration", &self.mutating_webhooks),
            ("ValidatingWebhookConfiguration", &self.validating_webhooks),
        ]
    }

    /// The collection holding `kind`, for builders (collector, tests).
    /// The collection holding `kind`, if it is collected at all.
    pub fn collection(&self, kind: &str) -> Option<&Collection> {
        self.collections()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| c)
    }

    /// The collected object `r` names, if it was seen.
    pub fn find(&self, r: &ObjectRef) -> Option<&Object> {
        self.collection(&r.kind)?
            .get(r.namespace.as_deref(), &r.name)
            .found()
    }

    pub fn collection_mut(&mut self, kind: &str) -> Option<&mut Collection> {
        Some(match kind {
            "Namespace" => &mut self.namespaces,
            "Node" => &mut self.nodes,
            "Deployment" => &mut self.deployments,
            "Pod" => &mut self.pods,
            "ServiceAccount" => &mut self.service_accounts,
            "Secret" => &mut self.secrets,
            "ConfigMap" => &mut self.config_maps,
            "Service" => &mut self.services,
            "Endpoints" => &mut self.endpoints,
            "Role" => &mut self.roles,
            "RoleBinding" => &mut self.role_bindings,
            "ClusterRole" => &mut self.cluster_roles,
            "ClusterRoleBinding" => &mut self.cluster_role_bindings,
            "CustomResourceDefinition" => &mut self.crds,
            "AutoscalingRunnerSet" => &mut self.autoscaling_runner_sets,
            "AutoscalingListener" => &mut self.autoscaling_listeners,
            "EphemeralRunnerSet" => &mut self.ephemeral_runner_sets,
            "EphemeralRunner" => &mut self.ephemeral_runners,
            "Runner" => &mut self.runners,
            "RunnerDeployment" => &mut self.runner_deployments,
            "RunnerReplicaSet" => &mut self.runner_replica_sets,
            "RunnerSet" => &mut self.runner_sets,
            "HorizontalRunnerAutoscaler" => &mut self.horizontal_runner_autoscalers,
            "MutatingWebhookConfiguration" => &mut self.mutating_webhooks,
            "ValidatingWebhookConfiguration" => &mut self.validating_webhooks,
            _ => return None,
        })
    }

    /// Find any collected object by reference.
    pub fn lookup(&self, r: &ObjectRef) -> Lookup<'_> {
        self.collections()
            .into_iter()
            .find(|(k, _)| *k == r.kind)
            .map(|(_, c)| c.get(r.namespace.as_deref(), &r.name))
            .unwrap_or(Lookup::Unknown)
    }

    /// Any collected object with this UID (owner resolution).
    pub fn by_uid(&self, uid: &str) -> Option<&Object> {
        self.collections()
            .into_iter()
            .find_map(|(_, c)| c.by_uid(uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_payload_is_dropped_even_from_full_objects() {
        let o = Object::from_json(
            "Secret",
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"n"},
                   "data":{"github_token":"c2VjcmV0"},"type":"Opaque"}),
        );
        assert_eq!(o.meta.name, "s");
        assert!(o.at("/data").is_none());
        assert_eq!(o.str("/type"), Some("Opaque"));
    }

    /// Every check, log evidence included, says exactly the same on pruned objects as on whole
    /// ones, for every scenario.
    #[test]
    fn pruning_keeps_what_the_checks_read() {
        let dir = crate::testing::scenarios_dir();
        let mut ids: Vec<String> = std::fs::read_dir(&dir)
            .expect("scenarios dir")
            .filter_map(|e| {
                let p = e.ok()?.path();
                p.join("cluster.yaml")
                    .is_file()
                    .then(|| p.file_name()?.to_str().map(str::to_owned))
                    .flatten()
            })
            .collect();
        ids.sort();
        assert!(ids.len() > 20);
        for id in ids {
            let docs = crate::testing::load_docs(&dir.join(&id).join("cluster.yaml"));
            let pruned = crate::testing::snapshot_from_docs(docs.clone());
            let mut whole = pruned.clone();
            let kinds: Vec<&str> = whole.collections().iter().map(|(k, _)| *k).collect();
            for kind in kinds {
                let items: Vec<Object> = docs
                    .iter()
                    .filter(|d| d["kind"] == kind && d["apiVersion"] != "fake.kubectl-arc.dev/v1")
                    .map(|d| Object::from_json_unpruned(kind, d.clone()))
                    .collect();
                whole.collection_mut(kind).expect("kind").items = items;
            }
            let run = |s: &Snapshot| {
                let mut f = crate::checks::run(s);
                crate::logscan::attach_evidence(&mut f, s);
                f
            };
            let (a, b) = (run(&pruned), run(&whole));
            assert_eq!(
                a,
                b,
                "{id}: pruned {:?} vs whole {:?}",
                crate::testing::codes(&a),
                crate::testing::codes(&b)
            );
        }
    }

    /// The fields checks read from the pruned kinds survive pruning (the scenarios do not
    /// exercise all of them).
    #[test]
    fn pruning_keeps_every_read_path() {
        let pod = Object::from_json(
            "Pod",
            json!({"metadata":{"name":"p"},
                "spec":{"nodeName":"n","serviceAccountName":"sa","tolerations":[{}],
                    "imagePullSecrets":[{"name":"pull"}],
                    "containers":[{"name":"c","image":"i","args":["--a"],"command":["x"],"ports":[{}],
                        "env":[{"name":"E","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}],
                        "envFrom":[{"secretRef":{"name":"s2"}}]}],
                    "initContainers":[{"name":"init","image":"i2"}],
                    "volumes":[{"name":"v","secret":{"secretName":"s3"}},{"name":"w","emptyDir":{}},
                        {"name":"cm","configMap":{"name":"c"}},
                        {"name":"t","projected":{"sources":[{"serviceAccountToken":{}},{"secret":{"name":"s4"}}]}}]},
                "status":{"phase":"Running","reason":"R","message":"M","conditions":[{}],
                    "containerStatuses":[{"name":"c","image":"i","ready":false,"restartCount":3,"imageID":"x",
                        "state":{"waiting":{"reason":"CrashLoopBackOff","message":"m"}},
                        "lastState":{"terminated":{"message":"boom","exitCode":1}}}]}}),
        );
        for path in [
            "/spec/nodeName",
            "/spec/serviceAccountName",
            "/spec/imagePullSecrets/0/name",
            "/spec/containers/0/args/0",
            "/spec/containers/0/command/0",
            "/spec/containers/0/image",
            "/spec/containers/0/env/0/valueFrom/secretKeyRef/name",
            "/spec/containers/0/envFrom/0/secretRef/name",
            "/spec/initContainers/0/image",
            "/spec/volumes/0/secret/secretName",
            "/spec/volumes/1/configMap/name",
            "/spec/volumes/2/projected/sources/0/secret/name",
            "/status/phase",
            "/status/containerStatuses/0/restartCount",
            "/status/containerStatuses/0/state/waiting/reason",
            "/status/containerStatuses/0/state/waiting/message",
            "/status/containerStatuses/0/lastState/terminated/message",
        ] {
            assert!(pod.at(path).is_some(), "{path} pruned");
        }
        for path in [
            "/spec/tolerations",
            "/status/conditions",
            "/spec/containers/0/ports",
        ] {
            assert!(pod.at(path).is_none(), "{path} kept");
        }
        let er = Object::from_json(
            "EphemeralRunner",
            json!({"metadata":{"name":"r"},"spec":{"githubConfigSecret":"g","proxySecretRef":"p",
                "githubServerTLS":{"certificateFrom":{"configMapKeyRef":{"name":"c"}}},
                "vaultConfig":{"type":"azure_key_vault"},"runnerScaleSetId":1,"spec":{"containers":[]},"metadata":{}},
                "status":{"jobId":"j","failures":{"a":true},"phase":"Running","runnerId":1,"runnerName":"r"}}),
        );
        for path in [
            "/spec/githubConfigSecret",
            "/spec/proxySecretRef",
            "/spec/githubServerTLS/certificateFrom/configMapKeyRef/name",
            "/spec/vaultConfig/type",
            "/spec/runnerScaleSetId",
            "/status/jobId",
            "/status/failures",
            "/status/runnerName",
        ] {
            assert!(er.at(path).is_some(), "{path} pruned");
        }
        assert!(er.at("/spec/spec").is_none());
        let role = Object::from_json(
            "Role",
            json!({"metadata":{"name":"r"},"rules":[{"verbs":["get"]}]}),
        );
        assert!(role.at("/rules/0/verbs").is_some());
        let rb = Object::from_json(
            "RoleBinding",
            json!({"metadata":{"name":"b"},"subjects":[{"kind":"ServiceAccount"}],"roleRef":{"kind":"Role","name":"r"}}),
        );
        assert!(rb.at("/subjects/0/kind").is_some() && rb.str("/roleRef/name") == Some("r"));
    }

    #[test]
    fn lookup_distinguishes_missing_from_unknown() {
        let mut c = Collection::new(
            Scope::Namespaces(["a".to_owned()].into()),
            vec![Object::from_json(
                "Secret",
                json!({"metadata":{"name":"x","namespace":"a"}}),
            )],
        );
        assert!(matches!(c.get(Some("a"), "x"), Lookup::Found(_)));
        assert_eq!(c.get(Some("a"), "y"), Lookup::Missing);
        assert_eq!(c.get(Some("b"), "x"), Lookup::Unknown);
        c.scope = Scope::All;
        assert_eq!(c.get(Some("b"), "x"), Lookup::Missing);
        c.scope = Scope::None;
        assert_eq!(c.get(Some("a"), "y"), Lookup::Unknown);
    }

    #[test]
    fn meta_parses_finalizers_owners_and_deletion() {
        let m = Meta::from_json(
            "EphemeralRunner",
            &json!({"name":"r","namespace":"ns","uid":"u1","finalizers":["a","b"],
                    "deletionTimestamp":"2026-07-01T10:00:00Z",
                    "ownerReferences":[{"apiVersion":"actions.github.com/v1alpha1","kind":"EphemeralRunnerSet","name":"e","uid":"u0","controller":true}]}),
        );
        assert!(m.is_deleting());
        assert!(m.has_finalizer("b"));
        assert_eq!(m.owner_references[0].uid, "u0");
        assert!(m.owner_references[0].controller);
        assert_eq!(m.display(), "ns/r");
    }
}
