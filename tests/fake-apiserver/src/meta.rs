//! Accessors for `metadata` of JSON objects.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// `(group, version)` of an `apiVersion` string.
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

pub(crate) fn api_version_of(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

pub(crate) fn str_field<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = obj;
    for p in path {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

pub(crate) fn name(obj: &Value) -> &str {
    str_field(obj, &["metadata", "name"])
}

pub(crate) fn namespace(obj: &Value) -> &str {
    str_field(obj, &["metadata", "namespace"])
}

pub(crate) fn uid(obj: &Value) -> &str {
    str_field(obj, &["metadata", "uid"])
}

pub(crate) fn resource_version(obj: &Value) -> &str {
    str_field(obj, &["metadata", "resourceVersion"])
}

pub(crate) fn kind(obj: &Value) -> &str {
    str_field(obj, &["kind"])
}

pub(crate) fn api_version(obj: &Value) -> &str {
    str_field(obj, &["apiVersion"])
}

pub(crate) fn deletion_timestamp(obj: &Value) -> Option<&str> {
    obj.get("metadata")?.get("deletionTimestamp")?.as_str()
}

pub(crate) fn is_deleting(obj: &Value) -> bool {
    deletion_timestamp(obj).is_some()
}

pub(crate) fn deletion_grace(obj: &Value) -> Option<i64> {
    obj.get("metadata")?
        .get("deletionGracePeriodSeconds")?
        .as_i64()
}

pub(crate) fn finalizers(obj: &Value) -> Vec<String> {
    string_list(obj.get("metadata").and_then(|m| m.get("finalizers")))
}

pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj.get("metadata").and_then(|m| m.get("labels")))
}

pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The `metadata` map, created when missing. `obj` must be a JSON object.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let m = obj.as_object_mut().expect("object ensured above");
    let entry = m.entry("metadata").or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("object ensured above")
}

pub(crate) fn set_meta(obj: &mut Value, key: &str, value: Value) {
    meta_mut(obj).insert(key.to_string(), value);
}

pub(crate) fn remove_meta(obj: &mut Value, key: &str) {
    meta_mut(obj).remove(key);
}

pub(crate) fn set_finalizers(obj: &mut Value, fins: &[String]) {
    if fins.is_empty() {
        remove_meta(obj, "finalizers");
    } else {
        set_meta(obj, "finalizers", json!(fins));
    }
}

/// An owner reference.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    pub block_owner_deletion: bool,
}

pub(crate) fn owner_refs(obj: &Value) -> Vec<OwnerRef> {
    obj.get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .map(|r| OwnerRef {
                    api_version: str_field(r, &["apiVersion"]).to_string(),
                    kind: str_field(r, &["kind"]).to_string(),
                    name: str_field(r, &["name"]).to_string(),
                    uid: str_field(r, &["uid"]).to_string(),
                    block_owner_deletion: r
                        .get("blockOwnerDeletion")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Remove the owner references whose uid is in `uids`.
pub(crate) fn remove_owner_refs(obj: &mut Value, uids: &[String]) -> bool {
    let m = meta_mut(obj);
    let Some(refs) = m.get_mut("ownerReferences").and_then(Value::as_array_mut) else {
        return false;
    };
    let before = refs.len();
    refs.retain(|r| !uids.iter().any(|u| u == str_field(r, &["uid"])));
    let changed = refs.len() != before;
    if refs.is_empty() {
        m.remove("ownerReferences");
    }
    changed
}

/// The object without `metadata`, `status`, `apiVersion` and `kind` — what
/// counts as "spec" for `metadata.generation`.
pub(crate) fn spec_part(obj: &Value) -> Value {
    match obj {
        Value::Object(m) => {
            let mut m = m.clone();
            for k in ["metadata", "status", "apiVersion", "kind"] {
                m.remove(k);
            }
            Value::Object(m)
        }
        other => other.clone(),
    }
}

/// Validate a DNS-1123 subdomain (most object names).
pub(crate) fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && label
                    .as_bytes()
                    .first()
                    .is_some_and(u8::is_ascii_alphanumeric)
                && label
                    .as_bytes()
                    .last()
                    .is_some_and(u8::is_ascii_alphanumeric)
        })
}

/// Validate a DNS-1123 label (namespace names).
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns1123_subdomain(s)
}

pub(crate) const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
pub(crate) const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns1123_subdomain("arc-systems.x"));
        assert!(!is_dns1123_subdomain("Arc"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(is_dns1123_label("arc-systems"));
        assert!(!is_dns1123_label("a.b"));
    }

    #[test]
    fn owner_ref_removal() {
        let mut o = json!({"metadata": {"ownerReferences": [{"uid": "a"}, {"uid": "b"}]}});
        assert!(remove_owner_refs(&mut o, &["a".into()]));
        assert_eq!(owner_refs(&o).len(), 1);
        assert!(remove_owner_refs(&mut o, &["b".into()]));
        assert!(o["metadata"].get("ownerReferences").is_none());
    }
}
