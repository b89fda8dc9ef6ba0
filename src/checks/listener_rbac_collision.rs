//! `ARC-LISTENER-RBAC-COLLISION`: a listener Role/RoleBinding `L` in a runner namespace R is
//! claimed by two listeners (arc-domain §4.5, §7 "same listener name in every controller
//! namespace").
//!
//! The listener name does not include the controller namespace, so two controllers (or a moved
//! one) compute the same `L` and share Role/RoleBinding `L` in R: the RoleBinding keeps the first
//! creator's ServiceAccount as subject and the labels flip, so the surviving listener cannot patch
//! its EphemeralRunnerSet. Reported when listeners of that name in two namespaces serve R, or when
//! the labels/subject point at a namespace other than the live keeper listener's (S1).
//!
//! This module also classifies every listener Role/RoleBinding pair for
//! `ARC-LISTENER-RBAC-ORPHAN`, so one pair gets at most one of the two codes.

use std::collections::{BTreeMap, BTreeSet};

use crate::findings::{Finding, Severity};
use crate::model::{L_LISTENER_NAME, L_LISTENER_NS};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use crate::facts::keeper::keeper;
use crate::facts::listeners::target;

const CODE: &str = "ARC-LISTENER-RBAC-COLLISION";

/// A listener Role and/or RoleBinding of one name in one namespace.
#[derive(Debug)]
pub(crate) struct Pair<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub role: Option<&'a Object>,
    pub binding: Option<&'a Object>,
}

impl<'a> Pair<'a> {
    fn objects(&self) -> impl Iterator<Item = &'a Object> + '_ {
        self.role.into_iter().chain(self.binding)
    }

    /// `[Role, RoleBinding]` (those that exist).
    pub fn refs(&self) -> Vec<ObjectRef> {
        self.objects().map(|o| o.meta.obj_ref()).collect()
    }

    /// The listener name the labels point at (else the object name).
    pub fn listener_name(&self) -> &'a str {
        self.objects()
            .find_map(|o| o.meta.label(L_LISTENER_NAME))
            .unwrap_or(self.name)
    }

    /// Namespaces the labels point at.
    pub fn labelled_namespaces(&self) -> BTreeSet<&'a str> {
        self.objects()
            .filter_map(|o| o.meta.label(L_LISTENER_NS))
            .collect()
    }

    /// Namespaces of the RoleBinding's ServiceAccount subjects.
    pub fn subject_namespaces(&self) -> BTreeSet<&'a str> {
        self.binding
            .map(|b| {
                b.array("/subjects")
                    .iter()
                    .filter(|s| s["kind"] == "ServiceAccount")
                    .filter_map(|s| s["namespace"].as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every namespace the pair claims to belong to (labels and subject).
    pub fn claimed_namespaces(&self) -> BTreeSet<&'a str> {
        let mut s = self.labelled_namespaces();
        s.extend(self.subject_namespaces());
        s
    }

    pub fn kinds_text(&self) -> &'static str {
        match (self.role.is_some(), self.binding.is_some()) {
            (true, true) => "Role and RoleBinding",
            (true, false) => "Role",
            _ => "RoleBinding",
        }
    }

    /// `kubectl delete` resource list for the pair.
    pub fn kubectl_kinds(&self) -> &'static str {
        match (self.role.is_some(), self.binding.is_some()) {
            (true, true) => "role,rolebinding",
            (true, false) => "role",
            _ => "rolebinding",
        }
    }
}

fn is_listener_rbac(o: &Object) -> bool {
    o.meta.label(L_LISTENER_NS).is_some() || o.meta.label(L_LISTENER_NAME).is_some()
}

/// Every listener Role/RoleBinding pair, by namespace and name.
pub(crate) fn pairs<'a>(ctx: &Ctx<'a>) -> Vec<Pair<'a>> {
    let snap = ctx.snap;
    let mut m: BTreeMap<(&'a str, &'a str), Pair<'a>> = BTreeMap::new();
    let all = snap
        .roles
        .iter()
        .map(|o| (o, true))
        .chain(snap.role_bindings.iter().map(|o| (o, false)));
    for (o, is_role) in all.filter(|(o, _)| is_listener_rbac(o)) {
        let key = (o.meta.ns(), o.meta.name);
        let p = m.entry(key).or_insert(Pair {
            namespace: key.0,
            name: key.1,
            role: None,
            binding: None,
        });
        if is_role {
            p.role = Some(o);
        } else {
            p.binding = Some(o);
        }
    }
    m.into_values().collect()
}

/// What a listener Role/RoleBinding pair is.
#[derive(Debug)]
pub(crate) enum Verdict<'a> {
    /// Used by exactly the listener it is labelled for.
    Fine,
    /// Nobody wants it: the labelled listener (or its namespace) is gone.
    Orphan { reason: String },
    /// Two listeners want it, or it points at a namespace other than the live keeper's.
    Collision {
        /// Listeners of that name serving an ARS in the pair's namespace.
        wanters: Vec<&'a Object>,
        /// The listener a live controller keeps, if any.
        keeper: Option<&'a Object>,
    },
    /// Cannot tell (listeners not listed where they would be).
    Unknown,
}

