//! `metav1.Status` error bodies with the wording of the real API server
//! (k8s.io/apimachinery/pkg/api/errors).

use serde_json::{Map, Value, json};

/// An error answered as a JSON `Status` (boxed: errors travel in `Result`s
/// on every path).
#[derive(Debug, Clone)]
pub(crate) struct ApiError(Box<ApiErrorData>);

impl std::ops::Deref for ApiError {
    type Target = ApiErrorData;
    fn deref(&self) -> &ApiErrorData {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ApiErrorData {
        &mut self.0
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ApiErrorData {
    pub code: u16,
    pub reason: String,
    pub message: String,
    pub details: Option<Value>,
    /// `Status.metadata` (carries a fresh continue token for 410 Expired).
    pub metadata: Value,
    /// Sent as a `Retry-After` header too.
    pub retry_after_seconds: Option<u32>,
}

/// `schema.GroupResource.String()`: `resource` or `resource.group`.
pub(crate) fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn details(name: &str, group: &str, kind: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !group.is_empty() {
        d.insert("group".into(), json!(group));
    }
    if !kind.is_empty() {
        d.insert("kind".into(), json!(kind));
    }
    Value::Object(d)
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError(Box::new(ApiErrorData {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
            metadata: json!({}),
            retry_after_seconds: None,
        }))
    }

    pub fn with_message_prefix(mut self, prefix: &str) -> Self {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("Status"));
        m.insert("apiVersion".into(), json!("v1"));
        m.insert("metadata".into(), self.metadata.clone());
        m.insert("status".into(), json!("Failure"));
        m.insert("message".into(), json!(self.message));
        if !self.reason.is_empty() {
            m.insert("reason".into(), json!(self.reason));
        }
        if let Some(d) = &self.details {
            m.insert("details".into(), d.clone());
        }
        m.insert("code".into(), json!(self.code));
        Value::Object(m)
    }

    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            404,
            "NotFound",
            format!("{} \"{}\" not found", qualified(group, resource), name),
        )
        .with_details(details(name, group, resource))
    }

    pub fn namespace_not_found(ns: &str) -> Self {
        ApiError::not_found("", "namespaces", ns)
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{}\" already exists", qualified(group, resource), name),
        )
        .with_details(details(name, group, resource))
    }

    /// `errors.NewConflict`.
    pub fn conflict(group: &str, resource: &str, name: &str, msg: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{}\": {}",
                qualified(group, resource),
                name,
                msg
            ),
        )
        .with_details(details(name, group, resource))
    }

    /// The optimistic-lock conflict of an update with a stale resourceVersion.
    pub fn modified(group: &str, resource: &str, name: &str) -> Self {
        ApiError::conflict(
            group,
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `errors.NewForbidden`.
    pub fn forbidden(group: &str, resource: &str, name: &str, msg: &str) -> Self {
        let message = if resource.is_empty() && group.is_empty() {
            format!("forbidden: {msg}")
        } else if name.is_empty() {
            format!("{} is forbidden: {msg}", qualified(group, resource))
        } else {
            format!(
                "{} \"{}\" is forbidden: {msg}",
                qualified(group, resource),
                name
            )
        };
        ApiError::new(403, "Forbidden", message).with_details(details(name, group, resource))
    }

    /// `errors.NewInvalid`: 422 with field causes.
    pub fn invalid(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Self {
        let qualified_kind = qualified(group, kind);
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({"reason": e.cause_type(), "message": e.body(), "field": e.field}))
            .collect();
        let message = match errs.len() {
            0 => format!("{qualified_kind} \"{name}\" is invalid"),
            _ => format!(
                "{qualified_kind} \"{name}\" is invalid: {}",
                aggregate(errs)
            ),
        };
        let mut d = details(name, group, kind);
        if let Some(m) = d.as_object_mut() {
            m.insert("causes".into(), Value::Array(causes));
        }
        ApiError::new(422, "Invalid", message).with_details(d)
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", msg)
    }

    pub fn internal(msg: &str) -> Self {
        ApiError::new(
            500,
            "InternalError",
            format!("Internal error occurred: {msg}"),
        )
        .with_details(json!({"causes": [{"message": msg}]}))
    }

    pub fn method_not_allowed() -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn not_acceptable(accepted: &[&str]) -> Self {
        ApiError::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: {}",
                accepted.join(", ")
            ),
        )
    }

    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 410 Expired for a continue token whose snapshot was compacted, with a
    /// fresh (inconsistent) continue token in `Status.metadata`.
    pub fn continue_expired(new_token: &str) -> Self {
        let mut e = ApiError::new(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
        e.metadata = json!({"continue": new_token});
        e
    }
}

