//! Command line: kubectl-style global flags (parsed by the plugin itself, since kubectl forwards
//! everything after `arc` verbatim) and one subcommand per file under `commands/`.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::findings::Severity;

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-arc",
    version = crate::commands::version::VERSION_LINE,
    about = "Diagnose and safely repair GitHub Actions Runner Controller (ARC) on Kubernetes",
    long_about = None,
    propagate_version = true,
    disable_help_subcommand = true,
    after_help = "Exit codes: 0 clean (doctor: no finding at or above --fail-on; orphans/drain: \
                  nothing left to do), 1 findings, or steps pending/skipped/failed/refused, \
                  2 usage error (incl. a needed --yes), 3 could not run (unreachable, auth, bad \
                  kubeconfig)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose ARC across all namespaces: controllers, scope and RBAC, scale sets, listeners,
    /// runners, finalizers and every Secret they reference. Read-only.
    Doctor(DoctorArgs),
    /// List orphaned ARC objects and stranded finalizers, and with --fix repair them safely
    /// (backups, preconditions, one finalizer at a time).
    Orphans(OrphansArgs),
    /// Take ARC out of a namespace in the order the controller needs (runner namespaces first,
    /// the controller namespace last).
    Drain(DrainArgs),
    /// Explain a finding code: what it means, why it happens, how it is fixed.
    Explain(ExplainArgs),
    /// Print the plugin version (and the server version when a cluster is reachable).
    Version(VersionArgs),
    /// Print the `kubectl_complete-arc` helper that makes kubectl complete `kubectl arc …`.
    Completion(CompletionArgs),
    /// Shell-completion backend called by `kubectl_complete-arc` (not for direct use).
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

/// Flags kubectl users expect; accepted before or after the subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, colon-separated files merged, else ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<String>,
    /// The kubeconfig context to use
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The kubeconfig cluster to use
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The kubeconfig user to use
    #[arg(long, global = true, value_name = "NAME")]
    pub user: Option<String>,
    /// Limit results to this namespace (also the namespace to fall back to when cluster-wide
    /// access is denied)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// All namespaces (default for doctor); overrides -n as in kubectl
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Username to impersonate for the operation
    #[arg(long = "as", global = true, value_name = "USER")]
    pub as_user: Option<String>,
    /// Group to impersonate for the operation (repeatable)
    #[arg(long = "as-group", global = true, value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// Timeout for each request to the API server, retries included ("0" = none; a bare number
    /// is seconds; else 500ms, 10s, 2m, 1m30s)
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub request_timeout: RequestTimeout,
    /// Output format
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Never colour the output (also honoured: NO_COLOR, non-TTY stdout, TERM=dumb)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More detail on stderr (-v progress, -vv every request)
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
    Yaml,
}

/// `--request-timeout`: `None` = no timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestTimeout(pub Option<Duration>);

/// Parse kubectl's `--request-timeout` syntax.
pub fn parse_timeout(s: &str) -> Result<RequestTimeout, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(RequestTimeout(
            (secs > 0).then(|| Duration::from_secs(secs)),
        ));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration {s:?} (examples: 30s, 2m, 1m30s, 500ms)"
            ));
        }
        let n: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {s:?} (examples: 30s, 2m, 1m30s, 500ms)"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(format!("invalid duration {s:?} (units: ms, s, m, h)")),
        };
        total += Duration::from_secs_f64(n * factor);
        rest = &rest[unit_len..];
    }
    Ok(RequestTimeout((!total.is_zero()).then_some(total)))
}

/// `--fail-on`: the lowest severity that makes the exit code 1, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Never,
    AtLeast(Severity),
}

fn parse_fail_on(s: &str) -> Result<FailOn, String> {
    if s == "none" {
        return Ok(FailOn::Never);
    }
    Severity::parse(s)
        .map(FailOn::AtLeast)
        .ok_or_else(|| format!("invalid severity {s:?} (critical, high, medium, low, info, none)"))
}

#[derive(Debug, Args, Clone)]
pub struct DoctorArgs {
    /// Exit 1 when a finding at or above this severity exists (critical|high|medium|low|info|none)
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_fail_on)]
    pub fail_on: FailOn,
    /// Do not read controller and listener pod logs
    #[arg(long)]
    pub no_logs: bool,
    /// How many log lines to read from each controller/listener container
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub log_lines: u32,
    /// Page size for LIST requests
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_size: u32,
    /// Also write the collected snapshot (metadata and specs; never Secret data) as JSON to this
    /// file, for support and debugging
    #[arg(long, value_name = "PATH", hide = true)]
    pub snapshot_out: Option<std::path::PathBuf>,
    /// Maximum API requests in flight
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
}

/// `--dry-run[=client|server]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    /// Print the plan; send no write.
    Client,
    /// Send every write with `dryRun=All`: the server validates, nothing is persisted.
    Server,
}

