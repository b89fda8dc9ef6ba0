//! `kubectl arc orphans` (not built yet).

use std::process::ExitCode;

use crate::cli::{OrphansArgs, GlobalArgs};
use crate::error::Failure;

pub async fn run(_g: &GlobalArgs, _args: &OrphansArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Usage("`orphans` is not implemented yet".into()))
}
