//! `ARC-SCALESET-ID-SHARED` – two or more AutoscalingRunnerSets carry the same
//! `runner-scale-set-id` for the same GitHub config URL (arc-domain §3 "create reuses", §4.6).
//!
//! A new ARS with the same name and runner group as a leftover registration silently adopts its
//! ID; when the old ARS is finalized, the controller deletes the registration the new one uses.
//! Critical when any of them is being deleted or orphaned (its namespace is Terminating or gone,
//! or no live controller covers it), high otherwise. Objects: stale ARSs first, then the live one(s).

use crate::findings::{Finding, Severity};
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::shared_id::{shared_groups, stale};

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    shared_groups(ctx)
        .into_iter()
        .map(|(id, url, v)| finding(ctx, id, &url, v))
        .collect()
}

fn remove_id_step(a: &Object) -> String {
    format!(
        "Before any controller processes its deletion, remove the ID from {}: `kubectl annotate \
         autoscalingrunnerset {} -n {} runner-scale-set-id-` (`kubectl arc orphans --fix` asks \
         for confirmation).",
        a.meta.display(),
        a.meta.name,
        a.meta.ns()
    )
}

fn finding(ctx: &Ctx, id: i64, url: &str, mut arss: Vec<&Object>) -> Finding {
    arss.sort_by_key(|a| (stale(ctx, a).is_none(), a.meta.obj_ref()));
    let stale_ones: Vec<(&Object, String)> = arss
        .iter()
        .filter_map(|a| stale(ctx, a).map(|why| (*a, why)))
        .collect();
    let live: Vec<&Object> = arss
        .iter()
        .copied()
        .filter(|a| stale(ctx, a).is_none())
        .collect();
    let severity = if stale_ones.is_empty() {
        Severity::High
    } else {
        Severity::Critical
    };
    let names: Vec<String> = arss.iter().map(|a| a.meta.display()).collect();
    let url_text = if url.is_empty() {
        String::new()
    } else {
        format!(" ({url})")
    };
    let mut message = format!(
        "AutoscalingRunnerSets {} all carry runner-scale-set-id={id}{url_text}: a re-installed \
         scale set with the same name and runner group re-used the GitHub registration of an \
         older one.",
        names.join(", ")
    );
    if stale_ones.is_empty() {
        message.push_str(" Their listeners compete for one GitHub session.");
    } else {
        let s: Vec<String> = stale_ones
            .iter()
            .map(|(a, why)| format!("{} is {why}", a.meta.display()))
            .collect();
        message.push_str(&format!(
            " {}; when a controller finalizes it, it deletes scale set {id} on GitHub — the \
             registration the live scale set is using — and that scale set's listener starts \
             failing with RunnerScaleSetNotFoundException.",
            s.join("; ")
        ));
    }
    let keep = live
        .first()
        .map(|a| a.meta.display())
        .unwrap_or_else(|| "the one you keep".to_owned());
    let mut f = Finding::new("ARC-SCALESET-ID-SHARED", severity, message)
        .objects(arss.iter().map(|a| a.meta.obj_ref()));
    let others: Vec<&Object> = if stale_ones.is_empty() {
        arss.iter().skip(1).copied().collect()
    } else {
        stale_ones.iter().map(|(a, _)| *a).collect()
    };
    for a in &others {
        f = f.remediation(remove_id_step(a));
    }
    f = f.remediation(format!(
        "Keep the ID only on {keep}; then finish the cleanup of the old scale set (its deletion \
         now skips the GitHub call)."
    ));
    for a in &arss {
        f = f.evidence(format!(
            "{} runner-scale-set-id={id} deleting={}",
            a.meta.display(),
            a.meta.is_deleting()
        ));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{ObjectRef, Snapshot};
    use crate::testing;
    use serde_json::json;

    fn second_ars(snap: &mut Snapshot, ns: &str, deleting: bool) {
        let mut a = snap.autoscaling_runner_sets.items[0].clone();
        a.meta.namespace = Some(crate::intern::intern(ns));
        a.meta.uid = crate::intern::intern(&format!("uid-{ns}"));
        a.meta.deletion_timestamp = deleting.then_some("2026-07-01T10:00:00Z");
        snap.autoscaling_runner_sets.items.push(a);
        snap.namespaces
            .items
            .push(testing::obj("Namespace", json!({"metadata":{"name":ns}})));
    }

    #[test]
    fn deleting_copy_is_critical_and_listed_first() {
        let mut snap = testing::scenario("B0");
        second_ars(&mut snap, "zzz-old", true);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::Critical);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced(
                "AutoscalingRunnerSet",
                "zzz-old",
                "arc-runner-set"
            ))
        );
        assert_eq!(f[0].objects.len(), 2);
        assert!(f[0].remediation[0].contains("-n zzz-old runner-scale-set-id-"));
    }

    #[test]
    fn two_live_copies_are_high_and_other_urls_do_not_count() {
        let mut snap = testing::scenario("B0");
        second_ars(&mut snap, "zzz", false);
        assert_eq!(check(&Ctx::new(&snap))[0].severity, Severity::High);
        let copy = snap.autoscaling_runner_sets.items.last_mut().expect("copy");
        copy.body["spec"]["githubConfigUrl"] = json!("https://github.com/other").into();
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
