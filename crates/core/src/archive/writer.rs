//! Writing a bag into a zip, streaming, under a `.partial` name until done.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::bagit::{
    BAG_INFO_TXT, BAGIT_TXT, BAGIT_TXT_CONTENT, BagInfo, DATA_PREFIX, MANIFEST, TAG_MANIFEST,
    bag_info_text, manifest_line,
};
use super::journal::{Journal, JournalEntry, Recovered};
use super::names::fold_key;
use super::prepare::{Prepared, Spool, prepare_file, prepare_reader};
use super::zipfmt::{self, DosTime, Entry};
use super::{CHUNK, busy, io_error};
use crate::{Error, Result};

pub(crate) use super::prepare::DEFLATE_LEVEL;

/// Longest entry path accepted, in bytes: beyond this no file system can
/// extract it.
const MAX_PATH_BYTES: usize = 4096;

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

/// Where the archive for `final_path` is written until it is complete:
/// `final_path` with `.partial` appended.
pub fn partial_path_for(final_path: &Path) -> PathBuf {
    let mut name = OsString::from(final_path.as_os_str());
    name.push(".partial");
    PathBuf::from(name)
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

/// The archive file, appended to and hashed as it is written.
struct Out {
    file: BufWriter<fs_err::File>,
    pos: u64,
    sha: Sha256,
}

impl Out {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.sha.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Cuts the file back to `pos` with the hash as it was there.
    fn rewind(&mut self, pos: u64, sha: Sha256) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().set_len(pos)?;
        self.file.seek(SeekFrom::Start(pos))?;
        self.pos = pos;
        self.sha = sha;
        Ok(())
    }
}

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
            Err(e) => Err(io_error("check", final_path)(e)),
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
            .map_err(io_error("write", &partial))?;
        let file = out
            .file
            .into_inner()
            .map_err(|e| io_error("write", &partial)(e.into_error()))?;
        file.sync_all().map_err(io_error("sync", &partial))?;
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
                return Err(io_error("write", &self.partial_path)(e));
            }
        }
        if let Some(journal) = self.journal.as_mut() {
            // The entry leaves our buffer before the journal names it, so a
            // killed process leaves every journaled entry in the file.
            if let Err(e) = out.file.flush() {
                self.broken = true;
                return Err(io_error("write", &self.partial_path)(e));
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

/// The archive file and its journal, to be synced from another thread:
/// after [`SyncPoint::sync`], every entry added before the call is on disk
/// and journaled, so it survives even a power cut and the sources it was
/// made from are no longer needed for resuming.
#[derive(Debug)]
pub struct SyncPoint {
    archive: std::fs::File,
    journal: std::fs::File,
}

impl SyncPoint {
    /// Syncs the archive's data, then the journal that names it.
    pub fn sync(&self) -> io::Result<()> {
        self.archive.sync_data()?;
        self.journal.sync_data()
    }

    /// Writes what is written of the archive so far to disk (the journal
    /// is left as it is). Called as the archive grows, it keeps the system
    /// from holding hundreds of megabytes until a sync that then waits for
    /// all of them: the one at the end of an export would take about half
    /// a second. (Pages stay cached: a resumed run reads them back.)
    pub fn write_back(&self) -> io::Result<()> {
        self.archive.sync_data()
    }
}

/// Why copying an entry's data stopped.
enum WriteFailure {
    /// Reading the data failed, or it was not what was prepared.
    Source(Error),
    /// Writing the archive failed.
    Archive(io::Error),
}

/// Copies a prepared entry's data into the archive, taking the CRC of the
/// bytes as stored (for the resume journal).
fn copy_data(
    data: Spool,
    out: &mut Out,
    raw_crc: &mut crc32fast::Hasher,
    entry: &Entry,
) -> std::result::Result<(), WriteFailure> {
    let (mut reader, src): (Box<dyn Read>, PathBuf) = match data {
        Spool::Memory(bytes) => {
            if entry.method == zipfmt::Method::Stored {
                // Stored from memory: the bytes are the content, whose CRC
                // the entry carries (taken as they were prepared).
                *raw_crc = crc32fast::Hasher::new_with_initial(entry.crc32);
            } else {
                raw_crc.update(&bytes);
            }
            return out.write(&bytes).map_err(WriteFailure::Archive);
        }
        Spool::Temp(file) => (Box::new(file), PathBuf::from(&entry.name)),
        Spool::Source(path) => (
            Box::new(
                fs_err::File::open(&path)
                    .map_err(|e| WriteFailure::Source(io_error("open", &path)(e)))?,
            ),
            path,
        ),
    };
    let mut buf = vec![0; CHUNK];
    let mut copied = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WriteFailure::Source(io_error("read", &src)(e))),
        };
        copied += n as u64;
        if copied > entry.compressed_len {
            break;
        }
        raw_crc.update(&buf[..n]);
        out.write(&buf[..n]).map_err(WriteFailure::Archive)?;
    }
    // A stored source is read twice; the second reading must be the first.
    let same = copied == entry.compressed_len
        && (entry.method != zipfmt::Method::Stored || raw_crc.clone().finalize() == entry.crc32);
    if !same {
        return Err(WriteFailure::Source(Error::Archive {
            path: src.clone(),
            detail: format!(
                "{} was left out: {} changed while being archived",
                entry.name,
                src.display()
            ),
        }));
    }
    Ok(())
}

