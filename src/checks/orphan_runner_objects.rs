//! `ARC-ORPHAN-RUNNER-OBJECTS`: runner-side objects whose owner is gone (arc-domain §4.5):
//! EphemeralRunnerSet without its AutoscalingRunnerSet, EphemeralRunner without its
//! EphemeralRunnerSet, runner Pod / JIT config Secret without its EphemeralRunner, ERS proxy Secret
//! without its EphemeralRunnerSet, and container-hook Pods/Secrets (`runner-pod=N`) without
//! EphemeralRunner `N`.
//!
//! Owners are resolved by UID (malformed owner kinds, #4475, are tolerated); objects without owner
//! references fall back to names and labels. Objects that are already being deleted are skipped:
//! their stuck deletion is `ARC-STUCK-ERS` / `ARC-STUCK-ER` / another code's finding. Runner IDs
//! are taken from EphemeralRunner status only (JIT Secret data is never read).

use crate::findings::{Finding, Severity};
use crate::model::{F_REG, L_SCALE_SET_NAME};
use crate::snapshot::{Collection, Lookup, Object};

use super::Ctx;

const CODE: &str = "ARC-ORPHAN-RUNNER-OBJECTS";
const HOOK_LABEL: &str = "runner-pod";
const RUNNER_POD_LABEL: &str = "actions-ephemeral-runner";
const JIT_ENV: &str = "ACTIONS_RUNNER_INPUT_JITCONFIG";

/// Where an object's owner stands.
enum Parent {
    Present,
    /// Gone, with the reason in words.
    Gone(String),
    /// Not decidable (not listed) or not applicable (no way to find the owner).
    Unknown,
}

/// Owner kinds written by 0.12.0–0.14.1 (#4475).
fn malformed(kind: &str) -> bool {
    kind.is_empty() || kind == "/"
}

fn owned_by_kind(o: &Object, kind: &str) -> bool {
    o.meta.owner_references.iter().any(|r| r.kind == kind)
}

/// Resolve `o`'s owner of `kind` in `parents`: by owner UID, else by `fallback` name.
fn parent(o: &Object, kind: &str, parents: &Collection, fallback: Option<&str>) -> Parent {
    let ns = o.meta.ns();
    let owners: Vec<_> = o
        .meta
        .owner_references
        .iter()
        .filter(|r| r.kind == kind || malformed(r.kind))
        .collect();
    if let Some(first) = owners.first() {
        if owners.iter().any(|r| parents.by_uid(r.uid).is_some()) {
            return Parent::Present;
        }
        if !parents.scope.covers(Some(ns)) {
            return Parent::Unknown;
        }
        return Parent::Gone(format!(
            "its owner {kind} {ns}/{} (uid {}) no longer exists",
            first.name, first.uid
        ));
    }
    if !o.meta.owner_references.is_empty() {
        // Owned by something else: not one of ours.
        return Parent::Unknown;
    }
    match fallback.map(|n| (n, parents.get(Some(ns), n))) {
        Some((_, Lookup::Found(_))) => Parent::Present,
        Some((n, Lookup::Missing)) => Parent::Gone(format!(
            "it has no owner reference and no {kind} {ns}/{n} exists"
        )),
        _ => Parent::Unknown,
    }
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(orphan_runner_sets(ctx));
    out.extend(orphan_runners(ctx));
    out.extend(orphan_runner_pods(ctx));
    out.extend(orphan_runner_secrets(ctx));
    out.extend(orphan_hook_objects(ctx));
    out
}

fn live(c: &Collection) -> impl Iterator<Item = &Object> {
    c.iter().filter(|o| !o.meta.is_deleting())
}

/// ARS name from the ERS scale-set label (`_` → `-` as the chart does).
fn ars_name_of(ers: &Object) -> Option<String> {
    ers.meta
        .label(L_SCALE_SET_NAME)
        .map(|s| s.replace('_', "-"))
}

/// ` (runner IDs 1001, 1002)` from EphemeralRunner status, or empty.
fn runner_ids(runners: &[&Object]) -> String {
    let ids: Vec<String> = runners
        .iter()
        .filter_map(|r| r.i64("/status/runnerId").filter(|id| *id > 0))
        .map(|id| id.to_string())
        .collect();
    if ids.is_empty() {
        String::new()
    } else {
        format!(" (runner IDs {})", ids.join(", "))
    }
}

