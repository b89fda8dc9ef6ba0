//! RBAC evaluation over the stored Role/RoleBinding/ClusterRole/
//! ClusterRoleBinding objects, following k8s.io/kubernetes/pkg/registry/rbac/validation
//! and plugin/pkg/auth/authorizer/rbac, plus the `system:masters` group and the
//! default discovery/basic-user bindings every real cluster has.

use serde_json::{Value, json};

use crate::meta;
use crate::selectors::LabelSelector;
use crate::store::{ObjKey, Store};

const RBAC: &str = "rbac.authorization.k8s.io";

/// An authenticated (or impersonated) user.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

/// Request attributes as the authorizer sees them.
#[derive(Debug, Clone)]
pub(crate) enum Attributes {
    Resource {
        verb: String,
        group: String,
        resource: String,
        subresource: String,
        namespace: String,
        name: String,
    },
    NonResource {
        verb: String,
        path: String,
    },
}

impl Attributes {
    pub fn resource(
        verb: &str,
        group: &str,
        resource: &str,
        subresource: &str,
        namespace: &str,
        name: &str,
    ) -> Self {
        Attributes::Resource {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The `Forbidden` message (`forbiddenMessage` in the real authorization filter).
    pub fn forbidden_message(&self, user: &str) -> String {
        match self {
            Attributes::NonResource { verb, path } => {
                format!("User \"{user}\" cannot {verb} path \"{path}\"")
            }
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                namespace,
                ..
            } => {
                let res = if subresource.is_empty() {
                    resource.clone()
                } else {
                    format!("{resource}/{subresource}")
                };
                if namespace.is_empty() {
                    format!(
                        "User \"{user}\" cannot {verb} resource \"{res}\" in API group \"{group}\" at the cluster scope"
                    )
                } else {
                    format!(
                        "User \"{user}\" cannot {verb} resource \"{res}\" in API group \"{group}\" in the namespace \"{namespace}\""
                    )
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub allowed: bool,
    pub reason: String,
}

/// A policy rule.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rule {
    pub verbs: Vec<String>,
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
    pub non_resource_urls: Vec<String>,
}

impl Rule {
    fn from_value(v: &Value) -> Rule {
        Rule {
            verbs: meta::string_list(v.get("verbs")),
            api_groups: meta::string_list(v.get("apiGroups")),
            resources: meta::string_list(v.get("resources")),
            resource_names: meta::string_list(v.get("resourceNames")),
            non_resource_urls: meta::string_list(v.get("nonResourceURLs")),
        }
    }

    pub fn to_value(&self) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("verbs".into(), json!(self.verbs));
        if !self.api_groups.is_empty() || self.non_resource_urls.is_empty() {
            m.insert("apiGroups".into(), json!(self.api_groups));
        }
        if !self.resources.is_empty() {
            m.insert("resources".into(), json!(self.resources));
        }
        if !self.resource_names.is_empty() {
            m.insert("resourceNames".into(), json!(self.resource_names));
        }
        if !self.non_resource_urls.is_empty() {
            m.insert("nonResourceURLs".into(), json!(self.non_resource_urls));
        }
        Value::Object(m)
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == "*" || v == verb)
    }

    fn group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == "*" || g == group)
    }

    fn resource_matches(&self, resource: &str, subresource: &str) -> bool {
        let combined = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        self.resources.iter().any(|r| {
            r == "*"
                || *r == combined
                || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
        })
    }

    fn name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty()
            || (!name.is_empty() && self.resource_names.iter().any(|n| n == name))
    }

    fn url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|u| {
            u == "*" || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*')))
        })
    }

    pub fn allows(&self, attrs: &Attributes) -> bool {
        match attrs {
            Attributes::Resource {
                verb,
                group,
                resource,
                subresource,
                name,
                ..
            } => {
                self.verb_matches(verb)
                    && self.group_matches(group)
                    && self.resource_matches(resource, subresource)
                    && self.name_matches(name)
            }
            Attributes::NonResource { verb, path } => {
                self.verb_matches(verb) && self.url_matches(path)
            }
        }
    }
}

