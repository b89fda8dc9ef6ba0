//! A faithful, fixture-driven fake Kubernetes API server for tests.
//!
//! It speaks real HTTPS (HTTP/1.1 and HTTP/2), authenticates bearer tokens,
//! authorizes with real RBAC semantics over the stored RBAC objects, and
//! emulates what a diagnosis/repair tool touches: discovery (including
//! CRD-defined groups), CRUD with optimistic concurrency, merge/JSON/strategic
//! patches, deletion with finalizers, preconditions and propagation policies,
//! the garbage collector, the namespace lifecycle, pagination, metadata-only
//! lists, pod logs and access reviews. See README.md for the full list.
//!
//! ```no_run
//! let server = fake_apiserver::FakeServer::builder()
//!     .fixture("tests/scenarios/s1")
//!     .start()
//!     .expect("server starts");
//! let kubeconfig = server.kubeconfig_yaml();
//! # drop(kubeconfig);
//! ```

mod access_review;
mod admission;
mod api;
mod catalog;
mod clock;
mod controllers;
mod discovery;
mod errors;
mod faults;
mod fixtures;
mod meta;
mod objects;
mod patch;
mod protobuf;
mod rbac;
mod registry;
mod requestinfo;
mod selectors;
mod server;
mod sim;
mod state;
mod store;
mod tls;
mod triggers;
mod watch;

use std::io::Write as _;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context as _, bail};
use serde_json::Value;

pub use clock::Clock;
pub use faults::{Fault, FaultAction};
pub use objects::{ObjectRef, Objects, WriteError};
pub use sim::{ControllerSim, ControllerSimBuilder, DeletedScaleSet, RemovedRunner, Scope};
pub use state::RequestRecord;
pub use triggers::{Trigger, TriggerAction, TriggerHandle};

use crate::faults::FaultEntry;
use crate::fixtures::Source;
use crate::server::Shared;
use crate::state::State;
use crate::store::ObjKey;

/// Configures and starts a [`FakeServer`].
#[derive(Default)]
pub struct Builder {
    sources: Vec<Source>,
    plain_http: bool,
    listen: Option<SocketAddr>,
    request_log: Option<PathBuf>,
    on_request: Vec<state::RequestSink>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("sources", &self.sources)
            .field("plain_http", &self.plain_http)
            .field("listen", &self.listen)
            .field("request_log", &self.request_log)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Load a fixture file or directory (repeatable, in order).
    pub fn fixture(mut self, path: impl AsRef<Path>) -> Self {
        self.sources.push(Source::Path(path.as_ref().to_path_buf()));
        self
    }

    /// Load one fixture document (a Kubernetes object, a `List`, or a
    /// `fake.kubectl-arc.dev/v1` kind).
    pub fn object(mut self, doc: Value) -> Self {
        self.sources.push(Source::Doc(doc));
        self
    }

    pub fn objects(mut self, docs: impl IntoIterator<Item = Value>) -> Self {
        self.sources.extend(docs.into_iter().map(Source::Doc));
        self
    }

    /// Serve plain HTTP instead of HTTPS.
    pub fn plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// Listen address (default `127.0.0.1:0`); must be a loopback address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Append every request as one JSON line to this file.
    pub fn request_log(mut self, path: impl AsRef<Path>) -> Self {
        self.request_log = Some(path.as_ref().to_path_buf());
        self
    }

    /// Call `f` with every request record as it is recorded (on the server
    /// thread, while the server is locked: keep it short).
    pub fn on_request(mut self, f: impl FnMut(&RequestRecord) + Send + 'static) -> Self {
        self.on_request.push(Box::new(f));
        self
    }

    /// Load the fixtures, bind the listener and start serving on a thread of
    /// its own. Returns once the server accepts connections.
    pub fn start(self) -> anyhow::Result<FakeServer> {
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        if !addr.ip().is_loopback() {
            bail!(
                "refusing to listen on {addr}: the fake API server only listens on loopback addresses"
            );
        }
        let clock = Clock::new();
        let mut state = State::new(clock.clone());
        fixtures::load(&mut state, &self.sources)?;
        state.ensure_system_namespaces()?;
        if let Some(path) = &self.request_log {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening request log {}", path.display()))?;
            state
                .request_sinks
                .push(Box::new(move |rec: &RequestRecord| {
                    if let Ok(line) = serde_json::to_string(rec) {
                        let _ = writeln!(file, "{line}");
                        let _ = file.flush();
                    }
                }));
        }
        state.request_sinks.extend(self.on_request);

        let listener = StdTcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        listener
            .set_nonblocking(true)
            .context("non-blocking listener")?;
        let addr = listener.local_addr().context("listener address")?;
        let tls = if self.plain_http {
            None
        } else {
            Some(tls::generate(addr.ip())?)
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");

        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            server_address: addr.to_string(),
            notify: tokio::sync::Notify::new(),
        });
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let acceptor = tls
            .as_ref()
            .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the server runtime")?;
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("fake-apiserver-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => server::run(l, acceptor, thread_shared, shutdown_rx).await,
                        Err(e) => eprintln!("fake-apiserver: cannot serve on {addr}: {e}"),
                    }
                });
            })
            .context("spawning the server thread")?;
        Ok(FakeServer {
            shared,
            addr,
            url,
            clock,
            ca_pem: tls.as_ref().map(|t| t.ca_pem.clone()),
            ca_der: tls.map(|t| t.ca_der),
            shutdown: shutdown_tx,
            thread: Some(thread),
        })
    }
}

