//! Bounded API requests: per-request timeout, a few retries on 429/5xx/transport errors that
//! honour `Retry-After` but never outlive the timeout budget, and paginated LISTs that restart
//! when the continue token expires (410).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::ListParams;
use kube::core::Request;
use serde_json::Value;

use crate::error::{Failure, chain};

/// Attempts per request (1 + retries).
const MAX_ATTEMPTS: u32 = 3;
/// Restarts of a paginated LIST after its continue token expired.
const MAX_LIST_RESTARTS: u32 = 3;
/// Retry budget when no `--request-timeout` is set.
const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

/// A failed API call, classified for the collector.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 403: we may not do this. Reported as "not checked".
    Forbidden(String),
    /// 404: resource type or object does not exist.
    NotFound(String),
    /// 401: credentials rejected.
    Unauthorized(String),
    /// Any other API status.
    Status { code: u16, message: String },
    /// Could not reach the server or the connection broke.
    Transport(String),
    /// No answer within the request timeout.
    Timeout(Duration),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Forbidden(m) | ApiError::NotFound(m) | ApiError::Unauthorized(m) => {
                f.write_str(m)
            }
            ApiError::Status { code, message } => write!(f, "{message} (HTTP {code})"),
            ApiError::Transport(m) => f.write_str(m),
            ApiError::Timeout(d) => write!(f, "no answer within {}", humantime(*d)),
        }
    }
}

