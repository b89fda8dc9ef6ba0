//! The resource types the server serves: the built-in kinds plus every
//! version served by a CustomResourceDefinition currently in the store.

use std::cmp::Ordering;

use serde_json::Value;

use crate::meta;
use crate::store::Store;

pub(crate) const CRD_GROUP: &str = "apiextensions.k8s.io";
pub(crate) const CRD_KIND: &str = "CustomResourceDefinition";

#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub singular: String,
    pub kind: String,
    pub list_kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub verbs: Vec<&'static str>,
    /// Subresources: `status`, `log`, `finalize`.
    pub subresources: Vec<&'static str>,
    /// Built-in kinds accept strategic-merge patches; CRDs do not.
    pub builtin: bool,
    /// Whether `metadata.generation` is maintained.
    pub generation: bool,
    /// The store returns the deleted object (instead of a success Status).
    pub return_deleted_object: bool,
    /// Review kinds (SubjectAccessReview & co): create only, never stored.
    pub virtual_create_only: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        meta::api_version_of(&self.group, &self.version)
    }

    pub fn has_subresource(&self, sub: &str) -> bool {
        self.subresources.contains(&sub)
    }

    pub fn has_status(&self) -> bool {
        self.has_subresource("status")
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group == group && self.kind == kind
    }
}

const FULL: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NO_COLLECTION: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];
const CREATE: &[&str] = &["create"];

struct Builtin {
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    verbs: &'static [&'static str],
    subresources: &'static [&'static str],
    generation: bool,
    return_deleted_object: bool,
}

const fn b(
    group: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version: "v1",
        resource,
        kind,
        namespaced,
        short,
        categories: &[],
        verbs: FULL,
        subresources: &[],
        generation: false,
        return_deleted_object: false,
    }
}

const ALL: &[&str] = &["all"];
const API_EXT: &[&str] = &["api-extensions"];
const STATUS: &[&str] = &["status"];

const BUILTINS: &[Builtin] = &[
    Builtin {
        verbs: NO_COLLECTION,
        subresources: &["finalize", "status"],
        ..b("", "namespaces", "Namespace", false, &["ns"])
    },
    b("", "configmaps", "ConfigMap", true, &["cm"]),
    b("", "endpoints", "Endpoints", true, &["ep"]),
    b("", "events", "Event", true, &["ev"]),
    Builtin {
        subresources: STATUS,
        ..b("", "nodes", "Node", false, &["no"])
    },
    Builtin {
        categories: ALL,
        subresources: &["log", "status"],
        return_deleted_object: true,
        ..b("", "pods", "Pod", true, &["po"])
    },
    b("", "secrets", "Secret", true, &[]),
    Builtin {
        return_deleted_object: true,
        ..b("", "serviceaccounts", "ServiceAccount", true, &["sa"])
    },
    Builtin {
        categories: ALL,
        subresources: STATUS,
        return_deleted_object: true,
        ..b("", "services", "Service", true, &["svc"])
    },
    Builtin {
        categories: ALL,
        subresources: STATUS,
        generation: true,
        ..b("apps", "daemonsets", "DaemonSet", true, &["ds"])
    },
    Builtin {
        categories: ALL,
        subresources: STATUS,
        generation: true,
        ..b("apps", "deployments", "Deployment", true, &["deploy"])
    },
    Builtin {
        categories: ALL,
        subresources: STATUS,
        generation: true,
        ..b("apps", "replicasets", "ReplicaSet", true, &["rs"])
    },
    Builtin {
        categories: ALL,
        subresources: STATUS,
        generation: true,
        ..b("apps", "statefulsets", "StatefulSet", true, &["sts"])
    },
    Builtin {
        verbs: CREATE,
        ..b(
            "authorization.k8s.io",
            "localsubjectaccessreviews",
            "LocalSubjectAccessReview",
            true,
            &[],
        )
    },
    Builtin {
        verbs: CREATE,
        ..b(
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "SelfSubjectAccessReview",
            false,
            &[],
        )
    },
    Builtin {
        verbs: CREATE,
        ..b(
            "authorization.k8s.io",
            "selfsubjectrulesreviews",
            "SelfSubjectRulesReview",
            false,
            &[],
        )
    },
    Builtin {
        verbs: CREATE,
        ..b(
            "authorization.k8s.io",
            "subjectaccessreviews",
            "SubjectAccessReview",
            false,
            &[],
        )
    },
    b(
        "rbac.authorization.k8s.io",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
    ),
    b(
        "rbac.authorization.k8s.io",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
    ),
    b("rbac.authorization.k8s.io", "roles", "Role", true, &[]),
    Builtin {
        categories: API_EXT,
        generation: true,
        ..b(
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations",
            "MutatingWebhookConfiguration",
            false,
            &[],
        )
    },
    Builtin {
        categories: API_EXT,
        generation: true,
        ..b(
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "ValidatingWebhookConfiguration",
            false,
            &[],
        )
    },
    Builtin {
        categories: API_EXT,
        subresources: STATUS,
        generation: true,
        ..b(
            CRD_GROUP,
            "customresourcedefinitions",
            CRD_KIND,
            false,
            &["crd", "crds"],
        )
    },
    b("coordination.k8s.io", "leases", "Lease", true, &[]),
];

