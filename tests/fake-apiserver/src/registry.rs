//! CRUD semantics of the generic registry store (k8s.io/apiserver/pkg/registry/generic/registry)
//! and the kind-specific strategies that matter: namespaces, pods (graceful
//! deletion), CRDs, status subresources, garbage-collection finalizers.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use crate::admission::{self, Operation};
use crate::catalog::{CRD_GROUP, CRD_KIND, ResourceType};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::errors::{ApiError, FieldError, go_string_slice};
use crate::meta;
use crate::patch::{self, PatchType};
use crate::selectors::{FieldSelector, LabelSelector, supported_fields};
use crate::store::{ObjKey, Store};

pub(crate) const FINALIZER_ORPHAN: &str = "orphan";
pub(crate) const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
pub(crate) const CRD_CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Continue tokens older than this (on the fake clock) answer 410 Expired,
/// like a list snapshot compacted away by etcd.
pub(crate) const CONTINUE_TOKEN_TTL_SECONDS: i64 = 300;

/// Set `apiVersion`/`kind` to the requested version.
pub(crate) fn render(obj: &Value, rt: &ResourceType) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
    }
    o
}

pub(crate) fn key_for(rt: &ResourceType, namespace: &str, name: &str) -> ObjKey {
    ObjKey::new(
        &rt.group,
        &rt.kind,
        if rt.namespaced { namespace } else { "" },
        name,
    )
}

fn write(store: &mut Store, key: &ObjKey, mut obj: Value) -> Value {
    let rv = store.next_rv();
    meta::set_meta(&mut obj, "resourceVersion", json!(rv.to_string()));
    store.put(key, obj.clone());
    obj
}

fn remove(store: &mut Store, key: &ObjKey) -> Option<Value> {
    store.remove(key)
}

// ---------------------------------------------------------------- get / list

pub(crate) fn get(
    store: &Store,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
) -> Result<Value, ApiError> {
    store
        .get(&key_for(rt, namespace, name))
        .map(|o| render(o, rt))
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))
}

#[derive(Debug, Default)]
pub(crate) struct ListOptions {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub limit: usize,
    pub continue_token: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ListPage {
    pub items: Vec<Value>,
    pub resource_version: String,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<usize>,
}

/// The decoded form of a continue token (the etcd3 format plus the time it
/// was issued on the fake clock).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct ContinueToken {
    pub v: String,
    pub rv: i64,
    pub start: String,
    #[serde(default, rename = "issuedAt", skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
}

impl ContinueToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(s: &str) -> Result<ContinueToken, String> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(s))
            .map_err(|e| e.to_string())?;
        let t: ContinueToken = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if t.v != "meta.k8s.io/v1" {
            return Err("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into());
        }
        Ok(t)
    }

    /// The storage key the next page starts after.
    pub fn start_key(&self) -> &str {
        self.start.trim_end_matches('\u{0}')
    }
}

pub(crate) fn list(
    store: &Store,
    now: Timestamp,
    rt: &ResourceType,
    namespace: Option<&str>,
    opts: &ListOptions,
) -> Result<ListPage, ApiError> {
    for f in opts.field.fields() {
        if f != "metadata.name"
            && f != "metadata.namespace"
            && !supported_fields(&rt.group, &rt.kind).contains(&f)
        {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {f}"
            )));
        }
    }
    let mut list_rv = store.current_rv() as i64;
    let mut after: Option<String> = None;
    if let Some(tok) = &opts.continue_token {
        let t = ContinueToken::decode(tok)
            .map_err(|e| ApiError::bad_request(format!("invalid continue token: {e}")))?;
        if t.rv > 0 {
            let issued = t.issued_at.unwrap_or(0);
            if now.as_second() - issued > CONTINUE_TOKEN_TTL_SECONDS {
                let fresh = ContinueToken {
                    v: t.v.clone(),
                    rv: -1,
                    start: t.start.clone(),
                    issued_at: None,
                };
                return Err(ApiError::continue_expired(&fresh.encode()));
            }
            list_rv = t.rv;
        }
        after = Some(t.start_key().to_string());
    }
    let matching = store
        .list_from(&rt.group, &rt.kind, namespace, after.as_deref())
        .filter(|(_, o)| opts.label.matches(&meta::labels(o)) && opts.field.matches(o));
    let mut items = Vec::new();
    let mut last_key = String::new();
    let mut rest = 0usize;
    for (k, o) in matching {
        if opts.limit == 0 || items.len() < opts.limit {
            items.push(render(o, rt));
            last_key = k.clone();
        } else {
            rest += 1;
        }
    }
    let (continue_token, remaining_item_count) = if rest > 0 {
        let t = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: list_rv,
            start: format!("{last_key}\u{0}"),
            issued_at: Some(now.as_second()),
        };
        let remaining = (opts.label.is_empty() && opts.field.is_empty()).then_some(rest);
        (Some(t.encode()), remaining)
    } else {
        (None, None)
    };
    Ok(ListPage {
        items,
        resource_version: list_rv.max(0).to_string(),
        continue_token,
        remaining_item_count,
    })
}

// ---------------------------------------------------------------- validation

