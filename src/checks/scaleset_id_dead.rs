//! `ARC-SCALESET-ID-DEAD` – the scale set ID an ARS is annotated with no longer exists on GitHub
//! (arc-domain §3 "dead IDs are not re-validated", §4.6).
//!
//! Detected from collected listener pod logs: `RunnerScaleSetNotFoundException` or
//! `No runner scale set found with identifier <id>`. The pod is mapped to its listener (same name
//! in the same namespace, else its owner) and the listener to its ARS (else the pod's scale-set
//! labels); the primary object is that ARS when its `runner-scale-set-id` equals the dead ID. A
//! log about an ID the ARS no longer carries is stale (listener drift) and not reported here.

use std::collections::BTreeMap;

use crate::findings::{Finding, Severity};
use crate::model::{self, L_COMPONENT, L_SCALE_SET_NAME, L_SCALE_SET_NS};
use crate::snapshot::{Object, ObjectRef, PodLog};

use super::Ctx;

const EXCEPTION: &str = "RunnerScaleSetNotFoundException";
const NOT_FOUND: &str = "No runner scale set found with identifier";

/// Whether a log line reports a missing scale set, and the ID it names (`Some(None)`: no ID).
fn dead_id(line: &str) -> Option<Option<i64>> {
    if let Some(pos) = line.find(NOT_FOUND) {
        let rest = &line[pos + NOT_FOUND.len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return Some(digits.parse().ok());
    }
    line.contains(EXCEPTION).then_some(None)
}

/// Is this log from a listener pod?
fn is_listener_log(ctx: &Ctx, log: &PodLog) -> bool {
    let snap = ctx.snap;
    log.container == "listener"
        || snap
            .autoscaling_listeners
            .get(Some(&log.namespace), &log.pod)
            .found()
            .is_some()
        || snap
            .pods
            .get(Some(&log.namespace), &log.pod)
            .found()
            .is_some_and(|p| p.meta.label(L_COMPONENT) == Some("runner-scale-set-listener"))
}

/// The listener behind a listener pod.
fn listener_of<'a>(ctx: &Ctx<'a>, log: &PodLog) -> Option<&'a Object> {
    let als = &ctx.snap.autoscaling_listeners;
    als.get(Some(&log.namespace), &log.pod).found().or_else(|| {
        let pod = ctx.snap.pods.get(Some(&log.namespace), &log.pod).found()?;
        model::owner(ctx.snap, pod, "AutoscalingListener")
    })
}

/// The ARS the log's listener serves, when it carries the dead ID.
fn target_ars<'a>(
    ctx: &Ctx<'a>,
    log: &PodLog,
    al: Option<&Object>,
    id: Option<i64>,
) -> Option<&'a Object> {
    let arss = &ctx.snap.autoscaling_runner_sets;
    let served = match al.and_then(model::listener_target) {
        Some((ns, name)) => arss.get(Some(ns), name).found(),
        None => {
            let pod = ctx.snap.pods.get(Some(&log.namespace), &log.pod).found()?;
            let ns = pod.meta.label(L_SCALE_SET_NS)?;
            arss.get(Some(ns), pod.meta.label(L_SCALE_SET_NAME)?)
                .found()
        }
    }?;
    let want = id.or_else(|| al.and_then(|a| a.i64("/spec/runnerScaleSetId")))?;
    (model::scale_set_id(served) == Some(want)).then_some(served)
}

/// Everything found about one dead scale set.
struct Hit<'a> {
    ars: &'a Object,
    id: i64,
    listener: Option<&'a Object>,
    pods: Vec<ObjectRef>,
    lines: Vec<String>,
}

