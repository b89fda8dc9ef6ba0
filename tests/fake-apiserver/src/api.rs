//! Routing of an authenticated, authorized request to discovery, the
//! registry, pod logs and access reviews; content negotiation of answers.

use serde_json::{Value, json};

use crate::access_review;
use crate::catalog::{Catalog, ResourceType};
use crate::discovery;
use crate::errors::ApiError;
use crate::meta;
use crate::patch::PatchType;
use crate::rbac::UserInfo;
use crate::registry::{self, DeleteOptions, DeleteOutcome, ListOptions, UpdateMode};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::state::State;
use crate::watch::WatchRequest;

/// An answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub code: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    /// A watch to stream instead of `body`.
    pub watch: Option<Box<WatchRequest>>,
}

impl Reply {
    pub fn json(code: u16, v: &Value) -> Reply {
        Reply::json_as(code, v, "application/json")
    }

    pub fn json_as(code: u16, v: &Value, content_type: &str) -> Reply {
        Reply {
            code,
            content_type: content_type.to_string(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            headers: Vec::new(),
            watch: None,
        }
    }

    pub fn text(code: u16, s: &str) -> Reply {
        Reply {
            code,
            content_type: "text/plain; charset=utf-8".into(),
            body: s.as_bytes().to_vec(),
            headers: Vec::new(),
            watch: None,
        }
    }

    /// The plain-text 404 of unknown paths.
    pub fn page_not_found() -> Reply {
        Reply::text(404, "404 page not found\n")
    }

    pub fn error(e: &ApiError) -> Reply {
        let mut r = Reply::json(e.code, &e.body());
        if let Some(s) = e.retry_after_seconds {
            r.headers.push(("Retry-After".into(), s.to_string()));
        }
        r
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        Reply::error(&e)
    }
}

/// A request after authentication and authorization.
pub(crate) struct ApiRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub accept: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    pub user: &'a UserInfo,
    pub server_address: &'a str,
}

impl ApiRequest<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn dry_run(&self) -> Result<bool, ApiError> {
        let mut dry = false;
        for (k, v) in self.query {
            if k == "dryRun" {
                if v != "All" {
                    return Err(ApiError::bad_request(format!(
                        "dryRun: Unsupported value: \"{v}\": supported values: \"All\""
                    )));
                }
                dry = true;
            }
        }
        Ok(dry)
    }

    fn is_watch(&self) -> bool {
        matches!(self.param("watch"), Some("true") | Some("1"))
    }
}

/// What representation the client accepts.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Full,
    Metadata(String),
    Table(String),
}

fn negotiate(accept: Option<&str>, list: bool) -> Result<Target, ApiError> {
    let accept = accept.unwrap_or("").trim();
    if accept.is_empty() {
        return Ok(Target::Full);
    }
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let ty = parts.next().unwrap_or("").to_ascii_lowercase();
        if !(ty == "application/json" || ty == "*/*" || ty == "application/*") {
            continue;
        }
        let mut r#as = "";
        let mut g = "";
        let mut v = "";
        for p in parts {
            match p.split_once('=') {
                Some(("as", x)) => r#as = x,
                Some(("g", x)) => g = x,
                Some(("v", x)) => v = x,
                _ => {}
            }
        }
        let meta_version = g == "meta.k8s.io" && (v == "v1" || v == "v1beta1");
        match r#as {
            "" => return Ok(Target::Full),
            "PartialObjectMetadataList" if meta_version && list => {
                return Ok(Target::Metadata(v.into()));
            }
            "PartialObjectMetadata" if meta_version && !list => {
                return Ok(Target::Metadata(v.into()));
            }
            "Table" if meta_version => return Ok(Target::Table(v.into())),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(&[
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
    ]))
}

fn partial_metadata(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
    })
}

/// Kubernetes' `duration.HumanDuration`.
pub(crate) fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{}h", hours / 24, h)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{}d", hours / 24 / 365, dy)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The default server-side table: NAME and AGE.
fn table(
    items: &[Value],
    version: &str,
    list_meta: Value,
    now: jiff::Timestamp,
    include: &str,
) -> Value {
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let age =
                crate::clock::parse_rfc3339(meta::str_field(o, &["metadata", "creationTimestamp"]))
                    .map(|t| human_duration(now.as_second() - t.as_second()))
                    .unwrap_or_else(|| "<unknown>".into());
            let object = match include {
                "None" => Value::Null,
                "Object" => o.clone(),
                _ => partial_metadata(o, version),
            };
            json!({"cells": [meta::name(o), age], "object": object})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata", "priority": 0}
        ],
        "rows": rows
    })
}