/// Check/complete apiVersion and kind of a request body.
pub(crate) fn check_type(obj: &mut Value, rt: &ResourceType) -> Result<(), ApiError> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let av = m.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if !av.is_empty() && av != rt.api_version() {
        let (g, _) = meta::split_api_version(av);
        if g != rt.group {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
    }
    let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
    if !kind.is_empty() && kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    m.insert("apiVersion".into(), json!(rt.api_version()));
    m.insert("kind".into(), json!(rt.kind));
    if !m.get("metadata").is_none_or(Value::is_object) {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: metadata must be an object",
            rt.kind, rt.version, rt.kind
        )));
    }
    if rt.is("", "Secret")
        && let Some(data) = m.get("data").and_then(Value::as_object)
    {
        for v in data.values() {
            let s = v.as_str().unwrap_or("");
            if let Err(e) = base64::engine::general_purpose::STANDARD.decode(s) {
                return Err(ApiError::bad_request(format!(
                    "Secret in version \"v1\" cannot be handled as a Secret: {}",
                    go_base64_error(&e)
                )));
            }
        }
    }
    apply_defaults(obj, rt);
    Ok(())
}

/// What decoding a request body does beyond parsing: the v1 → internal
/// conversion of Secrets (`stringData` merged into `data`, never stored) and
/// the defaulting of RBAC subjects' `apiGroup`.
fn apply_defaults(obj: &mut Value, rt: &ResourceType) {
    let Some(m) = obj.as_object_mut() else { return };
    if rt.is("", "Secret")
        && let Some(Value::Object(string_data)) = m.remove("stringData")
    {
        let data = m.entry("data").or_insert_with(|| json!({}));
        if !data.is_object() {
            *data = json!({});
        }
        if let Some(d) = data.as_object_mut() {
            for (k, v) in string_data {
                let plain = v.as_str().unwrap_or("").as_bytes().to_vec();
                d.insert(
                    k,
                    json!(base64::engine::general_purpose::STANDARD.encode(plain)),
                );
            }
        }
    }
    if rt.is(RBAC_GROUP, "RoleBinding") || rt.is(RBAC_GROUP, "ClusterRoleBinding") {
        for subj in m
            .get_mut("subjects")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let kind = meta::str_field(subj, &["kind"]).to_string();
            if let Some(sm) = subj.as_object_mut()
                && sm
                    .get("apiGroup")
                    .and_then(Value::as_str)
                    .is_none_or(str::is_empty)
                && (kind == "User" || kind == "Group")
            {
                sm.insert("apiGroup".into(), json!(RBAC_GROUP));
            }
        }
    }
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding`.
fn validate_binding(rt: &ResourceType, obj: &Value, errs: &mut Vec<FieldError>) {
    let namespaced = rt.kind == "RoleBinding";
    let role_ref = obj.get("roleRef").cloned().unwrap_or(json!({}));
    let api_group = meta::str_field(&role_ref, &["apiGroup"]);
    if api_group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            json!(api_group),
            &[RBAC_GROUP],
        ));
    }
    let kind = meta::str_field(&role_ref, &["kind"]);
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        errs.push(FieldError::not_supported(
            "roleRef.kind",
            json!(kind),
            kinds,
        ));
    }
    if meta::str_field(&role_ref, &["name"]).is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    }
    let subjects = obj
        .get("subjects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, s) in subjects.iter().enumerate() {
        let path = |f: &str| format!("subjects[{i}].{f}");
        let name = meta::str_field(s, &["name"]);
        let group = meta::str_field(s, &["apiGroup"]);
        if name.is_empty() {
            errs.push(FieldError::required(&path("name"), ""));
        }
        match meta::str_field(s, &["kind"]) {
            "ServiceAccount" => {
                if !name.is_empty() && !meta::is_dns1123_subdomain(name) {
                    errs.push(FieldError::invalid(
                        &path("name"),
                        json!(name),
                        meta::DNS1123_SUBDOMAIN_MSG,
                    ));
                }
                if !group.is_empty() {
                    errs.push(FieldError::not_supported(
                        &path("apiGroup"),
                        json!(group),
                        &[""],
                    ));
                }
                if !namespaced && meta::str_field(s, &["namespace"]).is_empty() {
                    errs.push(FieldError::required(&path("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if group != RBAC_GROUP {
                    errs.push(FieldError::not_supported(
                        &path("apiGroup"),
                        json!(group),
                        &[RBAC_GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &path("kind"),
                json!(other),
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

/// Go's `%#v` of an internal `rbac.RoleRef`.
fn go_role_ref(obj: &Value) -> String {
    let f = |k: &str| meta::str_field(obj, &["roleRef", k]).to_string();
    format!(
        "rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}",
        f("apiGroup"),
        f("kind"),
        f("name")
    )
}

fn go_base64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(i, _) | base64::DecodeError::InvalidLastSymbol(i, _) => {
            format!("illegal base64 data at input byte {i}")
        }
        _ => "illegal base64 data at input byte 0".to_string(),
    }
}

