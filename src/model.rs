//! Derived, pure facts about a [`Snapshot`] that many checks share: which controllers exist, what
//! they cover, their versions, and how ARC names its objects. Computed once per run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::intern::intern;
use crate::snapshot::{AccessQuestion, Object, ObjectRef, Snapshot};

// ---------------------------------------------------------------------------------------------
// Exact strings from the ARC sources (arc-domain §1).

pub const GROUP: &str = "actions.github.com";
pub const LEGACY_GROUP: &str = "actions.summerwind.dev";

/// ARC's own resources, both generations.
pub const ARC_KINDS: [&str; 9] = [
    "AutoscalingRunnerSet",
    "AutoscalingListener",
    "EphemeralRunnerSet",
    "EphemeralRunner",
    "Runner",
    "RunnerDeployment",
    "RunnerReplicaSet",
    "RunnerSet",
    "HorizontalRunnerAutoscaler",
];

pub const F_ARS: &str = "autoscalingrunnerset.actions.github.com/finalizer";
pub const F_AL: &str = "autoscalinglistener.actions.github.com/finalizer";
/// ERS finalizer at HEAD (unreleased).
pub const F_ERS: &str = "ephemeralrunnerset.actions.github.com/finalizer";
/// ER finalizer; also the ERS finalizer up to 0.14.2.
pub const F_ER: &str = "ephemeralrunner.actions.github.com/finalizer";
pub const F_REG: &str = "ephemeralrunner.actions.github.com/runner-registration-finalizer";
pub const F_CP: &str = "actions.github.com/cleanup-protection";
pub const F_LEG_RUNNER: &str = "runner.actions.summerwind.dev";
pub const F_LEG_POD: &str = "actions.summerwind.dev/runner-pod";
pub const F_LEG_LINKED: &str = "actions.summerwind.dev/linked-resources";

pub const L_PART_OF: &str = "app.kubernetes.io/part-of";
pub const L_COMPONENT: &str = "app.kubernetes.io/component";
pub const L_VERSION: &str = "app.kubernetes.io/version";
pub const L_SCALE_SET_NAME: &str = "actions.github.com/scale-set-name";
pub const L_SCALE_SET_NS: &str = "actions.github.com/scale-set-namespace";
pub const L_CTRL_SA_NAME: &str = "actions.github.com/controller-service-account-name";
pub const L_CTRL_SA_NS: &str = "actions.github.com/controller-service-account-namespace";
pub const L_CTRL_WATCH_NS: &str = "actions.github.com/controller-watch-single-namespace";
pub const L_LISTENER_NS: &str = "auto-scaling-listener-namespace";
pub const L_LISTENER_NAME: &str = "auto-scaling-listener-name";

pub const A_SCALE_SET_ID: &str = "runner-scale-set-id";
pub const A_CLEANUP_SECRET: &str = "actions.github.com/cleanup-github-secret-name";
pub const A_CLEANUP_MANAGER_RB: &str = "actions.github.com/cleanup-manager-role-binding";
pub const A_CLEANUP_MANAGER_ROLE: &str = "actions.github.com/cleanup-manager-role-name";
pub const A_CLEANUP_KUBE_RB: &str = "actions.github.com/cleanup-kubernetes-mode-role-binding-name";
pub const A_CLEANUP_KUBE_ROLE: &str = "actions.github.com/cleanup-kubernetes-mode-role-name";
pub const A_CLEANUP_KUBE_SA: &str =
    "actions.github.com/cleanup-kubernetes-mode-service-account-name";
pub const A_CLEANUP_NO_PERM_SA: &str =
    "actions.github.com/cleanup-no-permission-service-account-name";
pub const A_HELM_RELEASE: &str = "meta.helm.sh/release-name";
pub const A_HELM_RELEASE_NS: &str = "meta.helm.sh/release-namespace";

/// OCI location of the scale-set chart.
pub const SCALE_SET_CHART: &str =
    "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set";
/// OCI location of the controller chart.
pub const CONTROLLER_CHART: &str =
    "oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller";

