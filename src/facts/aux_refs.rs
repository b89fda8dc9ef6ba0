//! Resolution of proxy/TLS/template Secret and ConfigMap references (arc-domain §1.8) and whether an Actions client can be built from them.
//!
//! Derived once, below the checks: checks and the repair plan read these facts; they never
//! call each other.

use crate::node::Node;

use crate::findings::Severity;
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use super::common::RefState;
use super::secret_refs::{self};

/// What a reference is used for (drives severity and the effect text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Use {
    /// Proxy credentials for the Actions client (ARS/AL/ERS/ER `proxy` or `vaultConfig.proxy`).
    Proxy,
    /// CA bundle ConfigMap for the Actions client.
    Tls,
    /// ERS-made proxy Secret the runner pod reads (`spec.proxySecretRef`).
    RunnerProxy,
    /// A Secret used by the runner pod template.
    Template,
    /// A Secret used by the listener pod template (resolved in the controller namespace).
    ListenerTemplate,
    /// A controller `--auto-scaler-image-pull-secrets` entry.
    PullSecret,
}

impl Use {
    pub(crate) fn severity(self) -> Severity {
        match self {
            Use::Proxy | Use::Tls | Use::RunnerProxy => Severity::High,
            _ => Severity::Medium,
        }
    }

    pub(crate) fn effect(self) -> &'static str {
        match self {
            Use::Proxy => {
                "the controller needs it to build its GitHub (Actions) client, so creating and \
                 deregistering runners and deleting the scale set on GitHub fail — deletions wedge \
                 exactly as with a missing GitHub secret"
            }
            Use::Tls => {
                "the controller needs the CA bundle to build its GitHub (Actions) client, so \
                 creating and deregistering runners and deleting the scale set on GitHub fail"
            }
            Use::RunnerProxy => "runner pods read their proxy settings from it and cannot start",
            Use::Template => {
                "runner pods that reference it cannot start (CreateContainerConfigError or \
                 ImagePullBackOff)"
            }
            Use::ListenerTemplate => {
                "the listener pod is created in the controller namespace, so the Secret must exist \
                 there — after a controller move this breaks silently and the listener pod cannot \
                 start"
            }
            Use::PullSecret => {
                "every listener pod is created with this image pull secret in the controller \
                 namespace and cannot pull its image without it"
            }
        }
    }
}

/// One reference to a Secret or ConfigMap.
#[derive(Debug, Clone)]
pub(crate) struct AuxRef<'a> {
    pub referrer: &'a Object,
    /// `Secret` or `ConfigMap`.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// Field path (or flag), for messages.
    pub via: String,
    pub usage: Use,
    /// ConfigMap key, when the reference names one.
    pub key: Option<String>,
}

impl AuxRef<'_> {
    pub(crate) fn target(&self) -> ObjectRef {
        ObjectRef::namespaced(self.kind, &self.namespace, &self.name)
    }
}

/// Where the Actions-client settings live in an object of this kind.
pub(crate) fn client_base(obj: &Object) -> &'static str {
    if obj.meta.kind == "EphemeralRunnerSet" {
        "/spec/ephemeralRunnerSpec"
    } else {
        "/spec"
    }
}

pub(crate) fn field_path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// The proxy and TLS references an object's Actions client needs (GitHub secret excluded).
pub(crate) fn client_refs(obj: &Object) -> Vec<AuxRef<'_>> {
    let Some(ns) = secret_refs::secret_namespace(obj) else {
        return Vec::new();
    };
    let base = client_base(obj);
    let mut out = Vec::new();
    for proxy in ["proxy", "vaultConfig/proxy"] {
        for scheme in ["http", "https"] {
            let p = format!("{base}/{proxy}/{scheme}/credentialSecretRef");
            if let Some(name) = obj.str(&p) {
                out.push(AuxRef {
                    referrer: obj,
                    kind: "Secret",
                    namespace: ns.to_owned(),
                    name: name.to_owned(),
                    via: field_path(&p),
                    usage: Use::Proxy,
                    key: None,
                });
            }
        }
    }
    let p = format!("{base}/githubServerTLS/certificateFrom/configMapKeyRef");
    if let Some(name) = obj.str(&format!("{p}/name")) {
        out.push(AuxRef {
            referrer: obj,
            kind: "ConfigMap",
            namespace: ns.to_owned(),
            name: name.to_owned(),
            via: field_path(&p),
            usage: Use::Tls,
            key: obj.str(&format!("{p}/key")).map(str::to_owned),
        });
    }
    out
}

/// Look a Secret or ConfigMap up.
pub(crate) fn lookup<'a>(ctx: &Ctx<'a>, kind: &str, ns: &str, name: &str) -> RefState<'a> {
    let c = if kind == "ConfigMap" {
        &ctx.snap.config_maps
    } else {
        &ctx.snap.secrets
    };
    RefState::of(c.get(Some(ns), name))
}