fn validate_name(rt: &ResourceType, name: &str) -> Option<FieldError> {
    let bad = |msg: &str| Some(FieldError::invalid("metadata.name", json!(name), msg));
    if rt.group == "rbac.authorization.k8s.io" {
        if name == "." || name == ".." {
            return bad(&format!("may not be '{name}'"));
        }
        if name.contains('/') {
            return bad("may not contain '/'");
        }
        if name.contains('%') {
            return bad("may not contain '%'");
        }
        return None;
    }
    if rt.is("", "Namespace") {
        if !meta::is_dns1123_label(name) {
            return bad(meta::DNS1123_LABEL_MSG);
        }
        return None;
    }
    if !meta::is_dns1123_subdomain(name) {
        return bad(meta::DNS1123_SUBDOMAIN_MSG);
    }
    None
}

fn validate_object(rt: &ResourceType, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = meta::name(obj);
    if let Some(e) = validate_name(rt, name) {
        errs.push(e);
    }
    let refs = meta::owner_refs(obj);
    for r in &refs {
        let (_, version) = meta::split_api_version(&r.api_version);
        if version.is_empty() {
            errs.push(FieldError::invalid(
                "metadata.ownerReferences.apiVersion",
                json!(r.api_version),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                "metadata.ownerReferences.kind",
                json!(r.kind),
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                "metadata.ownerReferences.name",
                json!(r.name),
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                "metadata.ownerReferences.uid",
                json!(r.uid),
                "uid must not be empty",
            ));
        }
    }
    let controllers = obj
        .get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .count()
        })
        .unwrap_or(0);
    if controllers > 1 {
        errs.push(FieldError::invalid(
            "metadata.ownerReferences",
            Value::Null,
            "Only one reference can have Controller set to true",
        ));
    }
    if rt.is(RBAC_GROUP, "RoleBinding") || rt.is(RBAC_GROUP, "ClusterRoleBinding") {
        validate_binding(rt, obj, &mut errs);
    }
    if rt.is(CRD_GROUP, CRD_KIND) {
        let group = meta::str_field(obj, &["spec", "group"]);
        let plural = meta::str_field(obj, &["spec", "names", "plural"]);
        if group.is_empty() {
            errs.push(FieldError::required("spec.group", ""));
        }
        if plural.is_empty() {
            errs.push(FieldError::required("spec.names.plural", ""));
        }
        if meta::str_field(obj, &["spec", "names", "kind"]).is_empty() {
            errs.push(FieldError::required("spec.names.kind", ""));
        }
        if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
            errs.push(FieldError::invalid(
                "metadata.name",
                json!(name),
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
    }
    errs
}

fn invalid(rt: &ResourceType, name: &str, errs: Vec<FieldError>) -> Result<(), ApiError> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(&rt.group, &rt.kind, name, &errs))
    }
}

/// `ObjectMeta` round-trips through Go structs (for custom resources too),
/// so `omitempty` fields that are empty are not stored: an emptied
/// `finalizers`/`annotations`/… disappears rather than staying `[]`/`{}`.
pub(crate) fn normalize_metadata(obj: &mut Value) {
    let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    m.retain(|k, v| match k.as_str() {
        "labels" | "annotations" | "ownerReferences" | "finalizers" | "managedFields" => {
            !(v.is_null()
                || v.as_object().is_some_and(serde_json::Map::is_empty)
                || v.as_array().is_some_and(Vec::is_empty))
        }
        "name" | "generateName" | "namespace" | "selfLink" | "uid" | "resourceVersion" => {
            !(v.is_null() || v.as_str() == Some(""))
        }
        "deletionTimestamp" | "deletionGracePeriodSeconds" => !v.is_null(),
        _ => true,
    });
}