/// The ARS annotations naming chart objects, in the order the controller releases them
/// (arc-domain §3 step 5), with the kind each names.
pub const CLEANUP_ANNOTATIONS: [(&str, &str); 7] = [
    (A_CLEANUP_KUBE_RB, "RoleBinding"),
    (A_CLEANUP_KUBE_ROLE, "Role"),
    (A_CLEANUP_KUBE_SA, "ServiceAccount"),
    (A_CLEANUP_NO_PERM_SA, "ServiceAccount"),
    (A_CLEANUP_SECRET, "Secret"),
    (A_CLEANUP_MANAGER_RB, "RoleBinding"),
    (A_CLEANUP_MANAGER_ROLE, "Role"),
];

// ---------------------------------------------------------------------------------------------
// Versions

/// A parsed ARC version `major.minor.patch` (leading `v` and pre-release suffixes tolerated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    pub fn parse(s: &str) -> Option<Version> {
        let s = s.trim().trim_start_matches('v');
        let core = s.split(['-', '+']).next()?;
        let mut it = core.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let patch = it.next().map_or(Some(0), |p| p.parse().ok())?;
        if it.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
        })
    }

    pub fn minor_line(self) -> (u64, u64) {
        (self.major, self.minor)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Listener naming changed in 0.13.1 (#4299).
pub const NEW_LISTENER_NAMING: Version = Version::new(0, 13, 1);

// ---------------------------------------------------------------------------------------------
// Names

/// ARC's `FNVHashString`: FNV-1a 32-bit over the bytes, as unsigned decimal, each character
/// mapped through Kubernetes `rand.SafeEncodeString`.
pub fn fnv_hash_string(s: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|d| ALPHABET[usize::from(d) % ALPHABET.len()] as char)
        .collect()
}

/// Which listener-name scheme a controller version uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerNaming {
    /// ≤ 0.13.0: hash of the ARS namespace.
    Old,
    /// ≥ 0.13.1: hash of `namespace@runnerGroup@githubConfigUrl`.
    New,
}

impl ListenerNaming {
    pub fn for_version(v: Option<Version>) -> ListenerNaming {
        match v {
            Some(v) if v < NEW_LISTENER_NAMING => ListenerNaming::Old,
            _ => ListenerNaming::New,
        }
    }
}

/// The AutoscalingListener name a controller computes for an ARS.
pub fn listener_name(ars: &Object, naming: ListenerNaming) -> String {
    let ns = ars.meta.ns();
    let input = match naming {
        ListenerNaming::Old => ns.to_owned(),
        ListenerNaming::New => format!(
            "{ns}@{}@{}",
            ars.str("/spec/runnerGroup").unwrap_or(""),
            ars.str("/spec/githubConfigUrl").unwrap_or("")
        ),
    };
    let h = fnv_hash_string(&input);
    format!("{}-{}-listener", ars.meta.name, &h[..h.len().min(8)])
}

// ---------------------------------------------------------------------------------------------
// Controllers

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// `actions.github.com` scale-set mode (`--auto-scaling-runner-set-only`).
    Gha,
    /// `actions.summerwind.dev` legacy mode.
    Legacy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "mode", content = "namespace")]
pub enum ControllerScope {
    ClusterWide,
    /// gha `--watch-single-namespace=W` (covers W and the controller's own namespace), or legacy
    /// `--watch-namespace`.
    SingleNamespace(String),
}

