//! `ARC-SECRET-TERMINATING` – the GitHub config Secret is being deleted while something still
//! needs it (arc-domain §4.3).
//!
//! Fires for a referenced Secret with a deletionTimestamp when a referring ARS is not being
//! deleted (the Secret was pruned from under a live scale set), or when EphemeralRunners that still
//! carry the registration finalizer reference it and their deregistration is stranded (judged as
//! in `ARC-STUCK-ER`; it will need this Secret once unblocked). A Secret held by `cleanup-protection` while
//! a live, authorised controller works through a deletion (S9) is the designed behaviour and is not
//! reported.

use crate::findings::{Finding, Severity};
use crate::model::F_REG;
use crate::snapshot::Object;

use super::Ctx;
use crate::facts::common::{self, RefState};
use crate::facts::deletion::Verdict;
use crate::facts::secret_refs::{GithubRef, by_secret, github_refs, list, referrers};

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let refs = github_refs(ctx);
    let mut out = Vec::new();
    for ((ns, name), group) in by_secret(&refs) {
        if let RefState::Terminating(secret) = common::secret(ctx, &ns, &name)
            && let Some(f) = finding(ctx, secret, &group)
        {
            out.push(f);
        }
    }
    out
}

/// Why the terminating Secret is still needed, if it is.
struct Need<'a> {
    live_ars: Vec<&'a Object>,
    stranded_runners: Vec<&'a Object>,
    why_stranded: Option<String>,
}

fn need<'a>(ctx: &Ctx<'a>, group: &[&GithubRef<'a>]) -> Need<'a> {
    let objs = referrers(group);
    let live_ars: Vec<&Object> = objs
        .iter()
        .copied()
        .filter(|o| o.meta.kind == "AutoscalingRunnerSet" && !o.meta.is_deleting())
        .collect();
    let mut stranded_runners = Vec::new();
    let mut why_stranded = None;
    for er in objs
        .iter()
        .copied()
        .filter(|o| o.meta.kind == "EphemeralRunner" && o.meta.has_finalizer(F_REG))
    {
        // Judged like its own deletion (a runner that is not deleting yet is judged as if it were).
        if let Some(Verdict::Stuck(blocked)) = ctx.deletion(er) {
            why_stranded.get_or_insert_with(|| {
                blocked
                    .first()
                    .map(|b| b.cause.to_string())
                    .unwrap_or_default()
            });
            stranded_runners.push(er);
        }
    }
    Need {
        live_ars,
        stranded_runners,
        why_stranded,
    }
}

fn finding(ctx: &Ctx, secret: &Object, group: &[&GithubRef]) -> Option<Finding> {
    let need = need(ctx, group);
    if need.live_ars.is_empty() && need.stranded_runners.is_empty() {
        return None;
    }
    let held = if secret.meta.finalizers.is_empty() {
        "nothing holds it, so it can disappear at any moment".to_owned()
    } else {
        format!(
            "it is held only by the finalizer(s) {}",
            secret.meta.finalizers.join(", ")
        )
    };
    let mut reasons = Vec::new();
    if !need.live_ars.is_empty() {
        reasons.push(format!(
            "{} is not being deleted and needs it to create and deregister runners",
            list(&need.live_ars)
        ));
    }
    if !need.stranded_runners.is_empty() {
        let carry = if need.stranded_runners.len() == 1 {
            "carries"
        } else {
            "carry"
        };
        reasons.push(format!(
            "{} still {carry} the registration finalizer and must be deregistered from GitHub \
             with these credentials, which no controller can do right now ({})",
            list(&need.stranded_runners),
            need.why_stranded.as_deref().unwrap_or("not processable")
        ));
    }
    let message = format!(
        "Secret {} is being deleted (deletionTimestamp {}; {held}) although {}. Typical causes: a \
         GitOps prune or a separate helm uninstall removed it independently of the scale set.",
        secret.meta.display(),
        secret.meta.deletion_timestamp.unwrap_or("set"),
        reasons.join("; and ")
    );
    let ns = secret.meta.ns();
    let name = &secret.meta.name;
    let f = Finding::new("ARC-SECRET-TERMINATING", Severity::High, message)
        .object(secret.meta.obj_ref())
        .objects(referrers(group).iter().map(|o| o.meta.obj_ref()))
        .remediation(
            "Find and stop whatever deletes it (Argo CD/Flux prune, a helm uninstall of the \
             release that rendered it, a cleanup script).",
        )
        .remediation(format!(
            "Never remove the actions.github.com/cleanup-protection finalizer from Secret \
             {ns}/{name} while a scale set or runner still needs it: as long as it is held, the \
             controller can still read it; the controller releases it itself after the scale set \
             is gone."
        ))
        .remediation(
            "If the scale set is meant to keep running: a Terminating object cannot be revived — \
             create a new Secret under another name and point the scale set at it (helm upgrade \
             with githubConfigSecret set), so nothing depends on the terminating one.",
        )
        .evidence(format!(
            "Secret {} deletionTimestamp={} finalizers=[{}]",
            secret.meta.display(),
            secret.meta.deletion_timestamp.unwrap_or(""),
            secret.meta.finalizers.join(", ")
        ));
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::ObjectRef;
    use crate::testing;

    const SECRET: &str = "arc-runner-set-gha-rs-github-secret";

    fn terminate(snap: &mut crate::snapshot::Snapshot, kind: &str, ns: &str, name: &str) {
        testing::get_mut(snap, kind, Some(ns), name)
            .meta
            .deletion_timestamp = Some("2026-07-01T10:00:00Z");
    }

    #[test]
    fn pruned_secret_under_live_scale_set_is_high() {
        let mut snap = testing::scenario("B0");
        terminate(&mut snap, "Secret", "arc-runners", SECRET);
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].severity, Severity::High);
        assert_eq!(
            f[0].primary(),
            Some(&ObjectRef::namespaced("Secret", "arc-runners", SECRET))
        );
        assert!(
            f[0].objects
                .iter()
                .any(|o| o.kind == "AutoscalingRunnerSet")
        );
    }

    #[test]
    fn deleting_scale_set_processed_by_live_controller_is_silent() {
        let mut snap = testing::scenario("B0");
        terminate(&mut snap, "Secret", "arc-runners", SECRET);
        terminate(
            &mut snap,
            "AutoscalingRunnerSet",
            "arc-runners",
            "arc-runner-set",
        );
        assert!(check(&Ctx::new(&snap)).is_empty());
        // Same, but nobody can deregister the runner: the Secret is still needed.
        testing::remove(&mut snap, |o| o.meta.kind == "Deployment");
        let f = check(&Ctx::new(&snap));
        assert_eq!(f.len(), 1, "{:?}", testing::codes(&f));
        assert!(
            f[0].message.contains("registration finalizer"),
            "{}",
            f[0].message
        );
    }
}
