//! `kubectl arc complete` (not built yet).

use std::process::ExitCode;

use crate::cli::{CompleteArgs, GlobalArgs};
use crate::error::Failure;

pub async fn run(_g: &GlobalArgs, _args: &CompleteArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Usage("`complete` is not implemented yet".into()))
}
