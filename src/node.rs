//! [`Node`]: the compact, read-mostly JSON value an object's pruned body is kept in.
//!
//! `serde_json::Value` stores every JSON object as a `BTreeMap`, whose first node alone takes
//! about 600 bytes however few keys it holds; a pod's pruned body has a dozen such objects. A
//! `Node` is 24 bytes; an object is a boxed slice of `(key, Node)` pairs sorted by key (40 bytes
//! per entry), and every string is interned ([`crate::intern`]). The API is the part of
//! `serde_json::Value`'s that the analysis uses (`as_str`, `get`, `pointer`, `["key"]`, …), so
//! checks read bodies exactly as they would read JSON.

use std::fmt;
use std::ops::{Index, IndexMut};

use serde::ser::{Serialize, Serializer};
use serde_json::{Number, Value};

use crate::intern::{Str, intern};

/// A JSON value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Node {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Str),
    Array(Box<[Node]>),
    Object(Fields),
}

/// A JSON object: entries sorted by key (the order `serde_json` without `preserve_order` uses).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields(Box<[(Str, Node)]>);

static NULL: Node = Node::Null;

impl Node {
    pub fn as_str(&self) -> Option<Str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Node::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Node::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Node::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Fields> {
        match self {
            Node::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Node::String(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Node::Array(_))
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Node::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Node::Number(_))
    }

    /// An object's field or an array's element, like `serde_json::Value::get`.
    pub fn get<I: NodeIndex>(&self, index: I) -> Option<&Node> {
        index.index_into(self)
    }

    /// The value at a JSON pointer (RFC 6901), like `serde_json::Value::pointer`.
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |node, token| {
            let token = if token.contains('~') {
                std::borrow::Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
            } else {
                std::borrow::Cow::Borrowed(token)
            };
            match node {
                Node::Object(o) => o.get(&token),
                Node::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            }
        })
    }

    /// Change the value through a `serde_json::Value` (tests build variants of fixtures so).
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        let mut v = self.to_value();
        f(&mut v);
        *self = Node::from(v);
    }

    /// The same value as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String((*s).to_owned()),
            Node::Array(a) => Value::Array(a.iter().map(Node::to_value).collect()),
            Node::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

impl Fields {
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (Str, &Node)> + '_ {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = Str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Node> + '_ {
        self.0.iter().map(|(_, v)| v)
    }

    /// The value of `key`, inserted as `Null` first when absent.
    fn entry(&mut self, key: &str) -> &mut Node {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.insert(i, (intern(key), Node::Null));
                self.0 = v.into_boxed_slice();
                i
            }
        };
        &mut self.0[i].1
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (*k).cmp(key))
    }
}

/// What [`Node::get`] and `node[…]` accept: a key (`&str`, `String`) or an array index.
pub trait NodeIndex {
    fn index_into<'n>(&self, node: &'n Node) -> Option<&'n Node>;
}

impl NodeIndex for str {
    fn index_into<'n>(&self, node: &'n Node) -> Option<&'n Node> {
        node.as_object().and_then(|o| o.get(self))
    }
}

impl NodeIndex for String {
    fn index_into<'n>(&self, node: &'n Node) -> Option<&'n Node> {
        self.as_str().index_into(node)
    }
}

impl NodeIndex for usize {
    fn index_into<'n>(&self, node: &'n Node) -> Option<&'n Node> {
        node.as_array().and_then(|a| a.get(*self))
    }
}

impl<T: NodeIndex + ?Sized> NodeIndex for &T {
    fn index_into<'n>(&self, node: &'n Node) -> Option<&'n Node> {
        (**self).index_into(node)
    }
}

/// `node["key"]` / `node[0]`: `Null` when absent, like `serde_json::Value`.
impl<I: NodeIndex> Index<I> for Node {
    type Output = Node;
    fn index(&self, index: I) -> &Node {
        index.index_into(self).unwrap_or(&NULL)
    }
}

/// `node["key"] = …` inserts the key (turning `Null` into an object), like `serde_json::Value`.
impl IndexMut<&str> for Node {
    fn index_mut(&mut self, key: &str) -> &mut Node {
        if self.is_null() {
            *self = Node::Object(Fields::default());
        }
        match self {
            Node::Object(o) => o.entry(key),
            other => panic!("cannot index {other} with a key"),
        }
    }
}

