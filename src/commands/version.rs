//! `kubectl arc version` (not built yet).

use std::process::ExitCode;

use crate::cli::{VersionArgs, GlobalArgs};
use crate::error::Failure;

pub async fn run(_g: &GlobalArgs, _args: &VersionArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Usage("`version` is not implemented yet".into()))
}
