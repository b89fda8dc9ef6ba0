//! `kubectl arc __complete WORD…` (hidden): shell completion for `kubectl arc …`.
//!
//! kubectl (1.26 or newer) completes a plugin's arguments by running `kubectl_complete-arc` from
//! `PATH` with the words typed after `kubectl arc`, the last one being the word under the cursor
//! (possibly empty); flags before `arc` are not forwarded, the environment (`KUBECONFIG`) is. The
//! helper calls this command, which answers in Cobra's `__complete` protocol: one candidate per
//! line (`value<TAB>description`), then `:<directive>`.
//!
//! Subcommands, flags and `-o`/`--dry-run` values come from the clap definition, so they cannot
//! drift from the parser. `--context/--cluster/--user` come from the kubeconfig (`--kubeconfig` on
//! the line, else `$KUBECONFIG`, else `~/.kube/config`). Namespaces (`-n`, `drain <ns>`) come from
//! the cluster, namespaces that hold ARC objects first, within [`CLUSTER_BUDGET`]. Completion never
//! prints an error and always exits 0: on any failure it offers fewer candidates.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Arg, ArgAction, Command, CommandFactory};
use kube::config::Kubeconfig;
use serde_json::Value;
use tokio::time::Instant;

use crate::cli::{Cli, CompleteArgs, GlobalArgs, RequestTimeout};
use crate::error::Failure;
use crate::findings::Severity;

/// Cobra's `ShellCompDirective` bits.
pub mod directive {
    pub const DEFAULT: u32 = 0;
    pub const ERROR: u32 = 1;
    pub const NO_SPACE: u32 = 2;
    pub const NO_FILE_COMP: u32 = 4;
    pub const FILTER_FILE_EXT: u32 = 8;
    pub const FILTER_DIRS: u32 = 16;
    pub const KEEP_ORDER: u32 = 32;
}
use directive::{DEFAULT, FILTER_DIRS, KEEP_ORDER, NO_FILE_COMP};

/// Upper bound for everything that talks to the API server during one completion (connecting
/// included): a shell waiting on <TAB> should not hang on a slow or unreachable cluster.
pub const CLUSTER_BUDGET: Duration = Duration::from_millis(2000);

/// The kinds whose presence makes a namespace an "ARC namespace" (listed metadata-only), with
/// the label selector to apply: the scale-set and legacy custom resources, and the controllers.
const ARC_LISTS: &[(&str, &str, Option<&str>)] = &[
    (
        "AutoscalingRunnerSet",
        "/apis/actions.github.com/v1alpha1/autoscalingrunnersets",
        None,
    ),
    (
        "AutoscalingListener",
        "/apis/actions.github.com/v1alpha1/autoscalinglisteners",
        None,
    ),
    (
        "EphemeralRunnerSet",
        "/apis/actions.github.com/v1alpha1/ephemeralrunnersets",
        None,
    ),
    (
        "EphemeralRunner",
        "/apis/actions.github.com/v1alpha1/ephemeralrunners",
        None,
    ),
    (
        "RunnerDeployment",
        "/apis/actions.summerwind.dev/v1alpha1/runnerdeployments",
        None,
    ),
    (
        "RunnerSet",
        "/apis/actions.summerwind.dev/v1alpha1/runnersets",
        None,
    ),
    (
        "RunnerReplicaSet",
        "/apis/actions.summerwind.dev/v1alpha1/runnerreplicasets",
        None,
    ),
    (
        "Runner",
        "/apis/actions.summerwind.dev/v1alpha1/runners",
        None,
    ),
    (
        "HorizontalRunnerAutoscaler",
        "/apis/actions.summerwind.dev/v1alpha1/horizontalrunnerautoscalers",
        None,
    ),
    (
        "controller",
        "/apis/apps/v1/deployments",
        Some("app.kubernetes.io/part-of in (gha-rs-controller,gha-runner-scale-set-controller)"),
    ),
    (
        "controller",
        "/apis/apps/v1/deployments",
        Some("app.kubernetes.io/name=actions-runner-controller"),
    ),
];

/// What to print: candidates (value, description) and the directive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completions {
    pub candidates: Vec<(String, String)>,
    pub directive: u32,
}

impl Completions {
    fn new(directive: u32) -> Completions {
        Completions {
            candidates: Vec::new(),
            directive,
        }
    }

