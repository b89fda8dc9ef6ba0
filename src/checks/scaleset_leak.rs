//! `ARC-SCALESET-LEAK-SUSPECTED` – a scale set probably remains registered on GitHub with nothing
//! in the cluster left to delete it (arc-domain §4.6).
//!
//! Evidence, per scale-set ID (and GitHub config URL):
//! * an ARS being deleted with a numeric `runner-scale-set-id` whose Actions client cannot be built
//!   (GitHub config Secret, proxy credentials or TLS ConfigMap missing) — step 4 can never run;
//! * AutoscalingListeners (`spec.runnerScaleSetId`), EphemeralRunnerSets
//!   (`spec.ephemeralRunnerSpec.runnerScaleSetId`) and EphemeralRunners (`spec.runnerScaleSetId`)
//!   whose AutoscalingRunnerSet no longer exists.
//!
//! Not reported when a live ARS still carries the same ID (it is in use, e.g. re-used after a
//! re-install — see ARC-SCALESET-ID-SHARED). JIT Secrets also hold `scaleSetId`, but Secrets are
//! collected metadata-only, so their owning EphemeralRunner stands in for them.

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{self, F_ARS, L_SCALE_SET_NAME};
use crate::snapshot::{Lookup, Object, Scope};

use super::Ctx;
use crate::facts::aux_refs::client_problems;
use crate::facts::shared_id::config_url;

/// One piece of evidence.
struct Evidence<'a> {
    obj: &'a Object,
    why: String,
}

/// (scale set ID, normalised GitHub config URL).
type Key = (i64, String);

fn id_at(o: &Object, pointer: &str) -> Option<i64> {
    o.i64(pointer)
        .or_else(|| o.str(pointer).and_then(|s| s.trim().parse().ok()))
        .filter(|id| *id > 0)
}

/// Does the ARS `ns/name` exist? None = cannot tell.
fn ars_exists(ctx: &Ctx, ns: &str, name: &str) -> Option<bool> {
    match ctx.snap.autoscaling_runner_sets.get(Some(ns), name) {
        Lookup::Found(_) => Some(true),
        Lookup::Missing => Some(false),
        Lookup::Unknown => None,
    }
}

/// The ARS of an ERS/ER is known to be gone (no owner ARS by UID, none with its scale-set name).
fn ars_gone(ctx: &Ctx, o: &Object) -> bool {
    let ns = o.meta.ns();
    if !ctx.snap.autoscaling_runner_sets.scope.covers(Some(ns)) {
        return false;
    }
    let owned_by_ars = o.meta.owner_references.iter().any(|r| {
        ctx.snap
            .by_uid(r.uid)
            .is_some_and(|x| x.meta.kind == "AutoscalingRunnerSet")
    });
    if owned_by_ars {
        return false;
    }
    // ER → its ERS → the ERS's scale-set label, when the ER itself has none.
    let name = o.meta.label(L_SCALE_SET_NAME).or_else(|| {
        model::owner(ctx.snap, o, "EphemeralRunnerSet")
            .and_then(|ers| ers.meta.label(L_SCALE_SET_NAME))
    });
    match name {
        Some(n) => ars_exists(ctx, ns, n) == Some(false),
        None => {
            !o.meta.owner_references.is_empty()
                && o.meta
                    .owner_references
                    .iter()
                    .all(|r| ctx.snap.by_uid(r.uid).is_none())
        }
    }
}

fn scale_set_name(o: &Object) -> Option<&str> {
    o.meta
        .annotation("actions.github.com/runner-scale-set-name")
        .or_else(|| o.meta.label(L_SCALE_SET_NAME))
        .or_else(|| o.str("/spec/autoscalingRunnerSetName"))
}

fn collect<'a>(ctx: &Ctx<'a>) -> BTreeMap<Key, Vec<Evidence<'a>>> {
    let snap = ctx.snap;
    let mut m: BTreeMap<Key, Vec<Evidence>> = BTreeMap::new();
    let mut add = |id: i64, url: String, obj: &'a Object, why: String| {
        m.entry((id, url)).or_default().push(Evidence { obj, why });
    };
    for ars in &snap.autoscaling_runner_sets {
        if !(ars.meta.is_deleting() && ars.meta.has_finalizer(F_ARS)) {
            continue;
        }
        let Some(id) = model::scale_set_id(ars) else {
            continue;
        };
        let problems = client_problems(ctx, ars);
        if !problems.is_empty() {
            let why = format!(
                "is being deleted with runner-scale-set-id={id}, but the scale set cannot be \
                 deleted on GitHub: {}",
                problems.join("; ")
            );
            add(id, config_url(ars, "/spec/githubConfigUrl"), ars, why);
        }
    }
    for al in &snap.autoscaling_listeners {
        let (Some(id), Some((r, a))) = (
            id_at(al, "/spec/runnerScaleSetId"),
            model::listener_target(al),
        ) else {
            continue;
        };
        if ars_exists(ctx, r, a) == Some(false) {
            let why = format!(
                "has spec.runnerScaleSetId={id}, but its AutoscalingRunnerSet {r}/{a} is gone"
            );
            add(id, config_url(al, "/spec/githubConfigUrl"), al, why);
        }
    }
    let runner_objects = [
        (
            &snap.ephemeral_runner_sets,
            "/spec/ephemeralRunnerSpec/runnerScaleSetId",
            "/spec/ephemeralRunnerSpec/githubConfigUrl",
        ),
        (
            &snap.ephemeral_runners,
            "/spec/runnerScaleSetId",
            "/spec/githubConfigUrl",
        ),
    ];
    for (coll, id_ptr, url_ptr) in runner_objects {
        for o in coll.iter() {
            let Some(id) = id_at(o, id_ptr) else { continue };
            if ars_gone(ctx, o) {
                let why =
                    format!("has runnerScaleSetId={id}, but its AutoscalingRunnerSet is gone");
                add(id, config_url(o, url_ptr), o, why);
            }
        }
    }
    m
}

