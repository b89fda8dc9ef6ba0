//! `ARC-HELM-RELEASE-ORPHAN`: Helm release records of ARC charts out of sync with the cluster
//! (arc-domain §4.5). Release records are Secrets `sh.helm.release.v1.<release>.v<revision>`
//! labelled `owner=helm`, `name`, `status`, `version`; they are read **metadata-only** (the
//! payload, which would name the chart, is never read). Only the latest revision of each release
//! counts.
//!
//! * status `uninstalling` or `pending-*` on a release that rendered ARC objects → an operation
//!   was interrupted and blocks the next one;
//! * a scale-set (`gha-rs`) release whose AutoscalingRunnerSet no longer exists → `helm list`
//!   still shows a scale set that is gone (e.g. deleted by the controller on a version mismatch,
//!   S6, or removed with `kubectl delete`). While the ARS still exists — even when it is being
//!   deleted — the release is not (yet) orphaned.
//!
//! A release is recognised as ARC's through the objects it rendered, in its namespace:
//! `meta.helm.sh/release-name` annotations, or `app.kubernetes.io/instance` together with an ARC
//! `helm.sh/chart` label; as a scale-set release when that chart label is `gha-rs-*` /
//! `gha-runner-scale-set-*` (not the controller charts) or when an ARS names it. Releases nothing
//! in the snapshot links to are not ARC's business and are skipped.

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{A_HELM_RELEASE, A_HELM_RELEASE_NS, L_SCALE_SET_NAME};
use crate::snapshot::{Lookup, Object, ObjectRef};

use super::Ctx;
use crate::model::SCALE_SET_CHART;

const CODE: &str = "ARC-HELM-RELEASE-ORPHAN";
const RELEASE_PREFIX: &str = "sh.helm.release.v1.";

/// The latest revision of one release.
struct Release<'a> {
    secret: &'a Object,
    name: String,
    namespace: String,
    revision: u64,
    status: String,
}

fn revision(s: &Object) -> Option<u64> {
    s.meta
        .label("version")
        .and_then(|v| v.parse().ok())
        .or_else(|| {
            s.meta
                .name
                .rsplit_once(".v")
                .and_then(|(_, r)| r.parse().ok())
        })
}

fn release_name(s: &Object) -> Option<String> {
    if let Some(n) = s.meta.label("name") {
        return Some(n.to_owned());
    }
    let rest = s.meta.name.strip_prefix(RELEASE_PREFIX)?;
    rest.rsplit_once(".v").map(|(n, _)| n.to_owned())
}

/// Latest revision per (namespace, release).
fn latest_releases<'a>(ctx: &Ctx<'a>) -> Vec<Release<'a>> {
    let mut latest: BTreeMap<(String, String), Release<'a>> = BTreeMap::new();
    for s in ctx.snap.secrets.iter() {
        if s.meta.label("owner") != Some("helm") || !s.meta.name.starts_with(RELEASE_PREFIX) {
            continue;
        }
        let (Some(name), Some(rev)) = (release_name(s), revision(s)) else {
            continue;
        };
        let r = Release {
            secret: s,
            name: name.clone(),
            namespace: s.meta.ns().to_owned(),
            revision: rev,
            status: s.meta.label("status").unwrap_or("unknown").to_owned(),
        };
        let key = (r.namespace.clone(), name);
        if latest.get(&key).is_none_or(|cur| cur.revision < rev) {
            latest.insert(key, r);
        }
    }
    latest.into_values().collect()
}

/// What the release's rendered objects tell about it.
#[derive(Default)]
struct Linked {
    /// Any ARC object was rendered by this release.
    arc: bool,
    /// It is a scale-set (gha-rs) release.
    scale_set: bool,
    /// Scale-set names its objects carry.
    scale_sets: Vec<String>,
    /// An ARS rendered by it still exists.
    ars_exists: bool,
}

fn is_scale_set_chart(chart: &str) -> bool {
    (chart.starts_with("gha-rs-") && !chart.starts_with("gha-rs-controller-"))
        || (chart.starts_with("gha-runner-scale-set-")
            && !chart.starts_with("gha-runner-scale-set-controller-"))
}

fn is_arc_chart(chart: &str) -> bool {
    chart.starts_with("gha-rs")
        || chart.starts_with("gha-runner-scale-set")
        || chart.starts_with("actions-runner-controller")
}

fn rendered_by(o: &Object, r: &Release) -> bool {
    let same_ns = match &o.meta.namespace {
        Some(ns) => *ns == r.namespace,
        None => o.meta.annotation(A_HELM_RELEASE_NS) == Some(r.namespace.as_str()),
    };
    if !same_ns || (o.meta.kind == "Secret" && o.meta.name.starts_with(RELEASE_PREFIX)) {
        return false;
    }
    let chart = o.meta.label("helm.sh/chart").unwrap_or("");
    o.meta.annotation(A_HELM_RELEASE) == Some(r.name.as_str())
        || (o.meta.label("app.kubernetes.io/instance") == Some(r.name.as_str())
            && is_arc_chart(chart))
}

fn linked(ctx: &Ctx, r: &Release) -> Linked {
    let mut l = Linked::default();
    for (_, coll) in ctx.snap.collections() {
        for o in coll.iter().filter(|o| rendered_by(o, r)) {
            let chart = o.meta.label("helm.sh/chart").unwrap_or("");
            let is_ars = o.meta.kind == "AutoscalingRunnerSet";
            l.arc |= is_arc_chart(chart) || is_ars || o.meta.label(L_SCALE_SET_NAME).is_some();
            if is_scale_set_chart(chart) || is_ars {
                l.scale_set = true;
                if let Some(s) = o.meta.label(L_SCALE_SET_NAME)
                    && !l.scale_sets.iter().any(|x| x == s)
                {
                    l.scale_sets.push(s.to_owned());
                }
            }
            l.ars_exists |= is_ars;
        }
    }
    l
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    latest_releases(ctx)
        .iter()
        .filter_map(|r| finding_for(ctx, r))
        .collect()
}

