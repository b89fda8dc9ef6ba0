//! The finding-code catalog: one entry per code, with the title and default fix kind.
//! `docs/codes.md` documents the same table for humans; a unit test keeps them in sync.

use crate::findings::Fix;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    pub fix: Fix,
}

const fn c(code: &'static str, title: &'static str, fix: Fix) -> CodeInfo {
    CodeInfo { code, title, fix }
}

use Fix::{Auto, Confirm, Manual};

pub const CATALOG: &[CodeInfo] = &[
    // Controller and version topology
    c(
        "ARC-NO-CONTROLLER",
        "No live ARC controller covers these scale sets",
        Manual,
    ),
    c(
        "ARC-CONTROLLER-UNHEALTHY",
        "ARC controller is not working",
        Manual,
    ),
    c(
        "ARC-MULTIPLE-CONTROLLERS",
        "More than one ARC controller reconciles the same objects",
        Manual,
    ),
    c(
        "ARC-OUT-OF-SCOPE",
        "Scale set is outside every controller's watched namespaces",
        Manual,
    ),
    c(
        "ARC-VERSION-SKEW",
        "Controller will delete this scale set: version mismatch",
        Manual,
    ),
    c(
        "ARC-CRD-SKEW",
        "ARC CRDs do not match the controller version",
        Manual,
    ),
    c(
        "ARC-STALE-CLUSTER-RBAC",
        "Cluster RBAC left behind by a removed controller",
        Confirm,
    ),
    // RBAC reachability
    c(
        "ARC-MANAGER-BINDING-MISMATCH",
        "Runner namespace is bound to a controller that is not live",
        Confirm,
    ),
    c(
        "ARC-MANAGER-RBAC-MISSING",
        "Manager Role/RoleBinding gone while the scale set lives",
        Manual,
    ),
    c(
        "ARC-LISTENER-NS-FOREIGN",
        "Listener lives outside every live controller's namespace",
        Auto,
    ),
    // Secrets and references
    c(
        "ARC-SECRET-DANGLING",
        "GitHub config Secret does not exist",
        Manual,
    ),
    c(
        "ARC-SECRET-INVALID",
        "GitHub config Secret cannot be used",
        Manual,
    ),
    c(
        "ARC-SECRET-TERMINATING",
        "GitHub config Secret is being deleted while still needed",
        Manual,
    ),
    c(
        "ARC-AUX-REF-DANGLING",
        "Referenced proxy/TLS/pull Secret or ConfigMap does not exist",
        Manual,
    ),
    c(
        "ARC-CREDENTIAL-COPY-ORPHAN",
        "Orphaned copy of GitHub credentials",
        Auto,
    ),
    // Stuck deletions
    c(
        "ARC-STUCK-ARS",
        "AutoscalingRunnerSet deletion is stuck",
        Confirm,
    ),
    c(
        "ARC-STUCK-LISTENER",
        "AutoscalingListener deletion is stuck",
        Auto,
    ),
    c(
        "ARC-STUCK-ERS",
        "EphemeralRunnerSet deletion is stuck",
        Auto,
    ),
    c("ARC-STUCK-ER", "EphemeralRunner deletion is stuck", Confirm),
    c(
        "ARC-STUCK-PROTECTED",
        "Chart object stuck on cleanup-protection",
        Auto,
    ),
    c(
        "ARC-NS-TERMINATING",
        "Namespace stuck Terminating on ARC finalizers",
        Manual,
    ),
    c(
        "ARC-NS-MISSING",
        "ARC objects or pointers reference a namespace that does not exist",
        Confirm,
    ),
    c("ARC-DELETION-PROGRESSING", "Deletion in progress", Manual),
    // Orphans
    c(
        "ARC-ORPHAN-LISTENER",
        "Listener whose scale set is gone",
        Auto,
    ),
    c(
        "ARC-LISTENER-DUPLICATE",
        "Stale duplicate listener for a scale set",
        Auto,
    ),
    c(
        "ARC-LISTENER-DRIFT",
        "Listener points at objects that no longer exist",
        Auto,
    ),
    c(
        "ARC-LISTENER-RBAC-ORPHAN",
        "Listener Role/RoleBinding without a listener",
        Auto,
    ),
    c(
        "ARC-LISTENER-RBAC-COLLISION",
        "Listener Role/RoleBinding claimed by two listeners",
        Auto,
    ),
    c(
        "ARC-ORPHAN-LISTENER-CHILD",
        "Listener Pod/ServiceAccount/Secret without a listener",
        Auto,
    ),
    c(
        "ARC-ORPHAN-RUNNER-OBJECTS",
        "Runner object without its owner",
        Auto,
    ),
    c(
        "ARC-ORPHAN-CHART-RBAC",
        "Scale-set chart leftovers without a scale set",
        Confirm,
    ),
    c(
        "ARC-HELM-RELEASE-ORPHAN",
        "Helm release record out of sync",
        Manual,
    ),
    c(
        "ARC-ARS-OUTDATED",
        "Scale set is Outdated (deprecated runner version)",
        Manual,
    ),
    // GitHub-side state
    c(
        "ARC-SCALESET-ID-SHARED",
        "Several scale sets share one GitHub registration",
        Confirm,
    ),
    c(
        "ARC-SCALESET-LEAK-SUSPECTED",
        "Scale set probably still registered on GitHub",
        Manual,
    ),
    c(
        "ARC-SCALESET-ID-DEAD",
        "Scale set ID no longer exists on GitHub",
        Confirm,
    ),
    c(
        "ARC-SESSION-CONFLICT",
        "Several listeners hold sessions for one scale set",
        Auto,
    ),
    // Legacy mode
    c(
        "LEG-NO-CONTROLLER",
        "Legacy runners with finalizers and no legacy controller",
        Confirm,
    ),
    c(
        "LEG-WEBHOOK-DANGLING",
        "Legacy admission webhook points at a missing service",
        Confirm,
    ),
    c(
        "LEG-STUCK-RUNNER",
        "Legacy Runner deletion is stuck",
        Confirm,
    ),
    c(
        "LEG-STUCK-POD",
        "Legacy runner Pod deletion is stuck",
        Confirm,
    ),
    c(
        "LEG-SECRET-DANGLING",
        "Legacy credentials Secret does not exist",
        Manual,
    ),
    c(
        "LEG-MULTI-CONTROLLER",
        "Several legacy controllers overlap",
        Manual,
    ),
    c("MIXED-MODE", "Both ARC generations are installed", Manual),
    // Coverage
    c(
        "ARC-NOT-CHECKED",
        "Not checked: access denied or API unavailable",
        Manual,
    ),
];

/// Catalog entry for a code.
pub fn info(code: &str) -> Option<&'static CodeInfo> {
    CATALOG.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CATALOG {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
        }
    }

    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../docs/codes.md");
        for c in CATALOG {
            assert!(
                doc.contains(&format!("`{}`", c.code)),
                "{} missing from docs/codes.md",
                c.code
            );
        }
    }
}
