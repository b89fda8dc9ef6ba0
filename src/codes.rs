//! The finding-code catalog: one entry per code — title, default fix kind, severity rule, what it
//! means, why it happens and how it is fixed. It is the single source for `kubectl arc explain`
//! and for `docs/codes.md`, which is generated from it ([`markdown`]; a unit test fails when the
//! file is out of date and rewrites it with `KUBECTL_ARC_BLESS=1`).

use std::fmt::Write as _;

use serde::Serialize;

use crate::findings::Fix;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CodeInfo {
    pub code: &'static str,
    pub title: &'static str,
    /// How a finding of this code can be repaired by default.
    pub fix: Fix,
    /// The catalog section it belongs to.
    pub group: &'static str,
    /// The severity rule, in words.
    pub severity: &'static str,
    pub meaning: &'static str,
    pub why: &'static str,
    /// How it is fixed.
    pub remedy: &'static str,
    /// The module under `src/checks/` that decides it (empty: not implemented).
    pub module: &'static str,
}

use Fix::{Auto, Confirm, Manual};

pub const CATALOG: &[CodeInfo] = &[
    // Controller and version topology
    CodeInfo {
        code: "ARC-NO-CONTROLLER",
        title: r#"No live ARC controller covers these scale sets"#,
        fix: Manual,
        group: "Controller and version topology",
        severity: r#"critical if deleting objects exist, else high"#,
        meaning: r#"ARC objects exist but no LIVE gha controller covers their namespace. Typical after the controller was uninstalled before its scale sets (#2781, #3395) or its namespace was deleted."#,
        why: r#"The controller was uninstalled (or its namespace deleted) before the scale sets it served, or its only Deployment has no available replica. Every ARC finalizer is removed by the controller, so without one nothing is reconciled and every deletion hangs."#,
        remedy: r#"Reinstall the controller at the scale sets' chart version (any namespace) and make sure it can reach their namespaces (see ARC-MANAGER-BINDING-MISMATCH); it then finishes every pending deletion. Only when no controller can be restored, strip the stranded finalizers bottom-up with `kubectl arc orphans --fix --include-confirm` (or `kubectl arc drain <namespace> --force`)."#,
        module: "no_controller.rs",
    },
    CodeInfo {
        code: "ARC-CONTROLLER-UNHEALTHY",
        title: r#"ARC controller is not working"#,
        fix: Manual,
        group: "Controller and version topology",
        severity: r#"high (critical when deletions depend on it)"#,
        meaning: r#"A gha controller Deployment exists but does not work: no available replica, pods crash-looping or unable to pull, or a configuration that the image cannot run — the `--update-strategy` flag (removed at HEAD, so a 0.15+/canary image exits with `flag provided but not defined: -update-strategy`) or a missing `CONTROLLER_MANAGER_POD_NAMESPACE` env (`unable to obtain manager pod namespace`). Pod container statuses, termination messages and collected logs are the evidence."#,
        why: r#"Usually a chart/image mismatch: chart flags the image does not know (`--update-strategy` on a 0.15+/canary image), a missing `CONTROLLER_MANAGER_POD_NAMESPACE`, an image that cannot be pulled, or a crash loop."#,
        remedy: r#"Fix the chart/image pair: use the image tag the chart was released with (or the chart matching the image), then check the pod with `kubectl logs -n <ns> deploy/<name> -c manager`."#,
        module: "controller_unhealthy.rs",
    },
    CodeInfo {
        code: "ARC-MULTIPLE-CONTROLLERS",
        title: r#"More than one ARC controller reconciles the same objects"#,
        fix: Manual,
        group: "Controller and version topology",
        severity: r#"high"#,
        meaning: r#"More than one gha controller reconciles the same objects: ≥2 cluster-wide controllers; ≥1 cluster-wide plus ≥1 single-namespace; or ≥2 single-namespace controllers watching the same namespace. Several single-namespace controllers with distinct watched namespaces are a supported setup and are not reported."#,
        why: r#"A second controller release was installed without removing the first (often during a move or an upgrade). Each cluster-wide controller creates its own listener for every scale set, so the listeners fight over one GitHub session and one runner set."#,
        remedy: r#"Keep one controller. Move the scale sets of the other (`kubectl arc drain <namespace>` for each of its runner namespaces), then `helm uninstall` it; never just delete its namespace."#,
        module: "multiple_controllers.rs",
    },
    CodeInfo {
        code: "ARC-OUT-OF-SCOPE",
        title: r#"Scale set is outside every controller's watched namespaces"#,
        fix: Manual,
        group: "Controller and version topology",
        severity: r#"high (critical if deleting)"#,
        meaning: r#"An AutoscalingRunnerSet (or a deleting EphemeralRunnerSet/EphemeralRunner without one) lives in a namespace that no controller watches — only single-namespace controllers exist and the namespace is neither their watched namespace nor their own. Nothing reconciles it; once deleted it hangs on its finalizers forever."#,
        why: r#"Only single-namespace controllers are installed (`flags.watchSingleNamespace`) and the scale set was installed into a namespace none of them watches."#,
        remedy: r#"Install a controller that watches the namespace (same version), or move the scale set into a watched namespace."#,
        module: "out_of_scope.rs",
    },
    CodeInfo {
        code: "ARC-VERSION-SKEW",
        title: r#"Controller will delete this scale set: version mismatch"#,
        fix: Manual,
        group: "Controller and version topology",
        severity: r#"critical"#,
        meaning: r#"The controller deletes every AutoscalingRunnerSet whose `app.kubernetes.io/version` label it considers foreign."#,
        why: r#"The scale-set chart and the controller chart were upgraded separately (their `app.kubernetes.io/version` labels differ in major.minor), or the controller image reports no version (`NA`). The controller treats such a scale set as foreign and deletes it, together with its GitHub registration."#,
        remedy: r#"Upgrade the lagging side so controller and scale-set charts share major.minor, then `helm upgrade` the scale-set release to recreate a deleted scale set."#,
        module: "version_skew.rs",
    },
    CodeInfo {
        code: "ARC-CRD-SKEW",
        title: r#"ARC CRDs do not match the controller version"#,
        fix: Manual,
        group: "Controller and version topology",
        severity: r#"critical"#,
        meaning: r#"The installed `actions.github.com` CRDs (or objects stored under them) do not match what the controller binary decodes, so its informers never sync."#,
        why: r#"`helm upgrade` does not upgrade CRDs: the controller was upgraded but the CRDs were not (or the reverse), or objects still hold an older status shape the new binary cannot decode. Its informers never sync, so it processes none of those objects, finalizers included."#,
        remedy: r#"Apply the CRDs that match the controller (`kubectl apply --server-side -f <chart>/crds`). Delete or status-patch runners with an old status shape (they are disposable). Never delete a CRD while instances with finalizers exist."#,
        module: "crd_skew.rs",
    },
    CodeInfo {
        code: "ARC-STALE-CLUSTER-RBAC",
        title: r#"Cluster RBAC left behind by a removed controller"#,
        fix: Confirm,
        group: "Controller and version topology",
        severity: r#"medium"#,
        meaning: r#"Cluster-scoped RBAC of a controller (gha or legacy) whose namespace is gone. The Helm release record lived in that namespace and vanished with it; the ClusterRole/ClusterRoleBinding survive, and reinstalling under the same release name in another namespace fails with Helm's `invalid ownership metadata; … key "meta.helm.sh/release-namespace" must equal …`."#,
        why: r#"A controller namespace was deleted without `helm uninstall`: the release record went with the namespace, the ClusterRole/ClusterRoleBinding stayed, and Helm refuses to adopt them when the controller is reinstalled elsewhere."#,
        remedy: r#"Delete the stale ClusterRole/ClusterRoleBinding once no Deployment uses that ServiceAccount (`kubectl arc orphans --fix --include-confirm`), then reinstall."#,
        module: "stale_cluster_rbac.rs",
    },
    // RBAC reachability
    CodeInfo {
        code: "ARC-MANAGER-BINDING-MISMATCH",
        title: r#"Runner namespace is bound to a controller that is not live"#,
        fix: Confirm,
        group: "RBAC reachability",
        severity: r#"critical (info when another live controller is bound)"#,
        meaning: r#"A runner namespace's manager RoleBinding does not name the ServiceAccount of the live controller that serves it."#,
        why: r#"The scale-set chart computes the controller's ServiceAccount once, at install time. Moving or renaming the controller (new namespace or release name) leaves the manager RoleBinding pointing at the old ServiceAccount, so the live controller is denied in the runner namespace."#,
        remedy: r#"Re-render the scale set so the chart looks up the current controller: `helm upgrade <release> -n <ns> … --reuse-values` (or set `controllerServiceAccount.name/namespace`). Or rebind the manager RoleBinding in place (`kubectl arc orphans --fix --include-confirm`)."#,
        module: "manager_binding_mismatch.rs",
    },
    CodeInfo {
        code: "ARC-MANAGER-RBAC-MISSING",
        title: r#"Manager Role/RoleBinding gone while the scale set lives"#,
        fix: Manual,
        group: "RBAC reachability",
        severity: r#"high"#,
        meaning: r#"A live (not deleting) AutoscalingRunnerSet whose manager Role or RoleBinding — named by `actions.github.com/cleanup-manager-role-name` / `actions.github.com/cleanup-manager-role-binding` — is gone or being deleted. Typical after a GitOps prune or Argo CD app deletion that removed chart objects independently of the ARS (#3440, #3512). While `cleanup-protection` holds a terminating object the controller still has access; once it is released (or the object is gone) the controller can no longer read the GitHub secret or create runners in the namespace. One finding per ARS: [ARS, the Role/RoleBinding concerned]."#,
        why: r#"Chart objects were removed independently of the scale set — typically a GitOps prune or an Argo CD application deletion — while the AutoscalingRunnerSet still lives."#,
        remedy: r#"Re-sync the scale-set release (`helm upgrade`, or sync the GitOps application) so its Role/RoleBinding exist again; do not strip `cleanup-protection` while the scale set lives."#,
        module: "manager_rbac_missing.rs",
    },
    CodeInfo {
        code: "ARC-LISTENER-NS-FOREIGN",
        title: r#"Listener lives outside every live controller's namespace"#,
        fix: Auto,
        group: "RBAC reachability",
        severity: r#"critical if its namespace is Terminating, else high"#,
        meaning: r#"An AutoscalingListener lives in a namespace where no gha controller runs — very likely a listener created by a controller that was moved or uninstalled. No controller caches or has RBAC in that namespace, so nothing will update or clean it up; its pod may still hold a GitHub session for the scale set."#,
        why: r#"Listeners are created in the controller's namespace. After the controller moved or was uninstalled, the old listener stays behind where no controller caches objects or holds RBAC, so nothing updates or cleans it up."#,
        remedy: r#"Delete the foreign listener (`kubectl arc orphans --fix`); the live controller creates its own. As no controller can clean it up, the tool also removes its children and its finalizer."#,
        module: "listener_ns_foreign.rs",
    },
    // Secrets and references
    CodeInfo {
        code: "ARC-SECRET-DANGLING",
        title: r#"GitHub config Secret does not exist"#,
        fix: Manual,
        group: "Secrets and references",
        severity: r#"critical if a referrer is deleting, else high"#,
        meaning: r#"The GitHub config Secret an ARS/ERS/ER/AL names does not exist."#,
        why: r#"The GitHub config Secret was deleted before the scale set finished its cleanup (manual delete, GitOps prune, external-secrets removal, `helm uninstall` of a separately managed Secret), or its name is misspelled."#,
        remedy: r#"Recreate the Secret with valid credentials (same name, same namespace); the controller then finishes everything, GitHub cleanup included. If the credentials are gone for good, strip the stranded finalizers bottom-up (`kubectl arc orphans --fix --include-confirm`) and delete the scale set on GitHub by hand."#,
        module: "secret_dangling.rs",
    },
    CodeInfo {
        code: "ARC-SECRET-INVALID",
        title: r#"GitHub config Secret cannot be used"#,
        fix: Manual,
        group: "Secrets and references",
        severity: r#"(not implemented: needs Secret data)"#,
        meaning: r#"GitHub config Secret cannot be used. Not decided by doctor: it needs Secret data, which kubectl-arc never reads."#,
        why: r#"The Secret has neither `github_token` nor the GitHub App trio, has both, or an invalid installation ID."#,
        remedy: r#"Fix the Secret's keys: either `github_token`, or `github_app_id`, `github_app_installation_id` and `github_app_private_key`."#,
        module: "",
    },
    CodeInfo {
        code: "ARC-SECRET-TERMINATING",
        title: r#"GitHub config Secret is being deleted while still needed"#,
        fix: Manual,
        group: "Secrets and references",
        severity: r#"high"#,
        meaning: r#"The GitHub config Secret is being deleted while something still needs it."#,
        why: r#"Something deletes the Secret (a prune, an uninstall) while the scale set or its runners still need it; `actions.github.com/cleanup-protection` holds it until the scale set is gone."#,
        remedy: r#"Stop whatever deletes it (the prune or uninstall) and recreate it if needed; never strip its `cleanup-protection` before the scale set is gone."#,
        module: "secret_terminating.rs",
    },
    CodeInfo {
        code: "ARC-AUX-REF-DANGLING",
        title: r#"Referenced proxy/TLS/pull Secret or ConfigMap does not exist"#,
        fix: Manual,
        group: "Secrets and references",
        severity: r#"high (proxy/TLS), medium (others)"#,
        meaning: r#"Secrets and ConfigMaps other than the GitHub config Secret that ARC objects reference but that do not exist."#,
        why: r#"A proxy credentials Secret, TLS ConfigMap or pull Secret named in the scale set, its listener template or the controller flags was deleted, renamed or never created in the namespace where it is resolved."#,
        remedy: r#"Recreate the referenced Secret or ConfigMap in the namespace named, or fix the reference in the chart values and `helm upgrade`."#,
        module: "aux_ref_dangling.rs",
    },
    CodeInfo {
        code: "ARC-CREDENTIAL-COPY-ORPHAN",
        title: r#"Orphaned copy of GitHub credentials"#,
        fix: Auto,
        group: "Secrets and references",
        severity: r#"medium"#,
        meaning: r#"Copies of GitHub credentials in a controller namespace that no listener owns any more."#,
        why: r#"Listeners copy the GitHub credentials into the controller namespace. When a listener disappears without its cleanup (stripped finalizer, forced namespace, old controller version), the copy stays."#,
        remedy: r#"Delete the copies (`kubectl arc orphans --fix`); they hold live GitHub credentials."#,
        module: "credential_copy_orphan.rs",
    },
    // Stuck deletions
    CodeInfo {
        code: "ARC-STUCK-ARS",
        title: r#"AutoscalingRunnerSet deletion is stuck"#,
        fix: Confirm,
        group: "Stuck deletions",
        severity: r#"critical"#,
        meaning: r#"An AutoscalingRunnerSet with a deletionTimestamp and `autoscalingrunnerset.actions.github.com/finalizer` that cannot finish."#,
        why: r#"The controller's deletion sequence has an unmet step: no live controller, a listener or runners that cannot be removed, or GitHub credentials it cannot use to delete the scale set registration."#,
        remedy: r#"Fix the unmet step the finding names (controller, listener, runners or credentials) and the controller finishes by itself. If the deletion is stranded, `kubectl arc orphans --fix --include-confirm` completes it bottom-up."#,
        module: "stuck_ars.rs",
    },
    CodeInfo {
        code: "ARC-STUCK-LISTENER",
        title: r#"AutoscalingListener deletion is stuck"#,
        fix: Auto,
        group: "Stuck deletions",
        severity: r#"critical if its namespace is Terminating, else high"#,
        meaning: r#"An AutoscalingListener with a deletionTimestamp and `autoscalinglistener.actions.github.com/finalizer` that no live controller can finish."#,
        why: r#"No live controller can finish the listener's cleanup: it lives in a foreign namespace, the controller lacks RBAC there or in the runner namespace, or its pod is stuck on a lost node."#,
        remedy: r#"Delete its leftover children (pod, Secrets, ServiceAccount, and the Role/RoleBinding in the runner namespace) so a live controller can finish; if none ever can, strip its finalizer. `kubectl arc orphans --fix` does both; a listener's finalizer guards no GitHub state."#,
        module: "stuck_listener.rs",
    },
    CodeInfo {
        code: "ARC-STUCK-ERS",
        title: r#"EphemeralRunnerSet deletion is stuck"#,
        fix: Auto,
        group: "Stuck deletions",
        severity: r#"critical"#,
        meaning: r#"An EphemeralRunnerSet with a deletionTimestamp and its finalizer (`ephemeralrunnerset.actions.github.com/finalizer`, or `ephemeralrunner.actions.github.com/finalizer` up to 0.14.2) that cannot finish."#,
        why: r#"Its runners are stuck, the GitHub secret is unusable while idle runners exist, or no controller processes it. A 0.15+ controller also ignores the old ERS finalizer string used up to 0.14.2."#,
        remedy: r#"Resolve its runners first (ARC-STUCK-ER); if it is stranded, `kubectl arc orphans --fix` strips its finalizer once no runner it owns remains."#,
        module: "stuck_ers.rs",
    },
    CodeInfo {
        code: "ARC-STUCK-ER",
        title: r#"EphemeralRunner deletion is stuck"#,
        fix: Confirm,
        group: "Stuck deletions",
        severity: r#"critical if its namespace is Terminating, else high"#,
        meaning: r#"An EphemeralRunner with a deletionTimestamp that cannot finish: the first unmet step of its deletion (registration removal on GitHub, its pod, its JIT secret) is named."#,
        why: r#"Its registration cannot be removed from GitHub (secret missing, forbidden or invalid), its job never finishes because the pod died with its node, or its pod is stuck Terminating."#,
        remedy: r#"Fix the secret or RBAC so the controller can unregister the runner. If it is stranded, strip the registration finalizer (`kubectl arc orphans --fix --include-confirm`; note the runner ID for GitHub), then its pod and JIT secret are deleted and the last finalizer removed."#,
        module: "stuck_er.rs",
    },
    CodeInfo {
        code: "ARC-STUCK-PROTECTED",
        title: r#"Chart object stuck on cleanup-protection"#,
        fix: Auto,
        group: "Stuck deletions",
        severity: r#"high"#,
        meaning: r#"Helm-rendered scale-set objects (Secret, Role, RoleBinding, ServiceAccount) with a deletionTimestamp held by `actions.github.com/cleanup-protection` that nobody will release."#,
        why: r#"The scale set that would release `cleanup-protection` is gone or not being deleted: the controller was uninstalled first, the ARS finalizer was stripped by hand, or a GitOps tool deleted chart objects out of order."#,
        remedy: r#"Remove the single `actions.github.com/cleanup-protection` finalizer when no scale set needs the object any more (`kubectl arc orphans --fix`) — what the controller would have done."#,
        module: "stuck_protected.rs",
    },
    CodeInfo {
        code: "ARC-NS-TERMINATING",
        title: r#"Namespace stuck Terminating on ARC finalizers"#,
        fix: Manual,
        group: "Stuck deletions",
        severity: r#"critical"#,
        meaning: r#"A namespace stuck Terminating because ARC objects inside still carry finalizers that will not be removed."#,
        why: r#"The namespace was deleted while ARC objects in it still carried finalizers that only a controller removes, and no controller can (moved, uninstalled, or without RBAC there)."#,
        remedy: r#"Resolve the stuck objects inside, bottom-up, following their own findings (`kubectl arc orphans --fix` does the permitted steps in order). Never force the namespace through `/finalize`: the objects would stay stranded in etcd."#,
        module: "ns_terminating.rs",
    },
    CodeInfo {
        code: "ARC-NS-MISSING",
        title: r#"ARC objects or pointers reference a namespace that does not exist"#,
        fix: Confirm,
        group: "Stuck deletions",
        severity: r#"high"#,
        meaning: r#"ARC objects stored in, or ARC pointers aimed at, a namespace that does not exist."#,
        why: r#"A namespace was forced through `/finalize` (its objects stay in etcd), or a namespace that objects point at — listener targets, binding subjects, `--watch-single-namespace` — was deleted."#,
        remedy: r#"Delete the stranded objects and strip their finalizers (`kubectl arc orphans --fix --include-confirm`); fix or delete pointers at the missing namespace. Recreating the namespace and the old controller only helps when credentials and RBAC are restored too."#,
        module: "ns_missing.rs",
    },
    CodeInfo {
        code: "ARC-DELETION-PROGRESSING",
        title: r#"Deletion in progress"#,
        fix: Manual,
        group: "Stuck deletions",
        severity: r#"info"#,
        meaning: r#"An AutoscalingRunnerSet is being deleted and a live, authorised controller is carrying the deletion out. Says what the deletion currently waits for: the listener, runners, a running job, the GitHub scale-set deletion, or the final release of chart objects. Anything stuck is `ARC-STUCK-ARS` instead."#,
        why: r#"A scale set is being deleted (`helm uninstall`, a prune, a version-skew deletion) and the controller is working through its steps; a busy runner or the GitHub call can take a while."#,
        remedy: r#"Nothing to do: wait. Re-run doctor if it does not finish; anything stuck is reported as ARC-STUCK-ARS instead."#,
        module: "deletion_progressing.rs",
    },
    // Orphans
    CodeInfo {
        code: "ARC-ORPHAN-LISTENER",
        title: r#"Listener whose scale set is gone"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"high if its pod runs, else medium"#,
        meaning: r#"An AutoscalingListener whose AutoscalingRunnerSet (`spec.autoscalingRunnerSetNamespace/Name`) no longer exists."#,
        why: r#"The AutoscalingRunnerSet was deleted without its listener being cleaned up (stripped finalizer, forced namespace, old controller). Up to 0.14.2 the controller only logs `Failed to find AutoscalingRunnerSet.` for it, forever."#,
        remedy: r#"Delete the listener (`kubectl arc orphans --fix`); if no controller can finish it, continue as ARC-STUCK-LISTENER."#,
        module: "orphan_listener.rs",
    },
    CodeInfo {
        code: "ARC-LISTENER-DUPLICATE",
        title: r#"Stale duplicate listener for a scale set"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"high"#,
        meaning: r#"More than one AutoscalingListener targets the same AutoscalingRunnerSet."#,
        why: r#"The listener name scheme changed in 0.13.1 (in-place upgrades leave the old-name listener), a controller moved and left its old listener, or a second controller created its own."#,
        remedy: r#"Delete the stale listener(s) (`kubectl arc orphans --fix`); the live controller keeps its own."#,
        module: "listener_duplicate.rs",
    },
    CodeInfo {
        code: "ARC-LISTENER-DRIFT",
        title: r#"Listener points at objects that no longer exist"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"high"#,
        meaning: r#"A listener points at objects that no longer exist."#,
        why: r#"The runner set or the GitHub scale set ID changed while the listener kept the old value (duplicate runner-set race, re-registration)."#,
        remedy: r#"Delete the listener (`kubectl arc orphans --fix`); the live controller recreates it with current values."#,
        module: "listener_drift.rs",
    },
    CodeInfo {
        code: "ARC-LISTENER-RBAC-ORPHAN",
        title: r#"Listener Role/RoleBinding without a listener"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"low"#,
        meaning: r#"A listener Role/RoleBinding in a runner namespace whose listener (labels `auto-scaling-listener-namespace`/`-name`) does not exist or whose namespace is gone, and that no other listener of the same name wants."#,
        why: r#"The listener went away without its cleanup, which normally deletes its Role and RoleBinding in the runner namespace."#,
        remedy: r#"Delete the Role and RoleBinding (`kubectl arc orphans --fix`); nothing uses them."#,
        module: "listener_rbac_orphan.rs",
    },
    CodeInfo {
        code: "ARC-LISTENER-RBAC-COLLISION",
        title: r#"Listener Role/RoleBinding claimed by two listeners"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"high"#,
        meaning: r#"A listener Role/RoleBinding `L` in a runner namespace R is claimed by two listeners."#,
        why: r#"The listener name does not include the controller namespace, so two controllers (or an old and a new one) compute the same Role/RoleBinding name in the runner namespace; the first creator's ServiceAccount stays the subject."#,
        remedy: r#"Remove the stale listener first, then delete the shared Role/RoleBinding so the live controller recreates them with its own ServiceAccount (`kubectl arc orphans --fix`)."#,
        module: "listener_rbac_collision.rs",
    },
    CodeInfo {
        code: "ARC-ORPHAN-LISTENER-CHILD",
        title: r#"Listener Pod/ServiceAccount/Secret without a listener"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"medium"#,
        meaning: r#"Listener Pods, ServiceAccounts and proxy Secrets whose AutoscalingListener is gone."#,
        why: r#"The listener was removed with `--cascade=orphan`, its finalizer stripped, or its owner reference was malformed, so garbage collection did not delete its pod, ServiceAccount or Secrets."#,
        remedy: r#"Delete them (`kubectl arc orphans --fix`); a running orphaned listener pod may still hold a GitHub session."#,
        module: "orphan_listener_child.rs",
    },
    CodeInfo {
        code: "ARC-ORPHAN-RUNNER-OBJECTS",
        title: r#"Runner object without its owner"#,
        fix: Auto,
        group: "Orphans",
        severity: r#"medium"#,
        meaning: r#"Runner-side objects whose owner is gone: EphemeralRunnerSet without its AutoscalingRunnerSet, EphemeralRunner without its EphemeralRunnerSet, runner Pod / JIT config Secret without its EphemeralRunner, ERS proxy Secret without its EphemeralRunnerSet, and container-hook Pods/Secrets (`runner-pod=N`) without EphemeralRunner `N`."#,
        why: r#"Manual clean-ups with `--cascade=orphan`, stripped finalizers or `kubectl delete` on the scale set left runner sets, runners, runner pods or JIT secrets behind."#,
        remedy: r#"Delete them (`kubectl arc orphans --fix`); note the runner IDs it reports, they may still be registered on GitHub."#,
        module: "orphan_runner_objects.rs",
    },
    CodeInfo {
        code: "ARC-ORPHAN-CHART-RBAC",
        title: r#"Scale-set chart leftovers without a scale set"#,
        fix: Confirm,
        group: "Orphans",
        severity: r#"low (medium for a binding that still grants a foreign SA)"#,
        meaning: r#"Leftovers of a `gha-runner-scale-set` Helm release whose AutoscalingRunnerSet is gone."#,
        why: r#"The scale set was deleted outside Helm (or its finalizer stripped), so its chart objects were never released and deleted."#,
        remedy: r#"`helm uninstall` the release if its record still exists; otherwise remove `cleanup-protection` and delete the objects (`kubectl arc orphans --fix --include-confirm`)."#,
        module: "orphan_chart_rbac.rs",
    },
    CodeInfo {
        code: "ARC-HELM-RELEASE-ORPHAN",
        title: r#"Helm release record out of sync"#,
        fix: Manual,
        group: "Orphans",
        severity: r#"low"#,
        meaning: r#"Helm release records of ARC charts out of sync with the cluster. Release records are Secrets `sh.helm.release.v1.<release>.v<revision>` labelled `owner=helm`, `name`, `status`, `version`; they are read **metadata-only** (the payload, which would name the chart, is never read). Only the latest revision of each release counts."#,
        why: r#"An uninstall or upgrade was interrupted, or the scale set was deleted outside Helm, so the release record no longer matches the cluster."#,
        remedy: r#"`helm uninstall` or `helm upgrade` the release so its record matches the cluster."#,
        module: "helm_release_orphan.rs",
    },
    CodeInfo {
        code: "ARC-ARS-OUTDATED",
        title: r#"Scale set is Outdated (deprecated runner version)"#,
        fix: Manual,
        group: "Orphans",
        severity: r#"high"#,
        meaning: r#"An AutoscalingRunnerSet in `status.phase=Outdated`: its runners exited with code 7 (deprecated runner version). In 0.14.x the Outdated path runs the whole cleanup — listener, runner sets **and the GitHub scale set** (the `runner-scale-set-id` annotation is removed) — and then waits for a spec change; at HEAD it removes the listener and scales to 0. Jobs queue silently (#4595, #4596, #4601). It looks like a deletion but is not one, and it is never an orphan. One finding per ARS (deleting ones are left to the stuck/progress codes)."#,
        why: r#"The runner image is a deprecated runner version: the runners exited with code 7 and the controller marked the scale set Outdated (0.14.x also removed its GitHub registration). Jobs queue silently."#,
        remedy: r#"Update the runner image to a supported runner version and re-apply the scale set (`helm upgrade`); never delete it as an orphan."#,
        module: "ars_outdated.rs",
    },
    // GitHub-side state
    CodeInfo {
        code: "ARC-SCALESET-ID-SHARED",
        title: r#"Several scale sets share one GitHub registration"#,
        fix: Confirm,
        group: "GitHub-side state",
        severity: r#"critical if any sharer is deleting/orphaned"#,
        meaning: r#"Two or more AutoscalingRunnerSets carry the same `runner-scale-set-id` for the same GitHub config URL."#,
        why: r#"A scale set was reinstalled with the same name and runner group while an old one (stuck or orphaned) still carries the registration; the new one reused it. Finishing the old one's deletion deletes the registration the live one uses."#,
        remedy: r#"Before any controller processes the old scale set's deletion, remove `runner-scale-set-id` from every scale set except the live one (`kubectl arc orphans --fix --include-confirm`), then finish the old one's cleanup."#,
        module: "scaleset_id_shared.rs",
    },
    CodeInfo {
        code: "ARC-SCALESET-LEAK-SUSPECTED",
        title: r#"Scale set probably still registered on GitHub"#,
        fix: Manual,
        group: "GitHub-side state",
        severity: r#"medium"#,
        meaning: r#"A scale set probably remains registered on GitHub with nothing in the cluster left to delete it."#,
        why: r#"A scale set's Kubernetes objects are going or gone while its `runner-scale-set-id` was never deleted on GitHub, and nothing in the cluster can still do it."#,
        remedy: r#"Delete the scale set on GitHub (organization or repository settings → Actions → Runner groups/Runners), or wait: offline scale sets are removed by GitHub after some days."#,
        module: "scaleset_leak.rs",
    },
    CodeInfo {
        code: "ARC-SCALESET-ID-DEAD",
        title: r#"Scale set ID no longer exists on GitHub"#,
        fix: Confirm,
        group: "GitHub-side state",
        severity: r#"high"#,
        meaning: r#"The scale set ID an ARS is annotated with no longer exists on GitHub."#,
        why: r#"The scale set was deleted on GitHub (by hand, by another cluster, or after being offline) while the ARS kept its ID; ARC does not re-validate stored IDs."#,
        remedy: r#"Remove `runner-scale-set-id` from the AutoscalingRunnerSet and delete its listener (`kubectl arc orphans --fix --include-confirm`); the controller registers the scale set again and rebuilds the listener."#,
        module: "scaleset_id_dead.rs",
    },
    CodeInfo {
        code: "ARC-SESSION-CONFLICT",
        title: r#"Several listeners hold sessions for one scale set"#,
        fix: Auto,
        group: "GitHub-side state",
        severity: r#"high"#,
        meaning: r#"More than one listener holds (or fights for) the GitHub session of one scale set ID."#,
        why: r#"A stale listener (old name, old namespace or second controller) still runs next to the live one; GitHub allows one session per scale set, so they evict each other."#,
        remedy: r#"Remove the stale listener (see ARC-LISTENER-DUPLICATE, `kubectl arc orphans --fix`)."#,
        module: "session_conflict.rs",
    },
    // Legacy mode
    CodeInfo {
        code: "LEG-NO-CONTROLLER",
        title: r#"Legacy runners with finalizers and no legacy controller"#,
        fix: Confirm,
        group: "Legacy mode",
        severity: r#"critical if deleting objects exist, else high"#,
        meaning: r#"Legacy (`actions.summerwind.dev`) Runners or runner pods carry legacy finalizers, but no running legacy controller watches their namespace. The Runner finalizer and the pod finalizers (GitHub unregistration, linked resources) are only removed by that controller. Critical when any of those objects is being deleted. One finding per cluster: [the legacy objects with finalizers]."#,
        why: r#"The legacy controller was uninstalled or its namespace deleted while Runners and runner pods still carried its finalizers."#,
        remedy: r#"Reinstall the legacy controller; if that is not possible, strip the legacy finalizers after recording the runner names for GitHub cleanup (`kubectl arc orphans --fix --include-confirm`)."#,
        module: "leg_no_controller.rs",
    },
    CodeInfo {
        code: "LEG-WEBHOOK-DANGLING",
        title: r#"Legacy admission webhook points at a missing service"#,
        fix: Confirm,
        group: "Legacy mode",
        severity: r#"critical"#,
        meaning: r#"A legacy (Mutating|Validating)WebhookConfiguration whose `*.actions.summerwind.dev` webhooks call a Service that does not exist, lives in a namespace that does not exist, or (when its Endpoints were collected) has no ready address. The webhooks use `failurePolicy: Fail` and cover CREATE and UPDATE, so every Runner/RunnerDeployment/RunnerReplicaSet write — finalizer patches included — fails with `failed calling webhook …` until the configurations are deleted (§8.6). One finding per configuration: [configuration, Service(s)]."#,
        why: r#"The legacy controller (or its namespace) was removed without `helm uninstall`, leaving cluster-scoped webhook configurations with `failurePolicy: Fail` that call a Service which no longer answers."#,
        remedy: r#"Delete the stale webhook configurations first (`kubectl arc orphans --fix --include-confirm`, or `kubectl delete mutatingwebhookconfiguration,validatingwebhookconfiguration <name>`), before touching any legacy finalizer."#,
        module: "leg_webhook_dangling.rs",
    },
    CodeInfo {
        code: "LEG-STUCK-RUNNER",
        title: r#"Legacy Runner deletion is stuck"#,
        fix: Confirm,
        group: "Legacy mode",
        severity: r#"critical if its namespace is Terminating, else high"#,
        meaning: r#"A legacy Runner is being deleted but keeps `runner.actions.summerwind.dev` and nothing can remove it: no running legacy controller watches its namespace, or a dangling legacy webhook rejects every Runner update (the finalizer patch included, §8.6). A Runner whose controller is running and reachable is left alone: the controller removes the finalizer as part of its normal deletion. One finding per Runner. Severity: critical when it blocks a Terminating namespace, else high."#,
        why: r#"No running legacy controller watches its namespace, or a dangling legacy webhook rejects every Runner update, the finalizer patch included."#,
        remedy: r#"Restore the legacy controller (or remove the dangling webhooks) so it finishes the deletion; otherwise strip `runner.actions.summerwind.dev` (`kubectl arc orphans --fix --include-confirm`)."#,
        module: "leg_stuck_runner.rs",
    },
    CodeInfo {
        code: "LEG-STUCK-POD",
        title: r#"Legacy runner Pod deletion is stuck"#,
        fix: Confirm,
        group: "Legacy mode",
        severity: r#"critical if its namespace is Terminating, else high"#,
        meaning: r#"A legacy runner pod is being deleted but keeps `actions.summerwind.dev/runner-pod` (removed only after GitHub unregistration) or `actions.summerwind.dev/linked-resources` (removed after hook pods/secrets are gone), and nothing can remove them: no running legacy controller watches its namespace, or a dangling legacy webhook intercepts pod updates. While a running controller is unregistering a busy runner the pod legitimately waits (`Runner unregistration is in-progress…`); that is not reported. One finding per Pod; critical when it blocks a Terminating namespace, else high."#,
        why: r#"No running legacy controller can unregister the runner and remove the pod's finalizers, or a dangling legacy webhook intercepts pod updates."#,
        remedy: r#"Restore the legacy controller; otherwise record the runner ID (annotation `actions-runner/id`) and strip the pod's legacy finalizers (`kubectl arc orphans --fix --include-confirm`)."#,
        module: "leg_stuck_pod.rs",
    },
    CodeInfo {
        code: "LEG-SECRET-DANGLING",
        title: r#"Legacy credentials Secret does not exist"#,
        fix: Manual,
        group: "Legacy mode",
        severity: r#"high"#,
        meaning: r#"A legacy ARC credentials Secret that is referenced but does not exist: the controller's auth Secret (`authSecret.name`, default `controller-manager`, consumed through the manager container's env), and `githubAPICredentialsFrom.secretRef.name` on Runner, RunnerDeployment / RunnerReplicaSet templates, RunnerSet and HorizontalRunnerAutoscaler, and the pod annotation `actions-runner/github-api-creds-secret`. All resolve in the referrer's namespace. Optional env references are ignored. One finding per missing Secret: [Secret, referrers…]."#,
        why: r#"The controller's auth Secret or a runner's GitHub credentials Secret was deleted, renamed or never created in the referrer's namespace."#,
        remedy: r#"Recreate the Secret with valid GitHub credentials in the referrer's namespace, or fix the reference."#,
        module: "leg_secret_dangling.rs",
    },
    CodeInfo {
        code: "LEG-MULTI-CONTROLLER",
        title: r#"Several legacy controllers overlap"#,
        fix: Manual,
        group: "Legacy mode",
        severity: r#"high"#,
        meaning: r#"Several legacy controllers overlap: two cluster-wide ones, a cluster-wide one plus a `--watch-namespace` one, or two watching the same namespace; or the same legacy webhook name registered by several webhook configurations of one kind (each release installs its own, and they call different services). One finding per cluster: [controller Deployments…, webhook configurations…]."#,
        why: r#"A second legacy release was installed next to the first with overlapping `--watch-namespace` scopes, or its webhook configurations duplicate the first release's."#,
        remedy: r#"Keep one legacy controller per namespace scope; uninstall the other release (`helm uninstall`), which also removes its webhook configurations."#,
        module: "leg_multi_controller.rs",
    },
    CodeInfo {
        code: "MIXED-MODE",
        title: r#"Both ARC generations are installed"#,
        fix: Manual,
        group: "Legacy mode",
        severity: r#"info"#,
        meaning: r#"Both ARC generations are present — the `actions.github.com` scale-set mode and the legacy `actions.summerwind.dev` mode. Supported (different CRD groups), but drains, upgrades and uninstalls must treat them separately. A generation counts as present when a controller Deployment of it exists or objects of its kinds exist. The message lists the namespaces each owns. One finding per cluster."#,
        why: r#"Both the scale-set (`actions.github.com`) and the legacy (`actions.summerwind.dev`) generations are installed; this is supported, but the two are drained, upgraded and uninstalled separately."#,
        remedy: r#"Nothing to fix. Treat the two generations separately when draining, upgrading or uninstalling."#,
        module: "mixed_mode.rs",
    },
    // Coverage
    CodeInfo {
        code: "ARC-NOT-CHECKED",
        title: r#"Not checked: access denied or API unavailable"#,
        fix: Manual,
        group: "Coverage",
        severity: r#"info (medium when a core kind is invisible)"#,
        meaning: r#"One finding per kind with collection gaps (`snapshot.gaps`; all pod-log gaps together form one more) — something the API server refused or could not serve. Checks treat such data as unknown and stay silent, so this finding is the only trace of what the report could not cover. Objects: none."#,
        why: r#"Your user may not read some kinds (403), an API group is not installed (404), or the API server or a node's kubelet did not answer (5xx, timeouts). What could not be read is treated as unknown, never as absent."#,
        remedy: r#"For 403s, ask for the named permission (check with `kubectl auth can-i list <resource> -A`) or run with `-n <namespace>`; for kubelet errors, the logs were simply skipped; for 404s, nothing is installed to check. Otherwise accept that this part was not checked."#,
        module: "not_checked.rs",
    },
];

