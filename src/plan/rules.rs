//! The §5.5 rules, one function per object situation. Each reads facts (verdicts, references,
//! listener targets) from [`crate::facts`] and findings' objects; none re-derives a verdict.
//!
//! Not implemented (and why) — also in README "orphans rules":
//! * "try RemoveRunner / DeleteRunnerScaleSet yourself": that needs the GitHub credentials, i.e.
//!   Secret data, which this tool never reads. Every registration left behind is listed instead
//!   ([`super::GithubLeftover`]) with the manual clean-up.
//! * "temporary RoleBinding": the manager RoleBinding's subject is patched in place instead (works
//!   in Terminating namespaces too, where creating a RoleBinding is refused); so the tool creates
//!   no RBAC objects. The only object it may create is a namespace recreated to release stranded
//!   objects, labelled `app.kubernetes.io/managed-by=kubectl-arc` and deleted again in the same run.

use crate::facts::deletion::{Blocked, CauseKind, PodState, Verdict, job_id, pod_state, runner_id};
use crate::facts::{ers, listener, protected, shared_id};
use crate::findings::{Finding, Fix};
use crate::model::{
    self, A_SCALE_SET_ID, CLEANUP_ANNOTATIONS, F_AL, F_ARS, F_CP, F_ER, F_LEG_LINKED, F_LEG_POD,
    F_LEG_RUNNER, F_REG,
};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::{Builder, GithubLeftover, Id, Op, Phase};

const HELPER_FINALIZERS: [&str; 2] = ["foregroundDeletion", "orphan"];

/// Run every rule, in the order that gives the right prerequisites.
pub fn apply_all(b: &mut Builder) {
    shared_ids(b);
    webhooks(b);
    rebind(b);
    // Deleting ARC objects, bottom-up (each level links to the actions of the level below).
    for er in &b.ctx.snap.ephemeral_runners {
        if er.meta.is_deleting() {
            runner(b, er, None);
        }
    }
    for ers in &b.ctx.snap.ephemeral_runner_sets {
        if ers.meta.is_deleting() {
            runner_set(b, ers, None);
        }
    }
    for al in &b.ctx.snap.autoscaling_listeners {
        if al.meta.is_deleting() {
            listener(b, al, None, &[]);
        }
    }
    for ars in &b.ctx.snap.autoscaling_runner_sets {
        if ars.meta.is_deleting() {
            scale_set(b, ars);
        }
    }
    orphans(b);
    protected_objects(b);
    legacy(b);
    cluster_rbac(b);
    missing_namespaces(b);
    leave_the_rest(b);
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/// Is `obj`'s deletion stranded (only a human/tool can finish it)? `Ok(why)` with the facts, or
/// `Err(())` after recording why it is left alone.
fn stranded(b: &mut Builder, obj: &Object, verdict: Option<Verdict>) -> Result<Vec<String>, ()> {
    let r = obj.meta.obj_ref();
    if let Some(ns) = &b.scope.force_namespace
        && (obj.meta.ns() == ns
            || (obj.meta.kind == "AutoscalingListener"
                && model::listener_target(obj).is_some_and(|(r, _)| r == ns)))
    {
        return Ok(vec![format!(
            "--force: you state that no controller can finish namespace {ns}"
        )]);
    }
    match verdict {
        None => Err(()),
        Some(Verdict::Waiting(w)) => {
            let by = live_controller(b, obj.meta.ns());
            let what = if w.is_empty() {
                String::new()
            } else {
                format!(" (waiting for {})", w.join(", "))
            };
            b.leave(r, format!("a live controller can finish it{what}"), by);
            Err(())
        }
        Some(Verdict::Unknown(u)) => {
            b.leave(
                r,
                format!(
                    "not checked: {} could not be read, so it is not provably stranded",
                    u.join(", ")
                ),
                None,
            );
            Err(())
        }
        Some(Verdict::Stuck(blocked)) => {
            if let Some(rb) = fixed_by_rebind(b, &blocked) {
                let by = live_controller(b, obj.meta.ns());
                b.leave(
                    r,
                    format!(
                        "the live controller can finish it once {rb} names its \
                         ServiceAccount (planned subject patch)"
                    ),
                    by,
                );
                return Err(());
            }
            Ok(blocked
                .iter()
                .take(2)
                .map(|x| format!("stranded: the controller cannot {} — {}", x.step, x.cause))
                .collect())
        }
    }
}

/// When every blocked step is a permission the live controller lacks in a namespace whose manager
/// RoleBinding this plan rebinds, that RoleBinding.
fn fixed_by_rebind(b: &Builder, blocked: &[Blocked]) -> Option<ObjectRef> {
    let mut rb = None;
    for x in blocked {
        let CauseKind::Forbidden { missing, .. } = &x.cause.kind else {
            return None;
        };
        for m in missing {
            let ns = m.rsplit(" in ").next()?;
            let found = b.actions.iter().find(|a| {
                matches!(a.op, Op::PatchSubject { .. }) && a.object.namespace.as_deref() == Some(ns)
            })?;
            rb = Some(found.object.clone());
        }
    }
    rb
}

fn live_controller(b: &Builder, ns: &str) -> Option<String> {
    b.ctx
        .model
        .live_for(ns)
        .next()
        .map(|c| format!("live controller {}/{}", c.namespace, c.name))
}

/// Finalizers on `obj` the tool does not know (never touched; they keep the object alive).
fn unknown_finalizers(obj: &Object, known: &[&str]) -> Vec<String> {
    obj.meta
        .finalizers
        .iter()
        .filter(|f| !known.contains(f) && !HELPER_FINALIZERS.contains(f))
        .map(|f| (*f).to_owned())
        .collect()
}

/// Recreate the namespace first when `obj` sits in one that no longer exists (§8.1): returns the
/// prerequisite and whether everything in it must be `confirm`.
fn namespace_gate(b: &mut Builder, obj: &Object) -> (Vec<Id>, bool) {
    let ns = obj.meta.ns();
    if ns.is_empty() || b.ctx.snap.namespace_exists(ns) != Some(false) {
        return (Vec::new(), false);
    }
    let r = ObjectRef::cluster("Namespace", ns);
    let id = b.add_ref(
        Phase::RecreateNamespace,
        r,
        ("", ""),
        Op::CreateNamespace,
        Fix::Confirm,
        &["ARC-NS-MISSING"],
        vec![format!(
            "namespace {ns} no longer exists but still holds objects with finalizers; the API \
             server refuses every write but DELETE there until it exists again (arc-domain §8.1)"
        )],
        &[],
    );
    (vec![id], true)
}

fn tag(base: Fix, confirm: bool) -> Fix {
    if confirm { Fix::Confirm } else { base }
}

/// Delete an object that has no finalizers (or whose finalizers the caller strips after).
pub(super) fn delete_obj(
    b: &mut Builder,
    phase: Phase,
    obj: &Object,
    t: Fix,
    why: Vec<String>,
    after: &[Id],
) -> Id {
    let grace_zero = obj.meta.kind == "Pod"
        && matches!(
            pod_state(b.ctx, obj.meta.ns(), obj.meta.name),
            PodState::LostNode(..)
        );
    b.add(
        phase,
        obj,
        Op::Delete {
            grace_period_zero: grace_zero,
        },
        t,
        &[],
        why,
        after,
    )
}

#[allow(clippy::too_many_arguments)]
fn strip(
    b: &mut Builder,
    phase: Phase,
    obj: &Object,
    fin: &str,
    t: Fix,
    codes: &[&str],
    why: Vec<String>,
    after: &[Id],
) -> Id {
    b.add(
        phase,
        obj,
        Op::StripFinalizer {
            finalizer: fin.to_owned(),
        },
        t,
        codes,
        why,
        after,
    )
}

fn lookup<'a>(l: Lookup<'a>) -> Option<&'a Object> {
    l.found()
}

