//! `drain <ns>`, the pure part (arc-domain §5.1–5.4): what the namespace is to ARC, the preflight
//! checks, the ordered deletions that start the controller's own cleanup, the progress stage of
//! each scale set, and the final verification. The command drives and watches; this decides.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::facts::Ctx;
use crate::facts::deletion::{Verdict, job_id};
use crate::facts::{protected, shared_id};
use crate::findings::{Finding, Fix};
use crate::model::{self, F_CP, L_LISTENER_NAME, L_LISTENER_NS};
use crate::snapshot::{Object, ObjectRef, Snapshot};

use super::rules::delete_obj;
use super::{Builder, Phase, Plan, Scope};

/// What a namespace is to ARC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Holds scale sets (gha) or legacy runner objects.
    pub runner: bool,
    pub legacy: bool,
    /// Runs a gha controller (listeners live here).
    pub controller: bool,
    /// The namespace object exists (objects can be stranded in a missing one).
    pub exists: bool,
}

impl Role {
    pub fn of(ctx: &Ctx, ns: &str) -> Role {
        let snap = ctx.snap;
        let legacy = snap.runner_deployments.in_namespace(ns).next().is_some()
            || snap.runner_sets.in_namespace(ns).next().is_some()
            || snap
                .horizontal_runner_autoscalers
                .in_namespace(ns)
                .next()
                .is_some()
            || snap.runners.in_namespace(ns).next().is_some();
        let gha_runner = snap
            .autoscaling_runner_sets
            .in_namespace(ns)
            .next()
            .is_some()
            || snap.ephemeral_runner_sets.in_namespace(ns).next().is_some()
            || snap.ephemeral_runners.in_namespace(ns).next().is_some();
        Role {
            runner: gha_runner || legacy,
            legacy,
            controller: ctx.model.gha_in_namespace(ns).next().is_some()
                || snap.autoscaling_listeners.in_namespace(ns).next().is_some(),
            exists: snap.namespace_exists(ns) != Some(false),
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.runner && !self.controller
    }
}

/// One preflight check.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub ok: bool,
    /// Finding code behind a failed check (or `DRAIN-…` for drain's own checks).
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectRef>,
}

fn check(ok: bool, code: &str, message: String, objects: Vec<ObjectRef>) -> Check {
    Check {
        ok,
        code: code.to_owned(),
        message,
        objects,
    }
}

/// Preflight of a runner namespace (§5.2): a live, authorised, version-compatible controller can
/// finish each scale set; its GitHub Secret exists; no shared scale-set ID; running jobs listed
/// (informational, they are waited for).
pub fn preflight_runner(ctx: &Ctx, findings: &[Finding], ns: &str) -> Vec<Check> {
    let mut out = Vec::new();
    for ars in ctx.snap.autoscaling_runner_sets.in_namespace(ns) {
        let r = ars.meta.obj_ref();
        match ctx.deletion(ars) {
            Some(Verdict::Waiting(_)) | None => {
                let by = ctx
                    .model
                    .live_for(ns)
                    .next()
                    .map(|c| format!("{}/{}", c.namespace, c.name))
                    .unwrap_or_default();
                out.push(check(
                    true,
                    "DRAIN-CONTROLLER",
                    format!(
                        "{}: live controller {by} can finish its deletion",
                        ars.meta.display()
                    ),
                    vec![r.clone()],
                ));
            }
            Some(Verdict::Stuck(blocked)) => {
                let first = &blocked[0];
                out.push(check(
                    false,
                    "ARC-STUCK-ARS",
                    format!(
                        "{}: the controller could not finish its deletion — it cannot {}: {}",
                        ars.meta.display(),
                        first.step,
                        first.cause
                    ),
                    vec![r.clone()],
                ));
            }
            Some(Verdict::Unknown(u)) => out.push(check(
                false,
                "ARC-NOT-CHECKED",
                format!(
                    "{}: cannot verify that a controller can finish its deletion ({} not readable)",
                    ars.meta.display(),
                    u.join(", ")
                ),
                vec![r.clone()],
            )),
        }
    }
    for (id, _, arss) in shared_id::shared_groups(ctx) {
        if arss.iter().any(|a| a.meta.ns() == ns) {
            let names: Vec<String> = arss.iter().map(|a| a.meta.display()).collect();
            out.push(check(
                false,
                "ARC-SCALESET-ID-SHARED",
                format!(
                    "scale set ID {id} is shared by {}: deleting the scale set here would delete the \
                     other's registration on GitHub",
                    names.join(", ")
                ),
                arss.iter().map(|a| a.meta.obj_ref()).collect(),
            ));
        }
    }
    for f in findings {
        let here = f.objects.iter().any(|o| o.namespace.as_deref() == Some(ns));
        if here
            && matches!(
                f.code,
                "ARC-VERSION-SKEW" | "LEG-NO-CONTROLLER" | "LEG-SECRET-DANGLING"
            )
        {
            out.push(check(false, f.code, f.message.clone(), f.objects.clone()));
        }
    }
    for er in ctx.snap.ephemeral_runners.in_namespace(ns) {
        if let Some(job) = job_id(er) {
            out.push(check(
                true,
                "DRAIN-RUNNING-JOB",
                format!(
                    "runner {} is running job {job}; drain waits for it",
                    er.meta.display()
                ),
                vec![er.meta.obj_ref()],
            ));
        }
    }
    out
}