fn ensure_namespace_label(obj: &mut Value) {
    let name = meta::name(obj).to_string();
    let m = meta::meta_mut(obj);
    let labels = m.entry("labels").or_insert_with(|| json!({}));
    if let Some(l) = labels.as_object_mut() {
        l.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
}

// ---------------------------------------------------------------- create

pub(crate) fn create(
    store: &mut Store,
    now: Timestamp,
    rt: &ResourceType,
    url_namespace: &str,
    mut obj: Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    check_type(&mut obj, rt)?;
    let body_ns = meta::namespace(&obj).to_string();
    if rt.namespaced {
        if !body_ns.is_empty() && body_ns != url_namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta::set_meta(&mut obj, "namespace", json!(url_namespace));
    } else {
        meta::remove_meta(&mut obj, "namespace");
    }
    let mut name = meta::name(&obj).to_string();

    admission::namespace_lifecycle(store, rt, Operation::Create, url_namespace, &name)?;
    admission::webhooks(store, rt, Operation::Create, "", &obj)?;

    if name.is_empty() {
        let generate = meta::str_field(&obj, &["metadata", "generateName"]).to_string();
        if generate.is_empty() {
            return Err(ApiError::invalid(
                &rt.group,
                &rt.kind,
                "",
                &[FieldError::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            ));
        }
        name = format!("{generate}{}", store.random_suffix());
        meta::set_meta(&mut obj, "name", json!(name));
    }
    let client_rv = meta::resource_version(&obj).to_string();

    // PrepareForCreate / BeforeCreate.
    for k in [
        "uid",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "generation",
        "resourceVersion",
    ] {
        meta::remove_meta(&mut obj, k);
    }
    meta::set_meta(&mut obj, "uid", json!(store.new_uid()));
    meta::set_meta(&mut obj, "creationTimestamp", json!(rfc3339(now)));
    if rt.generation {
        meta::set_meta(&mut obj, "generation", json!(1));
    }
    prepare_for_create(rt, &mut obj);
    normalize_metadata(&mut obj);

    invalid(rt, &name, validate_object(rt, &obj))?;
    if !client_rv.is_empty() {
        return Err(ApiError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    let key = key_for(rt, url_namespace, &name);
    if store.contains(&key) {
        return Err(ApiError::already_exists(&rt.group, &rt.resource, &name));
    }
    if dry_run {
        return Ok(obj);
    }
    Ok(write(store, &key, obj))
}

fn prepare_for_create(rt: &ResourceType, obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else { return };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => {
            let spec = m.entry("spec").or_insert_with(|| json!({}));
            if let Some(s) = spec.as_object_mut() {
                s.insert("finalizers".into(), json!(["kubernetes"]));
            }
            m.insert("status".into(), json!({"phase": "Active"}));
            ensure_namespace_label(obj);
        }
        ("", "Pod") => {
            m.insert("status".into(), json!({"phase": "Pending"}));
            if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
                spec.entry("terminationGracePeriodSeconds")
                    .or_insert(json!(30));
            }
        }
        ("", "Node") => {}
        (CRD_GROUP, CRD_KIND) => {
            let names = m
                .get("spec")
                .and_then(|s| s.get("names"))
                .cloned()
                .unwrap_or(json!({}));
            let storage: Vec<Value> = m
                .get("spec")
                .and_then(|s| s.get("versions"))
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                        .filter_map(|v| v.get("name").cloned())
                        .collect()
                })
                .unwrap_or_default();
            m.insert(
                "status".into(),
                json!({
                    "acceptedNames": names,
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
                    ],
                    "storedVersions": storage
                }),
            );
        }
        _ if rt.has_status() => {
            if rt.builtin {
                m.insert("status".into(), json!({}));
            } else {
                m.remove("status");
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- update / patch

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpdateMode {
    Main,
    Status,
    Finalize,
}

impl UpdateMode {
    fn subresource(self) -> &'static str {
        match self {
            UpdateMode::Main => "",
            UpdateMode::Status => "status",
            UpdateMode::Finalize => "finalize",
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn update(
    store: &mut Store,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    mut new: Value,
    mode: UpdateMode,
    dry_run: bool,
) -> Result<Value, ApiError> {
    check_type(&mut new, rt)?;
    check_identity(rt, &new, namespace, name)?;
    let key = key_for(rt, namespace, name);
    let old = store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
    apply_update(store, rt, &key, old, new, mode, dry_run)
}

fn check_identity(
    rt: &ResourceType,
    obj: &Value,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    let body_name = meta::name(obj);
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    let body_ns = meta::namespace(obj);
    if rt.namespaced && !body_ns.is_empty() && body_ns != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn patch(
    store: &mut Store,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    patch_type: PatchType,
    body: &[u8],
    mode: UpdateMode,
    dry_run: bool,
) -> Result<Value, ApiError> {
    if patch_type == PatchType::Apply || (patch_type == PatchType::Strategic && !rt.builtin) {
        return Err(ApiError::unsupported_media_type(
            &patch::accepted_patch_types(rt.builtin),
        ));
    }
    let key = key_for(rt, namespace, name);
    let old = store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
    let current = render(&old, rt);
    let mut patched = patch::apply(&current, patch_type, body)?;
    if !patched.is_object() {
        return Err(ApiError::bad_request(
            "the patched object must be a JSON object",
        ));
    }
    if meta::name(&patched).is_empty() {
        meta::set_meta(&mut patched, "name", json!(name));
    }
    if rt.namespaced && meta::namespace(&patched).is_empty() {
        meta::set_meta(&mut patched, "namespace", json!(namespace));
    }
    check_type(&mut patched, rt)?;
    check_identity(rt, &patched, namespace, name)?;
    apply_update(store, rt, &key, old, patched, mode, dry_run)
}

/// `GuaranteedUpdate` + `BeforeUpdate`: optimistic concurrency, admission,
/// server-managed fields, validation, no-op detection, delete-on-update.
#[allow(clippy::too_many_arguments)]
fn apply_update(
    store: &mut Store,
    rt: &ResourceType,
    key: &ObjKey,
    old: Value,
    new: Value,
    mode: UpdateMode,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let new_rv = meta::resource_version(&new);
    if !new_rv.is_empty() && new_rv != meta::resource_version(&old) {
        return Err(ApiError::modified(&rt.group, &rt.resource, &key.name));
    }
    admission::namespace_lifecycle(store, rt, Operation::Update, &key.namespace, &key.name)?;
    admission::webhooks(store, rt, Operation::Update, mode.subresource(), &new)?;

    let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
    let mut result = match mode {
        UpdateMode::Main => {
            let mut r = new.clone();
            if let Some(m) = r.as_object_mut() {
                if rt.has_status() {
                    match old.get("status") {
                        Some(s) => m.insert("status".into(), s.clone()),
                        None => m.remove("status"),
                    };
                }
                if rt.is("", "Namespace") {
                    let fins = old.get("spec").and_then(|s| s.get("finalizers")).cloned();
                    let spec = m.entry("spec").or_insert_with(|| json!({}));
                    if let Some(s) = spec.as_object_mut() {
                        match fins {
                            Some(f) => s.insert("finalizers".into(), f),
                            None => s.remove("finalizers"),
                        };
                    }
                }
            }
            r
        }
        UpdateMode::Status => {
            let mut r = old.clone();
            if let Some(m) = r.as_object_mut() {
                match new.get("status") {
                    Some(s) => m.insert("status".into(), s.clone()),
                    None => m.remove("status"),
                };
            }
            r
        }
        UpdateMode::Finalize => {
            let mut r = old.clone();
            let fins = new.get("spec").and_then(|s| s.get("finalizers")).cloned();
            if let Some(m) = r.as_object_mut() {
                let spec = m.entry("spec").or_insert_with(|| json!({}));
                if let Some(s) = spec.as_object_mut() {
                    match fins {
                        Some(f) => s.insert("finalizers".into(), f),
                        None => s.remove("finalizers"),
                    };
                }
            }
            r
        }
    };

    // Server-managed metadata.
    let new_uid = meta::uid(&result).to_string();
    let old_uid = meta::uid(&old).to_string();
    let mut errs = Vec::new();
    if !new_uid.is_empty() && new_uid != old_uid {
        errs.push(FieldError::invalid(
            "metadata.uid",
            json!(new_uid),
            "field is immutable",
        ));
    }
    {
        let m = meta::meta_mut(&mut result);
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
            "namespace",
            "name",
        ] {
            match old_meta.get(k) {
                Some(v) => m.insert(k.to_string(), v.clone()),
                None => m.remove(k),
            };
        }
        m.remove("selfLink");
    }
    if let Some(m) = result.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
    }
    if rt.is("", "Namespace") {
        ensure_namespace_label(&mut result);
    }
    normalize_metadata(&mut result);

    errs.extend(validate_object(rt, &result));
    if (rt.is(RBAC_GROUP, "RoleBinding") || rt.is(RBAC_GROUP, "ClusterRoleBinding"))
        && old.get("roleRef") != result.get("roleRef")
    {
        errs.push(FieldError::invalid_rendered(
            "roleRef",
            go_role_ref(&result),
            "cannot change roleRef",
        ));
    }
    if meta::is_deleting(&old) {
        let old_fins = meta::finalizers(&old);
        let mut extra: Vec<String> = meta::finalizers(&result)
            .into_iter()
            .filter(|f| !old_fins.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_string_slice(&extra)
                ),
            ));
        }
    }
    invalid(rt, &key.name, errs)?;

    let generation_tracked = rt.generation || old_meta.get("generation").is_some();
    if mode == UpdateMode::Main
        && generation_tracked
        && meta::spec_part(&result) != meta::spec_part(&old)
    {
        let g = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta::set_meta(&mut result, "generation", json!(g + 1));
    }

    // A no-op update is not written (etcd3 GuaranteedUpdate).
    let mut old_cmp = old.clone();
    if let Some(m) = old_cmp.as_object_mut() {
        m.insert("apiVersion".into(), json!(rt.api_version()));
        m.insert("kind".into(), json!(rt.kind));
    }
    if result == old_cmp {
        return Ok(render(&old, rt));
    }

    // ShouldDeleteDuringUpdate: the last finalizer of a deleting object is gone.
    let grace_done = meta::deletion_grace(&old).is_none_or(|g| g == 0);
    let ns_finalized = !rt.is("", "Namespace")
        || result
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
    if meta::is_deleting(&old) && meta::finalizers(&result).is_empty() && grace_done && ns_finalized
    {
        if dry_run {
            return Ok(result);
        }
        if let Some(gone) = store.remove(key) {
            meta::set_meta(
                &mut result,
                "resourceVersion",
                json!(meta::resource_version(&gone)),
            );
        }
        return Ok(result);
    }
    if dry_run {
        return Ok(result);
    }
    Ok(write(store, key, result))
}

/// Store an object again, unchanged but with a new resourceVersion: what a
/// watcher sees when another client wrote it. Admission runs as for an
/// update (a stranded object cannot be touched).
pub(crate) fn touch(
    store: &mut Store,
    rt: &ResourceType,
    namespace: &str,
    name: &str,
) -> Result<Value, ApiError> {
    let key = key_for(rt, namespace, name);
    let old = store
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
    admission::namespace_lifecycle(store, rt, Operation::Update, &key.namespace, &key.name)?;
    admission::webhooks(store, rt, Operation::Update, "", &old)?;
    Ok(render(&write(store, &key, old), rt))
}

// ---------------------------------------------------------------- delete

#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation_policy: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn background() -> Self {
        DeleteOptions {
            propagation_policy: Some("Background".into()),
            ..Default::default()
        }
    }

    pub fn with_policy(policy: &str) -> Self {
        DeleteOptions {
            propagation_policy: Some(policy.into()),
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), ApiError> {
        let mut errs = Vec::new();
        if let Some(p) = &self.propagation_policy {
            if !["Foreground", "Background", "Orphan"].contains(&p.as_str()) {
                errs.push(FieldError::not_supported(
                    "propagationPolicy",
                    json!(p),
                    &["Foreground", "Background", "Orphan"],
                ));
            } else if self.orphan_dependents.is_some() {
                errs.push(FieldError::invalid(
                    "propagationPolicy",
                    json!(p),
                    "orphanDependents and deletionPropagation cannot be both set",
                ));
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("meta.k8s.io", "DeleteOptions", "", &errs))
        }
    }
}

