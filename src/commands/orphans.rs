//! `kubectl arc orphans [--fix]`: collect, check, plan; with `--fix` back up and apply the plan,
//! then collect once more and report what is done, skipped, pending and left on GitHub.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::apply::{self, Outcome};
use crate::checks;
use crate::cli::{DryRun, GlobalArgs, MutateArgs, OrphansArgs, Output};
use crate::cluster::{self, Cluster, CollectOptions};
use crate::error::{EXIT_FINDINGS, EXIT_OK, Failure};
use crate::facts::Ctx;
use crate::findings::Fix;
use crate::plan::{self, Plan, Scope};
use crate::report;
use crate::report_plan::{self, OrphansReport, Outcome as ReportOutcome};
use crate::snapshot::Snapshot;

pub async fn run(g: &GlobalArgs, args: &OrphansArgs) -> Result<ExitCode, Failure> {
    let cluster = cluster::connect(g).await?;
    let scope = Scope {
        namespace: (!g.all_namespaces).then(|| g.namespace.clone()).flatten(),
        force_namespace: None,
    };
    let m = &args.mutate;
    let snap = collect(&cluster, g, m).await;
    let plan = plan_of(&snap, &scope);
    let fix = args.fix && m.dry_run != Some(DryRun::Client);
    let mut report = OrphansReport::new(&plan, mode(args));
    if !fix {
        report.summary.api_requests = cluster.request_count();
        report.summary.exit_code = if plan.actions.is_empty() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        };
        emit(g, &report)?;
        return Ok(ExitCode::from(report.summary.exit_code));
    }
    let runnable = plan
        .actions
        .iter()
        .filter(|a| a.tag == Fix::Auto || m.include_confirm)
        .count();
    if g.output == Output::Table {
        emit(g, &report)?;
    }
    if runnable > 0 && m.dry_run.is_none() && !m.yes {
        confirm(runnable)?;
    }
    let backup_dir = backup_dir(g, m, &cluster);
    let opts = apply::Options {
        include_confirm: m.include_confirm,
        server_dry_run: m.dry_run == Some(DryRun::Server),
        backup_dir: backup_dir.clone(),
        concurrency: m.concurrency as usize,
        verbose: g.verbose,
    };
    let outcomes = apply::run(&cluster, &plan, &opts).await;
    // Collect once more, until namespace deletion and garbage collection settle.
    let after = if opts.server_dry_run {
        plan.clone()
    } else {
        settle(&cluster, g, m, &scope, &plan, &outcomes, args.timeout.0).await
    };
    let wrote_backup = outcomes.iter().any(|o| o.backup.is_some());
    report.outcome = Some(ReportOutcome::new(
        &plan,
        outcomes,
        &after,
        wrote_backup.then(|| backup_dir.display().to_string()),
    ));
    let outcome = report.outcome.as_ref().expect("just set");
    report.summary.exit_code = if outcome.all_done() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    };
    report.summary.api_requests = cluster.request_count();
    if g.output == Output::Table {
        let text = report_plan::outcome_table(&report);
        super::write_stdout(&text)?;
    } else {
        emit(g, &report)?;
    }
    Ok(ExitCode::from(report.summary.exit_code))
}

fn mode(args: &OrphansArgs) -> &'static str {
    match (args.fix, args.mutate.dry_run) {
        (_, Some(DryRun::Client)) | (false, _) => "plan",
        (true, Some(DryRun::Server)) => "dryRunServer",
        (true, None) => "fix",
    }
}

pub(crate) async fn collect(cluster: &Cluster, g: &GlobalArgs, m: &MutateArgs) -> Snapshot {
    collect_in(cluster, g, m, None).await
}