    fn with(candidates: Vec<(String, String)>, directive: u32) -> Completions {
        Completions {
            candidates,
            directive,
        }
    }

    /// Cobra's wire format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (value, desc) in &self.candidates {
            s.push_str(&clean(value));
            let desc = clean(desc);
            if !desc.is_empty() {
                s.push('\t');
                s.push_str(&desc);
            }
            s.push('\n');
        }
        s.push_str(&format!(":{}\n", self.directive));
        s
    }
}

/// One line: no tabs or newlines inside a candidate or its description.
fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub async fn run(_g: &GlobalArgs, args: &CompleteArgs) -> Result<ExitCode, Failure> {
    let text = complete(&args.words).await.render();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    Ok(ExitCode::SUCCESS)
}

/// The clap definition with help/version flags and global flags propagated to subcommands.
fn definition() -> Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// Complete `words` (the words after `kubectl arc`; the last one is being typed).
pub async fn complete(words: &[String]) -> Completions {
    let root = definition();
    let (cur, done) = match words.split_last() {
        Some((cur, done)) => (cur.as_str(), done),
        None => ("", &[][..]),
    };
    let line = Line::parse(&root, done);

    if let Some(arg) = line.pending {
        return values(&line, arg, cur, "").await;
    }
    if !line.after_dashdash {
        if let Some(body) = cur.strip_prefix("--")
            && let Some((name, partial)) = body.split_once('=')
        {
            return match find_long(line.scope, name) {
                Some(arg) => values(&line, arg, partial, &format!("--{name}=")).await,
                None => Completions::new(NO_FILE_COMP),
            };
        }
        if cur.starts_with('-') {
            return flags(&line, cur);
        }
    }
    if line.sub.is_none() {
        let subs = line
            .root
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .filter(|s| s.get_name().starts_with(cur))
            .map(|s| (s.get_name().to_owned(), help_line(s.get_about())))
            .collect();
        return Completions::with(subs, NO_FILE_COMP);
    }
    match line
        .scope
        .get_positionals()
        .filter(|a| !a.is_hide_set())
        .nth(line.positionals)
    {
        Some(arg) => values(&line, arg, cur, "").await,
        None => Completions::new(NO_FILE_COMP),
    }
}

/// What the words before the cursor say.
struct Line<'c> {
    root: &'c Command,
    /// The subcommand, once named.
    sub: Option<&'c Command>,
    /// Where flags are looked up: the subcommand, else the root.
    scope: &'c Command,
    /// Positional words seen after the subcommand.
    positionals: usize,
    /// Flags seen (by id).
    used: BTreeSet<String>,
    /// Values given to flags, by long name.
    given: BTreeMap<String, Vec<String>>,
    /// The previous word is a flag that still needs its value (the word under the cursor).
    pending: Option<&'c Arg>,
    after_dashdash: bool,
}

impl<'c> Line<'c> {
    fn parse(root: &'c Command, words: &[String]) -> Line<'c> {
        let mut line = Line {
            root,
            sub: None,
            scope: root,
            positionals: 0,
            used: BTreeSet::new(),
            given: BTreeMap::new(),
            pending: None,
            after_dashdash: false,
        };
        for w in words {
            if let Some(arg) = line.pending.take() {
                line.record(arg, w);
                continue;
            }
            if line.after_dashdash {
                line.positional(w);
            } else if w == "--" {
                line.after_dashdash = true;
            } else if let Some(body) = w.strip_prefix("--") {
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (body, None),
                };
                if let Some(arg) = find_long(line.scope, name) {
                    line.used.insert(arg.get_id().to_string());
                    match value {
                        Some(v) => line.record(arg, v),
                        None if needs_next_word(arg) => line.pending = Some(arg),
                        None => {}
                    }
                }
            } else if w.len() > 1 && w.starts_with('-') {
                // -n NS, -nNS, -n=NS, -vv, -Ao json
                let chars: Vec<char> = w.chars().skip(1).collect();
                for (i, ch) in chars.iter().enumerate() {
                    let Some(arg) = find_short(line.scope, *ch) else {
                        break;
                    };
                    line.used.insert(arg.get_id().to_string());
                    if arg.get_action().takes_values() {
                        let rest: String = chars[i + 1..].iter().collect();
                        let rest = rest.strip_prefix('=').unwrap_or(&rest);
                        if !rest.is_empty() {
                            line.record(arg, rest);
                        } else if needs_next_word(arg) {
                            line.pending = Some(arg);
                        }
                        break;
                    }
                }
            } else {
                line.positional(w);
            }
        }
        line
    }

