//! `kubectl arc drain <ns>`: take ARC out of a namespace in the order the controller needs
//! (arc-domain §5.1–5.4). Runner namespaces: preflight, delete the scale sets (or legacy owners),
//! then watch the controller's cleanup stage by stage and verify. `--force`: the orphans rules,
//! bottom-up, for this namespace. Controller namespaces: refused while anything they serve exists;
//! then what `helm uninstall` removes and leaves.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::orphans::{backup_dir, collect_in, confirm};
use crate::apply::{self, Outcome, Result_};
use crate::checks;
use crate::cli::{DrainArgs, DryRun, GlobalArgs, Output};
use crate::cluster::{self, Cluster};
use crate::error::{EXIT_FINDINGS, EXIT_OK, Failure};
use crate::facts::Ctx;
use crate::findings::Fix;
use crate::plan::drain::{self as pd, Check, Role, Stage};
use crate::plan::{self, Action, GithubLeftover, Plan, Scope, Untouched};
use crate::report;
use crate::snapshot::{ObjectRef, Snapshot};

/// The `-o json|yaml` document (README "DrainReport schema").
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub namespace: String,
    pub role: Option<Role>,
    pub force: bool,
    pub dry_run: bool,
    pub preflight: Vec<Check>,
    /// Steps planned (and, unless dry-run, applied), in order.
    pub actions: Vec<Action>,
    pub steps: Vec<Outcome>,
    /// Progress of each scale set, as observed.
    pub stages: Vec<StageEvent>,
    pub untouched: Vec<Untouched>,
    pub github_leftovers: Vec<GithubLeftover>,
    /// What still blocks "safe to delete" (empty = clean).
    pub leftovers: Vec<Leftover>,
    /// For a controller namespace: what `helm uninstall` removes and what it leaves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uninstall_removes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uninstall_leaves: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_dir: Option<String>,
    pub result: String,
    pub exit_code: u8,
    pub api_requests: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageEvent {
    pub scale_set: String,
    pub stage: Stage,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    pub object: ObjectRef,
    pub what: String,
}

pub async fn run(g: &GlobalArgs, args: &DrainArgs) -> Result<ExitCode, Failure> {
    let ns = args.target.trim();
    if ns.is_empty() {
        return Err(Failure::Usage("drain needs a namespace".into()));
    }
    let cluster = cluster::connect(g).await?;
    let mut d = Drain {
        g,
        args,
        cluster: &cluster,
        ns: ns.to_owned(),
        report: DrainReport {
            api_version: plan::API_VERSION,
            kind: "DrainReport",
            namespace: ns.to_owned(),
            force: args.force,
            dry_run: args.mutate.dry_run == Some(DryRun::Client),
            ..DrainReport::default()
        },
        started: Instant::now(),
        tty: std::io::stderr().is_terminal(),
    };
    let code = d.run().await?;
    d.report.exit_code = code;
    d.report.api_requests = cluster.request_count();
    d.emit()?;
    Ok(ExitCode::from(code))
}

struct Drain<'a> {
    g: &'a GlobalArgs,
    args: &'a DrainArgs,
    cluster: &'a Cluster,
    ns: String,
    report: DrainReport,
    started: Instant,
    tty: bool,
}