// ---------------------------------------------------------------------------------------------
// Rules

/// `ARC-SCALESET-ID-SHARED`: the stale side loses `runner-scale-set-id` before anything could let
/// a controller finalize it; the live side is never touched.
fn shared_ids(b: &mut Builder) {
    for (id, _url, arss) in shared_id::shared_groups(b.ctx) {
        let stale: Vec<(&Object, String)> = arss
            .iter()
            .filter_map(|a| shared_id::stale(b.ctx, a).map(|w| (*a, w)))
            .collect();
        let live: Vec<&&Object> = arss
            .iter()
            .filter(|a| !stale.iter().any(|(s, _)| s.meta.uid == a.meta.uid))
            .collect();
        if live.is_empty() || stale.is_empty() {
            for a in &arss {
                b.leave(
                    a.meta.obj_ref(),
                    format!(
                        "scale set ID {id} is shared and no side is clearly stale: pick the keeper \
                         and remove runner-scale-set-id from the other by hand"
                    ),
                    None,
                );
            }
            continue;
        }
        let keeper = live
            .iter()
            .map(|a| a.meta.display())
            .collect::<Vec<_>>()
            .join(", ");
        for (a, why) in stale {
            let (gate, _) = namespace_gate(b, a);
            b.add(
                Phase::SharedId,
                a,
                Op::RemoveAnnotation {
                    annotation: A_SCALE_SET_ID.to_owned(),
                    value: id.to_string(),
                },
                Fix::Confirm,
                &["ARC-SCALESET-ID-SHARED"],
                vec![
                    format!(
                        "scale set ID {id} is also used by {keeper}, which is live; finalizing {} \
                         would delete that registration on GitHub",
                        a.meta.display()
                    ),
                    format!("{} is {why}", a.meta.display()),
                ],
                &gate,
            );
        }
        for a in live {
            b.leave(
                a.meta.obj_ref(),
                format!("live side of shared scale set ID {id}: never touched"),
                None,
            );
        }
    }
}

/// `LEG-WEBHOOK-DANGLING`: delete configurations whose Service is gone, before any Runner write.
fn webhooks(b: &mut Builder) {
    let fs = codes(b.findings, "LEG-WEBHOOK-DANGLING");
    for f in fs {
        let Some(r) = f.primary() else { continue };
        let Some(o) = b.ctx.snap.find(r) else {
            continue;
        };
        let why = vec![
            "its webhook Service no longer exists, so every legacy Runner write (finalizer patches \
             included) fails while it is registered"
                .to_owned(),
        ];
        delete_obj(b, Phase::Webhooks, o, Fix::Confirm, why, &[]);
    }
}

