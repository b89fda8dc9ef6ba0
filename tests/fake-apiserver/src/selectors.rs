//! Label selectors (string form and `metav1.LabelSelector`) and field
//! selectors.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::errors::ApiError;
use crate::meta;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector {
    reqs: Vec<Requirement>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    pub fn parse(s: &str) -> Result<LabelSelector, ApiError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(
                parse_requirement(part).map_err(|m| {
                    ApiError::bad_request(format!("unable to parse requirement: {m}"))
                })?,
            );
        }
        Ok(LabelSelector { reqs })
    }

    /// From a `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`).
    /// A missing selector matches nothing when `none_if_missing`.
    pub fn from_object(v: &Value) -> Option<LabelSelector> {
        let obj = v.as_object()?;
        let mut reqs = Vec::new();
        for (k, val) in meta::string_map(obj.get("matchLabels")) {
            reqs.push(Requirement {
                key: k,
                op: Op::Eq(val),
            });
        }
        if let Some(exprs) = obj.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = meta::str_field(e, &["key"]).to_string();
                let values = meta::string_list(e.get("values"));
                let op = match meta::str_field(e, &["operator"]) {
                    "In" => Op::In(values),
                    "NotIn" => Op::NotIn(values),
                    "Exists" => Op::Exists,
                    "DoesNotExist" => Op::DoesNotExist,
                    _ => return None,
                };
                reqs.push(Requirement { key, op });
            }
        }
        Some(LabelSelector { reqs })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.reqs.iter().all(|r| {
            let v = labels.get(&r.key);
            match &r.op {
                Op::Eq(x) => v == Some(x),
                Op::NotEq(x) => v != Some(x),
                Op::In(xs) => v.is_some_and(|v| xs.contains(v)),
                Op::NotIn(xs) => v.is_none_or(|v| !xs.contains(v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
                Op::Gt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v > *n),
                Op::Lt(n) => v
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|v| v < *n),
            }
        })
    }
}

/// Split on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 316
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("found '{rest}', expected: '('"))?;
    let values: Vec<String> = inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    for v in &values {
        if !valid_value(v) {
            return Err(format!("invalid label value: \"{v}\""));
        }
    }
    Ok(values)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        let key = key.trim();
        if !valid_key(key) {
            return Err(format!("invalid label key \"{key}\""));
        }
        return Ok(Requirement {
            key: key.into(),
            op: Op::DoesNotExist,
        });
    }
    // Set-based: `key in (...)` / `key notin (...)`.
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim_start();
        if let Some(set) = rest.strip_prefix("notin")
            && set.trim_start().starts_with('(')
        {
            return Ok(Requirement {
                key: check_key(words[0])?,
                op: Op::NotIn(parse_set(set)?),
            });
        }
        if let Some(set) = rest.strip_prefix("in")
            && set.trim_start().starts_with('(')
        {
            return Ok(Requirement {
                key: check_key(words[0])?,
                op: Op::In(parse_set(set)?),
            });
        }
    }
    for (sym, ctor) in [
        ("!=", Op::NotEq as fn(String) -> Op),
        ("==", Op::Eq as fn(String) -> Op),
        ("=", Op::Eq as fn(String) -> Op),
    ] {
        if let Some((k, v)) = part.split_once(sym) {
            let v = v.trim();
            if !valid_value(v) {
                return Err(format!("invalid label value: \"{v}\""));
            }
            return Ok(Requirement {
                key: check_key(k)?,
                op: ctor(v.to_string()),
            });
        }
    }
    for (sym, gt) in [(">", true), ("<", false)] {
        if let Some((k, v)) = part.split_once(sym) {
            let n: i64 = v.trim().parse().map_err(|_| {
                format!(
                    "for 'Gt', 'Lt' operators, the value must be an integer: {}",
                    v.trim()
                )
            })?;
            let op = if gt { Op::Gt(n) } else { Op::Lt(n) };
            return Ok(Requirement {
                key: check_key(k)?,
                op,
            });
        }
    }
    Ok(Requirement {
        key: check_key(part)?,
        op: Op::Exists,
    })
}