/// Catalog entry for a code.
pub fn info(code: &str) -> Option<&'static CodeInfo> {
    CATALOG.iter().find(|c| c.code == code)
}

/// Catalog entry for what a user typed: case-insensitive, `ARC-` optional
/// (`stuck-listener` finds `ARC-STUCK-LISTENER`).
pub fn lookup(typed: &str) -> Option<&'static CodeInfo> {
    let t = typed.trim().to_ascii_uppercase();
    info(&t).or_else(|| info(&format!("ARC-{t}")))
}

/// Codes that look like what a user typed, for "did you mean".
pub fn similar(typed: &str) -> Vec<&'static str> {
    let t = typed.trim().to_ascii_uppercase();
    let words: Vec<&str> = t
        .split(['-', '_', ' '])
        .filter(|w| w.len() >= 3 && *w != "ARC" && *w != "LEG")
        .collect();
    CATALOG
        .iter()
        .filter(|c| words.iter().any(|w| c.code.contains(w)))
        .map(|c| c.code)
        .collect()
}

/// What a fix kind means, in words.
pub fn fix_words(f: Fix) -> &'static str {
    match f {
        Fix::Auto => "auto — `kubectl arc orphans --fix` may do it",
        Fix::Confirm => "confirm — the tool may do it only with explicit confirmation",
        Fix::Manual => "manual — instructions only",
    }
}