/// What keeps the Actions client of `obj` from being built, judged from our own listing: a
/// missing GitHub config Secret, proxy credential Secret or TLS ConfigMap. Vault-backed
/// credentials and unlisted namespaces are not reported.
pub(crate) fn client_problems(ctx: &Ctx, obj: &Object) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = secret_refs::github_ref(obj)
        && lookup(ctx, "Secret", &r.namespace, &r.name) == RefState::Missing
    {
        out.push(format!(
            "GitHub config Secret {}/{} does not exist",
            r.namespace, r.name
        ));
    }
    for r in client_refs(obj) {
        if lookup(ctx, r.kind, &r.namespace, &r.name) == RefState::Missing {
            out.push(format!(
                "{} {}/{} ({}) does not exist",
                r.kind, r.namespace, r.name, r.via
            ));
        }
    }
    out
}

/// Secret names a pod spec references (skipping `optional: true`), with their field paths.
pub(crate) fn pod_spec_secrets(spec: &Node, prefix: &str) -> Vec<(String, String)> {
    let optional = |v: &Node| v.get("optional").and_then(Node::as_bool).unwrap_or(false);
    let mut found: Vec<(Option<&str>, String)> = Vec::new();
    for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        found.push((s["name"].as_str(), format!("{prefix}.imagePullSecrets")));
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        let vol = v["name"].as_str().unwrap_or("?");
        if v["secret"].is_object() && !optional(&v["secret"]) {
            let path = format!("{prefix}.volumes[{vol}].secret");
            found.push((v["secret"]["secretName"].as_str(), path));
        }
        for src in v["projected"]["sources"].as_array().into_iter().flatten() {
            if src["secret"].is_object() && !optional(&src["secret"]) {
                let path = format!("{prefix}.volumes[{vol}].projected");
                found.push((src["secret"]["name"].as_str(), path));
            }
        }
    }
    for list in ["initContainers", "containers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            let cname = c["name"].as_str().unwrap_or("?");
            for e in c["env"].as_array().into_iter().flatten() {
                let r = &e["valueFrom"]["secretKeyRef"];
                if r.is_object() && !optional(r) {
                    found.push((r["name"].as_str(), format!("{prefix}.{list}[{cname}].env")));
                }
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                let r = &e["secretRef"];
                if r.is_object() && !optional(r) {
                    let path = format!("{prefix}.{list}[{cname}].envFrom");
                    found.push((r["name"].as_str(), path));
                }
            }
        }
    }
    found
        .into_iter()
        .filter_map(|(n, p)| n.filter(|n| !n.is_empty()).map(|n| (n.to_owned(), p)))
        .collect()
}

pub(crate) fn secret_ref<'a>(
    referrer: &'a Object,
    ns: &str,
    name: String,
    via: String,
    usage: Use,
) -> AuxRef<'a> {
    AuxRef {
        referrer,
        kind: "Secret",
        namespace: ns.to_owned(),
        name,
        via,
        usage,
        key: None,
    }
}

/// `--auto-scaler-image-pull-secrets` values (repeatable, comma-separated).
pub(crate) fn pull_secret_args(args: &[String]) -> Vec<String> {
    const FLAG: &str = "--auto-scaler-image-pull-secrets";
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = match a.strip_prefix(FLAG) {
            Some("") => it.next().filter(|v| !v.starts_with('-')).cloned(),
            Some(rest) => rest.strip_prefix('=').map(str::to_owned),
            None => None,
        };
        for v in value.iter().flat_map(|v| v.split(',')) {
            let v = v.trim();
            if !v.is_empty() {
                out.push(v.to_owned());
            }
        }
    }
    out
}

/// Every auxiliary reference in the snapshot.
pub(crate) fn all_refs<'a>(ctx: &Ctx<'a>) -> Vec<AuxRef<'a>> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    for c in [
        &snap.autoscaling_runner_sets,
        &snap.autoscaling_listeners,
        &snap.ephemeral_runner_sets,
        &snap.ephemeral_runners,
    ] {
        out.extend(c.iter().flat_map(client_refs));
    }
    for er in &snap.ephemeral_runners {
        if let Some(name) = er.str("/spec/proxySecretRef") {
            let via = "spec.proxySecretRef".to_owned();
            out.push(secret_ref(
                er,
                er.meta.ns(),
                name.to_owned(),
                via,
                Use::RunnerProxy,
            ));
        }
    }
    for ars in &snap.autoscaling_runner_sets {
        let r = ars.meta.ns();
        if let Some(spec) = ars.at("/spec/template/spec") {
            for (name, via) in pod_spec_secrets(spec, "spec.template.spec") {
                out.push(secret_ref(ars, r, name, via, Use::Template));
            }
        }
        if let Some(spec) = ars.at("/spec/listenerTemplate/spec") {
            let mut cns: Vec<&str> = ctx
                .model
                .live_for(r)
                .map(|c| c.namespace.as_str())
                .collect();
            cns.sort_unstable();
            cns.dedup();
            for c in cns {
                for (name, via) in pod_spec_secrets(spec, "spec.listenerTemplate.spec") {
                    out.push(secret_ref(ars, c, name, via, Use::ListenerTemplate));
                }
            }
        }
    }
    for c in ctx.model.gha() {
        let Lookup::Found(dep) = snap.deployments.get(Some(&c.namespace), &c.name) else {
            continue;
        };
        for name in pull_secret_args(&c.args) {
            let via = "--auto-scaler-image-pull-secrets".to_owned();
            out.push(secret_ref(dep, &c.namespace, name, via, Use::PullSecret));
        }
    }
    out
}
