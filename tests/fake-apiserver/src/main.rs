//! `fake-apiserver`: run the fake Kubernetes API server by hand.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use fake_apiserver::FakeServer;

/// A fake Kubernetes API server driven by YAML fixtures (test-only).
#[derive(Debug, Parser)]
#[command(name = "fake-apiserver", version)]
struct Args {
    /// Fixture file or directory (repeatable).
    #[arg(long = "fixtures", value_name = "PATH")]
    fixtures: Vec<PathBuf>,
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the kubeconfig for the server.
    #[arg(long, value_name = "PATH")]
    kubeconfig_out: Option<PathBuf>,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Append every request as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    request_log: Option<PathBuf>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("fake-apiserver: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut builder = FakeServer::builder().listen(args.listen);
    for f in &args.fixtures {
        builder = builder.fixture(f);
    }
    if args.plain_http {
        builder = builder.plain_http();
    }
    if let Some(log) = &args.request_log {
        builder = builder.request_log(log);
    }
    builder = builder.on_request(|r| {
        let query = if r.query.is_empty() {
            String::new()
        } else {
            format!("?{}", r.query)
        };
        let user = if r.user.is_empty() {
            "-"
        } else {
            r.user.as_str()
        };
        eprintln!(
            "fake-apiserver: {} {}{} -> {} ({user})",
            r.method, r.path, query, r.status
        );
    });
    let server = builder.start()?;
    if let Some(path) = &args.kubeconfig_out {
        server.write_kubeconfig(path)?;
        eprintln!("fake-apiserver: kubeconfig written to {}", path.display());
    }
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.url()).context("writing to stdout")?;
        out.flush().context("flushing stdout")?;
    }
    eprintln!("fake-apiserver: serving {} (Ctrl-C to stop)", server.url());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the signal runtime")?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for SIGINT")?,
            _ = term.recv() => {}
        }
        anyhow::Ok(())
    })?;
    eprintln!("fake-apiserver: shutting down");
    drop(server);
    Ok(())
}