/// `ARC-MANAGER-BINDING-MISMATCH`: point the manager RoleBinding at the one live controller.
fn rebind(b: &mut Builder) {
    for f in codes(b.findings, "ARC-MANAGER-BINDING-MISMATCH") {
        let Some(r) = f.primary() else { continue };
        let Some(rb) = lookup(
            b.ctx
                .snap
                .role_bindings
                .get(r.namespace.as_deref(), &r.name),
        ) else {
            continue;
        };
        let ns = rb.meta.ns();
        let live: Vec<_> = b.ctx.model.live_for(ns).collect();
        if live.len() != 1 {
            b.leave(
                r.clone(),
                format!(
                    "{} live controllers cover {ns}: choose which one the RoleBinding should name",
                    live.len()
                ),
                None,
            );
            continue;
        }
        let c = live[0];
        let subjects = rb.array("/subjects");
        let Some((index, s)) = subjects.iter().enumerate().find(|(_, s)| {
            s.get("kind").and_then(|k| k.as_str()) == Some("ServiceAccount")
                && (s.get("namespace").and_then(|v| v.as_str()) != Some(c.namespace.as_str())
                    || s.get("name").and_then(|v| v.as_str()) != Some(c.service_account.as_str()))
        }) else {
            continue;
        };
        let from_ns = s.get("namespace").and_then(|v| v.as_str()).unwrap_or("");
        let from_name = s.get("name").and_then(|v| v.as_str()).unwrap_or("");
        // A shared scale-set ID in this namespace must be neutralised before the controller may
        // finalize anything here.
        let before: Vec<Id> = b
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.phase == Phase::SharedId && a.object.namespace.as_deref() == Some(ns)
            })
            .map(|(i, _)| Id(i))
            .collect();
        b.add(
            Phase::Rebind,
            rb,
            Op::PatchSubject {
                index,
                from_namespace: from_ns.to_owned(),
                from_name: from_name.to_owned(),
                to_namespace: c.namespace.clone(),
                to_name: c.service_account.clone(),
            },
            Fix::Confirm,
            &[],
            vec![format!(
                "exactly one live controller ({}/{}) covers {ns}; the RoleBinding names \
                 ServiceAccount {from_ns}/{from_name}, which is not live",
                c.namespace, c.name
            )],
            &before,
        );
    }
}

/// How a finalizer rule starts for `obj`: its strip of `fin` is already planned, or the facts that
/// make touching it safe (`inherited` from a stranded parent, else its own verdict). `None` after
/// recording why it is left alone (not stranded, or finalizers the tool does not know).
enum Start {
    Planned(Id),
    Go(Vec<String>),
}

fn start(
    b: &mut Builder,
    obj: &Object,
    fin: &str,
    known: &[&str],
    inherited: Option<&[String]>,
) -> Option<Start> {
    let r = obj.meta.obj_ref();
    let strip = Op::StripFinalizer {
        finalizer: fin.to_owned(),
    };
    if let Some(id) = b.find(&r, &strip) {
        return Some(Start::Planned(id));
    }
    let why = match inherited {
        Some(w) => w.to_vec(),
        None => {
            let v = b.ctx.deletion(obj);
            stranded(b, obj, v).ok()?
        }
    };
    let unknown = unknown_finalizers(obj, known);
    if !unknown.is_empty() {
        b.leave(
            r,
            format!(
                "carries finalizers the tool does not know: {}",
                unknown.join(", ")
            ),
            None,
        );
        return None;
    }
    Some(Start::Go(why))
}

/// A deleting (or about-to-be-deleted) EphemeralRunner: pod and JIT secret, registration
/// finalizer (confirm: it leaks the GitHub runner), runner finalizer. Returns the last action.
fn runner(b: &mut Builder, er: &Object, inherited: Option<&[String]>) -> Option<Id> {
    let r = er.meta.obj_ref();
    let ns = er.meta.ns();
    if let Some(job) = job_id(er)
        && matches!(pod_state(b.ctx, ns, er.meta.name), PodState::Present)
    {
        b.leave(
            r,
            format!("running job {job}: a runner with a job in progress is never touched"),
            live_controller(b, ns),
        );
        return None;
    }
    let why = match start(b, er, F_ER, &[F_REG, F_ER], inherited)? {
        Start::Planned(id) => return Some(id),
        Start::Go(why) => why,
    };
    let (gate, confirm) = namespace_gate(b, er);
    let mut after = gate.clone();
    if !er.meta.is_deleting() {
        after.push(delete_obj(
            b,
            Phase::Orphans,
            er,
            tag(Fix::Auto, confirm),
            why.clone(),
            &gate,
        ));
    }
    if er.meta.has_finalizer(F_REG) {
        let id = strip(
            b,
            Phase::Runners,
            er,
            F_REG,
            Fix::Confirm,
            &["ARC-STUCK-ER"],
            why.clone(),
            &after,
        );
        let rid = runner_id(er);
        if rid > 0 {
            b.leftover(
                id,
                GithubLeftover {
                    kind: "runner",
                    id: rid.to_string(),
                    name: er.meta.name.to_owned(),
                    object: r.clone(),
                    step: 0,
                    cleanup: format!(
                        "Remove runner {} (id {rid}) in the repository/organization's Actions \
                         runner settings (ephemeral runners are removed after about a day offline)",
                        er.meta.name
                    ),
                },
            );
        }
        after.push(id);
    }
    // The runner pod, then its JIT secret (same name as the runner).
    for coll in [&b.ctx.snap.pods, &b.ctx.snap.secrets] {
        if let Some(o) = lookup(coll.get(Some(ns), er.meta.name)) {
            let id = delete_obj(
                b,
                Phase::Runners,
                o,
                tag(Fix::Auto, confirm),
                vec![format!(
                    "belongs to the stranded runner {}",
                    er.meta.display()
                )],
                &after,
            );
            after.push(id);
        }
    }
    if !er.meta.has_finalizer(F_ER) {
        return after.last().copied();
    }
    Some(strip(
        b,
        Phase::Runners,
        er,
        F_ER,
        tag(Fix::Auto, confirm),
        &["ARC-STUCK-ER"],
        why,
        &after,
    ))
}

