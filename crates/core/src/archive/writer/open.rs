//! Opening an archive to write: afresh, or continuing the `.partial`
//! file an interrupted writer of the same bag left.

use std::collections::HashMap;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::super::CHUNK;
use super::super::bagit::{
    BAG_INFO_TXT, BAGIT_TXT, BAGIT_TXT_CONTENT, BagInfo, MANIFEST, TAG_MANIFEST,
};
use super::super::journal::{Journal, Recovered};
use super::super::names::NameSet;
use super::super::out::Out;
use super::super::partial::{create_private, lock, partial_path_for, remove_stale_partial};
use super::super::zipfmt::DosTime;
use super::ArchiveWriter;
use crate::{Error, Result};

impl ArchiveWriter {
    /// Starts a bag that will become `final_path`.
    ///
    /// Refuses when `final_path` exists (an archive is never overwritten) or
    /// when another writer is working on the same `.partial` file. A
    /// `.partial` file left by an earlier run is removed first.
    pub fn create(final_path: &Path, info: BagInfo) -> Result<Self> {
        Self::check_target(final_path, &info)?;
        let partial_path = partial_path_for(final_path);
        remove_stale_partial(&partial_path)?;
        let file = create_private(&partial_path)?;
        lock(&file, &partial_path)?;
        let journal = Journal::create(&partial_path, &info)?;
        let mut writer = Self::with_file(final_path, partial_path, info, file, 0, Sha256::new());
        writer.journal = Some(journal);
        // bagit.txt first, so the bag identifies itself from the first bytes.
        writer.add_tag(BAGIT_TXT, BAGIT_TXT_CONTENT.as_bytes(), false)?;
        Ok(writer)
    }

    /// Continues the `.partial` file an interrupted writer of the same bag
    /// (same [`BagInfo`] but for its date, whose first value is kept) left,
    /// from its last complete entry; entries added again that it already
    /// holds are not read again. Starts afresh, like
    /// [`create`](Self::create), when there is nothing to continue.
    pub fn resume(final_path: &Path, info: BagInfo) -> Result<Self> {
        Self::check_target(final_path, &info)?;
        let partial_path = partial_path_for(final_path);
        let Some(found) = Journal::recover(&partial_path, &info)? else {
            return Self::create(final_path, info);
        };
        let Recovered {
            file,
            journal,
            entries,
            bagging_date,
            end,
            sha,
        } = found;
        let info = BagInfo {
            bagging_date,
            ..info
        };
        let mut writer = Self::with_file(final_path, partial_path, info, file, end, sha);
        for e in entries {
            let name = &e.entry.name;
            writer.names.claim(name);
            writer.recovered.insert(name.clone(), (e.sha256, e.len));
            if e.tag {
                writer.tags.push((name.clone(), e.sha256));
            } else {
                writer.payload.push((name.clone(), e.sha256));
                writer.payload_bytes += e.len;
            }
            writer.entries.push(e.entry);
        }
        tracing::info!(
            path = %writer.partial_path.display(),
            entries = writer.entries.len(),
            bytes = end,
            "continuing an interrupted archive"
        );
        writer.journal = Some(journal);
        Ok(writer)
    }

    /// The refusals [`create`](Self::create) and [`resume`](Self::resume)
    /// make before touching anything: a malformed bag, a target that is not
    /// a file name, or one that exists (an archive is never overwritten).
    pub fn check_target(final_path: &Path, info: &BagInfo) -> Result<()> {
        info.check()?;
        if final_path.file_name().is_none() {
            return Err(Error::Invalid(format!(
                "{} is not a file name; choose a file such as keepsake-export.zip",
                final_path.display()
            )));
        }
        match fs_err::symlink_metadata(final_path) {
            Ok(_) => Err(Error::Invalid(format!(
                "{} already exists and Keepsake never overwrites an archive; move or rename it, or choose another output file",
                final_path.display()
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("check", final_path)(e)),
        }
    }

    fn with_file(
        final_path: &Path,
        partial_path: PathBuf,
        info: BagInfo,
        file: fs_err::File,
        pos: u64,
        sha: Sha256,
    ) -> Self {
        let mut names = NameSet::default();
        for name in [BAGIT_TXT, BAG_INFO_TXT, MANIFEST, TAG_MANIFEST] {
            names.claim(name);
        }
        let spool_dir = match final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Self {
            out: Some(Out {
                file: BufWriter::with_capacity(4 * CHUNK, file),
                pos,
                sha,
            }),
            final_path: final_path.to_owned(),
            partial_path,
            spool_dir,
            when: DosTime::from(info.bagging_date),
            info,
            entries: Vec::new(),
            payload: Vec::new(),
            payload_bytes: 0,
            tags: Vec::new(),
            names,
            recovered: HashMap::new(),
            journal: None,
            kept_bytes: pos,
            broken: false,
        }
    }
}