/// A controller Deployment and what it means.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Controller {
    pub generation: Generation,
    pub namespace: String,
    pub name: String,
    /// ServiceAccount the pods run as (namespace = the controller namespace).
    pub service_account: String,
    /// The build version: what the binary logs, else a version-like image tag, else the chart's
    /// `app.kubernetes.io/version` label (which a rebuilt image can contradict).
    pub version: Option<String>,
    /// Where `version` came from, for evidence.
    #[serde(skip)]
    pub version_source: String,
    #[serde(skip)]
    pub parsed_version: Option<Version>,
    pub scope: ControllerScope,
    /// Deployment has available replicas and no crash-looping pod.
    pub healthy: bool,
    /// Container args of the manager container.
    #[serde(skip)]
    pub args: Vec<String>,
    #[serde(skip)]
    pub image: String,
    /// Reasons it is unhealthy, for messages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl Controller {
    /// The controller's Deployment.
    pub fn deployment_ref(&self) -> ObjectRef {
        ObjectRef::namespaced("Deployment", &self.namespace, &self.name)
    }

    /// Collected log lines of the controller's pods.
    pub fn log_lines<'a>(&self, snap: &'a Snapshot) -> Vec<&'a str> {
        snap.deployments
            .get(Some(&self.namespace), &self.name)
            .found()
            .map(|d| deployment_log_lines(snap, d))
            .unwrap_or_default()
    }

    /// `system:serviceaccount:<ns>:<sa>`.
    pub fn username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace, self.service_account
        )
    }

    /// Does this controller reconcile objects in `ns`?
    pub fn covers(&self, ns: &str) -> bool {
        match &self.scope {
            ControllerScope::ClusterWide => true,
            ControllerScope::SingleNamespace(w) => w == ns || self.namespace == ns,
        }
    }

    pub fn naming(&self) -> ListenerNaming {
        ListenerNaming::for_version(self.parsed_version)
    }

    /// Value of `--flag=value` (or `--flag value`) in the manager args.
    pub fn arg(&self, flag: &str) -> Option<&str> {
        arg_value(&self.args, flag)
    }
}

/// Value of `--flag=value` or `--flag value` in an argument list.
pub fn arg_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if let Some(rest) = a.strip_prefix(flag) {
            if let Some(v) = rest.strip_prefix('=') {
                return Some(v);
            }
            if rest.is_empty() {
                return it
                    .next()
                    .map(String::as_str)
                    .filter(|v| !v.starts_with('-'));
            }
        }
    }
    None
}

/// Containers of a Deployment's or Pod's pod spec.
pub fn containers(obj: &Object) -> &[crate::node::Node] {
    if obj.meta.kind == "Pod" {
        obj.array("/spec/containers")
    } else {
        obj.array("/spec/template/spec/containers")
    }
}

fn strings(v: &crate::node::Node) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Is this Deployment an ARC controller, and of which generation? (arc-domain §1.2, §2)
pub fn controller_generation(dep: &Object) -> Option<Generation> {
    let part_of = dep.meta.label(L_PART_OF);
    let cs = containers(dep);
    let any_arg = |needle: &str| {
        cs.iter().any(|c| {
            strings(&c["args"])
                .iter()
                .chain(strings(&c["command"]).iter())
                .any(|a| a == needle)
        })
    };
    let image_ends = |suffix: &str| {
        cs.iter().any(|c| {
            let img = c["image"].as_str().unwrap_or("");
            let repo = img.split('@').next().unwrap_or("");
            let repo = match repo.rsplit_once(':') {
                Some((r, tag)) if !tag.contains('/') => r,
                _ => repo,
            };
            repo.ends_with(suffix)
        })
    };
    if matches!(
        part_of,
        Some("gha-rs-controller" | "gha-runner-scale-set-controller")
    ) || any_arg("--auto-scaling-runner-set-only")
        || image_ends("gha-runner-scale-set-controller")
    {
        return Some(Generation::Gha);
    }
    if dep.meta.label("app.kubernetes.io/name") == Some("actions-runner-controller")
        || image_ends("actions-runner-controller")
    {
        return Some(Generation::Legacy);
    }
    None
}

/// The manager container (named `manager`, else the first).
fn manager_container(dep: &Object) -> Option<&crate::node::Node> {
    let cs = containers(dep);
    cs.iter()
        .find(|c| c["name"] == "manager")
        .or_else(|| cs.first())
}

fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next()?;
    match no_digest.rsplit_once(':') {
        Some((_, tag)) if !tag.contains('/') => Some(tag),
        _ => None,
    }
}

/// A tag that names a build: semver, `dev`, or `canary-*` (not `latest`, not a digest).
fn is_version_like(tag: &str) -> bool {
    Version::parse(tag).is_some() || tag == "dev" || tag.starts_with("canary-")
}

