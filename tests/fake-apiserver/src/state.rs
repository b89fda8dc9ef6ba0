//! Everything the server holds, behind one mutex.

use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::controllers;
use crate::faults::FaultEntry;
use crate::meta;
use crate::store::{ObjKey, Store};
use crate::triggers::TriggerEntry;

/// One request as the server saw it (including rejected ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub accept: Option<String>,
    pub content_type: Option<String>,
    /// The effective user after impersonation; "" if unauthenticated.
    pub user: String,
    /// The user the bearer token belongs to; "" if unauthenticated.
    pub authenticated_user: String,
    pub impersonate_user: Option<String>,
    pub impersonate_groups: Vec<String>,
    /// The status code answered; 0 when the connection was dropped.
    pub status: u16,
    /// The request body (any method, when non-empty), at most the first
    /// [`RequestRecord::MAX_BODY`] bytes, decoded as UTF-8 (lossily).
    pub body: Option<String>,
    /// The request asked for a dry run: `dryRun=All` in the query, or (for
    /// DELETE) `dryRun: ["All"]` in the DeleteOptions body.
    pub dry_run: bool,
}

impl RequestRecord {
    /// How much of a request body is kept.
    pub const MAX_BODY: usize = 64 * 1024;

    /// The body parsed as JSON (`None` without a body or when it is not JSON,
    /// e.g. YAML, protobuf or truncated).
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_str(self.body.as_deref()?).ok()
    }
}

/// A user known to the server.
#[derive(Debug, Clone)]
pub(crate) struct UserEntry {
    pub name: String,
    pub token: String,
    pub groups: Vec<String>,
}

/// Log text of a pod container.
#[derive(Debug, Clone)]
pub(crate) struct PodLogEntry {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
    pub previous: bool,
    pub text: String,
}

pub(crate) const ADMIN_USER: &str = "admin";
pub(crate) const ADMIN_TOKEN: &str = "fake-admin-token";

pub(crate) type RequestSink = Box<dyn FnMut(&RequestRecord) + Send>;

pub(crate) struct State {
    pub store: Store,
    pub clock: Clock,
    pub users: Vec<UserEntry>,
    pub pod_logs: Vec<PodLogEntry>,
    pub faults: Vec<FaultEntry>,
    pub requests: Vec<RequestRecord>,
    pub request_sinks: Vec<RequestSink>,
    pub triggers: Vec<TriggerEntry>,
}

impl State {
    pub fn new(clock: Clock) -> State {
        State {
            store: Store::default(),
            clock,
            users: vec![UserEntry {
                name: ADMIN_USER.into(),
                token: ADMIN_TOKEN.into(),
                groups: vec!["system:masters".into()],
            }],
            pod_logs: Vec::new(),
            faults: Vec::new(),
            requests: Vec::new(),
            request_sinks: Vec::new(),
            triggers: Vec::new(),
        }
    }

    /// Every real cluster has these namespaces; create the ones the fixtures
    /// did not define, as old as the oldest object (the cluster's birth).
    pub fn ensure_system_namespaces(&mut self) -> anyhow::Result<()> {
        let oldest = self
            .store
            .iter()
            .filter_map(|o| {
                crate::clock::parse_rfc3339(meta::str_field(o, &["metadata", "creationTimestamp"]))
            })
            .chain(std::iter::once(self.clock.now()))
            .min()
            .unwrap_or_else(|| self.clock.now());
        for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
            if self.store.contains(&ObjKey::new("", "Namespace", "", ns)) {
                continue;
            }
            self.load_object(json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "creationTimestamp": crate::clock::rfc3339(oldest)}
            }))?;
        }
        Ok(())
    }

    pub fn user_by_token(&self, token: &str) -> Option<&UserEntry> {
        self.users.iter().find(|u| u.token == token)
    }

    pub fn add_user(&mut self, name: &str, token: Option<&str>, groups: Vec<String>) {
        let token = token
            .map(str::to_string)
            .unwrap_or_else(|| format!("fake-token-{name}"));
        self.users.retain(|u| u.name != name);
        self.users.push(UserEntry {
            name: name.into(),
            token,
            groups,
        });
    }

    pub fn record(&mut self, rec: RequestRecord) {
        for sink in &mut self.request_sinks {
            sink(&rec);
        }
        self.requests.push(rec);
    }

    /// Store a Kubernetes object as-is (admission bypassed), filling uid,
    /// resourceVersion and creationTimestamp when absent.
    pub fn load_object(&mut self, mut obj: Value) -> anyhow::Result<()> {
        let kind = meta::kind(&obj).to_string();
        if kind.is_empty() || meta::api_version(&obj).is_empty() {
            anyhow::bail!("object without apiVersion/kind: {obj}");
        }
        if meta::name(&obj).is_empty() {
            anyhow::bail!("{kind} without metadata.name");
        }
        let key = ObjKey::of(&obj);
        let existing_uid = self.store.get(&key).map(|o| meta::uid(o).to_string());
        if meta::uid(&obj).is_empty() {
            let uid = existing_uid.unwrap_or_else(|| self.store.new_uid());
            meta::set_meta(&mut obj, "uid", json!(uid));
        }
        if meta::str_field(&obj, &["metadata", "creationTimestamp"]).is_empty() {
            meta::set_meta(
                &mut obj,
                "creationTimestamp",
                json!(self.clock.now_rfc3339()),
            );
        }
        match meta::resource_version(&obj).parse::<u64>() {
            Ok(rv) => self.store.observe_rv(rv),
            Err(_) => {
                let rv = self.store.next_rv();
                meta::set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
            }
        }
        if obj
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .is_none()
            && crate::catalog::tracks_generation(&key.group, &kind)
        {
            meta::set_meta(&mut obj, "generation", json!(1));
        }
        if key.group.is_empty() && kind == "Namespace" {
            let name = key.name.clone();
            let deleting = meta::is_deleting(&obj);
            if let Some(m) = obj.as_object_mut() {
                let spec = m.entry("spec").or_insert_with(|| json!({}));
                if let Some(s) = spec.as_object_mut() {
                    s.entry("finalizers")
                        .or_insert_with(|| json!(["kubernetes"]));
                }
                let status = m.entry("status").or_insert_with(|| json!({}));
                if let Some(s) = status.as_object_mut() {
                    s.entry("phase")
                        .or_insert_with(|| json!(if deleting { "Terminating" } else { "Active" }));
                }
            }
            let labels = meta::meta_mut(&mut obj)
                .entry("labels")
                .or_insert_with(|| json!({}));
            if let Some(l) = labels.as_object_mut() {
                l.entry("kubernetes.io/metadata.name")
                    .or_insert(json!(name));
            }
        }
        crate::registry::normalize_metadata(&mut obj);
        self.store.put(&key, obj);
        Ok(())
    }

    /// Run the controllers until the store is stable.
    pub fn reconcile(&mut self) {
        let now = self.clock.now();
        controllers::reconcile(&mut self.store, now);
    }
}