/// Preflight of a controller namespace (§5.3): refused while any listener lives in it or any
/// scale set it serves still exists anywhere.
pub fn preflight_controller(ctx: &Ctx, ns: &str) -> Vec<Check> {
    let mut out = Vec::new();
    let listeners: Vec<&Object> = ctx.snap.autoscaling_listeners.in_namespace(ns).collect();
    let targets: BTreeSet<String> = listeners
        .iter()
        .filter_map(|al| model::listener_target(al).map(|(n, _)| n.to_owned()))
        .collect();
    if !listeners.is_empty() {
        out.push(check(
            false,
            "DRAIN-LISTENERS",
            format!(
                "{} listener(s) still run in {ns}; drain their runner namespaces first: {}",
                listeners.len(),
                targets.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            listeners.iter().map(|l| l.meta.obj_ref()).collect(),
        ));
    }
    for c in ctx.model.gha_in_namespace(ns) {
        let served: Vec<&Object> = ctx
            .snap
            .autoscaling_runner_sets
            .iter()
            .filter(|a| c.covers(a.meta.ns()) && a.meta.ns() != ns)
            .collect();
        let nss: BTreeSet<&str> = served.iter().map(|a| a.meta.ns()).collect();
        if !served.is_empty() {
            out.push(check(
                false,
                "DRAIN-SCALE-SETS",
                format!(
                    "controller {}/{} still serves {} scale set(s); drain these namespaces first: {}",
                    c.namespace,
                    c.name,
                    served.len(),
                    nss.into_iter().collect::<Vec<_>>().join(", ")
                ),
                served.iter().map(|a| a.meta.obj_ref()).collect(),
            ));
        }
    }
    out
}

/// The deletions that start the controller's own cleanup: each scale set (after a shared ID is
/// neutralised — only with `--force`), or for legacy mode the dangling webhooks, then the
/// HorizontalRunnerAutoscalers, then RunnerDeployments/RunnerSets.
pub fn start_plan(ctx: &Ctx, findings: &[Finding], ns: &str) -> Plan {
    let scope = Scope {
        namespace: Some(ns.to_owned()),
        force_namespace: None,
    };
    let mut b = Builder::new(ctx, findings, &scope);
    let mut hooks = Vec::new();
    for f in findings.iter().filter(|f| f.code == "LEG-WEBHOOK-DANGLING") {
        let Some(r) = f.primary() else { continue };
        if let Some(o) = ctx.snap.find(r)
            && ctx.snap.runners.in_namespace(ns).next().is_some()
        {
            hooks.push(delete_obj(
                &mut b,
                Phase::Webhooks,
                o,
                Fix::Auto,
                vec![
                    "its Service is gone: every Runner write fails while it is registered"
                        .to_owned(),
                ],
                &[],
            ));
        }
    }
    for ars in ctx.snap.autoscaling_runner_sets.in_namespace(ns) {
        if ars.meta.is_deleting() {
            continue;
        }
        let release = ars.meta.annotation(model::A_HELM_RELEASE);
        let mut why = vec!["deleting the scale set is the one trigger of the controller's ordered cleanup (listener → runners → GitHub scale set → chart objects)".to_owned()];
        if let Some(r) = release {
            why.push(format!(
                "Helm release {r}: run `helm uninstall {r} -n {ns}` afterwards to remove the chart's objects"
            ));
        }
        delete_obj(&mut b, Phase::Orphans, ars, Fix::Auto, why, &[]);
    }
    let hras: Vec<_> = ctx
        .snap
        .horizontal_runner_autoscalers
        .in_namespace(ns)
        .filter(|o| !o.meta.is_deleting())
        .map(|o| {
            delete_obj(
                &mut b,
                Phase::Legacy,
                o,
                Fix::Auto,
                vec!["stop scaling first (§5.4)".to_owned()],
                &hooks,
            )
        })
        .collect();
    let pre: Vec<_> = hooks.iter().chain(hras.iter()).copied().collect();
    for o in ctx
        .snap
        .runner_deployments
        .in_namespace(ns)
        .chain(ctx.snap.runner_sets.in_namespace(ns))
        .filter(|o| !o.meta.is_deleting())
    {
        delete_obj(&mut b, Phase::Legacy, o, Fix::Auto, vec!["the legacy controller removes its RunnerReplicaSets, Runners and pods (deregistering them)".to_owned()], &pre);
    }
    b.finish()
}

/// How far one scale set's deletion has come (§5.2 execution step 2), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    Deleting,
    ListenerGone,
    RunnersZero,
    RunnerSetGone,
    ScaleSetGone,
    Released,
}

