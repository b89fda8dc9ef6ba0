//! `cargo run --example demo [-- <scenario> [doctor|orphans|drain …] [flags…]]`
//!
//! Starts the project's fake Kubernetes API server loaded with a built-in broken cluster
//! (default: S1, "controller moved to a new namespace, old namespace deleted"; any directory name
//! under tests/scenarios works, e.g. B0 or S2), writes a kubeconfig for it, and runs
//! `kubectl arc doctor` against it. Nothing outside 127.0.0.1 is touched.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = match args.first() {
        Some(a) if !a.starts_with('-') => args.remove(0),
        _ => "S1".to_owned(),
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(&scenario);
    if !dir.join("cluster.yaml").is_file() {
        eprintln!("error: no scenario {scenario:?} under tests/scenarios");
        return ExitCode::from(2);
    }
    let server = match fake_apiserver::FakeServer::builder().fixture(&dir).start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the demo cluster: {e:#}");
            return ExitCode::from(3);
        }
    };
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot create a temp dir: {e}");
            return ExitCode::from(3);
        }
    };
    let kubeconfig = tmp.path().join("kubeconfig");
    if let Err(e) = server.write_kubeconfig(&kubeconfig) {
        eprintln!("error: cannot write the demo kubeconfig: {e:#}");
        return ExitCode::from(3);
    }
    eprintln!(
        "demo: scenario {scenario} served at {} (kubeconfig {})",
        server.url(),
        kubeconfig.display()
    );
    let command = match args.first().map(String::as_str) {
        Some("doctor" | "orphans" | "drain") => args.remove(0),
        _ => "doctor".to_owned(),
    };
    eprintln!("demo: $ kubectl arc {command} {}", args.join(" "));
    let mut argv: Vec<OsString> = vec!["kubectl-arc".into(), command.into()];
    argv.extend(args.into_iter().map(OsString::from));
    argv.push("--kubeconfig".into());
    argv.push(kubeconfig.into_os_string());
    kubectl_arc::commands::main(argv)
}
