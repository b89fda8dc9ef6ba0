//! Carry out a [`Plan`]: for each step, re-read the object, back it up, check it is still the
//! object the plan saw, then write — guarded by preconditions — and record the outcome.
//!
//! Steps run in waves: a step runs once every step it names in `after` succeeded (a step whose
//! prerequisite did not succeed is skipped with that reason); the steps of one wave are
//! independent and run with bounded concurrency. Nothing is retried blindly: 409/422 are
//! reported as failures of that step.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::cluster::{ApiError, Cluster, Target, api_version};
use crate::findings::Fix;
use crate::plan::{Action, Op, Plan};

/// Label on everything the tool creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kubectl-arc");

#[derive(Debug, Clone)]
pub struct Options {
    pub include_confirm: bool,
    /// Send every write with `dryRun=All`.
    pub server_dry_run: bool,
    pub backup_dir: PathBuf,
    pub concurrency: usize,
    pub verbose: u8,
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub step: usize,
    /// `done`, `dryRun`, `skipped`, `failed` or `notIncluded` (a `confirm` step without
    /// `--include-confirm`).
    pub result: Result_,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Backup file written before the mutation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Result_ {
    Done,
    DryRun,
    Skipped,
    Failed,
    NotIncluded,
}

impl Result_ {
    pub fn ok(self) -> bool {
        matches!(self, Result_::Done | Result_::DryRun)
    }
}

/// Objects as last written by us: (uid, resourceVersion), so a second step on the same object
/// expects our own change rather than the plan's snapshot.
type Known = Mutex<HashMap<(String, Option<String>, String), (String, String)>>;

/// Backup file per object: an object is backed up once, before its first mutation, so
/// `kubectl create -f <dir>` restores each object exactly as it was before the run.
type Backups = Mutex<HashMap<(String, Option<String>, String), String>>;

/// Run the plan. Returns one outcome per step, in step order.
pub async fn run(cluster: &Cluster, plan: &Plan, o: &Options) -> Vec<Outcome> {
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    let known: Known = Mutex::new(HashMap::new());
    let backups: Backups = Mutex::new(HashMap::new());
    let mut remaining: Vec<&Action> = plan.actions.iter().collect();
    while !remaining.is_empty() {
        // The next wave: steps of the earliest phase still open (phases are barriers: a shared
        // scale-set ID is gone before anything of that scale set is touched, webhooks before
        // Runners, …) whose prerequisites all have an outcome.
        let phase = remaining.iter().map(|a| a.phase).min().expect("not empty");
        let (ready, later): (Vec<&Action>, Vec<&Action>) = remaining
            .into_iter()
            .partition(|a| a.phase == phase && a.after.iter().all(|p| outcomes.contains_key(p)));
        if ready.is_empty() {
            for a in later {
                outcomes.insert(a.step, skipped(a.step, "prerequisite cycle".to_owned()));
            }
            break;
        }
        remaining = later;
        let mut runnable = Vec::new();
        for a in ready {
            if a.tag == Fix::Confirm && !o.include_confirm {
                outcomes.insert(
                    a.step,
                    Outcome {
                        step: a.step,
                        result: Result_::NotIncluded,
                        detail: "tagged confirm: run with --include-confirm to do it".to_owned(),
                        backup: None,
                    },
                );
                continue;
            }
            if let Some(p) = a.after.iter().find(|p| !outcomes[p].result.ok()) {
                outcomes.insert(
                    a.step,
                    skipped(a.step, format!("prerequisite step {p} did not succeed")),
                );
                continue;
            }
            runnable.push(a);
        }
        let results: Vec<Outcome> = stream::iter(runnable)
            .map(|a| run_step(cluster, a, o, &known, &backups))
            .buffer_unordered(o.concurrency.max(1))
            .collect()
            .await;
        for r in results {
            if o.verbose >= 1 {
                eprintln!("kubectl-arc: step {}: {:?} {}", r.step, r.result, r.detail);
            }
            outcomes.insert(r.step, r);
        }
    }
    let mut out: Vec<Outcome> = outcomes.into_values().collect();
    out.sort_by_key(|x| x.step);
    out
}

fn skipped(step: usize, detail: String) -> Outcome {
    Outcome {
        step,
        result: Result_::Skipped,
        detail,
        backup: None,
    }
}

fn failed(step: usize, detail: String, backup: Option<String>) -> Outcome {
    Outcome {
        step,
        result: Result_::Failed,
        detail,
        backup,
    }
}

fn key(a: &Action) -> (String, Option<String>, String) {
    (
        a.object.kind.clone(),
        a.object.namespace.clone(),
        a.object.name.clone(),
    )
}

async fn run_step(
    cluster: &Cluster,
    a: &Action,
    o: &Options,
    known: &Known,
    backups: &Backups,
) -> Outcome {
    let t = Target {
        kind: &a.object.kind,
        namespace: a.object.namespace.as_deref(),
        name: &a.object.name,
    };
    let dry = o.server_dry_run;
    let done = |detail: String, backup: Option<String>| Outcome {
        step: a.step,
        result: if dry { Result_::DryRun } else { Result_::Done },
        detail,
        backup,
    };
    if a.op == Op::CreateNamespace {
        let ns = json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": a.object.name, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
        });
        return match cluster.create("Namespace", None, &ns, dry).await {
            Ok(v) => {
                remember(known, a, &v).await;
                done(format!("namespace {} created", a.object.name), None)
            }
            Err(ApiError::Status { code: 409, .. }) => {
                done("namespace already exists".to_owned(), None)
            }
            Err(e) => failed(a.step, e.to_string(), None),
        };
    }
    // Re-read the object as it is now.
    let current = match cluster.read(&t).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return done(format!("{} is already gone", a.object), None);
        }
        Err(e) => return failed(a.step, format!("cannot re-read {}: {e}", a.object), None),
    };
    let uid = current
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let rv = current
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let expected = known
        .lock()
        .await
        .get(&key(a))
        .cloned()
        .unwrap_or_else(|| (a.uid.clone(), a.resource_version.clone()));
    if !expected.0.is_empty() && expected.0 != uid {
        return skipped(
            a.step,
            format!(
                "{} was replaced since the plan (uid {} → {uid}); run again to re-plan",
                a.object, expected.0
            ),
        );
    }
    // A finalizer strip on a deleting object is re-planned rather than skipped when only its
    // resourceVersion moved (garbage collector, other finalizers): the verdict rests on the
    // controllers, and the JSON patch still tests the exact finalizer at its index.
    let replanned = matches!(a.op, Op::StripFinalizer { .. })
        && current.pointer("/metadata/deletionTimestamp").is_some()
        && only_collector_changes(a, &current);
    if !expected.1.is_empty() && expected.1 != rv && !replanned && !already_applied(a, &current) {
        return skipped(
            a.step,
            format!(
                "{} changed since the plan (resourceVersion {} → {rv}); run again to re-plan it",
                a.object, expected.1
            ),
        );
    }
    if already_applied(a, &current) {
        return done("already in the planned state".to_owned(), None);
    }
    // A namespace is only ever deleted by us when we recreated it.
    if a.object.kind == "Namespace"
        && current
            .pointer(&format!(
                "/metadata/labels/{}",
                MANAGED_BY.0.replace('/', "~1")
            ))
            .and_then(Value::as_str)
            != Some(MANAGED_BY.1)
    {
        return skipped(
            a.step,
            "namespace was not created by kubectl-arc".to_owned(),
        );
    }
    let existing = backups.lock().await.get(&key(a)).cloned();
    let backup = match existing {
        Some(p) => Some(p),
        None => match write_backup(&o.backup_dir, a, &current) {
            Ok(p) => {
                backups.lock().await.insert(key(a), p.clone());
                Some(p)
            }
            Err(e) => return failed(a.step, format!("backup failed, nothing changed: {e}"), None),
        },
    };
    let result = match &a.op {
        Op::Delete { grace_period_zero } => {
            cluster
                .delete_guarded(&t, &uid, &rv, *grace_period_zero, dry)
                .await
        }
        Op::StripFinalizer { finalizer } => {
            let fins: Vec<&str> = current
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let Some(i) = fins.iter().position(|f| f == finalizer) else {
                return done("finalizer already removed".to_owned(), backup);
            };
            let ops = json!([
                {"op": "test", "path": "/metadata/uid", "value": uid},
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": finalizer},
                {"op": "remove", "path": format!("/metadata/finalizers/{i}")},
            ]);
            cluster.json_patch(&t, &ops, dry).await
        }
        Op::RemoveAnnotation { annotation, value } => {
            let p = format!(
                "/metadata/annotations/{}",
                annotation.replace('~', "~0").replace('/', "~1")
            );
            let ops = json!([
                {"op": "test", "path": "/metadata/uid", "value": uid},
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "test", "path": p, "value": value},
                {"op": "remove", "path": p},
            ]);
            cluster.json_patch(&t, &ops, dry).await
        }
        Op::PatchSubject {
            index,
            from_namespace,
            from_name,
            to_namespace,
            to_name,
        } => {
            let ops = json!([
                {"op": "test", "path": "/metadata/uid", "value": uid},
                {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
                {"op": "test", "path": format!("/subjects/{index}/name"), "value": from_name},
                {"op": "test", "path": format!("/subjects/{index}/namespace"), "value": from_namespace},
                {"op": "replace", "path": format!("/subjects/{index}/name"), "value": to_name},
                {"op": "replace", "path": format!("/subjects/{index}/namespace"), "value": to_namespace},
            ]);
            cluster.json_patch(&t, &ops, dry).await
        }
        Op::CreateNamespace => unreachable!("handled above"),
    };
    match result {
        Ok(v) => {
            if !dry {
                remember(known, a, &v).await;
            }
            done(String::new(), backup)
        }
        Err(ApiError::NotFound(_)) => done(format!("{} is already gone", a.object), backup),
        Err(e) => failed(a.step, describe_error(&e), backup),
    }
}

