//! The repair plan: pure. [`Ctx`] (snapshot + derived facts) and the findings in, an ordered list
//! of [`Action`]s out, plus what the plan deliberately leaves alone ([`Untouched`]) and what
//! stays registered on GitHub ([`GithubLeftover`]).
//!
//! Rules follow arc-domain §5.5 and §8 (see [`rules`]); the stranded/processable verdicts come
//! from [`crate::facts`] and are never re-derived here. Ordering (see [`Phase`]):
//! shared scale-set IDs lose their annotation first; dangling legacy webhooks go before any legacy
//! finalizer; missing namespaces are recreated before anything in them is patched; RoleBinding
//! subjects are fixed before anything that depends on them; then bottom-up within a scale set
//! (EphemeralRunner → EphemeralRunnerSet → AutoscalingListener → AutoscalingRunnerSet →
//! `cleanup-protection` dependents); recreated namespaces are deleted last. Every action names the
//! steps that must succeed before it (`after`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::facts::Ctx;
use crate::findings::{Finding, Fix};
use crate::snapshot::{Object, ObjectRef};

pub mod drain;
pub mod rules;

pub const API_VERSION: &str = "kubectl-arc.dev/v1alpha1";

/// Global order of the plan; lower runs first (insertion order within a phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Remove `runner-scale-set-id` from the stale side of a shared registration.
    SharedId,
    /// Delete legacy webhook configurations whose Service is gone.
    Webhooks,
    /// Recreate a namespace that holds stranded objects (so they can be patched).
    RecreateNamespace,
    /// Fix manager RoleBinding subjects so the live controller can finish by itself.
    Rebind,
    /// Delete orphans and stale listeners (no finalizer work yet).
    Orphans,
    /// EphemeralRunners: pod and JIT secret, then their finalizers.
    Runners,
    /// EphemeralRunnerSets: proxy secret, then the finalizer.
    RunnerSets,
    /// AutoscalingListeners: children, then the finalizer.
    Listeners,
    /// AutoscalingRunnerSets: the finalizer.
    ScaleSets,
    /// Chart objects: `cleanup-protection`, then leftovers.
    Dependents,
    /// Legacy Runners and runner pods.
    Legacy,
    /// Cluster-scoped leftovers (stale cluster RBAC).
    Cluster,
    /// Delete namespaces recreated by this plan.
    DeleteNamespace,
}

/// What to do to one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Op {
    /// DELETE with uid + resourceVersion preconditions (`gracePeriodSeconds=0` for a pod whose
    /// node is gone).
    #[serde(rename_all = "camelCase")]
    Delete { grace_period_zero: bool },
    /// JSON patch: `test` the finalizer at its index, `remove` it.
    #[serde(rename_all = "camelCase")]
    StripFinalizer { finalizer: String },
    /// JSON patch: `test` the annotation value, `remove` it.
    #[serde(rename_all = "camelCase")]
    RemoveAnnotation { annotation: String, value: String },
    /// JSON patch of a RoleBinding subject: `test` the old ServiceAccount, `replace` it.
    #[serde(rename_all = "camelCase")]
    PatchSubject {
        index: usize,
        from_namespace: String,
        from_name: String,
        to_namespace: String,
        to_name: String,
    },
    /// Create the namespace again (labelled `app.kubernetes.io/managed-by=kubectl-arc`).
    CreateNamespace,
}

impl Op {
    /// Short human text: "delete", "strip finalizer F", …
    pub fn describe(&self) -> String {
        match self {
            Op::Delete {
                grace_period_zero: true,
            } => "delete (grace period 0: node gone)".to_owned(),
            Op::Delete { .. } => "delete".to_owned(),
            Op::StripFinalizer { finalizer } => format!("strip finalizer {finalizer}"),
            Op::RemoveAnnotation { annotation, value } => {
                format!("remove annotation {annotation}={value}")
            }
            Op::PatchSubject {
                from_namespace,
                from_name,
                to_namespace,
                to_name,
                ..
            } => format!(
                "patch subject ServiceAccount {from_namespace}/{from_name} -> {to_namespace}/{to_name}"
            ),
            Op::CreateNamespace => "create namespace (temporary)".to_owned(),
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// 1-based position in the plan: the order it runs in.
    pub step: usize,
    #[serde(flatten)]
    pub op: Op,
    pub object: ObjectRef,
    /// The object as the plan saw it (preconditions); empty for objects the plan creates.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// `auto` runs with `--fix`; `confirm` also needs `--include-confirm`.
    pub tag: Fix,
    /// The finding codes behind it.
    pub codes: Vec<String>,
    /// Why it is safe: the facts it rests on.
    pub why: Vec<String>,
    /// Steps that must have succeeded first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<usize>,
    #[serde(skip)]
    pub phase: Phase,
    /// Labels, annotations and finalizers as the plan saw them (to tell a garbage collector's
    /// change from someone else's when the object moved on before its step).
    #[serde(skip)]
    pub seen: serde_json::Value,
}

/// Something a finding names that the plan will not change, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Untouched {
    pub object: ObjectRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    pub reason: String,
    /// Who is expected to finish it (a live controller), when someone is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_by: Option<String>,
}

/// A GitHub-side registration that stays behind when a finalizer is stripped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GithubLeftover {
    /// `runner` or `scaleSet`.
    pub kind: &'static str,
    pub id: String,
    /// Runner or scale-set name.
    pub name: String,
    pub object: ObjectRef,
    /// The step that leaves it behind.
    pub step: usize,
    pub cleanup: String,
}

