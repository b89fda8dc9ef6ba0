//! `LEG-SECRET-DANGLING`: a legacy ARC credentials Secret that is referenced but does not exist
//! (arc-domain §2, §4.7): the controller's auth Secret (`authSecret.name`, default
//! `controller-manager`, consumed through the manager container's env), and
//! `githubAPICredentialsFrom.secretRef.name` on Runner, RunnerDeployment / RunnerReplicaSet
//! templates, RunnerSet and HorizontalRunnerAutoscaler, and the pod annotation
//! `actions-runner/github-api-creds-secret`. All resolve in the referrer's namespace. Optional
//! env references are ignored. One finding per missing Secret: [Secret, referrers…].

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model;
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;
use crate::facts::common::{self, RefState};

const CODE: &str = "LEG-SECRET-DANGLING";
const POD_CREDS_ANNOTATION: &str = "actions-runner/github-api-creds-secret";

/// Secret names a legacy controller Deployment's containers read through env/envFrom. The chart
/// marks the auth Secret's `GITHUB_*` env refs optional (so the pod starts without it), but the
/// controller cannot talk to GitHub without them: those count; other optional refs do not.
pub(crate) fn controller_env_secrets(dep: &Object) -> Vec<String> {
    let mut out = Vec::new();
    for c in model::containers(dep) {
        for e in c["env"].as_array().unwrap_or(&[]) {
            let r = &e["valueFrom"]["secretKeyRef"];
            let auth = e["name"].as_str().is_some_and(|n| n.starts_with("GITHUB_"));
            if let Some(n) = r["name"].as_str().filter(|_| auth || r["optional"] != true) {
                out.push(n.to_owned());
            }
        }
        for e in c["envFrom"].as_array().unwrap_or(&[]) {
            let r = &e["secretRef"];
            if let Some(n) = r["name"].as_str().filter(|_| r["optional"] != true) {
                out.push(n.to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `githubAPICredentialsFrom.secretRef.name` of a legacy custom resource.
fn cr_secret(o: &Object) -> Option<&str> {
    const PATHS: [&str; 2] = [
        "/spec/githubAPICredentialsFrom/secretRef/name",
        "/spec/template/spec/githubAPICredentialsFrom/secretRef/name",
    ];
    PATHS.iter().find_map(|p| o.str(p))
}

fn secret_ref(ns: &str, name: &str) -> ObjectRef {
    ObjectRef::namespaced("Secret", ns, name)
}

/// Every (Secret, referrer, how it references it).
fn references(ctx: &Ctx) -> Vec<(ObjectRef, ObjectRef, String)> {
    let s = ctx.snap;
    let mut out = Vec::new();
    for c in ctx.model.legacy() {
        let Some(dep) = s.deployments.get(Some(&c.namespace), &c.name).found() else {
            continue;
        };
        for name in controller_env_secrets(dep) {
            out.push((
                secret_ref(&c.namespace, &name),
                dep.meta.obj_ref(),
                "controller auth env".to_owned(),
            ));
        }
    }
    let crs = s
        .runners
        .iter()
        .chain(s.runner_deployments.iter())
        .chain(s.runner_replica_sets.iter())
        .chain(s.runner_sets.iter())
        .chain(s.horizontal_runner_autoscalers.iter());
    for o in crs {
        if let Some(name) = cr_secret(o) {
            out.push((
                secret_ref(o.meta.ns(), name),
                o.meta.obj_ref(),
                "githubAPICredentialsFrom.secretRef".to_owned(),
            ));
        }
    }
    for p in s.pods.iter() {
        if let Some(name) = p
            .meta
            .annotation(POD_CREDS_ANNOTATION)
            .filter(|n| !n.is_empty())
        {
            out.push((
                secret_ref(p.meta.ns(), name),
                p.meta.obj_ref(),
                format!("annotation {POD_CREDS_ANNOTATION}"),
            ));
        }
    }
    out
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut missing: BTreeMap<ObjectRef, Vec<(ObjectRef, String)>> = BTreeMap::new();
    for (secret, referrer, via) in references(ctx) {
        let ns = secret.namespace.clone().unwrap_or_default();
        if common::secret(ctx, &ns, &secret.name) == RefState::Missing {
            let list = missing.entry(secret).or_default();
            if !list.iter().any(|(r, _)| *r == referrer) {
                list.push((referrer, via));
            }
        }
    }
    missing
        .into_iter()
        .map(|(secret, refs)| finding_for(&secret, &refs))
        .collect()
}

fn finding_for(secret: &ObjectRef, refs: &[(ObjectRef, String)]) -> Finding {
    let ns = secret.namespace.as_deref().unwrap_or("");
    let who = refs
        .iter()
        .map(|(r, via)| format!("{r} ({via})"))
        .collect::<Vec<_>>()
        .join(", ");
    let effect = if refs.iter().any(|(r, _)| r.kind == "Deployment") {
        "the legacy controller cannot authenticate to GitHub (its pod may not even start), so it cannot register or unregister runners"
    } else {
        "runners using it cannot be registered or unregistered, and their pods' finalizers wait forever"
    };
    let mut f = Finding::new(
        CODE,
        Severity::High,
        format!(
            "Legacy ARC credentials Secret {ns}/{} does not exist but is referenced by {who}: {effect}.",
            secret.name
        ),
    )
    .object(secret.clone())
    .objects(refs.iter().map(|(r, _)| r.clone()));
    for (r, via) in refs {
        f = f.evidence(format!("{r} references it via {via}"));
    }
    f.remediation(format!(
        "Recreate Secret {ns}/{0} with the GitHub credentials (keys github_token, or github_app_id + github_app_installation_id + github_app_private_key): `kubectl create secret generic {0} -n {ns} --from-literal=github_token=<PAT>`.",
        secret.name
    ))
    .remediation("Or point the referrers at an existing credentials Secret.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use serde_json::json;

    #[test]
    fn runner_deployment_with_missing_credentials_is_high() {
        let mut snap = testing::scenario("B0");
        snap.runner_deployments.items.push(testing::obj(
            "RunnerDeployment",
            json!({"metadata": testing::meta(Some("ci"), "example-rd"),
                   "spec": {"template": {"spec": {"githubAPICredentialsFrom": {"secretRef": {"name": "gh-app"}}}}}}),
        ));
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].objects[0],
            ObjectRef::namespaced("Secret", "ci", "gh-app")
        );
        assert_eq!(
            f[0].objects[1],
            ObjectRef::namespaced("RunnerDeployment", "ci", "example-rd")
        );
    }

    #[test]
    fn legacy_controller_auth_secret_counts_even_when_optional_other_optional_refs_do_not() {
        let dep = testing::obj(
            "Deployment",
            json!({"metadata": {"name": "arc-actions-runner-controller", "namespace": "actions-runner-system",
                                "labels": {"app.kubernetes.io/name": "actions-runner-controller"}},
                   "spec": {"template": {"spec": {"containers": [{"name": "manager",
                     "image": "summerwind/actions-runner-controller:v0.27.6",
                     "env": [{"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "controller-manager", "key": "github_token", "optional": true}}},
                             {"name": "GITHUB_APP_ID", "valueFrom": {"secretKeyRef": {"name": "controller-manager", "key": "github_app_id", "optional": true}}},
                             {"name": "EXTRA", "valueFrom": {"secretKeyRef": {"name": "other", "key": "x", "optional": true}}}]}]}}}}),
        );
        assert_eq!(
            controller_env_secrets(&dep),
            vec!["controller-manager".to_owned()]
        );
        let mut snap = testing::scenario("B0");
        snap.deployments.items.push(dep);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].objects[0],
            ObjectRef::namespaced("Secret", "actions-runner-system", "controller-manager")
        );
    }

    #[test]
    fn unlisted_secrets_are_unknown() {
        let mut snap = testing::scenario("B0");
        snap.runners.items.push(testing::obj(
            "Runner",
            json!({"metadata": testing::meta(Some("ci"), "r"),
                   "spec": {"githubAPICredentialsFrom": {"secretRef": {"name": "x"}}}}),
        ));
        snap.secrets.scope = crate::snapshot::Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
