//! `ARC-AUX-REF-DANGLING` – Secrets and ConfigMaps other than the GitHub config Secret that ARC
//! objects reference but that do not exist (arc-domain §1.8, §4.3).
//!
//! Checked references and where they resolve:
//! * proxy `credentialSecretRef`s and `vaultConfig.proxy` `credentialSecretRef`s of ARS/AL/ERS/ER
//!   (runner namespace R; for an AL, its `spec.autoscalingRunnerSetNamespace`) — high;
//! * `githubServerTLS.certificateFrom.configMapKeyRef` ConfigMap (R) — high; the key inside cannot
//!   be verified because ConfigMaps are collected metadata-only;
//! * ER `spec.proxySecretRef` (R) — high;
//! * Secret references in ARS `spec.template` (R) — medium;
//! * Secret references in ARS `spec.listenerTemplate` — medium, resolved in the namespace of each
//!   live controller covering R (the listener pod runs there);
//! * `--auto-scaler-image-pull-secrets` of each gha controller (its namespace) — medium.
//!
//! One finding per missing Secret/ConfigMap; only absence seen in our own listing counts.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::findings::{Finding, Severity};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use super::common::RefState;
use super::secret_dangling::{self, distinct_sorted};

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
    fn severity(self) -> Severity {
        match self {
            Use::Proxy | Use::Tls | Use::RunnerProxy => Severity::High,
            _ => Severity::Medium,
        }
    }

    fn effect(self) -> &'static str {
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
    fn target(&self) -> ObjectRef {
        ObjectRef::namespaced(self.kind, &self.namespace, &self.name)
    }
}

/// Where the Actions-client settings live in an object of this kind.
fn client_base(obj: &Object) -> &'static str {
    if obj.meta.kind == "EphemeralRunnerSet" {
        "/spec/ephemeralRunnerSpec"
    } else {
        "/spec"
    }
}