/// Route a request. `state.reconcile()` runs after writes.
pub(crate) fn dispatch(state: &mut State, req: &ApiRequest) -> Reply {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let result = match segs.first() {
        Some(&"api") | Some(&"apis") => route_api(state, req, &segs),
        _ => Ok(non_resource(req)),
    };
    result.unwrap_or_else(Reply::from)
}

fn non_resource(req: &ApiRequest) -> Reply {
    match req.path.trim_end_matches('/') {
        "/version" if req.method == "GET" => Reply::json(200, &discovery::version()),
        "/healthz" | "/livez" | "/readyz" if req.method == "GET" => Reply::text(200, "ok"),
        // No schemas: an empty OpenAPI v2 document makes kubectl's
        // client-side validation a no-op instead of an error.
        "/openapi/v2" if req.method == "GET" => {
            if req.accept.is_some_and(|a| a.contains("protobuf")) {
                Reply {
                    code: 200,
                    content_type: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
                        .into(),
                    body: Vec::new(),
                    headers: Vec::new(),
                    watch: None,
                }
            } else {
                Reply::json(
                    200,
                    &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": {}, "definitions": {}}),
                )
            }
        }
        _ => Reply::page_not_found(),
    }
}

fn route_api(state: &mut State, req: &ApiRequest, segs: &[&str]) -> Result<Reply, ApiError> {
    let catalog = Catalog::build(&state.store);
    let core = segs[0] == "api";
    let (group, rest) = if core {
        ("", &segs[1..])
    } else {
        match segs.get(1) {
            Some(g) => (*g, &segs[2..]),
            None => {
                return discovery_get(req, || {
                    if discovery::wants_aggregated(req.accept) {
                        Some(Reply::json_as(
                            200,
                            &discovery::aggregated(&catalog, false),
                            discovery::AGGREGATED_V2,
                        ))
                    } else {
                        Some(Reply::json(200, &discovery::group_list(&catalog)))
                    }
                });
            }
        }
    };
    let Some((version, rest)) = rest.split_first() else {
        if core {
            return discovery_get(req, || {
                if discovery::wants_aggregated(req.accept) {
                    Some(Reply::json_as(
                        200,
                        &discovery::aggregated(&catalog, true),
                        discovery::AGGREGATED_V2,
                    ))
                } else {
                    Some(Reply::json(
                        200,
                        &discovery::core_versions(req.server_address),
                    ))
                }
            });
        }
        return discovery_get(req, || {
            discovery::group(&catalog, group).map(|g| Reply::json(200, &g))
        });
    };
    if core && *version != "v1" {
        return Ok(Reply::page_not_found());
    }
    if rest.is_empty() {
        return discovery_get(req, || {
            discovery::resource_list(&catalog, group, version).map(|l| Reply::json(200, &l))
        });
    }
    if !catalog.group_version_served(group, version) {
        return Ok(Reply::page_not_found());
    }

    // /namespaces/{ns}/{resource}/… or /{resource}/…
    let (namespace, rest): (Option<&str>, &[&str]) = if rest[0] == "namespaces"
        && rest.len() >= 3
        && rest[2] != "status"
        && rest[2] != "finalize"
    {
        (Some(rest[1]), &rest[2..])
    } else {
        (None, rest)
    };
    if rest.len() > 3 {
        return Ok(Reply::page_not_found());
    }
    let resource = rest[0];
    let name = rest.get(1).copied();
    let sub = rest.get(2).copied();
    let Some(rt) = catalog.lookup(group, version, resource).cloned() else {
        return Ok(Reply::page_not_found());
    };
    if (!rt.namespaced && namespace.is_some())
        || (rt.namespaced && namespace.is_none() && name.is_some())
    {
        return Ok(Reply::page_not_found());
    }
    if let Some(s) = sub
        && !rt.has_subresource(s)
    {
        return Ok(Reply::page_not_found());
    }
    let ns = namespace.unwrap_or("");

    if rt.virtual_create_only {
        if req.method != "POST" || name.is_some() {
            return Err(ApiError::method_not_allowed());
        }
        let body = parse_body(req)?;
        let out = access_review::create(&state.store, &rt.kind, ns, req.user, body)?;
        return Ok(Reply::json(201, &out));
    }

    let reply = match (req.method, name, sub) {
        ("GET" | "HEAD", None, None) => {
            if req.is_watch() {
                // Watch events carry single objects; metadata-only watches
                // ask for either form.
                let metadata_version =
                    match negotiate(req.accept, false).or_else(|_| negotiate(req.accept, true))? {
                        Target::Metadata(v) => Some(v),
                        _ => None,
                    };
                let w = WatchRequest::from_query(&rt, namespace, req.query, metadata_version)?;
                let mut reply = Reply::json(200, &json!({}));
                reply.watch = Some(Box::new(w));
                return Ok(reply);
            }
            list(state, req, &rt, namespace)?
        }
        ("GET" | "HEAD", Some(n), None | Some("status")) => {
            let obj = registry::get(&state.store, &rt, ns, n)?;
            match negotiate(req.accept, false)? {
                Target::Full => Reply::json(200, &obj),
                Target::Metadata(v) => Reply::json(200, &partial_metadata(&obj, &v)),
                Target::Table(v) => {
                    let include = req.param("includeObject").unwrap_or("Metadata");
                    Reply::json(
                        200,
                        &table(&[obj], &v, json!({}), state.clock.now(), include),
                    )
                }
            }
        }
        ("GET" | "HEAD", Some(n), Some("log")) => pod_log(state, req, &rt, ns, n)?,
        ("POST", None, None) if rt.namespaced == namespace.is_some() => {
            let body = parse_body(req)?;
            let dry = req.dry_run()?;
            let out = write_op(state, dry, |store, now| {
                registry::create(store, now, &rt, ns, body, dry)
            })?;
            Reply::json(201, &out)
        }
        ("PUT", Some(n), s) if s != Some("log") => {
            let body = parse_body(req)?;
            let mode = match s {
                Some("status") => UpdateMode::Status,
                Some("finalize") => UpdateMode::Finalize,
                _ => UpdateMode::Main,
            };
            let dry = req.dry_run()?;
            let out = write_op(state, dry, |store, _| {
                registry::update(store, &rt, ns, n, body, mode, dry)
            })?;
            Reply::json(200, &out)
        }
        ("PATCH", Some(n), None | Some("status")) => {
            let Some(pt) = PatchType::from_content_type(req.content_type) else {
                return Err(ApiError::unsupported_media_type(
                    &crate::patch::accepted_patch_types(rt.builtin),
                ));
            };
            let mode = if sub == Some("status") {
                UpdateMode::Status
            } else {
                UpdateMode::Main
            };
            let dry = req.dry_run()?;
            let out = write_op(state, dry, |store, _| {
                registry::patch(store, &rt, ns, n, pt, req.body, mode, dry)
            })?;
            Reply::json(200, &out)
        }
        ("DELETE", Some(n), None) => {
            let opts = delete_options(req)?;
            let key = registry::key_for(&rt, ns, n);
            let outcome = write_op(state, opts.dry_run, |store, now| {
                registry::delete(store, now, &rt, &key, &opts, true)
            })?;
            delete_reply(&rt, outcome, &opts)
        }
        ("DELETE", None, None)
            if rt.verbs.contains(&"deletecollection") && rt.namespaced == namespace.is_some() =>
        {
            delete_collection(state, req, &rt, namespace)?
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(reply)
}

fn discovery_get(req: &ApiRequest, f: impl FnOnce() -> Option<Reply>) -> Result<Reply, ApiError> {
    if req.method != "GET" && req.method != "HEAD" {
        return Err(ApiError::method_not_allowed());
    }
    Ok(f().unwrap_or_else(Reply::page_not_found))
}

/// Run a write against the store (or a scratch copy for dry runs), then
/// the controllers.
fn write_op<T>(
    state: &mut State,
    dry_run: bool,
    f: impl FnOnce(&mut crate::store::Store, jiff::Timestamp) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let now = state.clock.now();
    if dry_run {
        let mut scratch = state.store.scratch();
        return f(&mut scratch, now);
    }
    let out = f(&mut state.store, now);
    state.reconcile();
    out
}

fn parse_body(req: &ApiRequest) -> Result<Value, ApiError> {
    let ct = req
        .content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "application/json".into());
    let v: Value = match ct.as_str() {
        "application/json" | "" => serde_json::from_slice(req.body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        crate::protobuf::MEDIA_TYPE => crate::protobuf::decode(req.body).map_err(|e| {
            ApiError::unsupported_media_type(&["application/json", "application/yaml"])
                .with_message_prefix(&format!(
                    "the fake API server cannot decode this protobuf body ({e}); "
                ))
        })?,
        "application/yaml" => {
            let s =
                std::str::from_utf8(req.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
            serde_saphyr::from_str(s).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?
        }
        _ => {
            return Err(ApiError::unsupported_media_type(&[
                "application/json",
                "application/yaml",
                "application/vnd.kubernetes.protobuf",
            ]));
        }
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: the body must be a JSON object",
        ));
    }
    Ok(v)
}

fn list_options(req: &ApiRequest) -> Result<ListOptions, ApiError> {
    let label = LabelSelector::parse(req.param("labelSelector").unwrap_or(""))?;
    let field = FieldSelector::parse(req.param("fieldSelector").unwrap_or(""))?;
    let limit = match req.param("limit") {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?
            .max(0) as usize,
    };
    let continue_token = req
        .param("continue")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    Ok(ListOptions {
        label,
        field,
        limit,
        continue_token,
    })
}

fn list(
    state: &State,
    req: &ApiRequest,
    rt: &ResourceType,
    namespace: Option<&str>,
) -> Result<Reply, ApiError> {
    let target = negotiate(req.accept, true)?;
    let opts = list_options(req)?;
    let now = state.clock.now();
    let page = registry::list(&state.store, now, rt, namespace, &opts)?;
    let mut list_meta = json!({"resourceVersion": page.resource_version});
    if let (Some(c), Some(m)) = (&page.continue_token, list_meta.as_object_mut()) {
        m.insert("continue".into(), json!(c));
        if let Some(n) = page.remaining_item_count {
            m.insert("remainingItemCount".into(), json!(n));
        }
    }
    let body = match target {
        Target::Full => {
            let items: Vec<Value> = page
                .items
                .into_iter()
                .map(|mut o| {
                    // Typed lists of built-in kinds omit the items' type meta.
                    if rt.builtin
                        && let Some(m) = o.as_object_mut()
                    {
                        m.remove("apiVersion");
                        m.remove("kind");
                    }
                    o
                })
                .collect();
            json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": list_meta, "items": items})
        }
        Target::Metadata(v) => {
            let items: Vec<Value> = page.items.iter().map(|o| partial_metadata(o, &v)).collect();
            json!({"kind": "PartialObjectMetadataList", "apiVersion": format!("meta.k8s.io/{v}"), "metadata": list_meta, "items": items})
        }
        Target::Table(v) => {
            let include = req.param("includeObject").unwrap_or("Metadata");
            table(&page.items, &v, list_meta, now, include)
        }
    };
    Ok(Reply::json(200, &body))
}

fn delete_options(req: &ApiRequest) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions::default();
    if !req.body.is_empty() && !req.body.iter().all(u8::is_ascii_whitespace) {
        let v: Value = parse_body(req)?;
        if !v.is_object() {
            return Err(ApiError::bad_request(
                "decoded object cannot be converted to DeleteOptions",
            ));
        }
        opts.grace_period_seconds = v.get("gracePeriodSeconds").and_then(Value::as_i64);
        opts.propagation_policy = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string);
        opts.orphan_dependents = v.get("orphanDependents").and_then(Value::as_bool);
        if let Some(p) = v.get("preconditions") {
            opts.precondition_uid = p.get("uid").and_then(Value::as_str).map(str::to_string);
            opts.precondition_resource_version = p
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        let dry = meta::string_list(v.get("dryRun"));
        for d in &dry {
            if d != "All" {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: \"{d}\": supported values: \"All\""
                )));
            }
        }
        opts.dry_run = !dry.is_empty();
    } else {
        if let Some(g) = req.param("gracePeriodSeconds") {
            opts.grace_period_seconds =
                Some(g.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid gracePeriodSeconds: {g}"))
                })?);
        }
        opts.propagation_policy = req.param("propagationPolicy").map(str::to_string);
        if let Some(o) = req.param("orphanDependents") {
            opts.orphan_dependents = Some(o == "true");
        }
        opts.dry_run = req.dry_run()?;
    }
    opts.validate()?;
    Ok(opts)
}

