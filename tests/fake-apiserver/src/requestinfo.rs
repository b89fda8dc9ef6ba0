//! `RequestInfo` as k8s.io/apiserver/pkg/endpoints/request computes it: the
//! attributes authorization is evaluated on.

use crate::rbac::Attributes;
use crate::selectors::FieldSelector;

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestInfo {
    pub is_resource: bool,
    pub path: String,
    pub verb: String,
    pub api_prefix: String,
    pub group: String,
    pub version: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    pub parts: Vec<String>,
}

impl RequestInfo {
    pub fn attributes(&self) -> Attributes {
        if self.is_resource {
            Attributes::resource(
                &self.verb,
                &self.group,
                &self.resource,
                &self.subresource,
                &self.namespace,
                &self.name,
            )
        } else {
            Attributes::NonResource {
                verb: self.verb.clone(),
                path: self.path.clone(),
            }
        }
    }
}

/// Parse method + path + query into a `RequestInfo`.
pub(crate) fn parse(method: &str, path: &str, query: &[(String, String)]) -> RequestInfo {
    let mut info = RequestInfo {
        path: path.to_string(),
        verb: method.to_lowercase(),
        ..Default::default()
    };
    let mut parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if parts.len() < 3 || !(parts[0] == "api" || parts[0] == "apis") {
        return info;
    }
    info.api_prefix = parts.remove(0);
    if info.api_prefix == "apis" {
        if parts.len() < 3 {
            return info;
        }
        info.group = parts.remove(0);
    }
    info.is_resource = true;
    info.version = parts.remove(0);

    let mut via_method = false;
    if parts[0] == "watch" || parts[0] == "proxy" {
        if parts.len() < 2 {
            info.is_resource = false;
            return info;
        }
        info.verb = parts.remove(0);
    } else {
        via_method = true;
        info.verb = match method {
            "POST" => "create",
            "GET" | "HEAD" => "get",
            "PUT" => "update",
            "PATCH" => "patch",
            "DELETE" => "delete",
            _ => "",
        }
        .to_string();
    }

    if parts[0] == "namespaces" && parts.len() > 1 {
        info.namespace = parts[1].clone();
        if parts.len() > 2 && !(parts[2] == "status" || parts[2] == "finalize") {
            parts.drain(..2);
        }
    }
    info.parts = parts.clone();
    if parts.len() >= 3 && info.verb != "proxy" {
        info.subresource = parts[2].clone();
    }
    if parts.len() >= 2 {
        info.name = parts[1].clone();
    }
    info.resource = parts[0].clone();

    if info.name.is_empty() && info.verb == "get" {
        let watch = query
            .iter()
            .any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
        info.verb = if watch { "watch" } else { "list" }.to_string();
        if let Some((_, fs)) = query.iter().find(|(k, _)| k == "fieldSelector")
            && let Ok(sel) = FieldSelector::parse(fs)
            && let Some(name) = sel.exact("metadata.name")
            && !name.contains('/')
            && !name.is_empty()
            && name != "."
            && name != ".."
        {
            info.name = name.to_string();
        }
    }
    if via_method && info.name.is_empty() && info.verb == "delete" {
        info.verb = "deletecollection".to_string();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn namespaced_get() {
        let i = parse("GET", "/api/v1/namespaces/ns/secrets/x", &[]);
        assert!(i.is_resource);
        assert_eq!(
            (
                i.verb.as_str(),
                i.namespace.as_str(),
                i.resource.as_str(),
                i.name.as_str()
            ),
            ("get", "ns", "secrets", "x")
        );
    }

    #[test]
    fn namespace_object_has_its_own_namespace() {
        let i = parse("GET", "/api/v1/namespaces/arc", &[]);
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.namespace.as_str()),
            ("namespaces", "arc", "arc")
        );
        let i = parse("PUT", "/api/v1/namespaces/arc/finalize", &[]);
        assert_eq!(
            (i.resource.as_str(), i.subresource.as_str(), i.verb.as_str()),
            ("namespaces", "finalize", "update")
        );
        let i = parse("GET", "/api/v1/namespaces", &[]);
        assert_eq!((i.verb.as_str(), i.namespace.as_str()), ("list", ""));
    }

    #[test]
    fn lists_and_collections() {
        let i = parse("GET", "/apis/apps/v1/deployments", &q(&[("limit", "5")]));
        assert_eq!(
            (i.verb.as_str(), i.group.as_str(), i.namespace.as_str()),
            ("list", "apps", "")
        );
        let i = parse(
            "GET",
            "/api/v1/namespaces/ns/pods",
            &q(&[("watch", "true")]),
        );
        assert_eq!(i.verb, "watch");
        let i = parse(
            "GET",
            "/api/v1/namespaces/ns/secrets",
            &q(&[("fieldSelector", "metadata.name=s1")]),
        );
        assert_eq!((i.verb.as_str(), i.name.as_str()), ("list", "s1"));
        let i = parse("DELETE", "/api/v1/namespaces/ns/secrets", &[]);
        assert_eq!(i.verb, "deletecollection");
        let i = parse("GET", "/api/v1/namespaces/ns/pods/p/log", &[]);
        assert_eq!(
            (i.resource.as_str(), i.subresource.as_str()),
            ("pods", "log")
        );
    }

    #[test]
    fn discovery_is_non_resource() {
        assert!(!parse("GET", "/apis/apps/v1", &[]).is_resource);
        assert!(!parse("GET", "/api/v1", &[]).is_resource);
        assert!(!parse("GET", "/version", &[]).is_resource);
        assert_eq!(parse("GET", "/version", &[]).verb, "get");
    }
}