fn describe_error(e: &ApiError) -> String {
    match e {
        ApiError::Status { code: 409, message } => {
            format!("conflict: the object changed or was replaced (not retried): {message}")
        }
        ApiError::Status { code: 422, message } => {
            format!("rejected by the API server (not retried): {message}")
        }
        other => other.to_string(),
    }
}

/// Did only the garbage collector / API server move the object on since the plan (deletion set,
/// other finalizers removed, our own earlier steps) — labels and annotations as planned and no
/// finalizer added?
fn only_collector_changes(a: &Action, current: &Value) -> bool {
    if a.seen.is_null() {
        return false;
    }
    let map = |p: &str| current.pointer(p).cloned().unwrap_or_else(|| json!({}));
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let planned = strs(&a.seen["finalizers"]);
    let now = strs(
        current
            .pointer("/metadata/finalizers")
            .unwrap_or(&Value::Null),
    );
    map("/metadata/labels") == a.seen["labels"]
        && map("/metadata/annotations") == a.seen["annotations"]
        && now.iter().all(|f| planned.contains(f))
}

/// Is the object already as the step wants it (a re-run after Ctrl-C, or our own earlier step)?
fn already_applied(a: &Action, current: &Value) -> bool {
    match &a.op {
        Op::StripFinalizer { finalizer } => !current
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().any(|f| f.as_str() == Some(finalizer))),
        Op::RemoveAnnotation { annotation, .. } => current
            .pointer("/metadata/annotations")
            .and_then(|m| m.get(annotation))
            .is_none(),
        Op::PatchSubject {
            index,
            to_namespace,
            to_name,
            ..
        } => {
            let s = current.pointer(&format!("/subjects/{index}"));
            s.and_then(|s| s.get("name")).and_then(Value::as_str) == Some(to_name.as_str())
                && s.and_then(|s| s.get("namespace")).and_then(Value::as_str)
                    == Some(to_namespace.as_str())
        }
        Op::Delete { .. } => {
            current.pointer("/metadata/deletionTimestamp").is_some()
                && current
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|f| !f.is_empty())
        }
        Op::CreateNamespace => false,
    }
}

