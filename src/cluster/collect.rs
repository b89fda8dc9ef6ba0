//! Collect a [`Snapshot`]: one cluster-wide, paginated LIST per kind (bounded concurrency), so
//! the request count grows with kinds and pages, never with the number of namespaces. Secrets and
//! other bulky kinds are listed metadata-only. A 403 on a cluster-wide LIST falls back to
//! per-namespace LISTs in the namespaces the user asked about, and every gap is recorded.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::checks;
use crate::model::{self, Generation};
use crate::snapshot::{
    AccessAnswer, AccessQuestion, Collection, Gap, Object, PodLog, Scope, Snapshot,
};

use super::decode;
use super::request::{ApiError, Cluster};

/// How to collect.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Namespaces to fall back to when a cluster-wide LIST is forbidden.
    pub fallback_namespaces: Vec<String>,
    pub page_size: u32,
    pub concurrency: usize,
    /// Lines of log tail per container; `None` = do not read logs.
    pub log_lines: Option<u32>,
}

/// Kinds listed at once, at most. Each in-flight LIST holds a page of text (up to a few MB for
/// Pods) besides the objects kept; a few lists in parallel are as fast as more (there are ~25),
/// and the many small GETs/POSTs that follow still use the full `--concurrency`.
const LIST_CONCURRENCY: usize = 3;

/// One kind to list (and, through [`kind_spec`], where writes find it).
#[derive(Debug, Clone, Copy)]
pub(super) struct KindSpec {
    kind: &'static str,
    pub(super) group: &'static str,
    pub(super) version: &'static str,
    plural: &'static str,
    pub(super) namespaced: bool,
    metadata_only: bool,
    /// Label selectors; several selectors = several LISTs merged (deduplicated by uid).
    selectors: &'static [&'static str],
    /// Keep only matching items (applied to each item as it is decoded, to bound memory).
    keep: Option<fn(&Object) -> bool>,
    /// The CRD that must exist for this kind (skip when known absent).
    crd: Option<&'static str>,
}

const fn spec(
    kind: &'static str,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
) -> KindSpec {
    KindSpec {
        kind,
        group,
        version,
        plural,
        namespaced: true,
        metadata_only: false,
        selectors: &[],
        keep: None,
        crd: None,
    }
}

