//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{g}`,
//! `/apis/{g}/{v}`, plus the aggregated (apidiscovery.k8s.io/v2) form of
//! `/api` and `/apis` that newer clients ask for first.

use serde_json::{Value, json};

use crate::catalog::{Catalog, ResourceType};

pub(crate) const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z",
        "goVersion": "go1.23.3",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group_value(g: &crate::catalog::GroupInfo) -> Value {
    let versions: Vec<Value> = g
        .versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{}/{}", g.name, v), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(json!({}));
    json!({"name": g.name, "versions": versions, "preferredVersion": preferred})
}

pub(crate) fn group_list(catalog: &Catalog) -> Value {
    let groups: Vec<Value> = catalog.groups().iter().map(group_value).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(crate) fn group(catalog: &Catalog, name: &str) -> Option<Value> {
    let g = catalog.groups().into_iter().find(|g| g.name == name)?;
    let mut v = group_value(&g);
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), json!("APIGroup"));
        m.insert("apiVersion".into(), json!("v1"));
    }
    Some(v)
}

fn sub_verbs(sub: &str) -> Vec<&'static str> {
    match sub {
        "log" => vec!["get"],
        "finalize" => vec!["update"],
        _ => vec!["get", "patch", "update"],
    }
}

fn resource_entries(t: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": t.resource,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": t.verbs,
    });
    if let Some(m) = main.as_object_mut() {
        if !t.short_names.is_empty() {
            m.insert("shortNames".into(), json!(t.short_names));
        }
        if !t.categories.is_empty() {
            m.insert("categories".into(), json!(t.categories));
        }
    }
    let mut out = vec![main];
    for sub in &t.subresources {
        out.push(json!({
            "name": format!("{}/{}", t.resource, sub),
            "singularName": "",
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": sub_verbs(sub),
        }));
    }
    out
}

pub(crate) fn resource_list(catalog: &Catalog, group: &str, version: &str) -> Option<Value> {
    if !catalog.group_version_served(group, version) {
        return None;
    }
    let mut types = catalog.resources_in(group, version);
    types.sort_by(|a, b| a.resource.cmp(&b.resource));
    let resources: Vec<Value> = types.iter().flat_map(|t| resource_entries(t)).collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn aggregated_resource(t: &ResourceType) -> Value {
    let mut r = json!({
        "resource": t.resource,
        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
        "scope": if t.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": t.singular,
        "verbs": t.verbs,
    });
    if let Some(m) = r.as_object_mut() {
        if !t.short_names.is_empty() {
            m.insert("shortNames".into(), json!(t.short_names));
        }
        if !t.categories.is_empty() {
            m.insert("categories".into(), json!(t.categories));
        }
        if !t.subresources.is_empty() {
            let subs: Vec<Value> = t
                .subresources
                .iter()
                .map(|s| {
                    json!({
                        "subresource": s,
                        "responseKind": {"group": t.group, "version": t.version, "kind": t.kind},
                        "verbs": sub_verbs(s),
                    })
                })
                .collect();
            m.insert("subresources".into(), json!(subs));
        }
    }
    r
}

fn aggregated_group(catalog: &Catalog, name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let mut types = catalog.resources_in(name, v);
            types.sort_by(|a, b| a.resource.cmp(&b.resource));
            let resources: Vec<Value> = types.iter().map(|t| aggregated_resource(t)).collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": name, "creationTimestamp": null}, "versions": versions})
}

/// Aggregated discovery for `/api` (core) or `/apis` (named groups).
pub(crate) fn aggregated(catalog: &Catalog, core: bool) -> Value {
    let items: Vec<Value> = if core {
        vec![aggregated_group(catalog, "", &["v1".to_string()])]
    } else {
        catalog
            .groups()
            .iter()
            .map(|g| aggregated_group(catalog, &g.name, &g.versions))
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items
    })
}

/// Whether an `Accept` header asks for aggregated discovery v2 first.
pub(crate) fn wants_aggregated(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        let has = |p: &str| params.iter().any(|x| x.eq_ignore_ascii_case(p));
        if has("g=apidiscovery.k8s.io") && has("v=v2") && has("as=APIGroupDiscoveryList") {
            return true;
        }
        // A plain JSON alternative listed earlier wins.
        if params
            .first()
            .is_some_and(|t| *t == "application/json" || *t == "*/*")
            && params.len() == 1
        {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn core_resources_include_subresources() {
        let c = Catalog::build(&Store::default());
        let l = resource_list(&c, "", "v1").expect("served");
        let names: Vec<&str> = l["resources"]
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        for want in [
            "pods",
            "pods/log",
            "pods/status",
            "namespaces/finalize",
            "namespaces/status",
            "secrets",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(resource_list(&c, "actions.github.com", "v1alpha1").is_none());
    }

    #[test]
    fn aggregated_accept_detection() {
        assert!(wants_aggregated(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        )));
        assert!(!wants_aggregated(Some("application/json, */*")));
        assert!(!wants_aggregated(None));
    }
}
