//! Progress of an export as typed events, for any consumer (the CLI's
//! progress bars, the desktop's IPC channel, NDJSON for scripts).
//!
//! The engine reports through [`Reporter`]; [`Throttled`] keeps frequent
//! counters to a few updates a second while passing phase changes, waits and
//! warnings through at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Opening (or resuming) the export session.
    Opening,
    /// Counts known; checking disk space.
    Preflight,
    /// Pulling pages and media.
    Fetching,
    /// Writing the last archive entries and checksums.
    Finishing,
    /// All done.
    Done,
}

/// One progress update.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ExportEvent {
    /// A new phase began.
    Phase {
        /// The phase.
        phase: Phase,
    },
    /// The session is open: what to expect.
    Preflight {
        /// The export id.
        export_id: String,
        /// The snapshot time.
        as_of: String,
        /// Each category: what it is, and what the platform announced.
        categories: Vec<super::PreparedCategory>,
        /// Whether this run continues an earlier one.
        resumed: bool,
    },
    /// Records of a category so far.
    Category {
        /// The category.
        name: String,
        /// Records stored.
        fetched: u64,
        /// Records the session announced, if it did.
        expected: Option<u64>,
    },
    /// Bytes so far (pages and media), with rate and estimate.
    Bytes {
        /// Bytes received.
        done: u64,
        /// Estimated total.
        total: u64,
        /// Bytes per second over the run.
        rate: u64,
        /// Seconds left at that rate, when known.
        eta_secs: Option<u64>,
    },
    /// The parts of a split archive being written, once everything is
    /// fetched: for a large archive, most of finishing it.
    WritingParts {
        /// Parts written and synced.
        written: u32,
        /// Parts in all.
        parts: u32,
        /// Bytes of the parts' files written so far.
        done: u64,
        /// Bytes of all their files.
        total: u64,
    },
    /// The client is waiting before retrying.
    Waiting {
        /// Why (e.g. "rate limited", "server unavailable").
        reason: String,
        /// Local wall-clock time the wait ends, `HH:MM:SS`.
        until: String,
        /// Seconds to wait.
        secs: u64,
        /// When the client stops retrying, `HH:MM:SS UTC`.
        giving_up_at: String,
    },
    /// Something the user should know, that did not stop the export.
    Warning {
        /// The message.
        message: String,
    },
}

/// Receives progress; must be cheap and must not block.
pub trait Reporter: Send + Sync {
    /// One event.
    fn report(&self, event: ExportEvent);
}

/// Discards everything.
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: ExportEvent) {}
}

/// Passes at most one counter update per `interval` per kind; everything
/// else immediately.
pub struct Throttled<R> {
    inner: R,
    interval: Duration,
    last: Mutex<std::collections::HashMap<String, Instant>>,
}

impl<R: Reporter> Throttled<R> {
    /// Wraps `inner`, e.g. with 250 ms for four updates a second.
    pub fn new(inner: R, interval: Duration) -> Self {
        Self {
            inner,
            interval,
            last: Mutex::new(std::collections::HashMap::new()),
        }
    }
}

impl<R: Reporter> Reporter for Throttled<R> {
    fn report(&self, event: ExportEvent) {
        let key = match &event {
            // A category reaching its expectation always gets through, so the
            // consumer sees the final count.
            ExportEvent::Category {
                name,
                fetched,
                expected,
            } if expected.is_some_and(|e| *fetched < e) || expected.is_none() => {
                format!("c:{name}")
            }
            ExportEvent::Bytes { done, total, .. } if done < total => "b".to_owned(),
            // The first report after each part is complete gets through,
            // and the end.
            ExportEvent::WritingParts {
                written,
                done,
                total,
                ..
            } if done < total => format!("w{written}"),
            _ => return self.inner.report(event),
        };
        let now = Instant::now();
        let pass = match self.last.lock() {
            Ok(mut last) => match last.get(&key) {
                Some(t) if now.duration_since(*t) < self.interval => false,
                _ => {
                    last.insert(key, now);
                    true
                }
            },
            Err(_) => true,
        };
        if pass {
            self.inner.report(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Default, Clone)]
    struct Collect(Arc<Mutex<Vec<ExportEvent>>>);
    impl Reporter for Collect {
        fn report(&self, e: ExportEvent) {
            self.0.lock().expect("lock").push(e);
        }
    }

    #[test]
    fn counters_are_throttled_but_finals_and_warnings_pass() {
        let sink = Collect::default();
        let t = Throttled::new(sink.clone(), Duration::from_secs(3600));
        for i in 0..100 {
            t.report(ExportEvent::Category {
                name: "posts".into(),
                fetched: i,
                expected: Some(100),
            });
        }
        t.report(ExportEvent::Category {
            name: "posts".into(),
            fetched: 100,
            expected: Some(100),
        });
        t.report(ExportEvent::Warning {
            message: "w".into(),
        });
        let got = sink.0.lock().expect("lock").clone();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(matches!(got[1], ExportEvent::Category { fetched: 100, .. }));
    }

    #[test]
    fn writing_parts_is_throttled_but_its_end_passes() {
        let sink = Collect::default();
        let t = Throttled::new(sink.clone(), Duration::from_secs(3600));
        let at = |written: u32, done: u64| ExportEvent::WritingParts {
            written,
            parts: 3,
            done,
            total: 300,
        };
        for done in 0..300u64 {
            t.report(at((done / 100) as u32, done));
        }
        t.report(at(3, 300));
        let got = sink.0.lock().expect("lock").clone();
        assert_eq!(got, [at(0, 0), at(1, 100), at(2, 200), at(3, 300)]);
    }
}