/// Log fields that carry the controller's build version, most specific first
/// (`buildVersion` ≥ 0.12 and `targetVersion` ≤ 0.11 in the version-check line; `version` on
/// every line).
const LOG_VERSION_KEYS: [&str; 3] = ["buildVersion", "targetVersion", "version"];

/// Collected log lines of a Deployment's pods.
pub fn deployment_log_lines<'a>(snap: &'a Snapshot, dep: &'a Object) -> Vec<&'a str> {
    pods_of(snap, dep)
        .flat_map(|p| snap.logs_of(p.meta.ns(), p.meta.name))
        .flat_map(|l| l.lines.iter().map(String::as_str))
        .collect()
}

/// The build version the controller binary logs, from its newest line that has one.
fn log_version(snap: &Snapshot, dep: &Object) -> Option<String> {
    deployment_log_lines(snap, dep)
        .iter()
        .rev()
        .find_map(|line| {
            LOG_VERSION_KEYS
                .iter()
                .find_map(|k| json_string_field(line, k))
        })
}

/// The string value of `"key": "value"` in a structured log line (JSON or text-with-JSON),
/// without a full parse.
pub fn json_string_field(line: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let mut rest = line;
    while let Some(i) = rest.find(&needle) {
        let after = rest[i + needle.len()..].trim_start();
        if let Some(v) = after
            .strip_prefix(':')
            .map(str::trim_start)
            .and_then(|v| v.strip_prefix('"'))
        {
            return v
                .split('"')
                .next()
                .map(str::to_owned)
                .filter(|v| !v.is_empty());
        }
        rest = &rest[i + needle.len()..];
    }
    None
}

/// Pods that belong to a Deployment (via ReplicaSet owner names, falling back to labels).
pub fn pods_of<'a>(snap: &'a Snapshot, dep: &'a Object) -> impl Iterator<Item = &'a Object> + 'a {
    let ns = dep.meta.ns();
    let prefix = format!("{}-", dep.meta.name);
    snap.pods.in_namespace(ns).filter(move |p| {
        p.meta
            .owner_references
            .iter()
            .any(|o| o.kind == "ReplicaSet" && o.name.starts_with(&prefix))
    })
}

/// Waiting/terminated reasons that mean a pod is not working (CrashLoopBackOff, …).
pub fn pod_problems(pod: &Object) -> Vec<String> {
    let mut out = Vec::new();
    for cs in pod.array("/status/containerStatuses") {
        let name = cs["name"].as_str().unwrap_or("?");
        let waiting = cs.pointer("/state/waiting/reason").and_then(|r| r.as_str());
        if let Some(reason) = waiting
            && matches!(
                reason,
                "CrashLoopBackOff"
                    | "ImagePullBackOff"
                    | "ErrImagePull"
                    | "CreateContainerConfigError"
                    | "InvalidImageName"
                    | "RunContainerError"
            )
        {
            let msg = cs
                .pointer("/lastState/terminated/message")
                .or_else(|| cs.pointer("/state/waiting/message"))
                .and_then(|m| m.as_str())
                .unwrap_or("");
            out.push(if msg.is_empty() {
                format!("container {name}: {reason}")
            } else {
                format!("container {name}: {reason}: {}", msg.trim())
            });
        }
    }
    out
}

