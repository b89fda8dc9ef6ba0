//! Admission: the NamespaceLifecycle plugin and an emulation of admission
//! webhooks that never calls out — a webhook whose Service (or its endpoints)
//! is missing fails exactly like on a real server; any other webhook is
//! assumed to allow the request.

use serde_json::Value;

use crate::catalog::ResourceType;
use crate::errors::ApiError;
use crate::meta;
use crate::selectors::LabelSelector;
use crate::store::{ObjKey, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// The NamespaceLifecycle admission plugin.
///
/// * deleting `default`, `kube-system`, `kube-public` is forbidden;
/// * namespaces themselves and deletes of other objects are always allowed;
/// * any other write in a namespace that does not exist → 404
///   `namespaces "<ns>" not found` (also for objects stranded there);
/// * creates in a Terminating namespace → 403 with cause `NamespaceTerminating`.
pub(crate) fn namespace_lifecycle(
    store: &Store,
    rt: &ResourceType,
    op: Operation,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    if rt.is("", "Namespace") {
        if op == Operation::Delete && IMMORTAL_NAMESPACES.contains(&name) {
            return Err(ApiError::forbidden(
                "",
                "namespaces",
                name,
                "this namespace may not be deleted",
            ));
        }
        return Ok(());
    }
    if namespace.is_empty() || op == Operation::Delete || rt.virtual_create_only {
        return Ok(());
    }
    let Some(ns) = store.get(&ObjKey::new("", "Namespace", "", namespace)) else {
        return Err(ApiError::namespace_not_found(namespace));
    };
    if op == Operation::Create && meta::str_field(ns, &["status", "phase"]) == "Terminating" {
        let mut e = ApiError::forbidden(
            &rt.group,
            &rt.resource,
            name,
            &format!(
                "unable to create new content in namespace {namespace} because it is being terminated"
            ),
        );
        if let Some(d) = e.details.as_mut().and_then(Value::as_object_mut) {
            d.insert(
                "causes".into(),
                serde_json::json!([{
                    "reason": "NamespaceTerminating",
                    "message": format!("namespace {namespace} is being terminated"),
                    "field": "metadata.namespace"
                }]),
            );
        }
        return Err(e);
    }
    Ok(())
}

/// Does a webhook rule list match this request?
fn rule_matches(rule: &Value, rt: &ResourceType, op: Operation, subresource: &str) -> bool {
    let any = |field: &str, want: &str| {
        meta::string_list(rule.get(field))
            .iter()
            .any(|v| v == "*" || v == want)
    };
    if !any("operations", op.as_str())
        || !any("apiGroups", &rt.group)
        || !any("apiVersions", &rt.version)
    {
        return false;
    }
    let resources = meta::string_list(rule.get("resources"));
    let resource_ok = resources.iter().any(|r| {
        let (res, sub) = r.split_once('/').unwrap_or((r.as_str(), ""));
        let res_ok = res == "*" || res == rt.resource;
        let sub_ok = if subresource.is_empty() {
            sub.is_empty()
        } else {
            sub == "*" || sub == subresource
        };
        res_ok && sub_ok
    });
    if !resource_ok {
        return false;
    }
    match meta::str_field(rule, &["scope"]) {
        "Namespaced" => rt.namespaced,
        "Cluster" => !rt.namespaced,
        _ => true,
    }
}

/// Why calling a webhook's service would fail, if it would.
fn service_failure(store: &Store, client_config: &Value) -> Option<(String, String)> {
    let svc = client_config.get("service")?;
    let ns = meta::str_field(svc, &["namespace"]);
    let name = meta::str_field(svc, &["name"]);
    let path = meta::str_field(svc, &["path"]);
    let port = svc.get("port").and_then(Value::as_i64).unwrap_or(443);
    let url = format!("https://{name}.{ns}.svc:{port}{path}");
    if !store.contains(&ObjKey::new("", "Service", ns, name)) {
        return Some((url, format!("service \"{name}\" not found")));
    }
    let has_endpoints = store
        .get(&ObjKey::new("", "Endpoints", ns, name))
        .and_then(|ep| ep.get("subsets"))
        .and_then(Value::as_array)
        .is_some_and(|subsets| {
            subsets.iter().any(|s| {
                s.get("addresses")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            })
        });
    if !has_endpoints {
        return Some((
            url,
            format!("no endpoints available for service \"{name}\""),
        ));
    }
    None
}

/// Call (emulated) the admission webhooks that match the request: mutating
/// configurations first, then validating ones.
pub(crate) fn webhooks(
    store: &Store,
    rt: &ResourceType,
    op: Operation,
    subresource: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    // Webhooks are never called for webhook configurations themselves.
    if rt.group == "admissionregistration.k8s.io" || rt.virtual_create_only {
        return Ok(());
    }
    let namespace = meta::namespace(obj);
    let ns_labels = if rt.is("", "Namespace") {
        Some(meta::labels(obj))
    } else if rt.namespaced {
        store
            .get(&ObjKey::new("", "Namespace", "", namespace))
            .map(meta::labels)
    } else {
        None
    };
    for kind in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        for cfg in store.list("admissionregistration.k8s.io", kind) {
            let Some(hooks) = cfg.get("webhooks").and_then(Value::as_array) else {
                continue;
            };
            for hook in hooks {
                let rules = hook
                    .get("rules")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if !rules.iter().any(|r| rule_matches(r, rt, op, subresource)) {
                    continue;
                }
                if let Some(sel) = hook
                    .get("namespaceSelector")
                    .and_then(LabelSelector::from_object)
                    && let Some(labels) = &ns_labels
                    && !sel.matches(labels)
                {
                    continue;
                }
                if let Some(sel) = hook
                    .get("objectSelector")
                    .and_then(LabelSelector::from_object)
                    && !sel.matches(&meta::labels(obj))
                {
                    continue;
                }
                let Some(client_config) = hook.get("clientConfig") else {
                    continue;
                };
                let Some((url, why)) = service_failure(store, client_config) else {
                    continue;
                };
                if meta::str_field(hook, &["failurePolicy"]) == "Ignore" {
                    continue;
                }
                let timeout = hook
                    .get("timeoutSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(10);
                let msg = format!(
                    "failed calling webhook \"{}\": failed to call webhook: Post \"{url}?timeout={timeout}s\": {why}",
                    meta::str_field(hook, &["name"])
                );
                return Err(ApiError::internal(&msg));
            }
        }
    }
    Ok(())
}
