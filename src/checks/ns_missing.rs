//! `ARC-NS-MISSING` – ARC objects stored in, or ARC pointers aimed at, a namespace that does not
//! exist (arc-domain §1.9, §4.4, §8.1).
//!
//! Sources: ARC objects still listed in a namespace that is gone (stranded after a forced
//! `/finalize`); AL `spec.autoscalingRunnerSetNamespace`; listener Role/RoleBinding label
//! `auto-scaling-listener-namespace`; ServiceAccount subjects of ARC RoleBindings (manager,
//! listener, single-namespace-watch) and ClusterRoleBindings; `--watch-single-namespace` /
//! `--watch-namespace` targets of controllers; `clientConfig.service` namespaces of legacy ARC
//! webhook configurations. Only ARC objects (by kind, labels, annotations, finalizers, owners,
//! names — §1.5) are considered, never unrelated cluster objects. One finding per missing
//! namespace; decided only when Namespaces were listed.

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{ControllerScope, L_LISTENER_NS, L_PART_OF};
use crate::snapshot::{Object, ObjectRef};

use super::Ctx;
use super::ns_terminating::arc_finalizers;
use crate::model::ARC_KINDS;

const ARC_PART_OF: [&str; 4] = [
    "gha-rs-controller",
    "gha-runner-scale-set-controller",
    "gha-rs",
    "gha-runner-scale-set",
];

const ARC_LABEL_KEYS: [&str; 9] = [
    "auto-scaling-listener-namespace",
    "auto-scaling-listener-name",
    "actions-ephemeral-runner",
    "runner-pod",
    "secret-data-hash",
    "actions-runner",
    "runner-deployment-name",
    "runnerset-name",
    "runner-template-hash",
];

const ARC_NAME_PARTS: [&str; 3] = [
    "gha-rs-controller",
    "gha-runner-scale-set",
    "actions-runner-controller",
];

/// Is this an ARC object (arc-domain §1.5)?
pub(crate) fn is_arc(o: &Object) -> bool {
    let m = &o.meta;
    let arc_api =
        |v: &str| v.starts_with("actions.github.com/") || v.starts_with("actions.summerwind.dev/");
    ARC_KINDS.contains(&m.kind)
        || m.label(L_PART_OF).is_some_and(|p| ARC_PART_OF.contains(&p))
        || m.label("app.kubernetes.io/name") == Some("actions-runner-controller")
        || m.labels
            .keys()
            .any(|k| k.starts_with("actions.github.com/") || ARC_LABEL_KEYS.contains(&k))
        || m.annotations.keys().any(|k| {
            k.starts_with("actions.github.com/")
                || k.starts_with("actions-runner/")
                || k == "runner-scale-set-id"
        })
        || !arc_finalizers(o).is_empty()
        || m.owner_references.iter().any(|r| arc_api(r.api_version))
        || ARC_NAME_PARTS.iter().any(|p| m.name.contains(p))
}

/// Is this webhook configuration an ARC (legacy) one?
fn is_arc_webhook(o: &Object) -> bool {
    is_arc(o)
        || o.array("/webhooks").iter().any(|w| {
            w["name"].as_str().is_some_and(|n| {
                n.ends_with(".actions.summerwind.dev") || n.ends_with(".actions.github.com")
            })
        })
}

/// One reason an object involves a missing namespace.
struct Hit {
    obj: ObjectRef,
    why: String,
    stranded: bool,
    finalizers: Vec<String>,
}

/// Hits per missing namespace.
#[derive(Default)]
struct Hits(BTreeMap<String, Vec<Hit>>);

impl Hits {
    fn add(&mut self, ctx: &Ctx, ns: &str, o: &Object, why: String) {
        if ns.is_empty() || ctx.snap.namespace_exists(ns) != Some(false) {
            return;
        }
        let stranded = o.meta.namespace == Some(ns);
        let finalizers = if stranded {
            o.meta.finalizers.iter().map(|f| (*f).to_owned()).collect()
        } else {
            Vec::new()
        };
        self.0.entry(ns.to_owned()).or_default().push(Hit {
            obj: o.meta.obj_ref(),
            why,
            stranded,
            finalizers,
        });
    }
}

/// ServiceAccount subjects of a binding: (namespace, name).
fn sa_subjects(binding: &Object) -> Vec<(&str, &str)> {
    binding
        .array("/subjects")
        .iter()
        .filter(|s| s["kind"].as_str() == Some("ServiceAccount"))
        .filter_map(|s| Some((s["namespace"].as_str()?, s["name"].as_str().unwrap_or(""))))
        .collect()
}

