//! One resume model: what an interrupted run of this export left, read once
//! before any fetch or download starts and handed to them by value.
//!
//! Where a resume is decided, in order:
//! 1. [`super::session`]: whether there is an export of this account to
//!    resume in the folder, and whether the platform still holds it open
//!    (`Connector::live`);
//! 2. here: the staging journal replayed (each category cut back to its
//!    last checkpoint, or its last synced one after a restart), the
//!    downloaded files it records, checked again when they were written in
//!    another boot, and the formats and split size the export started with;
//! 3. the zip thread ([`super::assemble`]): the partial archive cut back to
//!    its last intact journaled entry (`ArchiveWriter::resume`). Checking
//!    it reads it all, so it runs while fetching starts; downloads learn
//!    which files it holds through `Archived` before they would fetch one
//!    again. A split archive keeps instead the entries its spool folder's
//!    journal lists (`PartedWriter::resume`), and downloads learn of them
//!    the same way.

use std::collections::HashMap;
use std::path::Path;

use super::ExportOptions;
use super::session::{Choices, StagedSession, settle_choices};
use super::staging::{self, CategoryState, MediaFile, Staging};
use crate::Result;

/// What this run continues.
pub(super) struct ResumePlan {
    /// Each category's walk so far, by name (absent: from the start).
    pub categories: HashMap<String, CategoryState>,
    /// The files downloaded and verified, by key. The staged copy of one
    /// may be gone since: it went into the archive.
    pub files: HashMap<String, MediaFile>,
    /// The formats and split size: those the export started with once
    /// anything was fetched, else this run's.
    pub choices: Choices,
}

impl ResumePlan {
    /// Reads what `staging` holds (replaying its journal) for the export
    /// staged as `staged`; `boot` is this boot's id, where the system
    /// names it.
    pub fn build(
        staging: &mut Staging,
        staging_dir: &Path,
        staged: &StagedSession,
        opts: &ExportOptions,
        boot: Option<&str>,
    ) -> Result<Self> {
        let (categories, mut files) = staging.replay(boot)?;
        staging::recheck_after_reboot(staging_dir, &mut files, boot);
        let fresh = categories.is_empty() && files.is_empty();
        let choices = settle_choices(staging_dir, staged, opts, fresh)?;
        Ok(Self {
            categories,
            files,
            choices,
        })
    }
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
