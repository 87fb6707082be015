//! Writing a bag into a zip, streaming, under a `.partial` name until done.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::Digest;

use super::bagit::{
    BAG_INFO_TXT, BagInfo, DATA_PREFIX, MANIFEST, TAG_MANIFEST, bag_info_text, manifest_line,
};
use super::journal::{Journal, JournalEntry};
use super::names::{NameSet, check_tag_name};
use super::out::{HashingWriter, LinesReader, Out, SyncPoint, WriteFailure, copy_data};
use super::partial::SealedArchive;
use super::prepare::{Prepared, prepare_file, prepare_reader};
use super::zipfmt::{self, DosTime, Entry};
use crate::{Error, Result};

pub(crate) use super::prepare::DEFLATE_LEVEL;

mod open;

/// One entry written to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The entry's full name in the zip (`data/media/1-photo.jpg`).
    pub name: String,
    /// SHA-256 of its content, lower-case hex.
    pub sha256: String,
    /// Its length, uncompressed.
    pub bytes: u64,
}

/// An archive complete on disk under its final name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedArchive {
    /// Where it is.
    pub path: PathBuf,
    /// SHA-256 of the whole zip file, lower-case hex.
    pub sha256: String,
    /// Size of the zip file.
    pub bytes: u64,
    /// Number of payload files (under `data/`).
    pub payload_files: u64,
    /// Total payload size, uncompressed (the octets of `Payload-Oxum`).
    pub payload_bytes: u64,
    /// Bytes of the zip an interrupted run had written and this one kept
    /// ([`ArchiveWriter::resume`]); 0 when written in one go.
    pub kept_bytes: u64,
}

/// Writes a BagIt bag into one zip file, streaming: no entry is ever held in
/// memory whole; what is kept per entry is its name, hash and place, for the
/// manifest and the central directory.
///
/// The zip is written to [`partial_path_for`]`(final_path)`, created `0600`
/// and locked against a second writer. Only [`ArchiveWriter::finish`] gives
/// it the final name, after the tag files are written and the file is on
/// disk. A writer dropped or [abandoned](ArchiveWriter::abandon) before that
/// leaves the `.partial` file as it was and never a file with the final
/// name; [`ArchiveWriter::resume`] continues it from its last complete entry.
///
/// Entries are compressed before they are written ([`Prepared`]), so every
/// local header holds the entry's CRC and sizes, the file is only ever
/// appended to, and its SHA-256 is taken as it is written. Entries can be
/// prepared on other threads ([`prepare_reader`], [`prepare_file`]) and
/// added with [`ArchiveWriter::add_prepared`].
///
/// Every entry carries the same time, [`BagInfo::bagging_date`], and the
/// manifests are sorted, so the same input gives the same archive byte for
/// byte. ZIP64 is used where needed: sizes of 4 GiB and more, offsets past
/// 4 GiB and more than 65,534 entries.
pub struct ArchiveWriter {
    /// `None` once sealed.
    out: Option<Out>,
    final_path: PathBuf,
    partial_path: PathBuf,
    /// Where prepared entries spool what does not fit in memory.
    spool_dir: PathBuf,
    info: BagInfo,
    when: DosTime,
    /// Every entry written, for the central directory.
    entries: Vec<Entry>,
    /// Payload entries (full names) and their hashes, for the manifest.
    payload: Vec<(String, [u8; 32])>,
    payload_bytes: u64,
    /// Tag files other than the tag manifest, for the tag manifest.
    tags: Vec<(String, [u8; 32])>,
    /// Every name written or set aside.
    names: NameSet,
    /// Entries kept from an interrupted run: adding one again is a no-op.
    recovered: HashMap<String, ([u8; 32], u64)>,
    /// Records each complete entry so an interrupted run can be continued;
    /// `None` once [`stop_journal`](Self::stop_journal) is called.
    journal: Option<Journal>,
    /// Bytes kept from an interrupted run.
    kept_bytes: u64,
    /// A write to the archive failed: the zip may be inconsistent.
    broken: bool,
}