impl Stage {
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Deleting => "deleting",
            Stage::ListenerGone => "listener gone",
            Stage::RunnersZero => "runners 0",
            Stage::RunnerSetGone => "runner set gone",
            Stage::ScaleSetGone => "scale set gone",
            Stage::Released => "cleanup-protection released",
        }
    }

    pub const ALL: [Stage; 6] = [
        Stage::Deleting,
        Stage::ListenerGone,
        Stage::RunnersZero,
        Stage::RunnerSetGone,
        Stage::ScaleSetGone,
        Stage::Released,
    ];
}

/// The stage of scale set `ns/name` in `snap`, plus the jobs it waits for.
pub fn stage(snap: &Snapshot, ns: &str, name: &str) -> (Stage, Vec<String>) {
    let listener = snap
        .autoscaling_listeners
        .iter()
        .any(|al| model::listener_target(al) == Some((ns, name)));
    let ars = snap.autoscaling_runner_sets.get(Some(ns), name).found();
    let ers: Vec<&Object> = snap
        .ephemeral_runner_sets
        .in_namespace(ns)
        .filter(|e| {
            ars.is_some_and(|a| e.meta.owner_references.iter().any(|o| o.uid == a.meta.uid))
                || e.meta.label(model::L_SCALE_SET_NAME) == Some(name)
                || e.meta.name.starts_with(&format!("{name}-"))
        })
        .collect();
    let runners: Vec<&Object> = snap
        .ephemeral_runners
        .in_namespace(ns)
        .filter(|er| {
            ers.iter()
                .any(|e| er.meta.owner_references.iter().any(|o| o.uid == e.meta.uid))
                || er.meta.label(model::L_SCALE_SET_NAME) == Some(name)
        })
        .collect();
    let jobs: Vec<String> = runners
        .iter()
        .filter_map(|er| job_id(er).map(|j| format!("job {j} on runner {}", er.meta.name)))
        .collect();
    let protected = protected::protectable(snap)
        .iter()
        .flat_map(|c| c.in_namespace(ns))
        .any(|o| {
            o.meta.has_finalizer(F_CP)
                && (o
                    .meta
                    .label(model::L_SCALE_SET_NAME)
                    .is_none_or(|s| s == name))
        });
    let s = if listener {
        Stage::Deleting
    } else if !runners.is_empty() {
        Stage::ListenerGone
    } else if !ers.is_empty() {
        Stage::RunnersZero
    } else if ars.is_some() {
        Stage::RunnerSetGone
    } else if protected {
        Stage::ScaleSetGone
    } else {
        Stage::Released
    };
    (s, jobs)
}

