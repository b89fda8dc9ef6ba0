//! `ARC-SESSION-CONFLICT`: more than one listener holds (or fights for) the GitHub session of one
//! scale set ID (arc-domain §4.6; #3209, #3351).
//!
//! Listeners are grouped by `spec.runnerScaleSetId`. A group conflicts when ≥ 2 of its listeners
//! have a Running pod, or when ≥ 2 are active (Running pod, or a pod whose log says
//! `already has an active session`) and at least one logs that 409. A lone listener whose log
//! says `already has an active session` is reported at medium: the other session is outside this
//! cluster (or has not expired yet), which the tool cannot see.
//!
//! The log lines themselves are attached as evidence by `crate::logscan::attach_evidence`.

use std::collections::BTreeMap;

use crate::findings::{Finding, Fix, Severity};
use crate::snapshot::{Object, Snapshot};

use super::Ctx;
use crate::facts::keeper::keeper;
use crate::facts::listeners::{listener_pods, listener_scale_set_id, running_pod, target};

const CODE: &str = "ARC-SESSION-CONFLICT";
/// The Actions service's 409 text for a second session.
pub(crate) const ACTIVE_SESSION: &str = "already has an active session";

/// One listener of a scale-set ID group.
struct Member<'a> {
    al: &'a Object,
    running: Option<&'a Object>,
    /// Its pod logs report the 409 `already has an active session`.
    logged: bool,
}

impl Member<'_> {
    fn active(&self) -> bool {
        self.running.is_some() || self.logged
    }
}

/// Do the logs of `al`'s pods (by name or owner) contain the 409 message?
fn logs_conflict(snap: &Snapshot, al: &Object) -> bool {
    let ns = al.meta.ns();
    let pods: Vec<&str> = listener_pods(snap, al).map(|p| p.meta.name).collect();
    snap.logs
        .iter()
        .filter(|l| l.namespace == ns && (l.pod == al.meta.name || pods.contains(&l.pod.as_str())))
        .any(|l| l.lines.iter().any(|line| line.contains(ACTIVE_SESSION)))
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut groups: BTreeMap<i64, Vec<Member>> = BTreeMap::new();
    for al in ctx.snap.autoscaling_listeners.iter() {
        let Some(id) = listener_scale_set_id(al) else {
            continue;
        };
        groups.entry(id).or_default().push(Member {
            al,
            running: running_pod(ctx.snap, al),
            logged: logs_conflict(ctx.snap, al),
        });
    }
    groups
        .into_iter()
        .filter_map(|(id, members)| conflict(ctx, id, &members))
        .collect()
}

fn conflict(ctx: &Ctx, id: i64, members: &[Member]) -> Option<Finding> {
    let running = members.iter().filter(|m| m.running.is_some()).count();
    let active = members.iter().filter(|m| m.active()).count();
    let logged = members.iter().any(|m| m.logged);
    let in_cluster = running >= 2 || (active >= 2 && logged);
    if !in_cluster && !logged {
        return None;
    }
    let f = if in_cluster {
        in_cluster_finding(ctx, id, members)
    } else {
        external_finding(id, members)
    };
    // Objects: listener pods (sorted by namespace, then name), then the listeners.
    let mut pods: Vec<&Object> = members.iter().filter_map(|m| m.running).collect();
    for m in members.iter().filter(|m| m.running.is_none() && m.logged) {
        pods.extend(listener_pods(ctx.snap, m.al));
    }
    pods.sort_by(|a, b| (a.meta.ns(), &a.meta.name).cmp(&(b.meta.ns(), &b.meta.name)));
    Some(
        f.objects(pods.iter().map(|p| p.meta.obj_ref())).objects(
            members
                .iter()
                .filter(|m| m.active())
                .map(|m| m.al.meta.obj_ref()),
        ),
    )
}

fn describe(m: &Member) -> String {
    match (m.running, m.logged) {
        (Some(p), true) => format!(
            "{} (pod {} Running, logs 409 active session)",
            m.al.meta.display(),
            p.meta.name
        ),
        (Some(p), false) => format!("{} (pod {} Running)", m.al.meta.display(), p.meta.name),
        _ => format!("{} (pod logs 409 active session)", m.al.meta.display()),
    }
}