/// Passes writes to the archive, hashed.
struct HashingWriter<'a>(&'a mut Out);

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.file.flush()
    }
}

fn lock(file: &fs_err::File, partial_path: &Path) -> Result<()> {
    match file.file().try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(busy(partial_path)),
        // A file system without locks: carry on unprotected.
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::debug!(path = %partial_path.display(), error = %e, "cannot lock the partial archive");
            Ok(())
        }
    }
}

/// A bag complete and on disk under its `.partial` name; see
/// [`ArchiveWriter::seal`].
#[derive(Debug)]
pub struct SealedArchive {
    /// Open (and locked) until published or closed.
    file: Option<fs_err::File>,
    partial: PathBuf,
    archive: FinishedArchive,
}

impl SealedArchive {
    /// What the archive will be once published.
    pub fn archive(&self) -> &FinishedArchive {
        &self.archive
    }

    /// Closes the file (ending its lock against a second writer) before it
    /// is published: for callers that hold many sealed archives at once.
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Gives the archive its final name without ever replacing a file that
    /// took that name meanwhile, and syncs the folder.
    pub fn publish(self) -> Result<FinishedArchive> {
        publish(&self.partial, &self.archive.path)?;
        drop(self.file);
        sync_parent(&self.archive.path);
        Ok(self.archive)
    }
}

/// The names in an archive, compared as extraction would see them: ignoring
/// case and Unicode normalisation ([`fold_key`]), files and folders apart.
#[derive(Debug, Default, Clone)]
pub(super) struct NameSet {
    /// [`fold_key`]s of every file name written or set aside.
    files: HashSet<String>,
    /// [`fold_key`]s of every folder implied by a file name.
    dirs: HashSet<String>,
}

impl NameSet {
    /// Why `name` cannot be added, if it cannot: malformed, or clashing with
    /// a name already taken.
    pub(super) fn check(&self, name: &str) -> std::result::Result<(), String> {
        check_entry_path(name).map_err(|why| format!("the entry name {name:?} {why}"))?;
        let key = fold_key(name);
        if self.files.contains(&key) {
            return Err(format!(
                "the entry name {name:?} is already in the archive (names are compared ignoring case)"
            ));
        }
        if self.dirs.contains(&key) {
            return Err(format!(
                "the entry name {name:?} is already a folder in the archive"
            ));
        }
        // Folding keeps every '/', so the n-th '/' of the key is the n-th of the name.
        for ((k, _), (n, _)) in key.match_indices('/').zip(name.match_indices('/')) {
            if self.files.contains(&key[..k]) {
                return Err(format!(
                    "the entry name {name:?} would be inside {:?}, which is a file in the archive",
                    &name[..n]
                ));
            }
        }
        Ok(())
    }

    /// Records `name` as taken, with its folders.
    pub(super) fn claim(&mut self, name: &str) {
        let key = fold_key(name);
        for (i, _) in key.match_indices('/') {
            self.dirs.insert(key[..i].to_owned());
        }
        self.files.insert(key);
    }
}