/// Result of a delete.
#[derive(Debug)]
pub(crate) enum DeleteOutcome {
    /// Removed from storage; the last state.
    Gone(Value),
    /// Still present (finalizers or graceful deletion); the current state.
    Pending(Value),
}

fn should_orphan(opts: &DeleteOptions, fins: &[String]) -> bool {
    if let Some(o) = opts.orphan_dependents {
        return o;
    }
    match opts.propagation_policy.as_deref() {
        Some("Orphan") => return true,
        Some("Background") | Some("Foreground") => return false,
        _ => {}
    }
    for f in fins {
        if f == FINALIZER_ORPHAN {
            return true;
        }
        if f == FINALIZER_FOREGROUND {
            return false;
        }
    }
    false
}

fn should_delete_dependents(opts: &DeleteOptions, fins: &[String]) -> bool {
    if opts.orphan_dependents.is_some() {
        return false;
    }
    match opts.propagation_policy.as_deref() {
        Some("Foreground") => return true,
        Some("Background") | Some("Orphan") => return false,
        _ => {}
    }
    let has_orphan = fins.iter().any(|f| f == FINALIZER_ORPHAN);
    let has_fg = fins.iter().any(|f| f == FINALIZER_FOREGROUND);
    has_fg && !has_orphan
}

/// `deletionFinalizersForGarbageCollection`.
fn gc_finalizers(obj: &Value, opts: &DeleteOptions) -> Option<Vec<String>> {
    let fins = meta::finalizers(obj);
    let orphan = should_orphan(opts, &fins);
    let foreground = should_delete_dependents(opts, &fins);
    let mut new: Vec<String> = fins
        .iter()
        .filter(|f| *f != FINALIZER_ORPHAN && *f != FINALIZER_FOREGROUND)
        .cloned()
        .collect();
    if orphan {
        new.push(FINALIZER_ORPHAN.into());
    }
    if foreground {
        new.push(FINALIZER_FOREGROUND.into());
    }
    let mut a = fins.clone();
    let mut b = new.clone();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    (a != b).then_some(new)
}