impl KindSpec {
    const fn cluster_scoped(mut self) -> Self {
        self.namespaced = false;
        self
    }
    const fn metadata(mut self) -> Self {
        self.metadata_only = true;
        self
    }
    const fn selectors(mut self, s: &'static [&'static str]) -> Self {
        self.selectors = s;
        self
    }
    const fn keep(mut self, f: fn(&Object) -> bool) -> Self {
        self.keep = Some(f);
        self
    }
    const fn crd(mut self, name: &'static str) -> Self {
        self.crd = Some(name);
        self
    }

    pub(super) fn path(&self, namespace: Option<&str>) -> String {
        let base = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match namespace {
            Some(ns) => format!("{base}/namespaces/{ns}/{}", self.plural),
            None => format!("{base}/{}", self.plural),
        }
    }

    fn label(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

fn is_controller_deployment(o: &Object) -> bool {
    model::controller_generation(o).is_some()
}

fn is_arc_webhook_configuration(o: &Object) -> bool {
    o.array("/webhooks").iter().any(|w| {
        w["name"]
            .as_str()
            .is_some_and(|n| n.ends_with(model::LEGACY_GROUP))
    })
}

/// ARC pods: controllers, listeners and runners of both generations, and container-hook pods.
const POD_SELECTORS: &[&str] = &[
    "app.kubernetes.io/part-of in (gha-rs-controller,gha-runner-scale-set-controller,gha-runner-scale-set)",
    "actions-ephemeral-runner",
    "app.kubernetes.io/name=actions-runner-controller",
    "actions-runner",
    "runner-pod",
];

const GHA_CRDS: [&str; 4] = [
    "autoscalingrunnersets.actions.github.com",
    "autoscalinglisteners.actions.github.com",
    "ephemeralrunnersets.actions.github.com",
    "ephemeralrunners.actions.github.com",
];
const LEGACY_CRDS: [&str; 5] = [
    "runners.actions.summerwind.dev",
    "runnerdeployments.actions.summerwind.dev",
    "runnerreplicasets.actions.summerwind.dev",
    "runnersets.actions.summerwind.dev",
    "horizontalrunnerautoscalers.actions.summerwind.dev",
];

/// Where `kind` lives in the API: the one table that listing and writing share.
pub(super) fn kind_spec(kind: &str) -> Option<KindSpec> {
    kinds().into_iter().find(|k| k.kind == kind)
}

fn kinds() -> Vec<KindSpec> {
    const GHA: &str = model::GROUP;
    const LEG: &str = model::LEGACY_GROUP;
    const RBAC: &str = "rbac.authorization.k8s.io";
    const ADM: &str = "admissionregistration.k8s.io";
    vec![
        spec("Namespace", "", "v1", "namespaces").cluster_scoped(),
        spec("Node", "", "v1", "nodes").cluster_scoped().metadata(),
        spec("Deployment", "apps", "v1", "deployments").keep(is_controller_deployment),
        spec("Pod", "", "v1", "pods").selectors(POD_SELECTORS),
        spec("ServiceAccount", "", "v1", "serviceaccounts").metadata(),
        spec("Secret", "", "v1", "secrets").metadata(),
        spec("ConfigMap", "", "v1", "configmaps").metadata(),
        spec("Service", "", "v1", "services").metadata(),
        spec("Role", RBAC, "v1", "roles"),
        spec("RoleBinding", RBAC, "v1", "rolebindings"),
        spec("ClusterRole", RBAC, "v1", "clusterroles").cluster_scoped(),
        spec("ClusterRoleBinding", RBAC, "v1", "clusterrolebindings").cluster_scoped(),
        spec(
            "AutoscalingRunnerSet",
            GHA,
            "v1alpha1",
            "autoscalingrunnersets",
        )
        .crd(GHA_CRDS[0]),
        spec(
            "AutoscalingListener",
            GHA,
            "v1alpha1",
            "autoscalinglisteners",
        )
        .crd(GHA_CRDS[1]),
        spec("EphemeralRunnerSet", GHA, "v1alpha1", "ephemeralrunnersets").crd(GHA_CRDS[2]),
        spec("EphemeralRunner", GHA, "v1alpha1", "ephemeralrunners").crd(GHA_CRDS[3]),
        spec("Runner", LEG, "v1alpha1", "runners").crd(LEGACY_CRDS[0]),
        spec("RunnerDeployment", LEG, "v1alpha1", "runnerdeployments").crd(LEGACY_CRDS[1]),
        spec("RunnerReplicaSet", LEG, "v1alpha1", "runnerreplicasets").crd(LEGACY_CRDS[2]),
        spec("RunnerSet", LEG, "v1alpha1", "runnersets").crd(LEGACY_CRDS[3]),
        spec(
            "HorizontalRunnerAutoscaler",
            LEG,
            "v1alpha1",
            "horizontalrunnerautoscalers",
        )
        .crd(LEGACY_CRDS[4]),
        spec(
            "MutatingWebhookConfiguration",
            ADM,
            "v1",
            "mutatingwebhookconfigurations",
        )
        .cluster_scoped()
        .keep(is_arc_webhook_configuration),
        spec(
            "ValidatingWebhookConfiguration",
            ADM,
            "v1",
            "validatingwebhookconfigurations",
        )
        .cluster_scoped()
        .keep(is_arc_webhook_configuration),
    ]
}

/// What listing one kind produced.
struct Listed {
    kind: &'static str,
    items: Vec<Object>,
    scope: Scope,
    gaps: Vec<Gap>,
}

fn gap(what: String, kind: &str, namespace: Option<&str>, e: &ApiError) -> Gap {
    Gap {
        what,
        kind: Some(kind.to_owned()),
        namespace: namespace.map(str::to_owned),
        reason: reason(e),
    }
}

/// A gap's reason: the API server's words, with the status code when they do not name it, so
/// the not-checked report can tell 403 from 404 from 5xx (`checks::not_checked::cause`).
fn reason(e: &ApiError) -> String {
    let text = e.to_string();
    let (code, word) = match e {
        ApiError::Forbidden(_) => (403, "forbidden"),
        ApiError::NotFound(_) => (404, "not found"),
        ApiError::Unauthorized(_) => (401, "unauthorized"),
        _ => return text,
    };
    if text.to_ascii_lowercase().contains(word) {
        text
    } else {
        format!("{text} (HTTP {code})")
    }
}

/// List one selector of one kind at one scope, decoding (and filtering) each page as it arrives.
async fn list_one(
    c: &Cluster,
    k: &KindSpec,
    ns: Option<&str>,
    sel: Option<&str>,
    o: &CollectOptions,
) -> Result<Vec<Object>, ApiError> {
    let mut items = Vec::new();
    c.list_pages(
        &k.path(ns),
        sel,
        k.metadata_only,
        o.page_size,
        |text, restarted| {
            if restarted {
                items.clear();
            }
            decode::page(text, k.kind, k.keep, &mut items).map_err(|e| e.to_string())
        },
    )
    .await?;
    Ok(items)
}

async fn list_scope(
    c: &Cluster,
    k: &KindSpec,
    ns: Option<&str>,
    o: &CollectOptions,
) -> Result<Vec<Object>, ApiError> {
    if k.selectors.is_empty() {
        return list_one(c, k, ns, None, o).await;
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for sel in k.selectors {
        for v in list_one(c, k, ns, Some(sel), o).await? {
            if v.meta.uid.is_empty() || seen.insert(v.meta.uid) {
                out.push(v);
            }
        }
    }
    Ok(out)
}

async fn list_kind(c: &Cluster, k: KindSpec, o: &CollectOptions) -> Listed {
    match list_scope(c, &k, None, o).await {
        Ok(items) => Listed {
            kind: k.kind,
            items,
            scope: Scope::All,
            gaps: vec![],
        },
        // The API group is not served: the kind cannot have objects.
        Err(ApiError::NotFound(_)) => Listed {
            kind: k.kind,
            items: vec![],
            scope: Scope::All,
            gaps: vec![],
        },
        Err(e) => {
            let scope_word = if k.namespaced {
                "all namespaces"
            } else {
                "cluster-scoped"
            };
            let mut gaps = vec![gap(
                format!("{} ({scope_word})", k.label()),
                k.kind,
                None,
                &e,
            )];
            if !k.namespaced
                || !matches!(e, ApiError::Forbidden(_))
                || o.fallback_namespaces.is_empty()
            {
                return Listed {
                    kind: k.kind,
                    items: vec![],
                    scope: Scope::None,
                    gaps,
                };
            }
            let mut items = Vec::new();
            let mut covered = BTreeSet::new();
            for ns in &o.fallback_namespaces {
                match list_scope(c, &k, Some(ns), o).await {
                    Ok(vs) => {
                        items.extend(vs);
                        covered.insert(ns.clone());
                    }
                    Err(ApiError::NotFound(_)) => {
                        covered.insert(ns.clone());
                    }
                    Err(e) => gaps.push(gap(
                        format!("{} in namespace {ns}", k.label()),
                        k.kind,
                        Some(ns),
                        &e,
                    )),
                }
            }
            let scope = if covered.is_empty() {
                Scope::None
            } else {
                Scope::Namespaces(covered)
            };
            Listed {
                kind: k.kind,
                items,
                scope,
                gaps,
            }
        }
    }
}

/// GET the ARC CRDs by name (never list all CRDs: other CRDs can be megabytes each).
async fn get_crds(c: &Cluster, o: &CollectOptions) -> (Collection, Vec<Gap>) {
    let path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    let names: Vec<&str> = GHA_CRDS.iter().chain(LEGACY_CRDS.iter()).copied().collect();
    let results: Vec<(&str, Result<Option<Value>, ApiError>)> = stream::iter(names)
        .map(|n| async move { (n, c.get(path, n, false).await) })
        .buffered(o.concurrency)
        .collect()
        .await;
    let mut items = Vec::new();
    let mut gaps = Vec::new();
    for (name, r) in results {
        match r {
            Ok(Some(v)) => items.push(Object::from_json("CustomResourceDefinition", v)),
            Ok(None) => {}
            Err(e) => gaps.push(gap(
                format!("customresourcedefinitions.apiextensions.k8s.io {name}"),
                "CustomResourceDefinition",
                None,
                &e,
            )),
        }
    }
    let scope = if gaps.is_empty() {
        Scope::All
    } else {
        Scope::None
    };
    (Collection::new(scope, items), gaps)
}

/// Is the CRD known to be absent (so its kind need not be listed)?
fn crd_absent(crds: &Collection, name: &str) -> bool {
    crds.get(None, name).is_missing()
}

/// Collect everything the checks need.
pub async fn collect(c: &Cluster, o: &CollectOptions) -> Snapshot {
    let mut snap = Snapshot {
        now: Some(jiff::Timestamp::now().to_string()),
        ..Snapshot::default()
    };
    let (crds, mut gaps) = get_crds(c, o).await;
    let specs: Vec<KindSpec> = kinds()
        .into_iter()
        .filter(|k| !k.crd.is_some_and(|n| crd_absent(&crds, n)))
        .collect();
    let skipped: Vec<&'static str> = kinds()
        .into_iter()
        .filter(|k| k.crd.is_some_and(|n| crd_absent(&crds, n)))
        .map(|k| k.kind)
        .collect();
    snap.crds = crds;
    let listed: Vec<Listed> = stream::iter(specs)
        .map(|k| list_kind(c, k, o))
        .buffer_unordered(o.concurrency.min(LIST_CONCURRENCY))
        .collect()
        .await;
    for l in listed {
        gaps.extend(l.gaps);
        if let Some(col) = snap.collection_mut(l.kind) {
            *col = Collection::new(l.scope, l.items);
        }
    }
    for kind in skipped {
        if let Some(col) = snap.collection_mut(kind) {
            *col = Collection::new(Scope::All, Vec::new());
        }
    }
    // Endpoints only for the services legacy webhooks call (targeted GETs, constant count).
    let (endpoints, ep_gaps) = get_webhook_endpoints(c, &snap, o).await;
    snap.endpoints = endpoints;
    gaps.extend(ep_gaps);
    let (access, access_gaps) = review_access(c, &snap, o).await;
    snap.access = access;
    gaps.extend(access_gaps);
    if let Some(lines) = o.log_lines {
        let (logs, log_gaps) = read_logs(c, &snap, lines, o).await;
        snap.logs = logs;
        gaps.extend(log_gaps);
    }
    gaps.sort_by(|a, b| a.what.cmp(&b.what));
    snap.gaps = gaps;
    snap
}

/// Services referenced by the legacy webhook configurations.
fn webhook_services(snap: &Snapshot) -> BTreeSet<(String, String)> {
    snap.mutating_webhooks
        .iter()
        .chain(snap.validating_webhooks.iter())
        .flat_map(|w| w.array("/webhooks").iter())
        .filter_map(|h| {
            Some((
                h.pointer("/clientConfig/service/namespace")?
                    .as_str()?
                    .to_owned(),
                h.pointer("/clientConfig/service/name")?
                    .as_str()?
                    .to_owned(),
            ))
        })
        .collect()
}

async fn get_webhook_endpoints(
    c: &Cluster,
    snap: &Snapshot,
    o: &CollectOptions,
) -> (Collection, Vec<Gap>) {
    let wanted = webhook_services(snap);
    let results: Vec<_> = stream::iter(wanted)
        .map(|(ns, name)| async move {
            let r = c
                .get(&format!("/api/v1/namespaces/{ns}/endpoints"), &name, false)
                .await;
            (ns, name, r)
        })
        .buffered(o.concurrency)
        .collect()
        .await;
    let mut items = Vec::new();
    let mut gaps = Vec::new();
    for (ns, name, r) in results {
        match r {
            Ok(Some(v)) => items.push(Object::from_json("Endpoints", v)),
            Ok(None) => {}
            Err(e) => gaps.push(gap(
                format!("endpoints {ns}/{name}"),
                "Endpoints",
                Some(&ns),
                &e,
            )),
        }
    }
    // Only specific objects were fetched: absence elsewhere means nothing.
    (Collection::new(Scope::None, items), gaps)
}

/// Ask the API server (SubjectAccessReview) what each live controller may do where its cleanup
/// paths need it. When we may not create reviews, the checks evaluate bindings offline instead.
async fn review_access(
    c: &Cluster,
    snap: &Snapshot,
    o: &CollectOptions,
) -> (Vec<AccessAnswer>, Vec<Gap>) {
    let questions = checks::access_questions(snap);
    if questions.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let probe = json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "group": "authorization.k8s.io", "resource": "subjectaccessreviews"}}
    });
    let allowed = c
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &probe,
        )
        .await
        .ok()
        .and_then(|v| v.pointer("/status/allowed").and_then(Value::as_bool))
        .unwrap_or(false);
    if !allowed {
        return (Vec::new(), Vec::new());
    }
    // A review without a namespace asks about every namespace at once: RBAC allows it only
    // through ClusterRoleBindings, which hold in every namespace. So a permission asked in
    // several namespaces is asked cluster-wide first, and namespace by namespace only when that
    // is denied: a cluster-scope controller costs one review per permission, not one per
    // runner namespace (12,000 → 12 at 1,000 namespaces).
    let mut spread: BTreeMap<(&str, &str, &str, &str), usize> = BTreeMap::new();
    for q in &questions {
        *spread
            .entry((q.user, q.verb, q.group, q.resource))
            .or_default() += 1;
    }
    let cluster_wide: Vec<AccessQuestion> = spread
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((user, verb, group, resource), _)| model::question(user, verb, group, resource, ""))
        .collect();
    let allowed_everywhere: BTreeSet<(&str, &str, &str, &str)> =
        ask_all(c, cluster_wide, o.concurrency)
            .await
            .into_iter()
            .filter(|a| a.allowed)
            .map(|a| {
                (
                    a.question.user,
                    a.question.verb,
                    a.question.group,
                    a.question.resource,
                )
            })
            .collect();
    let (granted, ask): (Vec<_>, Vec<_>) = questions
        .into_iter()
        .partition(|q| allowed_everywhere.contains(&(q.user, q.verb, q.group, q.resource)));
    let mut answers: Vec<AccessAnswer> = granted
        .into_iter()
        .map(|question| AccessAnswer {
            question,
            allowed: true,
            source: SAR_ALL_NAMESPACES,
        })
        .collect();
    answers.extend(ask_all(c, ask, o.concurrency).await);
    answers.sort_by(|a, b| a.question.cmp(&b.question));
    (answers, Vec::new())
}