/// Why `name` cannot be a tag file, if it cannot: tag files live outside
/// `data/` and may not be, or look like, one of the bag's own.
pub(super) fn check_tag_name(name: &str) -> std::result::Result<(), String> {
    let key = fold_key(name);
    let first = key.split('/').next().unwrap_or("");
    let own = key == BAGIT_TXT
        || key == BAG_INFO_TXT
        || ((key.starts_with("manifest-") || key.starts_with("tagmanifest-"))
            && key.ends_with(".txt"));
    if first == "data" || own {
        return Err(format!(
            "{name:?} cannot be a tag file: the name belongs to the payload or to the bag's own tag files"
        ));
    }
    Ok(())
}

/// Why `path` is not a valid entry path, if it is not.
fn check_entry_path(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err("is longer than 4096 bytes");
    }
    if path.starts_with('/') {
        return Err("starts with '/'");
    }
    if path.contains('\\') {
        return Err("contains a backslash");
    }
    if path.contains('\0') {
        return Err("contains a NUL character");
    }
    for part in path.split('/') {
        if part.is_empty() {
            return Err("has an empty component");
        }
        if part == "." || part == ".." {
            return Err("has a '.' or '..' component");
        }
        if part.starts_with(char::is_whitespace) || part.ends_with(char::is_whitespace) {
            return Err("has a component that starts or ends with white space");
        }
    }
    Ok(())
}

/// Removes a `.partial` file left by an earlier run, unless a live writer
/// holds it.
pub(super) fn remove_stale_partial(partial: &Path) -> Result<()> {
    match fs_err::File::open(partial) {
        Ok(stale) => {
            if let Err(std::fs::TryLockError::WouldBlock) = stale.try_lock() {
                return Err(busy(partial));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        // Unreadable: try to remove it all the same.
        Err(_) => {}
    }
    super::journal::Journal::remove(partial);
    match fs_err::remove_file(partial) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove the unfinished archive", partial)(e)),
    }
}

/// Removes the unfinished archive that would become `final_path` and its
/// journal, unless a live writer holds it; for when its export is given up.
pub fn remove_partial(final_path: &Path) {
    if let Err(e) = remove_stale_partial(&partial_path_for(final_path)) {
        tracing::warn!(error = %e, "could not remove an unfinished archive");
    }
}

/// A new file readable and writable by its owner only.
pub(super) fn create_private(path: &Path) -> Result<fs_err::File> {
    crate::fsx::private_file()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error("create", path))
}

