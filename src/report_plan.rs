//! Rendering of an orphans/drain plan and its outcome: a readable list on a terminal, or the
//! documented `OrphansPlan` document (`-o json|yaml`, README "OrphansPlan schema").

use std::fmt::Write as _;

use serde::Serialize;

use crate::apply::{Outcome as StepOutcome, Result_};
use crate::findings::Fix;
use crate::plan::{Action, GithubLeftover, Plan, Untouched};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrphansReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub summary: Summary,
    pub actions: Vec<Action>,
    pub untouched: Vec<Untouched>,
    pub github_leftovers: Vec<GithubLeftover>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `plan` (read-only or `--dry-run`), `dryRunServer` or `fix`.
    pub mode: &'static str,
    pub actions: usize,
    pub auto: usize,
    pub confirm: usize,
    pub untouched: usize,
    pub exit_code: u8,
    pub api_requests: usize,
}

/// What `--fix` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub steps: Vec<StepOutcome>,
    pub done: usize,
    pub skipped: usize,
    pub failed: usize,
    pub not_included: usize,
    /// The plan made from a fresh collection after applying: what is still to do.
    pub remaining_actions: Vec<Action>,
    /// What is still pending and who is expected to finish it.
    pub pending: Vec<Untouched>,
    /// Registrations left on GitHub by the steps that were done.
    pub github_leftovers: Vec<GithubLeftover>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_dir: Option<String>,
}

impl Outcome {
    pub fn new(
        plan: &Plan,
        steps: Vec<StepOutcome>,
        after: &Plan,
        backup_dir: Option<String>,
    ) -> Outcome {
        let count = |r: Result_| steps.iter().filter(|s| s.result == r).count();
        let done_steps: Vec<usize> = steps
            .iter()
            .filter(|s| s.result.ok())
            .map(|s| s.step)
            .collect();
        Outcome {
            done: count(Result_::Done) + count(Result_::DryRun),
            skipped: count(Result_::Skipped),
            failed: count(Result_::Failed),
            not_included: count(Result_::NotIncluded),
            remaining_actions: after.actions.clone(),
            pending: after
                .untouched
                .iter()
                .filter(|u| u.expected_by.is_some())
                .cloned()
                .collect(),
            github_leftovers: plan
                .github_leftovers
                .iter()
                .filter(|g| done_steps.contains(&g.step))
                .cloned()
                .collect(),
            steps,
            backup_dir,
        }
    }

    /// Nothing left to do: every step done and nothing new to do after re-collecting.
    pub fn all_done(&self) -> bool {
        self.skipped == 0
            && self.failed == 0
            && self.not_included == 0
            && self.remaining_actions.is_empty()
    }
}

impl OrphansReport {
    pub fn new(plan: &Plan, mode: &'static str) -> OrphansReport {
        OrphansReport {
            api_version: crate::plan::API_VERSION,
            kind: "OrphansPlan",
            summary: Summary {
                mode,
                actions: plan.actions.len(),
                auto: plan.count(Fix::Auto),
                confirm: plan.count(Fix::Confirm),
                untouched: plan.untouched.len(),
                exit_code: 0,
                api_requests: 0,
            },
            actions: plan.actions.clone(),
            untouched: plan.untouched.clone(),
            github_leftovers: plan.github_leftovers.clone(),
            outcome: None,
        }
    }
}

fn tag(t: Fix) -> &'static str {
    match t {
        Fix::Auto => "auto",
        Fix::Confirm => "confirm",
        Fix::Manual => "manual",
    }
}