/// Order of built-in groups in `/apis` (as in a real server).
const GROUP_ORDER: &[&str] = &[
    "apps",
    "authorization.k8s.io",
    "rbac.authorization.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "coordination.k8s.io",
];

/// Whether objects of this kind carry `metadata.generation` on a real
/// server: built-in kinds that track it, and every custom resource.
pub(crate) fn tracks_generation(group: &str, kind: &str) -> bool {
    match BUILTINS.iter().find(|b| b.group == group && b.kind == kind) {
        Some(b) => b.generation,
        None => !BUILTINS.iter().any(|b| b.group == group),
    }
}

fn builtin_types() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|bt| ResourceType {
            group: bt.group.into(),
            version: bt.version.into(),
            resource: bt.resource.into(),
            singular: bt.kind.to_lowercase(),
            kind: bt.kind.into(),
            list_kind: format!("{}List", bt.kind),
            namespaced: bt.namespaced,
            short_names: bt.short.iter().map(|s| s.to_string()).collect(),
            categories: bt.categories.iter().map(|s| s.to_string()).collect(),
            verbs: bt.verbs.to_vec(),
            subresources: bt.subresources.to_vec(),
            builtin: true,
            generation: bt.generation,
            return_deleted_object: bt.return_deleted_object,
            virtual_create_only: bt.verbs == CREATE,
        })
        .collect()
}

/// The served types of one CRD object (one per served version).
fn crd_types(crd: &Value) -> Vec<ResourceType> {
    let spec = match crd.get("spec") {
        Some(s) => s,
        None => return Vec::new(),
    };
    let group = meta::str_field(spec, &["group"]);
    let plural = meta::str_field(spec, &["names", "plural"]);
    let kind = meta::str_field(spec, &["names", "kind"]);
    if group.is_empty() || plural.is_empty() || kind.is_empty() {
        return Vec::new();
    }
    let singular = match meta::str_field(spec, &["names", "singular"]) {
        "" => kind.to_lowercase(),
        s => s.to_string(),
    };
    let list_kind = match meta::str_field(spec, &["names", "listKind"]) {
        "" => format!("{kind}List"),
        s => s.to_string(),
    };
    let namespaced = meta::str_field(spec, &["scope"]) != "Cluster";
    let names = spec.get("names");
    let short_names = meta::string_list(names.and_then(|n| n.get("shortNames")));
    let categories = meta::string_list(names.and_then(|n| n.get("categories")));
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|v| {
            let version = meta::str_field(v, &["name"]);
            if version.is_empty() {
                return None;
            }
            let status = v
                .get("subresources")
                .and_then(|s| s.get("status"))
                .is_some();
            Some(ResourceType {
                group: group.into(),
                version: version.into(),
                resource: plural.into(),
                singular: singular.clone(),
                kind: kind.into(),
                list_kind: list_kind.clone(),
                namespaced,
                short_names: short_names.clone(),
                categories: categories.clone(),
                verbs: FULL.to_vec(),
                subresources: if status { vec!["status"] } else { vec![] },
                builtin: false,
                generation: true,
                return_deleted_object: false,
                virtual_create_only: false,
            })
        })
        .collect()
}

/// A served API group with its versions, most preferred first.
#[derive(Debug, Clone)]
pub(crate) struct GroupInfo {
    pub name: String,
    pub versions: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    types: Vec<ResourceType>,
}