/// Listeners of the pair's name that serve an ARS in the pair's namespace.
fn wanters<'a>(ctx: &Ctx<'a>, pair: &Pair) -> Vec<&'a Object> {
    let name = pair.listener_name();
    ctx.snap
        .autoscaling_listeners
        .iter()
        .filter(|al| {
            (al.meta.name == name || al.meta.name == pair.name)
                && target(al).map(|t| t.0) == Some(pair.namespace)
        })
        .collect()
}

/// The live keeper among the wanters (a listener a live controller keeps for its ARS).
fn live_keeper<'a>(ctx: &Ctx<'a>, wanters: &[&'a Object]) -> Option<&'a Object> {
    wanters.iter().find_map(|al| {
        let (ns, name) = target(al)?;
        let ars = ctx
            .snap
            .autoscaling_runner_sets
            .get(Some(ns), name)
            .found()?;
        keeper(ctx, ars)
            .map(|(k, _)| k)
            .filter(|k| k.meta.name == al.meta.name)
    })
}

/// Classify one pair (exclusive: orphan, collision, fine or unknown).
pub(crate) fn classify<'a>(ctx: &Ctx<'a>, pair: &Pair<'a>) -> Verdict<'a> {
    let wanters = wanters(ctx, pair);
    let keeper = live_keeper(ctx, &wanters);
    let wanter_namespaces: BTreeSet<&str> = wanters.iter().map(|w| w.meta.ns()).collect();
    let foreign_claim =
        keeper.is_some_and(|k| pair.claimed_namespaces().iter().any(|n| *n != k.meta.ns()));
    if wanter_namespaces.len() >= 2 || foreign_claim {
        return Verdict::Collision { wanters, keeper };
    }
    if !wanters.is_empty() {
        return Verdict::Fine;
    }
    orphan_reason(ctx, pair).map_or(Verdict::Unknown, |reason| Verdict::Orphan { reason })
}

/// Why nobody wants the pair, or None when we cannot tell.
fn orphan_reason(ctx: &Ctx, pair: &Pair) -> Option<String> {
    let name = pair.listener_name();
    let labelled = pair.labelled_namespaces();
    let claimed = if labelled.is_empty() {
        pair.subject_namespaces()
    } else {
        labelled
    };
    if claimed.is_empty() {
        return None;
    }
    let mut reasons = Vec::new();
    for ns in claimed {
        if ctx.snap.namespace_exists(ns) == Some(false) {
            reasons.push(format!(
                "namespace {ns} of listener {ns}/{name} no longer exists"
            ));
            continue;
        }
        match ctx.snap.autoscaling_listeners.get(Some(ns), name) {
            Lookup::Missing => reasons.push(format!("listener {ns}/{name} does not exist")),
            // The labelled listener exists but serves another namespace: still nobody wants it.
            Lookup::Found(_) => {
                reasons.push(format!("listener {ns}/{name} serves another namespace"))
            }
            Lookup::Unknown => return None,
        }
    }
    Some(reasons.join(", "))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    pairs(ctx)
        .iter()
        .filter_map(|p| match classify(ctx, p) {
            Verdict::Collision { wanters, keeper } => Some(finding(p, &wanters, keeper)),
            _ => None,
        })
        .collect()
}

fn finding(pair: &Pair, wanters: &[&Object], keeper: Option<&Object>) -> Finding {
    let (r, l) = (pair.namespace, pair.name);
    let claimed: Vec<&str> = pair.claimed_namespaces().into_iter().collect();
    let wanted: Vec<String> = wanters.iter().map(|w| w.meta.display()).collect();
    let keeper_text = keeper
        .map(|k| {
            format!(
                " The live controller keeps {}; its ServiceAccount {}/{l} is not what the binding grants, so that \
                 listener cannot patch its EphemeralRunnerSet until the objects are recreated.",
                k.meta.display(),
                k.meta.ns()
            )
        })
        .unwrap_or_default();
    let message = format!(
        "Listener {} {r}/{l} is labelled/bound for namespace {} but is wanted by listener(s) {}. The listener name \
         does not include the controller namespace, so every controller computes the same name and the first \
         creator's ServiceAccount stays the subject.{keeper_text}",
        pair.kinds_text(),
        if claimed.is_empty() {
            "(none)".to_owned()
        } else {
            claimed.join(", ")
        },
        wanted.join(", "),
    );
    let mut f = Finding::new(CODE, Severity::High, message).objects(pair.refs());
    for stale in wanters
        .iter()
        .filter(|w| keeper.is_none_or(|k| !std::ptr::eq(k, **w)))
    {
        let (ns, name) = (stale.meta.ns(), &stale.meta.name);
        f = f.remediation(if stale.meta.is_deleting() {
            format!(
                "Stale listener {ns}/{name} is already being deleted and no longer needs these objects; \
                 finish its deletion as ARC-STUCK-LISTENER describes (`kubectl arc orphans --fix`)."
            )
        } else {
            format!("Delete the stale listener first: `kubectl delete autoscalinglistener {name} -n {ns}`.")
        });
    }
    f.remediation(format!(
        "Delete the shared objects so the live controller recreates them with its own ServiceAccount: \
         `kubectl delete {} {l} -n {r}` (or `kubectl arc orphans --fix`).",
        pair.kubectl_kinds()
    ))
    .remediation(format!(
        "Verify: `kubectl get rolebinding {l} -n {r} -o jsonpath='{{.subjects}}'` names the live listener's ServiceAccount."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{L, base, scenario};
    use crate::snapshot::Snapshot;
    use crate::testing;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    /// S1 shape: controller moved to arc-controller, old deleting AL in arc-systems, new AL.
    fn moved() -> Snapshot {
        let mut snap = base();
        let dep = testing::get_mut(
            &mut snap,
            "Deployment",
            Some("arc-systems"),
            "arc-gha-rs-controller",
        );
        dep.meta.namespace = Some("arc-controller");
        let old = testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), L);
        old.meta.deletion_timestamp = Some("2026-07-01T10:00:00Z");
        let mut new = old.clone();
        new.meta.namespace = Some("arc-controller");
        new.meta.deletion_timestamp = None;
        new.meta.uid = "new-al";
        snap.autoscaling_listeners.items.push(new);
        snap
    }

    #[test]
    fn healthy_pair_is_fine() {
        let snap = base();
        let ctx = Ctx::new(&snap);
        let ps = pairs(&ctx);
        assert_eq!(ps.len(), 1);
        assert!(matches!(classify(&ctx, &ps[0]), Verdict::Fine));
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn pair_labelled_for_old_namespace_collides_with_live_keeper() {
        let f = run(&moved());
        assert_eq!(
            testing::codes(&f),
            [format!("ARC-LISTENER-RBAC-COLLISION Role arc-runners/{L}")]
        );
        assert_eq!(f[0].objects[1].kind, "RoleBinding");
        assert_eq!(f[0].severity, Severity::High);
        assert!(
            f[0].remediation[0].contains("already being deleted"),
            "{:?}",
            f[0].remediation
        );
        assert!(f[0].remediation[1].contains("kubectl delete role,rolebinding"));
    }

    #[test]
    fn label_mismatch_with_only_the_live_listener_left_still_collides() {
        let mut snap = moved();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "AutoscalingListener" && o.meta.ns() == "arc-systems"
        });
        let f = run(&snap);
        assert_eq!(f.len(), 1, "{f:#?}");
        assert!(f[0].message.contains("namespace arc-systems"));
    }

    #[test]
    fn relabelled_pair_for_the_live_listener_is_fine() {
        let mut snap = moved();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "AutoscalingListener" && o.meta.ns() == "arc-systems"
        });
        for kind in ["Role", "RoleBinding"] {
            let o = testing::get_mut(&mut snap, kind, Some("arc-runners"), L);
            o.meta
                .labels
                .insert("auto-scaling-listener-namespace", "arc-controller");
        }
        let rb = testing::get_mut(&mut snap, "RoleBinding", Some("arc-runners"), L);
        rb.body["subjects"][0]["namespace"] = serde_json::json!("arc-controller").into();
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn pair_without_any_listener_is_orphan_not_collision() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        let ctx = Ctx::new(&snap);
        let ps = pairs(&ctx);
        assert!(matches!(classify(&ctx, &ps[0]), Verdict::Orphan { .. }));
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn unlisted_listeners_are_unknown() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingListener");
        snap.autoscaling_listeners.scope = crate::snapshot::Scope::None;
        let ctx = Ctx::new(&snap);
        let ps = pairs(&ctx);
        assert!(matches!(classify(&ctx, &ps[0]), Verdict::Unknown));
    }

    #[test]
    fn scenarios() {
        let expect: &[(&str, &[&str])] = &[
            ("B0", &[]),
            (
                "S1",
                &["ARC-LISTENER-RBAC-COLLISION Role arc-runners/arc-runner-set-85f786b5-listener"],
            ),
            ("S5", &[]),
            (
                "S8",
                &["ARC-LISTENER-RBAC-COLLISION Role arc-runners/arc-runner-set-85f786b5-listener"],
            ),
            ("S9", &[]),
            (
                "S12",
                &["ARC-LISTENER-RBAC-COLLISION Role arc-runners/arc-runner-set-85f786b5-listener"],
            ),
            ("S13", &[]),
            ("S17", &[]),
        ];
        for (id, want) in expect {
            let snap = scenario(id);
            assert_eq!(testing::codes(&run(&snap)), *want, "{id}");
        }
    }
}