/// A deleting (or about-to-be-deleted) EphemeralRunnerSet: its runners first, then its proxy
/// secret, then its finalizer.
fn runner_set(b: &mut Builder, ers: &Object, inherited: Option<&[String]>) -> Option<Id> {
    let r = ers.meta.obj_ref();
    let fin = ers::finalizer(ers)?;
    let why = match start(b, ers, fin, &[fin], inherited)? {
        Start::Planned(id) => return Some(id),
        Start::Go(why) => why,
    };
    let (gate, confirm) = namespace_gate(b, ers);
    let mut after = gate.clone();
    let mut blocked = Vec::new();
    for er in ers::children(b.ctx, ers) {
        match runner(b, er, Some(&why)) {
            Some(id) => after.push(id),
            None => blocked.push(er.meta.display()),
        }
    }
    if !blocked.is_empty() {
        b.leave(
            r,
            format!(
                "waits for its runners, which are left alone: {}",
                blocked.join(", ")
            ),
            live_controller(b, ers.meta.ns()),
        );
        return None;
    }
    if !ers.meta.is_deleting() {
        after.push(delete_obj(
            b,
            Phase::Orphans,
            ers,
            tag(Fix::Auto, confirm),
            why.clone(),
            &gate,
        ));
    }
    // The ERS proxy secret (owned by the ERS).
    let proxy: Vec<&Object> = b
        .ctx
        .snap
        .secrets
        .in_namespace(ers.meta.ns())
        .filter(|s| {
            s.meta
                .owner_references
                .iter()
                .any(|o| o.uid == ers.meta.uid)
        })
        .collect();
    for s in proxy {
        after.push(delete_obj(
            b,
            Phase::RunnerSets,
            s,
            tag(Fix::Auto, confirm),
            vec![format!(
                "proxy secret of the stranded {}",
                ers.meta.display()
            )],
            &after.clone(),
        ));
    }
    let mut why = why;
    why.push("no EphemeralRunner of it remains once the steps before have run".to_owned());
    Some(strip(
        b,
        Phase::RunnerSets,
        ers,
        fin,
        tag(Fix::Auto, confirm),
        &["ARC-STUCK-ERS"],
        why,
        &after,
    ))
}

/// A deleting AutoscalingListener: its pod, secrets, ServiceAccount and (labelled) Role/RoleBinding,
/// then its finalizer.
fn listener(
    b: &mut Builder,
    al: &Object,
    inherited: Option<&[String]>,
    after0: &[Id],
) -> Option<Id> {
    if !al.meta.has_finalizer(F_AL) {
        return after0.last().copied();
    }
    let why = match start(b, al, F_AL, &[F_AL], inherited)? {
        Start::Planned(id) => return Some(id),
        Start::Go(why) => why,
    };
    let (gate, confirm) = namespace_gate(b, al);
    let mut after: Vec<Id> = after0.iter().chain(gate.iter()).copied().collect();
    let mut pods = Vec::new();
    for child in listener::leftovers(b.ctx, al) {
        let Some(o) = b.ctx.snap.find(&child) else {
            continue;
        };
        // The config/proxy secrets are mounted by the pod: the pod goes first.
        let pre: Vec<Id> = if child.kind == "Secret" {
            after.iter().chain(pods.iter()).copied().collect()
        } else {
            after.clone()
        };
        let child_confirm = confirm || b.ctx.snap.namespace_exists(o.meta.ns()) == Some(false);
        let id = delete_obj(
            b,
            Phase::Listeners,
            o,
            tag(Fix::Auto, child_confirm),
            vec![format!(
                "child of the stranded listener {} (labelled for it or named after it)",
                al.meta.display()
            )],
            &pre,
        );
        if child.kind == "Pod" {
            pods.push(id);
        }
        after.push(id);
    }
    Some(strip(
        b,
        Phase::Listeners,
        al,
        F_AL,
        tag(Fix::Auto, confirm),
        &["ARC-STUCK-LISTENER"],
        why,
        &after,
    ))
}

/// A deleting AutoscalingRunnerSet that no controller can finish: its runner sets and listeners
/// (wherever they are) first, then its finalizer (confirm: it may leak the GitHub scale set), then
/// the chart objects it would have released.
fn scale_set(b: &mut Builder, ars: &Object) {
    let r = ars.meta.obj_ref();
    if !ars.meta.has_finalizer(F_ARS) {
        return;
    }
    let Some(Start::Go(why)) = start(b, ars, F_ARS, &[F_ARS], None) else {
        return;
    };
    let (gate, _) = namespace_gate(b, ars);
    let mut after = gate.clone();
    let mut blocked = Vec::new();
    let shared = b.find(
        &r,
        &Op::RemoveAnnotation {
            annotation: A_SCALE_SET_ID.to_owned(),
            value: model::scale_set_id(ars)
                .map(|i| i.to_string())
                .unwrap_or_default(),
        },
    );
    after.extend(shared);
    for ers in crate::facts::ars::runner_sets(b.ctx, ars) {
        if ers.meta.finalizers.is_empty() {
            continue;
        }
        match runner_set(b, ers, Some(&why)) {
            Some(id) => after.push(id),
            None => blocked.push(ers.meta.display()),
        }
    }
    let target = (ars.meta.ns(), ars.meta.name);
    let listeners: Vec<&Object> = b
        .ctx
        .snap
        .autoscaling_listeners
        .iter()
        .filter(|al| model::listener_target(al) == Some(target))
        .collect();
    for al in listeners {
        let mut pre = after.clone();
        if !al.meta.is_deleting() {
            pre.push(delete_obj(
                b,
                Phase::Orphans,
                al,
                Fix::Auto,
                vec![format!(
                    "listener of the stranded scale set {}",
                    ars.meta.display()
                )],
                &[],
            ));
        }
        let lv = b.ctx.deletion(al);
        let lwhy = match stranded(b, al, lv) {
            Ok(w) => w,
            Err(()) if !al.meta.has_finalizer(F_AL) => Vec::new(),
            Err(()) => {
                blocked.push(al.meta.display());
                continue;
            }
        };
        match listener(b, al, Some(&lwhy), &pre) {
            Some(id) => after.push(id),
            None => blocked.push(al.meta.display()),
        }
    }
    if !blocked.is_empty() {
        b.leave(
            r,
            format!(
                "its finalizer waits until these are gone, and they are left alone: {}",
                blocked.join(", ")
            ),
            live_controller(b, ars.meta.ns()),
        );
        return;
    }
    let mut why = why;
    why.push(
        "no listener, EphemeralRunnerSet or runner of it remains once the steps before have run"
            .to_owned(),
    );
    let id = strip(
        b,
        Phase::ScaleSets,
        ars,
        F_ARS,
        Fix::Confirm,
        &["ARC-STUCK-ARS"],
        why,
        &after,
    );
    if let Some(sid) = model::scale_set_id(ars)
        && shared.is_none()
    {
        b.leftover(
            id,
            GithubLeftover {
                kind: "scaleSet",
                id: sid.to_string(),
                name: ars
                    .meta
                    .annotation("actions.github.com/runner-scale-set-name")
                    .unwrap_or(ars.meta.name)
                    .to_owned(),
                object: r.clone(),
                step: 0,
                cleanup: format!(
                    "Delete runner scale set {sid} on GitHub (Settings → Actions → Runners → Runner \
                     scale sets); GitHub also removes an offline scale set after about a day"
                ),
            },
        );
    }
    // Release what step 5 would have released.
    for (annotation, kind) in CLEANUP_ANNOTATIONS {
        let Some(name) = ars.meta.annotation(annotation) else {
            continue;
        };
        let Some(o) = b
            .ctx
            .snap
            .find(&ObjectRef::namespaced(kind, ars.meta.ns(), name))
        else {
            continue;
        };
        if o.meta.has_finalizer(F_CP) {
            release(
                b,
                o,
                Fix::Auto,
                &format!("the stranded scale set {}", ars.meta.display()),
                &[id],
            );
        }
    }
}