/// `source` of an answer implied by a cluster-wide SubjectAccessReview.
const SAR_ALL_NAMESPACES: &str = "SubjectAccessReview (all namespaces)";

/// Ask each question with a SubjectAccessReview; questions the server did not answer are left out
/// (the checks then evaluate bindings offline).
async fn ask_all(
    c: &Cluster,
    questions: Vec<AccessQuestion>,
    concurrency: usize,
) -> Vec<AccessAnswer> {
    let answers: Vec<Option<AccessAnswer>> = stream::iter(questions)
        .map(|q| async move {
            let body = json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "spec": {
                    "user": q.user,
                    "groups": crate::rbac::service_account_groups(q.user),
                    "resourceAttributes": {"verb": q.verb, "group": q.group, "resource": q.resource, "namespace": q.namespace}
                }
            });
            let v = c.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", &body).await.ok()?;
            let allowed = v.pointer("/status/allowed").and_then(Value::as_bool)?;
            Some(AccessAnswer { question: q, allowed, source: "SubjectAccessReview" })
        })
        .buffered(concurrency)
        .collect()
        .await;
    answers.into_iter().flatten().collect()
}

/// Controller (`manager`) and listener container logs to scan for known messages.
fn log_targets(snap: &Snapshot) -> Vec<(String, String, String)> {
    let model = model::Model::build(snap);
    let mut out = BTreeMap::new();
    for ctrl in &model.controllers {
        if let Some(dep) = snap
            .deployments
            .get(Some(&ctrl.namespace), &ctrl.name)
            .found()
        {
            for p in model::pods_of(snap, dep) {
                let container = if ctrl.generation == Generation::Gha
                    || model::containers(p).iter().any(|c| c["name"] == "manager")
                {
                    "manager"
                } else {
                    model::containers(p)
                        .first()
                        .and_then(|c| c["name"].as_str())
                        .unwrap_or("manager")
                };
                out.insert(
                    (p.meta.ns().to_owned(), p.meta.name.to_owned()),
                    container.to_owned(),
                );
            }
        }
    }
    for p in snap.pods.iter() {
        if p.meta.label(model::L_COMPONENT) == Some("runner-scale-set-listener") {
            let container = model::containers(p)
                .iter()
                .find(|c| c["name"] == "listener")
                .or_else(|| model::containers(p).first())
                .and_then(|c| c["name"].as_str())
                .unwrap_or("listener");
            out.insert(
                (p.meta.ns().to_owned(), p.meta.name.to_owned()),
                container.to_owned(),
            );
        }
    }
    out.into_iter().map(|((ns, pod), c)| (ns, pod, c)).collect()
}

