//! `kubectl arc version`: the plugin's version, git commit, build date and target, plus the API
//! server's version when a cluster is reachable (`--client` skips the cluster).
//!
//! Like `kubectl version`, an unreachable cluster is an error (exit 3) after the client part has
//! been printed, so a script never mistakes "no server" for success.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, Output, VersionArgs};
use crate::error::Failure;

/// The crate version, without the leading `v`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Git commit the binary was built from (12 hex digits, or `unknown`); set by `build.rs`.
pub const GIT_COMMIT: &str = env!("KUBECTL_ARC_GIT_COMMIT");
/// UTC RFC 3339 build date (`SOURCE_DATE_EPOCH` when set); set by `build.rs`.
pub const BUILD_DATE: &str = env!("KUBECTL_ARC_BUILD_DATE");
/// Rust target triple the binary was compiled for; set by `build.rs`.
pub const TARGET: &str = env!("KUBECTL_ARC_TARGET");

/// `kubectl arc --version` text (after the program name).
pub const VERSION_LINE: &str = concat!(
    "v",
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("KUBECTL_ARC_GIT_COMMIT"),
    ", built ",
    env!("KUBECTL_ARC_BUILD_DATE"),
    ", ",
    env!("KUBECTL_ARC_TARGET"),
    ")"
);

/// The client half of the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ClientVersion {
    /// `v` + semver, as in the release tag and the krew manifest.
    pub git_version: String,
    pub git_commit: String,
    pub build_date: String,
    /// Rust target triple.
    pub target: String,
    /// `os/arch` in Go's (and krew's) naming, e.g. `linux/amd64`.
    pub platform: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    client_version: ClientVersion,
    /// The API server's `/version` document, unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_version: Option<Value>,
}

pub fn client_version() -> ClientVersion {
    ClientVersion {
        git_version: format!("v{VERSION}"),
        git_commit: GIT_COMMIT.to_owned(),
        build_date: BUILD_DATE.to_owned(),
        target: TARGET.to_owned(),
        platform: format!(
            "{}/{}",
            go_os(std::env::consts::OS),
            go_arch(std::env::consts::ARCH)
        ),
    }
}

/// Rust's `std::env::consts::OS` in Go's `GOOS` naming (krew selectors use it).
fn go_os(os: &str) -> &str {
    match os {
        "macos" => "darwin",
        other => other,
    }
}

/// Rust's `std::env::consts::ARCH` in Go's `GOARCH` naming.
fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub async fn run(g: &GlobalArgs, args: &VersionArgs) -> Result<ExitCode, Failure> {
    let mut report = Report {
        client_version: client_version(),
        server_version: None,
    };
    let mut failure = None;
    if !args.client {
        match server_version(g).await {
            Ok(v) => report.server_version = Some(v),
            Err(f) => failure = Some(f),
        }
    }
    let text = match g.output {
        Output::Table => to_text(&report),
        Output::Json => {
            let mut s = serde_json::to_string_pretty(&report)
                .map_err(|e| Failure::cannot_run(format!("cannot encode JSON: {e}")))?;
            s.push('\n');
            s
        }
        Output::Yaml => {
            let mut s = serde_saphyr::to_string(&report)
                .map_err(|e| Failure::cannot_run(format!("cannot encode YAML: {e}")))?;
            if !s.ends_with('\n') {
                s.push('\n');
            }
            s
        }
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head -1`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match failure {
        Some(Failure::CannotRun(m)) => Err(Failure::CannotRun(format!(
            "{m} (--client prints the client version only)"
        ))),
        Some(f) => Err(f),
        None => Ok(ExitCode::SUCCESS),
    }
}

fn to_text(r: &Report) -> String {
    let c = &r.client_version;
    let mut s = format!(
        "Client Version: {}\nGit Commit:     {}\nBuild Date:     {}\nTarget:         {} ({})\n",
        c.git_version, c.git_commit, c.build_date, c.target, c.platform
    );
    if let Some(v) = &r.server_version {
        let version = v
            .get("gitVersion")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                format!(
                    "{}.{}",
                    v.get("major").and_then(Value::as_str).unwrap_or("?"),
                    v.get("minor").and_then(Value::as_str).unwrap_or("?")
                )
            });
        s.push_str(&format!("Server Version: {version}\n"));
    }
    s
}

/// `GET /version` through the project's client (kubeconfig, context, impersonation, timeout).
async fn server_version(g: &GlobalArgs) -> Result<Value, Failure> {
    let cluster = crate::cluster::connect(g).await?;
    let text = cluster.get_text("/version").await.map_err(|e| {
        Failure::cannot_run(format!(
            "cannot read the version of the API server {}: {e}",
            cluster.server()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::cannot_run(format!(
            "the API server {} answered /version with something that is not JSON: {e}",
            cluster.server()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_metadata_is_filled_in() {
        let c = client_version();
        assert_eq!(c.git_version, format!("v{}", env!("CARGO_PKG_VERSION")));
        assert!(
            c.git_commit == "unknown"
                || (c.git_commit.len() >= 7
                    && c.git_commit.chars().all(|ch| ch.is_ascii_hexdigit())),
            "{}",
            c.git_commit
        );
        // YYYY-MM-DDTHH:MM:SSZ
        assert_eq!(c.build_date.len(), 20, "{}", c.build_date);
        assert!(c.build_date.ends_with('Z') && c.build_date.as_bytes()[10] == b'T');
        assert!(c.target.contains('-'), "{}", c.target);
        assert!(VERSION_LINE.starts_with(&c.git_version));
    }

    #[test]
    fn platforms_use_go_names() {
        assert_eq!(go_os("macos"), "darwin");
        assert_eq!(go_os("linux"), "linux");
        assert_eq!(go_os("windows"), "windows");
        assert_eq!(go_arch("x86_64"), "amd64");
        assert_eq!(go_arch("aarch64"), "arm64");
    }

    #[test]
    fn text_shows_server_version_only_when_known() {
        let mut r = Report {
            client_version: client_version(),
            server_version: None,
        };
        assert!(!to_text(&r).contains("Server Version"));
        r.server_version =
            Some(serde_json::json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0"}));
        assert!(to_text(&r).ends_with("Server Version: v1.32.0\n"));
        r.server_version = Some(serde_json::json!({"major": "1", "minor": "31"}));
        assert!(to_text(&r).ends_with("Server Version: 1.31\n"));
    }
}
