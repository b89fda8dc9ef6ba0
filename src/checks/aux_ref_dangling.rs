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

use crate::findings::{Finding, Severity};
use crate::snapshot::ObjectRef;

use super::Ctx;
use crate::facts::common::RefState;
use crate::facts::secret_refs::distinct_sorted;

#[allow(unused_imports)]
use crate::facts::aux_refs::*;

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
        crate::facts::secret_refs::list(&referrers),
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
    use crate::snapshot::Object;
    use crate::snapshot::{Collection, Scope, Snapshot};
    use crate::testing::{self, obj};
    use serde_json::Value;
    use serde_json::json;

    fn snap(items: Vec<Object>) -> Snapshot {
        let mut s = Snapshot {
            secrets: Collection::all(vec![]),
            config_maps: Collection::all(vec![]),
            ..Snapshot::default()
        };
        for o in items {
            let kind = o.meta.kind;
            if let Some(c) = s.collection_mut(kind) {
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
        dep.body.edit(|b| {
            b.pointer_mut("/spec/template/spec/containers/0/args")
                .and_then(Value::as_array_mut)
                .expect("B0 controller has args")
                .push(json!("--auto-scaler-image-pull-secrets=regcred,other"));
        });
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