fn collect(ctx: &Ctx) -> Hits {
    let snap = ctx.snap;
    let mut hits = Hits::default();
    for (kind, c) in snap.collections() {
        if matches!(kind, "Namespace" | "Node") {
            continue;
        }
        for o in c.iter().filter(|o| is_arc(o)) {
            if let Some(ns) = o.meta.namespace {
                hits.add(ctx, ns, o, format!("still stored in namespace {ns}"));
            }
        }
    }
    for al in &snap.autoscaling_listeners {
        if let Some(r) = al.str("/spec/autoscalingRunnerSetNamespace") {
            hits.add(
                ctx,
                r,
                al,
                format!("spec.autoscalingRunnerSetNamespace = {r}"),
            );
        }
    }
    for c in [&snap.roles, &snap.role_bindings] {
        for o in c.iter() {
            if let Some(n) = o.meta.label(L_LISTENER_NS) {
                hits.add(ctx, n, o, format!("label {L_LISTENER_NS} = {n}"));
            }
        }
    }
    let bindings = snap
        .role_bindings
        .iter()
        .chain(snap.cluster_role_bindings.iter());
    for b in bindings.filter(|b| is_arc(b)) {
        for (ns, name) in sa_subjects(b) {
            hits.add(ctx, ns, b, format!("subject ServiceAccount {ns}/{name}"));
        }
    }
    for c in &ctx.model.controllers {
        if let ControllerScope::SingleNamespace(w) = &c.scope
            && let Some(dep) = snap.deployments.get(Some(&c.namespace), &c.name).found()
        {
            hits.add(ctx, w, dep, format!("watches single namespace {w}"));
        }
    }
    let webhooks = snap
        .mutating_webhooks
        .iter()
        .chain(snap.validating_webhooks.iter());
    for o in webhooks.filter(|o| is_arc_webhook(o)) {
        for w in o.array("/webhooks") {
            let svc = &w["clientConfig"]["service"];
            if let Some(ns) = svc["namespace"].as_str() {
                let why = format!(
                    "webhook {} calls Service {ns}/{}",
                    w["name"].as_str().unwrap_or("?"),
                    svc["name"].as_str().unwrap_or("?")
                );
                hits.add(ctx, ns, o, why);
            }
        }
    }
    hits
}

/// Pointer hits grouped by object, in first-seen order.
fn group_reasons<'h>(hits: &[&'h Hit]) -> Vec<(&'h ObjectRef, Vec<&'h str>)> {
    let mut out: Vec<(&ObjectRef, Vec<&str>)> = Vec::new();
    for h in hits {
        match out.iter_mut().find(|(o, _)| *o == &h.obj) {
            Some((_, whys)) => whys.push(&h.why),
            None => out.push((&h.obj, vec![&h.why])),
        }
    }
    out
}

/// The first reason, and how many more there are.
fn summarize(whys: &[&str]) -> String {
    match whys {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first, rest @ ..] => format!("{first}, and {} more", rest.len()),
    }
}

/// Repair steps for the kinds of pointers found.
fn pointer_remediation(ns: &str, pointers: &[&Hit]) -> Vec<String> {
    let has = |pred: &dyn Fn(&Hit) -> bool| pointers.iter().any(|h| pred(h));
    let mut out = Vec::new();
    if has(&|h| h.obj.kind.ends_with("WebhookConfiguration")) {
        out.push(format!(
            "Webhook configurations calling a Service in {ns}: delete them before anything else — \
             they reject updates of legacy runner objects, finalizer patches included (see \
             LEG-WEBHOOK-DANGLING)."
        ));
    }
    if has(&|h| h.why.starts_with("subject") && h.obj.kind == "RoleBinding") {
        out.push(format!(
            "RoleBindings whose subject lives in {ns}: `helm upgrade` each scale-set release so its \
             manager RoleBinding names the live controller's ServiceAccount (see \
             ARC-MANAGER-BINDING-MISMATCH); listener RoleBindings are recreated by the live \
             controller once the stale ones are deleted."
        ));
    }
    if has(&|h| h.why.starts_with("label") || h.obj.kind == "AutoscalingListener") {
        out.push(format!(
            "Listener objects tied to {ns} (listener Role/RoleBinding labels, an AutoscalingListener \
             whose scale-set namespace is gone): delete them — see ARC-LISTENER-RBAC-ORPHAN / \
             -COLLISION and ARC-ORPHAN-LISTENER; `kubectl arc orphans --fix` handles them."
        ));
    }
    if has(&|h| h.obj.kind == "ClusterRoleBinding") {
        out.push(format!(
            "ClusterRoleBindings bound to a ServiceAccount in {ns}: delete them once no Deployment \
             uses that ServiceAccount (see ARC-STALE-CLUSTER-RBAC)."
        ));
    }
    if has(&|h| h.obj.kind == "Deployment") {
        out.push(format!(
            "Controllers watching {ns}: fix --watch-single-namespace (helm upgrade of the controller \
             with flags.watchSingleNamespace) or create the namespace."
        ));
    }
    out
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    collect(ctx)
        .0
        .into_iter()
        .map(|(ns, hits)| finding(&ns, &hits))
        .collect()
}

