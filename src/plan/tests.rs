use super::*;
use crate::checks;
use crate::testing;

fn plan_of(id: &str) -> Plan {
    let snap = testing::scenario(id);
    let ctx = Ctx::new(&snap);
    let findings = checks::run_with(&ctx);
    build(&ctx, &findings, &Scope::default())
}

fn step_of(p: &Plan, kind: &str, pred: impl Fn(&Action) -> bool) -> usize {
    p.actions
        .iter()
        .find(|a| a.object.kind == kind && pred(a))
        .unwrap_or_else(|| panic!("no {kind} action"))
        .step
}

fn is_strip(a: &Action) -> bool {
    matches!(a.op, Op::StripFinalizer { .. })
}

#[test]
fn healthy_baselines_plan_nothing() {
    for id in ["B0", "L0", "M1"] {
        let p = plan_of(id);
        assert!(p.actions.is_empty(), "{id}: {:?}", p.actions);
    }
}

#[test]
fn stranded_scale_set_is_released_bottom_up() {
    let p = plan_of("S3");
    let er = step_of(
        &p,
        "EphemeralRunner",
        |a| matches!(&a.op, Op::StripFinalizer { finalizer } if finalizer == crate::model::F_ER),
    );
    let ers = step_of(&p, "EphemeralRunnerSet", is_strip);
    let al = step_of(&p, "AutoscalingListener", is_strip);
    let ars = step_of(&p, "AutoscalingRunnerSet", is_strip);
    let cp = step_of(&p, "Secret", is_strip);
    assert!(
        er < ers && ers < al && al < ars && ars < cp,
        "{er} {ers} {al} {ars} {cp}"
    );
    // The parent waits for its children explicitly.
    let ars_action = p.action(ars).expect("ars");
    assert!(ars_action.after.contains(&ers) && ars_action.after.contains(&al));
    assert_eq!(
        ars_action.tag,
        Fix::Confirm,
        "stripping the ARS can leak a GitHub registration"
    );
    // What stays on GitHub is listed with the step that leaves it.
    assert!(
        p.github_leftovers
            .iter()
            .any(|g| g.kind == "scaleSet" && g.id == "42" && g.step == ars)
    );
    assert!(p.github_leftovers.iter().any(|g| g.kind == "runner"));
}

#[test]
fn shared_scale_set_id_is_removed_first_and_the_live_side_never_touched() {
    let p = plan_of("S2");
    let first = &p.actions[0];
    assert!(
        matches!(&first.op, Op::RemoveAnnotation { annotation, .. } if annotation == "runner-scale-set-id")
    );
    assert_eq!(first.object.namespace.as_deref(), Some("arc-runners"));
    assert!(
        !p.actions
            .iter()
            .any(|a| a.object.namespace.as_deref() == Some("ci-runners"))
    );
    // The subject patch that lets the live controller finish comes after it.
    let rebind = p
        .actions
        .iter()
        .find(|a| matches!(a.op, Op::PatchSubject { .. }))
        .expect("rebind");
    assert!(rebind.after.contains(&first.step));
    // What the live controller can then finish is left to it.
    assert!(
        p.untouched
            .iter()
            .any(|u| u.object.kind == "EphemeralRunnerSet" && u.expected_by.is_some())
    );
}

#[test]
fn a_running_job_is_never_touched() {
    for id in ["S9", "S13"] {
        let p = plan_of(id);
        assert!(
            !p.actions
                .iter()
                .any(|a| a.object.kind.starts_with("Ephemeral")),
            "{id}"
        );
    }
}

#[test]
fn stranded_objects_in_a_missing_namespace_need_it_recreated_then_deleted() {
    let p = plan_of("S12");
    let first = &p.actions[0];
    assert_eq!(first.op, Op::CreateNamespace);
    assert_eq!(first.object.name, "arc-systems");
    let last = p.actions.last().expect("actions");
    assert!(matches!(last.op, Op::Delete { .. }) && last.object.kind == "Namespace");
    assert!(
        p.actions
            .iter()
            .filter(|a| a.object.namespace.as_deref() == Some("arc-systems"))
            .all(|a| a.tag == Fix::Confirm && a.after.contains(&1))
    );
}

#[test]
fn dangling_legacy_webhooks_go_before_any_runner_finalizer() {
    let p = plan_of("S14");
    let hooks: Vec<usize> = p
        .actions
        .iter()
        .filter(|a| a.object.kind.ends_with("WebhookConfiguration"))
        .map(|a| a.step)
        .collect();
    let runner = step_of(&p, "Runner", is_strip);
    assert_eq!(hooks.len(), 2);
    assert!(hooks.iter().all(|h| *h < runner));
    assert!(
        hooks
            .iter()
            .all(|h| p.action(runner).expect("runner").after.contains(h))
    );
}

#[test]
fn finalizers_are_only_stripped_from_deleting_objects() {
    for id in ["S1", "S2", "S3", "S4", "S12", "S13", "S14", "S17", "S18"] {
        let snap = testing::scenario(id);
        let p = plan_of(id);
        for a in p.actions.iter().filter(|a| is_strip(a)) {
            let obj = snap
                .collections()
                .into_iter()
                .flat_map(|(_, c)| c.iter())
                .find(|o| o.meta.obj_ref() == a.object)
                .expect("object exists");
            let deleted_first = p.actions.iter().any(|d| {
                d.object == a.object && matches!(d.op, Op::Delete { .. }) && d.step < a.step
            }) || obj.meta.kind == "Pod"
                || obj.meta.kind == "EphemeralRunner";
            assert!(
                obj.meta.is_deleting() || deleted_first,
                "{id}: strip on live {}",
                a.object
            );
        }
    }
}

/// Every `kubectl arc …` command a remediation or the catalog names exists and parses.
#[test]
fn every_command_a_remediation_names_exists() {
    use clap::Parser;
    let mut texts: Vec<String> = Vec::new();
    for id in [
        "B0", "S1", "S2", "S3", "S4", "S5", "S6", "S6b", "S7", "S8", "S9", "S10", "S11", "S12",
        "S13", "S14", "S15", "S16", "S17", "S18", "S19", "S20", "L0", "M1",
    ] {
        let snap = testing::scenario(id);
        for f in checks::run(&snap) {
            texts.extend(f.remediation);
        }
    }
    for c in crate::codes::CATALOG {
        texts.push(format!("{c:?}"));
    }
    let mut seen = 0;
    for t in &texts {
        for (i, _) in t.match_indices("`kubectl arc ") {
            let rest = &t[i + 1..];
            let end = rest.find('`').unwrap_or(rest.len());
            let cmd = &rest[..end];
            // Placeholders like `<its namespace>` count as one argument.
            let mut flat = String::new();
            let mut depth = 0;
            for ch in cmd.chars() {
                match ch {
                    '<' => {
                        depth += 1;
                        flat.push('<');
                    }
                    '>' => depth -= 1,
                    ' ' if depth > 0 => {}
                    c => flat.push(c),
                }
            }
            let words: Vec<String> = flat
                .split_whitespace()
                .skip(2)
                .take_while(|w| !w.contains('…'))
                .map(|w| {
                    if w.starts_with('<') {
                        "x".to_owned()
                    } else {
                        w.trim_end_matches([',', ';', ')']).to_owned()
                    }
                })
                .collect();
            let mut argv = vec!["kubectl-arc".to_owned()];
            argv.extend(words);
            crate::cli::Cli::try_parse_from(&argv)
                .unwrap_or_else(|e| panic!("remediation names `{cmd}`, which does not parse: {e}"));
            seen += 1;
        }
    }
    assert!(seen > 20, "only {seen} commands found");
}
