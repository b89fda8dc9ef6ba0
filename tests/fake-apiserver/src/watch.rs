//! Watches: `?watch=true` streams `{"type":…,"object":…}` lines from the
//! store's event history, filtered like the real watch cache (objects
//! entering/leaving a selector appear as ADDED/DELETED).

use std::time::Duration;

use serde_json::{Value, json};

use crate::catalog::ResourceType;
use crate::errors::ApiError;
use crate::meta;
use crate::registry::render;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::store::{EventType, Store};

/// Where a watch starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Start {
    /// `resourceVersion` unset or "0": synthetic ADDED events for the
    /// current state first.
    CurrentState,
    /// `sendInitialEvents=true`: the current state, then a BOOKMARK marking
    /// the end of the initial events.
    InitialEvents,
    /// Changes after this resourceVersion.
    After(u64),
}

/// A watch to serve (built while routing, streamed by the server).
#[derive(Debug, Clone)]
pub(crate) struct WatchRequest {
    pub rt: ResourceType,
    pub namespace: Option<String>,
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub start: Start,
    pub timeout: Duration,
    /// `Some(version)` when the client asked for PartialObjectMetadata.
    pub metadata_version: Option<String>,
}

/// The default (and maximum) life of a watch without `timeoutSeconds`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl WatchRequest {
    pub fn from_query(
        rt: &ResourceType,
        namespace: Option<&str>,
        query: &[(String, String)],
        metadata_version: Option<String>,
    ) -> Result<WatchRequest, ApiError> {
        let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.as_str());
        for f in FieldSelector::parse(param("fieldSelector").unwrap_or(""))?.fields() {
            if f != "metadata.name"
                && f != "metadata.namespace"
                && !crate::selectors::supported_fields(&rt.group, &rt.kind).contains(&f)
            {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {f}"
                )));
            }
        }
        let start = if param("sendInitialEvents") == Some("true") {
            Start::InitialEvents
        } else {
            match param("resourceVersion").unwrap_or("") {
                "" | "0" => Start::CurrentState,
                rv => Start::After(rv.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resource version: {rv}"))
                })?),
            }
        };
        let timeout = match param("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()) {
            Some(s) => Duration::from_secs(s).min(DEFAULT_TIMEOUT),
            None => DEFAULT_TIMEOUT,
        };
        Ok(WatchRequest {
            rt: rt.clone(),
            namespace: namespace.map(str::to_string),
            label: LabelSelector::parse(param("labelSelector").unwrap_or(""))?,
            field: FieldSelector::parse(param("fieldSelector").unwrap_or(""))?,
            start,
            timeout,
            metadata_version,
        })
    }

    fn matches(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta::namespace(obj) == ns)
            && self.label.matches(&meta::labels(obj))
            && self.field.matches(obj)
    }

    fn line(&self, ty: &str, obj: &Value) -> String {
        let object = match &self.metadata_version {
            Some(v) => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": format!("meta.k8s.io/{v}"),
                "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
            }),
            None => render(obj, &self.rt),
        };
        let mut s = json!({"type": ty, "object": object}).to_string();
        s.push('\n');
        s
    }

    /// The first lines of the stream and the resourceVersion to continue after.
    pub fn initial(&self, store: &Store) -> (Vec<String>, u64) {
        let rv = store.current_rv();
        match self.start {
            Start::After(after) => {
                let lines = self.changes(store, after).unwrap_or_else(|e| vec![e]);
                (lines, rv)
            }
            Start::CurrentState | Start::InitialEvents => {
                let mut lines: Vec<String> = store
                    .list(&self.rt.group, &self.rt.kind)
                    .filter(|o| self.matches(o))
                    .map(|o| self.line("ADDED", o))
                    .collect();
                if self.start == Start::InitialEvents {
                    let bookmark = json!({
                        "kind": self.rt.kind,
                        "apiVersion": self.rt.api_version(),
                        "metadata": {
                            "resourceVersion": rv.to_string(),
                            "annotations": {"k8s.io/initial-events-end": "true"}
                        }
                    });
                    let mut s = json!({"type": "BOOKMARK", "object": bookmark}).to_string();
                    s.push('\n');
                    lines.push(s);
                }
                (lines, rv)
            }
        }
    }

    /// Lines for the changes after `after`; `Err` is the ERROR line of a
    /// resourceVersion too old to resume from.
    pub fn changes(&self, store: &Store, after: u64) -> Result<Vec<String>, String> {
        let events = store.events_after(after).map_err(|oldest| {
            let status = ApiError::new(
                410,
                "Expired",
                format!("too old resource version: {after} ({oldest})"),
            )
            .body();
            let mut s = json!({"type": "ERROR", "object": status}).to_string();
            s.push('\n');
            s
        })?;
        let mut out = Vec::new();
        for e in events {
            if e.key.group != self.rt.group || e.key.kind != self.rt.kind {
                continue;
            }
            let now = self.matches(&e.object);
            let ty = match e.ty {
                EventType::Added => now.then_some("ADDED"),
                EventType::Deleted => now.then_some("DELETED"),
                EventType::Modified => {
                    let before = e.previous.as_ref().is_some_and(|p| self.matches(p));
                    match (before, now) {
                        (true, true) => Some("MODIFIED"),
                        (false, true) => Some("ADDED"),
                        (true, false) => Some("DELETED"),
                        (false, false) => None,
                    }
                }
            };
            if let Some(ty) = ty {
                out.push(self.line(ty, &e.object));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::store::ObjKey;

    fn cm(name: &str, app: &str, rv: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "n", "name": name, "labels": {"app": app}, "resourceVersion": rv}})
    }

    #[test]
    fn selector_transitions_become_added_and_deleted() {
        let mut store = Store::default();
        let rt = Catalog::build(&store)
            .lookup("", "v1", "configmaps")
            .expect("cm")
            .clone();
        let q = vec![
            ("labelSelector".to_string(), "app=web".to_string()),
            ("resourceVersion".to_string(), "1".to_string()),
        ];
        let w = WatchRequest::from_query(&rt, Some("n"), &q, None).expect("watch");
        let key = ObjKey::new("", "ConfigMap", "n", "a");
        store.next_rv();
        store.put(&key, cm("a", "db", "2"));
        store.next_rv();
        store.put(&key, cm("a", "web", "3"));
        store.next_rv();
        store.put(&key, cm("a", "db", "4"));
        store.remove(&key);
        let lines = w.changes(&store, 1).expect("lines");
        let types: Vec<String> = lines
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        assert_eq!(types, vec!["ADDED", "DELETED"]);
    }
}