fn build_controller(snap: &Snapshot, dep: &Object, generation: Generation) -> Controller {
    let mgr = manager_container(dep);
    let args: Vec<String> = mgr.map(|c| strings(&c["args"])).unwrap_or_default();
    let image = mgr
        .and_then(|c| c["image"].as_str())
        .unwrap_or("")
        .to_owned();
    // The build version decides the controller's own version check: prefer what the binary logs,
    // then a version-like image tag, then the chart's label (which a rebuilt image can contradict).
    let (version, version_source) = match log_version(snap, dep) {
        Some(v) => (Some(v), "controller log".to_owned()),
        None => match image_tag(&image).filter(|t| is_version_like(t)) {
            Some(t) => (Some(t.to_owned()), format!("image {image}")),
            None => match dep.meta.label(L_VERSION) {
                Some(l) => (Some(l.to_owned()), format!("Deployment label {L_VERSION}")),
                None => (
                    image_tag(&image).map(str::to_owned),
                    format!("image {image}"),
                ),
            },
        },
    };
    let parsed_version = version.as_deref().and_then(Version::parse);
    let scope = match generation {
        Generation::Gha => arg_value(&args, "--watch-single-namespace")
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .or_else(|| dep.meta.label(L_CTRL_WATCH_NS).map(str::to_owned))
            .map_or(
                ControllerScope::ClusterWide,
                ControllerScope::SingleNamespace,
            ),
        Generation::Legacy => arg_value(&args, "--watch-namespace")
            .filter(|w| !w.is_empty())
            .map_or(ControllerScope::ClusterWide, |w| {
                ControllerScope::SingleNamespace(w.to_owned())
            }),
    };
    let service_account = dep
        .str("/spec/template/spec/serviceAccountName")
        .or_else(|| dep.meta.label(L_CTRL_SA_NAME))
        .unwrap_or("default")
        .to_owned();
    let mut problems = Vec::new();
    let available = dep.i64("/status/availableReplicas").unwrap_or(0);
    if available < 1 {
        problems.push(format!(
            "0 of {} replicas available",
            dep.i64("/spec/replicas").unwrap_or(1)
        ));
    }
    for p in pods_of(snap, dep) {
        for prob in pod_problems(p) {
            problems.push(format!("pod {}: {prob}", p.meta.name));
        }
    }
    Controller {
        generation,
        namespace: dep.meta.ns().to_owned(),
        name: dep.meta.name.to_owned(),
        service_account,
        version,
        version_source,
        parsed_version,
        scope,
        healthy: problems.is_empty() && !dep.meta.is_deleting(),
        args,
        image,
        problems,
    }
}

/// Derived facts shared by all checks.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub controllers: Vec<Controller>,
}

impl Model {
    pub fn build(snap: &Snapshot) -> Model {
        let controllers = snap
            .deployments
            .iter()
            .filter_map(|d| controller_generation(d).map(|g| build_controller(snap, d, g)))
            .collect();
        Model { controllers }
    }

    pub fn gha(&self) -> impl Iterator<Item = &Controller> {
        self.controllers
            .iter()
            .filter(|c| c.generation == Generation::Gha)
    }

    pub fn legacy(&self) -> impl Iterator<Item = &Controller> {
        self.controllers
            .iter()
            .filter(|c| c.generation == Generation::Legacy)
    }

    /// LIVE gha controllers for namespace `ns` (arc-domain §4.0): healthy and covering it.
    pub fn live_for<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = &'a Controller> + 'a {
        self.gha().filter(move |c| c.healthy && c.covers(ns))
    }

    /// The namespaces where live gha controllers run (where their listeners belong).
    pub fn live_controller_namespaces(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .gha()
            .filter(|c| c.healthy)
            .map(|c| c.namespace.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The controller whose namespace is `ns`, if any (live or not).
    pub fn gha_in_namespace<'a>(
        &'a self,
        ns: &'a str,
    ) -> impl Iterator<Item = &'a Controller> + 'a {
        self.gha().filter(move |c| c.namespace == ns)
    }
}

// ---------------------------------------------------------------------------------------------
// Ownership and references

/// The owner of `obj` with the given kind, resolved by UID (tolerates malformed apiVersion/kind,
/// #4475, by also accepting a UID match of any owner reference).
pub fn owner<'a>(snap: &'a Snapshot, obj: &Object, kind: &str) -> Option<&'a Object> {
    obj.meta.owner_references.iter().find_map(|o| {
        let found = snap.by_uid(o.uid)?;
        (found.meta.kind == kind).then_some(found)
    })
}