fn orphan_runner_sets(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    live(&snap.ephemeral_runner_sets)
        .filter_map(|ers| {
            let fallback = ars_name_of(ers);
            let Parent::Gone(why) =
                parent(ers, "AutoscalingRunnerSet", &snap.autoscaling_runner_sets, fallback.as_deref())
            else {
                return None;
            };
            let (ns, name) = (ers.meta.ns(), &ers.meta.name);
            let runners: Vec<&Object> = snap
                .ephemeral_runners
                .in_namespace(ns)
                .filter(|er| !ers.meta.uid.is_empty() && er.meta.owner_references.iter().any(|r| r.uid == ers.meta.uid))
                .collect();
            let message = format!(
                "EphemeralRunnerSet {ns}/{name} is orphaned: {why}. It still owns {} EphemeralRunner(s){}; \
                 nothing scales or cleans it up, and its runners may stay registered on GitHub.",
                runners.len(),
                runner_ids(&runners)
            );
            Some(
                Finding::new(CODE, Severity::Medium, message)
                    .object(ers.meta.obj_ref())
                    .objects(runners.iter().map(|r| r.meta.obj_ref()))
                    .remediation(format!(
                        "Delete it: `kubectl delete ephemeralrunnerset {name} -n {ns}` (or `kubectl arc orphans --fix`); \
                         its runners are deleted with it."
                    ))
                    .remediation(
                        "Its finalizer needs a live controller that can read the GitHub secret to deregister idle runners; \
                         if none can, finish with `kubectl arc orphans --fix` (ARC-STUCK-ERS / ARC-STUCK-ER).",
                    ),
            )
        })
        .collect()
}

/// ERS name from an EphemeralRunner name `<E>-runner-<rand>`.
fn ers_name_of(er_name: &str) -> Option<&str> {
    er_name.rsplit_once("-runner-").map(|(e, _)| e)
}

fn orphan_runners(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    live(&snap.ephemeral_runners)
        .filter_map(|er| {
            let Parent::Gone(why) =
                parent(er, "EphemeralRunnerSet", &snap.ephemeral_runner_sets, ers_name_of(er.meta.name))
            else {
                return None;
            };
            let (ns, name) = (er.meta.ns(), &er.meta.name);
            let leak = match er.i64("/status/runnerId").filter(|id| *id > 0) {
                Some(id) => format!(
                    " Runner {id} ({}) may remain registered on GitHub until it is deregistered (ephemeral runners \
                     are removed about a day after going offline).",
                    er.str("/status/runnerName").unwrap_or(name)
                ),
                None => String::new(),
            };
            let job = er.str("/status/jobId").map(|j| format!(" It is running job {j}.")).unwrap_or_default();
            let message = format!("EphemeralRunner {ns}/{name} is orphaned: {why}.{job}{leak}");
            let mut f = Finding::new(CODE, Severity::Medium, message).object(er.meta.obj_ref());
            f = f.remediation(if job.is_empty() {
                format!("Delete it: `kubectl delete ephemeralrunner {name} -n {ns}` (or `kubectl arc orphans --fix`).")
            } else {
                format!("Let the job finish, then delete it: `kubectl delete ephemeralrunner {name} -n {ns}`.")
            });
            if er.meta.has_finalizer(F_REG) {
                f = f.remediation(
                    "Its registration finalizer needs a live controller that can read the GitHub secret; if none can, \
                     finish with `kubectl arc orphans --fix` (ARC-STUCK-ER) and remove the runner in GitHub.",
                );
            }
            Some(f)
        })
        .collect()
}

fn orphan_runner_pods(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    live(&snap.pods)
        .filter(|p| p.meta.label(RUNNER_POD_LABEL).is_some() || owned_by_kind(p, "EphemeralRunner"))
        .filter_map(|p| {
            let Parent::Gone(why) = parent(p, "EphemeralRunner", &snap.ephemeral_runners, Some(p.meta.name)) else {
                return None;
            };
            let (ns, name) = (p.meta.ns(), &p.meta.name);
            let effect = if p.str("/status/phase") == Some("Running") {
                " It is still Running: it consumes capacity and its runner stays registered on GitHub while it lives."
            } else {
                ""
            };
            Some(
                Finding::new(CODE, Severity::Medium, format!("Runner Pod {ns}/{name} is orphaned: {why}.{effect}"))
                    .object(p.meta.obj_ref())
                    .remediation(format!(
                        "If it is not running a job, delete it: `kubectl delete pod {name} -n {ns}` (or `kubectl arc orphans --fix`)."
                    ))
                    .remediation(format!(
                        "Check GitHub (organization or repository Runners settings) for runner {name} and remove it if it stays offline."
                    )),
            )
        })
        .collect()
}