/// Flags shared by every command that can change the cluster (`orphans --fix`, `drain`).
#[derive(Debug, Args, Clone)]
pub struct MutateArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Also run actions tagged `confirm` (they can leak GitHub registrations or touch RBAC)
    #[arg(long)]
    pub include_confirm: bool,
    /// Only show what would be done (`client`, the default) or send writes with dryRun=All (`server`)
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, default_missing_value = "client", require_equals = true)]
    pub dry_run: Option<DryRun>,
    /// Where to write backups (default ~/.kube/arc-backups/<context>/<UTC timestamp>/)
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<std::path::PathBuf>,
    /// Page size for LIST requests
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub chunk_size: u32,
    /// Maximum API requests in flight
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
}

#[derive(Debug, Args, Clone)]
pub struct OrphansArgs {
    /// Apply the plan (auto actions; confirm actions also need --include-confirm)
    #[arg(long)]
    pub fix: bool,
    #[command(flatten)]
    pub mutate: MutateArgs,
    /// After --fix, how long to wait for namespace deletion and garbage collection to settle
    /// (kubectl duration: 90s, 10m)
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
    pub timeout: RequestTimeout,
}

#[derive(Debug, Args, Clone)]
pub struct DrainArgs {
    /// The namespace to drain (a runner namespace, or a controller namespace once its scale sets
    /// are drained)
    #[arg(value_name = "NAMESPACE")]
    pub target: String,
    /// Do the controller's work (strip stranded finalizers bottom-up) when it provably cannot
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub mutate: MutateArgs,
    /// How long to wait for the controller to finish (kubectl duration: 90s, 10m)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_timeout)]
    pub timeout: RequestTimeout,
    /// How often to look at the cluster while waiting
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_timeout, hide = true)]
    pub poll_interval: RequestTimeout,
}

#[derive(Debug, Args, Clone)]
pub struct ExplainArgs {
    /// A finding code, e.g. ARC-STUCK-LISTENER (case-insensitive)
    #[arg(value_name = "CODE")]
    pub code: String,
}

#[derive(Debug, Args, Clone)]
pub struct VersionArgs {
    /// Client version only; do not contact the cluster
    #[arg(long)]
    pub client: bool,
}

#[derive(Debug, Args, Clone)]
pub struct CompletionArgs {}

#[derive(Debug, Args, Clone)]
pub struct CompleteArgs {
    /// The words after `kubectl arc`, the last one being completed
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// How the program was invoked, for usage text: `kubectl arc` when run as a kubectl plugin
/// (argv[0] is `kubectl-arc`), else the binary name.
pub fn display_name(argv0: &str) -> String {
    let base = std::path::Path::new(argv0)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("kubectl-arc");
    match base.strip_prefix("kubectl-") {
        Some(plugin) => format!("kubectl {}", plugin.replace('_', "-")),
        None => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeouts_parse_like_kubectl() {
        assert_eq!(parse_timeout("0"), Ok(RequestTimeout(None)));
        assert_eq!(
            parse_timeout("5"),
            Ok(RequestTimeout(Some(Duration::from_secs(5))))
        );
        assert_eq!(
            parse_timeout("1m30s"),
            Ok(RequestTimeout(Some(Duration::from_secs(90))))
        );
        assert_eq!(
            parse_timeout("500ms"),
            Ok(RequestTimeout(Some(Duration::from_millis(500))))
        );
        assert!(parse_timeout("abc").is_err());
        assert!(parse_timeout("5x").is_err());
        assert!(parse_timeout("").is_err());
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "kubectl-arc",
            "doctor",
            "--context",
            "c",
            "-n",
            "ns",
            "--as",
            "u",
            "--as-group",
            "g1",
            "--as-group",
            "g2",
            "-o",
            "json",
            "--fail-on",
            "none",
        ])
        .expect("parses");
        assert_eq!(cli.global.context.as_deref(), Some("c"));
        assert_eq!(cli.global.namespace.as_deref(), Some("ns"));
        assert_eq!(cli.global.as_group, ["g1", "g2"]);
        assert_eq!(cli.global.output, Output::Json);
        let Command::Doctor(d) = cli.command else {
            panic!("doctor expected")
        };
        assert_eq!(d.fail_on, FailOn::Never);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            vec!["kubectl-arc", "doctor", "-o", "wide"],
            vec!["kubectl-arc", "doctor", "--fail-on", "urgent"],
            vec!["kubectl-arc", "doctor", "--request-timeout", "soon"],
            vec!["kubectl-arc", "bogus"],
        ] {
            let e = Cli::try_parse_from(&args).expect_err("must fail");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn display_name_follows_kubectl_plugin_convention() {
        assert_eq!(display_name("/usr/local/bin/kubectl-arc"), "kubectl arc");
        assert_eq!(display_name("kubectl-arc_doctor"), "kubectl arc-doctor");
        assert_eq!(display_name("arc"), "arc");
    }
}
