//! Offline RBAC evaluation over the collected Roles/RoleBindings/ClusterRoles/ClusterRoleBindings.
//!
//! Used when the caller may not create SubjectAccessReviews. Answers `None` when the bindings
//! that could grant the permission were not (fully) listed — "not checked", never "denied".
//! Aggregated ClusterRoles are evaluated from their stored rules (the API server keeps them
//! filled in), so no aggregation logic is needed here.

use crate::node::Node;

use crate::snapshot::{Lookup, Object, Snapshot};

/// Groups a ServiceAccount user belongs to.
pub fn service_account_groups(user: &str) -> Vec<String> {
    let mut groups = vec!["system:authenticated".to_owned()];
    if let Some(rest) = user.strip_prefix("system:serviceaccount:") {
        groups.push("system:serviceaccounts".to_owned());
        if let Some((ns, _)) = rest.split_once(':') {
            groups.push(format!("system:serviceaccounts:{ns}"));
        }
    }
    groups
}

fn subject_matches(s: &Node, user: &str, groups: &[String]) -> bool {
    let kind = s["kind"].as_str().unwrap_or("");
    let name = s["name"].as_str().unwrap_or("");
    match kind {
        "User" => name == user,
        "Group" => groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = s["namespace"].as_str().unwrap_or("");
            user == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn list_has(v: &Node, want: &str) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x.as_str().is_some_and(|x| x == "*" || x == want))
    })
}

/// Does one PolicyRule allow the request?
pub fn rule_allows(
    rule: &Node,
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
) -> bool {
    if !list_has(&rule["verbs"], verb) || !list_has(&rule["apiGroups"], group) {
        return false;
    }
    let resource_ok = rule["resources"].as_array().is_some_and(|rs| {
        rs.iter().filter_map(Node::as_str).any(|r| {
            r == "*"
                || r == resource
                || (resource.contains('/')
                    && r.strip_suffix("/*")
                        .is_some_and(|base| resource.starts_with(&format!("{base}/"))))
                || (r.starts_with("*/")
                    && resource
                        .split_once('/')
                        .is_some_and(|(_, sub)| Some(sub) == r.strip_prefix("*/")))
        })
    });
    if !resource_ok {
        return false;
    }
    match rule["resourceNames"].as_array() {
        Some(names) if !names.is_empty() => {
            name.is_some_and(|n| names.iter().any(|x| x.as_str() == Some(n)))
        }
        _ => true,
    }
}

fn role_rules<'a>(snap: &'a Snapshot, binding: &Object) -> Option<&'a [Node]> {
    let kind = binding.str("/roleRef/kind").unwrap_or("");
    let name = binding.str("/roleRef/name").unwrap_or("");
    let lookup = match kind {
        "ClusterRole" => snap.cluster_roles.get(None, name),
        "Role" => snap.roles.get(binding.meta.namespace, name),
        _ => Lookup::Missing,
    };
    match lookup {
        Lookup::Found(r) => Some(r.array("/rules")),
        Lookup::Missing => Some(&[]),
        Lookup::Unknown => None,
    }
}

/// The attributes of one authorization request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attrs<'a> {
    pub verb: &'a str,
    /// API group, "" for core.
    pub group: &'a str,
    /// Resource, optionally with subresource (`pods/log`).
    pub resource: &'a str,
    /// Namespace, "" for cluster scope.
    pub namespace: &'a str,
    pub name: Option<&'a str>,
}

