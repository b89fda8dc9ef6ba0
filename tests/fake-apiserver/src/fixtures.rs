//! Loading fixtures: multi-document YAML files or directories of them,
//! Kubernetes objects (also `List`s) plus the `fake.kubectl-arc.dev/v1`
//! kinds `User`, `PodLog`, `Include`, `Fault` and `Clock`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::faults::{Fault, FaultAction, FaultEntry};
use crate::meta;
use crate::state::{PodLogEntry, State};

pub(crate) const FAKE_API_VERSION: &str = "fake.kubectl-arc.dev/v1";
const MAX_INCLUDE_DEPTH: usize = 16;

/// Where fixture documents come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Path(PathBuf),
    Doc(Value),
}

/// A document with the directory relative includes resolve against.
struct Doc {
    value: Value,
    base: PathBuf,
    origin: String,
}

fn yaml_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading fixture directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.starts_with("expected")
        })
        .collect();
    files.sort();
    Ok(files)
}

fn parse_file(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn collect_path(path: &Path, depth: usize, out: &mut Vec<Doc>) -> anyhow::Result<()> {
    if depth > MAX_INCLUDE_DEPTH {
        bail!(
            "fixture includes nested deeper than {MAX_INCLUDE_DEPTH} at {}",
            path.display()
        );
    }
    if path.is_dir() {
        for f in yaml_files(path)? {
            collect_path(&f, depth, out)?;
        }
        return Ok(());
    }
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for (i, value) in parse_file(path)?.into_iter().enumerate() {
        collect_doc(
            Doc {
                value,
                base: base.clone(),
                origin: format!("{} (document {})", path.display(), i + 1),
            },
            depth,
            out,
        )?;
    }
    Ok(())
}

fn collect_doc(doc: Doc, depth: usize, out: &mut Vec<Doc>) -> anyhow::Result<()> {
    let kind = meta::kind(&doc.value);
    if meta::api_version(&doc.value) == FAKE_API_VERSION && kind == "Include" {
        let rel = meta::str_field(&doc.value, &["spec", "path"]);
        if rel.is_empty() {
            bail!("{}: Include without spec.path", doc.origin);
        }
        return collect_path(&doc.base.join(rel), depth + 1, out);
    }
    if kind == "List"
        || (kind.ends_with("List") && doc.value.get("items").is_some_and(Value::is_array))
    {
        let items = doc
            .value
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, item) in items.into_iter().enumerate() {
            collect_doc(
                Doc {
                    value: item,
                    base: doc.base.clone(),
                    origin: format!("{} item {}", doc.origin, i + 1),
                },
                depth,
                out,
            )?;
        }
        return Ok(());
    }
    out.push(doc);
    Ok(())
}

/// Load every source into the state (Clock documents first), then run the
/// controllers.
pub(crate) fn load(state: &mut State, sources: &[Source]) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut docs = Vec::new();
    for s in sources {
        match s {
            Source::Path(p) => collect_path(p, 0, &mut docs)?,
            Source::Doc(v) => collect_doc(
                Doc {
                    value: v.clone(),
                    base: cwd.clone(),
                    origin: "inline document".into(),
                },
                0,
                &mut docs,
            )?,
        }
    }
    let (clocks, rest): (Vec<Doc>, Vec<Doc>) = docs.into_iter().partition(|d| {
        meta::api_version(&d.value) == FAKE_API_VERSION && meta::kind(&d.value) == "Clock"
    });
    for d in clocks.into_iter().chain(rest) {
        apply(state, &d.value).with_context(|| format!("loading {}", d.origin))?;
    }
    state.reconcile();
    Ok(())
}

/// Apply one (non-Include) document.
pub(crate) fn apply(state: &mut State, doc: &Value) -> anyhow::Result<()> {
    if !doc.is_object() {
        bail!("a fixture document must be a mapping, got {doc}");
    }
    if meta::api_version(doc) != FAKE_API_VERSION {
        return state.load_object(doc.clone());
    }
    let spec = doc.get("spec").cloned().unwrap_or(Value::Null);
    let s = |k: &str| meta::str_field(&spec, &[k]).to_string();
    match meta::kind(doc) {
        "User" => {
            let name = meta::name(doc);
            if name.is_empty() {
                bail!("User without metadata.name");
            }
            let token = s("token");
            let groups = meta::string_list(spec.get("groups"));
            state.add_user(name, (!token.is_empty()).then_some(token.as_str()), groups);
        }
        "PodLog" => {
            let (namespace, pod) = (s("namespace"), s("pod"));
            if namespace.is_empty() || pod.is_empty() {
                bail!("PodLog needs spec.namespace and spec.pod");
            }
            let container = s("container");
            state.pod_logs.push(PodLogEntry {
                namespace,
                pod,
                container: (!container.is_empty()).then_some(container),
                previous: spec
                    .get("previous")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                text: s("text"),
            });
        }
        "Clock" => {
            let now = s("now");
            let t: jiff::Timestamp = now
                .parse()
                .with_context(|| format!("Clock spec.now {now:?} is not RFC 3339"))?;
            state.clock.set(t);
        }
        "Fault" => {
            let fault = fault_from_spec(&spec)?;
            let entry =
                FaultEntry::new(fault).context("Fault spec.pathRegex is not a valid regex")?;
            state.faults.push(entry);
        }
        "Include" => bail!("Include must be resolved while collecting documents"),
        other => {
            bail!("unknown fake kind {other:?} (expected User, PodLog, Include, Fault or Clock)")
        }
    }
    Ok(())
}