/// Gives the finished archive its final name without ever replacing a file
/// that took that name meanwhile.
fn publish(partial: &Path, final_path: &Path) -> Result<()> {
    let taken = || {
        Error::Invalid(format!(
            "{} appeared while the archive was being written and Keepsake never overwrites an archive; the new archive is complete in {}: rename it yourself",
            final_path.display(),
            partial.display()
        ))
    };
    // A hard link fails when the target exists, where a rename would replace it.
    match fs_err::hard_link(partial, final_path) {
        Ok(()) => {
            if let Err(e) = fs_err::remove_file(partial) {
                // The archive is complete under its final name; the next
                // export to it removes the leftover.
                tracing::warn!(path = %partial.display(), error = %e, "could not remove the partial archive");
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(taken()),
        // A file system without hard links (FAT, some network shares).
        Err(_) => {
            match fs_err::symlink_metadata(final_path) {
                Ok(_) => return Err(taken()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("check", final_path)(e)),
            }
            fs_err::rename(partial, final_path).map_err(io_error("rename", partial))
        }
    }
}

/// Makes the rename durable. A failure is only logged: the archive is
/// complete and synced; only its name might not survive a power cut.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Err(e) = fs_err::File::open(dir).and_then(|d| d.sync_all()) {
            tracing::warn!(path = %dir.display(), error = %e, "could not sync the archive's folder");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Reads the concatenation of `lines`.
struct LinesReader<'a, I: Iterator<Item = String>> {
    lines: &'a mut I,
    current: Vec<u8>,
    pos: usize,
}

impl<I: Iterator<Item = String>> Read for LinesReader<'_, I> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.lines.next() {
                Some(line) => {
                    self.current = line.into_bytes();
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::tests::{info, small_bag};
    use crate::archive::{read_entry_to_string, verify};

    fn names_in(path: &Path) -> Vec<String> {
        let zip = zip::ZipArchive::new(fs_err::File::open(path).expect("open")).expect("zip");
        zip.file_names()
            .map(|n| n.expect("name").into_owned())
            .collect()
    }

    #[test]
    fn the_final_name_appears_only_when_finished() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        assert_eq!(w.partial_path(), dir.path().join("export.zip.partial"));
        assert!(w.partial_path().is_file());
        assert!(!path.exists());
        w.add_payload_bytes("a.json", b"{}", true).expect("add");
        assert!(!path.exists());
        let done = w.finish().expect("finish");
        assert_eq!(done.path, path);
        assert!(path.is_file());
        assert!(!partial_path_for(&path).exists());
        let on_disk = fs_err::read(&path).expect("read");
        assert_eq!(done.bytes, on_disk.len() as u64);
        assert_eq!(done.sha256, hex::encode(Sha256::digest(&on_disk)));
        assert_eq!((done.payload_files, done.payload_bytes), (1, 2));
    }

    #[cfg(unix)]
    #[test]
    fn archives_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        let w = ArchiveWriter::create(&path, info()).expect("create");
        let mode = |p: &Path| fs_err::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(w.partial_path()), 0o600);
        let done = w.finish().expect("finish");
        assert_eq!(mode(&done.path), 0o600);
        let mut zip =
            zip::ZipArchive::new(fs_err::File::open(&done.path).expect("open")).expect("zip");
        for i in 0..zip.len() {
            assert_eq!(
                zip.by_index(i)
                    .expect("entry")
                    .unix_mode()
                    .map(|m| m & 0o777),
                Some(0o600)
            );
        }
    }

    #[test]
    fn an_existing_archive_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        fs_err::write(&path, b"precious").expect("write");
        let err = ArchiveWriter::create(&path, info()).expect_err("refused");
        assert!(
            matches!(&err, Error::Invalid(m) if m.contains("already exists")),
            "{err}"
        );
        assert_eq!(fs_err::read(&path).expect("read"), b"precious");
        assert!(!partial_path_for(&path).exists());
    }

    #[test]
    fn a_final_name_taken_meanwhile_is_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        let w = ArchiveWriter::create(&path, info()).expect("create");
        fs_err::write(&path, b"someone else's").expect("write");
        let err = w.finish().expect_err("refused");
        assert!(
            matches!(&err, Error::Invalid(m) if m.contains("appeared")),
            "{err}"
        );
        assert_eq!(fs_err::read(&path).expect("read"), b"someone else's");
        assert!(
            verify(&partial_path_for(&path)).expect("verify").ok,
            "the new archive is kept whole"
        );
    }

    #[test]
    fn a_stale_partial_is_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        fs_err::write(partial_path_for(&path), b"left by a crash").expect("write");
        let done = ArchiveWriter::create(&path, info())
            .expect("create")
            .finish()
            .expect("finish");
        assert!(verify(&done.path).expect("verify").ok);
    }

    #[test]
    fn a_partial_being_written_is_not_touched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        let mut first = ArchiveWriter::create(&path, info()).expect("create");
        let err = ArchiveWriter::create(&path, info()).expect_err("second writer refused");
        assert!(
            matches!(&err, Error::Invalid(m) if m.contains("another Keepsake export")),
            "{err}"
        );
        first
            .add_payload_bytes("a.json", b"{}", true)
            .expect("first goes on");
        assert!(
            verify(&first.finish().expect("finish").path)
                .expect("verify")
                .ok
        );
    }

    #[test]
    fn a_dropped_writer_leaves_only_the_partial_as_it_was() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("export.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        w.add_payload_bytes("a.json", &[b'x'; 100_000], true)
            .expect("add");
        let partial = w.partial_path().to_owned();
        drop(w); // as when the export thread stops on an error or a panic
        assert!(!path.exists());
        assert!(partial.is_file());
        // No central directory was added behind the caller's back.
        assert!(zip::ZipArchive::new(fs_err::File::open(&partial).expect("open")).is_err());

        let w = ArchiveWriter::create(&path, info()).expect("create again");
        assert_eq!(w.abandon(), partial);
        assert!(partial.is_file());
        assert!(!path.exists());
    }

    #[test]
    fn malformed_entry_names_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = ArchiveWriter::create(&dir.path().join("e.zip"), info()).expect("create");
        for bad in [
            "",
            "/abs",
            "../up",
            "a/../b",
            "./a",
            "a//b",
            "a/",
            "back\\slash",
            "nul\0",
            " lead",
            "trail /x",
            &"x".repeat(5000),
        ] {
            let err = w.add_payload_bytes(bad, b"x", true).expect_err(bad);
            assert!(matches!(err, Error::Archive { .. }), "{bad:?}: {err}");
        }
        for bad in [
            "data/x",
            "Data/x",
            "bagit.txt",
            "BAG-INFO.txt",
            "manifest-md5.txt",
            "tagmanifest-sha512.txt",
            "../x",
        ] {
            let err = w.add_tag_file(bad, b"x").expect_err(bad);
            assert!(matches!(err, Error::Archive { .. }), "{bad:?}: {err}");
        }
        // Refusals leave the writer usable.
        w.add_payload_bytes("ok.json", b"{}", true).expect("add");
        assert!(
            verify(&w.finish().expect("finish").path)
                .expect("verify")
                .ok
        );
    }

    #[test]
    fn names_that_would_collide_on_extraction_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = ArchiveWriter::create(&dir.path().join("e.zip"), info()).expect("create");
        w.add_payload_bytes("media/Photo.png", b"1", false)
            .expect("add");
        w.add_payload_bytes("file", b"2", false).expect("add");
        for clash in [
            "media/Photo.png",
            "media/photo.PNG",
            "MEDIA",
            "file/inside",
            "FILE/inside",
        ] {
            let err = w.add_payload_bytes(clash, b"x", false).expect_err(clash);
            assert!(matches!(err, Error::Archive { .. }), "{clash:?}: {err}");
        }
        w.add_tag_file("index.html", b"<p>").expect("tag");
        assert!(w.add_tag_file("Index.HTML", b"<p>").is_err());
        assert_eq!(w.payload_files(), 2);
    }

    #[test]
    fn a_source_of_the_wrong_length_is_left_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        let short = w.add_payload_reader("short.bin", &mut &[7u8; 10][..], Some(11), false);
        assert!(matches!(short, Err(Error::Archive { .. })), "{short:?}");
        let long = w.add_payload_reader("long.bin", &mut &[7u8; 100_000][..], Some(99_999), true);
        assert!(matches!(long, Err(Error::Archive { .. })), "{long:?}");
        // The name is still free: the caller may try again.
        w.add_payload_reader("long.bin", &mut &[7u8; 100_000][..], Some(100_000), true)
            .expect("retry");
        let done = w.finish().expect("finish");
        assert_eq!((done.payload_files, done.payload_bytes), (1, 100_000));
        let report = verify(&done.path).expect("verify");
        assert!(report.ok, "{:?}", report.problems);
    }

    #[test]
    fn a_failing_source_leaves_no_trace() {
        /// Gives `.0` bytes of noise (DEFLATE cannot shrink it), then fails.
        struct Failing(usize, u64);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "network gone",
                    ));
                }
                let n = buf.len().min(self.0);
                for b in &mut buf[..n] {
                    self.1 ^= self.1 << 13;
                    self.1 ^= self.1 >> 7;
                    self.1 ^= self.1 << 17;
                    *b = self.1 as u8;
                }
                self.0 -= n;
                Ok(n)
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("e.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        for compress in [false, true] {
            let err = w
                .add_payload_reader("media/big.bin", &mut Failing(300_000, 1), None, compress)
                .expect_err("fails");
            assert!(matches!(&err, Error::Io { action: "read", .. }), "{err}");
            assert!(err.to_string().contains("network gone"), "{err}");
        }
        w.add_payload_bytes("small.json", b"{}", true)
            .expect("writer still usable");
        let done = w.finish().expect("finish");
        assert_eq!(
            names_in(&done.path),
            [
                "bagit.txt",
                "data/small.json",
                "bag-info.txt",
                "manifest-sha256.txt",
                "tagmanifest-sha256.txt"
            ]
        );
        assert!(
            done.bytes < 10_000,
            "the aborted entry's bytes were cut off: {}",
            done.bytes
        );
        let report = verify(&done.path).expect("verify");
        assert!(report.ok, "{:?}", report.problems);
    }

    #[test]
    fn files_are_added_from_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("staged.bin");
        fs_err::write(&src, vec![42u8; 200_000]).expect("write");
        let mut w = ArchiveWriter::create(&dir.path().join("e.zip"), info()).expect("create");
        let entry = w
            .add_payload_file("media/1-x.bin", &src, false)
            .expect("add");
        assert_eq!(entry.name, "data/media/1-x.bin");
        assert_eq!(entry.bytes, 200_000);
        assert_eq!(
            entry.sha256,
            hex::encode(Sha256::digest(vec![42u8; 200_000]))
        );
        let err = w
            .add_payload_file("media/2.bin", &dir.path().join("absent"), false)
            .expect_err("missing source");
        assert!(matches!(&err, Error::Io { action: "open", .. }), "{err}");
        w.finish().expect("finish");
    }

    #[test]
    fn the_same_input_gives_the_same_archive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = small_bag(dir.path(), "a.zip");
        let b = small_bag(dir.path(), "b.zip");
        assert_eq!(a.sha256, b.sha256);
        let mut zip =
            zip::ZipArchive::new(fs_err::File::open(&a.path).expect("open")).expect("zip");
        let entry = zip.by_name("data/posts.json").expect("entry");
        assert_eq!(
            entry.last_modified().map(|t| t.to_string()).as_deref(),
            Some("2025-06-01 12:34:56")
        );
    }

    #[test]
    fn the_bag_has_its_tag_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        assert_eq!(
            names_in(&done.path),
            [
                "bagit.txt",
                "data/posts.json",
                "data/media/1-photo.jpg",
                "index.html",
                "bag-info.txt",
                "manifest-sha256.txt",
                "tagmanifest-sha256.txt"
            ]
        );
        let read = |name| read_entry_to_string(&done.path, name).expect(name);
        assert_eq!(
            read("bagit.txt"),
            "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
        );
        let bag_info = read("bag-info.txt");
        assert!(
            bag_info.contains("External-Identifier: exp_0123\n"),
            "{bag_info}"
        );
        assert!(
            bag_info.contains("Bagging-Date: 2025-06-01\n"),
            "{bag_info}"
        );
        assert!(
            bag_info.contains(&format!("Payload-Oxum: {}.2\n", done.payload_bytes)),
            "{bag_info}"
        );
        assert!(
            bag_info.ends_with("Keepsake-Status: completed\n"),
            "{bag_info}"
        );
        let manifest = read("manifest-sha256.txt");
        let paths: Vec<&str> = manifest.lines().map(|l| &l[66..]).collect();
        assert_eq!(
            paths,
            ["data/media/1-photo.jpg", "data/posts.json"],
            "sorted"
        );
        let tags = read("tagmanifest-sha256.txt");
        let paths: Vec<&str> = tags.lines().map(|l| &l[66..]).collect();
        assert_eq!(
            paths,
            [
                "bag-info.txt",
                "bagit.txt",
                "index.html",
                "manifest-sha256.txt"
            ]
        );
    }

    #[test]
    fn a_verified_file_that_changed_since_is_left_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("1.bin");
        let content = vec![9u8; 100_000];
        fs_err::write(&src, &content).expect("write");
        let sha: [u8; 32] = Sha256::digest(&content).into();
        let crc = crc32fast::hash(&content);
        let mut w = ArchiveWriter::create(&dir.path().join("v.zip"), info()).expect("create");
        // As downloaded: copied without being hashed again.
        let entry = w
            .add_prepared(
                "media/1.bin",
                Prepared::verified_file(src.clone(), 100_000, sha, crc),
            )
            .expect("add");
        assert_eq!(entry.sha256, hex::encode(sha));
        // Changed on disk since it was verified: left out, writer usable.
        fs_err::write(&src, vec![8u8; 100_000]).expect("change");
        let err = w
            .add_prepared(
                "media/2.bin",
                Prepared::verified_file(src.clone(), 100_000, sha, crc),
            )
            .expect_err("changed");
        assert!(
            err.to_string().contains("changed while being archived"),
            "{err}"
        );
        let done = w.finish().expect("finish");
        assert_eq!(done.payload_files, 1);
        let report = verify(&done.path).expect("verify");
        assert!(report.ok, "{:?}", report.problems);
    }

    #[test]
    fn the_writer_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<ArchiveWriter>();
    }
}