    fn positional(&mut self, w: &str) {
        if self.sub.is_none() {
            if let Some(sc) = self
                .root
                .get_subcommands()
                .find(|s| s.get_name() == w || s.get_all_aliases().any(|a| a == w))
            {
                self.sub = Some(sc);
                self.scope = sc;
            }
            return;
        }
        self.positionals += 1;
    }

    fn record(&mut self, arg: &Arg, value: &str) {
        let key = arg
            .get_long()
            .map_or_else(|| arg.get_id().to_string(), str::to_owned);
        self.given.entry(key).or_default().push(value.to_owned());
    }

    /// The last value given to `--long` on the line.
    fn value(&self, long: &str) -> Option<String> {
        self.given.get(long).and_then(|v| v.last()).cloned()
    }

    /// Connection flags typed on the line, for completions that ask the cluster.
    fn global_args(&self) -> GlobalArgs {
        GlobalArgs {
            kubeconfig: self.value("kubeconfig").map(|p| expand_tilde(&p)),
            context: self.value("context"),
            cluster: self.value("cluster"),
            user: self.value("user"),
            as_user: self.value("as"),
            as_group: self.given.get("as-group").cloned().unwrap_or_default(),
            request_timeout: RequestTimeout(Some(CLUSTER_BUDGET)),
            ..GlobalArgs::default()
        }
    }
}

fn find_long<'c>(scope: &'c Command, name: &str) -> Option<&'c Arg> {
    scope.get_arguments().find(|a| {
        a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|al| al.contains(&name))
    })
}

fn find_short(scope: &Command, ch: char) -> Option<&Arg> {
    scope.get_arguments().find(|a| {
        a.get_short() == Some(ch) || a.get_all_short_aliases().is_some_and(|al| al.contains(&ch))
    })
}

/// Does `--flag` (without `=`) take the next word as its value?
fn needs_next_word(arg: &Arg) -> bool {
    arg.get_action().takes_values()
        && !arg.is_require_equals_set()
        && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

fn repeatable(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
}

fn help_line(help: Option<&clap::builder::StyledStr>) -> String {
    help.map(|h| h.to_string())
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// Flag names for the current scope, minus those already given (unless repeatable).
fn flags(line: &Line<'_>, cur: &str) -> Completions {
    let mut out = Vec::new();
    for arg in line.scope.get_arguments() {
        if arg.is_positional() || arg.is_hide_set() {
            continue;
        }
        if line.used.contains(arg.get_id().as_str()) && !repeatable(arg) {
            continue;
        }
        let help = help_line(arg.get_help());
        if let Some(long) = arg.get_long() {
            out.push((format!("--{long}"), help.clone()));
        }
        if let Some(short) = arg.get_short() {
            out.push((format!("-{short}"), help));
        }
    }
    out.retain(|(f, _)| f.starts_with(cur));
    Completions::with(out, NO_FILE_COMP)
}

/// Values for `arg` (a flag value or a positional), each prefixed with `prefix` (`--flag=`).
async fn values(line: &Line<'_>, arg: &Arg, cur: &str, prefix: &str) -> Completions {
    let value_name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.as_str())
        .unwrap_or("");
    let possible: Vec<(String, String)> = arg
        .get_possible_values()
        .iter()
        .filter(|p| !p.is_hide_set())
        .map(|p| (p.get_name().to_owned(), help_line(p.get_help())))
        .collect();
    let (mut candidates, directive) = if !possible.is_empty() {
        (possible, NO_FILE_COMP)
    } else {
        match (arg.get_long(), value_name) {
            (Some("context"), _) => (kubeconfig_names(line, Names::Contexts), NO_FILE_COMP),
            (Some("cluster"), _) => (kubeconfig_names(line, Names::Clusters), NO_FILE_COMP),
            (Some("user"), _) => (kubeconfig_names(line, Names::Users), NO_FILE_COMP),
            (_, "NAMESPACE") => (namespaces(line).await, NO_FILE_COMP | KEEP_ORDER),
            (_, "SEVERITY") => (severities(), NO_FILE_COMP | KEEP_ORDER),
            (_, "CODE") => {
                // Finding codes are upper case; match what was typed in any case.
                let upper = cur.to_ascii_uppercase();
                let codes = crate::codes::CATALOG
                    .iter()
                    .filter(|c| c.code.starts_with(&upper))
                    .map(|c| (c.code.to_owned(), c.title.to_owned()))
                    .collect();
                return Completions::with(codes, NO_FILE_COMP);
            }
            (_, "DIR") => (Vec::new(), FILTER_DIRS),
            (_, "PATH") => (Vec::new(), DEFAULT),
            _ => (Vec::new(), NO_FILE_COMP),
        }
    };
    candidates.retain(|(v, _)| v.starts_with(cur));
    for (v, _) in &mut candidates {
        v.insert_str(0, prefix);
    }
    Completions::with(candidates, directive)
}

/// `--fail-on` values, most severe first; every one is accepted by the parser (unit-tested).
fn severities() -> Vec<(String, String)> {
    ["critical", "high", "medium", "low", "info"]
        .into_iter()
        .filter(|s| Severity::parse(s).is_some())
        .map(|s| (s.to_owned(), format!("exit 1 on a {s} finding or worse")))
        .chain([(
            "none".to_owned(),
            "always exit 0 after a successful run".to_owned(),
        )])
        .collect()
}

fn expand_tilde(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home)
            .join(rest)
            .to_string_lossy()
            .into_owned(),
        _ => p.to_owned(),
    }
}