/// Owner references of `obj` whose UID resolves to nothing collected, when the owner's kind was
/// listed where the owner would live (otherwise we cannot tell).
pub fn dangling_owner(snap: &Snapshot, obj: &Object) -> Option<String> {
    if obj.meta.owner_references.is_empty() {
        return None;
    }
    let all_missing = obj.meta.owner_references.iter().all(|o| {
        snap.by_uid(o.uid).is_none()
            && snap
                .collections()
                .iter()
                .find(|(k, _)| *k == o.kind)
                .is_some_and(|(_, c)| c.scope.covers(obj.meta.namespace))
    });
    all_missing.then(|| {
        let o = &obj.meta.owner_references[0];
        format!("{} {} (uid {})", o.kind, o.name, o.uid)
    })
}

/// The ARS a listener serves: `spec.autoscalingRunnerSetNamespace/Name`.
pub fn listener_target(al: &Object) -> Option<(&str, &str)> {
    Some((
        al.str("/spec/autoscalingRunnerSetNamespace")?,
        al.str("/spec/autoscalingRunnerSetName")?,
    ))
}

/// The `runner-scale-set-id` annotation of an ARS, if numeric.
pub fn scale_set_id(ars: &Object) -> Option<i64> {
    ars.meta
        .annotation(A_SCALE_SET_ID)
        .and_then(|v| v.trim().parse().ok())
}

/// The Helm release that rendered an ARS (annotation, else instance label, else scale-set name).
pub fn release_of(ars: &Object) -> String {
    ars.meta
        .annotation(A_HELM_RELEASE)
        .or_else(|| ars.meta.label("app.kubernetes.io/instance"))
        .or_else(|| ars.meta.label(L_SCALE_SET_NAME))
        .unwrap_or(ars.meta.name)
        .to_owned()
}

/// GitHub config secret name referenced by an ARC object of any kind, and whether it is a vault
/// key rather than a Secret.
pub fn github_config_secret(obj: &Object) -> Option<(&str, bool)> {
    let (secret, vault) = match obj.meta.kind {
        "EphemeralRunnerSet" => (
            obj.str("/spec/ephemeralRunnerSpec/githubConfigSecret"),
            obj.str("/spec/ephemeralRunnerSpec/vaultConfig/type"),
        ),
        _ => (
            obj.str("/spec/githubConfigSecret"),
            obj.str("/spec/vaultConfig/type"),
        ),
    };
    secret.map(|s| (s, vault.is_some()))
}