/// Strip `cleanup-protection` from a chart object (deleting: it then goes; not deleting: delete it
/// after, confirm).
fn release(b: &mut Builder, o: &Object, t: Fix, because: &str, after: &[Id]) -> Id {
    let (gate, confirm) = namespace_gate(b, o);
    let pre: Vec<Id> = after.iter().chain(gate.iter()).copied().collect();
    let why = vec![format!(
        "{because} will never release it (arc-domain §3 step 5); no AutoscalingRunnerSet in {} \
         names it any more",
        o.meta.ns()
    )];
    let id = strip(
        b,
        Phase::Dependents,
        o,
        F_CP,
        tag(t, confirm),
        &["ARC-STUCK-PROTECTED"],
        why.clone(),
        &pre,
    );
    if o.meta.is_deleting() {
        return id;
    }
    if o.meta.kind == "Secret" && referenced(b, o) {
        return id;
    }
    delete_obj(b, Phase::Dependents, o, Fix::Confirm, why, &[id])
}

/// Is this Secret referenced by an ARC object the plan does not remove?
fn referenced(b: &Builder, s: &Object) -> bool {
    crate::facts::secret_refs::github_refs(b.ctx)
        .iter()
        .any(|g| {
            g.namespace == s.meta.ns()
                && g.name == s.meta.name
                && !b.removed.contains(&g.referrer.meta.obj_ref())
                && !g.referrer.meta.is_deleting()
        })
}

/// `ARC-STUCK-PROTECTED` / `ARC-ORPHAN-CHART-RBAC`: chart objects whose scale set is gone.
fn protected_objects(b: &mut Builder) {
    let snap = b.ctx.snap;
    let all = snap
        .secrets
        .iter()
        .chain(snap.roles.iter())
        .chain(snap.role_bindings.iter())
        .chain(snap.service_accounts.iter());
    let cands: Vec<&Object> = all.filter(|o| o.meta.has_finalizer(F_CP)).collect();
    for o in cands {
        let r = o.meta.obj_ref();
        if b.find(
            &r,
            &Op::StripFinalizer {
                finalizer: F_CP.to_owned(),
            },
        )
        .is_some()
        {
            continue;
        }
        match protected::owner_ars(b.ctx, o) {
            Some(_) if !o.meta.is_deleting() => {}
            Some(ars) => {
                let why = if ars.meta.is_deleting() {
                    format!(
                        "its scale set {} is still deleting and releases it when done",
                        ars.meta.display()
                    )
                } else {
                    format!(
                        "its scale set {} still exists; deleting that scale set releases it",
                        ars.meta.display()
                    )
                };
                b.leave(r, why, live_controller(b, o.meta.ns()));
            }
            None if o.meta.is_deleting() => {
                if let Some(al) = listener_needing_rbac(b, o) {
                    b.leave(
                        r,
                        format!(
                            "the live controller still needs it to clean up listener {}; run \
                             again once that listener is gone",
                            al.meta.display()
                        ),
                        live_controller(b, o.meta.ns()),
                    );
                    continue;
                }
                release(b, o, Fix::Auto, "the deleted scale set", &[]);
            }
            None => {
                if let Some(release_name) = o.meta.annotation(model::A_HELM_RELEASE)
                    && helm_release_exists(b, o.meta.ns(), release_name)
                {
                    b.leave(
                        r,
                        format!(
                            "chart leftover of Helm release {release_name}: run `helm uninstall \
                             {release_name} -n {}` (then `kubectl arc orphans --fix` releases it)",
                            o.meta.ns()
                        ),
                        None,
                    );
                    continue;
                }
                release(b, o, Fix::Confirm, "the deleted scale set", &[]);
            }
        }
    }
    // Chart RBAC leftovers without the finalizer.
    for f in codes(b.findings, "ARC-ORPHAN-CHART-RBAC") {
        let Some(r) = f.primary() else { continue };
        if b.has_actions(r) {
            continue;
        }
        let Some(o) = b.ctx.snap.find(r) else {
            continue;
        };
        if !o.meta.finalizers.is_empty() {
            continue;
        }
        if let Some(release_name) = o.meta.annotation(model::A_HELM_RELEASE)
            && helm_release_exists(b, o.meta.ns(), release_name)
        {
            b.leave(
                r.clone(),
                format!("chart leftover of Helm release {release_name}: run `helm uninstall {release_name} -n {}`", o.meta.ns()),
                None,
            );
            continue;
        }
        if o.meta.kind == "Secret" && referenced(b, o) {
            continue;
        }
        let why = vec![format!(
            "chart object of a scale set that no longer exists in {}; no Helm release record owns it",
            o.meta.ns()
        )];
        delete_obj(b, Phase::Dependents, o, Fix::Confirm, why, &[]);
    }
}

