//! A running export's progress as the UI receives it over its channel.

use keepsake_core::export::{ExportEvent, Phase};
use serde::Serialize;
use ts_rs::TS;

use super::CategoryEstimate;

/// Progress of a running export, sent over its channel.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum ProgressEvent {
    /// A new phase: `opening`, `preflight`, `fetching`, `finishing`, `done`.
    Phase {
        /// The phase.
        phase: String,
    },
    /// The session is open: what to expect.
    Preflight {
        /// The export id.
        #[serde(rename = "exportId")]
        export_id: String,
        /// Per category.
        categories: Vec<CategoryEstimate>,
        /// Continues an earlier run.
        resumed: bool,
    },
    /// Records of one category so far.
    Category {
        /// The category.
        name: String,
        /// Records stored.
        fetched: u64,
        /// Records announced, where the platform announces them.
        expected: Option<u64>,
    },
    /// Bytes so far, with rate and estimate.
    Bytes {
        /// Received.
        done: u64,
        /// Estimated total.
        total: u64,
        /// Bytes per second.
        rate: u64,
        /// Seconds left, when known.
        #[serde(rename = "etaSecs")]
        eta_secs: Option<u64>,
    },
    /// A split archive's parts being written, once everything is fetched.
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
    /// Waiting before trying again (rate limit, platform busy).
    Waiting {
        /// Why, in words.
        reason: String,
        /// Seconds to wait.
        secs: u64,
        /// When the wait ends, milliseconds since the Unix epoch.
        #[serde(rename = "untilMs")]
        until_ms: u64,
        /// When Keepsake stops retrying, milliseconds since the Unix epoch.
        #[serde(rename = "giveUpMs")]
        give_up_ms: Option<u64>,
    },
    /// Worth knowing; did not stop the export.
    Warning {
        /// The message.
        message: String,
    },
}

impl From<ExportEvent> for ProgressEvent {
    fn from(e: ExportEvent) -> Self {
        match e {
            ExportEvent::Phase { phase } => ProgressEvent::Phase {
                phase: match phase {
                    Phase::Opening => "opening",
                    Phase::Preflight => "preflight",
                    Phase::Fetching => "fetching",
                    Phase::Finishing => "finishing",
                    Phase::Done => "done",
                }
                .into(),
            },
            ExportEvent::Preflight {
                export_id,
                categories,
                resumed,
                ..
            } => ProgressEvent::Preflight {
                export_id,
                categories: categories.into_iter().map(CategoryEstimate::from).collect(),
                resumed,
            },
            ExportEvent::Category {
                name,
                fetched,
                expected,
            } => ProgressEvent::Category {
                name,
                fetched,
                expected,
            },
            ExportEvent::Bytes {
                done,
                total,
                rate,
                eta_secs,
            } => ProgressEvent::Bytes {
                done,
                total,
                rate,
                eta_secs,
            },
            ExportEvent::WritingParts {
                written,
                parts,
                done,
                total,
            } => ProgressEvent::WritingParts {
                written,
                parts,
                done,
                total,
            },
            ExportEvent::Waiting { reason, secs, .. } => ProgressEvent::Waiting {
                reason,
                secs,
                until_ms: now_ms() + secs * 1000,
                give_up_ms: None,
            },
            ExportEvent::Warning { message } => ProgressEvent::Warning { message },
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}
