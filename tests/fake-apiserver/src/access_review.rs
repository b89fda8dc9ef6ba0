//! SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectAccessReview and
//! SelfSubjectRulesReview, answered by the same RBAC evaluator as requests.

use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::meta;
use crate::rbac::{self, Attributes, UserInfo};
use crate::store::Store;

fn attributes_of(spec: &Value) -> Result<Attributes, ApiError> {
    if let Some(ra) = spec.get("resourceAttributes") {
        let s = |k: &str| meta::str_field(ra, &[k]).to_string();
        return Ok(Attributes::Resource {
            verb: s("verb"),
            group: s("group"),
            resource: s("resource"),
            subresource: s("subresource"),
            namespace: s("namespace"),
            name: s("name"),
        });
    }
    if let Some(nra) = spec.get("nonResourceAttributes") {
        return Ok(Attributes::NonResource {
            verb: meta::str_field(nra, &["verb"]).to_string(),
            path: meta::str_field(nra, &["path"]).to_string(),
        });
    }
    Err(ApiError::invalid(
        "authorization.k8s.io",
        "SelfSubjectAccessReview",
        "",
        &[crate::errors::FieldError::required(
            "spec.resourceAttributes",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )],
    ))
}

fn answer(mut review: Value, store: &Store, user: &UserInfo, attrs: &Attributes) -> Value {
    let d = rbac::authorize(store, user, attrs);
    let mut status = Map::new();
    status.insert("allowed".into(), json!(d.allowed));
    if !d.reason.is_empty() {
        status.insert("reason".into(), json!(d.reason));
    }
    if let Some(m) = review.as_object_mut() {
        m.insert("status".into(), Value::Object(status));
        let md = m.entry("metadata").or_insert_with(|| json!({}));
        if let Some(md) = md.as_object_mut() {
            md.entry("creationTimestamp").or_insert(Value::Null);
        }
    }
    review
}

/// Handle a create of one of the review kinds.
pub(crate) fn create(
    store: &Store,
    kind: &str,
    url_namespace: &str,
    requester: &UserInfo,
    mut review: Value,
) -> Result<Value, ApiError> {
    let spec = review.get("spec").cloned().unwrap_or(json!({}));
    if let Some(m) = review.as_object_mut() {
        m.insert("apiVersion".into(), json!("authorization.k8s.io/v1"));
        m.insert("kind".into(), json!(kind));
    }
    match kind {
        "SelfSubjectAccessReview" => {
            let attrs = attributes_of(&spec)?;
            Ok(answer(review, store, requester, &attrs))
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let attrs = attributes_of(&spec)?;
            if kind == "LocalSubjectAccessReview" {
                let ns = match &attrs {
                    Attributes::Resource { namespace, .. } => namespace.as_str(),
                    Attributes::NonResource { .. } => "",
                };
                if ns != url_namespace {
                    return Err(ApiError::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {url_namespace}"
                    )));
                }
            }
            let user = UserInfo {
                name: meta::str_field(&spec, &["user"]).to_string(),
                groups: meta::string_list(spec.get("groups")),
            };
            if user.name.is_empty() && user.groups.is_empty() {
                return Err(ApiError::invalid(
                    "authorization.k8s.io",
                    kind,
                    "",
                    &[crate::errors::FieldError::invalid(
                        "spec.user",
                        json!(""),
                        "at least one of user or group must be specified",
                    )],
                ));
            }
            Ok(answer(review, store, &user, &attrs))
        }
        "SelfSubjectRulesReview" => {
            let ns = meta::str_field(&spec, &["namespace"]).to_string();
            let mut resource_rules = Vec::new();
            let mut non_resource_rules = Vec::new();
            if rbac::is_privileged(requester) {
                resource_rules
                    .push(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
                non_resource_rules.push(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
            }
            let resolved = rbac::resolve(store, requester, &ns);
            for sr in resolved.rules {
                if sr.rule.non_resource_urls.is_empty() {
                    resource_rules.push(sr.rule.to_value());
                } else {
                    non_resource_rules.push(json!({"verbs": sr.rule.verbs, "nonResourceURLs": sr.rule.non_resource_urls}));
                }
            }
            let mut status = json!({
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": false
            });
            if !resolved.errors.is_empty()
                && let Some(m) = status.as_object_mut()
            {
                m.insert("evaluationError".into(), json!(resolved.errors.join(", ")));
            }
            if let Some(m) = review.as_object_mut() {
                m.insert("status".into(), status);
            }
            Ok(review)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}
