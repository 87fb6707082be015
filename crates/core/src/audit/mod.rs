//! The tamper-evident audit log: one JSON line for every export, whatever
//! its outcome, chained to the line before it by SHA-256.
//!
//! The log lives in the user's data directory ([`AuditLog::default_dir`]):
//!
//! - `audit.jsonl` (`0600`): one [`AuditRecord`] per line, append-only;
//! - `audit.head` (`0600`): `{"seq":N,"hash":"<hex>"}`, the last record
//!   written, kept apart from the log so that cutting records off the end of
//!   the log is detected;
//! - `audit.lock`: an OS file lock, so that the CLI and the desktop app never
//!   interleave their writes. The OS releases it when a process dies, so a
//!   crashed writer never leaves a stale lock behind.
//! - `pending-reports.json` (`0600`, only while there are any): outcome
//!   reports the platform has not received yet ([`PendingReport`]), sent
//!   again by the next export or sign-in. A record with a [`Report`] is a
//!   follow-up about such a report, not an export of its own.
//!
//! Each record's `hash` is the lowercase hex SHA-256 of the record's JSON
//! without its `hash` member, in canonical form: keys sorted at every level,
//! no whitespace, non-ASCII characters unescaped (what Python's
//! `json.dumps(record, sort_keys=True, separators=(",", ":"),
//! ensure_ascii=False)` produces), so the chain can be checked years later
//! without Keepsake. The first record's `prev_hash` is 64 zeros.
//!
//! The chain detects accidental damage and naive edits; someone able to
//! rewrite the whole directory can recompute every hash. Records carry no
//! secret: [`AuditEntry`] has no field for a token, and the free-text fields
//! are scrubbed of anything that looks like one before they are written.
//!
//! This module must never write a record without the chain checked against
//! the head, and never continue a broken chain silently.

mod chain;
mod csv;
mod pending;
mod snapshot;
mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The same scrubbing for messages shown to the user (the API client).
pub(crate) use chain::redact;
pub use pending::PendingReport;
pub use snapshot::Records;

const LOG_FILE: &str = "audit.jsonl";
const HEAD_FILE: &str = "audit.head";
const LOCK_FILE: &str = "audit.lock";

/// How an export ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The archive is complete and verified.
    Completed,
    /// An archive was written but some records could not be retrieved (the
    /// counts say which).
    Incomplete,
    /// The export stopped on an error (`error_code` says which).
    Failed,
    /// The user cancelled the export.
    Cancelled,
}

impl Outcome {
    /// The lowercase name used in the log and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Incomplete => "incomplete",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// What a follow-up record says about the report of an export's outcome to
/// the platform (`PATCH …/exports/{export_id}`).
///
/// The export's own record is written as soon as its archive is final,
/// before the platform is told, and has no `report`. A report that does not
/// get through is kept (see [`PendingReport`]) and a record with `report`
/// set follows, repeating the export's identity, `result` and archive; the
/// next run that settles the kept report adds another. Readers counting
/// exports skip records with a `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Report {
    /// The platform could not be told; the report is kept and sent again by
    /// the next export or sign-in to the same platform.
    Pending,
    /// A kept report reached the platform.
    Delivered,
    /// A kept report was given up: the platform refused it, or it did not
    /// get through in several runs.
    Abandoned,
}

impl Report {
    /// The lowercase name used in the log and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Report::Pending => "pending",
            Report::Delivered => "delivered",
            Report::Abandoned => "abandoned",
        }
    }
}

/// The filters an export was run with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Only records created at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only records created before this time (RFC 3339).
    pub until: Option<String>,
}

/// How many records of one category the platform announced and how many
/// were retrieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryCount {
    /// What the platform announced when the export opened, if it did.
    pub expected: Option<u64>,
    /// What was actually retrieved and archived.
    pub retrieved: u64,
}

