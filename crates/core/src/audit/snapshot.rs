//! What one consistent read of the log holds: its head as found, and its
//! lines up to the length the log had then. The store takes snapshots; the
//! chain checks them.

use std::io::{BufRead, BufReader, Take};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::AuditRecord;
use crate::{Error, Result};

/// What `audit.head` holds: the last record written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Head {
    pub(super) seq: u64,
    pub(super) hash: String,
}

/// `audit.head` as found on disk.
pub(super) enum HeadState {
    Missing,
    Malformed(String),
    Present(Head),
}

/// The log and its head as they were at one instant.
pub(super) struct Snapshot {
    pub(super) head_path: PathBuf,
    pub(super) head: HeadState,
    pub(super) log_exists: bool,
    pub(super) records: Records,
}

/// The records of the log, read one line at a time; see
/// [`AuditLog::records`].
#[derive(Debug)]
pub struct Records {
    pub(super) raw: RawLines,
}

impl Records {
    pub(super) fn into_raw(self) -> RawLines {
        self.raw
    }
}

impl Iterator for Records {
    type Item = Result<AuditRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = match self.raw.next()? {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let n = raw.number;
        let problem = if raw.complete {
            match serde_json::from_slice::<AuditRecord>(&raw.bytes) {
                Ok(record) => return Some(Ok(record)),
                Err(e) => format!("line {n} is not a valid record ({e})"),
            }
        } else {
            format!("line {n} is incomplete (it has no line end)")
        };
        Some(Err(Error::Audit {
            path: self.raw.path.clone(),
            detail: format!("{problem}; run `keepsake audit verify` to check the whole log"),
        }))
    }
}

/// One line of the log, without its line end.
pub(super) struct RawLine {
    /// From 1.
    pub(super) number: u64,
    pub(super) bytes: Vec<u8>,
    /// Whether the line ended with `\n` (only the last line can lack it).
    pub(super) complete: bool,
}

/// The lines of the log up to the length it had when the snapshot was taken.
#[derive(Debug)]
pub(super) struct RawLines {
    pub(super) reader: Option<Take<BufReader<fs_err::File>>>,
    pub(super) path: PathBuf,
    pub(super) number: u64,
}

impl Iterator for RawLines {
    type Item = Result<RawLine>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        let mut bytes = Vec::new();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) => None,
            Ok(_) => {
                self.number += 1;
                let complete = bytes.last() == Some(&b'\n');
                if complete {
                    bytes.pop();
                }
                Some(Ok(RawLine {
                    number: self.number,
                    bytes,
                    complete,
                }))
            }
            Err(e) => {
                self.reader = None;
                Some(Err(Error::io("read", &self.path)(e)))
            }
        }
    }
}