/// Collect; `target` is the namespace to fall back to when cluster-wide listing is refused
/// (drain's namespace), else `-n` or the context namespace.
pub(crate) async fn collect_in(
    cluster: &Cluster,
    g: &GlobalArgs,
    m: &MutateArgs,
    target: Option<&str>,
) -> Snapshot {
    let fallback = match (target, &g.namespace) {
        (Some(ns), _) => vec![ns.to_owned()],
        (None, Some(ns)) => vec![ns.clone()],
        (None, None) => vec![cluster.context_namespace().to_owned()],
    };
    let options = CollectOptions {
        fallback_namespaces: fallback,
        page_size: m.chunk_size,
        concurrency: m.concurrency as usize,
        log_lines: Some(200),
    };
    cluster::collect(cluster, &options).await
}

pub(crate) fn plan_of(snap: &Snapshot, scope: &Scope) -> Plan {
    let ctx = Ctx::new(snap);
    let findings = checks::run_with(&ctx);
    plan::build(&ctx, &findings, scope)
}

/// Re-collect until what the applied steps removed is gone (GC and the namespace controller
/// act asynchronously on a real cluster), or until `timeout`.
async fn settle(
    cluster: &Cluster,
    g: &GlobalArgs,
    m: &MutateArgs,
    scope: &Scope,
    plan: &Plan,
    outcomes: &[Outcome],
    timeout: Option<Duration>,
) -> Plan {
    let deadline = Instant::now() + timeout.unwrap_or(Duration::from_secs(60));
    loop {
        let snap = collect(cluster, g, m).await;
        let settled = outcomes
            .iter()
            .filter(|o| o.result == apply::Result_::Done)
            .filter_map(|o| plan.action(o.step))
            .all(|a| match &a.op {
                plan::Op::Delete { .. } => gone_or_held(&snap, a),
                _ => true,
            })
            && !snap.namespaces.iter().any(|n| {
                n.meta.is_deleting()
                    && !snap
                        .collections()
                        .iter()
                        .any(|(_, c)| c.in_namespace(n.meta.name).next().is_some())
            });
        if settled || Instant::now() >= deadline {
            return plan_of(&snap, scope);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A deleted object is gone, or still held by finalizers (then it is reported as pending).
fn gone_or_held(snap: &Snapshot, a: &plan::Action) -> bool {
    match snap.find(&a.object) {
        None => true,
        Some(o) => o.meta.uid != a.uid || !o.meta.finalizers.is_empty(),
    }
}

pub(crate) fn confirm(runnable: usize) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Failure::Usage(format!(
            "refusing to change the cluster ({runnable} step(s)) without confirmation: stdin is \
             not a terminal, pass --yes"
        )));
    }
    eprint!("Apply {runnable} step(s) to the cluster? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::cannot_run(format!("cannot read the answer: {e}")))?;
    if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Failure::Usage("aborted: nothing was changed".into()))
    }
}

/// `--backup-dir`, else `~/.kube/arc-backups/<context>/<UTC timestamp>/`.
pub(crate) fn backup_dir(g: &GlobalArgs, m: &MutateArgs, cluster: &Cluster) -> PathBuf {
    if let Some(d) = &m.backup_dir {
        return d.clone();
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let context = context_name(g).unwrap_or_else(|| {
        cluster
            .server()
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .replace([':', '/'], "_")
    });
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    home.join(".kube")
        .join("arc-backups")
        .join(sanitize(&context))
        .join(stamp)
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `--context`, else the kubeconfig's current context.
fn context_name(g: &GlobalArgs) -> Option<String> {
    if let Some(c) = &g.context {
        return Some(c.clone());
    }
    let kc = match &g.kubeconfig {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok()?,
        None => kube::config::Kubeconfig::read().ok()?,
    };
    kc.current_context
}

fn emit(g: &GlobalArgs, report: &OrphansReport) -> Result<(), Failure> {
    let text = match g.output {
        Output::Json => report::to_json(report),
        Output::Yaml => report::to_yaml(report),
        Output::Table => report_plan::plan_table(report),
    };
    super::write_stdout(&text)
}