/// `markAsDeleting`.
fn mark_as_deleting(obj: &mut Value, now: Timestamp) {
    if !meta::is_deleting(obj)
        && let Some(g) = obj
            .get("metadata")
            .and_then(|m| m.get("generation"))
            .and_then(Value::as_i64)
        && g > 0
    {
        meta::set_meta(obj, "generation", json!(g + 1));
    }
    let existing = meta::deletion_timestamp(obj).and_then(parse_rfc3339);
    if existing.is_none_or(|t| t > now) {
        meta::set_meta(obj, "deletionTimestamp", json!(rfc3339(now)));
    }
    meta::set_meta(obj, "deletionGracePeriodSeconds", json!(0));
}

/// Which registry's wording a precondition Conflict uses.
#[derive(Clone, Copy)]
enum Wording {
    /// `rest.BeforeDelete` (most kinds): the Conflict names the kind.
    Generic,
    /// The namespace and CRD registries: "Precondition failed: …", naming the resource.
    Legacy,
}

/// DELETE preconditions (uid, resourceVersion) with the real server's Conflict messages.
fn check_preconditions(
    rt: &ResourceType,
    obj: &Value,
    opts: &DeleteOptions,
    wording: Wording,
) -> Result<(), ApiError> {
    let conflict = |msg: String| {
        let what = match wording {
            Wording::Generic => &rt.kind,
            Wording::Legacy => &rt.resource,
        };
        ApiError::conflict(&rt.group, what, meta::name(obj), &msg)
    };
    if let Some(u) = &opts.precondition_uid
        && u != meta::uid(obj)
    {
        let have = meta::uid(obj);
        return Err(conflict(match wording {
            Wording::Generic => format!(
                "the UID in the precondition ({u}) does not match the UID in record ({have}). The object might have been deleted and then recreated"
            ),
            Wording::Legacy => {
                format!("Precondition failed: UID in precondition: {u}, UID in object meta: {have}")
            }
        }));
    }
    if let Some(rv) = &opts.precondition_resource_version
        && rv != meta::resource_version(obj)
    {
        let have = meta::resource_version(obj);
        return Err(conflict(match wording {
            Wording::Generic => format!(
                "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({have}). The object might have been modified"
            ),
            Wording::Legacy => format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}"
            ),
        }));
    }
    Ok(())
}

enum Grace {
    /// Not a graceful deletion.
    None,
    /// A graceful deletion is already pending; nothing changes.
    Pending,
    /// Graceful: deletionTimestamp/grace set with this period.
    Graceful(i64),
}

