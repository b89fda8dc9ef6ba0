//! `kubectl arc completion`: print the `kubectl_complete-arc` helper.
//!
//! kubectl (1.26 or newer) completes the arguments of a plugin by running the executable
//! `kubectl_complete-<plugin>` found on `PATH`. The release archives ship that helper, but krew
//! links only the plugin binary into `PATH` (kubernetes-sigs/krew#812), so this command prints it
//! for the user to save there. The text is the same file that goes into the archives
//! (`scripts/kubectl_complete-arc`, or the `.cmd` variant on Windows).

use std::process::ExitCode;

use crate::cli::{CompletionArgs, GlobalArgs};
use crate::error::Failure;

/// The POSIX shell helper shipped in the Linux and macOS archives.
pub const HELPER_SH: &str = include_str!("../../scripts/kubectl_complete-arc");
/// The Windows helper shipped in the Windows archive.
pub const HELPER_CMD: &str = include_str!("../../scripts/kubectl_complete-arc.cmd");

/// The helper for the platform this binary runs on.
pub fn helper() -> &'static str {
    if cfg!(windows) { HELPER_CMD } else { HELPER_SH }
}

pub fn run(_g: &GlobalArgs, _args: &CompletionArgs) -> Result<ExitCode, Failure> {
    super::write_stdout(helper())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_call_the_hidden_completion_command_with_every_word() {
        assert!(HELPER_SH.starts_with("#!/bin/sh\n"));
        assert!(HELPER_SH.contains("\nexec kubectl-arc __complete -- \"$@\"\n"));
        assert!(HELPER_CMD.contains("kubectl-arc.exe __complete -- %*"));
        assert!(HELPER_CMD.contains("\r\n"), "cmd.exe scripts use CRLF");
    }
}