/// A running fake API server. Dropping it shuts the server down.
pub struct FakeServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    url: String,
    clock: Clock,
    ca_pem: Option<String>,
    ca_der: Option<Vec<u8>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("url", &self.url)
            .finish()
    }
}

impl FakeServer {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `https://127.0.0.1:<port>` (or `http://…` with `plain_http`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the generated CA (`None` for plain HTTP).
    pub fn ca_certificate_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// The DER of the generated CA (`None` for plain HTTP).
    pub fn ca_certificate_der(&self) -> Option<Vec<u8>> {
        self.ca_der.clone()
    }

    /// A kubeconfig with the CA, one user and one context per user (named
    /// after the user); the current context is `admin`.
    pub fn kubeconfig_yaml(&self) -> String {
        let users: Vec<(String, String)> = self
            .shared
            .lock()
            .users
            .iter()
            .map(|u| (u.name.clone(), u.token.clone()))
            .collect();
        tls::kubeconfig(&self.url, self.ca_pem.as_deref(), &users, state::ADMIN_USER)
    }

    pub fn write_kubeconfig(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The bearer token of a user (`admin` or a fixture `User`).
    pub fn token_for(&self, user: &str) -> Option<String> {
        self.shared
            .lock()
            .users
            .iter()
            .find(|u| u.name == user)
            .map(|u| u.token.clone())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.lock().requests.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Inject a fault.
    ///
    /// # Panics
    /// If `fault.path_regex` is not a valid regular expression.
    pub fn add_fault(&self, fault: Fault) {
        let entry = match FaultEntry::new(fault) {
            Ok(e) => e,
            Err(e) => panic!("invalid fault path_regex: {e}"),
        };
        self.shared.lock().faults.push(entry);
    }

    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The server's clock.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// An object as stored (rendered with `api_version`).
    pub fn get_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let state = self.shared.lock();
        let (group, _) = meta::split_api_version(api_version);
        let obj = state
            .store
            .get(&ObjKey::new(group, kind, namespace.unwrap_or(""), name))?;
        let mut o = obj.clone();
        if let Some(m) = o.as_object_mut() {
            m.insert("apiVersion".into(), Value::String(api_version.to_string()));
        }
        Some(o)
    }

    /// Every stored object of a kind, in list order.
    pub fn list_objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let state = self.shared.lock();
        let (group, _) = meta::split_api_version(api_version);
        state
            .store
            .list(group, kind)
            .map(|o| {
                let mut o = o.clone();
                if let Some(m) = o.as_object_mut() {
                    m.insert("apiVersion".into(), Value::String(api_version.to_string()));
                }
                o
            })
            .collect()
    }

    /// Insert or replace a document bypassing admission (like fixture
    /// loading), then run the controllers.
    pub fn load(&self, doc: Value) -> anyhow::Result<()> {
        let out = {
            let mut state = self.shared.lock();
            fixtures::load(&mut state, &[Source::Doc(doc)])
        };
        self.shared.notify.notify_waiters();
        out
    }

    /// The number of stored objects.
    pub fn object_count(&self) -> usize {
        self.shared.lock().store.len()
    }

    /// Add a mutation hook run when a matching request arrives, before the
    /// request is handled. Its writes are not logged as requests.
    ///
    /// # Panics
    /// If `trigger.path_regex` is not a valid regular expression.
    pub fn add_trigger(&self, trigger: Trigger) -> TriggerHandle {
        let (entry, handle) = match triggers::TriggerEntry::new(trigger) {
            Ok(x) => x,
            Err(e) => panic!("invalid trigger path_regex: {e}"),
        };
        self.shared.lock().triggers.push(entry);
        handle
    }

    pub fn clear_triggers(&self) {
        self.shared.lock().triggers.clear();
    }

    /// Run `f` with direct access to the stored objects (the server is
    /// locked meanwhile; writes are not logged as requests).
    pub fn with_objects<R>(&self, f: impl FnOnce(&mut Objects<'_>) -> R) -> R {
        let (out, wrote) = {
            let mut state = self.shared.lock();
            let mut objects = Objects::new(&mut state);
            let out = f(&mut objects);
            (out, objects.wrote())
        };
        if wrote {
            self.shared.notify.notify_waiters();
        }
        out
    }

    /// Change a stored object like another client's update would (admission,
    /// validation, finalizer semantics, a new resourceVersion, controllers;
    /// the `status` subresource too when `f` changes the status). Not logged.
    pub fn update_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Result<Value, WriteError> {
        let r = ObjectRef::new(api_version, kind, namespace, name);
        self.with_objects(|o| o.update(&r, f))
    }

    /// Delete a stored object like another client's plain DELETE would.
    /// Returns its state after the controllers ran (`None`: gone). Not logged.
    pub fn delete_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, WriteError> {
        let r = ObjectRef::new(api_version, kind, namespace, name);
        self.with_objects(|o| o.delete(&r))
    }

    /// Create an object like another client's POST would. Not logged.
    pub fn create_object(&self, obj: Value) -> Result<Value, WriteError> {
        self.with_objects(|o| o.create(obj))
    }

    /// Store an object again with a new resourceVersion. Not logged.
    pub fn touch_object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, WriteError> {
        let r = ObjectRef::new(api_version, kind, namespace, name);
        self.with_objects(|o| o.touch(&r))
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