#[derive(Debug, Clone, Copy)]
enum Names {
    Contexts,
    Clusters,
    Users,
}

/// The kubeconfig as kubectl would load it: `--kubeconfig` on the line, else `$KUBECONFIG`
/// (files merged, first wins), else `~/.kube/config`. Unreadable files are skipped.
fn load_kubeconfig(line: &Line<'_>) -> Option<Kubeconfig> {
    if let Some(p) = line.value("kubeconfig") {
        return Kubeconfig::read_from(expand_tilde(&p)).ok();
    }
    let files: Vec<PathBuf> = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => vec![PathBuf::from(std::env::var_os("HOME")?).join(".kube/config")],
    };
    files
        .iter()
        .filter_map(|p| Kubeconfig::read_from(p).ok())
        .try_fold(None::<Kubeconfig>, |acc, k| match acc {
            None => Some(Some(k)),
            Some(merged) => merged.merge(k).ok().map(Some),
        })
        .flatten()
}

fn kubeconfig_names(line: &Line<'_>, which: Names) -> Vec<(String, String)> {
    let Some(k) = load_kubeconfig(line) else {
        return Vec::new();
    };
    let current = k.current_context.clone().unwrap_or_default();
    match which {
        Names::Contexts => k
            .contexts
            .iter()
            .map(|c| {
                let ctx = c.context.as_ref();
                let mut desc = ctx
                    .map(|x| format!("cluster {}", x.cluster))
                    .unwrap_or_default();
                if let Some(ns) = ctx.and_then(|x| x.namespace.as_deref()) {
                    desc.push_str(&format!(", namespace {ns}"));
                }
                if c.name == current {
                    desc.push_str(" (current)");
                }
                (c.name.clone(), desc)
            })
            .collect(),
        Names::Clusters => k
            .clusters
            .iter()
            .map(|c| {
                let server = c
                    .cluster
                    .as_ref()
                    .and_then(|x| x.server.clone())
                    .unwrap_or_default();
                (c.name.clone(), server)
            })
            .collect(),
        Names::Users => k
            .auth_infos
            .iter()
            .map(|u| (u.name.clone(), String::new()))
            .collect(),
    }
}

