//! `kubectl arc drain` (not built yet).

use std::process::ExitCode;

use crate::cli::{DrainArgs, GlobalArgs};
use crate::error::Failure;

pub async fn run(_g: &GlobalArgs, _args: &DrainArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Usage("`drain` is not implemented yet".into()))
}
