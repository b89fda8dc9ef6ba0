//! Direct access to the stored objects for test code, trigger hooks and the
//! controller simulator. Writes go through the same registry semantics as
//! API requests (admission, validation, optimistic concurrency, finalizers,
//! resourceVersion bumps, watch events) and then run the controllers (GC,
//! namespace controller, …), but they are not authorized and never appear in
//! the request log.

use serde_json::{Value, json};

use crate::catalog::{Catalog, ResourceType};
use crate::errors::ApiError;
use crate::meta;
use crate::registry::{self, DeleteOptions, DeleteOutcome, UpdateMode};
use crate::state::State;

/// Names one object: `apiVersion`, `kind`, namespace (`None` for
/// cluster-scoped kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> ObjectRef {
        ObjectRef {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    /// The reference of a (stored or rendered) object.
    pub fn of(obj: &Value) -> ObjectRef {
        let ns = meta::namespace(obj);
        ObjectRef::new(
            meta::api_version(obj),
            meta::kind(obj),
            (!ns.is_empty()).then_some(ns),
            meta::name(obj),
        )
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
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

/// A write refused by the server: the `Status` an API client would have
/// received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub code: u16,
    pub reason: String,
    pub message: String,
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for WriteError {}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> WriteError {
        WriteError {
            code: e.code,
            reason: e.reason.clone(),
            message: e.message.clone(),
        }
    }
}

impl WriteError {
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }
}

/// Read and write stored objects with the server locked (see the module
/// documentation). Obtained from [`crate::FakeServer::with_objects`] or in a
/// [`crate::TriggerAction::Custom`] hook.
pub struct Objects<'a> {
    state: &'a mut State,
    wrote: bool,
}

impl std::fmt::Debug for Objects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Objects").finish_non_exhaustive()
    }
}

fn unknown_kind(r: &ObjectRef) -> WriteError {
    WriteError {
        code: 404,
        reason: "NotFound".into(),
        message: format!(
            "the server could not find the requested resource ({} {})",
            r.api_version, r.kind
        ),
    }
}

impl<'a> Objects<'a> {
    pub(crate) fn new(state: &'a mut State) -> Objects<'a> {
        Objects {
            state,
            wrote: false,
        }
    }

    /// Whether anything was written (watchers need a wake-up).
    pub(crate) fn wrote(&self) -> bool {
        self.wrote
    }

    pub(crate) fn state(&mut self) -> &mut State {
        self.state
    }

    pub(crate) fn resource_type(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        Catalog::build(&self.state.store)
            .by_api_version_kind(api_version, kind)
            .cloned()
    }

    fn rt(&self, r: &ObjectRef) -> Result<ResourceType, WriteError> {
        self.resource_type(&r.api_version, &r.kind)
            .ok_or_else(|| unknown_kind(r))
    }

    /// The object as stored, rendered with `r.api_version`.
    pub fn get(&self, r: &ObjectRef) -> Option<Value> {
        let rt = self.rt(r).ok()?;
        let mut rt = rt;
        let (_, version) = meta::split_api_version(&r.api_version);
        rt.version = version.to_string();
        registry::get(&self.state.store, &rt, r.ns(), &r.name).ok()
    }

    /// Every stored object of a kind (in one namespace when given), in list
    /// order, rendered with `api_version`.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let (group, version) = meta::split_api_version(api_version);
        let Some(mut rt) = self.resource_type(api_version, kind) else {
            return Vec::new();
        };
        rt.version = version.to_string();
        self.state
            .store
            .list_from(group, kind, namespace, None)
            .map(|(_, o)| registry::render(o, &rt))
            .collect()
    }

    /// Create an object (like a POST, with NamespaceLifecycle and the webhook
    /// emulation). Returns the stored object.
    pub fn create(&mut self, obj: Value) -> Result<Value, WriteError> {
        let r = ObjectRef::of(&obj);
        let rt = self.rt(&r)?;
        let now = self.state.clock.now();
        let out = registry::create(&mut self.state.store, now, &rt, r.ns(), obj, false)?;
        self.wrote = true;
        self.state.reconcile();
        Ok(out)
    }