/// The ordered plan.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub actions: Vec<Action>,
    pub untouched: Vec<Untouched>,
    pub github_leftovers: Vec<GithubLeftover>,
}

impl Plan {
    pub fn action(&self, step: usize) -> Option<&Action> {
        self.actions.get(step.checked_sub(1)?)
    }

    pub fn count(&self, tag: Fix) -> usize {
        self.actions.iter().filter(|a| a.tag == tag).count()
    }
}

/// What the plan is for.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only objects in this namespace (and cluster-scoped objects tied to it); `None` = all.
    pub namespace: Option<String>,
    /// `drain --force`: the user states no controller can finish this namespace; treat its ARC
    /// finalizers as stranded even when a controller looks live.
    pub force_namespace: Option<String>,
}

impl Scope {
    /// Is `r` in scope: any object without `namespace`, else objects of that namespace and the
    /// namespace itself.
    pub fn covers(&self, r: &ObjectRef) -> bool {
        match (&self.namespace, &r.namespace) {
            (None, _) => true,
            (Some(want), Some(ns)) => want == ns,
            (Some(want), None) => r.kind == "Namespace" && &r.name == want,
        }
    }
}

/// Build the plan.
pub fn build(ctx: &Ctx, findings: &[Finding], scope: &Scope) -> Plan {
    let mut b = Builder::new(ctx, findings, scope);
    rules::apply_all(&mut b);
    b.finish()
}

/// Opaque handle to an action while the plan is being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(usize);

/// Collects actions (deduplicated by object + operation), untouched objects and leftovers.
pub struct Builder<'c, 'a> {
    pub ctx: &'c Ctx<'a>,
    pub findings: &'c [Finding],
    pub scope: &'c Scope,
    codes_by_object: HashMap<ObjectRef, BTreeSet<String>>,
    actions: Vec<Action>,
    index: HashMap<(ObjectRef, Op), Id>,
    untouched: BTreeMap<ObjectRef, Untouched>,
    leftovers: Vec<(Id, GithubLeftover)>,
    /// Objects this plan deletes or releases (so a Secret they reference may go too).
    pub removed: BTreeSet<ObjectRef>,
}