impl Catalog {
    pub fn build(store: &Store) -> Catalog {
        let mut types = builtin_types();
        for crd in store.list(CRD_GROUP, CRD_KIND) {
            for t in crd_types(crd) {
                // A built-in resource cannot be shadowed by a CRD.
                if !types.iter().any(|x| {
                    x.group == t.group && x.version == t.version && x.resource == t.resource
                }) {
                    types.push(t);
                }
            }
        }
        Catalog { types }
    }

    pub fn lookup(&self, group: &str, version: &str, resource: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.resource == resource)
    }

    pub fn group_version_served(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.version == version)
    }

    /// The type of a kind in its preferred version.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&ResourceType> {
        let mut candidates: Vec<&ResourceType> = self
            .types
            .iter()
            .filter(|t| t.group == group && t.kind == kind)
            .collect();
        candidates.sort_by(|a, b| compare_versions(&a.version, &b.version));
        candidates.into_iter().next()
    }

    /// The type for an exact apiVersion + kind (falls back to any version).
    pub fn by_api_version_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = meta::split_api_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .or_else(|| self.by_kind(group, kind))
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        self.types
            .iter()
            .filter(|t| t.group == group && t.version == version)
            .collect()
    }

    /// Every served named group (not the core group), in discovery order.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let mut names: Vec<String> = Vec::new();
        for t in &self.types {
            if !t.group.is_empty() && !names.contains(&t.group) {
                names.push(t.group.clone());
            }
        }
        names.sort_by(|a, b| {
            let pa = GROUP_ORDER
                .iter()
                .position(|g| g == a)
                .unwrap_or(usize::MAX);
            let pb = GROUP_ORDER
                .iter()
                .position(|g| g == b)
                .unwrap_or(usize::MAX);
            pa.cmp(&pb).then_with(|| a.cmp(b))
        });
        names
            .into_iter()
            .map(|name| {
                let mut versions: Vec<String> = Vec::new();
                for t in self.types.iter().filter(|t| t.group == name) {
                    if !versions.contains(&t.version) {
                        versions.push(t.version.clone());
                    }
                }
                versions.sort_by(|a, b| compare_versions(a, b));
                GroupInfo { name, versions }
            })
            .collect()
    }

    /// One type per (group, kind), preferred version, that lives in namespaces
    /// and is stored (what the namespace controller deletes).
    pub fn namespaced_kinds(&self) -> Vec<&ResourceType> {
        let mut out: Vec<&ResourceType> = Vec::new();
        for t in &self.types {
            if !t.namespaced || t.virtual_create_only {
                continue;
            }
            if out.iter().any(|o| o.group == t.group && o.kind == t.kind) {
                continue;
            }
            if let Some(p) = self.by_kind(&t.group, &t.kind) {
                out.push(p);
            }
        }
        out
    }
}

/// Kubernetes' version priority (`version.CompareKubeAwareVersionStrings`),
/// as an ordering where the most preferred version sorts first.
pub(crate) fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parse(v: &str) -> Option<(u64, u8, u64)> {
        let rest = v.strip_prefix('v')?;
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits_end].parse().ok()?;
        let tail = &rest[digits_end..];
        if tail.is_empty() {
            return Some((major, 2, 0));
        }
        let (stage, minor) = if let Some(m) = tail.strip_prefix("beta") {
            (1, m)
        } else if let Some(m) = tail.strip_prefix("alpha") {
            (0, m)
        } else {
            return None;
        };
        let minor: u64 = if minor.is_empty() {
            0
        } else {
            minor.parse().ok()?
        };
        Some((major, stage, minor))
    }
    match (parse(a), parse(b)) {
        (Some(pa), Some(pb)) => {
            // GA > beta > alpha, then higher major, then higher minor.
            pb.1.cmp(&pa.1).then(pb.0.cmp(&pa.0)).then(pb.2.cmp(&pa.2))
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_priority() {
        let mut v = vec!["v1alpha1", "v2", "foo", "v1", "v1beta2", "v1beta1", "v10"];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            vec!["v10", "v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
    }

    #[test]
    fn builtins_are_served() {
        let c = Catalog::build(&Store::default());
        let pods = c.lookup("", "v1", "pods").expect("pods");
        assert!(pods.namespaced && pods.has_subresource("log"));
        assert!(c.lookup("apps", "v1", "deployments").is_some());
        assert!(
            c.lookup("actions.github.com", "v1alpha1", "autoscalinglisteners")
                .is_none()
        );
    }
}