/// `docs/codes.md`, generated from the catalog.
pub fn markdown() -> String {
    let mut s = String::new();
    s.push_str(
        "# Finding codes\n\n\
         <!-- Generated from src/codes.rs by `KUBECTL_ARC_BLESS=1 cargo test --lib codes`; do not edit. -->\n\n\
         Every finding `kubectl arc doctor` reports has one of these codes; `kubectl arc explain <CODE>`\n\
         prints the same text. Severity is decided per finding by the rule given. **Fix** says how a\n\
         repair may be done: `auto` — safe for `kubectl arc orphans --fix` without extra flags;\n\
         `confirm` — the tool may do it only with explicit confirmation; `manual` — instructions only.\n\
         Each code is decided by one module under `src/checks/`, with its own unit tests.\n\n\
         | Code | Title | Severity | Fix |\n|---|---|---|---|\n",
    );
    for c in CATALOG {
        let _ = writeln!(
            s,
            "| [`{}`](#{}) | {} | {} | {} |",
            c.code,
            c.code.to_ascii_lowercase(),
            c.title,
            c.severity,
            fix_name(c.fix)
        );
    }
    let mut group = "";
    for c in CATALOG {
        if c.group != group {
            group = c.group;
            let _ = write!(s, "\n## {group}\n");
        }
        let _ = write!(
            s,
            "\n### {}\n\n**{}** — severity: {}; fix: {}; module: {}.\n\n\
             **What it means.** {}\n\n**Why it happens.** {}\n\n**How it is fixed.** {}\n",
            c.code,
            c.title,
            c.severity,
            fix_name(c.fix),
            if c.module.is_empty() {
                "none (not implemented)".to_owned()
            } else {
                format!("`src/checks/{}`", c.module)
            },
            c.meaning,
            c.why,
            c.remedy
        );
    }
    s
}