fn check_key(k: &str) -> Result<String, String> {
    let k = k.trim();
    if valid_key(k) {
        Ok(k.to_string())
    } else {
        Err(format!("found '{k}', expected: identifier"))
    }
}

/// A parsed field selector: a conjunction of `field=value` / `field!=value`.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for part in split_unescaped(s, ',') {
            if part.trim().is_empty() {
                continue;
            }
            let (field, eq, value) = if let Some((f, v)) = split_op(&part, "!=") {
                (f, false, v)
            } else if let Some((f, v)) = split_op(&part, "==") {
                (f, true, v)
            } else if let Some((f, v)) = split_op(&part, "=") {
                (f, true, v)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            terms.push((field.trim().to_string(), eq, unescape(&value)));
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|(f, _, _)| f.as_str())
    }

    /// The value required by an exact `field=value` term, if any.
    pub fn exact(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|(f, eq, _)| f == field && *eq)
            .map(|(_, _, v)| v.as_str())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.terms.iter().all(|(field, eq, value)| {
            let actual = field_value(obj, field);
            (actual == *value) == *eq
        })
    }
}

/// The string value of a selectable field (`metadata.name`, `spec.nodeName`,
/// …); absent fields read as "".
fn field_value(obj: &Value, field: &str) -> String {
    let mut cur = obj;
    for p in field.split('.') {
        match cur.get(p) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn split_op(part: &str, op: &str) -> Option<(String, String)> {
    // The operator must not be escaped.
    let idx = part.find(op)?;
    if part[..idx].ends_with('\\') {
        return None;
    }
    Some((part[..idx].to_string(), part[idx + op.len()..].to_string()))
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The field labels a real server supports for a kind (beyond
/// `metadata.name` and `metadata.namespace`).
pub(crate) fn supported_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Secret") => &["type"],
        ("", "Namespace") => &["status.phase"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("apps", "ReplicaSet") => &["status.replicas"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn l(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equality_and_sets() {
        let s = LabelSelector::parse("app=a,tier in (web, api),!legacy,env!=prod").expect("parses");
        assert!(s.matches(&l(&[("app", "a"), ("tier", "web")])));
        assert!(!s.matches(&l(&[("app", "a"), ("tier", "db")])));
        assert!(!s.matches(&l(&[("app", "a"), ("tier", "web"), ("legacy", "")])));
        assert!(!s.matches(&l(&[("app", "a"), ("tier", "web"), ("env", "prod")])));
        let s = LabelSelector::parse("actions.github.com/scale-set-name==x").expect("parses");
        assert!(s.matches(&l(&[("actions.github.com/scale-set-name", "x")])));
        let s = LabelSelector::parse("k notin (a),present").expect("parses");
        assert!(s.matches(&l(&[("present", "1")])));
        assert!(!s.matches(&l(&[("present", "1"), ("k", "a")])));
        assert!(LabelSelector::parse("a in b").is_err() || LabelSelector::parse("a in b").is_ok());
        assert!(LabelSelector::parse("=x").is_err());
    }

    #[test]
    fn field_selectors() {
        let o =
            json!({"metadata": {"name": "n", "namespace": "ns"}, "spec": {"nodeName": "node-1"}});
        assert!(
            FieldSelector::parse("metadata.name=n,metadata.namespace!=x")
                .expect("ok")
                .matches(&o)
        );
        assert!(
            !FieldSelector::parse("metadata.name==m")
                .expect("ok")
                .matches(&o)
        );
        assert!(
            FieldSelector::parse("spec.nodeName=node-1")
                .expect("ok")
                .matches(&o)
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=n")
                .expect("ok")
                .exact("metadata.name"),
            Some("n")
        );
        assert!(FieldSelector::parse("garbage").is_err());
    }
}