impl<'c, 'a> Builder<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, findings: &'c [Finding], scope: &'c Scope) -> Self {
        let mut codes_by_object: HashMap<ObjectRef, BTreeSet<String>> = HashMap::new();
        for f in findings {
            for o in &f.objects {
                codes_by_object
                    .entry(o.clone())
                    .or_default()
                    .insert(f.code.to_owned());
            }
        }
        Builder {
            ctx,
            findings,
            scope,
            codes_by_object,
            actions: Vec::new(),
            index: HashMap::new(),
            untouched: BTreeMap::new(),
            leftovers: Vec::new(),
            removed: BTreeSet::new(),
        }
    }

    /// Is `r` within the plan's namespace scope?
    pub fn in_scope(&self, r: &ObjectRef) -> bool {
        self.scope.covers(r)
    }

    /// Finding codes that name `r`.
    pub fn codes_of(&self, r: &ObjectRef) -> Vec<String> {
        self.codes_by_object
            .get(r)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Add (or find) an action on an existing object. `extra_codes` are added to the codes that
    /// name the object in findings.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        phase: Phase,
        obj: &Object,
        op: Op,
        tag: Fix,
        extra_codes: &[&str],
        why: Vec<String>,
        after: &[Id],
    ) -> Id {
        let r = obj.meta.obj_ref();
        let id = self.add_ref(
            phase,
            r,
            (obj.meta.uid, obj.meta.resource_version),
            op,
            tag,
            extra_codes,
            why,
            after,
        );
        self.actions[id.0].seen = serde_json::json!({
            "labels": obj.meta.labels,
            "annotations": obj.meta.annotations,
            "finalizers": obj.meta.finalizers,
        });
        id
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add_ref(
        &mut self,
        phase: Phase,
        r: ObjectRef,
        (uid, rv): (&str, &str),
        op: Op,
        tag: Fix,
        extra_codes: &[&str],
        why: Vec<String>,
        after: &[Id],
    ) -> Id {
        if matches!(op, Op::Delete { .. }) {
            self.removed.insert(r.clone());
        }
        if let Some(&id) = self.index.get(&(r.clone(), op.clone())) {
            let a = &mut self.actions[id.0];
            // The stricter tag wins; reasons and prerequisites accumulate.
            if tag > a.tag {
                a.tag = tag;
            }
            for w in why {
                if !a.why.contains(&w) {
                    a.why.push(w);
                }
            }
            for c in extra_codes {
                if !a.codes.iter().any(|x| x == c) {
                    a.codes.push((*c).to_owned());
                }
            }
            for p in after {
                if *p != id && !a.after.contains(&p.0) {
                    a.after.push(p.0);
                }
            }
            self.untouched.remove(&r);
            return id;
        }
        let mut codes = self.codes_of(&r);
        for c in extra_codes {
            if !codes.iter().any(|x| x == c) {
                codes.push((*c).to_owned());
            }
        }
        codes.sort();
        let id = Id(self.actions.len());
        self.actions.push(Action {
            step: 0,
            op: op.clone(),
            object: r.clone(),
            uid: uid.to_owned(),
            resource_version: rv.to_owned(),
            tag,
            codes,
            why,
            after: after.iter().map(|p| p.0).collect(),
            phase,
            seen: serde_json::Value::Null,
        });
        self.index.insert((r.clone(), op), id);
        self.untouched.remove(&r);
        id
    }

    /// The action already planned for `r` with `op`, if any.
    pub fn find(&self, r: &ObjectRef, op: &Op) -> Option<Id> {
        self.index.get(&(r.clone(), op.clone())).copied()
    }

    /// Every action planned on `r`.
    pub fn actions_on(&self, r: &ObjectRef) -> Vec<Id> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(_, a)| &a.object == r)
            .map(|(i, _)| Id(i))
            .collect()
    }

    pub fn has_actions(&self, r: &ObjectRef) -> bool {
        self.actions.iter().any(|a| &a.object == r)
    }

    /// Record that `r` is left alone (unless an action on it exists or is added later).
    pub fn leave(&mut self, r: ObjectRef, reason: impl Into<String>, expected_by: Option<String>) {
        if self.has_actions(&r) || !self.in_scope(&r) {
            return;
        }
        let codes = self.codes_of(&r);
        self.untouched.entry(r.clone()).or_insert(Untouched {
            object: r,
            codes,
            reason: reason.into(),
            expected_by,
        });
    }

    pub fn is_left(&self, r: &ObjectRef) -> bool {
        self.untouched.contains_key(r)
    }

    pub fn leftover(&mut self, id: Id, l: GithubLeftover) {
        if !self
            .leftovers
            .iter()
            .any(|(_, x)| x.id == l.id && x.kind == l.kind)
        {
            self.leftovers.push((id, l));
        }
    }

    /// Order by phase (stable), number the steps, map prerequisites, drop actions out of scope.
    fn finish(self) -> Plan {
        let Builder {
            actions,
            untouched,
            leftovers,
            scope,
            ..
        } = self;
        let in_scope = |r: &ObjectRef| scope.covers(r);
        // In scope: actions on objects of the namespace, plus (transitively) the steps they need
        // first wherever those live (a listener in the controller namespace, a webhook).
        let mut keep: BTreeSet<usize> = (0..actions.len())
            .filter(|&i| in_scope(&actions[i].object))
            .collect();
        let mut queue: Vec<usize> = keep.iter().copied().collect();
        while let Some(i) = queue.pop() {
            for &p in &actions[i].after {
                if keep.insert(p) {
                    queue.push(p);
                }
            }
        }
        let mut order: Vec<usize> = keep.into_iter().collect();
        order.sort_by_key(|&i| (actions[i].phase, i));
        let mut step_of: HashMap<usize, usize> = HashMap::new();
        for (pos, &i) in order.iter().enumerate() {
            step_of.insert(i, pos + 1);
        }
        let mut out: Vec<Action> = order
            .iter()
            .map(|&i| {
                let mut a = actions[i].clone();
                a.step = step_of[&i];
                a.after = a
                    .after
                    .iter()
                    .filter_map(|p| step_of.get(p).copied())
                    .filter(|&s| s < a.step)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                a
            })
            .collect();
        out.sort_by_key(|a| a.step);
        let mut github_leftovers: Vec<GithubLeftover> = leftovers
            .into_iter()
            .filter_map(|(id, mut l)| {
                l.step = *step_of.get(&id.0)?;
                Some(l)
            })
            .collect();
        github_leftovers.sort_by(|a, b| (a.step, &a.id).cmp(&(b.step, &b.id)));
        Plan {
            actions: out,
            untouched: untouched
                .into_values()
                .filter(|u| in_scope(&u.object))
                .collect(),
            github_leftovers,
        }
    }
}

#[cfg(test)]
mod tests;