/// What the caller records about one export.
///
/// There is deliberately no field for a token, a password or any other
/// secret, and none must be added: the log is a plain file that support staff
/// hand to auditors. The free-text fields (`reason`, `error_message`) are
/// scrubbed of token-like words on [`AuditLog::append`] as a second line of
/// defence, and `platform` is stored without user info or query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Login of the person who ran the export.
    pub actor: String,
    /// Platform id of the actor, when known.
    pub actor_id: Option<crate::connector::AccountId>,
    /// Login of the person whose data was exported (the actor for a
    /// self-export).
    pub subject: String,
    /// Platform id of the subject, when known.
    pub subject_id: Option<crate::connector::AccountId>,
    /// Why support staff exported someone else's data.
    pub reason: Option<String>,
    /// The platform's base URL.
    pub platform: String,
    /// The categories requested (`posts`, `likes`, …).
    pub categories: Vec<String>,
    /// The filters requested.
    pub filters: Filters,
    /// The platform's export session id, when one was opened.
    pub export_id: Option<String>,
    /// How the export ended.
    pub result: Outcome,
    /// [`Error::code`] of the error that ended it, if any.
    pub error_code: Option<String>,
    /// The error as shown to the user, if any.
    pub error_message: Option<String>,
    /// Per-category counts.
    pub counts: BTreeMap<String, CategoryCount>,
    /// Bytes written to the archive.
    pub bytes: u64,
    /// Where the archive was written, if one was.
    pub archive_path: Option<String>,
    /// SHA-256 (hex) of the archive file, if one was written.
    pub archive_sha256: Option<String>,
    /// Wall-clock duration of the export in milliseconds.
    pub duration_ms: u64,
    /// The Keepsake version that ran it ([`crate::VERSION`]).
    pub app_version: String,
    /// Set only on a follow-up record about the outcome report (see
    /// [`Report`]); absent from the log otherwise, so records written
    /// before it existed, and their hashes, are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

/// One line of the log: the caller's entry, sealed into the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When the record was written (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// What the caller recorded.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// `hash` of the record before this one; 64 zeros for the first.
    pub prev_hash: String,
    /// SHA-256 (hex) of this record's canonical JSON without `hash`.
    pub hash: String,
}

/// The outcome of [`AuditLog::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Whether the log and its head are intact.
    pub ok: bool,
    /// Records that could be read.
    pub records: u64,
    /// What is wrong, one sentence each, naming the record or line.
    pub problems: Vec<String>,
}

/// The audit log in one directory.
#[derive(Debug, Clone)]
pub struct AuditLog {
    dir: PathBuf,
}

impl AuditLog {
    /// Opens the log in `dir`, creating the directory (`0700` on Unix) if it
    /// is missing. Nothing else is created until the first append.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            crate::fsx::create_private_dir(dir)?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// Where the log lives by default: `keepsake` in the user's data
    /// directory (`$XDG_DATA_HOME` or `~/.local/share` on Linux,
    /// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
    pub fn default_dir() -> Result<PathBuf> {
        dirs::data_dir().map(|d| d.join("keepsake")).ok_or_else(|| {
            Error::Invalid(
                "cannot find your data directory for the audit log; set HOME (or XDG_DATA_HOME)"
                    .into(),
            )
        })
    }

    /// The directory holding the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log file, `audit.jsonl`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// The head file, `audit.head`.
    pub fn head_path(&self) -> PathBuf {
        self.dir.join(HEAD_FILE)
    }

    /// Seals `entry` into the chain and appends it, durably (the line and
    /// then the head are fsynced before this returns).
    ///
    /// Holds the log's exclusive lock throughout, waiting up to a few seconds
    /// for another Keepsake process to finish. Refuses with
    /// [`Error::Audit`], writing nothing, when the end of the log does not
    /// match the head: the log was edited or truncated and must be looked at
    /// with [`AuditLog::verify`]. Only the last record is checked here;
    /// `verify` checks them all.
    pub fn append(&self, entry: AuditEntry) -> Result<AuditRecord> {
        store::append(self, chain::scrub(entry))
    }

    /// Reads the records one at a time, in log order, as they were when this
    /// was called (records appended meanwhile are not seen). Does not check
    /// the chain.
    pub fn records(&self) -> Result<Records> {
        Ok(store::snapshot(self)?.records)
    }

    /// All records, in log order. Does not check the chain; fails on the
    /// first line that is not a record.
    pub fn list(&self) -> Result<Vec<AuditRecord>> {
        self.records()?.collect()
    }

    /// Checks every record's hash, the sequence and the chain, and the end of
    /// the log against the head. Problems are reported, not returned as
    /// errors; errors mean the files could not be read at all.
    pub fn verify(&self) -> Result<ChainReport> {
        chain::verify(store::snapshot(self)?)
    }

    /// Writes the log as RFC 4180 CSV (header row, CRLF line ends) and
    /// returns how many records were written. Cells a spreadsheet would run
    /// as a formula are prefixed with `'`. Does not check the chain.
    pub fn export_csv(&self, out: &mut dyn Write) -> Result<u64> {
        csv::write(self.records()?, out)
    }
}