/// Access question helper: `verb resource` in `namespace` for a user.
pub fn question(
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> AccessQuestion {
    AccessQuestion {
        user: intern(user),
        verb: intern(verb),
        group: intern(group),
        resource: intern(resource),
        namespace: intern(namespace),
    }
}

/// Group objects by a key, preserving first-seen order of keys.
pub fn group_by<'a, K: Ord + Clone>(
    items: impl IntoIterator<Item = &'a Object>,
    key: impl Fn(&Object) -> Option<K>,
) -> BTreeMap<K, Vec<&'a Object>> {
    let mut m: BTreeMap<K, Vec<&Object>> = BTreeMap::new();
    for o in items {
        if let Some(k) = key(o) {
            m.entry(k).or_default().push(o);
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ars(name: &str, ns: &str, group: &str, url: &str) -> Object {
        Object::from_json(
            "AutoscalingRunnerSet",
            json!({"metadata":{"name":name,"namespace":ns},
                   "spec":{"runnerGroup":group,"githubConfigUrl":url}}),
        )
    }

    #[test]
    fn listener_names_match_real_issue_data() {
        // Old scheme vectors from real issues (arc-domain §1.4).
        for (ns, h) in [
            ("det-ubuntu-latest", "6f7586ff"),
            ("actions-runner", "696d8f77"),
            ("actions-runner-system", "884475f5"),
            ("gha-runners", "d69d8c8c"),
            ("arc-runners", "754b578d"),
        ] {
            assert_eq!(&fnv_hash_string(ns)[..8], h, "{ns}");
        }
        let a = ars(
            "arc-runner-set",
            "arc-runners",
            "",
            "https://github.com/acme",
        );
        assert_eq!(
            listener_name(&a, ListenerNaming::New),
            "arc-runner-set-85f786b5-listener"
        );
        assert_eq!(
            listener_name(&a, ListenerNaming::Old),
            "arc-runner-set-754b578d-listener"
        );
        let b = ars("linux-x64", "ci-runners", "", "https://github.com/acme");
        assert_eq!(
            listener_name(&b, ListenerNaming::New),
            "linux-x64-78c496b6-listener"
        );
        assert_eq!(
            listener_name(&b, ListenerNaming::Old),
            "linux-x64-6c8dfdf9-listener"
        );
        let c = ars(
            "linux-x64",
            "ci-runners",
            "platform",
            "https://github.com/acme",
        );
        assert_eq!(
            listener_name(&c, ListenerNaming::New),
            "linux-x64-6445b74c-listener"
        );
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(Version::parse("0.14.2"), Some(Version::new(0, 14, 2)));
        assert_eq!(Version::parse("v0.9"), Some(Version::new(0, 9, 0)));
        assert_eq!(Version::parse("0.13.0-rc1"), Some(Version::new(0, 13, 0)));
        assert_eq!(Version::parse("NA"), None);
        assert_eq!(Version::parse("canary-abc"), None);
        assert!(Version::new(0, 13, 0) < NEW_LISTENER_NAMING);
        assert_eq!(
            ListenerNaming::for_version(Version::parse("0.13.1")),
            ListenerNaming::New
        );
    }

    #[test]
    fn build_version_comes_from_logs_then_tag_then_label() {
        assert_eq!(
            json_string_field(
                "t\tINFO\tapp\tstarting manager\t{\"version\": \"NA\"}",
                "version"
            ),
            Some("NA".to_owned())
        );
        assert_eq!(json_string_field("{\"versions\":\"x\"}", "version"), None);
        let line = r#"t INFO AutoscalingRunnerSet Autoscaling runner set version doesn't match the build version. Deleting the resource. {"version": "NA", "buildVersion": "NA", "autoscalingRunnerSetVersion": "0.9.0"}"#;
        assert_eq!(
            json_string_field(line, "buildVersion").as_deref(),
            Some("NA")
        );
        assert_eq!(json_string_field("no fields", "version"), None);
        assert!(
            is_version_like("0.14.2")
                && is_version_like("canary-2ee6b3b8")
                && is_version_like("dev")
        );
        assert!(!is_version_like("latest"));
    }

    #[test]
    fn args_are_read_in_both_forms() {
        let args: Vec<String> = ["--a=1", "--watch-single-namespace", "team-a", "--x"]
            .map(String::from)
            .to_vec();
        assert_eq!(arg_value(&args, "--a"), Some("1"));
        assert_eq!(arg_value(&args, "--watch-single-namespace"), Some("team-a"));
        assert_eq!(arg_value(&args, "--x"), None);
        assert_eq!(arg_value(&args, "--missing"), None);
    }

    #[test]
    fn controller_identification_accepts_all_eras() {
        let dep = |labels: serde_json::Value, image: &str, args: serde_json::Value| {
            Object::from_json(
                "Deployment",
                json!({"metadata":{"name":"d","namespace":"c","labels":labels},
                       "spec":{"template":{"spec":{"containers":[{"name":"manager","image":image,"args":args}]}}}}),
            )
        };
        assert_eq!(
            controller_generation(&dep(
                json!({"app.kubernetes.io/part-of":"gha-runner-scale-set-controller"}),
                "x",
                json!([])
            )),
            Some(Generation::Gha)
        );
        assert_eq!(
            controller_generation(&dep(
                json!({}),
                "my.registry/arc:1",
                json!(["--auto-scaling-runner-set-only"])
            )),
            Some(Generation::Gha)
        );
        assert_eq!(
            controller_generation(&dep(
                json!({}),
                "ghcr.io/actions/gha-runner-scale-set-controller:0.14.2",
                json!([])
            )),
            Some(Generation::Gha)
        );
        assert_eq!(
            controller_generation(&dep(
                json!({}),
                "summerwind/actions-runner-controller:v0.27.6",
                json!(["--sync-period=1m"])
            )),
            Some(Generation::Legacy)
        );
        assert_eq!(
            controller_generation(&dep(json!({}), "nginx:1", json!([]))),
            None
        );
    }
}