fn fix_name(f: Fix) -> &'static str {
    match f {
        Fix::Auto => "auto",
        Fix::Confirm => "confirm",
        Fix::Manual => "manual",
    }
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
    fn every_entry_is_complete() {
        for c in CATALOG {
            for (what, text) in [
                ("title", c.title),
                ("severity", c.severity),
                ("meaning", c.meaning),
                ("why", c.why),
                ("remedy", c.remedy),
            ] {
                assert!(!text.trim().is_empty(), "{} has no {what}", c.code);
            }
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/checks")
                .join(c.module);
            assert!(
                c.module.is_empty() || path.is_file(),
                "{} names {}",
                c.code,
                c.module
            );
        }
    }

    /// docs/codes.md is generated from the catalog; `KUBECTL_ARC_BLESS=1` rewrites it.
    #[test]
    fn docs_codes_md_is_generated_from_the_catalog() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md");
        let want = markdown();
        if std::env::var_os("KUBECTL_ARC_BLESS").is_some() {
            std::fs::write(&path, &want).expect("docs/codes.md written");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/codes.md is out of date: run `KUBECTL_ARC_BLESS=1 cargo test --lib codes`"
        );
        for c in CATALOG {
            assert!(have.contains(&format!("`{}`", c.code)));
        }
    }

    #[test]
    fn lookup_is_forgiving() {
        assert_eq!(
            lookup("arc-stuck-listener").map(|c| c.code),
            Some("ARC-STUCK-LISTENER")
        );
        assert_eq!(
            lookup(" stuck-listener ").map(|c| c.code),
            Some("ARC-STUCK-LISTENER")
        );
        assert_eq!(
            lookup("leg-stuck-pod").map(|c| c.code),
            Some("LEG-STUCK-POD")
        );
        assert_eq!(lookup("mixed-mode").map(|c| c.code), Some("MIXED-MODE"));
        assert!(lookup("ARC-NOPE").is_none());
        assert!(similar("ARC-STUCK").contains(&"ARC-STUCK-ARS"));
    }
}
