//! `kubectl arc explain` (not built yet).

use std::process::ExitCode;

use crate::cli::{ExplainArgs, GlobalArgs};
use crate::error::Failure;

pub fn run(_g: &GlobalArgs, _args: &ExplainArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Usage("`explain` is not implemented yet".into()))
}