/// Namespaces from the cluster: those holding ARC objects first (described by what they hold),
/// then the others, each group sorted. Bounded by [`CLUSTER_BUDGET`]; empty on any failure.
async fn namespaces(line: &Line<'_>) -> Vec<(String, String)> {
    let deadline = Instant::now() + CLUSTER_BUDGET;
    let g = line.global_args();
    let Ok(Ok(cluster)) = tokio::time::timeout_at(deadline, crate::cluster::connect(&g)).await
    else {
        return Vec::new();
    };
    let all = tokio::time::timeout_at(
        deadline,
        cluster.list("/api/v1/namespaces", None, false, 500),
    );
    let arc =
        tokio::time::timeout_at(
            deadline,
            futures::future::join_all(ARC_LISTS.iter().map(|(kind, path, sel)| async {
                (*kind, cluster.list(path, *sel, true, 500).await)
            })),
        );
    let (all, arc) = futures::future::join(all, arc).await;

    // namespace -> kinds found there
    let mut holders: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    if let Ok(lists) = arc {
        for (kind, result) in lists {
            for item in result.unwrap_or_default() {
                if let Some(ns) = item.pointer("/metadata/namespace").and_then(Value::as_str) {
                    holders.entry(ns.to_owned()).or_default().insert(kind);
                }
            }
        }
    }
    let mut phase: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(Ok(items)) = all {
        for item in items {
            if let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) {
                let p = item
                    .pointer("/status/phase")
                    .and_then(Value::as_str)
                    .filter(|p| *p != "Active")
                    .unwrap_or("");
                phase.insert(name.to_owned(), p.to_owned());
            }
        }
    }
    let describe = |ns: &str, kinds: Option<&BTreeSet<&str>>| {
        let mut parts = Vec::new();
        if let Some(p) = phase.get(ns).filter(|p| !p.is_empty()) {
            parts.push(p.clone());
        }
        if let Some(kinds) = kinds {
            let mut names: Vec<&str> = kinds.iter().copied().collect();
            // "controller" last reads better: "ARC: AutoscalingListener, controller".
            names.sort_by_key(|k| (*k == "controller", *k));
            parts.push(format!("ARC: {}", names.join(", ")));
        }
        parts.join("; ")
    };
    let mut out: Vec<(String, String)> = holders
        .iter()
        .map(|(ns, kinds)| (ns.clone(), describe(ns, Some(kinds))))
        .collect();
    out.extend(
        phase
            .keys()
            .filter(|ns| !holders.contains_key(*ns))
            .map(|ns| (ns.clone(), describe(ns, None))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_owned()).collect()
    }

    fn values_of(c: &Completions) -> Vec<&str> {
        c.candidates.iter().map(|(v, _)| v.as_str()).collect()
    }

    async fn done(s: &[&str]) -> Completions {
        complete(&words(s)).await
    }

    #[tokio::test]
    async fn subcommands_come_from_clap_and_hide_the_backend() {
        let c = done(&[""]).await;
        assert_eq!(
            values_of(&c),
            [
                "doctor",
                "orphans",
                "drain",
                "explain",
                "version",
                "completion"
            ]
        );
        assert_eq!(c.directive, NO_FILE_COMP);
        let c = done(&["dr"]).await;
        assert_eq!(values_of(&c), ["drain"]);
        assert!(c.candidates[0].1.starts_with("Take ARC out of a namespace"));
        assert!(done(&["__"]).await.candidates.is_empty());
        // Global flags before the subcommand do not hide the subcommands.
        assert_eq!(values_of(&done(&["-o", "json", "ve"]).await), ["version"]);
    }

    #[tokio::test]
    async fn flags_of_the_subcommand_with_globals_and_without_repeats() {
        let c = done(&["drain", "--"]).await;
        let v = values_of(&c);
        for f in [
            "--force",
            "--dry-run",
            "--yes",
            "--context",
            "--namespace",
            "--help",
        ] {
            assert!(v.contains(&f), "{f} missing from {v:?}");
        }
        assert!(
            !v.contains(&"--fail-on"),
            "doctor-only flag offered to drain"
        );
        assert!(!v.contains(&"--snapshot-out"));
        let v = values_of(&done(&["doctor", "--context", "x", "--co"]).await).join(" ");
        assert_eq!(v, "--concurrency", "--context was given already");
        let v = values_of(&done(&["doctor", "--as-group", "a", "--as-"]).await).join(" ");
        assert_eq!(v, "--as-group", "--as-group is repeatable");
        let c = done(&["doctor", "-"]).await;
        let v = values_of(&c);
        assert!(v.contains(&"-n") && v.contains(&"-o") && v.contains(&"--no-logs"));
    }

    #[tokio::test]
    async fn output_and_dry_run_values_come_from_clap() {
        let c = done(&["doctor", "-o", ""]).await;
        assert_eq!(values_of(&c), ["table", "json", "yaml"]);
        assert_eq!(
            values_of(&done(&["doctor", "--output", "j"]).await),
            ["json"]
        );
        assert_eq!(
            values_of(&done(&["doctor", "--output=y"]).await),
            ["--output=yaml"]
        );
        assert_eq!(
            values_of(&done(&["drain", "ns", "--dry-run="]).await),
            ["--dry-run=client", "--dry-run=server"]
        );
        // --dry-run takes no separate word: the next word is a positional again.
        let root = definition();
        let line = Line::parse(&root, &words(&["drain", "--dry-run"]));
        assert!(line.pending.is_none());
        assert!(line.used.contains("dry_run"), "{:?}", line.used);
    }

    #[tokio::test]
    async fn every_fail_on_candidate_is_accepted_by_the_parser() {
        let c = done(&["doctor", "--fail-on", ""]).await;
        assert_eq!(
            values_of(&c),
            ["critical", "high", "medium", "low", "info", "none"]
        );
        for v in values_of(&c) {
            Cli::try_parse_from(["kubectl-arc", "doctor", "--fail-on", v]).expect(v);
        }
    }

    #[tokio::test]
    async fn explain_completes_codes_in_any_case() {
        let c = done(&["explain", "arc-stuck-l"]).await;
        assert_eq!(values_of(&c), ["ARC-STUCK-LISTENER"]);
        assert_eq!(c.candidates[0].1, "AutoscalingListener deletion is stuck");
        assert!(
            done(&["explain", "ARC-STUCK-LISTENER", ""])
                .await
                .candidates
                .is_empty()
        );
    }

    #[tokio::test]
    async fn paths_fall_back_to_the_shell() {
        assert_eq!(
            done(&["doctor", "--kubeconfig", ""]).await.directive,
            DEFAULT
        );
        assert_eq!(
            done(&["drain", "--backup-dir", ""]).await.directive,
            FILTER_DIRS
        );
        assert_eq!(
            done(&["drain", "--timeout", ""]).await.directive,
            NO_FILE_COMP
        );
    }

    #[tokio::test]
    async fn contexts_come_from_the_kubeconfig_on_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters:\n- name: c1\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: a\n  context: {cluster: c1, user: u, namespace: team}\n- name: b\n  context: {cluster: c1, user: u}\nusers:\n- name: u\n  user: {token: x}\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = done(&["doctor", "--kubeconfig", p, "--context", ""]).await;
        assert_eq!(
            c.candidates,
            [
                ("a".to_owned(), "cluster c1, namespace team".to_owned()),
                ("b".to_owned(), "cluster c1 (current)".to_owned())
            ]
        );
        let c = done(&["--kubeconfig", p, "doctor", "--cluster="]).await;
        assert_eq!(values_of(&c), ["--cluster=c1"]);
        let c = done(&["--kubeconfig", "/nonexistent", "doctor", "--context", ""]).await;
        assert!(c.candidates.is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_cluster_means_no_namespaces_quickly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        // Port 1 on localhost: connection refused.
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: c1\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: a\n  context: {cluster: c1, user: u}\nusers:\n- name: u\n  user: {token: x}\n",
        )
        .unwrap();
        let started = std::time::Instant::now();
        let c = done(&["drain", "--kubeconfig", path.to_str().unwrap(), ""]).await;
        assert!(c.candidates.is_empty());
        assert_eq!(c.directive, NO_FILE_COMP | KEEP_ORDER);
        assert!(started.elapsed() < CLUSTER_BUDGET + Duration::from_secs(1));
    }

    #[test]
    fn wire_format_is_cobras() {
        let c = Completions::with(
            vec![
                ("a".into(), "first\tline\nsecond".into()),
                ("b".into(), String::new()),
            ],
            36,
        );
        assert_eq!(c.render(), "a\tfirst line second\nb\n:36\n");
        assert_eq!(Completions::new(4).render(), ":4\n");
    }

    #[test]
    fn short_flag_forms_are_understood() {
        let root = definition();
        let line = Line::parse(
            &root,
            &words(&["drain", "-nfoo", "-vv", "-o=json", "--as", "me"]),
        );
        assert_eq!(line.value("namespace").as_deref(), Some("foo"));
        assert_eq!(line.value("output").as_deref(), Some("json"));
        assert_eq!(line.global_args().as_user.as_deref(), Some("me"));
        assert_eq!(line.sub.map(|s| s.get_name()), Some("drain"));
        assert!(line.pending.is_none());
        let line = Line::parse(&root, &words(&["drain", "-n"]));
        assert_eq!(line.pending.and_then(|a| a.get_long()), Some("namespace"));
    }
}