/// What must not remain in a drained runner namespace (§5.2 step 3), and listeners anywhere that
/// still point at it.
pub fn leftovers(ctx: &Ctx, ns: &str) -> Vec<(ObjectRef, String)> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    let mut add = |o: &Object, why: &str| out.push((o.meta.obj_ref(), why.to_owned()));
    for c in [
        &snap.autoscaling_runner_sets,
        &snap.ephemeral_runner_sets,
        &snap.ephemeral_runners,
        &snap.runner_deployments,
        &snap.runner_sets,
        &snap.runner_replica_sets,
        &snap.horizontal_runner_autoscalers,
        &snap.runners,
    ] {
        for o in c.in_namespace(ns) {
            add(o, "ARC object");
        }
    }
    for p in snap.pods.in_namespace(ns) {
        let runner_pod = p.meta.labels.contains_key("actions-ephemeral-runner")
            || p.meta
                .labels
                .contains_key("actions.github.com/scale-set-name")
            || p.meta.labels.contains_key("actions-runner")
            || p.meta.has_finalizer(model::F_LEG_POD);
        if runner_pod {
            add(p, "runner pod");
        }
    }
    for s in snap.secrets.in_namespace(ns) {
        let jit = s
            .meta
            .owner_references
            .iter()
            .any(|o| o.kind == "EphemeralRunner" || o.kind == "EphemeralRunnerSet");
        if jit {
            add(s, "runner JIT/proxy secret");
        }
    }
    for c in [&snap.roles, &snap.role_bindings] {
        for o in c.in_namespace(ns) {
            if o.meta.labels.contains_key(L_LISTENER_NS)
                || o.meta.labels.contains_key(L_LISTENER_NAME)
            {
                add(o, "listener Role/RoleBinding");
            }
        }
    }
    for c in protected::protectable(snap) {
        for o in c.in_namespace(ns) {
            if o.meta.has_finalizer(F_CP) {
                add(o, "still carries actions.github.com/cleanup-protection");
            }
        }
    }
    for al in &snap.autoscaling_listeners {
        if model::listener_target(al).is_some_and(|(n, _)| n == ns) {
            add(al, "listener pointing at this namespace");
        }
    }
    out
}

/// Chart objects left without finalizer (an ARS deleted directly, not by `helm uninstall`).
pub fn chart_leftovers(ctx: &Ctx, ns: &str) -> Vec<ObjectRef> {
    protected::protectable(ctx.snap)
        .iter()
        .flat_map(|c| c.in_namespace(ns))
        .filter(|o| {
            o.meta.label(model::L_PART_OF) == Some("gha-rs")
                && protected::owner_ars(ctx, o).is_none()
        })
        .map(|o| o.meta.obj_ref())
        .collect()
}