/// The plan as a person reads it.
pub fn plan_table(r: &OrphansReport) -> String {
    let mut s = String::new();
    if r.actions.is_empty() {
        s.push_str("Nothing to repair: no orphaned or stranded ARC object needs a change.\n");
    } else {
        let _ = writeln!(
            s,
            "Plan: {} step(s) ({} auto, {} confirm — confirm steps run only with --include-confirm)",
            r.actions.len(),
            r.summary.auto,
            r.summary.confirm
        );
        for a in &r.actions {
            let _ = writeln!(s, "{:>3}. [{}] {}", a.step, tag(a.tag), a.op.describe());
            let _ = writeln!(s, "       {}", a.object);
            if !a.codes.is_empty() {
                let _ = writeln!(s, "       codes: {}", a.codes.join(", "));
            }
            for w in &a.why {
                let _ = writeln!(s, "       why: {w}");
            }
            if !a.after.is_empty() {
                let after: Vec<String> = a.after.iter().map(ToString::to_string).collect();
                let _ = writeln!(s, "       after step(s): {}", after.join(", "));
            }
        }
    }
    if !r.untouched.is_empty() {
        let _ = writeln!(s, "\nLeft alone ({}):", r.untouched.len());
        for u in &r.untouched {
            let by = u
                .expected_by
                .as_deref()
                .map(|b| format!(" [{b}]"))
                .unwrap_or_default();
            let _ = writeln!(s, "  - {}: {}{by}", u.object, u.reason);
        }
    }
    if !r.github_leftovers.is_empty() {
        let _ = writeln!(
            s,
            "\nLeft on GitHub if these steps run (the tool never reads credentials):"
        );
        for g in &r.github_leftovers {
            let _ = writeln!(
                s,
                "  - step {}: {} {} ({}): {}",
                g.step, g.kind, g.id, g.name, g.cleanup
            );
        }
    }
    if !r.actions.is_empty() && r.summary.mode == "plan" {
        s.push_str("\nRun `kubectl arc orphans --fix` to apply the auto steps (add --include-confirm for confirm steps).\n");
    }
    s
}

/// What `--fix` did.
pub fn outcome_table(r: &OrphansReport) -> String {
    let Some(o) = &r.outcome else {
        return String::new();
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nResult: {} done, {} skipped, {} failed, {} not included (confirm){}",
        o.done,
        o.skipped,
        o.failed,
        o.not_included,
        if r.summary.mode == "dryRunServer" {
            " — server dry run, nothing persisted"
        } else {
            ""
        }
    );
    for st in &o.steps {
        let what = r
            .actions
            .iter()
            .find(|a| a.step == st.step)
            .map(|a| format!("{} {}", a.op.describe(), a.object))
            .unwrap_or_default();
        let res = match st.result {
            Result_::Done => "done",
            Result_::DryRun => "dry-run ok",
            Result_::Skipped => "skipped",
            Result_::Failed => "FAILED",
            Result_::NotIncluded => "not included",
        };
        let detail = if st.detail.is_empty() {
            String::new()
        } else {
            format!(" — {}", st.detail)
        };
        let _ = writeln!(s, "{:>3}. {res}: {what}{detail}", st.step);
    }
    if !o.pending.is_empty() {
        let _ = writeln!(s, "\nStill pending:");
        for u in &o.pending {
            let _ = writeln!(
                s,
                "  - {}: {} [{}]",
                u.object,
                u.reason,
                u.expected_by.as_deref().unwrap_or("")
            );
        }
    }
    if !o.remaining_actions.is_empty() {
        let _ = writeln!(
            s,
            "\nStill to do ({} step(s)); run again to continue:",
            o.remaining_actions.len()
        );
        for a in &o.remaining_actions {
            let _ = writeln!(s, "  - [{}] {} {}", tag(a.tag), a.op.describe(), a.object);
        }
    }
    if !o.github_leftovers.is_empty() {
        let _ = writeln!(s, "\nLeft on GitHub — clean up by hand:");
        for g in &o.github_leftovers {
            let _ = writeln!(s, "  - {} {} ({}): {}", g.kind, g.id, g.name, g.cleanup);
        }
    }
    if let Some(d) = &o.backup_dir {
        let _ = writeln!(s, "\nBackups: {d} (restore with `kubectl create -f {d}`)");
    }
    s
}