fn finding(ns: &str, hits: &[Hit]) -> Finding {
    let stranded: Vec<&Hit> = hits.iter().filter(|h| h.stranded).collect();
    let pointers: Vec<&Hit> = hits.iter().filter(|h| !h.stranded).collect();
    let mut parts = Vec::new();
    if !stranded.is_empty() {
        let mut names: Vec<String> = Vec::new();
        for h in &stranded {
            let n = h.obj.to_string();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        parts.push(format!(
            "{} ARC object(s) are still stored in it — left in storage when the namespace was \
             forced through /finalize: {}",
            names.len(),
            names.join(", ")
        ));
    }
    if !pointers.is_empty() {
        let grouped = group_reasons(&pointers);
        let names: Vec<String> = grouped
            .iter()
            .map(|(obj, whys)| format!("{obj} ({})", summarize(whys)))
            .collect();
        parts.push(format!(
            "{} object(s) point at it: {}",
            grouped.len(),
            names.join(", ")
        ));
    }
    let message = format!(
        "Namespace {ns} does not exist, yet {}.",
        parts.join("; and ")
    );
    let mut f = Finding::new("ARC-NS-MISSING", Severity::High, message)
        .object(ObjectRef::cluster("Namespace", ns))
        .objects(stranded.iter().map(|h| h.obj.clone()))
        .objects(pointers.iter().map(|h| h.obj.clone()));
    let mut with_fin: Vec<String> = Vec::new();
    for h in stranded.iter().filter(|h| !h.finalizers.is_empty()) {
        let s = format!("{} [{}]", h.obj, h.finalizers.join(", "));
        if !with_fin.contains(&s) {
            with_fin.push(s);
        }
    }
    if !stranded.is_empty() {
        f = f.remediation(format!(
            "Stranded objects can be read and deleted but not patched while {ns} is absent (the \
             API server rejects every other write): delete those without finalizers with `kubectl \
             delete <kind> <name> -n {ns}` (`kubectl arc orphans --fix --include-confirm`)."
        ));
    }
    if !with_fin.is_empty() {
        f = f
            .remediation(format!(
                "Objects with finalizers ({}) cannot lose them in place: recreate the namespace \
                 first (`kubectl create namespace {ns}`), then strip the stranded finalizers \
                 bottom-up (`kubectl arc orphans --fix`), then `kubectl delete namespace {ns}` \
                 again.",
                with_fin.join("; ")
            ))
            .remediation(format!(
                "Alternative (manual): recreate {ns} and reinstall the old controller there so it \
                 finishes the cleanup itself — only valid once its GitHub credentials and RBAC are \
                 restored too, and dangerous while another scale set shares a scale-set ID \
                 (ARC-SCALESET-ID-SHARED)."
            ));
    }
    for step in pointer_remediation(ns, &pointers) {
        f = f.remediation(step);
    }
    for h in hits {
        f = f.evidence(format!("{}: {}", h.obj, h.why));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Scope;
    use crate::testing;
    use serde_json::json;

    fn s12() -> crate::snapshot::Snapshot {
        let mut snap = testing::scenario("S1");
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Namespace" && o.meta.name == "arc-systems"
        });
        snap
    }

    #[test]
    fn stranded_listener_and_pointers_make_one_finding() {
        let snap = s12();
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-NS-MISSING Namespace arc-systems"]
        );
        let f = &f[0];
        assert_eq!(f.severity, Severity::High);
        assert!(f.objects.iter().any(|o| o.kind == "AutoscalingListener"));
        assert!(
            f.objects
                .iter()
                .any(|o| o.kind == "RoleBinding" && o.name == "arc-runner-set-gha-rs-manager")
        );
        assert!(
            f.remediation
                .iter()
                .any(|r| r.contains("kubectl create namespace arc-systems"))
        );
    }

    #[test]
    fn unrelated_objects_and_unlisted_namespaces_are_ignored() {
        let mut snap = testing::scenario("B0");
        snap.role_bindings.items.push(testing::obj(
            "RoleBinding",
            json!({"metadata":{"name":"app","namespace":"arc-runners"},
                   "roleRef":{"kind":"Role","name":"x"},
                   "subjects":[{"kind":"ServiceAccount","name":"x","namespace":"gone"}]}),
        ));
        assert!(check(&Ctx::new(&snap)).is_empty());
        let mut snap = s12();
        snap.namespaces.scope = Scope::None;
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn arc_object_recognition() {
        let plain = testing::obj("Secret", json!({"metadata":{"name":"db","namespace":"a"}}));
        assert!(!is_arc(&plain));
        let listener_cfg = testing::obj(
            "Secret",
            json!({"metadata":{"name":"x","namespace":"a","ownerReferences":[
                {"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener","name":"l","uid":"u"}]}}),
        );
        assert!(is_arc(&listener_cfg));
    }
}
