//! The object store: JSON objects keyed by (group, kind) and then by the
//! etcd-like key `namespace/name` (cluster-scoped: `name`), so iteration order
//! is the order a real API server lists in. One global resourceVersion
//! counter, like etcd's revision.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use serde_json::{Value, json};

use crate::meta;

/// Identity of an object in the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjKey {
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> Self {
        ObjKey {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The key of an object from its own apiVersion/kind/metadata.
    pub fn of(obj: &Value) -> Self {
        let (group, _) = meta::split_api_version(meta::api_version(obj));
        ObjKey::new(
            group,
            meta::kind(obj),
            meta::namespace(obj),
            meta::name(obj),
        )
    }

    /// The etcd-like key within the type: `ns/name` or `name`.
    pub fn storage_key(&self) -> String {
        storage_key(&self.namespace, &self.name)
    }
}

pub(crate) fn storage_key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

type TypeKey = (String, String);

/// Small deterministic-enough PRNG (splitmix64) for UIDs and generateName.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn seeded() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        Rng(t ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What happened to an object (for watches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One change of the store.
#[derive(Debug, Clone)]
pub(crate) struct StoreEvent {
    pub rv: u64,
    pub ty: EventType,
    pub key: ObjKey,
    /// The new state (the last state for `Deleted`).
    pub object: Value,
    /// The state before a modification.
    pub previous: Option<Value>,
}

/// How many events watches can resume from.
const MAX_EVENTS: usize = 50_000;

#[derive(Debug, Clone)]
pub(crate) struct Store {
    objects: BTreeMap<TypeKey, BTreeMap<String, Value>>,
    rv: u64,
    rng: Rng,
    events: VecDeque<StoreEvent>,
    /// Events at or below this resourceVersion were dropped.
    compacted_rv: u64,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            rng: Rng::seeded(),
            events: VecDeque::new(),
            compacted_rv: 0,
        }
    }
}

impl Store {
    pub fn get(&self, key: &ObjKey) -> Option<&Value> {
        self.objects
            .get(&(key.group.clone(), key.kind.clone()))?
            .get(&key.storage_key())
    }

    pub fn contains(&self, key: &ObjKey) -> bool {
        self.get(key).is_some()
    }

    /// Insert or replace (the caller sets resourceVersion).
    pub fn put(&mut self, key: &ObjKey, obj: Value) {
        let previous = self
            .objects
            .entry((key.group.clone(), key.kind.clone()))
            .or_default()
            .insert(key.storage_key(), obj.clone());
        let ty = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(ty, key, obj, previous);
    }

    /// Remove an object; the deletion gets a new resourceVersion, which the
    /// returned last state carries.
    pub fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let tk = (key.group.clone(), key.kind.clone());
        let m = self.objects.get_mut(&tk)?;
        let mut out = m.remove(&key.storage_key())?;
        if m.is_empty() {
            self.objects.remove(&tk);
        }
        let rv = self.next_rv();
        if let Some(md) = out.get_mut("metadata").and_then(Value::as_object_mut) {
            md.insert("resourceVersion".into(), json!(rv.to_string()));
        }
        self.record(EventType::Deleted, key, out.clone(), None);
        Some(out)
    }

    fn record(&mut self, ty: EventType, key: &ObjKey, object: Value, previous: Option<Value>) {
        self.events.push_back(StoreEvent {
            rv: self.rv,
            ty,
            key: key.clone(),
            object,
            previous,
        });
        while self.events.len() > MAX_EVENTS {
            if let Some(e) = self.events.pop_front() {
                self.compacted_rv = e.rv;
            }
        }
    }

    /// Events after `rv`, or `Err(oldest available)` when some were dropped.
    pub fn events_after(&self, rv: u64) -> Result<impl Iterator<Item = &StoreEvent>, u64> {
        if rv < self.compacted_rv {
            return Err(self.compacted_rv + 1);
        }
        Ok(self.events.iter().filter(move |e| e.rv > rv))
    }

    /// A copy for dry runs: objects only, no event history.
    pub fn scratch(&self) -> Store {
        Store {
            objects: self.objects.clone(),
            rv: self.rv,
            rng: self.rng.clone(),
            events: VecDeque::new(),
            compacted_rv: self.rv,
        }
    }

    /// All objects of a type, in storage-key order.
    pub fn list(&self, group: &str, kind: &str) -> impl Iterator<Item = &Value> {
        self.objects
            .get(&(group.to_string(), kind.to_string()))
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Objects of a type whose storage key is strictly after `after`
    /// (`None`: from the start), restricted to a namespace when given.
    pub fn list_from<'a>(
        &'a self,
        group: &str,
        kind: &str,
        namespace: Option<&'a str>,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        let m = self.objects.get(&(group.to_string(), kind.to_string()));
        let lower = match after {
            Some(a) => Bound::Excluded(a.to_string()),
            None => match namespace {
                Some(ns) => Bound::Included(format!("{ns}/")),
                None => Bound::Unbounded,
            },
        };
        m.into_iter()
            .flat_map(move |m| m.range((lower.clone(), Bound::Unbounded)))
            .filter(move |(_, v)| namespace.is_none_or(|ns| meta::namespace(v) == ns))
            .take_while(move |(k, _)| namespace.is_none_or(|ns| k.starts_with(&format!("{ns}/"))))
    }

    /// Every object key.
    pub fn keys(&self) -> Vec<ObjKey> {
        let mut out = Vec::new();
        for ((g, k), m) in &self.objects {
            for v in m.values() {
                out.push(ObjKey::new(g, k, meta::namespace(v), meta::name(v)));
            }
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.objects.values().flat_map(|m| m.values())
    }

    pub fn len(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Make sure later writes get a larger resourceVersion than `rv`.
    pub fn observe_rv(&mut self, rv: u64) {
        if rv > self.rv {
            self.rv = rv;
        }
    }

    /// A random RFC 4122 version-4 UID.
    pub fn new_uid(&mut self) -> String {
        let a = self.rng.next_u64();
        let b = self.rng.next_u64();
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// The 5-character suffix `generateName` appends.
    pub fn random_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5)
            .map(|_| ALPHABET[(self.rng.next_u64() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": ns, "name": name}})
    }

    #[test]
    fn lists_in_storage_key_order_and_by_namespace() {
        let mut s = Store::default();
        for (ns, n) in [("a", "x"), ("a-b", "y"), ("a", "w"), ("b", "z")] {
            let o = obj(ns, n);
            s.put(&ObjKey::of(&o), o);
        }
        let all: Vec<String> = s
            .list("", "Secret")
            .map(|o| format!("{}/{}", meta::namespace(o), meta::name(o)))
            .collect();
        // etcd orders by key bytes: '-' sorts before '/'.
        assert_eq!(all, vec!["a-b/y", "a/w", "a/x", "b/z"]);
        let in_a: Vec<&str> = s
            .list_from("", "Secret", Some("a"), None)
            .map(|(_, o)| meta::name(o))
            .collect();
        assert_eq!(in_a, vec!["w", "x"]);
        let after: Vec<&str> = s
            .list_from("", "Secret", Some("a"), Some("a/w"))
            .map(|(_, o)| meta::name(o))
            .collect();
        assert_eq!(after, vec!["x"]);
    }

    #[test]
    fn uids_are_v4() {
        let mut s = Store::default();
        let u = s.new_uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, s.new_uid());
        assert_eq!(s.random_suffix().len(), 5);
    }
}
