//! Decode a LIST page straight into pruned [`Object`]s.
//!
//! The page text is parsed once, item by item: each item's `metadata` goes into a [`Meta`]
//! (`managedFields` and every other unread field are skipped without being built), and only the
//! body fields the analysis reads are built as JSON values ([`keeps_field`], [`prune_field`]).
//! No full JSON tree of a page or of an item is ever held, and the page text is dropped by the
//! caller as soon as it is decoded.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::intern::intern;
use crate::node::Node;
use crate::snapshot::{DROPPED_ANNOTATIONS, Meta, Object, OwnerRef, keeps_field, prune_field};

/// Decode one LIST page of `kind`, appending the items `keep` accepts to `out`. Returns the
/// page's continue token.
pub fn page(
    text: &str,
    kind: &str,
    keep: Option<fn(&Object) -> bool>,
    out: &mut Vec<Object>,
) -> Result<Option<String>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let token = PageSeed { kind, keep, out }.deserialize(&mut de)?;
    de.end()?;
    Ok(token)
}

struct PageSeed<'a> {
    kind: &'a str,
    keep: Option<fn(&Object) -> bool>,
    out: &'a mut Vec<Object>,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct ListMeta {
            #[serde(rename = "continue")]
            token: Option<String>,
        }
        let mut token = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "items" => map.next_value_seed(ItemsSeed {
                    kind: self.kind,
                    keep: self.keep,
                    out: self.out,
                })?,
                "metadata" => {
                    token = map
                        .next_value::<Option<ListMeta>>()?
                        .and_then(|m| m.token)
                        .filter(|t| !t.is_empty());
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(token)
    }
}

struct ItemsSeed<'a> {
    kind: &'a str,
    keep: Option<fn(&Object) -> bool>,
    out: &'a mut Vec<Object>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(o) = seq.next_element_seed(ObjectSeed { kind: self.kind })? {
            if self.keep.is_none_or(|keep| keep(&o)) {
                self.out.push(o);
            }
        }
        Ok(())
    }
}

struct ObjectSeed<'a> {
    kind: &'a str,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = Object;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Object, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = Object;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
        let mut meta = None;
        let mut body = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "metadata" {
                let raw = map.next_value::<Option<RawMeta>>()?.unwrap_or_default();
                meta = Some(raw.into_meta(self.kind));
            } else if keeps_field(self.kind, &key) {
                let mut v: Value = map.next_value()?;
                prune_field(self.kind, &key, &mut v);
                body.insert(key, v);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Object {
            meta: meta.unwrap_or_else(|| RawMeta::default().into_meta(self.kind)),
            body: if body.is_empty() {
                Node::Null
            } else {
                Node::from(Value::Object(body))
            },
        })
    }
}

/// `metadata` as the wire has it; unknown fields (`managedFields`, …) are skipped unbuilt.
/// Tolerant like [`Meta::from_json`]: nulls, and non-string labels or finalizers, are dropped.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawMeta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    #[serde(deserialize_with = "string_map")]
    labels: Vec<(String, String)>,
    #[serde(deserialize_with = "string_map")]
    annotations: Vec<(String, String)>,
    #[serde(deserialize_with = "strings")]
    finalizers: Vec<String>,
    deletion_timestamp: Option<String>,
    creation_timestamp: Option<String>,
    #[serde(deserialize_with = "owners")]
    owner_references: Vec<OwnerRef>,
}

impl RawMeta {
    fn into_meta(self, kind: &str) -> Meta {
        let s = |v: Option<String>| intern(v.as_deref().unwrap_or_default());
        Meta {
            kind: intern(kind),
            namespace: self.namespace.filter(|n| !n.is_empty()).map(|n| intern(&n)),
            name: s(self.name),
            uid: s(self.uid),
            resource_version: s(self.resource_version),
            labels: self.labels.into_iter().collect(),
            annotations: self
                .annotations
                .into_iter()
                .filter(|(k, _)| !DROPPED_ANNOTATIONS.contains(&k.as_str()))
                .collect(),
            finalizers: self.finalizers.iter().map(|f| intern(f)).collect(),
            deletion_timestamp: self.deletion_timestamp.map(|t| intern(&t)),
            creation_timestamp: self.creation_timestamp.map(|t| intern(&t)),
            owner_references: self.owner_references,
        }
    }
}

fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let m: Option<BTreeMap<String, Value>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect())
}

fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v: Option<Vec<Value>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
        .collect())
}

fn owners<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OwnerRef>, D::Error> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Raw {
        api_version: Option<String>,
        kind: Option<String>,
        name: Option<String>,
        uid: Option<String>,
        controller: Option<bool>,
    }
    let v: Vec<Raw> = Option::deserialize(d)?.unwrap_or_default();
    // Not collected in place: that would keep the larger `Raw` allocation for the whole run.
    let mut out = Vec::with_capacity(v.len());
    out.extend(v.into_iter().map(|o| OwnerRef {
        api_version: intern(o.api_version.as_deref().unwrap_or_default()),
        kind: intern(o.kind.as_deref().unwrap_or_default()),
        name: intern(o.name.as_deref().unwrap_or_default()),
        uid: intern(o.uid.as_deref().unwrap_or_default()),
        controller: o.controller.unwrap_or(false),
    }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every fixture document of every scenario decodes from a page exactly as
    /// `Object::from_json` builds it (the path unit tests use).
    #[test]
    fn page_decoding_matches_from_json_on_every_fixture() {
        let dir = crate::testing::scenarios_dir();
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios dir") {
            let path = entry.expect("entry").path().join("cluster.yaml");
            if !path.is_file() {
                continue;
            }
            for d in crate::testing::load_docs(&path) {
                let Some(kind) = d["kind"].as_str().map(str::to_owned) else {
                    continue;
                };
                if d["apiVersion"] == "fake.kubectl-arc.dev/v1" {
                    continue;
                }
                let page_text =
                    json!({"apiVersion":"v1","kind":"List","metadata":{"continue":"c1"},
                                       "items":[d.clone()]})
                    .to_string();
                let mut out = Vec::new();
                let token = page(&page_text, &kind, None, &mut out).expect("decodes");
                assert_eq!(token.as_deref(), Some("c1"));
                assert_eq!(out.len(), 1);
                assert_eq!(out[0], Object::from_json(&kind, d), "{}", path.display());
                n += 1;
            }
        }
        assert!(n > 500, "only {n} documents checked");
    }

    #[test]
    fn unread_fields_are_not_kept_and_odd_shapes_are_tolerated() {
        let text = json!({"metadata":{"resourceVersion":"9"},"items":[
            {"metadata":{"name":"p","namespace":"n","labels":{"a":"b","n":1},"finalizers":null,
                         "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{…}"},
                         "managedFields":[{"manager":"x","fieldsV1":{"f:spec":{}}}]},
             "spec":{"nodeName":"node-1","tolerations":[{"key":"k"}],
                     "containers":[{"name":"c","image":"i","resources":{},"env":[{"name":"E","value":"v"}]}]},
             "status":{"phase":"Running","conditions":[{"type":"Ready"}],"podIP":"10.0.0.1"}}
        ]})
        .to_string();
        let mut out = Vec::new();
        assert_eq!(page(&text, "Pod", None, &mut out).expect("decodes"), None);
        let p = &out[0];
        assert_eq!(p.meta.labels.len(), 1);
        assert!(p.meta.annotations.is_empty());
        assert!(p.meta.finalizers.is_empty());
        assert_eq!(
            p.body,
            json!({"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"i","env":[{"name":"E","value":"v"}]}]},
                   "status":{"phase":"Running"}})
        );
        let mut none = Vec::new();
        page(r#"{"items":null}"#, "Pod", None, &mut none).expect("null items");
        assert!(none.is_empty());
        assert!(page("{\"items\":[", "Pod", None, &mut none).is_err());
    }

    #[test]
    fn keep_filters_while_decoding() {
        let text = r#"{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let mut out = Vec::new();
        page(
            text,
            "Node",
            Some(|o: &Object| o.meta.name == "b"),
            &mut out,
        )
        .expect("decodes");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].meta.name, "b");
    }
}