/// A listener for a scale set in `o`'s namespace that is being deleted (or that this plan deletes)
/// and that a live controller will clean up — using the manager Role/RoleBinding `o`.
fn listener_needing_rbac<'a>(b: &Builder<'_, 'a>, o: &Object) -> Option<&'a Object> {
    if !matches!(o.meta.kind, "Role" | "RoleBinding") {
        return None;
    }
    b.ctx.snap.autoscaling_listeners.iter().find(|al| {
        model::listener_target(al).is_some_and(|(ns, _)| ns == o.meta.ns())
            && (al.meta.is_deleting() || b.removed.contains(&al.meta.obj_ref()))
            && matches!(b.ctx.deletion(al), Some(Verdict::Waiting(_)))
    })
}

fn helm_release_exists(b: &Builder, ns: &str, release: &str) -> bool {
    b.ctx
        .snap
        .secrets
        .in_namespace(ns)
        .any(|s| s.meta.label("owner") == Some("helm") && s.meta.label("name") == Some(release))
}

/// Orphans and stale listeners named by findings: delete them (and finish a stranded listener).
fn orphans(b: &mut Builder) {
    // Stale/orphan listeners: delete; if no controller can then clean them up, do it ourselves.
    for code in [
        "ARC-ORPHAN-LISTENER",
        "ARC-LISTENER-DUPLICATE",
        "ARC-LISTENER-DRIFT",
        "ARC-LISTENER-NS-FOREIGN",
    ] {
        for f in codes(b.findings, code) {
            let Some(r) = f.primary() else { continue };
            let Some(al) = lookup(
                b.ctx
                    .snap
                    .autoscaling_listeners
                    .get(r.namespace.as_deref(), &r.name),
            ) else {
                continue;
            };
            if al.meta.is_deleting() {
                continue; // handled (or left) by the deletion rules
            }
            if code == "ARC-LISTENER-DUPLICATE"
                && let Some((ns, _)) = model::listener_target(al)
                && b.ctx.model.live_for(ns).count() > 1
            {
                b.leave(
                    r.clone(),
                    "several live controllers serve its scale set and each keeps a listener: \
                     resolve ARC-MULTIPLE-CONTROLLERS first (deleting it would only make its \
                     controller recreate it)",
                    None,
                );
                continue;
            }
            let (gate, confirm) = namespace_gate(b, al);
            let why = vec![match code {
                "ARC-ORPHAN-LISTENER" => "the scale set it serves no longer exists".to_owned(),
                "ARC-LISTENER-DUPLICATE" => "another listener is the one the live controller keeps for its scale set".to_owned(),
                "ARC-LISTENER-DRIFT" => "it no longer matches its scale set; the live controller recreates it".to_owned(),
                _ => "it lives outside every live controller's namespace; the live controller runs its own".to_owned(),
            }];
            let del = delete_obj(b, Phase::Orphans, al, tag(Fix::Auto, confirm), why, &gate);
            let v = b.ctx.deletion(al);
            match v {
                Some(Verdict::Stuck(_)) => {
                    if let Ok(w) = stranded(b, al, v) {
                        listener(b, al, Some(&w), &[del]);
                    }
                }
                Some(Verdict::Waiting(_)) | None => {}
                Some(Verdict::Unknown(_)) => {}
            }
        }
    }
    // Plain deletions.
    for code in [
        "ARC-LISTENER-RBAC-ORPHAN",
        "ARC-LISTENER-RBAC-COLLISION",
        "ARC-ORPHAN-LISTENER-CHILD",
        "ARC-CREDENTIAL-COPY-ORPHAN",
        "ARC-ORPHAN-RUNNER-OBJECTS",
    ] {
        for f in codes(b.findings, code) {
            let targets: Vec<ObjectRef> = match code {
                "ARC-LISTENER-RBAC-ORPHAN"
                | "ARC-LISTENER-RBAC-COLLISION"
                | "ARC-ORPHAN-RUNNER-OBJECTS" => f
                    .objects
                    .iter()
                    .filter(|o| {
                        matches!(
                            o.kind.as_str(),
                            "Role"
                                | "RoleBinding"
                                | "Pod"
                                | "Secret"
                                | "EphemeralRunner"
                                | "EphemeralRunnerSet"
                        )
                    })
                    .cloned()
                    .collect(),
                _ => f.primary().into_iter().cloned().collect(),
            };
            // Pods before Secrets.
            let mut targets = targets;
            targets.sort_by_key(|t| (t.kind == "Secret", t.clone()));
            let mut pods: Vec<(ObjectRef, Id)> = Vec::new();
            for t in targets {
                let Some(o) = b.ctx.snap.find(&t) else {
                    continue;
                };
                if o.meta.is_deleting() {
                    continue;
                }
                if o.meta.kind == "Secret" && referenced(b, o) {
                    b.leave(
                        t,
                        "a Secret is never deleted while an ARC object references it",
                        None,
                    );
                    continue;
                }
                if matches!(o.meta.kind, "EphemeralRunner" | "EphemeralRunnerSet") {
                    let why = vec![format!(
                        "{} has no owner any more (garbage-collected parent)",
                        o.meta.display()
                    )];
                    if o.meta.kind == "EphemeralRunner" {
                        runner(b, o, Some(&why));
                    } else {
                        runner_set(b, o, Some(&why));
                    }
                    continue;
                }
                let (gate, confirm) = namespace_gate(b, o);
                let pre: Vec<Id> = if o.meta.kind == "Secret" {
                    gate.iter()
                        .copied()
                        .chain(
                            pods.iter()
                                .filter(|(p, _)| p.namespace == t.namespace)
                                .map(|(_, i)| *i),
                        )
                        .chain(pod_deletes_using(b, o))
                        .collect()
                } else {
                    gate.clone()
                };
                let why = vec![orphan_why(code, o)];
                let id = delete_obj(b, Phase::Orphans, o, tag(Fix::Auto, confirm), why, &pre);
                if o.meta.kind == "Pod" {
                    pods.push((t, id));
                }
            }
        }
    }
    // A dead scale-set ID: drop the annotation and the listener so the controller registers again.
    for f in codes(b.findings, "ARC-SCALESET-ID-DEAD") {
        let Some(r) = f.primary() else { continue };
        let Some(ars) = lookup(
            b.ctx
                .snap
                .autoscaling_runner_sets
                .get(r.namespace.as_deref(), &r.name),
        ) else {
            continue;
        };
        let Some(id) = model::scale_set_id(ars) else {
            continue;
        };
        let a = b.add(
            Phase::SharedId,
            ars,
            Op::RemoveAnnotation {
                annotation: A_SCALE_SET_ID.to_owned(),
                value: id.to_string(),
            },
            Fix::Confirm,
            &[],
            vec![format!("scale set {id} no longer exists on GitHub; without the annotation the live controller registers the scale set again")],
            &[],
        );
        let target = (ars.meta.ns(), ars.meta.name);
        let als: Vec<&Object> = b
            .ctx
            .snap
            .autoscaling_listeners
            .iter()
            .filter(|al| model::listener_target(al) == Some(target) && !al.meta.is_deleting())
            .collect();
        for al in als {
            delete_obj(
                b,
                Phase::Orphans,
                al,
                Fix::Confirm,
                vec![format!(
                    "its listener keeps using the dead scale set {id}; the live controller recreates it"
                )],
                &[a],
            );
        }
    }
}

