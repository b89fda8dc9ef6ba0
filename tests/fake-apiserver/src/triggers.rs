//! Mutation hooks: change stored objects when a matching request arrives,
//! before the request is handled ("the object changed between plan and
//! apply"). Hook writes use [`Objects`] and are never logged as requests.

use std::sync::{Arc, Mutex};

use regex::Regex;
use serde_json::Value;

use crate::objects::{ObjectRef, Objects, WriteError};

/// What a trigger does to the stored objects.
pub enum TriggerAction {
    /// Store the object again with a new resourceVersion (content unchanged).
    Touch(ObjectRef),
    /// Add a finalizer (refused with 422 on a deleting object, like the API).
    AddFinalizer(ObjectRef, String),
    /// Remove a finalizer (removing the last one of a deleting object deletes it).
    RemoveFinalizer(ObjectRef, String),
    /// Set (`Some`) or remove (`None`) an annotation.
    SetAnnotation(ObjectRef, String, Option<String>),
    /// Set (`Some`) or remove (`None`) a label.
    SetLabel(ObjectRef, String, Option<String>),
    /// Delete the object (default propagation, like a plain DELETE).
    Delete(ObjectRef),
    /// Create an object.
    Create(Value),
    /// Anything else; errors are the hook's own business.
    Custom(Box<dyn FnMut(&mut Objects<'_>) + Send>),
}

impl std::fmt::Debug for TriggerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TriggerAction::Touch(r) => write!(f, "Touch({r})"),
            TriggerAction::AddFinalizer(r, s) => write!(f, "AddFinalizer({r}, {s})"),
            TriggerAction::RemoveFinalizer(r, s) => write!(f, "RemoveFinalizer({r}, {s})"),
            TriggerAction::SetAnnotation(r, k, v) => write!(f, "SetAnnotation({r}, {k}, {v:?})"),
            TriggerAction::SetLabel(r, k, v) => write!(f, "SetLabel({r}, {k}, {v:?})"),
            TriggerAction::Delete(r) => write!(f, "Delete({r})"),
            TriggerAction::Create(v) => write!(f, "Create({v})"),
            TriggerAction::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// A hook run as soon as a matching request has arrived (whoever sent it),
/// before faults and the request's own handling, so the request sees the
/// changed object. Every matching trigger fires, in insertion order.
#[derive(Debug)]
pub struct Trigger {
    /// HTTP method to match (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// Regular expression matched (unanchored) against the request path.
    pub path_regex: String,
    /// Substring the raw query string must contain.
    pub query_contains: Option<String>,
    /// How many requests the trigger fires for; `None` = forever.
    pub times: Option<u32>,
    pub action: TriggerAction,
}

impl Trigger {
    /// Fires on every request whose path matches `path_regex`.
    pub fn new(path_regex: impl Into<String>, action: TriggerAction) -> Trigger {
        Trigger {
            method: None,
            path_regex: path_regex.into(),
            query_contains: None,
            times: None,
            action,
        }
    }

    pub fn method(mut self, method: impl Into<String>) -> Trigger {
        self.method = Some(method.into());
        self
    }

    pub fn times(mut self, n: u32) -> Trigger {
        self.times = Some(n);
        self
    }

    pub fn query_contains(mut self, s: impl Into<String>) -> Trigger {
        self.query_contains = Some(s.into());
        self
    }
}

#[derive(Debug, Default)]
struct Stats {
    fired: u32,
    errors: Vec<WriteError>,
}

/// Observes a trigger added with [`crate::FakeServer::add_trigger`].
#[derive(Debug, Clone)]
pub struct TriggerHandle(Arc<Mutex<Stats>>);

impl TriggerHandle {
    /// How many times the trigger fired.
    pub fn fired(&self) -> u32 {
        self.lock().fired
    }

    /// The errors its writes met (a typed action refused by the server).
    pub fn errors(&self) -> Vec<WriteError> {
        self.lock().errors.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) struct TriggerEntry {
    trigger: Trigger,
    regex: Regex,
    remaining: Option<u32>,
    stats: TriggerHandle,
}

impl TriggerEntry {
    pub fn new(trigger: Trigger) -> Result<(TriggerEntry, TriggerHandle), regex::Error> {
        let regex = Regex::new(&trigger.path_regex)?;
        let stats = TriggerHandle(Arc::new(Mutex::new(Stats::default())));
        Ok((
            TriggerEntry {
                remaining: trigger.times,
                trigger,
                regex,
                stats: stats.clone(),
            },
            stats,
        ))
    }

    fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        if let Some(m) = &self.trigger.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        if let Some(q) = &self.trigger.query_contains
            && !query.contains(q.as_str())
        {
            return false;
        }
        self.regex.is_match(path)
    }

    fn run(&mut self, objects: &mut Objects<'_>) {
        let result = match &mut self.trigger.action {
            TriggerAction::Touch(r) => objects.touch(r).map(drop),
            TriggerAction::AddFinalizer(r, f) => objects.add_finalizer(r, f).map(drop),
            TriggerAction::RemoveFinalizer(r, f) => objects.remove_finalizer(r, f).map(drop),
            TriggerAction::SetAnnotation(r, k, v) => {
                objects.set_annotation(r, k, v.as_deref()).map(drop)
            }
            TriggerAction::SetLabel(r, k, v) => objects.set_label(r, k, v.as_deref()).map(drop),
            TriggerAction::Delete(r) => objects.delete(r).map(drop),
            TriggerAction::Create(v) => objects.create(v.clone()).map(drop),
            TriggerAction::Custom(f) => {
                f(objects);
                Ok(())
            }
        };
        let mut stats = self.stats.lock();
        stats.fired += 1;
        if let Err(e) = result {
            stats.errors.push(e);
        }
    }
}

/// Run every trigger matching the request. Returns whether any fired.
pub(crate) fn fire(
    triggers: &mut [TriggerEntry],
    objects: &mut Objects<'_>,
    method: &str,
    path: &str,
    query: &str,
) -> bool {
    let mut any = false;
    for t in triggers.iter_mut() {
        if !t.matches(method, path, query) {
            continue;
        }
        if let Some(n) = t.remaining.as_mut() {
            *n -= 1;
        }
        t.run(objects);
        any = true;
    }
    any
}
