//! `kubectl arc doctor`: collect, check, report. Read-only.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::checks;
use crate::cli::{DoctorArgs, FailOn, GlobalArgs, Output};
use crate::cluster::{self, CollectOptions};
use crate::error::{EXIT_FINDINGS, EXIT_OK, Failure};
use crate::findings::Finding;
use crate::model::{ARC_KINDS, Model};
use crate::report::{self, Report, Summary, TableOptions};
use crate::snapshot::{Scope, Snapshot};

pub async fn run(g: &GlobalArgs, args: &DoctorArgs) -> Result<ExitCode, Failure> {
    let cluster = cluster::connect(g).await?;
    // kubectl: -A wins over -n. doctor looks at all namespaces unless -n narrows the report.
    let only_ns = if g.all_namespaces {
        None
    } else {
        g.namespace.clone()
    };
    let fallback = match &g.namespace {
        Some(ns) => vec![ns.clone()],
        None => vec![cluster.context_namespace().to_owned()],
    };
    let options = CollectOptions {
        fallback_namespaces: fallback,
        page_size: args.chunk_size,
        concurrency: args.concurrency as usize,
        log_lines: (!args.no_logs).then_some(args.log_lines),
    };
    if g.verbose >= 1 {
        eprintln!("kubectl-arc: collecting from {}", cluster.server());
    }
    let snap = cluster::collect(&cluster, &options).await;
    if let Some(msg) = nothing_readable(&snap, &options.fallback_namespaces) {
        return Err(Failure::cannot_run(msg));
    }
    if let Some(path) = &args.snapshot_out {
        let json =
            serde_json::to_vec_pretty(&snap).map_err(|e| Failure::cannot_run(e.to_string()))?;
        std::fs::write(path, json)
            .map_err(|e| Failure::cannot_run(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut findings = checks::run(&snap);
    crate::logscan::attach_evidence(&mut findings, &snap);
    if let Some(ns) = &only_ns {
        findings.retain(|f| concerns_namespace(f, ns));
    }
    let model = Model::build(&snap);
    let exit = exit_code(&findings, args.fail_on);
    let mut summary = Summary::count(&findings);
    summary.fail_on = match args.fail_on {
        FailOn::Never => "none".to_owned(),
        FailOn::AtLeast(s) => s.as_str().to_owned(),
    };
    summary.exit_code = exit;
    summary.api_requests = cluster.request_count();
    if g.verbose >= 1 {
        eprintln!(
            "kubectl-arc: {} API requests, {} findings",
            summary.api_requests, summary.total
        );
    }
    let report = Report::new(findings, &snap, &model, summary);
    drop(snap);
    let text = match g.output {
        Output::Json => report::to_json(&report),
        Output::Yaml => report::to_yaml(&report),
        Output::Table => {
            let terminal = std::io::stdout().is_terminal();
            report::to_table(
                &report,
                TableOptions {
                    color: use_color(g.no_color),
                    width: report::output_width(terminal),
                    details: g.verbose >= 1,
                },
            )
        }
    };
    super::write_stdout(&text)?;
    Ok(ExitCode::from(exit))
}

/// When no ARC resource could be read anywhere — cluster-wide lists refused and the namespace
/// fallback refused too — an empty report would read as "healthy". Say so instead.
fn nothing_readable(snap: &Snapshot, fallback: &[String]) -> Option<String> {
    let unreadable = snap
        .collections()
        .iter()
        .filter(|(k, _)| ARC_KINDS.contains(k))
        .all(|(_, c)| c.scope == Scope::None);
    let refused = snap
        .gaps
        .iter()
        .any(|g| g.kind.as_deref().is_some_and(|k| ARC_KINDS.contains(&k)));
    if !(unreadable && refused) {
        return None;
    }
    let tried = match fallback {
        [] => String::new(),
        [ns] => format!(" or in namespace {ns}"),
        many => format!(" or in namespaces {}", many.join(", ")),
    };
    Some(format!(
        "nothing was checked: no ARC resource could be read cluster-wide{tried}; run `kubectl arc doctor -n <namespace>` for a namespace you may read (check with `kubectl auth can-i list autoscalingrunnersets.actions.github.com -n <namespace>`)"
    ))
}

/// Keep a finding for `-n ns` when it involves that namespace or only cluster-level objects.
fn concerns_namespace(f: &Finding, ns: &str) -> bool {
    let namespaced: Vec<&str> = f
        .objects
        .iter()
        .filter_map(|o| o.namespace.as_deref())
        .collect();
    namespaced.is_empty() || namespaced.contains(&ns)
}

fn exit_code(findings: &[Finding], fail_on: FailOn) -> u8 {
    match fail_on {
        FailOn::AtLeast(min) if findings.iter().any(|f| f.severity >= min) => EXIT_FINDINGS,
        _ => EXIT_OK,
    }
}

/// Colour only for a terminal, without `--no-color`, `NO_COLOR` or `TERM=dumb`.
fn use_color(no_color_flag: bool) -> bool {
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    !no_color_flag && !no_color_env && !dumb && std::io::stdout().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::Severity;
    use crate::snapshot::ObjectRef;

    fn f(sev: Severity, objs: &[ObjectRef]) -> Finding {
        Finding::new("ARC-STUCK-ARS", sev, "m").objects(objs.iter().cloned())
    }

    #[test]
    fn fail_on_threshold_decides_exit_code() {
        let fs = vec![f(Severity::Medium, &[])];
        assert_eq!(exit_code(&fs, FailOn::AtLeast(Severity::High)), EXIT_OK);
        assert_eq!(
            exit_code(&fs, FailOn::AtLeast(Severity::Medium)),
            EXIT_FINDINGS
        );
        assert_eq!(exit_code(&fs, FailOn::Never), EXIT_OK);
        assert_eq!(exit_code(&[], FailOn::AtLeast(Severity::Info)), EXIT_OK);
    }

    #[test]
    fn namespace_filter_keeps_cluster_level_findings() {
        let a = ObjectRef::namespaced("AutoscalingRunnerSet", "a", "x");
        let b = ObjectRef::namespaced("AutoscalingListener", "b", "y");
        let crb = ObjectRef::cluster("ClusterRoleBinding", "z");
        assert!(concerns_namespace(
            &f(Severity::High, &[a.clone(), b.clone()]),
            "b"
        ));
        assert!(!concerns_namespace(&f(Severity::High, &[a]), "b"));
        assert!(concerns_namespace(&f(Severity::High, &[crb]), "b"));
        assert!(concerns_namespace(&f(Severity::High, &[]), "b"));
    }
}