/// Planned deletions of pods that mount Secret `s` (or are named like it, as a runner pod and its
/// JIT secret are): the Secret goes after them.
fn pod_deletes_using(b: &Builder, s: &Object) -> Vec<Id> {
    let ns = s.meta.ns();
    let pods: Vec<ObjectRef> = b
        .ctx
        .snap
        .pods
        .in_namespace(ns)
        .filter(|p| {
            p.meta.name == s.meta.name
                || p.array("/spec/volumes").iter().any(|v| {
                    v.pointer("/secret/secretName").and_then(|n| n.as_str()) == Some(s.meta.name)
                })
        })
        .map(|p| p.meta.obj_ref())
        .collect();
    pods.iter()
        .flat_map(|p| b.actions_on(p))
        .filter(|id| matches!(b.actions[id.0].op, Op::Delete { .. }))
        .collect()
}

fn orphan_why(code: &str, o: &Object) -> String {
    match code {
        "ARC-LISTENER-RBAC-ORPHAN" => {
            "its labels point at a listener that no longer exists".to_owned()
        }
        "ARC-LISTENER-RBAC-COLLISION" => format!(
            "it belongs to a stale listener but carries the live listener's name; the live \
             controller recreates {} for its own listener",
            o.meta.name
        ),
        "ARC-ORPHAN-LISTENER-CHILD" => "its listener no longer exists (owner gone)".to_owned(),
        "ARC-CREDENTIAL-COPY-ORPHAN" => {
            "a copy of GitHub credentials that no live listener uses (metadata-only backup; the \
             controller recreates it if needed)"
                .to_owned()
        }
        _ => "its owner no longer exists (garbage-collected parent)".to_owned(),
    }
}