pub fn check(ctx: &Ctx) -> Vec<Finding> {
    let mut hits: BTreeMap<ObjectRef, Hit> = BTreeMap::new();
    for log in ctx.snap.logs.iter().filter(|l| is_listener_log(ctx, l)) {
        let Some((line, id)) = log.lines.iter().find_map(|l| dead_id(l).map(|id| (l, id))) else {
            continue;
        };
        let al = listener_of(ctx, log);
        let Some(ars) = target_ars(ctx, log, al, id) else {
            continue;
        };
        let Some(id) = model::scale_set_id(ars) else {
            continue;
        };
        let hit = hits.entry(ars.meta.obj_ref()).or_insert_with(|| Hit {
            ars,
            id,
            listener: al,
            pods: Vec::new(),
            lines: Vec::new(),
        });
        hit.pods
            .push(ObjectRef::namespaced("Pod", &log.namespace, &log.pod));
        hit.lines
            .push(format!("{}/{}: {}", log.namespace, log.pod, line.trim()));
    }
    hits.into_values().map(|h| finding(&h)).collect()
}

fn finding(h: &Hit) -> Finding {
    let ars = h.ars;
    let id = h.id;
    let listener = h
        .listener
        .map(|l| format!(" {}", l.meta.display()))
        .unwrap_or_default();
    let message = format!(
        "AutoscalingRunnerSet {} is annotated with runner-scale-set-id={id}, but GitHub reports \
         that scale set as not found (RunnerScaleSetNotFoundException in its listener's log): it \
         was deleted on GitHub (manually, by GitHub's cleanup of offline scale sets, or by another \
         controller finalizing an old copy that shared the ID). The controller does not \
         re-validate the ID, so the listener{listener} keeps failing and no jobs are picked up.",
        ars.meta.display()
    );
    let mut f = Finding::new("ARC-SCALESET-ID-DEAD", Severity::High, message)
        .object(ars.meta.obj_ref())
        .objects(h.listener.map(|l| l.meta.obj_ref()))
        .objects(h.pods.iter().cloned())
        .remediation(format!(
            "Remove the dead ID: `kubectl annotate autoscalingrunnerset {} -n {} \
             runner-scale-set-id-` (`kubectl arc orphans --fix --include-confirm`).",
            ars.meta.name,
            ars.meta.ns()
        ));
    if let Some(l) = h.listener {
        f = f.remediation(format!(
            "Delete its listener so it is rebuilt: `kubectl delete autoscalinglistener {} -n {}`.",
            l.meta.name,
            l.meta.ns()
        ));
    }
    f = f.remediation(
        "The controller then registers the scale set again (re-using one with the same name and \
         runner group if it exists) and creates a fresh listener.",
    );
    for l in &h.lines {
        f = f.evidence(l.clone());
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Snapshot;
    use crate::testing;

    const LINE: &str = "createSession failed: failed to create session: actions error: \
        StatusCode 404, AcivityId \"x\": GitHub.Actions.Runtime.WebApi.RunnerScaleSetNotFoundException, \
        GitHub.Actions.Runtime.WebApi: No runner scale set found with identifier 42.";

    fn with_log(snap: &mut Snapshot, line: &str) {
        snap.logs.push(PodLog {
            namespace: "arc-systems".to_owned(),
            pod: "arc-runner-set-85f786b5-listener".to_owned(),
            container: "listener".to_owned(),
            lines: vec!["starting".to_owned(), line.to_owned()],
        });
    }

    #[test]
    fn parses_the_id() {
        assert_eq!(dead_id(LINE), Some(Some(42)));
        assert_eq!(dead_id("x RunnerScaleSetNotFoundException y"), Some(None));
        assert_eq!(dead_id("all good"), None);
    }

    #[test]
    fn dead_id_in_listener_log_flags_the_scale_set() {
        let mut snap = testing::scenario("B0");
        with_log(&mut snap, LINE);
        let f = check(&Ctx::new(&snap));
        assert_eq!(
            testing::codes(&f),
            vec!["ARC-SCALESET-ID-DEAD AutoscalingRunnerSet arc-runners/arc-runner-set"]
        );
        assert_eq!(f[0].severity, Severity::High);
        assert!(f[0].remediation[0].contains("runner-scale-set-id-"));
        assert!(f[0].objects.iter().any(|o| o.kind == "AutoscalingListener"));
    }

    #[test]
    fn log_about_another_id_is_stale() {
        let mut snap = testing::scenario("B0");
        with_log(&mut snap, &LINE.replace("identifier 42", "identifier 7"));
        assert!(check(&Ctx::new(&snap)).is_empty());
    }
}
