//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
//! strategic merge patch for built-in kinds.

use serde_json::{Map, Value, json};

use crate::errors::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: Option<&str>) -> Option<PatchType> {
        let ct = ct?.split(';').next()?.trim().to_ascii_lowercase();
        match ct.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchType::Apply)
            }
            _ => None,
        }
    }
}

/// The media types a real server lists in its 415 answer.
pub(crate) fn accepted_patch_types(builtin: bool) -> Vec<&'static str> {
    if builtin {
        vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ]
    } else {
        vec![
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
        ]
    }
}

/// Apply a patch body to `doc`.
pub(crate) fn apply(doc: &Value, patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch =
                serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut out = doc.clone();
            json_patch::patch(&mut out, &ops).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                )
                .with_details(json!({"causes": [{
                    "reason": "UnexpectedServerResponse",
                    "message": json_patch_failure(doc, &ops, &e),
                }]}))
            })?;
            Ok(out)
        }
        PatchType::Merge => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request(
                    "invalid JSON merge patch: the patch must be a JSON object",
                ));
            }
            let mut out = doc.clone();
            json_patch::merge(&mut out, &p);
            Ok(out)
        }
        PatchType::Strategic => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            strategic_merge(doc, &p).map_err(ApiError::bad_request)
        }
        PatchType::Apply => Err(ApiError::unsupported_media_type(&accepted_patch_types(
            true,
        ))),
    }
}

/// The error text of the JSON-patch library the real server uses
/// (evanphx/json-patch v4) for the operation that failed.
fn json_patch_failure(doc: &Value, ops: &json_patch::Patch, e: &json_patch::PatchError) -> String {
    use json_patch::PatchOperation;
    let Some(op) = ops.0.get(e.operation) else {
        return e.to_string();
    };
    // The document as the failing operation saw it.
    let mut before = doc.clone();
    let earlier = json_patch::Patch(ops.0[..e.operation].to_vec());
    if json_patch::patch(&mut before, &earlier).is_err() {
        return e.to_string();
    }
    let path = op.path();
    let p = path.as_str();
    let parent = path.split_back().and_then(|(parent, last)| {
        let container = before.pointer(parent.as_str())?;
        Some((container, last.decoded().into_owned()))
    });
    match op {
        PatchOperation::Test(_) => match parent {
            None if !p.is_empty() => {
                format!("test operation does not apply: is missing path: {p}: missing value")
            }
            _ => format!("testing value {p} failed: test failed"),
        },
        PatchOperation::Remove(_) => match parent {
            None => format!(
                "remove operation does not apply: doc is missing path: \"{p}\": missing value"
            ),
            Some((Value::Array(a), key)) => match key.parse::<usize>() {
                Ok(i) if i < a.len() => e.to_string(),
                _ => format!(
                    "error in remove for path: '{p}': Unable to access invalid index: {key}: invalid index referenced"
                ),
            },
            Some((_, key)) => format!(
                "error in remove for path: '{p}': Unable to remove nonexistent key: {key}: missing value"
            ),
        },
        _ => e.to_string(),
    }
}

#[derive(Debug, PartialEq)]
enum ListStrategy {
    Replace,
    MergePrimitive,
    MergeKey(&'static str),
}

/// The patch strategy of a list field, by field name and the path to it.
fn list_strategy(path: &[String], field: &str) -> ListStrategy {
    let parent = path.last().map(String::as_str).unwrap_or("");
    match field {
        "finalizers" if parent == "metadata" => ListStrategy::MergePrimitive,
        "ownerReferences" => ListStrategy::MergeKey("uid"),
        "containers" | "initContainers" | "ephemeralContainers" => ListStrategy::MergeKey("name"),
        "env" | "volumes" | "imagePullSecrets" => ListStrategy::MergeKey("name"),
        "volumeMounts" => ListStrategy::MergeKey("mountPath"),
        "volumeDevices" => ListStrategy::MergeKey("devicePath"),
        "hostAliases" => ListStrategy::MergeKey("ip"),
        "conditions" => ListStrategy::MergeKey("type"),
        "addresses" if parent == "status" => ListStrategy::MergeKey("type"),
        "ports"
            if parent == "containers"
                || parent == "initContainers"
                || parent == "ephemeralContainers" =>
        {
            ListStrategy::MergeKey("containerPort")
        }
        "ports" if parent == "spec" => ListStrategy::MergeKey("port"),
        _ => ListStrategy::Replace,
    }
}

/// Apply a strategic merge patch.
pub(crate) fn strategic_merge(original: &Value, patch: &Value) -> Result<Value, String> {
    let Value::Object(p) = patch else {
        return Err("strategic merge patch must be a JSON object".into());
    };
    let mut out = match original {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    match merge_map(&mut out, p, &[])? {
        MapResult::Keep => Ok(Value::Object(out)),
        MapResult::Delete => Ok(Value::Object(Map::new())),
    }
}

enum MapResult {
    Keep,
    Delete,
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .filter(|item| item.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ),
        other => other.clone(),
    }
}

fn merge_map(
    orig: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    path: &[String],
) -> Result<MapResult, String> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("delete") => return Ok(MapResult::Delete),
        Some("replace") => {
            if let Value::Object(m) = strip_directives(&Value::Object(patch.clone())) {
                *orig = m;
            }
            return Ok(MapResult::Keep);
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other}")),
    }
    for (k, v) in patch {
        if k == "$patch" || k.starts_with("$setElementOrder/") || k == "$retainKeys" {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let remove: Vec<Value> = v.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(list)) = orig.get_mut(field) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                orig.remove(k);
            }
            Value::Object(pm) => {
                let mut child_path = path.to_vec();
                child_path.push(k.clone());
                let existing = orig.get_mut(k);
                match existing {
                    Some(Value::Object(om)) => {
                        if let MapResult::Delete = merge_map(om, pm, &child_path)? {
                            orig.remove(k);
                        }
                    }
                    _ => {
                        let mut fresh = Map::new();
                        match merge_map(&mut fresh, pm, &child_path)? {
                            MapResult::Keep => {
                                orig.insert(k.clone(), Value::Object(fresh));
                            }
                            MapResult::Delete => {
                                orig.remove(k);
                            }
                        }
                    }
                }
            }
            Value::Array(pa) => {
                let strategy = list_strategy(path, k);
                let current = match orig.get(k) {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                };
                let mut child_path = path.to_vec();
                child_path.push(k.clone());
                let merged = merge_list(current, pa, strategy, &child_path)?;
                orig.insert(k.clone(), Value::Array(merged));
            }
            other => {
                orig.insert(k.clone(), other.clone());
            }
        }
    }
    if let Some(Value::Array(retain)) = patch.get("$retainKeys") {
        let keep: Vec<&str> = retain.iter().filter_map(Value::as_str).collect();
        orig.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(MapResult::Keep)
}