fn field_path(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// The proxy and TLS references an object's Actions client needs (GitHub secret excluded).
pub(crate) fn client_refs(obj: &Object) -> Vec<AuxRef<'_>> {
    let Some(ns) = secret_dangling::secret_namespace(obj) else {
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
fn lookup<'a>(ctx: &Ctx<'a>, kind: &str, ns: &str, name: &str) -> RefState<'a> {
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
    if let Some(r) = secret_dangling::github_ref(obj)
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
pub(crate) fn pod_spec_secrets(spec: &Value, prefix: &str) -> Vec<(String, String)> {
    let optional = |v: &Value| v.get("optional").and_then(Value::as_bool).unwrap_or(false);
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

fn secret_ref<'a>(
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
fn pull_secret_args(args: &[String]) -> Vec<String> {
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
fn all_refs<'a>(ctx: &Ctx<'a>) -> Vec<AuxRef<'a>> {
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

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let refs = all_refs(ctx);
    let mut groups: BTreeMap<ObjectRef, Vec<&AuxRef>> = BTreeMap::new();
    for r in &refs {
        groups.entry(r.target()).or_default().push(r);
    }
    groups
        .into_iter()
        .filter(|(t, _)| {
            let ns = t.namespace.as_deref().unwrap_or("");
            lookup(ctx, &t.kind, ns, &t.name) == RefState::Missing
        })
        .map(|(t, group)| finding(t, &group))
        .collect()
}

/// How to recreate the missing object.
fn create_hint(kind: &str, usage: Use, ns: &str, name: &str) -> String {
    match (kind, usage) {
        ("ConfigMap", _) => {
            format!("`kubectl create configmap {name} -n {ns} --from-file=<key>=<ca-bundle.pem>`")
        }
        (_, Use::Proxy) => format!(
            "`kubectl create secret generic {name} -n {ns} --from-literal=username=<user> \
             --from-literal=password=<password>`"
        ),
        (_, Use::RunnerProxy) => format!(
            "nothing by hand — the EphemeralRunnerSet creates {name}; if it stays missing, delete \
             the affected EphemeralRunners so the controller recreates them"
        ),
        _ => format!(
            "`kubectl create secret generic {name} -n {ns} …` with the content the pod expects \
             (image pull secrets: `kubectl create secret docker-registry {name} -n {ns} …`)"
        ),
    }
}

fn finding(target: ObjectRef, group: &[&AuxRef]) -> Finding {
    let usage = group.iter().map(|r| r.usage).min().unwrap_or(Use::Template);
    let severity = group
        .iter()
        .map(|r| r.usage.severity())
        .max()
        .unwrap_or(Severity::Medium);
    let referrers = distinct_sorted(group.iter().map(|r| r.referrer));
    let ns = target.namespace.clone().unwrap_or_default();
    let name = target.name.clone();
    let mut vias: Vec<&str> = group.iter().map(|r| r.via.as_str()).collect();
    vias.sort_unstable();
    vias.dedup();
    let key_note = group
        .iter()
        .find_map(|r| r.key.as_deref())
        .map(|k| {
            format!(
                " (its key {k} could not be checked anyway: ConfigMaps are collected \
                 metadata-only)"
            )
        })
        .unwrap_or_default();
    let message = format!(
        "{} {ns}/{name}{key_note} does not exist (NotFound in our own listing), but {} \
         reference{} it as {}; {}.",
        target.kind,
        secret_dangling::list(&referrers),
        if referrers.len() == 1 { "s" } else { "" },
        vias.join(", "),
        usage.effect()
    );
    let create = create_hint(&target.kind, usage, &ns, &name);
    let mut f = Finding::new("ARC-AUX-REF-DANGLING", severity, message)
        .remediation(format!(
            "Recreate the {} in namespace {ns}: {create}.",
            target.kind
        ))
        .remediation(
            "Or fix the reference: correct the value in the scale-set (or controller) Helm values \
             and run `helm upgrade` for that release.",
        )
        .object(target)
        .objects(referrers.iter().map(|o| o.meta.obj_ref()));
    for r in group {
        f = f.evidence(format!(
            "{} {} {} = {}",
            r.referrer.meta.kind,
            r.referrer.meta.display(),
            r.via,
            r.name
        ));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Collection, Scope, Snapshot};
    use crate::testing::{self, obj};
    use serde_json::json;

    fn snap(items: Vec<Object>) -> Snapshot {
        let mut s = Snapshot {
            secrets: Collection::all(vec![]),
            config_maps: Collection::all(vec![]),
            ..Snapshot::default()
        };
        for o in items {
            let kind = o.meta.kind.clone();
            if let Some(c) = s.collection_mut(&kind) {
                c.items.push(o);
                c.scope = Scope::All;
            }
        }
        s
    }

    #[test]
    fn missing_proxy_secret_is_high_and_tls_configmap_mentions_key() {
        let ars = obj(
            "AutoscalingRunnerSet",
            json!({"metadata":{"name":"a","namespace":"r"},
                   "spec":{"proxy":{"https":{"url":"http://p","credentialSecretRef":"proxy-creds"}},
                           "githubServerTLS":{"certificateFrom":{"configMapKeyRef":{"name":"ca","key":"ca.crt"}}}}}),
        );
        let f = check(&Ctx::new(&snap(vec![ars])));
        assert_eq!(f.len(), 2, "{:?}", testing::codes(&f));
        let cm = f
            .iter()
            .find(|f| f.objects[0].kind == "ConfigMap")
            .expect("configmap finding");
        assert_eq!(cm.severity, Severity::High);
        assert!(cm.message.contains("ca.crt") && cm.message.contains("metadata-only"));
        let s = f
            .iter()
            .find(|f| f.objects[0].kind == "Secret")
            .expect("secret finding");
        assert_eq!(
            s.primary(),
            Some(&ObjectRef::namespaced("Secret", "r", "proxy-creds"))
        );
        assert_eq!(
            s.objects[1],
            ObjectRef::namespaced("AutoscalingRunnerSet", "r", "a")
        );
    }

    #[test]
    fn template_refs_are_medium_and_optional_refs_are_skipped() {
        let ars = obj(
            "AutoscalingRunnerSet",
            json!({"metadata":{"name":"a","namespace":"r"},
                   "spec":{"template":{"spec":{
                       "imagePullSecrets":[{"name":"regcred"}],
                       "containers":[{"name":"runner","env":[
                           {"name":"X","valueFrom":{"secretKeyRef":{"name":"opt","key":"k","optional":true}}}]}]}}}}),
        );
        let f = check(&Ctx::new(&snap(vec![ars])));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-AUX-REF-DANGLING Secret r/regcred"]
        );
        assert_eq!(f[0].severity, Severity::Medium);
    }

    #[test]
    fn controller_pull_secrets_resolve_in_controller_namespace() {
        let mut s = testing::scenario("B0");
        let dep = testing::get_mut(
            &mut s,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        let args = dep
            .body
            .pointer_mut("/spec/template/spec/containers/0/args")
            .and_then(Value::as_array_mut)
            .expect("B0 controller has args");
        args.push(json!("--auto-scaler-image-pull-secrets=regcred,other"));
        s.secrets.items.push(obj(
            "Secret",
            json!({"metadata":{"name":"other","namespace":"arc-systems"}}),
        ));
        let f = check(&Ctx::new(&s));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-AUX-REF-DANGLING Secret arc-systems/regcred"]
        );
        assert_eq!(f[0].objects[1].kind, "Deployment");
    }

    #[test]
    fn unlisted_namespace_is_silent() {
        let ars = obj(
            "AutoscalingRunnerSet",
            json!({"metadata":{"name":"a","namespace":"r"},
                   "spec":{"proxy":{"http":{"credentialSecretRef":"p"}}}}),
        );
        let mut s = snap(vec![ars]);
        s.secrets.scope = Scope::None;
        assert!(check(&Ctx::new(&s)).is_empty());
    }

    #[test]
    fn runner_proxy_secret_reference() {
        let er = obj(
            "EphemeralRunner",
            json!({"metadata":{"name":"e","namespace":"r"},"spec":{"proxySecretRef":"e-proxy"}}),
        );
        let f = check(&Ctx::new(&snap(vec![er])));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-AUX-REF-DANGLING Secret r/e-proxy"]
        );
        assert_eq!(f[0].severity, Severity::High);
    }

    #[test]
    fn pull_secret_flag_forms() {
        let args: Vec<String> = [
            "--x",
            "--auto-scaler-image-pull-secrets=a,b",
            "--auto-scaler-image-pull-secrets",
            "c",
            "--auto-scaler-image-pull-secretsx=d",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(pull_secret_args(&args), vec!["a", "b", "c"]);
    }
}
