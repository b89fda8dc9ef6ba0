//! Pure checks: [`Snapshot`] in, [`Finding`]s out. One small module per finding code; each
//! exposes `check(&Ctx) -> Vec<Finding>` and carries its own unit tests. Facts several checks (and the
//! repair plan) need live below them in [`crate::facts`] and [`crate::model`]; checks read those
//! and never call each other. Checks never do I/O.

use std::collections::BTreeSet;

use crate::findings::Finding;
use crate::snapshot::{AccessQuestion, Snapshot};

pub mod ars_outdated;
pub mod aux_ref_dangling;
pub mod controller_unhealthy;
pub mod crd_skew;
pub mod credential_copy_orphan;
pub mod deletion_progressing;
pub mod helm_release_orphan;
pub mod leg_multi_controller;
pub mod leg_no_controller;
pub mod leg_secret_dangling;
pub mod leg_stuck_pod;
pub mod leg_stuck_runner;
pub mod leg_webhook_dangling;
pub mod listener_drift;
pub mod listener_duplicate;
pub mod listener_ns_foreign;
pub mod listener_rbac_collision;
pub mod listener_rbac_orphan;
pub mod manager_binding_mismatch;
pub mod manager_rbac_missing;
pub mod mixed_mode;
pub mod multiple_controllers;
pub mod no_controller;
pub mod not_checked;
pub mod ns_missing;
pub mod ns_terminating;
pub mod orphan_chart_rbac;
pub mod orphan_listener;
pub mod orphan_listener_child;
pub mod orphan_runner_objects;
pub mod out_of_scope;
pub mod scaleset_id_dead;
pub mod scaleset_id_shared;
pub mod scaleset_leak;
pub mod secret_dangling;
pub mod secret_terminating;
pub mod session_conflict;
pub mod stale_cluster_rbac;
pub mod stuck_ars;
pub mod stuck_er;
pub mod stuck_ers;
pub mod stuck_listener;
pub mod stuck_protected;
pub mod version_skew;

pub use crate::facts::Ctx;

/// One registered check.
pub struct Check {
    pub code: &'static str,
    pub run: fn(&Ctx) -> Vec<Finding>,
}

/// Every check, in catalog order.
pub const CHECKS: &[Check] = &[
    Check {
        code: "ARC-CRD-SKEW",
        run: crd_skew::check,
    },
    Check {
        code: "ARC-NO-CONTROLLER",
        run: no_controller::check,
    },
    Check {
        code: "ARC-CONTROLLER-UNHEALTHY",
        run: controller_unhealthy::check,
    },
    Check {
        code: "ARC-MULTIPLE-CONTROLLERS",
        run: multiple_controllers::check,
    },
    Check {
        code: "ARC-OUT-OF-SCOPE",
        run: out_of_scope::check,
    },
    Check {
        code: "ARC-VERSION-SKEW",
        run: version_skew::check,
    },
    Check {
        code: "ARC-STALE-CLUSTER-RBAC",
        run: stale_cluster_rbac::check,
    },
    Check {
        code: "ARC-MANAGER-BINDING-MISMATCH",
        run: manager_binding_mismatch::check,
    },
    Check {
        code: "ARC-MANAGER-RBAC-MISSING",
        run: manager_rbac_missing::check,
    },
    Check {
        code: "ARC-LISTENER-NS-FOREIGN",
        run: listener_ns_foreign::check,
    },
    Check {
        code: "LEG-NO-CONTROLLER",
        run: leg_no_controller::check,
    },
    Check {
        code: "LEG-WEBHOOK-DANGLING",
        run: leg_webhook_dangling::check,
    },
    Check {
        code: "LEG-STUCK-RUNNER",
        run: leg_stuck_runner::check,
    },
    Check {
        code: "LEG-STUCK-POD",
        run: leg_stuck_pod::check,
    },
    Check {
        code: "LEG-SECRET-DANGLING",
        run: leg_secret_dangling::check,
    },
    Check {
        code: "LEG-MULTI-CONTROLLER",
        run: leg_multi_controller::check,
    },
    Check {
        code: "MIXED-MODE",
        run: mixed_mode::check,
    },
    Check {
        code: "ARC-NOT-CHECKED",
        run: not_checked::check,
    },
    Check {
        code: "ARC-HELM-RELEASE-ORPHAN",
        run: helm_release_orphan::check,
    },
    Check {
        code: "ARC-ARS-OUTDATED",
        run: ars_outdated::check,
    },
    Check {
        code: "ARC-SECRET-DANGLING",
        run: secret_dangling::check,
    },
    Check {
        code: "ARC-SECRET-TERMINATING",
        run: secret_terminating::check,
    },
    Check {
        code: "ARC-AUX-REF-DANGLING",
        run: aux_ref_dangling::check,
    },
    Check {
        code: "ARC-CREDENTIAL-COPY-ORPHAN",
        run: credential_copy_orphan::check,
    },
    Check {
        code: "ARC-STUCK-ARS",
        run: stuck_ars::check,
    },
    Check {
        code: "ARC-STUCK-LISTENER",
        run: stuck_listener::check,
    },
    Check {
        code: "ARC-STUCK-ERS",
        run: stuck_ers::check,
    },
    Check {
        code: "ARC-STUCK-ER",
        run: stuck_er::check,
    },
    Check {
        code: "ARC-STUCK-PROTECTED",
        run: stuck_protected::check,
    },
    Check {
        code: "ARC-NS-TERMINATING",
        run: ns_terminating::check,
    },
    Check {
        code: "ARC-NS-MISSING",
        run: ns_missing::check,
    },
    Check {
        code: "ARC-DELETION-PROGRESSING",
        run: deletion_progressing::check,
    },
    Check {
        code: "ARC-SCALESET-ID-SHARED",
        run: scaleset_id_shared::check,
    },
    Check {
        code: "ARC-SCALESET-LEAK-SUSPECTED",
        run: scaleset_leak::check,
    },
    Check {
        code: "ARC-SCALESET-ID-DEAD",
        run: scaleset_id_dead::check,
    },
    Check {
        code: "ARC-ORPHAN-LISTENER",
        run: orphan_listener::check,
    },
    Check {
        code: "ARC-LISTENER-DUPLICATE",
        run: listener_duplicate::check,
    },
    Check {
        code: "ARC-LISTENER-DRIFT",
        run: listener_drift::check,
    },
    Check {
        code: "ARC-LISTENER-RBAC-ORPHAN",
        run: listener_rbac_orphan::check,
    },
    Check {
        code: "ARC-LISTENER-RBAC-COLLISION",
        run: listener_rbac_collision::check,
    },
    Check {
        code: "ARC-ORPHAN-LISTENER-CHILD",
        run: orphan_listener_child::check,
    },
    Check {
        code: "ARC-ORPHAN-RUNNER-OBJECTS",
        run: orphan_runner_objects::check,
    },
    Check {
        code: "ARC-ORPHAN-CHART-RBAC",
        run: orphan_chart_rbac::check,
    },
    Check {
        code: "ARC-SESSION-CONFLICT",
        run: session_conflict::check,
    },
];