/// `BeforeDelete` for the graceful strategy of pods.
fn pod_before_delete(obj: &mut Value, opts: &DeleteOptions, now: Timestamp) -> Grace {
    if let Some(dt) = meta::deletion_timestamp(obj).and_then(parse_rfc3339) {
        let current = match meta::deletion_grace(obj) {
            None | Some(0) => return Grace::None,
            Some(g) => g,
        };
        return match opts.grace_period_seconds {
            Some(p) if p < current => {
                let p = p.max(0);
                let new_dt = dt
                    .checked_sub(SignedDuration::from_secs(current))
                    .and_then(|t| t.checked_add(SignedDuration::from_secs(p)))
                    .unwrap_or(now);
                meta::set_meta(obj, "deletionTimestamp", json!(rfc3339(new_dt)));
                meta::set_meta(obj, "deletionGracePeriodSeconds", json!(p));
                Grace::Graceful(p)
            }
            _ => Grace::Pending,
        };
    }
    let mut period = opts.grace_period_seconds.unwrap_or_else(|| {
        obj.get("spec")
            .and_then(|s| s.get("terminationGracePeriodSeconds"))
            .and_then(Value::as_i64)
            .unwrap_or(30)
    });
    if meta::str_field(obj, &["spec", "nodeName"]).is_empty() {
        period = 0;
    }
    let phase = meta::str_field(obj, &["status", "phase"]);
    if phase == "Failed" || phase == "Succeeded" {
        period = 0;
    }
    if period < 0 {
        period = 1;
    }
    let dt = now
        .checked_add(SignedDuration::from_secs(period))
        .unwrap_or(now);
    meta::set_meta(obj, "deletionTimestamp", json!(rfc3339(dt)));
    meta::set_meta(obj, "deletionGracePeriodSeconds", json!(period));
    if let Some(g) = obj
        .get("metadata")
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        && g > 0
    {
        meta::set_meta(obj, "generation", json!(g + 1));
    }
    Grace::Graceful(period)
}

/// Delete an object the way the registry does (no authorization; the
/// NamespaceLifecycle and webhook admission run when `admit`).
pub(crate) fn delete(
    store: &mut Store,
    now: Timestamp,
    rt: &ResourceType,
    key: &ObjKey,
    opts: &DeleteOptions,
    admit: bool,
) -> Result<DeleteOutcome, ApiError> {
    if admit {
        admission::namespace_lifecycle(store, rt, Operation::Delete, &key.namespace, &key.name)?;
    }
    let original = store
        .get(key)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, &key.name))?;
    if admit {
        admission::webhooks(store, rt, Operation::Delete, "", &original)?;
    }
    let mut obj = original.clone();

    if rt.is("", "Namespace") {
        check_preconditions(rt, &obj, opts, Wording::Legacy)?;
        if !meta::is_deleting(&obj) {
            meta::set_meta(&mut obj, "deletionTimestamp", json!(rfc3339(now)));
            if let Some(m) = obj.as_object_mut() {
                let status = m.entry("status").or_insert_with(|| json!({}));
                if let Some(s) = status.as_object_mut() {
                    s.insert("phase".into(), json!("Terminating"));
                }
            }
            let fins = meta::finalizers(&obj);
            let orphan = match (opts.orphan_dependents, opts.propagation_policy.as_deref()) {
                (Some(o), _) => o,
                (None, Some(p)) => p == "Orphan",
                (None, None) => fins.iter().any(|f| f == FINALIZER_ORPHAN),
            };
            let foreground = match (opts.orphan_dependents, opts.propagation_policy.as_deref()) {
                (Some(o), _) => !o,
                (None, Some(p)) => p == "Foreground",
                (None, None) => fins.iter().any(|f| f == FINALIZER_FOREGROUND),
            };
            let mut new: Vec<String> = fins
                .into_iter()
                .filter(|f| f != FINALIZER_ORPHAN && f != FINALIZER_FOREGROUND)
                .collect();
            if orphan {
                new.push(FINALIZER_ORPHAN.into());
            }
            if foreground {
                new.push(FINALIZER_FOREGROUND.into());
            }
            meta::set_finalizers(&mut obj, &new);
            if opts.dry_run {
                return Ok(DeleteOutcome::Pending(obj));
            }
            return Ok(DeleteOutcome::Pending(write(store, key, obj)));
        }
        let spec_fins = meta::string_list(obj.get("spec").and_then(|s| s.get("finalizers")));
        if !spec_fins.is_empty() {
            return Ok(DeleteOutcome::Pending(obj));
        }
    } else if rt.is(CRD_GROUP, CRD_KIND) && !meta::is_deleting(&obj) {
        check_preconditions(rt, &obj, opts, Wording::Legacy)?;
        meta::set_meta(&mut obj, "deletionTimestamp", json!(rfc3339(now)));
        let mut fins = meta::finalizers(&obj);
        if !fins.iter().any(|f| f == CRD_CLEANUP_FINALIZER) {
            fins.push(CRD_CLEANUP_FINALIZER.into());
        }
        meta::set_finalizers(&mut obj, &fins);
        set_condition(
            &mut obj,
            "Terminating",
            "True",
            "InstanceDeletionPending",
            "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
            now,
        );
        if opts.dry_run {
            return Ok(DeleteOutcome::Pending(obj));
        }
        return Ok(DeleteOutcome::Pending(write(store, key, obj)));
    }

    check_preconditions(rt, &obj, opts, Wording::Generic)?;
    let grace = if rt.is("", "Pod") {
        pod_before_delete(&mut obj, opts, now)
    } else {
        Grace::None
    };
    if let Grace::Pending = grace {
        return Ok(DeleteOutcome::Pending(original));
    }
    if let Some(new) = gc_finalizers(&obj, opts) {
        meta::set_finalizers(&mut obj, &new);
    }
    let pending_finalizers = !meta::finalizers(&obj).is_empty();
    let keep = match grace {
        Grace::Graceful(period) => pending_finalizers || period > 0,
        _ => {
            if pending_finalizers {
                mark_as_deleting(&mut obj, now);
            }
            pending_finalizers
        }
    };
    if keep {
        if obj == original || opts.dry_run {
            return Ok(DeleteOutcome::Pending(obj));
        }
        return Ok(DeleteOutcome::Pending(write(store, key, obj)));
    }
    if opts.dry_run {
        return Ok(DeleteOutcome::Gone(original));
    }
    let last = remove(store, key).unwrap_or(original);
    Ok(DeleteOutcome::Gone(last))
}