/// The default cluster roles/bindings of a real cluster that matter to
/// clients: discovery, basic-user (self reviews) and public-info-viewer.
fn default_cluster_roles() -> Vec<Value> {
    vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:discovery"},
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:basic-user"},
        "rules": [
            {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
            {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:public-info-viewer"},
            "rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]}]}),
    ]
}

fn default_cluster_role_bindings() -> Vec<Value> {
    let binding = |name: &str, groups: &[&str]| {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": RBAC, "kind": "Group", "name": g}))
            .collect();
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": name},
            "subjects": subjects})
    };
    vec![
        binding("system:discovery", &["system:authenticated"]),
        binding("system:basic-user", &["system:authenticated"]),
        binding(
            "system:public-info-viewer",
            &["system:authenticated", "system:unauthenticated"],
        ),
    ]
}

/// Stored objects of a kind plus the defaults not overridden by name.
fn with_defaults(store: &Store, kind: &str, defaults: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = store.list(RBAC, kind).cloned().collect();
    for d in defaults {
        if !out.iter().any(|o| meta::name(o) == meta::name(&d)) {
            out.push(d);
        }
    }
    out
}

struct Subject {
    kind: String,
    name: String,
    namespace: String,
}

fn subjects(binding: &Value) -> Vec<Subject> {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| Subject {
                    kind: meta::str_field(s, &["kind"]).into(),
                    name: meta::str_field(s, &["name"]).into(),
                    namespace: meta::str_field(s, &["namespace"]).into(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `appliesTo` of the real rule resolver: the first subject that matches.
fn applies_to<'a>(user: &UserInfo, subs: &'a [Subject], binding_ns: &str) -> Option<&'a Subject> {
    subs.iter().find(|s| match s.kind.as_str() {
        "User" => s.name == user.name,
        "Group" => user.groups.contains(&s.name),
        "ServiceAccount" => {
            let ns = if s.namespace.is_empty() {
                binding_ns
            } else {
                &s.namespace
            };
            !ns.is_empty() && user.name == format!("system:serviceaccount:{ns}:{}", s.name)
        }
        _ => false,
    })
}

fn describe_subject(s: &Subject, binding_ns: &str) -> String {
    if s.kind == "ServiceAccount" {
        let ns = if s.namespace.is_empty() {
            binding_ns
        } else {
            &s.namespace
        };
        format!("{} \"{}/{}\"", s.kind, s.name, ns)
    } else {
        format!("{} \"{}\"", s.kind, s.name)
    }
}

fn rules_of(role: &Value) -> Vec<Rule> {
    role.get("rules")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Rule::from_value).collect())
        .unwrap_or_default()
}

/// A rule together with where it came from.
pub(crate) struct SourcedRule {
    pub rule: Rule,
    pub source: String,
}

/// Everything the resolver visits for a user in a namespace: rules and
/// errors (missing roles).
pub(crate) struct Resolved {
    pub rules: Vec<SourcedRule>,
    pub errors: Vec<String>,
}