fn fault_from_spec(spec: &Value) -> anyhow::Result<Fault> {
    let s = |k: &str| meta::str_field(spec, &[k]).to_string();
    let u = |k: &str| spec.get(k).and_then(Value::as_u64);
    let path_regex = s("pathRegex");
    let action = if spec.get("drop").and_then(Value::as_bool) == Some(true) {
        FaultAction::Drop
    } else if spec.get("expired").and_then(Value::as_bool) == Some(true) {
        FaultAction::Expired
    } else if let Some(code) = u("status") {
        let code = u16::try_from(code).context("Fault spec.status out of range")?;
        let mut f = Fault::status("", code);
        let (reason, message) = (s("reason"), s("message"));
        if !reason.is_empty() {
            f = f.reason(reason);
        }
        if !message.is_empty() {
            f = f.message(message);
        }
        if let Some(r) = u("retryAfterSeconds") {
            f = f.retry_after(u32::try_from(r).unwrap_or(u32::MAX));
        }
        f.action
    } else if let Some(ms) = u("latencyMs") {
        FaultAction::Latency(Duration::from_millis(ms))
    } else {
        bail!("Fault needs one of spec.status, spec.latencyMs, spec.drop or spec.expired");
    };
    let opt = |k: &str| {
        let v = s(k);
        (!v.is_empty()).then_some(v)
    };
    Ok(Fault {
        method: opt("method"),
        path_regex,
        query_contains: opt("queryContains"),
        action,
        times: u("times").map(|n| n as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use serde_json::json;

    #[test]
    fn loads_directories_skipping_expected_and_following_includes() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("01-ns.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: arc\n---\napiVersion: fake.kubectl-arc.dev/v1\nkind: Include\nspec:\n  path: extra/more.yaml\n",
        )
        .expect("write");
        std::fs::create_dir(dir.path().join("extra")).expect("mkdir");
        std::fs::write(
            dir.path().join("extra/more.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: arc\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("expected.yaml"), "this: is not a fixture\n")
            .expect("write");
        std::fs::write(
            dir.path().join("02-clock.yml"),
            "apiVersion: fake.kubectl-arc.dev/v1\nkind: Clock\nspec:\n  now: \"2024-03-01T12:00:00Z\"\n",
        )
        .expect("write");
        let mut st = State::new(Clock::new());
        load(&mut st, &[Source::Path(dir.path().to_path_buf())]).expect("loads");
        let cm = st
            .store
            .get(&crate::store::ObjKey::new("", "ConfigMap", "arc", "c"))
            .expect("included object");
        assert_eq!(
            meta::str_field(cm, &["metadata", "creationTimestamp"]),
            "2024-03-01T12:00:00Z"
        );
    }

    #[test]
    fn fake_kinds() {
        let mut st = State::new(Clock::new());
        let docs = vec![
            json!({"apiVersion": FAKE_API_VERSION, "kind": "User", "metadata": {"name": "alice"}, "spec": {"token": "t-a", "groups": ["devs"]}}),
            json!({"apiVersion": FAKE_API_VERSION, "kind": "Fault", "spec": {"pathRegex": "x", "status": 429, "retryAfterSeconds": 7, "times": 2}}),
            json!({"apiVersion": FAKE_API_VERSION, "kind": "PodLog", "spec": {"namespace": "n", "pod": "p", "text": "hi"}}),
        ];
        load(
            &mut st,
            &docs.into_iter().map(Source::Doc).collect::<Vec<_>>(),
        )
        .expect("loads");
        assert_eq!(
            st.user_by_token("t-a").map(|u| u.name.as_str()),
            Some("alice")
        );
        assert_eq!(st.faults.len(), 1);
        assert_eq!(st.pod_logs.len(), 1);
        let bad = json!({"apiVersion": FAKE_API_VERSION, "kind": "Nope"});
        assert!(load(&mut st, &[Source::Doc(bad)]).is_err());
    }
}