/// Legacy Runners and runner pods stuck on their finalizers with no legacy controller.
fn legacy(b: &mut Builder) {
    let hooks: Vec<Id> = b
        .actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.phase == Phase::Webhooks)
        .map(|(i, _)| Id(i))
        .collect();
    for code in ["LEG-STUCK-RUNNER", "LEG-NO-CONTROLLER", "LEG-STUCK-POD"] {
        for f in codes(b.findings, code) {
            let Some(r) = f.primary() else { continue };
            if !matches!(r.kind.as_str(), "Runner" | "Pod") {
                continue;
            }
            let Some(o) = b.ctx.snap.find(r) else {
                continue;
            };
            if !o.meta.is_deleting() {
                b.leave(
                    r.clone(),
                    "not being deleted: only finalizers of deleting objects are stripped",
                    None,
                );
                continue;
            }
            let (gate, _) = namespace_gate(b, o);
            let mut after: Vec<Id> = hooks.iter().chain(gate.iter()).copied().collect();
            let why = vec![format!(
                "no legacy controller can finish it ({})",
                f.message.split(". ").next().unwrap_or("")
            )];
            for fin in [F_LEG_POD, F_LEG_LINKED, F_LEG_RUNNER] {
                if o.meta.has_finalizer(fin) {
                    after.push(strip(
                        b,
                        Phase::Legacy,
                        o,
                        fin,
                        Fix::Confirm,
                        &[code],
                        why.clone(),
                        &after.clone(),
                    ));
                }
            }
            // The Runner's pod is garbage-collected once the Runner goes, and then hangs on its
            // own legacy finalizer: release it in the same run.
            if o.meta.kind == "Runner" {
                let pods: Vec<&Object> = b
                    .ctx
                    .snap
                    .pods
                    .in_namespace(o.meta.ns())
                    .filter(|p| {
                        p.meta.has_finalizer(F_LEG_POD)
                            && (p.meta.owner_references.iter().any(|x| x.uid == o.meta.uid)
                                || p.meta.name == o.meta.name)
                    })
                    .collect();
                for p in pods {
                    let pre = after.clone();
                    let d = if p.meta.is_deleting() {
                        None
                    } else {
                        Some(delete_obj(
                            b,
                            Phase::Legacy,
                            p,
                            Fix::Confirm,
                            vec![format!("runner pod of {}", o.meta.display())],
                            &pre,
                        ))
                    };
                    let pre2: Vec<Id> = pre.iter().copied().chain(d).collect();
                    after.push(strip(
                        b,
                        Phase::Legacy,
                        p,
                        F_LEG_POD,
                        Fix::Confirm,
                        &[code],
                        vec![format!(
                            "runner pod of {}: no legacy controller removes its finalizer",
                            o.meta.display()
                        )],
                        &pre2,
                    ));
                }
            }
            if let Some(id) = o
                .meta
                .annotation("actions-runner/id")
                .or_else(|| o.str("/status/runnerId"))
            {
                let last = *after.last().expect("at least the gate or a strip");
                b.leftover(
                    last,
                    GithubLeftover {
                        kind: "runner",
                        id: id.to_owned(),
                        name: o.meta.name.to_owned(),
                        object: r.clone(),
                        step: 0,
                        cleanup: format!(
                            "Remove runner {} (id {id}) in GitHub's runner settings",
                            o.meta.name
                        ),
                    },
                );
            }
        }
    }
}

/// `ARC-STALE-CLUSTER-RBAC`: delete cluster RBAC of a removed controller.
fn cluster_rbac(b: &mut Builder) {
    for f in codes(b.findings, "ARC-STALE-CLUSTER-RBAC") {
        for r in f
            .objects
            .iter()
            .filter(|o| matches!(o.kind.as_str(), "ClusterRoleBinding" | "ClusterRole"))
        {
            let Some(o) = b.ctx.snap.find(r) else {
                continue;
            };
            if !o.meta.finalizers.is_empty() {
                continue;
            }
            let why = vec!["no Deployment runs as the ServiceAccount it binds (the controller it belonged to is gone)".to_owned()];
            delete_obj(b, Phase::Cluster, o, Fix::Confirm, why, &[]);
        }
    }
}

/// Namespaces recreated by this plan are deleted again once everything in them ran; objects
/// without finalizers stranded in a missing namespace are deleted (DELETE works there).
fn missing_namespaces(b: &mut Builder) {
    for f in codes(b.findings, "ARC-NS-MISSING") {
        for r in f.objects.iter().skip(1) {
            if b.has_actions(r) || r.namespace.is_none() {
                continue;
            }
            let Some(o) = b.ctx.snap.find(r) else {
                continue;
            };
            if o.meta
                .namespace
                .is_none_or(|ns| b.ctx.snap.namespace_exists(ns) != Some(false))
            {
                continue;
            }
            if o.meta.finalizers.is_empty() && !matches!(o.meta.kind, "AutoscalingRunnerSet") {
                let why = vec![format!("stranded in the deleted namespace {}", o.meta.ns())];
                delete_obj(b, Phase::Orphans, o, Fix::Confirm, why, &[]);
            }
        }
    }
    let recreated: Vec<ObjectRef> = b
        .actions
        .iter()
        .filter(|a| a.op == Op::CreateNamespace)
        .map(|a| a.object.clone())
        .collect();
    for ns in recreated {
        let inside: Vec<Id> = b
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.object.namespace.as_deref() == Some(ns.name.as_str()))
            .map(|(i, _)| Id(i))
            .collect();
        let create = b.find(&ns, &Op::CreateNamespace).expect("just listed");
        let mut after = vec![create];
        after.extend(inside);
        b.add_ref(
            Phase::DeleteNamespace,
            ns.clone(),
            ("", ""),
            Op::Delete {
                grace_period_zero: false,
            },
            Fix::Confirm,
            &["ARC-NS-MISSING"],
            vec![format!(
                "namespace {} was recreated only to release its stranded objects",
                ns.name
            )],
            &after,
        );
    }
}

/// Every object a finding names that no action touches: say why.
fn leave_the_rest(b: &mut Builder) {
    let findings = b.findings;
    for f in findings {
        let Some(r) = f.primary() else { continue };
        if b.has_actions(r) || b.is_left(r) {
            continue;
        }
        if f.objects.iter().any(|o| b.has_actions(o)) {
            continue; // resolved through another object of the same finding
        }
        let reason = match f.fix {
            Fix::Manual => format!(
                "manual fix needed ({}): {}",
                f.code,
                f.remediation
                    .first()
                    .map(String::as_str)
                    .unwrap_or(&f.title)
            ),
            _ => format!("{}: no safe automatic action applies", f.code),
        };
        // Only a progressing deletion has someone expected to finish it.
        let by = (f.code == "ARC-DELETION-PROGRESSING")
            .then(|| r.namespace.as_deref().and_then(|ns| live_controller(b, ns)))
            .flatten();
        b.leave(r.clone(), reason, by);
    }
}

fn codes(findings: &[Finding], code: &str) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| f.code == code)
        .cloned()
        .collect()
}
