//! A simulator of the ARC controllers' deletion behaviour (arc-domain §3 for
//! gha-runner-scale-set mode, §2/§5.4 for legacy mode), acting on the fake
//! server's store at a controllable pace.
//!
//! One [`ControllerSim::tick`] is one reconcile of every object the
//! controller would process, in the order AutoscalingRunnerSet →
//! AutoscalingListener → EphemeralRunnerSet → EphemeralRunner. The
//! AutoscalingRunnerSet reconciler advances one stage per tick (listener →
//! runner sets → GitHub scale set → cleanup-protection → finalizer) so a
//! polling client sees every stage; the child reconcilers finish whatever
//! they can do at once (real requeues take milliseconds).
//!
//! Every write goes through [`Objects`] (registry semantics, controllers,
//! resourceVersion bumps, watch events) and none appears in the request log.
//! With a service account the simulator is subject to RBAC, evaluated by the
//! server's own authorizer: secret reads (never cached by the real
//! controller) and every write are checked; cached reads are not.

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::FakeServer;
use crate::errors::ApiError;
use crate::meta;
use crate::objects::{ObjectRef, Objects, WriteError};
use crate::rbac::{self, Attributes, UserInfo};
use crate::server::Shared;
use crate::store::ObjKey;

const GHA: &str = "actions.github.com";
const GHA_V: &str = "actions.github.com/v1alpha1";
const LEGACY: &str = "actions.summerwind.dev";
const RBAC_V: &str = "rbac.authorization.k8s.io/v1";

const F_ARS: &str = "autoscalingrunnerset.actions.github.com/finalizer";
const F_AL: &str = "autoscalinglistener.actions.github.com/finalizer";
const F_ERS: &str = "ephemeralrunnerset.actions.github.com/finalizer";
const F_ER: &str = "ephemeralrunner.actions.github.com/finalizer";
const F_REG: &str = "ephemeralrunner.actions.github.com/runner-registration-finalizer";
const F_CP: &str = "actions.github.com/cleanup-protection";
const F_LEG_RUNNER: &str = "runner.actions.summerwind.dev";
const F_LEG_POD: &str = "actions.summerwind.dev/runner-pod";
const F_LEG_LINKED: &str = "actions.summerwind.dev/linked-resources";
const SCALE_SET_ID: &str = "runner-scale-set-id";

/// The `actions.github.com/cleanup-*` annotations in the order the
/// controller releases them (§3 step 5), with the kind each names.
const CLEANUP: &[(&str, &str, &str)] = &[
    (
        "actions.github.com/cleanup-kubernetes-mode-role-binding-name",
        RBAC_V,
        "RoleBinding",
    ),
    (
        "actions.github.com/cleanup-kubernetes-mode-role-name",
        RBAC_V,
        "Role",
    ),
    (
        "actions.github.com/cleanup-kubernetes-mode-service-account-name",
        "v1",
        "ServiceAccount",
    ),
    (
        "actions.github.com/cleanup-no-permission-service-account-name",
        "v1",
        "ServiceAccount",
    ),
    (
        "actions.github.com/cleanup-github-secret-name",
        "v1",
        "Secret",
    ),
    (
        "actions.github.com/cleanup-manager-role-binding",
        RBAC_V,
        "RoleBinding",
    ),
    (
        "actions.github.com/cleanup-manager-role-name",
        RBAC_V,
        "Role",
    ),
];

/// Which namespaces a controller serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Cluster-wide (no `--watch-single-namespace` / `--watch-namespace`).
    Cluster,
    /// `--watch-single-namespace=W` (gha: scale sets in W only; listeners
    /// and runners in W and the controller namespace) or the legacy
    /// `--watch-namespace=W`.
    Namespace(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Gha,
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Running,
    Paused,
    Stopped,
}

/// A scale set the simulated controller deleted on GitHub
/// (`DeleteRunnerScaleSet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedScaleSet {
    /// Namespace and name of the AutoscalingRunnerSet.
    pub namespace: String,
    pub name: String,
    /// Its `runner-scale-set-id`.
    pub id: i64,
}

/// A runner the simulated controller removed from GitHub (`RemoveRunner`;
/// legacy: unregistration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedRunner {
    /// Namespace and name of the EphemeralRunner (legacy: the runner pod).
    pub namespace: String,
    pub name: String,
    /// `status.runnerId` (legacy: annotation `actions-runner/id`; 0 if absent).
    pub runner_id: i64,
}

#[derive(Debug)]
struct Config {
    flavor: Flavor,
    controller_namespace: String,
    scope: Scope,
    service_account: Option<String>,
    deployment: Option<String>,
    old_listener_names: bool,
}

#[derive(Debug)]
struct SimState {
    mode: Mode,
    github_reachable: bool,
    deleted_scale_sets: Vec<DeletedScaleSet>,
    removed_runners: Vec<RemovedRunner>,
    busy_legacy: BTreeSet<(String, String)>,
    log: Vec<String>,
    ticks: u64,
}

const MAX_LOG: usize = 10_000;

struct Inner {
    shared: Arc<Shared>,
    cfg: Config,
    user: Option<UserInfo>,
    sim: Mutex<SimState>,
    shutdown: Mutex<bool>,
    wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Configures a [`ControllerSim`].
pub struct ControllerSimBuilder {
    shared: Arc<Shared>,
    cfg: Config,
    interval: Option<Duration>,
}

impl std::fmt::Debug for ControllerSimBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerSimBuilder")
            .field("cfg", &self.cfg)
            .field("interval", &self.interval)
            .finish()
    }
}