/// `VisitRulesFor`: cluster role bindings, then role bindings of `namespace`.
pub(crate) fn resolve(store: &Store, user: &UserInfo, namespace: &str) -> Resolved {
    let cluster_roles = with_defaults(store, "ClusterRole", default_cluster_roles());
    let cluster_role_rules = |name: &str| -> Option<Vec<Rule>> {
        let role = cluster_roles.iter().find(|r| meta::name(r) == name)?;
        let mut rules = rules_of(role);
        // Aggregated ClusterRoles: the controller copies the rules of every
        // ClusterRole matching the selectors.
        if let Some(selectors) = role
            .get("aggregationRule")
            .and_then(|a| a.get("clusterRoleSelectors"))
            .and_then(Value::as_array)
        {
            for sel in selectors.iter().filter_map(LabelSelector::from_object) {
                for other in &cluster_roles {
                    if meta::name(other) != name && sel.matches(&meta::labels(other)) {
                        for r in rules_of(other) {
                            if !rules.contains(&r) {
                                rules.push(r);
                            }
                        }
                    }
                }
            }
        }
        Some(rules)
    };
    let mut out = Resolved {
        rules: Vec::new(),
        errors: Vec::new(),
    };

    for crb in with_defaults(store, "ClusterRoleBinding", default_cluster_role_bindings()) {
        let subs = subjects(&crb);
        let Some(subject) = applies_to(user, &subs, "") else {
            continue;
        };
        let role_kind = meta::str_field(&crb, &["roleRef", "kind"]);
        let role_name = meta::str_field(&crb, &["roleRef", "name"]);
        if role_kind != "ClusterRole" {
            continue;
        }
        match cluster_role_rules(role_name) {
            Some(rules) => {
                let source = format!(
                    "ClusterRoleBinding \"{}\" of ClusterRole \"{}\" to {}",
                    meta::name(&crb),
                    role_name,
                    describe_subject(subject, "")
                );
                out.rules.extend(rules.into_iter().map(|rule| SourcedRule {
                    rule,
                    source: source.clone(),
                }));
            }
            None => out.errors.push(format!(
                "clusterrole.rbac.authorization.k8s.io \"{role_name}\" not found"
            )),
        }
    }

    if !namespace.is_empty() {
        let bindings: Vec<Value> = store
            .list(RBAC, "RoleBinding")
            .filter(|b| meta::namespace(b) == namespace)
            .cloned()
            .collect();
        for rb in bindings {
            let subs = subjects(&rb);
            let Some(subject) = applies_to(user, &subs, namespace) else {
                continue;
            };
            let role_kind = meta::str_field(&rb, &["roleRef", "kind"]);
            let role_name = meta::str_field(&rb, &["roleRef", "name"]);
            let rules = match role_kind {
                "Role" => store
                    .get(&ObjKey::new(RBAC, "Role", namespace, role_name))
                    .map(rules_of)
                    .ok_or_else(|| {
                        format!("role.rbac.authorization.k8s.io \"{role_name}\" not found")
                    }),
                "ClusterRole" => cluster_role_rules(role_name).ok_or_else(|| {
                    format!("clusterrole.rbac.authorization.k8s.io \"{role_name}\" not found")
                }),
                _ => continue,
            };
            match rules {
                Ok(rules) => {
                    let source = format!(
                        "RoleBinding \"{}/{}\" of {} \"{}\" to {}",
                        meta::name(&rb),
                        namespace,
                        role_kind,
                        role_name,
                        describe_subject(subject, namespace)
                    );
                    out.rules.extend(rules.into_iter().map(|rule| SourcedRule {
                        rule,
                        source: source.clone(),
                    }));
                }
                Err(e) => out.errors.push(e),
            }
        }
    }
    out
}

pub(crate) fn is_privileged(user: &UserInfo) -> bool {
    user.groups.iter().any(|g| g == "system:masters")
}

