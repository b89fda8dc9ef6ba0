//! Fault injection: matched in insertion order by method, path regex and a
//! query substring, counted down by `times`.

use std::time::Duration;

use regex::Regex;

/// A fault to inject into matching requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// HTTP method to match (case-insensitive); `None` matches any.
    pub method: Option<String>,
    /// Regular expression matched (unanchored) against the request path.
    pub path_regex: String,
    /// Substring the raw query string must contain.
    pub query_contains: Option<String>,
    pub action: FaultAction,
    /// How many requests the fault hits; `None` = forever.
    pub times: Option<u32>,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer with a `Status` of this code (429s carry `Retry-After`).
    Status {
        code: u16,
        reason: String,
        message: String,
        retry_after_seconds: Option<u32>,
    },
    /// 410 `Expired` "too old to display a consistent list", with a fresh
    /// continue token in `Status.metadata`.
    Expired,
    /// Wait, then handle the request normally.
    Latency(Duration),
    /// Close the connection without answering.
    Drop,
}

/// The default `reason` of a status code.
pub(crate) fn default_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

fn default_message(code: u16) -> String {
    match code {
        429 => "Too many requests, please try again later.".into(),
        500 => "Internal error occurred: injected fault".into(),
        503 => "the server is currently unable to handle the request".into(),
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request".into(),
        _ => format!("injected fault ({code})"),
    }
}

impl Fault {
    pub fn new(path_regex: impl Into<String>, action: FaultAction) -> Fault {
        Fault {
            method: None,
            path_regex: path_regex.into(),
            query_contains: None,
            action,
            times: None,
        }
    }

    /// A `Status` answer with the default reason and message of `code`
    /// (429 also gets `Retry-After: 1`).
    pub fn status(path_regex: impl Into<String>, code: u16) -> Fault {
        Fault::new(
            path_regex,
            FaultAction::Status {
                code,
                reason: default_reason(code).into(),
                message: default_message(code),
                retry_after_seconds: (code == 429).then_some(1),
            },
        )
    }

    /// 429 TooManyRequests with `Retry-After: seconds`.
    pub fn too_many_requests(path_regex: impl Into<String>, retry_after_seconds: u32) -> Fault {
        Fault::status(path_regex, 429).retry_after(retry_after_seconds)
    }

    pub fn expired(path_regex: impl Into<String>) -> Fault {
        Fault::new(path_regex, FaultAction::Expired)
    }

    pub fn latency(path_regex: impl Into<String>, delay: Duration) -> Fault {
        Fault::new(path_regex, FaultAction::Latency(delay))
    }

    pub fn drop_connection(path_regex: impl Into<String>) -> Fault {
        Fault::new(path_regex, FaultAction::Drop)
    }

    /// Only the first `n` matching requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    pub fn method(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }

    pub fn query_contains(mut self, s: impl Into<String>) -> Fault {
        self.query_contains = Some(s.into());
        self
    }

    /// Replace the message of a `Status` fault.
    pub fn message(mut self, m: impl Into<String>) -> Fault {
        if let FaultAction::Status { message, .. } = &mut self.action {
            *message = m.into();
        }
        self
    }

    /// Replace the reason of a `Status` fault.
    pub fn reason(mut self, r: impl Into<String>) -> Fault {
        if let FaultAction::Status { reason, .. } = &mut self.action {
            *reason = r.into();
        }
        self
    }

    /// Set `Retry-After` of a `Status` fault.
    pub fn retry_after(mut self, seconds: u32) -> Fault {
        if let FaultAction::Status {
            retry_after_seconds,
            ..
        } = &mut self.action
        {
            *retry_after_seconds = Some(seconds);
        }
        self
    }
}

#[derive(Debug)]
pub(crate) struct FaultEntry {
    fault: Fault,
    regex: Regex,
    remaining: Option<u32>,
}

impl FaultEntry {
    pub fn new(fault: Fault) -> Result<FaultEntry, regex::Error> {
        let regex = Regex::new(&fault.path_regex)?;
        Ok(FaultEntry {
            remaining: fault.times,
            fault,
            regex,
        })
    }

    fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        if let Some(m) = &self.fault.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        if let Some(q) = &self.fault.query_contains
            && !query.contains(q.as_str())
        {
            return false;
        }
        self.regex.is_match(path)
    }
}

/// The action of the first matching fault, consuming one of its `times`.
pub(crate) fn take(
    faults: &mut [FaultEntry],
    method: &str,
    path: &str,
    query: &str,
) -> Option<FaultAction> {
    let entry = faults.iter_mut().find(|f| f.matches(method, path, query))?;
    if let Some(n) = entry.remaining.as_mut() {
        *n -= 1;
    }
    Some(entry.fault.action.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_in_order_and_counts_down() {
        let mut f = vec![
            FaultEntry::new(Fault::status("/secrets", 500).times(1).method("GET")).expect("regex"),
            FaultEntry::new(Fault::status("/secrets", 503)).expect("regex"),
        ];
        assert!(matches!(
            take(&mut f, "POST", "/api/v1/secrets", ""),
            Some(FaultAction::Status { code: 503, .. })
        ));
        assert!(matches!(
            take(&mut f, "GET", "/api/v1/secrets", ""),
            Some(FaultAction::Status { code: 500, .. })
        ));
        assert!(matches!(
            take(&mut f, "GET", "/api/v1/secrets", ""),
            Some(FaultAction::Status { code: 503, .. })
        ));
        assert!(take(&mut f, "GET", "/api/v1/pods", "").is_none());
    }

    #[test]
    fn query_filter() {
        let mut f = vec![
            FaultEntry::new(Fault::expired("pods").query_contains("continue=")).expect("regex"),
        ];
        assert!(take(&mut f, "GET", "/api/v1/pods", "limit=1").is_none());
        assert_eq!(
            take(&mut f, "GET", "/api/v1/pods", "limit=1&continue=abc"),
            Some(FaultAction::Expired)
        );
    }
}