/// `utilerrors.NewAggregate(...).Error()`.
fn aggregate(errs: &[FieldError]) -> String {
    let mut msgs: Vec<String> = Vec::new();
    for e in errs {
        let s = e.to_string();
        if !msgs.contains(&s) {
            msgs.push(s);
        }
    }
    if msgs.len() == 1 {
        msgs.remove(0)
    } else {
        format!("[{}]", msgs.join(", "))
    }
}

/// A `field.Error`.
#[derive(Debug, Clone)]
pub(crate) struct FieldError {
    pub field: String,
    pub kind: FieldErrorKind,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub(crate) enum FieldErrorKind {
    Required,
    Forbidden,
    Invalid(Value),
    /// An invalid value Go renders itself (`%#v` of a struct).
    InvalidRendered(String),
    NotSupported(Value, Vec<String>),
}

impl FieldError {
    pub fn required(field: &str, detail: &str) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Required,
            detail: detail.into(),
        }
    }
    pub fn forbidden(field: &str, detail: &str) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Forbidden,
            detail: detail.into(),
        }
    }
    pub fn invalid(field: &str, value: Value, detail: &str) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Invalid(value),
            detail: detail.into(),
        }
    }
    pub fn invalid_rendered(field: &str, rendered: String, detail: &str) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::InvalidRendered(rendered),
            detail: detail.into(),
        }
    }
    pub fn not_supported(field: &str, value: Value, allowed: &[&str]) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::NotSupported(
                value,
                allowed.iter().map(|s| s.to_string()).collect(),
            ),
            detail: String::new(),
        }
    }

    fn cause_type(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::Invalid(_) | FieldErrorKind::InvalidRendered(_) => "FieldValueInvalid",
            FieldErrorKind::NotSupported(..) => "FieldValueNotSupported",
        }
    }

    /// `field.Error.ErrorBody()`.
    pub fn body(&self) -> String {
        let mut s = match &self.kind {
            FieldErrorKind::Required => "Required value".to_string(),
            FieldErrorKind::Forbidden => "Forbidden".to_string(),
            FieldErrorKind::Invalid(v) => format!("Invalid value: {}", go_value(v)),
            FieldErrorKind::InvalidRendered(v) => format!("Invalid value: {v}"),
            FieldErrorKind::NotSupported(v, allowed) => {
                let quoted: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
                format!(
                    "Unsupported value: {}: supported values: {}",
                    go_value(v),
                    quoted.join(", ")
                )
            }
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Go's `%q`/`%v` rendering of a bad value.
fn go_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`.
pub(crate) fn go_string_slice(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_wording() {
        let e = ApiError::not_found("", "secrets", "x");
        assert_eq!(e.message, "secrets \"x\" not found");
        let e = ApiError::not_found("actions.github.com", "autoscalinglisteners", "l");
        assert_eq!(
            e.message,
            "autoscalinglisteners.actions.github.com \"l\" not found"
        );
        let b = e.body();
        assert_eq!(b["details"]["kind"], "autoscalinglisteners");
        assert_eq!(b["details"]["group"], "actions.github.com");
        assert_eq!(b["code"], 404);
    }

    #[test]
    fn invalid_wording() {
        let fe = FieldError::forbidden(
            "metadata.finalizers",
            &format!(
                "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                go_string_slice(&["a/b".to_string()])
            ),
        );
        let e = ApiError::invalid("", "ConfigMap", "c", &[fe]);
        assert_eq!(
            e.message,
            "ConfigMap \"c\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"a/b\"}"
        );
        assert_eq!(
            e.body()["details"]["causes"][0]["reason"],
            "FieldValueForbidden"
        );
    }

    #[test]
    fn forbidden_wording() {
        let e = ApiError::forbidden(
            "",
            "secrets",
            "",
            "User \"u\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns\"",
        );
        assert_eq!(
            e.message,
            "secrets is forbidden: User \"u\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns\""
        );
        let e = ApiError::forbidden("", "", "", "User \"u\" cannot get path \"/x\"");
        assert_eq!(e.message, "forbidden: User \"u\" cannot get path \"/x\"");
    }
}