fn humantime(d: Duration) -> String {
    if d.as_secs() >= 1 && d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl ApiError {
    fn from_kube(e: kube::Error) -> (ApiError, Option<Duration>) {
        match e {
            kube::Error::Api(s) => {
                let retry_after = s
                    .details
                    .as_ref()
                    .map(|d| u64::from(d.retry_after_seconds))
                    .filter(|s| *s > 0)
                    .map(Duration::from_secs);
                let message = if s.message.is_empty() {
                    s.reason.clone()
                } else {
                    s.message.clone()
                };
                let err = match s.code {
                    401 => ApiError::Unauthorized(message),
                    403 => ApiError::Forbidden(message),
                    404 => ApiError::NotFound(message),
                    code => ApiError::Status { code, message },
                };
                (err, retry_after)
            }
            other => (ApiError::Transport(chain(&other)), None),
        }
    }

    fn retryable(&self) -> bool {
        match self {
            ApiError::Status { code, .. } => matches!(code, 429 | 500 | 502 | 503 | 504),
            ApiError::Transport(_) => true,
            _ => false,
        }
    }

    pub fn is_expired(&self) -> bool {
        matches!(self, ApiError::Status { code: 410, .. })
    }
}

#[derive(Debug, Clone, Copy)]
enum Decode {
    Json,
    Text,
}

enum Body {
    Json(Value),
    Text(String),
}

/// A connected client plus the run's request policy.
pub struct Cluster {
    client: Client,
    server: String,
    namespace: String,
    timeout: Option<Duration>,
    verbose: u8,
    requests: AtomicUsize,
}

impl Cluster {
    pub fn new(
        client: Client,
        server: String,
        namespace: String,
        timeout: Option<Duration>,
        verbose: u8,
    ) -> Cluster {
        Cluster {
            client,
            server,
            namespace,
            timeout,
            verbose,
            requests: AtomicUsize::new(0),
        }
    }

    /// The API server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kubeconfig context's namespace (`default` when unset).
    pub fn context_namespace(&self) -> &str {
        &self.namespace
    }

    /// Requests sent so far (retries included).
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    /// Send one request with timeout and bounded retries; decode JSON.
    pub(super) async fn send<F>(&self, build: F) -> Result<Value, ApiError>
    where
        F: Fn() -> Result<http::Request<Vec<u8>>, ApiError>,
    {
        match self.send_as(build, Decode::Json).await? {
            Body::Json(v) => Ok(v),
            Body::Text(t) => Ok(Value::String(t)),
        }
    }

    async fn send_as<F>(&self, build: F, decode: Decode) -> Result<Body, ApiError>
    where
        F: Fn() -> Result<http::Request<Vec<u8>>, ApiError>,
    {
        let started = Instant::now();
        let budget = self.timeout.unwrap_or(DEFAULT_BUDGET);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let req = build()?;
            if self.verbose >= 2 {
                eprintln!("kubectl-arc: {} {}", req.method(), req.uri());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let fut = async {
                match decode {
                    Decode::Json => self.client.request::<Value>(req).await.map(Body::Json),
                    Decode::Text => self.client.request_text(req).await.map(Body::Text),
                }
            };
            let result = match self.timeout {
                Some(t) => match tokio::time::timeout(t, fut).await {
                    Ok(r) => r.map_err(ApiError::from_kube),
                    Err(_) => return Err(ApiError::Timeout(t)),
                },
                None => fut.await.map_err(ApiError::from_kube),
            };
            match result {
                Ok(v) => return Ok(v),
                Err((e, retry_after)) => {
                    let wait =
                        retry_after.unwrap_or(Duration::from_millis(200 * u64::from(attempt)));
                    let spent = started.elapsed();
                    if !e.retryable() || attempt >= MAX_ATTEMPTS || spent + wait > budget {
                        return Err(e);
                    }
                    if self.verbose >= 1 {
                        eprintln!("kubectl-arc: retrying in {} after: {e}", humantime(wait));
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// `GET /version`: proves the server is reachable and accepts our credentials.
    pub async fn check_reachable(&self) -> Result<(), Failure> {
        let build = || {
            http::Request::get("/version")
                .body(Vec::new())
                .map_err(|e| ApiError::Transport(e.to_string()))
        };
        match self.send(build).await {
            Ok(_) => Ok(()),
            Err(ApiError::Unauthorized(m)) => Err(Failure::cannot_run(format!(
                "the API server {} rejected the credentials (401 Unauthorized): {m}",
                self.server
            ))),
            // /version is usually public; a 403 here still proves the server is reachable.
            Err(ApiError::Forbidden(_)) => Ok(()),
            Err(e @ (ApiError::Transport(_) | ApiError::Timeout(_))) => Err(Failure::cannot_run(
                format!("cannot reach the API server {}: {e}", self.server),
            )),
            Err(e) => Err(Failure::cannot_run(format!(
                "the API server {} answered /version with an error: {e}",
                self.server
            ))),
        }
    }

    /// GET a JSON object; `Ok(None)` on 404.
    pub async fn get(
        &self,
        path: &str,
        name: &str,
        metadata_only: bool,
    ) -> Result<Option<Value>, ApiError> {
        let r = Request::new(path);
        let build = || {
            if metadata_only {
                r.get_metadata(name, &Default::default())
            } else {
                r.get(name, &Default::default())
            }
            .map_err(|e| ApiError::Transport(e.to_string()))
        };
        match self.send(build).await {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET plain text (pod logs).
    pub async fn get_text(&self, path_and_query: &str) -> Result<String, ApiError> {
        let build = || {
            http::Request::get(path_and_query)
                .body(Vec::new())
                .map_err(|e| ApiError::Transport(e.to_string()))
        };
        match self.send_as(build, Decode::Text).await? {
            Body::Text(t) => Ok(t),
            Body::Json(v) => Ok(v.to_string()),
        }
    }

    /// POST a JSON body and decode the answer (SubjectAccessReviews).
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Transport(e.to_string()))?;
        let r = Request::new(path);
        let build = || {
            r.create(&Default::default(), bytes.clone())
                .map_err(|e| ApiError::Transport(e.to_string()))
        };
        self.send(build).await
    }

    /// LIST every item at `path`, page by page (`limit`/`continue`), restarting from the first
    /// page when the continue token expires (410 Expired).
    pub async fn list(
        &self,
        path: &str,
        label_selector: Option<&str>,
        metadata_only: bool,
        page_size: u32,
    ) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        self.list_pages(
            path,
            label_selector,
            metadata_only,
            page_size,
            |text, restarted| {
                if restarted {
                    items.clear();
                }
                let mut page: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
                if let Some(Value::Array(a)) = page.get_mut("items").map(Value::take) {
                    items.extend(a);
                }
                Ok(page
                    .pointer("/metadata/continue")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned))
            },
        )
        .await?;
        Ok(items)
    }

    /// LIST `path` page by page, handing each page's text to `on_page` as it arrives; it decodes
    /// what it needs and returns the page's continue token, and the text is dropped before the
    /// next page is requested. When the continue token expires (410 Expired) the list restarts
    /// from the first page and `on_page` is told so (`restarted = true`: drop what you kept).
    pub async fn list_pages<F>(
        &self,
        path: &str,
        label_selector: Option<&str>,
        metadata_only: bool,
        page_size: u32,
        mut on_page: F,
    ) -> Result<(), ApiError>
    where
        F: FnMut(&str, bool) -> Result<Option<String>, String>,
    {
        let r = Request::new(path);
        let mut restarts = 0;
        let mut restarted = false;
        'restart: loop {
            let mut token: Option<String> = None;
            loop {
                let mut lp = ListParams::default().limit(page_size);
                if let Some(sel) = label_selector {
                    lp = lp.labels(sel);
                }
                if let Some(t) = &token {
                    lp = lp.continue_token(t);
                }
                let build = || {
                    if metadata_only {
                        r.list_metadata(&lp)
                    } else {
                        r.list(&lp)
                    }
                    .map_err(|e| ApiError::Transport(e.to_string()))
                };
                let text = match self.send_as(build, Decode::Text).await {
                    Ok(Body::Text(t)) => t,
                    Ok(Body::Json(v)) => v.to_string(),
                    Err(e) if e.is_expired() && token.is_some() && restarts < MAX_LIST_RESTARTS => {
                        restarts += 1;
                        restarted = true;
                        if self.verbose >= 1 {
                            eprintln!(
                                "kubectl-arc: continue token for {path} expired; listing again"
                            );
                        }
                        continue 'restart;
                    }
                    Err(e) => return Err(e),
                };
                token = on_page(&text, std::mem::take(&mut restarted)).map_err(|e| {
                    ApiError::Transport(format!("cannot decode the answer to LIST {path}: {e}"))
                })?;
                drop(text);
                if token.is_none() {
                    return Ok(());
                }
            }
        }
    }
}