/// Set (or update) a status condition, keeping lastTransitionTime when the
/// status does not change. Returns whether anything changed.
pub(crate) fn set_condition(
    obj: &mut Value,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> bool {
    let Some(m) = obj.as_object_mut() else {
        return false;
    };
    let st = m.entry("status").or_insert_with(|| json!({}));
    let Some(st) = st.as_object_mut() else {
        return false;
    };
    let conds = st.entry("conditions").or_insert_with(|| json!([]));
    if !conds.is_array() {
        *conds = json!([]);
    }
    let Some(conds) = conds.as_array_mut() else {
        return false;
    };
    let mut new = Map::new();
    new.insert("type".into(), json!(ty));
    new.insert("status".into(), json!(status));
    new.insert("lastTransitionTime".into(), json!(rfc3339(now)));
    new.insert("reason".into(), json!(reason));
    new.insert("message".into(), json!(message));
    match conds
        .iter_mut()
        .find(|c| meta::str_field(c, &["type"]) == ty)
    {
        Some(c) => {
            if meta::str_field(c, &["status"]) == status
                && let Some(t) = c.get("lastTransitionTime")
            {
                new.insert("lastTransitionTime".into(), t.clone());
            }
            let nv = Value::Object(new);
            if *c == nv {
                false
            } else {
                *c = nv;
                true
            }
        }
        None => {
            conds.push(Value::Object(new));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn now() -> Timestamp {
        "2024-01-01T00:00:00Z".parse().expect("ts")
    }

    fn setup() -> (Store, Catalog) {
        let mut s = Store::default();
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}, "status": {"phase": "Active"}});
        s.put(&ObjKey::of(&ns), ns);
        let c = Catalog::build(&s);
        (s, c)
    }

    #[test]
    fn create_then_conflict_on_stale_update() {
        let (mut s, c) = setup();
        let rt = c.lookup("", "v1", "configmaps").expect("cm").clone();
        let created = create(
            &mut s,
            now(),
            &rt,
            "ns",
            json!({"metadata": {"name": "a"}, "data": {"k": "v"}}),
            false,
        )
        .expect("created");
        let rv = meta::resource_version(&created).to_string();
        let mut upd = created.clone();
        upd["data"]["k"] = json!("w");
        let updated =
            update(&mut s, &rt, "ns", "a", upd.clone(), UpdateMode::Main, false).expect("updated");
        assert_ne!(meta::resource_version(&updated), rv);
        let e = update(&mut s, &rt, "ns", "a", upd, UpdateMode::Main, false).expect_err("stale");
        assert_eq!(e.code, 409);
        assert_eq!(e.reason, "Conflict");
    }

    #[test]
    fn no_op_update_keeps_resource_version() {
        let (mut s, c) = setup();
        let rt = c.lookup("", "v1", "configmaps").expect("cm").clone();
        let created = create(
            &mut s,
            now(),
            &rt,
            "ns",
            json!({"metadata": {"name": "a"}}),
            false,
        )
        .expect("created");
        let again = update(
            &mut s,
            &rt,
            "ns",
            "a",
            created.clone(),
            UpdateMode::Main,
            false,
        )
        .expect("noop");
        assert_eq!(
            meta::resource_version(&again),
            meta::resource_version(&created)
        );
    }

    #[test]
    fn continue_token_roundtrip() {
        let t = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: 7,
            start: "ns/a\u{0}".into(),
            issued_at: Some(5),
        };
        let d = ContinueToken::decode(&t.encode()).expect("decodes");
        assert_eq!(d.start_key(), "ns/a");
        assert_eq!(d.rv, 7);
        assert!(ContinueToken::decode("!!!").is_err());
    }
}