/// The listeners a live controller keeps for their scale sets.
fn keepers<'a>(ctx: &Ctx<'a>, members: &[Member<'a>]) -> Vec<&'a Object> {
    let mut out: Vec<&Object> = Vec::new();
    for m in members {
        let Some((ns, name)) = target(m.al) else {
            continue;
        };
        let Some(ars) = ctx.snap.autoscaling_runner_sets.get(Some(ns), name).found() else {
            continue;
        };
        if let Some((k, _)) = keeper(ctx, ars)
            && !out.iter().any(|o| std::ptr::eq(*o, k))
        {
            out.push(k);
        }
    }
    out
}

fn in_cluster_finding(ctx: &Ctx, id: i64, members: &[Member]) -> Finding {
    let active: Vec<&Member> = members.iter().filter(|m| m.active()).collect();
    let mut targets: Vec<String> = active
        .iter()
        .filter_map(|m| target(m.al))
        .map(|(ns, n)| format!("{ns}/{n}"))
        .collect();
    targets.sort();
    targets.dedup();
    let message = format!(
        "{} listeners compete for the GitHub session of scale set {id}: {}. Only one session per scale set is \
         allowed; the others fail with `409 … already has an active session`, and jobs may be assigned to the \
         wrong listener or not at all.",
        active.len(),
        active
            .iter()
            .map(|m| describe(m))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let f = Finding::new(CODE, Severity::High, message);
    if targets.len() > 1 {
        return f.fix(Fix::Manual).remediation(format!(
            "The listeners serve different AutoscalingRunnerSets ({}) that share scale set ID {id}: resolve \
             ARC-SCALESET-ID-SHARED first (remove `runner-scale-set-id` from the stale scale set).",
            targets.join(", ")
        ));
    }
    let keepers = keepers(ctx, members);
    let stale: Vec<&Member> = active
        .iter()
        .copied()
        .filter(|m| !keepers.iter().any(|k| std::ptr::eq(*k, m.al)))
        .collect();
    if keepers.is_empty() || stale.is_empty() {
        return f.fix(Fix::Manual).remediation(
            "Decide which listener should serve the scale set (the one in the live controller's namespace), then \
             delete the others with `kubectl delete autoscalinglistener <name> -n <namespace>`.",
        );
    }
    let second_controller = stale.iter().any(|m| {
        let ns = m.al.meta.ns();
        keepers.iter().all(|k| k.meta.ns() != ns)
            && ctx.model.gha().any(|c| c.healthy && c.namespace == ns)
    });
    let mut f = if second_controller {
        f.fix(Fix::Manual)
    } else {
        f
    };
    for m in &stale {
        let (ns, name) = (m.al.meta.ns(), &m.al.meta.name);
        f = f.remediation(format!(
            "Remove the stale listener {ns}/{name} (ARC-LISTENER-DUPLICATE): `kubectl delete autoscalinglistener {name} -n {ns}` \
             (or `kubectl arc orphans --fix`); if a second controller runs in {ns}, uninstall that controller instead."
        ));
    }
    f.remediation(format!(
        "Keep {}; its pod gets the session once the other one is gone.",
        keepers
            .iter()
            .map(|k| k.meta.display())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn external_finding(id: i64, members: &[Member]) -> Finding {
    let logged: Vec<String> = members
        .iter()
        .filter(|m| m.logged)
        .map(|m| m.al.meta.display())
        .collect();
    let message = format!(
        "Listener {} cannot open the GitHub session of scale set {id}: its pod logs `409 … already has an active \
         session`, but no other listener for that ID runs in this cluster. Another cluster (or an older \
         installation) runs a listener for the same scale set, or a previous session has not expired yet.",
        logged.join(", ")
    );
    Finding::new(CODE, Severity::Medium, message)
        .fix(Fix::Manual)
        .remediation(format!(
            "Find the other installation serving scale set {id} (same runner scale set name and runner group in \
             another cluster) and uninstall one of them; only one listener may hold the session."
        ))
        .remediation("If the message stops after a few minutes, it was a session left by a restart: nothing to do.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{L, base, scenario};
    use crate::snapshot::PodLog;
    use crate::testing;
    use serde_json::json;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    const STALE: &str = "arc-runner-set-754b578d-listener";

    /// S5 shape: an old-scheme listener for the same ARS and ID, with its own pod.
    fn with_stale(phase: &str) -> Snapshot {
        let mut snap = base();
        snap.autoscaling_listeners.items.push(testing::obj(
            "AutoscalingListener",
            json!({"metadata":{"name":STALE,"namespace":"arc-systems","uid":"stale-uid"},
                   "spec":{"autoscalingRunnerSetNamespace":"arc-runners","autoscalingRunnerSetName":"arc-runner-set",
                           "ephemeralRunnerSetName":"arc-runner-set-9qd2m","runnerScaleSetId":42}}),
        ));
        snap.pods.items.push(testing::obj(
            "Pod",
            json!({"metadata":{"name":STALE,"namespace":"arc-systems",
                               "ownerReferences":[{"apiVersion":"actions.github.com/v1alpha1","kind":"AutoscalingListener",
                                                   "name":STALE,"uid":"stale-uid"}]},
                   "status":{"phase":phase}}),
        ));
        snap
    }

    fn log_409(snap: &mut Snapshot, pod: &str) {
        snap.logs.push(PodLog {
            namespace: "arc-systems".into(),
            pod: pod.into(),
            container: "listener".into(),
            lines: vec![format!(
                "2026-07-01T10:00:00Z\tERROR\tlistener\tfailed to create session: 409 The runner scale set arc-runner-set \
                 already has an active session for owner {L}."
            )],
        });
    }

    #[test]
    fn one_listener_per_id_is_fine() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn two_running_listener_pods_conflict() {
        let f = run(&with_stale("Running"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, CODE);
        assert_eq!(f[0].severity, Severity::High);
        let kinds: Vec<&str> = f[0].objects.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["Pod", "Pod", "AutoscalingListener", "AutoscalingListener"]
        );
        assert!(
            f[0].remediation[0].contains(STALE),
            "{:?}",
            f[0].remediation
        );
        assert_eq!(f[0].fix, Fix::Auto);
    }

    #[test]
    fn restarting_pod_with_409_log_conflicts() {
        let mut snap = with_stale("Failed");
        assert!(run(&snap).is_empty());
        log_409(&mut snap, STALE);
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert!(
            f[0].objects
                .iter()
                .any(|o| o.kind == "Pod" && o.name == STALE)
        );
    }

    #[test]
    fn lone_listener_with_409_points_outside_the_cluster() {
        let mut snap = base();
        log_409(&mut snap, L);
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Medium);
        assert_eq!(f[0].fix, Fix::Manual);
        assert!(f[0].message.contains("Another cluster"));
    }

    #[test]
    fn different_ids_do_not_conflict() {
        let mut snap = with_stale("Running");
        let al = testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), STALE);
        al.body["spec"]["runnerScaleSetId"] = json!(7).into();
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn listeners_of_different_scale_sets_sharing_an_id_point_at_id_shared() {
        let mut snap = with_stale("Running");
        let al = testing::get_mut(&mut snap, "AutoscalingListener", Some("arc-systems"), STALE);
        al.body["spec"]["autoscalingRunnerSetNamespace"] = json!("ci-runners").into();
        let f = run(&snap);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fix, Fix::Manual);
        assert!(f[0].remediation[0].contains("ARC-SCALESET-ID-SHARED"));
    }

    #[test]
    fn scenarios() {
        let expect: &[(&str, usize)] = &[
            ("B0", 0),
            ("S1", 0),
            ("S5", 1),
            ("S8", 1),
            ("S9", 0),
            ("S17", 0),
        ];
        for (id, n) in expect {
            let snap = scenario(id);
            let f = run(&snap);
            assert_eq!(f.len(), *n, "{id}: {f:#?}");
            assert!(
                f.iter()
                    .all(|f| f.code == CODE && f.severity == Severity::High),
                "{id}"
            );
        }
    }
}