/// Secrets runner pods in `ns` read their JIT config from (`ACTIONS_RUNNER_INPUT_JITCONFIG`).
fn jit_secret_refs<'a>(ctx: &Ctx<'a>, ns: &'a str) -> Vec<&'a str> {
    ctx.snap
        .pods
        .in_namespace(ns)
        .flat_map(|p| p.array("/spec/containers"))
        .flat_map(|c| c["env"].as_array().unwrap_or(&[]))
        .filter(|e| e["name"] == JIT_ENV)
        .filter_map(|e| {
            e.pointer("/valueFrom/secretKeyRef/name")
                .and_then(|n| n.as_str())
        })
        .collect()
}

/// An unowned Secret named like a runner of an existing EphemeralRunnerSet (`<E>-runner-<rand>`).
fn named_like_runner(ctx: &Ctx, s: &Object) -> bool {
    ers_name_of(s.meta.name).is_some_and(|e| {
        ctx.snap
            .ephemeral_runner_sets
            .get(Some(s.meta.ns()), e)
            .found()
            .is_some()
    })
}

/// Which runner Secret this is: (owner kind, description, fallback owner name).
fn secret_role(ctx: &Ctx, s: &Object) -> Option<(&'static str, &'static str, Option<String>)> {
    let name = s.meta.name;
    let owners = &s.meta.owner_references;
    let any_malformed = owners.iter().any(|r| malformed(r.kind));
    let proxy = name.strip_suffix("-runner-proxy");
    if owned_by_kind(s, "EphemeralRunnerSet")
        || proxy.is_some()
            && (any_malformed || owners.is_empty() && s.meta.label(L_SCALE_SET_NAME).is_some())
    {
        // `<E>-<h8>-runner-proxy`.
        let fallback = proxy
            .and_then(|p| p.rsplit_once('-'))
            .map(|(e, _)| e.to_owned());
        return Some((
            "EphemeralRunnerSet",
            "EphemeralRunnerSet proxy Secret",
            fallback,
        ));
    }
    let jit = "runner JIT config Secret";
    if owned_by_kind(s, "EphemeralRunner") || name.contains("-runner-") && any_malformed {
        return Some(("EphemeralRunner", jit, None));
    }
    if owners.is_empty()
        && (jit_secret_refs(ctx, s.meta.ns()).contains(&name) || named_like_runner(ctx, s))
    {
        // The JIT Secret has the EphemeralRunner's name.
        return Some(("EphemeralRunner", jit, Some(name.to_owned())));
    }
    None
}

fn orphan_runner_secrets(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    live(&snap.secrets)
        .filter_map(|s| {
            let (kind, what, fallback) = secret_role(ctx, s)?;
            let parents = if kind == "EphemeralRunner" { &snap.ephemeral_runners } else { &snap.ephemeral_runner_sets };
            let Parent::Gone(why) = parent(s, kind, parents, fallback.as_deref()) else {
                return None;
            };
            let (ns, name) = (s.meta.ns(), &s.meta.name);
            let effect = if kind == "EphemeralRunner" {
                format!(
                    " It holds a runner's just-in-time registration token; runner {name} may remain registered on \
                     GitHub (ephemeral runners are removed about a day after going offline)."
                )
            } else {
                " It holds proxy settings (possibly credentials) that nothing uses.".to_owned()
            };
            Some(
                Finding::new(CODE, Severity::Medium, format!("The {what} {ns}/{name} is orphaned: {why}.{effect}"))
                    .object(s.meta.obj_ref())
                    .remediation(format!(
                        "Delete it: `kubectl delete secret {name} -n {ns}` (or `kubectl arc orphans --fix`)."
                    )),
            )
        })
        .collect()
}

/// Does a runner named `n` still exist in `ns` (EphemeralRunner, legacy Runner, or its pod)?
fn runner_state(ctx: &Ctx, ns: &str, n: &str) -> Parent {
    let snap = ctx.snap;
    let er = snap.ephemeral_runners.get(Some(ns), n);
    let legacy = snap.runners.get(Some(ns), n);
    let pod = snap.pods.get(Some(ns), n);
    if [er, legacy, pod].iter().any(|l| l.found().is_some()) {
        return Parent::Present;
    }
    if er.is_missing() && pod.is_missing() {
        Parent::Gone(format!(
            "it is labelled runner-pod={n} but no EphemeralRunner or runner Pod {ns}/{n} exists"
        ))
    } else {
        Parent::Unknown
    }
}