async fn read_logs(
    c: &Cluster,
    snap: &Snapshot,
    lines: u32,
    o: &CollectOptions,
) -> (Vec<PodLog>, Vec<Gap>) {
    let results: Vec<_> = stream::iter(log_targets(snap))
        .map(|(ns, pod, container)| async move {
            let path = format!(
                "/api/v1/namespaces/{ns}/pods/{pod}/log?container={container}&tailLines={lines}"
            );
            let r = c.get_text(&path).await;
            (ns, pod, container, r)
        })
        .buffered(o.concurrency)
        .collect()
        .await;
    let mut logs = Vec::new();
    let mut gaps = Vec::new();
    for (namespace, pod, container, r) in results {
        match r {
            Ok(text) => logs.push(PodLog {
                namespace,
                pod,
                container,
                lines: text.lines().map(str::to_owned).collect(),
            }),
            // A pod that is not running yet or has gone has no log; that is not a gap.
            Err(ApiError::NotFound(_)) | Err(ApiError::Status { code: 400, .. }) => {}
            Err(e) => gaps.push(Gap {
                what: format!("pods/log {namespace}/{pod} [{container}]"),
                kind: Some("Pod".to_owned()),
                namespace: Some(namespace),
                reason: reason(&e),
            }),
        }
    }
    (logs, gaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_api_conventions() {
        let s = spec("Secret", "", "v1", "secrets");
        assert_eq!(s.path(None), "/api/v1/secrets");
        assert_eq!(s.path(Some("a")), "/api/v1/namespaces/a/secrets");
        let a = spec(
            "AutoscalingRunnerSet",
            "actions.github.com",
            "v1alpha1",
            "autoscalingrunnersets",
        );
        assert_eq!(
            a.path(None),
            "/apis/actions.github.com/v1alpha1/autoscalingrunnersets"
        );
        assert_eq!(a.label(), "autoscalingrunnersets.actions.github.com");
    }

    #[test]
    fn secrets_and_other_bulky_kinds_are_metadata_only() {
        for k in kinds() {
            if matches!(
                k.kind,
                "Secret" | "ConfigMap" | "ServiceAccount" | "Node" | "Service"
            ) {
                assert!(k.metadata_only, "{} must be listed metadata-only", k.kind);
            }
        }
    }

    #[test]
    fn every_snapshot_kind_listed_once() {
        let mut seen = BTreeSet::new();
        for k in kinds() {
            assert!(seen.insert(k.kind), "{} twice", k.kind);
            assert!(
                Snapshot::default().collection_mut(k.kind).is_some(),
                "{} has no collection",
                k.kind
            );
        }
    }
}