/// A live ARS still uses this ID (same URL, or URL unknown on either side).
fn in_use(ctx: &Ctx, id: i64, url: &str) -> bool {
    ctx.snap.autoscaling_runner_sets.iter().any(|a| {
        let ns = a.meta.ns();
        let a_url = config_url(a, "/spec/githubConfigUrl");
        model::scale_set_id(a) == Some(id)
            && !a.meta.is_deleting()
            && !ctx.snap.namespace_terminating(ns)
            && ctx.snap.namespace_exists(ns) != Some(false)
            && (url.is_empty() || a_url.is_empty() || a_url == url)
    })
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    // "Nothing else uses this ID" needs every ARS in the cluster.
    if ctx.snap.autoscaling_runner_sets.scope != Scope::All {
        return Vec::new();
    }
    collect(ctx)
        .into_iter()
        .filter(|((id, url), _)| !in_use(ctx, *id, url))
        .map(|((id, url), ev)| finding(id, &url, &ev))
        .collect()
}

fn finding(id: i64, url: &str, ev: &[Evidence]) -> Finding {
    let name = ev.iter().find_map(|e| scale_set_name(e.obj));
    let label = match (name, url.is_empty()) {
        (Some(n), false) => format!("scale set {id} (\"{n}\", {url})"),
        (Some(n), true) => format!("scale set {id} (\"{n}\")"),
        (None, false) => format!("scale set {id} ({url})"),
        (None, true) => format!("scale set {id}"),
    };
    let facts: Vec<String> = ev
        .iter()
        .map(|e| format!("{} {} {}", e.obj.meta.kind, e.obj.meta.display(), e.why))
        .collect();
    let message = format!(
        "{label} is probably still registered on GitHub and nothing in the cluster will delete \
         it: {}. It shows as offline in GitHub until it is deleted or GitHub removes it (about a \
         day offline, possibly longer); re-creating a scale set with the same name and runner \
         group re-uses it.",
        facts.join("; ")
    );
    let behind = if url.is_empty() {
        String::new()
    } else {
        format!(" behind {url}")
    };
    let mut f = Finding::new("ARC-SCALESET-LEAK-SUSPECTED", Severity::Medium, message)
        .objects(ev.iter().map(|e| e.obj.meta.obj_ref()))
        .remediation(format!(
            "Delete {label} on GitHub: the runner groups / Actions runners settings of the \
             organization, enterprise or repository{behind}."
        ))
        .remediation(format!(
            "Or delete scale set {id} on GitHub by hand (the Actions API: DELETE \
             …/_apis/runtime/runnerscalesets/{id}) before any finalizer is stripped: kubectl arc \
             never reads the credentials, so it lists the ID instead of deleting it."
        ))
        .remediation(
            "Or accept the leak: GitHub removes offline scale sets by itself after a while.",
        );
    for e in facts {
        f = f.evidence(e);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    const SECRET: &str = "arc-runner-set-gha-rs-github-secret";

    #[test]
    fn scale_set_gone_leaves_listener_and_runners_as_evidence() {
        let mut snap = testing::scenario("B0");
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].message.contains("scale set 42"), "{}", f[0].message);
        let kinds: Vec<&str> = f[0].objects.iter().map(|o| o.kind.as_str()).collect();
        assert!(
            kinds.contains(&"AutoscalingListener") && kinds.contains(&"EphemeralRunnerSet"),
            "{kinds:?}"
        );
    }

    #[test]
    fn deleting_ars_without_credentials_is_evidence_unless_id_in_use() {
        let mut snap = testing::scenario("B0");
        testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        )
        .meta
        .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        testing::remove(&mut snap, |o| {
            o.meta.kind == "Secret" && o.meta.name == SECRET
        });
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-SCALESET-LEAK-SUSPECTED AutoscalingRunnerSet arc-runners/arc-runner-set"]
        );
        // A live copy elsewhere re-uses 42: not a leak.
        let mut copy = snap.autoscaling_runner_sets.items[0].clone();
        copy.meta.namespace = Some("arc-systems");
        copy.meta.deletion_timestamp = None;
        snap.autoscaling_runner_sets.items.push(copy);
        assert!(check(&Ctx::new(&snap)).is_empty());
    }

    #[test]
    fn present_credentials_are_not_evidence() {
        let mut snap = testing::scenario("B0");
        testing::get_mut(
            &mut snap,
            "AutoscalingRunnerSet",
            Some("arc-runners"),
            "arc-runner-set",
        )
        .meta
        .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