/// What `helm uninstall` of the controller in `ns` removes, and what it leaves.
pub fn controller_uninstall(ctx: &Ctx, ns: &str) -> (Vec<String>, Vec<String>) {
    let snap = ctx.snap;
    let mut removes = Vec::new();
    let mut leaves = Vec::new();
    for c in ctx.model.gha_in_namespace(ns) {
        let dep = snap.deployments.get(Some(ns), &c.name).found();
        let release = dep
            .and_then(|d| {
                d.meta
                    .annotation(model::A_HELM_RELEASE)
                    .or(d.meta.label("app.kubernetes.io/instance"))
            })
            .unwrap_or("<release>");
        removes.push(format!("`helm uninstall {release} -n {ns}` removes: Deployment {ns}/{}, ServiceAccount {ns}/{}", c.name, c.service_account));
        for crb in snap.cluster_role_bindings.iter() {
            let names_sa = crb.array("/subjects").iter().any(|s| {
                s.get("namespace").and_then(|v| v.as_str()) == Some(ns)
                    && s.get("name").and_then(|v| v.as_str()) == Some(c.service_account.as_str())
            });
            if names_sa {
                let role = crb.str("/roleRef/name").unwrap_or("");
                removes.push(format!(
                    "ClusterRoleBinding {} and ClusterRole {role}",
                    crb.meta.name
                ));
            }
        }
        for r in snap
            .roles
            .in_namespace(ns)
            .chain(snap.role_bindings.in_namespace(ns))
        {
            if r.meta.annotation(model::A_HELM_RELEASE) == Some(release) {
                removes.push(format!("{} {ns}/{}", r.meta.kind, r.meta.name));
            }
        }
        if let crate::model::ControllerScope::SingleNamespace(w) = &c.scope {
            removes.push(format!("the single-namespace Role/RoleBinding in {w}"));
        }
    }
    leaves.push(format!(
        "the leader-election Lease in {ns} (delete it: `kubectl delete lease -n {ns} --all` once the controller is gone)"
    ));
    let instances = snap.autoscaling_runner_sets.iter().count()
        + snap.autoscaling_listeners.iter().count()
        + snap.ephemeral_runner_sets.iter().count()
        + snap.ephemeral_runners.iter().count();
    let other = ctx.model.gha().any(|c| c.namespace != ns);
    if instances > 0 || other {
        leaves.push(format!(
            "the actions.github.com CRDs: keep them ({instances} instance(s) remain{}; deleting a CRD with instances hangs)",
            if other { ", another gha controller runs" } else { "" }
        ));
    } else {
        leaves.push("the actions.github.com CRDs: no instances remain and no other controller runs, so they may be deleted".to_owned());
    }
    (removes, leaves)
}

/// Leftovers of the controller namespace after its scale sets are drained (§5.3 step 2).
pub fn controller_leftovers(ctx: &Ctx, ns: &str) -> Vec<(ObjectRef, String)> {
    let snap = ctx.snap;
    let mut out = Vec::new();
    for al in snap.autoscaling_listeners.in_namespace(ns) {
        out.push((al.meta.obj_ref(), "listener".to_owned()));
    }
    let listener_like = |o: &Object| o.meta.name.contains("-listener");
    for p in snap.pods.in_namespace(ns).filter(|p| listener_like(p)) {
        out.push((p.meta.obj_ref(), "listener pod".to_owned()));
    }
    for s in snap
        .service_accounts
        .in_namespace(ns)
        .filter(|s| listener_like(s))
    {
        out.push((s.meta.obj_ref(), "listener ServiceAccount".to_owned()));
    }
    for s in snap.secrets.in_namespace(ns).filter(|s| listener_like(s)) {
        out.push((
            s.meta.obj_ref(),
            "listener config/proxy/mirror Secret".to_owned(),
        ));
    }
    out
}

/// The scale sets in `ns` by name.
pub fn scale_sets(ctx: &Ctx, ns: &str) -> Vec<String> {
    let mut v: Vec<String> = ctx
        .snap
        .autoscaling_runner_sets
        .in_namespace(ns)
        .map(|a| a.meta.name.to_owned())
        .collect();
    // Scale sets already gone whose runner sets remain (finalizer stripped by hand).
    for ers in ctx.snap.ephemeral_runner_sets.in_namespace(ns) {
        if let Some(s) = ers.meta.label(model::L_SCALE_SET_NAME)
            && !v.iter().any(|x| x == s)
        {
            v.push(s.to_owned());
        }
    }
    v
}