/// Evaluate a request for `user` (with `groups`).
/// `Some(true)` allowed; `Some(false)` denied with full visibility; `None` unknown.
pub fn allows(snap: &Snapshot, user: &str, groups: &[String], a: Attrs<'_>) -> Option<bool> {
    let Attrs {
        verb,
        group,
        resource,
        namespace,
        name,
    } = a;
    if groups.iter().any(|g| g == "system:masters") {
        return Some(true);
    }
    let mut unknown = false;
    let mut check = |binding: &Object| -> bool {
        if !binding
            .array("/subjects")
            .iter()
            .any(|s| subject_matches(s, user, groups))
        {
            return false;
        }
        match role_rules(snap, binding) {
            Some(rules) => rules
                .iter()
                .any(|r| rule_allows(r, verb, group, resource, name)),
            None => {
                unknown = true;
                false
            }
        }
    };
    if snap.cluster_role_bindings.iter().any(&mut check) {
        return Some(true);
    }
    if !namespace.is_empty() && snap.role_bindings.in_namespace(namespace).any(&mut check) {
        return Some(true);
    }
    let visible = snap.cluster_role_bindings.scope.covers(None)
        && (namespace.is_empty() || snap.role_bindings.scope.covers(Some(namespace)));
    if unknown || !visible {
        None
    } else {
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Collection;
    use serde_json::json;

    fn o(kind: &str, v: serde_json::Value) -> Object {
        Object::from_json(kind, v)
    }

    fn snap() -> Snapshot {
        Snapshot {
            roles: Collection::all(vec![o(
                "Role",
                json!({"metadata":{"name":"mgr","namespace":"r"},
                       "rules":[{"apiGroups":[""],"resources":["secrets"],"verbs":["get","list"]},
                                {"apiGroups":["actions.github.com"],"resources":["ephemeralrunnersets"],"verbs":["patch"],"resourceNames":["e1"]}]}),
            )]),
            role_bindings: Collection::all(vec![o(
                "RoleBinding",
                json!({"metadata":{"name":"mgr","namespace":"r"},
                       "roleRef":{"kind":"Role","name":"mgr","apiGroup":"rbac.authorization.k8s.io"},
                       "subjects":[{"kind":"ServiceAccount","name":"ctrl","namespace":"c"}]}),
            )]),
            cluster_roles: Collection::all(vec![o(
                "ClusterRole",
                json!({"metadata":{"name":"cr"},"rules":[{"apiGroups":["*"],"resources":["pods/*"],"verbs":["get"]}]}),
            )]),
            cluster_role_bindings: Collection::all(vec![o(
                "ClusterRoleBinding",
                json!({"metadata":{"name":"crb"},"roleRef":{"kind":"ClusterRole","name":"cr"},
                       "subjects":[{"kind":"Group","name":"system:serviceaccounts:c"}]}),
            )]),
            ..Snapshot::default()
        }
    }

    #[test]
    fn evaluates_namespaced_and_cluster_bindings() {
        let s = snap();
        let u = "system:serviceaccount:c:ctrl";
        let g = service_account_groups(u);
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "get",
                    group: "",
                    resource: "secrets",
                    namespace: "r",
                    name: None
                }
            ),
            Some(true)
        );
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "get",
                    group: "",
                    resource: "secrets",
                    namespace: "other",
                    name: None
                }
            ),
            Some(false)
        );
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "delete",
                    group: "",
                    resource: "secrets",
                    namespace: "r",
                    name: None
                }
            ),
            Some(false)
        );
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "get",
                    group: "",
                    resource: "pods/log",
                    namespace: "x",
                    name: None
                }
            ),
            Some(true)
        );
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "get",
                    group: "",
                    resource: "pods",
                    namespace: "x",
                    name: None
                }
            ),
            Some(false)
        );
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "patch",
                    group: "actions.github.com",
                    resource: "ephemeralrunnersets",
                    namespace: "r",
                    name: Some("e1")
                }
            ),
            Some(true)
        );
        assert_eq!(
            allows(
                &s,
                u,
                &g,
                Attrs {
                    verb: "patch",
                    group: "actions.github.com",
                    resource: "ephemeralrunnersets",
                    namespace: "r",
                    name: Some("e2")
                }
            ),
            Some(false)
        );
        let other = "system:serviceaccount:d:ctrl";
        assert_eq!(
            allows(
                &s,
                other,
                &service_account_groups(other),
                Attrs {
                    verb: "get",
                    group: "",
                    resource: "secrets",
                    namespace: "r",
                    name: None
                }
            ),
            Some(false)
        );
    }

    #[test]
    fn unknown_when_bindings_not_visible() {
        let mut s = snap();
        s.role_bindings.scope = crate::snapshot::Scope::None;
        let u = "system:serviceaccount:c:ctrl";
        // The namespaced binding that would grant it is invisible: unknown, not denied.
        assert_eq!(
            allows(
                &s,
                u,
                &service_account_groups(u),
                Attrs {
                    verb: "delete",
                    group: "",
                    resource: "secrets",
                    namespace: "r",
                    name: None
                }
            ),
            None
        );
    }
}
