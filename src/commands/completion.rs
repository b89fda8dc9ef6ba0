//! `kubectl arc completion` (not built yet).

use std::process::ExitCode;

use crate::cli::{CompletionArgs, GlobalArgs};
use crate::error::Failure;

pub fn run(_g: &GlobalArgs, _args: &CompletionArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Usage("`completion` is not implemented yet".into()))
}