impl Drain<'_> {
    async fn snapshot(&self) -> Snapshot {
        collect_in(self.cluster, self.g, &self.args.mutate, Some(&self.ns)).await
    }

    fn say(&self, line: &str) {
        if self.tty {
            eprint!("\r\x1b[K{line}\n");
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
    }

    async fn run(&mut self) -> Result<u8, Failure> {
        let snap = self.snapshot().await;
        let ctx = Ctx::new(&snap);
        let role = Role::of(&ctx, &self.ns);
        self.report.role = Some(role.clone());
        if !snap.autoscaling_runner_sets.scope.covers(Some(&self.ns)) {
            self.report.preflight.push(Check {
                ok: false,
                code: "ARC-NOT-CHECKED".to_owned(),
                message: format!(
                    "cannot list ARC objects in {}: {}",
                    self.ns,
                    snap.gaps
                        .iter()
                        .find(|g| g.kind.as_deref() == Some("AutoscalingRunnerSet"))
                        .map(|g| g.reason.clone())
                        .unwrap_or_else(|| "not readable".to_owned())
                ),
                objects: Vec::new(),
            });
            self.report.result =
                "refused: not enough access to drain safely; nothing was changed".to_owned();
            return Ok(EXIT_FINDINGS);
        }
        if role.is_empty() {
            if !role.exists {
                return Err(Failure::Usage(format!(
                    "namespace {} does not exist and no ARC object is stored in it",
                    self.ns
                )));
            }
            self.report.result = format!(
                "namespace {} holds no ARC object: nothing to drain",
                self.ns
            );
            return Ok(EXIT_OK);
        }
        drop(ctx);
        if role.runner {
            let code = self.runner(snap).await?;
            if code != EXIT_OK || self.report.dry_run {
                return Ok(code);
            }
        }
        if role.controller {
            if self.args.force && !self.report.dry_run {
                // The old controller namespace of the seed incident: finish its stranded
                // listeners (recreating the namespace if it is gone) before judging it.
                let m = &self.args.mutate;
                if !m.yes && m.dry_run.is_none() && !role.runner {
                    confirm(1)?;
                }
                let opts = self.apply_options();
                self.force(&opts).await;
            }
            let snap = self.snapshot().await;
            return Ok(self.controller(&snap));
        }
        Ok(EXIT_OK)
    }

    /// A runner namespace (gha scale sets and/or legacy runners).
    async fn runner(&mut self, snap: Snapshot) -> Result<u8, Failure> {
        let ns = self.ns.clone();
        let (start, preflight, scale_sets) = {
            let ctx = Ctx::new(&snap);
            let findings = checks::run_with(&ctx);
            let preflight = pd::preflight_runner(&ctx, &findings, &ns);
            (
                pd::start_plan(&ctx, &findings, &ns),
                preflight,
                pd::scale_sets(&ctx, &ns),
            )
        };
        let failed = preflight.iter().any(|c| !c.ok);
        self.report.preflight = preflight;
        if failed && !self.args.force {
            self.report.result = format!(
                "refused: the controller cannot finish draining {ns} (see preflight); nothing was \
                 changed. Fix the cause, or run again with --force to do the controller's work \
                 (strips stranded finalizers bottom-up, with backups)"
            );
            return Ok(EXIT_FINDINGS);
        }
        self.report.actions = start.actions.clone();
        if self.report.dry_run {
            let forced = if self.args.force {
                let p = plan_for(&snap, &ns, true);
                p.actions.len()
            } else {
                0
            };
            self.report.result = if self.args.force {
                format!(
                    "dry run: would delete the {} object(s) above, then strip the stranded finalizers \
                     bottom-up ({forced} step(s) already plannable now; `kubectl arc orphans -n {ns}` \
                     shows them once the deletions ran); nothing was changed",
                    start.actions.len()
                )
            } else {
                "dry run: would delete the objects above and wait for the controller; nothing was changed".to_owned()
            };
            return Ok(EXIT_OK);
        }
        let m = &self.args.mutate;
        if !m.yes && m.dry_run.is_none() && (!start.actions.is_empty() || self.args.force) {
            confirm(start.actions.len().max(1))?;
        }
        let opts = self.apply_options();
        let outcomes = apply::run(self.cluster, &start, &opts).await;
        let failed_start = outcomes.iter().any(|o| !o.result.ok());
        if outcomes.iter().any(|o| o.backup.is_some()) {
            self.report.backup_dir = Some(opts.backup_dir.display().to_string());
        }
        self.report.steps = outcomes;
        if failed_start {
            self.report.result =
                "some deletions failed (see steps); nothing else was done".to_owned();
            return Ok(EXIT_FINDINGS);
        }
        if opts.server_dry_run {
            self.report.result =
                "server dry run: the deletions were accepted; nothing was persisted".to_owned();
            return Ok(EXIT_OK);
        }
        if self.args.force {
            self.force(&opts).await;
        } else {
            let done = self.wait(&scale_sets).await;
            if !done {
                self.report.result = format!(
                    "timed out after {}: the controller did not finish (see stages); if it cannot, \
                     run again with --force",
                    humantime(self.timeout())
                );
                return Ok(EXIT_FINDINGS);
            }
        }
        self.verify().await
    }

    /// `--force`: the orphans rules for this namespace, its finalizers treated as stranded.
    async fn force(&mut self, opts: &apply::Options) {
        let deadline = Instant::now() + self.timeout();
        // A few rounds: what garbage collection does after one round may need another
        // (runner pods after their Runner, chart objects after their scale set).
        for _ in 0..4 {
            let snap = self.snapshot().await;
            let p = plan_for(&snap, &self.ns, true);
            if p.actions.is_empty() || Instant::now() > deadline {
                self.report.untouched = p.untouched;
                break;
            }
            self.say(&format!(
                "drain: --force: {} step(s) in {}",
                p.actions.len(),
                self.ns
            ));
            let offset = self.report.actions.len();
            let outcomes = apply::run(self.cluster, &p, opts).await;
            if outcomes.iter().any(|o| o.backup.is_some()) {
                self.report.backup_dir = Some(opts.backup_dir.display().to_string());
            }
            let done: Vec<usize> = outcomes
                .iter()
                .filter(|o| o.result == Result_::Done)
                .map(|o| o.step)
                .collect();
            self.report.github_leftovers.extend(
                p.github_leftovers
                    .iter()
                    .filter(|l| done.contains(&l.step))
                    .cloned(),
            );
            for mut a in p.actions {
                a.step += offset;
                a.after = a.after.iter().map(|s| s + offset).collect();
                self.report.actions.push(a);
            }
            for mut o in outcomes {
                o.step += offset;
                self.report.steps.push(o);
            }
            self.report.untouched = p.untouched;
        }
    }

    /// Drain's own steps and `--force` include `confirm` steps: `--force` is that confirmation.
    fn apply_options(&self) -> apply::Options {
        let m = &self.args.mutate;
        apply::Options {
            include_confirm: true,
            server_dry_run: m.dry_run == Some(DryRun::Server),
            backup_dir: backup_dir(self.g, m, self.cluster),
            concurrency: m.concurrency as usize,
            verbose: self.g.verbose,
        }
    }

    fn timeout(&self) -> Duration {
        self.args.timeout.0.unwrap_or(Duration::from_secs(600))
    }

    /// Watch the controller: per-scale-set stages in order, legacy objects going away.
    async fn wait(&mut self, scale_sets: &[String]) -> bool {
        let deadline = Instant::now() + self.timeout();
        let poll = self.args.poll_interval.0.unwrap_or(Duration::from_secs(2));
        let mut seen: BTreeMap<String, Stage> = BTreeMap::new();
        loop {
            let snap = self.snapshot().await;
            let mut all = true;
            let mut waiting_jobs = Vec::new();
            for s in scale_sets {
                let (stage, jobs) = pd::stage(&snap, &self.ns, s);
                let prev = seen.get(s).copied();
                for st in Stage::ALL {
                    if st > Stage::Deleting && prev.is_none_or(|p| st > p) && st <= stage {
                        self.say(&format!("drain: {}/{s}: {}", self.ns, st.describe()));
                        self.report.stages.push(StageEvent {
                            scale_set: s.clone(),
                            stage: st,
                            seconds: self.started.elapsed().as_secs_f64(),
                            waiting_for: Vec::new(),
                        });
                    }
                }
                seen.insert(s.clone(), stage);
                if stage != Stage::Released {
                    all = false;
                    waiting_jobs.extend(jobs);
                }
            }
            let legacy_left = legacy_remaining(&snap, &self.ns);
            if legacy_left > 0 {
                all = false;
            }
            if all {
                return true;
            }
            if Instant::now() >= deadline {
                for s in scale_sets {
                    if let Some(st) = seen.get(s)
                        && *st != Stage::Released
                    {
                        let (_, jobs) = pd::stage(&snap, &self.ns, s);
                        self.report.stages.push(StageEvent {
                            scale_set: s.clone(),
                            stage: *st,
                            seconds: self.started.elapsed().as_secs_f64(),
                            waiting_for: if jobs.is_empty() {
                                vec![format!("the controller (next: after {})", st.describe())]
                            } else {
                                jobs
                            },
                        });
                    }
                }
                if legacy_left > 0 {
                    self.say(&format!(
                        "drain: {legacy_left} legacy runner object(s) remain in {}",
                        self.ns
                    ));
                }
                if !waiting_jobs.is_empty() {
                    self.say(&format!(
                        "drain: still waiting for {}",
                        waiting_jobs.join(", ")
                    ));
                }
                return false;
            }
            if self.tty {
                let status: Vec<String> = seen
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.describe()))
                    .collect();
                eprint!(
                    "\r\x1b[Kdrain: waiting ({:.0}s) {}",
                    self.started.elapsed().as_secs_f64(),
                    status.join("; ")
                );
                let _ = std::io::stderr().flush();
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// §5.2 step 3: nothing ARC left in the namespace, no listener pointing at it.
    async fn verify(&mut self) -> Result<u8, Failure> {
        let snap = self.snapshot().await;
        let ctx = Ctx::new(&snap);
        let left = pd::leftovers(&ctx, &self.ns);
        self.report.leftovers = left
            .into_iter()
            .map(|(object, what)| Leftover { object, what })
            .collect();
        if !self.report.leftovers.is_empty() {
            self.report.result = format!(
                "not clean: {} object(s) remain (see leftovers); do not delete namespace {} yet",
                self.report.leftovers.len(),
                self.ns
            );
            return Ok(EXIT_FINDINGS);
        }
        let chart = pd::chart_leftovers(&ctx, &self.ns);
        let mut result = format!("safe to delete namespace {} and its GitHub Secret", self.ns);
        if !chart.is_empty() {
            let _ = write!(
                result,
                " ({} chart object(s) without finalizer remain: `helm uninstall` the scale-set release, or they go with the namespace)",
                chart.len()
            );
        }
        self.report.result = result;
        Ok(EXIT_OK)
    }

    /// A controller namespace (§5.3).
    fn controller(&mut self, snap: &Snapshot) -> u8 {
        let ctx = Ctx::new(snap);
        let checks = pd::preflight_controller(&ctx, &self.ns);
        let refused = checks.iter().any(|c| !c.ok);
        self.report.preflight.extend(checks);
        if refused {
            self.report.result = format!(
                "refused: {} is a controller namespace that still serves scale sets; drain the \
                 runner namespaces listed in preflight first; nothing was changed",
                self.ns
            );
            return EXIT_FINDINGS;
        }
        let (removes, leaves) = pd::controller_uninstall(&ctx, &self.ns);
        self.report.uninstall_removes = removes;
        self.report.uninstall_leaves = leaves;
        let left = pd::controller_leftovers(&ctx, &self.ns);
        self.report.leftovers = left
            .into_iter()
            .map(|(object, what)| Leftover { object, what })
            .collect();
        if self.report.leftovers.is_empty() && self.report.uninstall_removes.is_empty() {
            self.report.uninstall_leaves.clear();
            self.report.result = format!(
                "no controller runs in {} and no ARC object is left in it: nothing more to drain",
                self.ns
            );
            EXIT_OK
        } else if self.report.leftovers.is_empty() {
            self.report.result = format!(
                "controller namespace {} serves nothing any more: safe to `helm uninstall` the \
                 controller release, then delete the namespace",
                self.ns
            );
            EXIT_OK
        } else {
            self.report.result = format!(
                "listener leftovers remain in {}: `kubectl arc orphans --fix -n {}` removes them",
                self.ns, self.ns
            );
            EXIT_FINDINGS
        }
    }

    fn emit(&self) -> Result<(), Failure> {
        let r = &self.report;
        let text = match self.g.output {
            Output::Json => report::to_json(r),
            Output::Yaml => report::to_yaml(r),
            Output::Table => table(r),
        };
        super::write_stdout(&text)
    }
}

/// The orphans plan for one namespace (`force`: its ARC finalizers treated as stranded).
fn plan_for(snap: &Snapshot, ns: &str, force: bool) -> Plan {
    let ctx = Ctx::new(snap);
    let findings = checks::run_with(&ctx);
    let scope = Scope {
        namespace: Some(ns.to_owned()),
        force_namespace: force.then(|| ns.to_owned()),
    };
    plan::build(&ctx, &findings, &scope)
}

fn legacy_remaining(snap: &Snapshot, ns: &str) -> usize {
    snap.runners.in_namespace(ns).count()
        + snap.runner_deployments.in_namespace(ns).count()
        + snap.runner_sets.in_namespace(ns).count()
        + snap.runner_replica_sets.in_namespace(ns).count()
        + snap
            .pods
            .in_namespace(ns)
            .filter(|p| p.meta.has_finalizer(crate::model::F_LEG_POD))
            .count()
}

fn humantime(d: Duration) -> String {
    if d.as_secs() >= 60 && d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else {
        format!("{}s", d.as_secs())
    }
}

fn table(r: &DrainReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Drain {}{}",
        r.namespace,
        if r.force { " (--force)" } else { "" }
    );
    if !r.preflight.is_empty() {
        s.push_str("Preflight:\n");
        for c in &r.preflight {
            let _ = writeln!(
                s,
                "  [{}] {} {}",
                if c.ok { "ok" } else { "FAIL" },
                c.code,
                c.message
            );
        }
    }
    if !r.actions.is_empty() {
        s.push_str("Steps:\n");
        for a in &r.actions {
            let res = r
                .steps
                .iter()
                .find(|o| o.step == a.step)
                .map(|o| format!("{:?}", o.result).to_lowercase())
                .unwrap_or_else(|| {
                    if r.dry_run {
                        "planned".to_owned()
                    } else {
                        "not run".to_owned()
                    }
                });
            let tag = if a.tag == Fix::Confirm {
                "confirm"
            } else {
                "auto"
            };
            let _ = writeln!(
                s,
                "  {:>3}. [{tag}] {} {} — {res}",
                a.step,
                a.op.describe(),
                a.object
            );
        }
    }
    if !r.stages.is_empty() {
        s.push_str("Progress:\n");
        for e in &r.stages {
            let w = if e.waiting_for.is_empty() {
                String::new()
            } else {
                format!(" (waiting for {})", e.waiting_for.join(", "))
            };
            let _ = writeln!(
                s,
                "  {:>6.1}s {}: {}{w}",
                e.seconds,
                e.scale_set,
                e.stage.describe()
            );
        }
    }
    if !r.leftovers.is_empty() {
        s.push_str("Still present:\n");
        for l in &r.leftovers {
            let _ = writeln!(s, "  - {}: {}", l.object, l.what);
        }
    }
    if !r.uninstall_removes.is_empty() {
        s.push_str("helm uninstall of the controller removes:\n");
        for x in &r.uninstall_removes {
            let _ = writeln!(s, "  - {x}");
        }
        s.push_str("and leaves:\n");
        for x in &r.uninstall_leaves {
            let _ = writeln!(s, "  - {x}");
        }
    }
    if !r.github_leftovers.is_empty() {
        s.push_str("Left on GitHub — clean up by hand:\n");
        for g in &r.github_leftovers {
            let _ = writeln!(s, "  - {} {} ({}): {}", g.kind, g.id, g.name, g.cleanup);
        }
    }
    if let Some(d) = &r.backup_dir {
        let _ = writeln!(s, "Backups: {d} (restore with `kubectl create -f {d}`)");
    }
    let _ = writeln!(s, "{}", r.result);
    s
}