impl ControllerSimBuilder {
    /// The controller's scope (default: cluster-wide).
    pub fn scope(mut self, scope: Scope) -> Self {
        self.cfg.scope = scope;
        self
    }

    /// Shorthand for `scope(Scope::Namespace(ns))`.
    pub fn watch_single_namespace(self, namespace: &str) -> Self {
        self.scope(Scope::Namespace(namespace.to_string()))
    }

    /// Act as `system:serviceaccount:<C>:<name>`, subject to RBAC.
    pub fn service_account(mut self, name: &str) -> Self {
        self.cfg.service_account = Some(name.to_string());
        self
    }

    /// The controller's Deployment in C: `stop()`/`resume()` set its status
    /// (available/ready replicas, `Available` condition) so the cluster shows
    /// a dead/live controller; without `service_account`, the service
    /// account comes from its pod template.
    pub fn deployment(mut self, name: &str) -> Self {
        self.cfg.deployment = Some(name.to_string());
        self
    }

    /// Tick on a background thread every `interval` (stops when the
    /// simulator is dropped). Without it, call [`ControllerSim::tick`].
    pub fn tick_every(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Look listeners up by the chart ≤ 0.13.0 naming scheme
    /// (`<ARS>-<hash(namespace)>-listener`) instead of the ≥ 0.13.1 one
    /// (`hash(namespace@runnerGroup@githubConfigUrl)`).
    pub fn old_listener_names(mut self) -> Self {
        self.cfg.old_listener_names = true;
        self
    }

    /// Start the simulator (running).
    pub fn start(mut self) -> ControllerSim {
        if self.cfg.service_account.is_none()
            && let Some(d) = &self.cfg.deployment
        {
            let state = self.shared.lock();
            let sa = state
                .store
                .get(&ObjKey::new(
                    "apps",
                    "Deployment",
                    &self.cfg.controller_namespace,
                    d,
                ))
                .map(|o| {
                    let sa =
                        meta::str_field(o, &["spec", "template", "spec", "serviceAccountName"]);
                    if sa.is_empty() {
                        "default".to_string()
                    } else {
                        sa.to_string()
                    }
                });
            self.cfg.service_account = sa;
        }
        let user = self.cfg.service_account.as_ref().map(|sa| {
            let ns = &self.cfg.controller_namespace;
            UserInfo {
                name: format!("system:serviceaccount:{ns}:{sa}"),
                groups: vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated".into(),
                ],
            }
        });
        let inner = Arc::new(Inner {
            shared: self.shared,
            cfg: self.cfg,
            user,
            sim: Mutex::new(SimState {
                mode: Mode::Running,
                github_reachable: true,
                deleted_scale_sets: Vec::new(),
                removed_runners: Vec::new(),
                busy_legacy: BTreeSet::new(),
                log: Vec::new(),
                ticks: 0,
            }),
            shutdown: Mutex::new(false),
            wake: Condvar::new(),
        });
        let thread = self.interval.map(|every| {
            let inner = inner.clone();
            std::thread::Builder::new()
                .name("fake-arc-controller".into())
                .spawn(move || {
                    loop {
                        {
                            let stop = lock(&inner.shutdown);
                            if *stop {
                                break;
                            }
                            let (stop, _) = inner
                                .wake
                                .wait_timeout(stop, every)
                                .unwrap_or_else(|e| e.into_inner());
                            if *stop {
                                break;
                            }
                        }
                        inner.tick();
                    }
                })
                .expect("spawning the controller simulator thread")
        });
        ControllerSim { inner, thread }
    }
}

/// A simulated ARC controller (see the module documentation and README).
pub struct ControllerSim {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ControllerSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerSim")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl ControllerSim {
    /// A gha-runner-scale-set controller whose listeners live in
    /// `controller_namespace` (C).
    pub fn gha(server: &FakeServer, controller_namespace: &str) -> ControllerSimBuilder {
        ControllerSim::builder(server, Flavor::Gha, controller_namespace)
    }

    /// A legacy (actions.summerwind.dev) controller installed in
    /// `controller_namespace`.
    pub fn legacy(server: &FakeServer, controller_namespace: &str) -> ControllerSimBuilder {
        ControllerSim::builder(server, Flavor::Legacy, controller_namespace)
    }

    fn builder(server: &FakeServer, flavor: Flavor, ns: &str) -> ControllerSimBuilder {
        ControllerSimBuilder {
            shared: server.shared.clone(),
            cfg: Config {
                flavor,
                controller_namespace: ns.to_string(),
                scope: Scope::Cluster,
                service_account: None,
                deployment: None,
                old_listener_names: false,
            },
            interval: None,
        }
    }

    /// Reconcile once (no-op while paused or stopped). Returns whether
    /// anything was written.
    pub fn tick(&self) -> bool {
        self.inner.tick()
    }

    /// Tick until a tick writes nothing (or `max_ticks`). Returns the number
    /// of ticks that wrote something.
    pub fn settle(&self, max_ticks: usize) -> usize {
        let mut n = 0;
        while n < max_ticks && self.tick() {
            n += 1;
        }
        n
    }

    /// Alive but not progressing (e.g. a controller stuck on something the
    /// cluster does not show).
    pub fn pause(&self) {
        lock(&self.inner.sim).mode = Mode::Paused;
    }