fn orphan_hook_objects(ctx: &Ctx) -> Vec<Finding> {
    let snap = ctx.snap;
    live(&snap.pods)
        .chain(live(&snap.secrets))
        .filter_map(|o| {
            let runner = o.meta.label(HOOK_LABEL)?;
            let (ns, name) = (o.meta.ns(), &o.meta.name);
            let Parent::Gone(why) = runner_state(ctx, ns, runner) else {
                return None;
            };
            let kind = o.meta.kind.to_lowercase();
            let what = if o.meta.kind == "Pod" { "Container-hook Pod" } else { "Container-hook Secret" };
            Some(
                Finding::new(
                    CODE,
                    Severity::Medium,
                    format!(
                        "{what} {ns}/{name} is orphaned: {why}. The runner's cleanup (which deletes its hook objects) never ran."
                    ),
                )
                .object(o.meta.obj_ref())
                .remediation(format!(
                    "Delete it: `kubectl delete {kind} {name} -n {ns}`, or all leftovers of that runner: \
                     `kubectl delete pods,secrets -l runner-pod={runner} -n {ns}` (or `kubectl arc orphans --fix`)."
                )),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::orphan_listener::test_support::{ER, base, scenario};
    use crate::snapshot::{Scope, Snapshot};
    use crate::testing;
    use serde_json::json;

    fn run(snap: &Snapshot) -> Vec<Finding> {
        check(&Ctx::new(snap))
    }

    #[test]
    fn owned_runner_objects_are_fine() {
        assert!(run(&base()).is_empty());
    }

    #[test]
    fn ers_without_ars_is_orphan_with_runner_ids() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            ["ARC-ORPHAN-RUNNER-OBJECTS EphemeralRunnerSet arc-runners/arc-runner-set-x7k2p"]
        );
        assert_eq!(f[0].severity, Severity::Medium);
        assert!(f[0].message.contains("runner IDs 1001"), "{}", f[0].message);
        assert_eq!(f[0].objects[1].name, ER);
    }

    #[test]
    fn er_without_ers_reports_runner_id() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "EphemeralRunnerSet");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!(
                "ARC-ORPHAN-RUNNER-OBJECTS EphemeralRunner arc-runners/{ER}"
            )]
        );
        assert!(f[0].message.contains("Runner 1001"), "{}", f[0].message);
        assert!(f[0].remediation.iter().any(|r| r.contains("ARC-STUCK-ER")));
    }

    #[test]
    fn er_with_a_job_is_told_to_wait() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "EphemeralRunnerSet");
        testing::get_mut(&mut snap, "EphemeralRunner", Some("arc-runners"), ER).body["status"]["jobId"] =
            json!("8812").into();
        let f = run(&snap);
        assert!(f[0].message.contains("running job 8812"));
        assert!(f[0].remediation[0].starts_with("Let the job finish"));
    }

    #[test]
    fn pod_and_jit_secret_without_er() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "EphemeralRunner");
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [
                format!("ARC-ORPHAN-RUNNER-OBJECTS Pod arc-runners/{ER}"),
                format!("ARC-ORPHAN-RUNNER-OBJECTS Secret arc-runners/{ER}")
            ]
        );
        assert!(f[0].message.contains("still Running"));
        assert!(f[1].message.contains("just-in-time"));
    }

    #[test]
    fn unowned_jit_secret_is_found_through_the_pod_that_reads_it() {
        // S17 shape: the ER was deleted with --cascade=orphan; pod and secret have no owner.
        let mut snap = base();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "EphemeralRunner" || o.meta.kind == "EphemeralRunnerSet"
        });
        testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER)
            .meta
            .owner_references
            .clear();
        testing::get_mut(&mut snap, "Secret", Some("arc-runners"), ER)
            .meta
            .owner_references
            .clear();
        assert_eq!(
            run(&snap).len(),
            1,
            "without the env reference only the pod is recognisable"
        );
        testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER).body["spec"] = json!({"containers":[{"name":"runner",
            "env":[{"name":"ACTIONS_RUNNER_INPUT_JITCONFIG","valueFrom":{"secretKeyRef":{"name":ER,"key":"jitToken"}}}]}]}).into();
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [
                format!("ARC-ORPHAN-RUNNER-OBJECTS Pod arc-runners/{ER}"),
                format!("ARC-ORPHAN-RUNNER-OBJECTS Secret arc-runners/{ER}")
            ]
        );
        assert!(
            f[1].message
                .contains(&format!("runner {ER} may remain registered")),
            "{}",
            f[1].message
        );
        assert!(
            f[1].message.contains("no EphemeralRunner arc-runners/"),
            "{}",
            f[1].message
        );
    }

    #[test]
    fn unowned_secret_named_like_a_runner_of_an_existing_ers_is_a_jit_secret() {
        let mut snap = base();
        testing::remove(&mut snap, |o| {
            o.meta.kind == "EphemeralRunner" || o.meta.kind == "Pod"
        });
        testing::get_mut(&mut snap, "Secret", Some("arc-runners"), ER)
            .meta
            .owner_references
            .clear();
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [format!("ARC-ORPHAN-RUNNER-OBJECTS Secret arc-runners/{ER}")]
        );
    }

    #[test]
    fn unowned_runner_pod_falls_back_to_its_name() {
        let mut snap = base();
        testing::get_mut(&mut snap, "Pod", Some("arc-runners"), ER)
            .meta
            .owner_references
            .clear();
        assert!(run(&snap).is_empty());
        testing::remove(&mut snap, |o| o.meta.kind == "EphemeralRunner");
        let f = run(&snap);
        assert!(
            testing::codes(&f).contains(&format!("ARC-ORPHAN-RUNNER-OBJECTS Pod arc-runners/{ER}")),
            "{f:#?}"
        );
    }

    #[test]
    fn ers_proxy_secret_and_hook_objects() {
        let mut snap = base();
        snap.secrets.items.push(testing::obj(
            "Secret",
            json!({"metadata":{"name":"arc-runner-set-old12-754b578d-runner-proxy","namespace":"arc-runners",
                               "labels":{"actions.github.com/scale-set-name":"arc-runner-set"}}}),
        ));
        snap.secrets.items.push(testing::obj(
            "Secret",
            json!({"metadata":{"name":"arc-runner-set-x7k2p-754b578d-runner-proxy","namespace":"arc-runners",
                               "labels":{"actions.github.com/scale-set-name":"arc-runner-set"}}}),
        ));
        snap.pods.items.push(testing::obj(
            "Pod",
            json!({"metadata":{"name":"arc-runner-set-x7k2p-runner-gone1-workflow","namespace":"arc-runners",
                               "labels":{"runner-pod":"arc-runner-set-x7k2p-runner-gone1"}}}),
        ));
        snap.secrets.items.push(testing::obj(
            "Secret",
            json!({"metadata":{"name":"hook-secret-of-live-runner","namespace":"arc-runners","labels":{"runner-pod":ER}}}),
        ));
        let f = run(&snap);
        assert_eq!(
            testing::codes(&f),
            [
                "ARC-ORPHAN-RUNNER-OBJECTS Secret arc-runners/arc-runner-set-old12-754b578d-runner-proxy",
                "ARC-ORPHAN-RUNNER-OBJECTS Pod arc-runners/arc-runner-set-x7k2p-runner-gone1-workflow",
            ]
        );
        assert!(f[1].remediation[0].contains("-l runner-pod=arc-runner-set-x7k2p-runner-gone1"));
    }

    #[test]
    fn deleting_objects_and_unlisted_owners_are_skipped() {
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "AutoscalingRunnerSet");
        testing::get_mut(
            &mut snap,
            "EphemeralRunnerSet",
            Some("arc-runners"),
            "arc-runner-set-x7k2p",
        )
        .meta
        .deletion_timestamp = Some("2026-07-01T10:00:00Z");
        assert!(run(&snap).is_empty());
        let mut snap = base();
        testing::remove(&mut snap, |o| o.meta.kind == "EphemeralRunner");
        snap.ephemeral_runners.scope = Scope::Namespaces(["elsewhere".to_owned()].into());
        assert!(run(&snap).is_empty());
    }

    #[test]
    fn er_name_parsing() {
        assert_eq!(
            ers_name_of("arc-runner-set-x7k2p-runner-4fzq8"),
            Some("arc-runner-set-x7k2p")
        );
        assert_eq!(ers_name_of("plain"), None);
    }

    #[test]
    fn scenarios() {
        for id in ["B0", "S1", "S2", "S3", "S4", "S5", "S8", "S9", "S13"] {
            let snap = scenario(id);
            assert!(run(&snap).is_empty(), "{id}: {:#?}", run(&snap));
        }
        let f = run(&scenario("S17"));
        assert_eq!(
            testing::codes(&f),
            [
                "ARC-ORPHAN-RUNNER-OBJECTS Pod arc-runners/arc-runner-set-x7k2p-runner-9vbnm",
                "ARC-ORPHAN-RUNNER-OBJECTS Secret arc-runners/arc-runner-set-x7k2p-runner-9vbnm",
            ]
        );
        assert!(f.iter().all(|f| f.severity == Severity::Medium));
    }
}