fn delete_reply(rt: &ResourceType, outcome: DeleteOutcome, opts: &DeleteOptions) -> Reply {
    match outcome {
        DeleteOutcome::Pending(obj) => {
            let code = if opts.orphan_dependents == Some(false) {
                202
            } else {
                200
            };
            Reply::json(code, &registry::render(&obj, rt))
        }
        DeleteOutcome::Gone(obj) if rt.return_deleted_object => {
            Reply::json(200, &registry::render(&obj, rt))
        }
        DeleteOutcome::Gone(obj) => {
            let mut details = serde_json::Map::new();
            details.insert("name".into(), json!(meta::name(&obj)));
            if !rt.group.is_empty() {
                details.insert("group".into(), json!(rt.group));
            }
            details.insert("kind".into(), json!(rt.resource));
            details.insert("uid".into(), json!(meta::uid(&obj)));
            Reply::json(
                200,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
            )
        }
    }
}

fn delete_collection(
    state: &mut State,
    req: &ApiRequest,
    rt: &ResourceType,
    namespace: Option<&str>,
) -> Result<Reply, ApiError> {
    let opts = delete_options(req)?;
    let lopts = list_options(req)?;
    let now = state.clock.now();
    let page = registry::list(&state.store, now, rt, namespace, &lopts)?;
    let mut items = Vec::new();
    for obj in &page.items {
        let key = registry::key_for(rt, meta::namespace(obj), meta::name(obj));
        let out = write_op(state, opts.dry_run, |store, now| {
            registry::delete(store, now, rt, &key, &opts, true)
        })?;
        match out {
            DeleteOutcome::Gone(o) | DeleteOutcome::Pending(o) => {
                items.push(registry::render(&o, rt))
            }
        }
    }
    Ok(Reply::json(
        200,
        &json!({"kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": state.store.current_rv().to_string()}, "items": items}),
    ))
}