    /// Progress again after `pause()`, or restart after `stop()` (the
    /// Deployment's status shows it available again).
    pub fn resume(&self) {
        let was = std::mem::replace(&mut lock(&self.inner.sim).mode, Mode::Running);
        if was == Mode::Stopped {
            self.inner.set_deployment_available(true);
        }
    }

    /// A dead controller: nothing happens any more, and the Deployment (if
    /// configured) reports 0 available replicas.
    pub fn stop(&self) {
        let was = std::mem::replace(&mut lock(&self.inner.sim).mode, Mode::Stopped);
        if was != Mode::Stopped {
            self.inner.set_deployment_available(false);
        }
    }

    pub fn is_alive(&self) -> bool {
        lock(&self.inner.sim).mode != Mode::Stopped
    }

    pub fn is_paused(&self) -> bool {
        lock(&self.inner.sim).mode == Mode::Paused
    }

    /// Make GitHub (the Actions service) reachable or not: unreachable
    /// blocks every step that talks to GitHub.
    pub fn set_github_reachable(&self, reachable: bool) {
        lock(&self.inner.sim).github_reachable = reachable;
    }

    /// The job of a busy runner ended. gha: clears the EphemeralRunner's
    /// `status.jobId`, sets its `status.phase` and its runner pod's phase to
    /// `Succeeded`. Legacy: the runner pod marked with [`Self::mark_busy`]
    /// is idle again. Not logged as requests.
    pub fn finish_job(&self, namespace: &str, name: &str) -> Result<(), WriteError> {
        let was_busy = lock(&self.inner.sim)
            .busy_legacy
            .remove(&(namespace.to_string(), name.to_string()));
        let er = ObjectRef::new(GHA_V, "EphemeralRunner", Some(namespace), name);
        let pod = ObjectRef::new("v1", "Pod", Some(namespace), name);
        self.inner.with_objects(|o| {
            if o.get(&er).is_none() {
                return if was_busy {
                    Ok(())
                } else {
                    Err(WriteError::from(ApiError::not_found(
                        GHA,
                        "ephemeralrunners",
                        name,
                    )))
                };
            }
            o.update(&er, |v| {
                if let Some(st) = v.get_mut("status").and_then(Value::as_object_mut) {
                    st.remove("jobId");
                    st.remove("jobRequestId");
                    st.insert("phase".into(), json!("Succeeded"));
                }
            })?;
            if o.get(&pod).is_some() {
                o.update(&pod, |v| {
                    if let Some(m) = v.as_object_mut() {
                        let st = m.entry("status").or_insert_with(|| json!({}));
                        if let Some(st) = st.as_object_mut() {
                            st.insert("phase".into(), json!("Succeeded"));
                        }
                    }
                })?;
            }
            Ok(())
        })
    }

    /// Legacy: a runner pod is running a job (its unregistration waits).
    pub fn mark_busy(&self, namespace: &str, pod: &str) {
        lock(&self.inner.sim)
            .busy_legacy
            .insert((namespace.to_string(), pod.to_string()));
    }

    /// Scale sets deleted on GitHub, in order.
    pub fn deleted_scale_sets(&self) -> Vec<DeletedScaleSet> {
        lock(&self.inner.sim).deleted_scale_sets.clone()
    }

    /// Runners removed from GitHub, in order.
    pub fn removed_runners(&self) -> Vec<RemovedRunner> {
        lock(&self.inner.sim).removed_runners.clone()
    }

    /// What the controller did or failed to do, one line per event
    /// (`INFO|ERROR <controller> <ns>/<name>: <message>`; the last 10 000).
    pub fn log(&self) -> Vec<String> {
        lock(&self.inner.sim).log.clone()
    }

    /// How many ticks ran while alive and not paused.
    pub fn ticks(&self) -> u64 {
        lock(&self.inner.sim).ticks
    }

    /// The user the simulator acts as (`None`: unrestricted).
    pub fn user(&self) -> Option<String> {
        self.inner.user.as_ref().map(|u| u.name.clone())
    }
}