    /// Read the object, let `f` change it and write it back like a client's
    /// PUT (the main resource; then the `status` subresource when `f` changed
    /// the status of a kind that has one). Returns the object as written (its
    /// last state when the write removed its last finalizer).
    pub fn update(
        &mut self,
        r: &ObjectRef,
        f: impl FnOnce(&mut Value),
    ) -> Result<Value, WriteError> {
        let rt = self.rt(r)?;
        let current = registry::get(&self.state.store, &rt, r.ns(), &r.name)?;
        let mut new = current.clone();
        f(&mut new);
        let mut out = registry::update(
            &mut self.state.store,
            &rt,
            r.ns(),
            &r.name,
            new.clone(),
            UpdateMode::Main,
            false,
        )?;
        self.wrote = true;
        self.state.reconcile();
        let still_there = registry::get(&self.state.store, &rt, r.ns(), &r.name).ok();
        if rt.has_status()
            && new.get("status") != current.get("status")
            && let Some(mut now) = still_there
            && now.get("status") != new.get("status")
        {
            if let Some(m) = now.as_object_mut() {
                match new.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            out = registry::update(
                &mut self.state.store,
                &rt,
                r.ns(),
                &r.name,
                now,
                UpdateMode::Status,
                false,
            )?;
            self.state.reconcile();
        }
        Ok(out)
    }

    /// Store the object again with a new resourceVersion (as if another
    /// client had written it).
    pub fn touch(&mut self, r: &ObjectRef) -> Result<Value, WriteError> {
        let rt = self.rt(r)?;
        let out = registry::touch(&mut self.state.store, &rt, r.ns(), &r.name)?;
        self.wrote = true;
        self.state.reconcile();
        Ok(out)
    }

    /// Delete like a client's DELETE without options (the kind's default
    /// propagation, the pod's own grace period). Returns the object's state
    /// after the controllers ran: `None` once it is gone.
    pub fn delete(&mut self, r: &ObjectRef) -> Result<Option<Value>, WriteError> {
        self.delete_with(r, None)
    }

    /// Delete with an explicit grace period (`Some(0)` forces a pod).
    pub fn delete_with(
        &mut self,
        r: &ObjectRef,
        grace_period_seconds: Option<i64>,
    ) -> Result<Option<Value>, WriteError> {
        let rt = self.rt(r)?;
        let key = registry::key_for(&rt, r.ns(), &r.name);
        let now = self.state.clock.now();
        let opts = DeleteOptions {
            grace_period_seconds,
            ..Default::default()
        };
        let outcome = registry::delete(&mut self.state.store, now, &rt, &key, &opts, true)?;
        self.wrote = true;
        self.state.reconcile();
        Ok(match outcome {
            DeleteOutcome::Gone(_) => None,
            DeleteOutcome::Pending(_) => self.get(r),
        })
    }

    /// Add a finalizer (no-op when present).
    pub fn add_finalizer(&mut self, r: &ObjectRef, finalizer: &str) -> Result<Value, WriteError> {
        self.update(r, |o| {
            let mut fins = meta::finalizers(o);
            if !fins.iter().any(|f| f == finalizer) {
                fins.push(finalizer.to_string());
            }
            meta::set_finalizers(o, &fins);
        })
    }

    /// Remove a finalizer (every occurrence); removing the last finalizer of
    /// a deleting object deletes it.
    pub fn remove_finalizer(
        &mut self,
        r: &ObjectRef,
        finalizer: &str,
    ) -> Result<Value, WriteError> {
        self.update(r, |o| {
            let fins: Vec<String> = meta::finalizers(o)
                .into_iter()
                .filter(|f| f != finalizer)
                .collect();
            meta::set_finalizers(o, &fins);
        })
    }

    /// Set (`Some`) or remove (`None`) an annotation.
    pub fn set_annotation(
        &mut self,
        r: &ObjectRef,
        key: &str,
        value: Option<&str>,
    ) -> Result<Value, WriteError> {
        self.update(r, |o| set_map_entry(o, "annotations", key, value))
    }

    /// Set (`Some`) or remove (`None`) a label.
    pub fn set_label(
        &mut self,
        r: &ObjectRef,
        key: &str,
        value: Option<&str>,
    ) -> Result<Value, WriteError> {
        self.update(r, |o| set_map_entry(o, "labels", key, value))
    }
}

pub(crate) fn set_map_entry(obj: &mut Value, field: &str, key: &str, value: Option<&str>) {
    let m = meta::meta_mut(obj);
    match value {
        Some(v) => {
            let entry = m.entry(field).or_insert_with(|| json!({}));
            if !entry.is_object() {
                *entry = json!({});
            }
            if let Some(map) = entry.as_object_mut() {
                map.insert(key.to_string(), json!(v));
            }
        }
        None => {
            if let Some(map) = m.get_mut(field).and_then(Value::as_object_mut) {
                map.remove(key);
                if map.is_empty() {
                    m.remove(field);
                }
            }
        }
    }
}