async fn remember(known: &Known, a: &Action, v: &Value) {
    let uid = v.pointer("/metadata/uid").and_then(Value::as_str);
    let rv = v
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    if let (Some(uid), Some(rv)) = (uid, rv) {
        known
            .lock()
            .await
            .insert(key(a), (uid.to_owned(), rv.to_owned()));
    }
}

/// Write the object as it is now, cleaned so that `kubectl create -f` accepts it, and flush it to
/// disk. Secrets/ConfigMaps were read metadata-only: their backup holds metadata only.
fn write_backup(dir: &Path, a: &Action, current: &Value) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let file = dir.join(format!(
        "{:04}-{}-{}-{}.yaml",
        a.step,
        a.object.kind.to_lowercase(),
        a.object.namespace.as_deref().unwrap_or("_cluster"),
        a.object.name
    ));
    let doc = restorable(&a.object.kind, current);
    let mut text = String::new();
    text.push_str(&format!(
        "# kubectl-arc backup before step {}: {} {}\n# restore: kubectl create -f {}\n",
        a.step,
        a.op.describe(),
        a.object,
        file.display()
    ));
    if crate::cluster::metadata_only(&a.object.kind) {
        text.push_str("# metadata only: kubectl-arc never reads Secret/ConfigMap data\n");
    }
    text.push_str(&serde_saphyr::to_string(&doc).map_err(std::io::Error::other)?);
    let mut f = std::fs::File::create(&file)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(file.display().to_string())
}

