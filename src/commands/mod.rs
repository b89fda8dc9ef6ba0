//! Entry point and one module per subcommand. Each subcommand turns its arguments into options,
//! runs, and returns the exit code; errors become one line on stderr here, and nowhere else.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{self, Cli, Command};
use crate::error::{EXIT_CANNOT_RUN, Failure};

pub mod complete;
pub mod completion;
pub mod doctor;
pub mod drain;
pub mod explain;
pub mod orphans;
pub mod version;

/// Parse arguments, run the subcommand, print errors, and decide the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    install_panic_hook();
    let args: Vec<OsString> = args.into_iter().collect();
    let argv0 = args
        .first()
        .and_then(|a| a.to_str())
        .unwrap_or("kubectl-arc")
        .to_owned();
    let name = cli::display_name(&argv0);
    let mut cmd = Cli::command().bin_name(name.clone());
    let parsed = cmd
        .try_get_matches_from_mut(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        // --help/--version exit 0; usage errors exit 2, as clap decides.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    // One thread: the work is waiting on the API server, and a single thread keeps the heap in
    // one malloc arena (per-thread arenas cost ~7 MiB of fragmentation at 1,000 namespaces).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Doctor(args) => doctor::run(&cli.global, &args).await,
            Command::Orphans(args) => orphans::run(&cli.global, &args).await,
            Command::Drain(args) => drain::run(&cli.global, &args).await,
            Command::Explain(args) => explain::run(&cli.global, &args),
            Command::Version(args) => version::run(&cli.global, &args).await,
            Command::Completion(args) => completion::run(&cli.global, &args),
            Command::Complete(args) => complete::run(&cli.global, &args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("error: {f}");
            if matches!(f, Failure::Usage(_)) {
                eprintln!("See '{name} --help'.");
            }
            f.exit_code()
        }
    }
}

/// Write a command's result to stdout. A closed pipe (`| head`) is not an error worth reporting.
pub(crate) fn write_stdout(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::cannot_run(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// A bug must still end with one line and exit 3, not a backtrace (unless RUST_BACKTRACE asks).
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some() {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {msg}{at} (please report this)");
        std::process::exit(i32::from(EXIT_CANNOT_RUN));
    }));
}
