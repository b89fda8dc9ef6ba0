//! The controllable clock used for every timestamp the server writes
//! (creationTimestamp, deletionTimestamp, condition transition times) and for
//! the age of list continue tokens.
//!
//! By default the clock follows real time. `set` freezes it at a given
//! instant; `advance` moves it forward (a running clock keeps running, just
//! offset).

use std::sync::{Arc, Mutex, MutexGuard};

use jiff::{SignedDuration, Timestamp};

/// A cheap, clonable handle to the server's clock.
#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Debug, Clone, Copy)]
enum ClockState {
    /// Real time plus an offset accumulated by `advance`.
    Running { offset: SignedDuration },
    /// Frozen at an instant.
    Frozen(Timestamp),
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock that follows real time.
    pub fn new() -> Self {
        Clock {
            inner: Arc::new(Mutex::new(ClockState::Running {
                offset: SignedDuration::ZERO,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ClockState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current time of the fake clock.
    pub fn now(&self) -> Timestamp {
        match *self.lock() {
            ClockState::Running { offset } => Timestamp::now()
                .saturating_add(offset)
                .unwrap_or(Timestamp::MAX),
            ClockState::Frozen(t) => t,
        }
    }

    /// Freeze the clock at `t`.
    pub fn set(&self, t: Timestamp) {
        *self.lock() = ClockState::Frozen(t);
    }

    /// Move the clock forward by `d`.
    pub fn advance(&self, d: std::time::Duration) {
        let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
        let mut state = self.lock();
        *state = match *state {
            ClockState::Running { offset } => ClockState::Running {
                offset: offset.saturating_add(d),
            },
            ClockState::Frozen(t) => {
                ClockState::Frozen(t.saturating_add(d).unwrap_or(Timestamp::MAX))
            }
        };
    }

    /// Whether the clock has been frozen by `set` (or a `Clock` fixture).
    pub fn is_frozen(&self) -> bool {
        matches!(*self.lock(), ClockState::Frozen(_))
    }

    /// The current time formatted like Kubernetes' `metav1.Time` (RFC 3339,
    /// second precision, UTC).
    pub(crate) fn now_rfc3339(&self) -> String {
        rfc3339(self.now())
    }
}

/// Format a timestamp like `metav1.Time`: `2024-01-02T03:04:05Z`.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// Parse an RFC 3339 timestamp as written in objects.
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_advances_exactly() {
        let c = Clock::new();
        let t: Timestamp = "2024-05-01T10:00:00Z".parse().expect("valid");
        c.set(t);
        assert!(c.is_frozen());
        c.advance(std::time::Duration::from_secs(90));
        assert_eq!(c.now_rfc3339(), "2024-05-01T10:01:30Z");
    }

    #[test]
    fn running_clock_offset() {
        let c = Clock::new();
        let before = Timestamp::now();
        c.advance(std::time::Duration::from_secs(3600));
        let now = c.now();
        assert!(now.as_second() - before.as_second() >= 3600);
        assert!(!c.is_frozen());
    }

    #[test]
    fn formats_second_precision() {
        let t: Timestamp = "2024-05-01T10:00:00.123456Z".parse().expect("valid");
        assert_eq!(rfc3339(t), "2024-05-01T10:00:00Z");
    }
}
