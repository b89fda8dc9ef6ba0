//! `kubectl-arc`: run as `kubectl arc …`. All logic lives in the library.

fn main() -> std::process::ExitCode {
    kubectl_arc::commands::main(std::env::args_os())
}