impl Drop for ControllerSim {
    fn drop(&mut self) {
        *lock(&self.inner.shutdown) = true;
        self.inner.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Inner {
    fn with_objects<R>(&self, f: impl FnOnce(&mut Objects<'_>) -> R) -> R {
        let (out, wrote) = {
            let mut state = self.shared.lock();
            let mut o = Objects::new(&mut state);
            let out = f(&mut o);
            (out, o.wrote())
        };
        if wrote {
            self.shared.notify.notify_waiters();
        }
        out
    }

    fn tick(&self) -> bool {
        let mut sim = lock(&self.sim);
        if sim.mode != Mode::Running {
            return false;
        }
        sim.ticks += 1;
        let changed = {
            let mut state = self.shared.lock();
            let before = state.store.current_rv();
            let mut ctl = Ctl {
                objects: Objects::new(&mut state),
                cfg: &self.cfg,
                user: self.user.as_ref(),
                sim: &mut sim,
            };
            match self.cfg.flavor {
                Flavor::Gha => ctl.gha_tick(),
                Flavor::Legacy => ctl.legacy_tick(),
            }
            state.store.current_rv() != before
        };
        drop(sim);
        if changed {
            self.shared.notify.notify_waiters();
        }
        changed
    }

    fn set_deployment_available(&self, available: bool) {
        let Some(name) = &self.cfg.deployment else {
            return;
        };
        let r = ObjectRef::new(
            "apps/v1",
            "Deployment",
            Some(&self.cfg.controller_namespace),
            name,
        );
        let _ = self.with_objects(|o| {
            o.update(&r, |d| {
                let replicas = d
                    .get("spec")
                    .and_then(|s| s.get("replicas"))
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let Some(m) = d.as_object_mut() else { return };
                let st = m.entry("status").or_insert_with(|| json!({}));
                let Some(st) = st.as_object_mut() else { return };
                let up = if available { replicas } else { 0 };
                st.insert("availableReplicas".into(), json!(up));
                st.insert("readyReplicas".into(), json!(up));
                if available {
                    st.remove("unavailableReplicas");
                } else {
                    st.insert("unavailableReplicas".into(), json!(replicas));
                }
                if let Some(conds) = st.get_mut("conditions").and_then(Value::as_array_mut) {
                    for c in conds.iter_mut() {
                        if c.get("type").and_then(Value::as_str) == Some("Available") {
                            c["status"] = json!(if available { "True" } else { "False" });
                            c["reason"] = json!(if available {
                                "MinimumReplicasAvailable"
                            } else {
                                "MinimumReplicasUnavailable"
                            });
                            c["message"] = json!(if available {
                                "Deployment has minimum availability."
                            } else {
                                "Deployment does not have minimum availability."
                            });
                        }
                    }
                }
            })
        });
    }
}

type Res<T> = Result<T, String>;

/// One reconcile pass with the server locked.
struct Ctl<'s, 'a> {
    objects: Objects<'a>,
    cfg: &'s Config,
    user: Option<&'s UserInfo>,
    sim: &'s mut SimState,
}

fn has_finalizer(obj: &Value, fin: &str) -> bool {
    meta::finalizers(obj).iter().any(|f| f == fin)
}

fn owned_by(obj: &Value, kind: &str, name: &str) -> bool {
    meta::owner_refs(obj)
        .iter()
        .any(|r| r.kind == kind && r.name == name)
}

fn phase(obj: &Value) -> &str {
    meta::str_field(obj, &["status", "phase"])
}

fn annotation<'v>(obj: &'v Value, key: &str) -> Option<&'v str> {
    obj.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

/// `FNVHashString`: FNV-1a 32 → decimal → `rand.SafeEncodeString`.
pub(crate) fn fnv_hash_string(s: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|c| ALPHABET[usize::from(c) % ALPHABET.len()] as char)
        .collect()
}

/// The AutoscalingListener name of an AutoscalingRunnerSet (arc-domain §1.4).
pub(crate) fn listener_name(ars: &Value, old_scheme: bool) -> String {
    let ns = meta::namespace(ars);
    let x = if old_scheme {
        ns.to_string()
    } else {
        format!(
            "{ns}@{}@{}",
            meta::str_field(ars, &["spec", "runnerGroup"]),
            meta::str_field(ars, &["spec", "githubConfigUrl"])
        )
    };
    let h = fnv_hash_string(&x);
    format!("{}-{}-listener", meta::name(ars), &h[..h.len().min(8)])
}

fn secret_value(secret: &Value, key: &str) -> Option<String> {
    if let Some(s) = secret
        .get("stringData")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
    {
        return Some(s.to_string());
    }
    let b64 = secret.get("data")?.get(key)?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `appconfig.Validate` of the GitHub secret's content.
fn validate_credentials(secret: &Value) -> Res<()> {
    let non_empty = |k: &str| secret_value(secret, k).filter(|v| !v.is_empty());
    let token = non_empty("github_token").is_some();
    let app = non_empty("github_app_id").is_some()
        && non_empty("github_app_installation_id")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .is_some_and(|n| n > 0)
        && non_empty("github_app_private_key").is_some();
    match (token, app) {
        (true, true) => {
            Err("both PAT and GitHub App credentials provided. should only provide one".into())
        }
        (false, false) => Err(
            "no credentials provided: either a PAT or GitHub App credentials should be provided"
                .into(),
        ),
        _ => Ok(()),
    }
}

impl Ctl<'_, '_> {
    fn log(&mut self, level: &str, controller: &str, obj: &Value, msg: &str) {
        if self.sim.log.len() >= MAX_LOG {
            self.sim.log.remove(0);
        }
        self.sim.log.push(format!(
            "{level} {controller} {}/{}: {msg}",
            meta::namespace(obj),
            meta::name(obj)
        ));
    }

    fn stored(&mut self, group: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
        self.objects
            .state()
            .store
            .get(&ObjKey::new(group, kind, ns, name))
            .cloned()
    }

    fn all(&mut self, group: &str, kind: &str) -> Vec<Value> {
        self.objects
            .state()
            .store
            .list(group, kind)
            .cloned()
            .collect()
    }

    /// Scale sets are reconciled in W only in single-namespace mode.
    fn covers_scale_set(&self, ns: &str) -> bool {
        match &self.cfg.scope {
            Scope::Cluster => true,
            Scope::Namespace(w) => ns == w,
        }
    }

    /// What the controller's cache holds.
    fn covers(&self, ns: &str) -> bool {
        match &self.cfg.scope {
            Scope::Cluster => true,
            Scope::Namespace(w) => {
                ns == w || (self.cfg.flavor == Flavor::Gha && ns == self.cfg.controller_namespace)
            }
        }
    }

    fn authorize(&mut self, verb: &str, r: &ObjectRef) -> Res<()> {
        let Some(user) = self.user else {
            return Ok(());
        };
        let Some(rt) = self.objects.resource_type(&r.api_version, &r.kind) else {
            return Err(format!(
                "no matches for kind \"{}\" in version \"{}\"",
                r.kind, r.api_version
            ));
        };
        let ns = r.namespace.as_deref().unwrap_or("");
        let attrs = Attributes::resource(verb, &rt.group, &rt.resource, "", ns, &r.name);
        let d = rbac::authorize(&self.objects.state().store, user, &attrs);
        if d.allowed {
            return Ok(());
        }
        let mut msg = attrs.forbidden_message(&user.name);
        if !d.reason.is_empty() {
            msg = format!("{msg}: {}", d.reason);
        }
        Err(ApiError::forbidden(&rt.group, &rt.resource, &r.name, &msg)
            .message
            .clone())
    }

    /// DELETE (NotFound tolerated). Returns whether the object is gone.
    fn delete(&mut self, r: &ObjectRef) -> Res<bool> {
        self.authorize("delete", r)?;
        match self.objects.delete(r) {
            Ok(None) => Ok(true),
            Ok(Some(_)) => Ok(false),
            Err(e) if e.is_not_found() => Ok(true),
            Err(e) => Err(e.message),
        }
    }

    /// Delete the object if it exists and is not deleting yet. Returns
    /// whether it is gone.
    fn ensure_deleted(&mut self, r: &ObjectRef, existing: Option<&Value>) -> Res<bool> {
        match existing {
            None => Ok(true),
            Some(o) if meta::is_deleting(o) => Ok(false),
            Some(_) => self.delete(r),
        }
    }

    fn patch(&mut self, r: &ObjectRef, f: impl FnOnce(&mut Value)) -> Res<()> {
        self.authorize("patch", r)?;
        self.objects.update(r, f).map(drop).map_err(|e| e.message)
    }

    fn remove_finalizers(&mut self, r: &ObjectRef, fins: &[&str]) -> Res<()> {
        self.patch(r, |o| {
            let keep: Vec<String> = meta::finalizers(o)
                .into_iter()
                .filter(|f| !fins.contains(&f.as_str()))
                .collect();
            meta::set_finalizers(o, &keep);
        })
    }

    /// A live (uncached) GET of a secret.
    fn get_secret(&mut self, ns: &str, name: &str) -> Res<Option<Value>> {
        let r = ObjectRef::new("v1", "Secret", Some(ns), name);
        self.authorize("get", &r)?;
        Ok(self.stored("", "Secret", ns, name))
    }

    /// An Actions-service client from the GitHub secret in `ns`.
    fn actions_client(&mut self, ns: &str, secret: &str) -> Res<()> {
        let unresolved = || {
            format!(
                "failed to resolve app config: failed to get kubernetes secret: \"{ns}/{secret}\""
            )
        };
        let s = match self.get_secret(ns, secret) {
            Ok(Some(s)) if !secret.is_empty() => s,
            _ => return Err(unresolved()),
        };
        validate_credentials(&s).map_err(|e| format!("failed to resolve app config: {e}"))?;
        if !self.sim.github_reachable {
            return Err("failed to get actions client: dial tcp: lookup api.github.com: no such host (GitHub unreachable)".into());
        }
        Ok(())
    }

    fn remove_runner(&mut self, er: &Value, runner_id: i64) {
        let rec = RemovedRunner {
            namespace: meta::namespace(er).to_string(),
            name: meta::name(er).to_string(),
            runner_id,
        };
        if !self.sim.removed_runners.contains(&rec) {
            self.sim.removed_runners.push(rec);
        }
    }

    // ------------------------------------------------------------ gha mode

    fn gha_tick(&mut self) {
        for ars in self.all(GHA, "AutoscalingRunnerSet") {
            if meta::is_deleting(&ars)
                && has_finalizer(&ars, F_ARS)
                && self.covers_scale_set(meta::namespace(&ars))
                && let Err(e) = self.ars_step(&ars)
            {
                self.log("ERROR", "AutoscalingRunnerSet", &ars, &e);
            }
        }
        for al in self.all(GHA, "AutoscalingListener") {
            if meta::is_deleting(&al)
                && has_finalizer(&al, F_AL)
                && self.covers(meta::namespace(&al))
                && let Err(e) = self.al_step(&al)
            {
                self.log(
                    "ERROR",
                    "AutoscalingListener",
                    &al,
                    &format!("Failed to cleanup resources after deletion: {e}"),
                );
            }
        }
        for ers in self.all(GHA, "EphemeralRunnerSet") {
            if meta::is_deleting(&ers)
                && (has_finalizer(&ers, F_ERS) || has_finalizer(&ers, F_ER))
                && self.covers(meta::namespace(&ers))
                && let Err(e) = self.ers_step(&ers)
            {
                self.log("ERROR", "EphemeralRunnerSet", &ers, &e);
            }
        }
        for er in self.all(GHA, "EphemeralRunner") {
            if meta::is_deleting(&er)
                && has_finalizer(&er, F_ER)
                && self.covers(meta::namespace(&er))
                && let Err(e) = self.er_step(&er)
            {
                self.log("ERROR", "EphemeralRunner", &er, &e);
            }
        }
    }

    /// One stage of the AutoscalingRunnerSet deletion (§3 steps 2–6).
    fn ars_step(&mut self, ars: &Value) -> Res<()> {
        let r = meta::namespace(ars).to_string();
        let a = meta::name(ars).to_string();
        let me = ObjectRef::of(ars);
        let c = self.cfg.controller_namespace.clone();

        // Step 2: the listener, in this controller's namespace only.
        let l = listener_name(ars, self.cfg.old_listener_names);
        if let Some(al) = self.stored(GHA, "AutoscalingListener", &c, &l) {
            if !meta::is_deleting(&al) {
                self.delete(&ObjectRef::of(&al))?;
                self.log("INFO", "AutoscalingRunnerSet", ars, "Deleting the listener");
            } else {
                self.log(
                    "INFO",
                    "AutoscalingRunnerSet",
                    ars,
                    "Waiting for listener to be deleted",
                );
            }
            return Ok(());
        }

        // Step 3: the runner sets it owns.
        let owned: Vec<Value> = self
            .all(GHA, "EphemeralRunnerSet")
            .into_iter()
            .filter(|e| meta::namespace(e) == r && owned_by(e, "AutoscalingRunnerSet", &a))
            .collect();
        if !owned.is_empty() {
            for e in &owned {
                if !meta::is_deleting(e) {
                    self.delete(&ObjectRef::of(e))?;
                    self.log(
                        "INFO",
                        "AutoscalingRunnerSet",
                        ars,
                        &format!("Deleting ephemeral runner set {}", meta::name(e)),
                    );
                }
            }
            return Ok(());
        }

        // Step 4: the scale set on GitHub.
        if let Some(id) = annotation(ars, SCALE_SET_ID) {
            match id.trim().parse::<i64>() {
                Ok(id) => {
                    let secret = meta::str_field(ars, &["spec", "githubConfigSecret"]).to_string();
                    self.actions_client(&r, &secret).map_err(|e| {
                        format!("Failed to initialize Actions service client for updating a existing runner scale set: {e}")
                    })?;
                    self.authorize("patch", &me)?;
                    let rec = DeletedScaleSet {
                        namespace: r.clone(),
                        name: a.clone(),
                        id,
                    };
                    if !self.sim.deleted_scale_sets.contains(&rec) {
                        self.sim.deleted_scale_sets.push(rec);
                    }
                    self.patch(&me, |o| {
                        crate::objects::set_map_entry(o, "annotations", SCALE_SET_ID, None)
                    })?;
                    self.log(
                        "INFO",
                        "AutoscalingRunnerSet",
                        ars,
                        "Deleted the runner scale set from Actions service",
                    );
                    return Ok(());
                }
                Err(_) => self.log(
                    "INFO",
                    "AutoscalingRunnerSet",
                    ars,
                    "autoscaling runner set does not have annotation describing scale set id. Skip deletion",
                ),
            }
        }

        // Step 5: release the Helm-owned dependents.
        let mut released = false;
        for (key, api_version, kind) in CLEANUP {
            let Some(name) = annotation(ars, key).filter(|n| !n.is_empty()) else {
                continue;
            };
            let dep = ObjectRef::new(*api_version, *kind, Some(&r), name);
            let existing = if *kind == "Secret" {
                // NotFound or Forbidden count as done.
                self.get_secret(&r, name).ok().flatten()
            } else {
                let (group, _) = meta::split_api_version(api_version);
                self.stored(group, kind, &r, name)
            };
            let Some(obj) = existing else { continue };
            if !has_finalizer(&obj, F_CP) {
                continue;
            }
            self.remove_finalizers(&dep, &[F_CP])
                .map_err(|e| format!("Failed to remove finalizers on dependent resources: {e}"))?;
            self.log(
                "INFO",
                "AutoscalingRunnerSet",
                ars,
                &format!("Removed finalizer from {kind} {name}"),
            );
            released = true;
        }
        if released {
            return Ok(());
        }

        // Step 6.
        self.remove_finalizers(&me, &[F_ARS])?;
        self.log(
            "INFO",
            "AutoscalingRunnerSet",
            ars,
            "Successfully removed finalizer after cleanup",
        );
        Ok(())
    }

    /// The listener reconciler's deletion branch.
    fn al_step(&mut self, al: &Value) -> Res<()> {
        let n = meta::namespace(al).to_string();
        let l = meta::name(al).to_string();
        let r = meta::str_field(al, &["spec", "autoscalingRunnerSetNamespace"]).to_string();
        let waiting = |ctl: &mut Self| {
            ctl.log(
                "INFO",
                "AutoscalingListener",
                al,
                "Waiting for resources to be deleted before removing finalizer",
            );
            Ok(())
        };

        let pod = ObjectRef::new("v1", "Pod", Some(&n), &l);
        let existing = self.stored("", "Pod", &n, &l);
        if !self.ensure_deleted(&pod, existing.as_ref())? {
            return waiting(self);
        }
        let mut secrets = vec![format!("{l}-config")];
        if al.get("spec").and_then(|s| s.get("proxy")).is_some() {
            secrets.push(format!("{l}-proxy"));
        }
        for s in secrets {
            let existing = self
                .get_secret(&n, &s)
                .map_err(|e| format!("failed to get listener config secret: {e}"))?;
            let r = ObjectRef::new("v1", "Secret", Some(&n), &s);
            if !self.ensure_deleted(&r, existing.as_ref())? {
                return waiting(self);
            }
        }
        if !r.is_empty() {
            for kind in ["RoleBinding", "Role"] {
                let existing = self.stored("rbac.authorization.k8s.io", kind, &r, &l);
                let obj = ObjectRef::new(RBAC_V, kind, Some(&r), &l);
                if !self.ensure_deleted(&obj, existing.as_ref())? {
                    return waiting(self);
                }
            }
        }
        let sa = ObjectRef::new("v1", "ServiceAccount", Some(&n), &l);
        let existing = self.stored("", "ServiceAccount", &n, &l);
        if !self.ensure_deleted(&sa, existing.as_ref())? {
            return waiting(self);
        }
        self.remove_finalizers(&ObjectRef::of(al), &[F_AL])?;
        self.log("INFO", "AutoscalingListener", al, "Removing finalizer");
        Ok(())
    }

    /// A runner is busy while its job runs: `status.jobId` set and its pod
    /// Running.
    fn busy(&mut self, er: &Value) -> bool {
        let job = er
            .get("status")
            .and_then(|s| s.get("jobId"))
            .is_some_and(|j| match j {
                Value::String(s) => !s.is_empty(),
                Value::Null => false,
                Value::Number(n) => n.as_i64() != Some(0),
                _ => true,
            });
        job && self
            .stored("", "Pod", meta::namespace(er), meta::name(er))
            .is_some_and(|p| phase(&p) == "Running")
    }

    /// The runner-set reconciler's deletion branch.
    fn ers_step(&mut self, ers: &Value) -> Res<()> {
        let r = meta::namespace(ers).to_string();
        let e = meta::name(ers).to_string();
        let children: Vec<Value> = self
            .all(GHA, "EphemeralRunner")
            .into_iter()
            .filter(|x| meta::namespace(x) == r && owned_by(x, "EphemeralRunnerSet", &e))
            .collect();
        if children.is_empty() {
            let proxies: Vec<Value> = self
                .all("", "Secret")
                .into_iter()
                .filter(|s| {
                    meta::namespace(s) == r
                        && meta::name(s).ends_with("-runner-proxy")
                        && owned_by(s, "EphemeralRunnerSet", &e)
                })
                .collect();
            for p in &proxies {
                if !self.ensure_deleted(&ObjectRef::of(p), Some(p))? {
                    return Ok(());
                }
            }
            self.remove_finalizers(&ObjectRef::of(ers), &[F_ERS, F_ER])?;
            self.log("INFO", "EphemeralRunnerSet", ers, "Removed finalizer");
            return Ok(());
        }
        let live: Vec<&Value> = children.iter().filter(|x| !meta::is_deleting(x)).collect();
        let (done, rest): (Vec<&Value>, Vec<&Value>) = live
            .into_iter()
            .partition(|x| matches!(phase(x), "Succeeded" | "Failed"));
        for x in &done {
            self.delete(&ObjectRef::of(x))?;
            self.log(
                "INFO",
                "EphemeralRunnerSet",
                ers,
                &format!("Deleting ephemeral runner {}", meta::name(x)),
            );
        }
        if rest.is_empty() {
            return Ok(());
        }
        let secret = meta::str_field(ers, &["spec", "ephemeralRunnerSpec", "githubConfigSecret"])
            .to_string();
        self.actions_client(&r, &secret)
            .map_err(|e| format!("Failed to clean up EphemeralRunners: {e}"))?;
        for x in rest {
            if self.busy(x) {
                self.log(
                    "INFO",
                    "EphemeralRunnerSet",
                    ers,
                    &format!(
                        "Skipping ephemeral runner since it is running a job {}",
                        meta::name(x)
                    ),
                );
                continue;
            }
            let me = ObjectRef::of(x);
            self.authorize("delete", &me)?;
            let id = x
                .get("status")
                .and_then(|s| s.get("runnerId"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            self.remove_runner(x, id);
            self.delete(&me)?;
            self.log(
                "INFO",
                "EphemeralRunnerSet",
                ers,
                &format!("Deleted ephemeral runner {}", meta::name(x)),
            );
        }
        Ok(())
    }

    /// The runner reconciler's deletion branch.
    fn er_step(&mut self, er: &Value) -> Res<()> {
        let r = meta::namespace(er).to_string();
        let n = meta::name(er).to_string();
        let me = ObjectRef::of(er);
        if has_finalizer(er, F_REG) {
            let secret = meta::str_field(er, &["spec", "githubConfigSecret"]).to_string();
            self.actions_client(&r, &secret)
                .map_err(|e| format!("Failed to clean up runner from service: {e}"))?;
            if self.busy(er) {
                self.log(
                    "INFO",
                    "EphemeralRunner",
                    er,
                    "Runner is not finished yet, retrying in 30s",
                );
                return Ok(());
            }
            self.authorize("patch", &me)?;
            let id = er
                .get("status")
                .and_then(|s| s.get("runnerId"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            self.remove_runner(er, id);
            self.remove_finalizers(&me, &[F_REG])?;
            self.log(
                "INFO",
                "EphemeralRunner",
                er,
                "Removed runner from the service",
            );
        }
        let pod = ObjectRef::new("v1", "Pod", Some(&r), &n);
        let existing = self.stored("", "Pod", &r, &n);
        if !self.ensure_deleted(&pod, existing.as_ref())? {
            return Ok(());
        }
        let existing = self.get_secret(&r, &n)?;
        let jit = ObjectRef::new("v1", "Secret", Some(&r), &n);
        if !self.ensure_deleted(&jit, existing.as_ref())? {
            return Ok(());
        }
        // Container-hook pods and secrets (label runner-pod=N).
        for (group, kind) in [("", "Pod"), ("", "Secret")] {
            let linked: Vec<Value> = self
                .all(group, kind)
                .into_iter()
                .filter(|o| {
                    meta::namespace(o) == r
                        && meta::labels(o).get("runner-pod").map(String::as_str) == Some(&n)
                })
                .collect();
            for o in &linked {
                if !self.ensure_deleted(&ObjectRef::of(o), Some(o))? {
                    return Ok(());
                }
            }
        }
        self.remove_finalizers(&me, &[F_ER])?;
        self.log("INFO", "EphemeralRunner", er, "Removed finalizer");
        Ok(())
    }

    // ------------------------------------------------------------ legacy mode

    /// Pods first (a pod deleted by GC in this tick waits for the next one),
    /// then runners: runners disappear one tick before their pods.
    fn legacy_tick(&mut self) {
        for pod in self.all("", "Pod") {
            let ns = meta::namespace(&pod).to_string();
            if !meta::is_deleting(&pod) || !self.covers(&ns) {
                continue;
            }
            if let Err(e) = self.legacy_pod_step(&pod) {
                self.log("ERROR", "runnerpod", &pod, &e);
            }
        }
        for runner in self.all(LEGACY, "Runner") {
            if meta::is_deleting(&runner)
                && has_finalizer(&runner, F_LEG_RUNNER)
                && self.covers(meta::namespace(&runner))
            {
                match self.remove_finalizers(&ObjectRef::of(&runner), &[F_LEG_RUNNER]) {
                    Ok(()) => self.log("INFO", "runner", &runner, "Removed finalizer"),
                    Err(e) => self.log("ERROR", "runner", &runner, &e),
                }
            }
        }
    }

    fn legacy_pod_step(&mut self, pod: &Value) -> Res<()> {
        let ns = meta::namespace(pod).to_string();
        let name = meta::name(pod).to_string();
        let me = ObjectRef::of(pod);
        if has_finalizer(pod, F_LEG_LINKED) {
            for (group, kind) in [("", "Pod"), ("", "Secret")] {
                let linked: Vec<Value> = self
                    .all(group, kind)
                    .into_iter()
                    .filter(|o| {
                        meta::namespace(o) == ns
                            && meta::labels(o).get("runner-pod").map(String::as_str) == Some(&name)
                    })
                    .collect();
                for o in &linked {
                    if !self.ensure_deleted(&ObjectRef::of(o), Some(o))? {
                        return Ok(());
                    }
                }
            }
            self.remove_finalizers(&me, &[F_LEG_LINKED])?;
            self.log(
                "INFO",
                "runnerpod",
                pod,
                "Removed linked-resources finalizer",
            );
        }
        if has_finalizer(pod, F_LEG_POD) {
            if self.sim.busy_legacy.contains(&(ns.clone(), name.clone())) {
                self.log(
                    "INFO",
                    "runnerpod",
                    pod,
                    "Runner is busy, waiting for the job to finish before unregistering",
                );
                return Ok(());
            }
            if !self.sim.github_reachable {
                return Err("failed to unregister runner: GitHub unreachable".into());
            }
            self.authorize("patch", &me)?;
            let id = annotation(pod, "actions-runner/id")
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0);
            self.remove_runner(pod, id);
            self.remove_finalizers(&me, &[F_LEG_POD])?;
            self.log(
                "INFO",
                "runnerpod",
                pod,
                "Unregistered runner and removed finalizer",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_names_match_the_domain_vectors() {
        assert_eq!(&fnv_hash_string("arc-runners")[..8], "754b578d");
        assert_eq!(&fnv_hash_string("det-ubuntu-latest")[..8], "6f7586ff");
        let ars = |ns: &str, name: &str, group: &str| {
            json!({"metadata": {"namespace": ns, "name": name},
                   "spec": {"runnerGroup": group, "githubConfigUrl": "https://github.com/acme"}})
        };
        assert_eq!(
            listener_name(&ars("arc-runners", "arc-runner-set", ""), false),
            "arc-runner-set-85f786b5-listener"
        );
        assert_eq!(
            listener_name(&ars("ci-runners", "linux-x64", "platform"), false),
            "linux-x64-6445b74c-listener"
        );
        assert_eq!(
            listener_name(&ars("ci-runners", "linux-x64", ""), true),
            "linux-x64-6c8dfdf9-listener"
        );
    }

    #[test]
    fn credentials_validation() {
        let s = |data: Value| json!({"data": data});
        assert!(validate_credentials(&s(json!({"github_token": "eA=="}))).is_ok());
        assert!(validate_credentials(&s(json!({}))).is_err());
        let app = json!({"github_app_id": "MQ==", "github_app_installation_id": "Mg==", "github_app_private_key": "eA=="});
        assert!(validate_credentials(&s(app.clone())).is_ok());
        let mut both = app;
        both["github_token"] = json!("eA==");
        assert!(
            validate_credentials(&s(both))
                .unwrap_err()
                .starts_with("both PAT")
        );
        assert!(validate_credentials(&json!({"stringData": {"github_token": "x"}})).is_ok());
    }
}
