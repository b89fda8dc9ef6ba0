//! Interned strings and the compact string map labels and annotations are kept in.
//!
//! A snapshot of a large cluster holds tens of thousands of objects whose labels, annotations and
//! body fields repeat the same few hundred strings (`app.kubernetes.io/component`, `runner`,
//! the namespace, the scale set's name, image names, …). Each distinct string is stored once, in
//! a process-wide pool, and handed out as `&'static str`: 16 bytes, `Copy`, no per-use
//! allocation. The pool is never freed — kubectl-arc is a one-shot command, and everything
//! interned is part of the snapshot, which lives until the process exits anyway.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use serde::ser::{Serialize, Serializer};

/// An interned string.
pub type Str = &'static str;

/// Strings are copied into chunks of this size (one allocation per chunk, not per string).
const CHUNK: usize = 64 * 1024;

struct Pool {
    set: HashSet<Str>,
    /// The unused tail of the current chunk.
    free: &'static mut [u8],
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// The one stored copy of `s`.
pub fn intern(s: &str) -> Str {
    let mut guard = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    let pool = guard.get_or_insert_with(|| Pool {
        set: HashSet::new(),
        free: &mut [],
    });
    if let Some(&found) = pool.set.get(s) {
        return found;
    }
    let stored = pool.store(s);
    pool.set.insert(stored);
    stored
}

impl Pool {
    fn store(&mut self, s: &str) -> Str {
        if s.len() > CHUNK / 8 {
            return Box::leak(s.to_owned().into_boxed_str());
        }
        if self.free.len() < s.len() {
            self.free = Box::leak(vec![0u8; CHUNK].into_boxed_slice());
        }
        let (dst, rest) = std::mem::take(&mut self.free).split_at_mut(s.len());
        dst.copy_from_slice(s.as_bytes());
        self.free = rest;
        std::str::from_utf8(dst).expect("copied from a str")
    }
}

/// A small string-to-string map (labels, annotations): interned pairs sorted by key, 32 bytes
/// per entry. Reads are binary searches; writes (tests, and the collector's one build per
/// object) rebuild the slice.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StrMap(Box<[(Str, Str)]>);

impl StrMap {
    pub fn get(&self, key: &str) -> Option<Str> {
        self.find(key).ok().map(|i| self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Set `key` to `value`; returns the previous value.
    pub fn insert(&mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Option<Str> {
        let value = intern(value.as_ref());
        match self.find(key.as_ref()) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                let mut v = std::mem::take(&mut self.0).into_vec();
                v.insert(i, (intern(key.as_ref()), value));
                self.0 = v.into_boxed_slice();
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Str> {
        let i = self.find(key).ok()?;
        let mut v = std::mem::take(&mut self.0).into_vec();
        let (_, value) = v.remove(i);
        self.0 = v.into_boxed_slice();
        Some(value)
    }

    pub fn clear(&mut self) {
        self.0 = Box::default();
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (Str, Str)> + '_ {
        self.0.iter().copied()
    }

    pub fn keys(&self) -> impl Iterator<Item = Str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    pub fn values(&self) -> impl Iterator<Item = Str> + '_ {
        self.0.iter().map(|(_, v)| *v)
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (*k).cmp(key))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for StrMap {
    /// Later duplicates of a key win, as in a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> StrMap {
        let mut v: Vec<(Str, Str)> = iter
            .into_iter()
            .map(|(k, v)| (intern(k.as_ref()), intern(v.as_ref())))
            .collect();
        // Stable: equal keys keep their order, and the last one is kept below.
        v.sort_by(|a, b| a.0.cmp(b.0));
        let mut out: Vec<(Str, Str)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        StrMap(out.into_boxed_slice())
    }
}

impl fmt::Debug for StrMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for StrMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_returns_one_copy_per_distinct_string() {
        let a = intern(&String::from("app.kubernetes.io/component"));
        let b = intern(&format!("app.kubernetes.io/{}", "component"));
        assert_eq!(a, "app.kubernetes.io/component");
        assert!(std::ptr::eq(a, b));
        assert!(!std::ptr::eq(a, intern("app.kubernetes.io/name")));
        assert_eq!(intern(""), "");
        let long = "x".repeat(CHUNK);
        assert!(std::ptr::eq(intern(&long), intern(&long.clone())));
    }

    #[test]
    fn strmap_behaves_like_a_sorted_map() {
        let mut m: StrMap = [("b", "2"), ("a", "1"), ("b", "3")].into_iter().collect();
        assert_eq!(m.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "3")]);
        assert_eq!(m.get("b"), Some("3"));
        assert_eq!(m.get("c"), None);
        assert_eq!(m.insert("c", "4"), None);
        assert_eq!(m.insert(String::from("a"), "5"), Some("1"));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.remove("b"), Some("3"));
        assert_eq!(m.remove("b"), None);
        assert!(m.contains_key("c") && !m.contains_key("b"));
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":"5","c":"4"}"#);
        assert_eq!(format!("{m:?}"), r#"{"a": "5", "c": "4"}"#);
        m.clear();
        assert!(m.is_empty());
    }
}