impl IndexMut<usize> for Node {
    fn index_mut(&mut self, i: usize) -> &mut Node {
        match self {
            Node::Array(a) => &mut a[i],
            other => panic!("cannot index {other} with {i}"),
        }
    }
}

impl From<Value> for Node {
    fn from(v: Value) -> Node {
        match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(b),
            Value::Number(n) => Node::Number(n),
            Value::String(s) => Node::String(intern(&s)),
            Value::Array(a) => Node::Array(a.into_iter().map(Node::from).collect()),
            // A serde_json map iterates in key order already.
            Value::Object(m) => Node::Object(Fields(
                m.into_iter()
                    .map(|(k, v)| (intern(&k), Node::from(v)))
                    .collect(),
            )),
        }
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Number(n) => n.serialize(s),
            Node::String(v) => s.serialize_str(v),
            Node::Array(a) => s.collect_seq(a.iter()),
            Node::Object(o) => s.collect_map(o.iter()),
        }
    }
}

/// Compact JSON, like `serde_json::Value`'s `Display`.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl PartialEq<Value> for Node {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Node::Null, Value::Null) => true,
            (Node::Bool(a), Value::Bool(b)) => a == b,
            (Node::Number(a), Value::Number(b)) => a == b,
            (Node::String(a), Value::String(b)) => a == b,
            (Node::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Node::Object(a), Value::Object(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl PartialEq<str> for Node {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Node {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Node {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl PartialEq<bool> for Node {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<i64> for Node {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"spec":{"containers":[{"name":"runner","image":"ghcr.io/actions/runner:2.321.0",
               "env":[{"name":"A/B~C","value":"v"}]}],"replicas":3,"ratio":0.5,"paused":false,
               "a~b":{"c/d":null}},"status":{"phase":"Running"}})
    }

    #[test]
    fn converts_serializes_and_compares_like_the_json_it_came_from() {
        let v = sample();
        let n = Node::from(v.clone());
        assert_eq!(n, v);
        assert_eq!(n.to_value(), v);
        assert_eq!(serde_json::to_string(&n).unwrap(), v.to_string());
        assert_eq!(n.to_string(), v.to_string());
        assert_ne!(n, json!({"status":{"phase":"Running"}}));
    }

    #[test]
    fn reads_like_serde_json() {
        let v = sample();
        let n = Node::from(v.clone());
        for p in [
            "",
            "/spec",
            "/spec/containers/0/name",
            "/spec/containers/0/env/0/name",
            "/spec/containers/1",
            "/spec/replicas",
            "/spec/ratio",
            "/spec/a~0b/c~1d",
            "/spec/missing/x",
            "/spec/containers/x",
            "spec",
        ] {
            assert_eq!(
                n.pointer(p).map(Node::to_value),
                v.pointer(p).cloned(),
                "{p}"
            );
        }
        assert_eq!(n["spec"]["containers"][0]["name"], "runner");
        assert_eq!(n["spec"]["replicas"].as_i64(), Some(3));
        assert_eq!(n["spec"]["replicas"].as_u64(), Some(3));
        assert_eq!(n["spec"]["ratio"].as_f64(), Some(0.5));
        assert_eq!(n["spec"]["paused"].as_bool(), Some(false));
        assert!(n["nope"]["deeper"][3].is_null());
        assert_eq!(
            n.get("status").and_then(|s| s.get("phase")),
            Some(&Node::String("Running"))
        );
        assert_eq!(
            n["spec"]["containers"].as_array().map(<[Node]>::len),
            Some(1)
        );
        assert_eq!(
            n["spec"].as_object().map(|o| o.keys().collect::<Vec<_>>()),
            Some(vec!["a~b", "containers", "paused", "ratio", "replicas"])
        );
    }

    #[test]
    fn a_value_is_three_words() {
        // The point of `Node`: `serde_json::Value` is 4 words plus a B-tree node per object.
        assert_eq!(
            std::mem::size_of::<Node>(),
            3 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn index_assignment_inserts_like_serde_json() {
        let mut n = Node::Null;
        n["status"]["jobId"] = json!("77").into();
        n["spec"]["replicas"] = json!(2).into();
        n["spec"]["replicas"] = json!(3).into();
        assert_eq!(n, json!({"spec":{"replicas":3},"status":{"jobId":"77"}}));
        let mut a = Node::from(json!([1, 2]));
        a[1] = json!("x").into();
        assert_eq!(a, json!([1, "x"]));
    }
}
