//! HTTP serving (HTTP/1.1 and HTTP/2, TLS with ALPN or plain) and the
//! request pipeline: authentication, faults, impersonation, authorization,
//! dispatch, recording.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Frame;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, ApiRequest, Reply};
use crate::errors::ApiError;
use crate::faults::{self, FaultAction};
use crate::objects::Objects;
use crate::rbac::{self, Attributes, UserInfo};
use crate::registry::ContinueToken;
use crate::requestinfo;
use crate::state::{RequestRecord, State};
use crate::triggers;
use crate::watch::WatchRequest;

const MAX_BODY: usize = 64 * 1024 * 1024;

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// `host:port` as clients reach the server.
    pub server_address: String,
    /// Woken after every write (watches wait on it).
    pub notify: tokio::sync::Notify,
}

type Body = BoxBody<Bytes, Infallible>;

/// A response body fed by a channel (watch streams).
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// Stream a watch: the initial lines, then changes as writes happen, until
/// the timeout or until the client goes away.
fn stream_watch(shared: Arc<Shared>, w: WatchRequest) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let (initial, mut last_rv) = {
        let state = shared.lock();
        w.initial(&state.store)
    };
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + w.timeout;
        for line in initial {
            if tx.send(Bytes::from(line)).await.is_err() {
                return;
            }
        }
        loop {
            let notified = shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (lines, rv) = {
                let state = shared.lock();
                (w.changes(&state.store, last_rv), state.store.current_rv())
            };
            last_rv = rv;
            match lines {
                Ok(lines) => {
                    for line in lines {
                        if tx.send(Bytes::from(line)).await.is_err() {
                            return;
                        }
                    }
                }
                Err(error_line) => {
                    let _ = tx.send(Bytes::from(error_line)).await;
                    return;
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(BoxBody::new(ChannelBody(rx)))
        .unwrap_or_else(|_| Response::new(BoxBody::new(Full::new(Bytes::new()))))
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The connection is closed without an answer (a `Drop` fault).
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

/// Accept connections until `shutdown` flips.
pub(crate) async fn run(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            res = listener.accept() => {
                let Ok((stream, _)) = res else { continue };
                let _ = stream.set_nodelay(true);
                let tls = tls.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(shared.clone(), req));
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match tls {
                        Some(acceptor) => {
                            if let Ok(tls_stream) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls_stream), service).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Inbound {
    method: String,
    path: String,
    raw_query: String,
    query: Vec<(String, String)>,
    accept: Option<String>,
    content_type: Option<String>,
    authorization: Option<String>,
    impersonate_user: Option<String>,
    impersonate_groups: Vec<String>,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let inc = Inbound {
        method: req.method().as_str().to_string(),
        path: percent_decode(req.uri().path()),
        raw_query: req.uri().query().unwrap_or("").to_string(),
        query: form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        accept: header(&req, "accept"),
        content_type: header(&req, "content-type"),
        authorization: header(&req, "authorization"),
        impersonate_user: header(&req, "impersonate-user"),
        impersonate_groups: req
            .headers()
            .get_all("impersonate-group")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect(),
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let reply = Reply::error(&ApiError::new(
                413,
                "RequestEntityTooLarge",
                "request entity too large",
            ));
            return Ok(to_response(reply, &inc.method));
        }
    };

    // Triggers, authentication and faults.
    let (authenticated, fault, triggered) = {
        let mut state = shared.lock();
        let triggered = fire_triggers(&mut state, &inc);
        let authenticated = inc
            .authorization
            .as_deref()
            .and_then(|a| {
                a.strip_prefix("Bearer ")
                    .or_else(|| a.strip_prefix("bearer "))
            })
            .and_then(|t| state.user_by_token(t.trim()))
            .map(|u| {
                let mut groups = u.groups.clone();
                if !groups.iter().any(|g| g == "system:authenticated") {
                    groups.push("system:authenticated".into());
                }
                UserInfo {
                    name: u.name.clone(),
                    groups,
                }
            });
        let fault = faults::take(&mut state.faults, &inc.method, &inc.path, &inc.raw_query);
        (authenticated, fault, triggered)
    };
    if triggered {
        shared.notify.notify_waiters();
    }

    let mut fault_reply = None;
    match fault {
        Some(FaultAction::Latency(d)) => tokio::time::sleep(d).await,
        Some(FaultAction::Drop) => {
            let mut state = shared.lock();
            let rec = record(&inc, authenticated.as_ref(), None, 0, &body);
            state.record(rec);
            return Err(DropConnection);
        }
        Some(FaultAction::Status {
            code,
            reason,
            message,
            retry_after_seconds,
        }) => {
            let mut e = ApiError::new(code, &reason, message);
            if let Some(s) = retry_after_seconds {
                e.retry_after_seconds = Some(s);
                e.details = Some(serde_json::json!({"retryAfterSeconds": s}));
            }
            fault_reply = Some(Reply::error(&e));
        }
        Some(FaultAction::Expired) => {
            let start = inc
                .query
                .iter()
                .find(|(k, _)| k == "continue")
                .and_then(|(_, v)| ContinueToken::decode(v).ok())
                .map(|t| t.start)
                .unwrap_or_default();
            let fresh = ContinueToken {
                v: "meta.k8s.io/v1".into(),
                rv: -1,
                start,
                issued_at: None,
            };
            fault_reply = Some(Reply::error(&ApiError::continue_expired(&fresh.encode())));
        }
        None => {}
    }

    let mut state = shared.lock();
    let (reply, effective) = match fault_reply {
        Some(r) => (r, None),
        None => process(
            &mut state,
            &shared.server_address,
            &inc,
            authenticated.as_ref(),
            &body,
        ),
    };
    let rec = record(
        &inc,
        authenticated.as_ref(),
        effective.as_ref(),
        reply.code,
        &body,
    );
    state.record(rec);
    drop(state);
    if inc.method != "GET" && inc.method != "HEAD" {
        shared.notify.notify_waiters();
    }
    if let Some(w) = reply.watch {
        return Ok(stream_watch(shared, *w));
    }
    Ok(to_response(reply, &inc.method))
}

/// Run the mutation hooks matching a request (their writes are not logged).
fn fire_triggers(state: &mut State, inc: &Inbound) -> bool {
    if state.triggers.is_empty() {
        return false;
    }
    let mut triggers = std::mem::take(&mut state.triggers);
    let fired = {
        let mut objects = Objects::new(state);
        triggers::fire(
            &mut triggers,
            &mut objects,
            &inc.method,
            &inc.path,
            &inc.raw_query,
        )
    };
    triggers.append(&mut state.triggers);
    state.triggers = triggers;
    fired
}

/// Whether a request asks for a dry run: `dryRun=All` in the query or, for
/// DELETE, in the DeleteOptions body.
fn is_dry_run(inc: &Inbound, body: &[u8]) -> bool {
    if inc.query.iter().any(|(k, v)| k == "dryRun" && v == "All") {
        return true;
    }
    inc.method == "DELETE"
        && serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("dryRun").cloned())
            .and_then(|d| d.as_array().cloned())
            .is_some_and(|a| a.iter().any(|x| x == "All"))
}

fn record(
    inc: &Inbound,
    authn: Option<&UserInfo>,
    effective: Option<&UserInfo>,
    status: u16,
    body: &[u8],
) -> RequestRecord {
    let authenticated_user = authn.map(|u| u.name.clone()).unwrap_or_default();
    let kept = &body[..body.len().min(RequestRecord::MAX_BODY)];
    RequestRecord {
        method: inc.method.clone(),
        path: inc.path.clone(),
        query: inc.raw_query.clone(),
        accept: inc.accept.clone(),
        content_type: inc.content_type.clone(),
        user: effective
            .map(|u| u.name.clone())
            .or_else(|| match (&inc.impersonate_user, authn) {
                (Some(u), Some(_)) => Some(u.clone()),
                _ => None,
            })
            .unwrap_or_else(|| authenticated_user.clone()),
        authenticated_user,
        impersonate_user: inc.impersonate_user.clone(),
        impersonate_groups: inc.impersonate_groups.clone(),
        status,
        body: (!kept.is_empty()).then(|| String::from_utf8_lossy(kept).into_owned()),
        dry_run: is_dry_run(inc, body),
    }
}

fn to_response(reply: Reply, method: &str) -> Response<Body> {
    let body = if method == "HEAD" {
        Bytes::new()
    } else {
        Bytes::from(reply.body)
    };
    let mut builder = Response::builder()
        .status(reply.code)
        .header("content-type", reply.content_type)
        .header("cache-control", "no-cache, private");
    for (k, v) in reply.headers {
        builder = builder.header(k, v);
    }
    builder
        .body(BoxBody::new(Full::new(body)))
        .unwrap_or_else(|_| {
            let mut r = Response::new(BoxBody::new(Full::new(Bytes::from_static(
                b"internal error",
            ))));
            *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
}

/// The user a request acts as, after checking the impersonation headers.
fn impersonate(state: &State, requester: &UserInfo, inc: &Inbound) -> Result<UserInfo, ApiError> {
    let Some(user) = inc.impersonate_user.as_deref() else {
        if !inc.impersonate_groups.is_empty() {
            let reqs: Vec<String> = inc
                .impersonate_groups
                .iter()
                .map(|g| format!("{{Group  {g}    }}"))
                .collect();
            return Err(ApiError::internal(&format!(
                "requested [{}] without impersonating a user",
                reqs.join(" ")
            )));
        }
        return Ok(requester.clone());
    };
    let check = |attrs: Attributes, resource: &str, name: &str| -> Result<(), ApiError> {
        let d = rbac::authorize(&state.store, requester, &attrs);
        if d.allowed {
            return Ok(());
        }
        let mut msg = attrs.forbidden_message(&requester.name);
        if !d.reason.is_empty() {
            msg = format!("{msg}: {}", d.reason);
        }
        Err(ApiError::forbidden("", resource, name, &msg))
    };
    let sa = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty());
    match sa {
        Some((ns, n)) => check(
            Attributes::resource("impersonate", "", "serviceaccounts", "", ns, n),
            "serviceaccounts",
            n,
        )?,
        None => check(
            Attributes::resource("impersonate", "", "users", "", "", user),
            "users",
            user,
        )?,
    }
    for g in &inc.impersonate_groups {
        check(
            Attributes::resource("impersonate", "", "groups", "", "", g),
            "groups",
            g,
        )?;
    }
    let mut groups = inc.impersonate_groups.clone();
    if let Some((ns, _)) = sa
        && groups.is_empty()
    {
        groups.push("system:serviceaccounts".into());
        groups.push(format!("system:serviceaccounts:{ns}"));
    }
    if user != "system:anonymous" && !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    Ok(UserInfo {
        name: user.to_string(),
        groups,
    })
}

fn process(
    state: &mut State,
    server_address: &str,
    inc: &Inbound,
    authenticated: Option<&UserInfo>,
    body: &[u8],
) -> (Reply, Option<UserInfo>) {
    let Some(requester) = authenticated else {
        return (Reply::error(&ApiError::unauthorized()), None);
    };
    let user = match impersonate(state, requester, inc) {
        Ok(u) => u,
        Err(e) => return (Reply::error(&e), None),
    };
    let info = requestinfo::parse(&inc.method, &inc.path, &inc.query);
    let attrs = info.attributes();
    let decision = rbac::authorize(&state.store, &user, &attrs);
    if !decision.allowed {
        let mut msg = attrs.forbidden_message(&user.name);
        if !decision.reason.is_empty() {
            msg = format!("{msg}: {}", decision.reason);
        }
        let e = if info.is_resource {
            ApiError::forbidden(&info.group, &info.resource, &info.name, &msg)
        } else {
            ApiError::forbidden("", "", "", &msg)
        };
        return (Reply::error(&e), Some(user));
    }
    let req = ApiRequest {
        method: if inc.method == "HEAD" {
            "GET"
        } else {
            &inc.method
        },
        path: &inc.path,
        query: &inc.query,
        accept: inc.accept.as_deref(),
        content_type: inc.content_type.as_deref(),
        body,
        user: &user,
        server_address,
    };
    let reply = api::dispatch(state, &req);
    (reply, Some(user))
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("/api/v1/namespaces/a%2Db"),
            "/api/v1/namespaces/a-b"
        );
        assert_eq!(percent_decode("/x%"), "/x%");
        assert_eq!(percent_decode("/x%zz"), "/x%zz");
    }
}
