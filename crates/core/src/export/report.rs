//! What an export that produced an archive reports: per-category counts,
//! the archive (and a split archive's parts), shortfalls and warnings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Outcome;

/// Expected versus retrieved, for one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// What the session announced, where the platform announces counts.
    pub expected: Option<u64>,
    /// What the archive holds.
    pub retrieved: u64,
}

/// The result of an export that produced an archive.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// Completed or incomplete.
    pub outcome: Outcome,
    /// The platform's export id.
    pub export_id: String,
    /// The archive (the first part of a split archive).
    pub archive: PathBuf,
    /// SHA-256 of the archive file. For a split archive, the SHA-256 of the
    /// parts' `sha256sum` listing (`{sha256}  {file name}\n` per part, in
    /// order), so `sha256sum NAME.part*.zip | sha256sum` in their folder
    /// gives it too.
    pub sha256: String,
    /// Size of the archive file (of all parts together).
    pub bytes: u64,
    /// Every file of a split archive, in order; empty for one file.
    pub parts: Vec<ArchivePart>,
    /// The start of the date range (inclusive), as the platform applied
    /// it; `None` without one.
    pub since: Option<String>,
    /// The end of the date range (exclusive), as the platform applied it.
    pub until: Option<String>,
    /// Per category, and the files the records name (`media_files`).
    pub counts: BTreeMap<String, Counts>,
    /// What each category is (its label, its container), for showing the
    /// counts.
    pub categories: Vec<super::PreparedCategory>,
    /// Why the export is incomplete, if it is.
    pub shortfalls: Vec<String>,
    /// Things worth knowing that did not stop the export.
    pub warnings: Vec<String>,
    /// Whether this run continued an interrupted one.
    pub resumed: bool,
    /// Bytes of the archive a resumed export kept from the interrupted run
    /// instead of writing them again (0 when written in one go).
    pub archive_kept_bytes: u64,
    /// The exported account's login.
    pub subject: String,
    /// The signed-in account's login.
    pub actor: String,
    /// The snapshot time.
    pub as_of: String,
    /// Whether the platform was told the outcome. When not, the report is
    /// kept beside the audit log and sent by the next export or sign-in to
    /// the same platform (a warning says so).
    pub reported: bool,
}

/// One file of a split archive.
#[derive(Debug, Clone, Serialize)]
pub struct ArchivePart {
    /// Where it is.
    pub path: PathBuf,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}