fn finding_for(ctx: &Ctx, r: &Release) -> Option<Finding> {
    let l = linked(ctx, r);
    if !l.arc {
        return None;
    }
    if r.status == "uninstalling" || r.status.starts_with("pending-") {
        return Some(interrupted(r));
    }
    if !l.scale_set || l.ars_exists || l.scale_sets.is_empty() {
        return None;
    }
    let expected: Vec<String> = l.scale_sets.iter().map(|s| s.replace('_', "-")).collect();
    let all_missing = expected
        .iter()
        .all(|n| ctx.snap.autoscaling_runner_sets.get(Some(&r.namespace), n) == Lookup::Missing);
    all_missing.then(|| {
        let missing: Vec<ObjectRef> = expected
            .iter()
            .map(|n| ObjectRef::namespaced("AutoscalingRunnerSet", &r.namespace, n))
            .collect();
        ars_gone(r, &missing)
    })
}

fn header(r: &Release) -> String {
    format!(
        "Helm release {}/{} (revision {}, status {})",
        r.namespace, r.name, r.revision, r.status
    )
}

fn interrupted(r: &Release) -> Finding {
    let (why, fix) = if r.status == "uninstalling" {
        (
            "an uninstall started but its record was never removed; chart objects may still be Terminating on actions.github.com/cleanup-protection until the scale set finishes its cleanup",
            format!(
                "Once the scale set's cleanup has finished (no ARS, no Terminating chart objects), re-run `helm uninstall {} -n {}`.",
                r.name, r.namespace
            ),
        )
    } else {
        (
            "a Helm operation was interrupted and Helm refuses new upgrades while it is pending",
            format!(
                "Roll back to the last good revision (`helm history {0} -n {1}`, then `helm rollback {0} <revision> -n {1}`), or `helm uninstall {0} -n {1}` if it never installed.",
                r.name, r.namespace
            ),
        )
    };
    Finding::new(
        CODE,
        Severity::Low,
        format!("{} is out of sync with the cluster: {why}.", header(r)),
    )
    .object(r.secret.meta.obj_ref())
    .evidence(format!(
        "release Secret {} labels status={}",
        r.secret.meta.display(),
        r.status
    ))
    .remediation(fix)
}

fn ars_gone(r: &Release, missing: &[ObjectRef]) -> Finding {
    let names = missing
        .iter()
        .map(|m| m.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Finding::new(
        CODE,
        Severity::Low,
        format!(
            "{} still lists the scale set, but AutoscalingRunnerSet {}/{names} no longer exists (deleted outside Helm, e.g. by the controller on a version mismatch or with kubectl delete); only chart leftovers remain.",
            header(r),
            r.namespace
        ),
    )
    .object(r.secret.meta.obj_ref())
    .objects(missing.iter().cloned())
    .evidence(format!("release Secret {} labels status={}", r.secret.meta.display(), r.status))
    .remediation(format!(
        "To recreate the scale set: `helm upgrade {} -n {} {SCALE_SET_CHART} --version <controller version> --reuse-values`.",
        r.name, r.namespace
    ))
    .remediation(format!("To drop it instead: `helm uninstall {} -n {}`.", r.name, r.namespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;
    use crate::testing;
    use serde_json::json;

    fn release_secret(rev: u64, status: &str) -> Object {
        testing::obj(
            "Secret",
            json!({"metadata": {"name": format!("sh.helm.release.v1.arc-runner-set.v{rev}"), "namespace": "arc-runners",
                                "uid": format!("uid-rel-{rev}"),
                                "labels": {"owner": "helm", "name": "arc-runner-set", "status": status, "version": rev.to_string()}}}),
        )
    }

    fn with_releases(statuses: &[(u64, &str)]) -> Snapshot {
        let mut snap = testing::scenario("B0");
        snap.secrets
            .items
            .retain(|s| !s.meta.name.starts_with(RELEASE_PREFIX));
        for (rev, st) in statuses {
            snap.secrets.items.push(release_secret(*rev, st));
        }
        snap
    }

    #[test]
    fn healthy_baseline_is_quiet() {
        let snap = testing::scenario("B0");
        assert!(check(&Ctx::new(&snap)).is_empty());
        let snap = with_releases(&[(1, "superseded"), (2, "deployed")]);
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn only_the_latest_revision_counts() {
        let snap = with_releases(&[(1, "pending-upgrade"), (2, "deployed")]);
        assert!(check(&Ctx::new(&snap)).is_empty());
        let snap = with_releases(&[(1, "deployed"), (2, "pending-upgrade")]);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Low);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "Secret",
                "arc-runners",
                "sh.helm.release.v1.arc-runner-set.v2"
            ))
        );
    }

    #[test]
    fn scale_set_release_without_its_ars_is_orphaned_but_not_while_it_is_deleting() {
        let mut snap = with_releases(&[(3, "deployed")]);
        testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        )
        .meta
        .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(check(&Ctx::new(&snap)).is_empty());
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(
            f[0].objects[1],
            ObjectRef::namespaced("AutoscalingRunnerSet", "arc-runners", "arc-runner-set")
        );
    }

    #[test]
    fn unrelated_releases_are_ignored() {
        let mut snap = testing::scenario("B0");
        let mut s = release_secret(1, "pending-install");
        s.meta.labels.insert("name", "postgres");
        s.meta.name = "sh.helm.release.v1.postgres.v1";
        snap.secrets.items.push(s);
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