impl fmt::Debug for ArchiveWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("partial_path", &self.partial_path)
            .field("payload_files", &self.payload.len())
            .field("payload_bytes", &self.payload_bytes)
            .field("recovered", &self.recovered.len())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl ArchiveWriter {
    /// The file being written (`<final>.partial`).
    pub fn partial_path(&self) -> &Path {
        &self.partial_path
    }

    /// The name the archive gets when finished.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Where entries prepared for this writer spool large data.
    pub fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    /// The bag's metadata (on a resumed writer, with the first run's date).
    pub fn info(&self) -> &BagInfo {
        &self.info
    }

    /// Payload files added so far.
    pub fn payload_files(&self) -> u64 {
        self.payload.len() as u64
    }

    /// Payload bytes added so far, uncompressed.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Whether the payload entry `data/<path_in_data>` was kept from an
    /// interrupted run, so adding it again reads nothing.
    pub fn has_recovered(&self, path_in_data: &str) -> bool {
        self.recovered
            .contains_key(&format!("{DATA_PREFIX}{path_in_data}"))
    }

    /// The payload entries (paths under `data/`) kept from an interrupted
    /// run.
    pub fn recovered_payload(&self) -> HashMap<String, [u8; 32]> {
        self.recovered
            .iter()
            .filter_map(|(n, (sha, _))| Some((n.strip_prefix(DATA_PREFIX)?.to_owned(), *sha)))
            .collect()
    }

    /// Handles to make what is written so far durable from another thread
    /// (see [`SyncPoint`]); `None` once the journal is stopped, or when the
    /// files cannot be shared.
    pub fn sync_point(&self) -> Option<SyncPoint> {
        let journal = self.journal.as_ref()?.file().try_clone().ok()?;
        let archive = self.out.as_ref()?.file.get_ref().file().try_clone().ok()?;
        Some(SyncPoint { archive, journal })
    }

    /// Entries added from now on are not recorded for resuming: what comes
    /// next (the manifest, the tag files) depends on the whole run and is
    /// written again by a resumed one.
    pub fn stop_journal(&mut self) {
        self.journal = None;
    }

    /// Streams `reader` into the entry `data/<path_in_data>`, DEFLATE-
    /// compressed (level [`DEFLATE_LEVEL`]) when `compress`, stored otherwise.
    ///
    /// `len_hint` is the length when known: a reader that gives a different
    /// number of bytes is an error. `path_in_data` must already be safe (see
    /// [`super::names`]): relative, `/`-separated, no `.`, `..` or empty
    /// components, no backslash or NUL; and no other entry may have the
    /// same name ignoring case, or use it as a folder.
    ///
    /// When reading fails, or the length is not the hinted one, the entry is
    /// left out and the writer stays usable. When writing the archive fails,
    /// the writer is done: every later call fails.
    pub fn add_payload_reader(
        &mut self,
        path_in_data: &str,
        reader: &mut dyn Read,
        len_hint: Option<u64>,
        compress: bool,
    ) -> Result<EntryInfo> {
        let name = format!("{DATA_PREFIX}{path_in_data}");
        if let Some(done) = self.recovered_info(&name) {
            return Ok(done);
        }
        self.usable()?;
        self.check_new_name(&name)?;
        let prepared = prepare_reader(reader, len_hint, compress, &self.spool_dir, &name)
            .map_err(|e| self.about_archive(e))?;
        self.add_payload(name, prepared)
    }

    /// [`add_payload_reader`](Self::add_payload_reader) with the content of
    /// the file `src`.
    pub fn add_payload_file(
        &mut self,
        path_in_data: &str,
        src: &Path,
        compress: bool,
    ) -> Result<EntryInfo> {
        let name = format!("{DATA_PREFIX}{path_in_data}");
        if let Some(done) = self.recovered_info(&name) {
            return Ok(done);
        }
        self.usable()?;
        self.check_new_name(&name)?;
        let prepared =
            prepare_file(src, compress, &self.spool_dir).map_err(|e| self.about_archive(e))?;
        self.add_payload(name, prepared)
    }

    /// [`add_payload_reader`](Self::add_payload_reader) with `bytes`.
    pub fn add_payload_bytes(
        &mut self,
        path_in_data: &str,
        bytes: &[u8],
        compress: bool,
    ) -> Result<EntryInfo> {
        self.add_payload_reader(
            path_in_data,
            &mut &bytes[..],
            Some(bytes.len() as u64),
            compress,
        )
    }

    /// Adds the payload entry `data/<path_in_data>`, prepared elsewhere
    /// (perhaps on another thread) with [`prepare_reader`] or
    /// [`prepare_file`].
    pub fn add_prepared(&mut self, path_in_data: &str, prepared: Prepared) -> Result<EntryInfo> {
        let name = format!("{DATA_PREFIX}{path_in_data}");
        if let Some(done) = self.recovered_info(&name) {
            return Ok(done);
        }
        self.usable()?;
        self.check_new_name(&name)?;
        self.add_payload(name, prepared)
    }

    /// Adds a tag file outside `data/` (e.g. `index.html`), listed in the tag
    /// manifest. `name` follows the rules of payload paths, and may not be
    /// under `data/` nor be or look like one of the bag's own tag files
    /// (`bagit.txt`, `bag-info.txt`, `manifest-*.txt`, `tagmanifest-*.txt`).
    pub fn add_tag_file(&mut self, name: &str, bytes: &[u8]) -> Result<EntryInfo> {
        if let Some(done) = self.recovered_info(name) {
            return Ok(done);
        }
        self.usable()?;
        check_tag_name(name).map_err(|why| self.refuse(why))?;
        self.check_new_name(name)?;
        let hash = self.add_tag(name, bytes, true)?;
        Ok(EntryInfo {
            name: name.to_owned(),
            sha256: hex::encode(hash),
            bytes: bytes.len() as u64,
        })
    }

    /// Completes the bag: writes `bag-info.txt`, `manifest-sha256.txt` and
    /// `tagmanifest-sha256.txt`, finishes the zip, syncs it to disk, renames
    /// it to the final name (refusing if that name appeared meanwhile) and
    /// syncs the folder.
    pub fn finish(self) -> Result<FinishedArchive> {
        self.seal()?.publish()
    }

    /// [`finish`](Self::finish) without the rename: the bag is complete and
    /// on disk, still under its `.partial` name, until
    /// [`SealedArchive::publish`]. The parts of a split archive are sealed
    /// one by one and published together, so that no part has its final
    /// name before every part is complete.
    pub fn seal(mut self) -> Result<SealedArchive> {
        self.usable()?;
        self.stop_journal();
        let payload_files = self.payload.len() as u64;
        let bag_info = bag_info_text(&self.info, self.payload_bytes, payload_files);
        self.add_tag(BAG_INFO_TXT, bag_info.as_bytes(), true)?;

        let mut payload = std::mem::take(&mut self.payload);
        payload.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let hash = self.write_manifest(MANIFEST, &payload)?;
        self.tags.push((MANIFEST.to_owned(), hash));
        let mut tags = std::mem::take(&mut self.tags);
        tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.write_manifest(TAG_MANIFEST, &tags)?;

        let partial = self.partial_path.clone();
        let Some(mut out) = self.out.take() else {
            return Err(self.broken_error());
        };
        let start = out.pos;
        let mut directory = HashingWriter(&mut out);
        zipfmt::central_directory(&mut directory, &self.entries, start, self.when)
            .map_err(Error::io("write", &partial))?;
        let file = out
            .file
            .into_inner()
            .map_err(|e| Error::io("write", &partial)(e.into_error()))?;
        file.sync_all().map_err(Error::io("sync", &partial))?;
        Journal::remove(&partial);
        Ok(SealedArchive {
            file: Some(file),
            partial,
            archive: FinishedArchive {
                path: self.final_path.clone(),
                sha256: hex::encode(out.sha.finalize()),
                bytes: out.pos,
                payload_files,
                payload_bytes: self.payload_bytes,
                kept_bytes: self.kept_bytes,
            },
        })
    }

    /// Stops without finishing: the `.partial` file keeps what was written so
    /// far (no central directory is added) and no final file is created.
    /// Returns the path of the `.partial` file. Dropping the writer does the
    /// same.
    pub fn abandon(mut self) -> PathBuf {
        if let Some(out) = self.out.as_mut() {
            // What is written stays resumable.
            let _ = out.file.flush();
        }
        self.partial_path.clone()
    }

    fn recovered_info(&self, name: &str) -> Option<EntryInfo> {
        self.recovered.get(name).map(|(sha, len)| EntryInfo {
            name: name.to_owned(),
            sha256: hex::encode(sha),
            bytes: *len,
        })
    }

    fn add_payload(&mut self, name: String, prepared: Prepared) -> Result<EntryInfo> {
        let (sha256, bytes) = (prepared.sha256, prepared.len);
        self.write_prepared(&name, prepared, false)?;
        self.names.claim(&name);
        self.payload.push((name.clone(), sha256));
        self.payload_bytes += bytes;
        Ok(EntryInfo {
            name,
            sha256: hex::encode(sha256),
            bytes,
        })
    }

    /// Writes a tag file (claiming its name) and lists it for the tag
    /// manifest.
    fn add_tag(&mut self, name: &str, bytes: &[u8], compress: bool) -> Result<[u8; 32]> {
        let prepared = prepare_reader(
            &mut &bytes[..],
            Some(bytes.len() as u64),
            compress,
            &self.spool_dir,
            name,
        )?;
        let hash = prepared.sha256;
        self.write_prepared(name, prepared, true)?;
        self.names.claim(name);
        self.tags.push((name.to_owned(), hash));
        Ok(hash)
    }

    /// Appends a prepared entry: local header, then its data. A source file
    /// that changed since it was prepared leaves the entry out (the file is
    /// cut back); a failed write to the archive breaks the writer.
    fn write_prepared(&mut self, name: &str, prepared: Prepared, tag: bool) -> Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Err(self.broken_error());
        };
        let entry = Entry {
            name: name.to_owned(),
            method: prepared.method,
            crc32: prepared.crc32,
            len: prepared.len,
            compressed_len: prepared.compressed_len,
            offset: out.pos,
        };
        let (start, sha_at_start) = (out.pos, out.sha.clone());
        let header = zipfmt::local_header(&entry, self.when);
        let mut raw_crc = crc32fast::Hasher::new();
        let written = out
            .write(&header)
            .map_err(WriteFailure::Archive)
            .and_then(|()| copy_data(prepared.data, out, &mut raw_crc, &entry));
        match written {
            Ok(()) => {}
            Err(WriteFailure::Source(e)) => {
                if out.rewind(start, sha_at_start).is_err() {
                    self.broken = true;
                }
                return Err(self.about_archive(e));
            }
            Err(WriteFailure::Archive(e)) => {
                self.broken = true;
                return Err(Error::io("write", &self.partial_path)(e));
            }
        }
        if let Some(journal) = self.journal.as_mut() {
            // The entry leaves our buffer before the journal names it, so a
            // killed process leaves every journaled entry in the file.
            if let Err(e) = out.file.flush() {
                self.broken = true;
                return Err(Error::io("write", &self.partial_path)(e));
            }
            let line = JournalEntry {
                entry: entry.clone(),
                sha256: prepared.sha256,
                len: prepared.len,
                raw_crc32: raw_crc.finalize(),
                tag,
            };
            if let Err(e) = journal.append(&line) {
                // Resuming is a convenience: the archive itself is fine.
                tracing::warn!(error = %e, "could not record an archive entry for resuming; an interrupted export will rewrite the archive");
                self.journal = None;
            }
        }
        self.entries.push(entry);
        Ok(())
    }

    /// Writes a manifest of `entries`, one line each.
    fn write_manifest(&mut self, name: &str, entries: &[(String, [u8; 32])]) -> Result<[u8; 32]> {
        let mut lines = entries
            .iter()
            .map(|(path, hash)| manifest_line(&hex::encode(hash), path));
        let mut reader = LinesReader {
            lines: &mut lines,
            current: Vec::new(),
            pos: 0,
        };
        let prepared = prepare_reader(&mut reader, None, true, &self.spool_dir, name)?;
        let hash = prepared.sha256;
        self.write_prepared(name, prepared, true)?;
        Ok(hash)
    }

    /// An error from preparing an entry, about this archive.
    fn about_archive(&self, e: Error) -> Error {
        match e {
            Error::Archive { detail, .. } => Error::Archive {
                path: self.final_path.clone(),
                detail,
            },
            other => other,
        }
    }

    fn usable(&self) -> Result<()> {
        if self.broken || self.out.is_none() {
            return Err(self.broken_error());
        }
        Ok(())
    }

    fn broken_error(&self) -> Error {
        Error::Archive {
            path: self.partial_path.clone(),
            detail: "an earlier write to this archive failed, so it cannot be completed; the incomplete file stays where it is and the next export to the same file replaces it".to_owned(),
        }
    }

    fn refuse(&self, detail: String) -> Error {
        Error::Archive {
            path: self.final_path.clone(),
            detail,
        }
    }

    /// Refuses a name that is malformed or clashes with an earlier entry.
    fn check_new_name(&self, name: &str) -> Result<()> {
        self.names.check(name).map_err(|why| self.refuse(why))
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