/// Remove server-set fields so the document can be created again.
pub fn restorable(kind: &str, v: &Value) -> Value {
    let mut out = v.clone();
    if let Some(m) = out.as_object_mut() {
        m.insert("kind".to_owned(), json!(kind));
        if let Some(av) = api_version(kind) {
            m.insert("apiVersion".to_owned(), json!(av));
        }
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
                "ownerReferences",
            ] {
                meta.remove(k);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Phase;
    use crate::snapshot::ObjectRef;

    fn action(op: Op, seen: Value) -> Action {
        Action {
            step: 1,
            op,
            object: ObjectRef::namespaced("AutoscalingListener", "ns", "l"),
            uid: "u".into(),
            resource_version: "1".into(),
            tag: Fix::Auto,
            codes: vec![],
            why: vec![],
            after: vec![],
            phase: Phase::Listeners,
            seen,
        }
    }

    #[test]
    fn backups_drop_server_set_fields_and_keep_finalizers() {
        let v = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": "s", "namespace": "n", "uid": "u", "resourceVersion": "9",
                "creationTimestamp": "t", "deletionTimestamp": "t", "managedFields": [],
                "ownerReferences": [{"uid": "x"}], "finalizers": ["f"], "labels": {"a": "b"}},
            "status": {"x": 1}});
        let r = restorable("Secret", &v);
        assert_eq!(r["kind"], "Secret");
        assert_eq!(r["apiVersion"], "v1");
        assert_eq!(r["metadata"]["finalizers"][0], "f");
        assert_eq!(r["metadata"]["labels"]["a"], "b");
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "managedFields",
            "ownerReferences",
        ] {
            assert!(r["metadata"].get(k).is_none(), "{k}");
        }
        assert!(r.get("status").is_none());
    }

    #[test]
    fn a_strip_is_already_applied_when_the_finalizer_is_gone() {
        let a = action(
            Op::StripFinalizer {
                finalizer: "f".into(),
            },
            Value::Null,
        );
        assert!(already_applied(
            &a,
            &json!({"metadata": {"finalizers": ["g"]}})
        ));
        assert!(!already_applied(
            &a,
            &json!({"metadata": {"finalizers": ["g", "f"]}})
        ));
    }

    #[test]
    fn only_garbage_collector_changes_allow_a_re_planned_strip() {
        let seen = json!({"labels": {"a": "b"}, "annotations": {}, "finalizers": ["f", "g"]});
        let a = action(
            Op::StripFinalizer {
                finalizer: "f".into(),
            },
            seen,
        );
        let gc = json!({"metadata": {"labels": {"a": "b"}, "finalizers": ["f"], "deletionTimestamp": "t"}});
        assert!(only_collector_changes(&a, &gc));
        let relabelled = json!({"metadata": {"labels": {"a": "c"}, "finalizers": ["f"]}});
        assert!(!only_collector_changes(&a, &relabelled));
        let new_finalizer = json!({"metadata": {"labels": {"a": "b"}, "finalizers": ["f", "h"]}});
        assert!(!only_collector_changes(&a, &new_finalizer));
    }
}