/// Authorize a request.
pub(crate) fn authorize(store: &Store, user: &UserInfo, attrs: &Attributes) -> Decision {
    if is_privileged(user) {
        return Decision {
            allowed: true,
            reason: String::new(),
        };
    }
    let namespace = match attrs {
        Attributes::Resource { namespace, .. } => namespace.as_str(),
        Attributes::NonResource { .. } => "",
    };
    let resolved = resolve(store, user, namespace);
    for sr in &resolved.rules {
        // Non-resource rules only count from cluster-wide bindings; role
        // rules never carry nonResourceURLs.
        if sr.rule.allows(attrs) {
            return Decision {
                allowed: true,
                reason: format!("RBAC: allowed by {}", sr.source),
            };
        }
    }
    let reason = match resolved.errors.len() {
        0 => String::new(),
        1 => format!("RBAC: {}", resolved.errors[0]),
        _ => format!("RBAC: [{}]", resolved.errors.join(", ")),
    };
    Decision {
        allowed: false,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(store: &mut Store, v: Value) {
        store.put(&ObjKey::of(&v), v);
    }

    fn user(name: &str) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: vec!["system:authenticated".into()],
        }
    }

    fn setup() -> Store {
        let mut s = Store::default();
        put(
            &mut s,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"namespace": "ns", "name": "reader"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["s1"]},
                      {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]}),
        );
        put(
            &mut s,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"namespace": "ns", "name": "rb"},
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa"}]}),
        );
        s
    }

    #[test]
    fn role_binding_scopes_to_namespace() {
        let s = setup();
        let alice = user("alice");
        assert!(
            authorize(
                &s,
                &alice,
                &Attributes::resource("list", "", "pods", "", "ns", "")
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &alice,
                &Attributes::resource("list", "", "pods", "", "", "")
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &alice,
                &Attributes::resource("list", "", "pods", "", "other", "")
            )
            .allowed
        );
        assert!(
            authorize(
                &s,
                &alice,
                &Attributes::resource("get", "", "pods", "log", "ns", "p")
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &alice,
                &Attributes::resource("get", "", "pods", "status", "ns", "p")
            )
            .allowed
        );
    }

    #[test]
    fn resource_names() {
        let s = setup();
        let alice = user("alice");
        assert!(
            authorize(
                &s,
                &alice,
                &Attributes::resource("get", "", "secrets", "", "ns", "s1")
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &alice,
                &Attributes::resource("get", "", "secrets", "", "ns", "s2")
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &alice,
                &Attributes::resource("list", "", "secrets", "", "ns", "")
            )
            .allowed
        );
    }

    #[test]
    fn service_account_subject_defaults_namespace() {
        let s = setup();
        let sa = UserInfo {
            name: "system:serviceaccount:ns:sa".into(),
            groups: vec![
                "system:serviceaccounts".into(),
                "system:serviceaccounts:ns".into(),
            ],
        };
        let d = authorize(
            &s,
            &sa,
            &Attributes::resource("list", "", "pods", "", "ns", ""),
        );
        assert!(d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: allowed by RoleBinding \"rb/ns\" of Role \"reader\" to ServiceAccount \"sa/ns\""
        );
    }

    #[test]
    fn discovery_defaults_and_missing_role_reason() {
        let mut s = setup();
        let bob = user("bob");
        assert!(
            authorize(
                &s,
                &bob,
                &Attributes::NonResource {
                    verb: "get".into(),
                    path: "/apis/apps/v1".into()
                }
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &bob,
                &Attributes::NonResource {
                    verb: "get".into(),
                    path: "/metrics".into()
                }
            )
            .allowed
        );
        put(
            &mut s,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "dangling"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "gone"},
            "subjects": [{"kind": "User", "name": "bob"}]}),
        );
        let d = authorize(
            &s,
            &bob,
            &Attributes::resource("list", "", "pods", "", "", ""),
        );
        assert!(!d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found"
        );
    }

    #[test]
    fn star_subresource_and_aggregation() {
        let mut s = Store::default();
        put(
            &mut s,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "agg"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]}}),
        );
        put(
            &mut s,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "part", "labels": {"agg": "true"}},
            "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]}]}),
        );
        put(
            &mut s,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "b"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "agg"},
            "subjects": [{"kind": "Group", "name": "devs"}]}),
        );
        let u = UserInfo {
            name: "x".into(),
            groups: vec!["devs".into()],
        };
        assert!(
            authorize(
                &s,
                &u,
                &Attributes::resource("patch", "apps", "deployments", "status", "ns", "d")
            )
            .allowed
        );
        assert!(
            !authorize(
                &s,
                &u,
                &Attributes::resource("patch", "apps", "deployments", "", "ns", "d")
            )
            .allowed
        );
    }
}