fn merge_list(
    mut current: Vec<Value>,
    patch: &[Value],
    strategy: ListStrategy,
    path: &[String],
) -> Result<Vec<Value>, String> {
    if patch
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .iter()
            .filter(|i| i.get("$patch").is_none())
            .map(strip_directives)
            .collect());
    }
    match strategy {
        ListStrategy::Replace => Ok(patch.iter().map(strip_directives).collect()),
        ListStrategy::MergePrimitive => {
            for item in patch {
                if !current.contains(item) {
                    current.push(item.clone());
                }
            }
            Ok(current)
        }
        ListStrategy::MergeKey(key) => {
            for item in patch {
                let Value::Object(pm) = item else {
                    current.push(item.clone());
                    continue;
                };
                let Some(kv) = pm.get(key) else {
                    return Err(format!(
                        "map: {item} does not contain declared merge key: {key}"
                    ));
                };
                let pos = current.iter().position(|c| c.get(key) == Some(kv));
                if pm.get("$patch").and_then(Value::as_str) == Some("delete") {
                    current.retain(|c| c.get(key) != Some(kv));
                    continue;
                }
                match pos {
                    Some(i) => {
                        if let Value::Object(om) = &mut current[i]
                            && let MapResult::Delete = merge_map(om, pm, path)?
                        {
                            current.remove(i);
                        }
                    }
                    None => current.push(strip_directives(item)),
                }
            }
            Ok(current)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finalizers_merge_as_a_set_and_delete_from_primitive_list() {
        let o = json!({"metadata": {"finalizers": ["a", "b"]}});
        let r = strategic_merge(&o, &json!({"metadata": {"finalizers": ["c", "a"]}})).expect("ok");
        assert_eq!(r["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let r = strategic_merge(
            &o,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        )
        .expect("ok");
        assert_eq!(r["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn containers_merge_by_name_and_delete() {
        let o = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let r = strategic_merge(&o, &json!({"spec": {"containers": [{"name": "b", "image": "z"}, {"name": "c", "image": "w"}]}})).expect("ok");
        assert_eq!(
            r["spec"]["containers"],
            json!([{"name": "a", "image": "x"}, {"name": "b", "image": "z"}, {"name": "c", "image": "w"}])
        );
        let r = strategic_merge(
            &o,
            &json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
        )
        .expect("ok");
        assert_eq!(
            r["spec"]["containers"],
            json!([{"name": "b", "image": "y"}])
        );
    }

    #[test]
    fn owner_references_by_uid_and_replace_directive() {
        let o = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}], "labels": {"x": "1", "y": "2"}}});
        let r = strategic_merge(&o, &json!({"metadata": {"ownerReferences": [{"uid": "1", "$patch": "delete"}], "labels": {"$patch": "replace", "z": "3"}}})).expect("ok");
        assert_eq!(r["metadata"]["ownerReferences"], json!([]));
        assert_eq!(r["metadata"]["labels"], json!({"z": "3"}));
    }

    #[test]
    fn json_patch_test_failure_is_422() {
        let o = json!({"metadata": {"finalizers": ["a"]}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers/0","value":"b"},{"op":"remove","path":"/metadata/finalizers/0"}]"#;
        let e = apply(&o, PatchType::Json, body).expect_err("test fails");
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "the server rejected our request due to an error in our request"
        );
        let ok = apply(&o, PatchType::Json, br#"[{"op":"test","path":"/metadata/finalizers/0","value":"a"},{"op":"remove","path":"/metadata/finalizers/0"}]"#).expect("ok");
        assert_eq!(ok["metadata"]["finalizers"], json!([]));
        assert_eq!(apply(&o, PatchType::Json, b"{").expect_err("bad").code, 400);
    }

    #[test]
    fn merge_patch_null_deletes() {
        let o = json!({"metadata": {"finalizers": ["a"], "name": "n"}});
        let r = apply(&o, PatchType::Merge, br#"{"metadata":{"finalizers":null}}"#).expect("ok");
        assert_eq!(r, json!({"metadata": {"name": "n"}}));
    }
}
