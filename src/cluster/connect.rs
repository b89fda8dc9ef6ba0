//! Build a kube client the way kubectl would from `--kubeconfig/--context/--cluster/--user/--as…`.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use crate::cli::GlobalArgs;
use crate::error::{Failure, chain};

use super::request::Cluster;

/// Load the kubeconfig like kubectl: `--kubeconfig` (one file) wins over `$KUBECONFIG`
/// (colon-separated, merged, first wins) over `~/.kube/config`; none at all → in-cluster config.
async fn load_config(g: &GlobalArgs) -> Result<Config, Failure> {
    let options = KubeConfigOptions {
        context: g.context.clone(),
        cluster: g.cluster.clone(),
        user: g.user.clone(),
    };
    let kubeconfig = match &g.kubeconfig {
        Some(path) => {
            Some(Kubeconfig::read_from(path).map_err(|e| kubeconfig_failure(&e, Some(path)))?)
        }
        None => match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            Some(list) => Some(read_kubeconfig_list(&list)?),
            None => match default_kubeconfig() {
                Some(path) => Some(
                    Kubeconfig::read_from(&path)
                        .map_err(|e| kubeconfig_failure(&e, path.to_str()))?,
                ),
                // Nothing configured anywhere: try the in-cluster service account like kubectl.
                None => None,
            },
        },
    };
    match kubeconfig {
        Some(k) => Config::from_custom_kubeconfig(k, &options)
            .await
            .map_err(|e| kubeconfig_failure(&e, g.kubeconfig.as_deref())),
        None => Config::incluster().map_err(|_| {
            Failure::cannot_run(
                "no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config",
            )
        }),
    }
}

/// `$KUBECONFIG`: colon-separated files merged in order (first value wins), skipping files that
/// do not exist, as kubectl does.
fn read_kubeconfig_list(list: &std::ffi::OsStr) -> Result<Kubeconfig, Failure> {
    let existing: Vec<PathBuf> = std::env::split_paths(list)
        .filter(|p| !p.as_os_str().is_empty() && p.exists())
        .collect();
    if existing.is_empty() {
        return Err(Failure::cannot_run(format!(
            "cannot read kubeconfig {}: no such file",
            list.to_string_lossy()
        )));
    }
    existing
        .iter()
        .try_fold(Kubeconfig::default(), |merged, p| {
            Kubeconfig::read_from(p)
                .and_then(|k| merged.merge(k))
                .map_err(|e| kubeconfig_failure(&e, p.to_str()))
        })
}

/// `~/.kube/config`, if it exists.
fn default_kubeconfig() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".kube").join("config")).filter(|p| p.exists())
}

fn kubeconfig_failure(e: &KubeconfigError, path: Option<&str>) -> Failure {
    let msg = match e {
        KubeconfigError::ReadConfig(io, p) => {
            format!(
                "cannot read kubeconfig {}: {io}",
                PathBuf::from(p).display()
            )
        }
        KubeconfigError::LoadContext(name) => format!("context {name:?} not found in kubeconfig"),
        KubeconfigError::LoadClusterOfContext(name) => {
            format!("cluster {name:?} not found in kubeconfig")
        }
        KubeconfigError::CurrentContextNotSet => {
            "kubeconfig has no current-context; pass --context".to_owned()
        }
        other => match path {
            Some(p) => format!("invalid kubeconfig {p}: {}", chain(other)),
            None => format!("invalid kubeconfig: {}", chain(other)),
        },
    };
    Failure::cannot_run(msg)
}

/// Connect and verify that the API server answers and accepts our credentials.
pub async fn connect(g: &GlobalArgs) -> Result<Cluster, Failure> {
    let mut config = load_config(g).await?;
    if let Some(user) = &g.as_user {
        config.auth_info.impersonate = Some(user.clone());
    }
    if !g.as_group.is_empty() {
        if g.as_user.is_none() {
            return Err(Failure::Usage("--as-group requires --as".into()));
        }
        config.auth_info.impersonate_groups = Some(g.as_group.clone());
    }
    // kube retries 429/503/504 up to 15 times with back-off up to 1000 s; we retry ourselves,
    // bounded by --request-timeout.
    config.default_retry = false;
    if let Some(t) = g.request_timeout.0 {
        config.read_timeout = Some(t);
        config.connect_timeout = Some(config.connect_timeout.map_or(t, |c| c.min(t)));
    }
    let server = config.cluster_url.to_string();
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| {
        Failure::cannot_run(format!("cannot build client for {server}: {}", chain(&e)))
    })?;
    let cluster = Cluster::new(client, server, namespace, g.request_timeout.0, g.verbose);
    cluster.check_reachable().await?;
    Ok(cluster)
}