fn pod_log(
    state: &State,
    req: &ApiRequest,
    rt: &ResourceType,
    ns: &str,
    name: &str,
) -> Result<Reply, ApiError> {
    let pod = registry::get(&state.store, rt, ns, name)?;
    let names = |field: &str| -> Vec<String> {
        pod.get("spec")
            .and_then(|s| s.get(field))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|c| meta::str_field(c, &["name"]).to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = names("containers");
    let init = names("initContainers");
    let ephemeral = names("ephemeralContainers");
    let container = match req.param("container").filter(|c| !c.is_empty()) {
        Some(c) => {
            if !containers
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|x| x == c)
            {
                return Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )));
            }
            c.to_string()
        }
        None => match containers.len() {
            1 => containers[0].clone(),
            0 => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}"
                )));
            }
            _ => {
                let mut msg = format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                );
                if !init.is_empty() {
                    msg.push_str(&format!(
                        " or one of the init containers: [{}]",
                        init.join(" ")
                    ));
                }
                return Err(ApiError::bad_request(msg));
            }
        },
    };
    let previous = matches!(req.param("previous"), Some("true") | Some("1"));
    let entry = state.pod_logs.iter().find(|l| {
        l.namespace == ns
            && l.pod == name
            && l.previous == previous
            && l.container.as_deref().is_none_or(|c| c == container)
    });
    let mut text = match entry {
        Some(e) => e.text.clone(),
        None if previous => {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        None => String::new(),
    };
    if let Some(n) = req.param("tailLines").and_then(|t| t.parse::<usize>().ok()) {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(n);
        let mut tail = lines[start..].join("\n");
        if !tail.is_empty() && text.ends_with('\n') {
            tail.push('\n');
        }
        text = tail;
    }
    if let Some(n) = req
        .param("limitBytes")
        .and_then(|t| t.parse::<usize>().ok())
        && text.len() > n
    {
        let mut cut = n;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(Reply::text(200, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, true).expect("ok"), Target::Full);
        assert_eq!(
            negotiate(
                Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
                true
            )
            .expect("ok"),
            Target::Metadata("v1".into())
        );
        assert_eq!(
            negotiate(
                Some("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
                true
            )
            .expect("ok"),
            Target::Table("v1".into())
        );
        assert!(
            negotiate(
                Some("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"),
                false
            )
            .is_err()
        );
        assert!(negotiate(Some("application/vnd.kubernetes.protobuf"), false).is_err());
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf, application/json"),
                false
            )
            .expect("ok"),
            Target::Full
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(3600 * 5 + 60), "5h1m");
        assert_eq!(human_duration(86400 * 3), "3d");
    }
}
