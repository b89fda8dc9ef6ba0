//! kubectl-arc: diagnose and safely repair GitHub Actions Runner Controller (ARC) installations.
//!
//! Data flows one way: `cli` → `cluster` (collect) → [`snapshot::Snapshot`] → `checks` (pure)
//! → `plan` (pure) → `apply` → `report`.

pub mod apply;
pub mod checks;
pub mod cli;
pub mod cluster;
pub mod codes;
pub mod commands;
pub mod error;
pub mod facts;
pub mod findings;
pub mod incidents;
pub mod intern;
pub mod logscan;
pub mod model;
pub mod node;
pub mod plan;
pub mod rbac;
pub mod report;
pub mod report_plan;
pub mod snapshot;

#[cfg(test)]
pub mod testing;