/// Run every check and return the findings, most severe first (then by code and object).
pub fn run(snap: &Snapshot) -> Vec<Finding> {
    run_with(&Ctx::new(snap))
}

/// Run every check on facts already derived (the plan reads the same [`Ctx`]).
pub fn run_with(ctx: &Ctx) -> Vec<Finding> {
    let mut out: Vec<Finding> = CHECKS.iter().flat_map(|c| (c.run)(ctx)).collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.objects.cmp(&b.objects))
    });
    out
}

/// The permission questions the checks would like the API server to answer
/// (SubjectAccessReview) for each live controller's ServiceAccount: every permission the cleanup
/// path of every ARC object it covers needs. Grows with ARC objects, not with namespaces.
pub fn access_questions(snap: &Snapshot) -> Vec<AccessQuestion> {
    use crate::facts::common::CleanupPath;
    let ctx = Ctx::new(snap);
    let mut out = BTreeSet::new();
    for c in ctx.model.gha().filter(|c| c.healthy) {
        let user = c.username();
        let objects = snap
            .autoscaling_runner_sets
            .iter()
            .map(|o| (o, CleanupPath::Ars))
            .chain(snap.autoscaling_listeners.iter().map(|o| {
                let target = crate::model::listener_target(o).map(|(ns, _)| ns);
                (
                    o,
                    CleanupPath::Listener {
                        ars_namespace: target,
                    },
                )
            }))
            .chain(
                snap.ephemeral_runner_sets
                    .iter()
                    .map(|o| (o, CleanupPath::Runner)),
            )
            .chain(
                snap.ephemeral_runners
                    .iter()
                    .map(|o| (o, CleanupPath::Runner)),
            );
        for (o, path) in objects {
            if !c.covers(o.meta.ns()) {
                continue;
            }
            for (verb, group, resource, ns) in crate::facts::common::needs(path, o.meta.ns(), c, o)
            {
                out.insert(crate::model::question(&user, verb, group, resource, &ns));
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_silent_on_the_healthy_baselines() {
        for id in ["B0", "L0"] {
            let snap = crate::testing::scenario(id);
            let ctx = Ctx::new(&snap);
            for c in CHECKS {
                let f = (c.run)(&ctx);
                assert!(
                    f.is_empty(),
                    "{} on {id}: {:?}",
                    c.code,
                    crate::testing::codes(&f)
                );
            }
        }
    }

    #[test]
    fn every_check_code_is_in_the_catalog() {
        for c in CHECKS {
            assert!(
                crate::codes::info(c.code).is_some(),
                "{} not in catalog",
                c.code
            );
        }
    }
}
