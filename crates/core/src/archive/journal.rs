//! The record of complete entries kept beside a `.partial` archive, so an
//! interrupted export continues its archive instead of writing it again.
//!
//! `NAME.zip.partial.journal` holds one JSON line for the bag (what it is,
//! how it is compressed) and one per complete entry: where it is, its CRC
//! and sizes, the CRC of its bytes as stored and its SHA-256 for the
//! manifest. It is not synced: after a crash, [`Journal::recover`] checks
//! every recorded entry against the file (header bytes and stored CRC) and
//! keeps the archive up to the first entry that does not match.

use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset};

use super::CHUNK;
use super::bagit::BagInfo;
use super::prepare::DEFLATE_LEVEL;
use super::zipfmt::{DosTime, Entry, Method, local_header};
use crate::{Error, Result};

/// Bumped when the archive writer's output changes, so a `.partial` file
/// from another version is written again rather than continued.
const JOURNAL_FORMAT: u32 = 1;

/// An open journal, appended to after every complete entry.
#[derive(Debug)]
pub(super) struct Journal {
    file: fs_err::File,
}

/// One complete entry as the journal records it.
#[derive(Debug, Clone)]
pub(super) struct JournalEntry {
    pub entry: Entry,
    pub sha256: [u8; 32],
    pub len: u64,
    /// CRC-32 of the entry's data as stored (compressed or not).
    pub raw_crc32: u32,
    /// A tag file (outside the payload).
    pub tag: bool,
}

/// What an interrupted archive still holds.
pub(super) struct Recovered {
    /// The `.partial` file, locked, positioned at `end`.
    pub file: fs_err::File,
    pub journal: Journal,
    pub entries: Vec<JournalEntry>,
    /// The first run's date, which every entry carries.
    pub bagging_date: OffsetDateTime,
    /// Where the last kept entry ends.
    pub end: u64,
    /// SHA-256 of the file up to `end`, to go on with.
    pub sha: Sha256,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    keepsake_partial: u32,
    deflate_level: u32,
    source_organization: String,
    external_identifier: String,
    extra: Vec<(String, String)>,
    bagging_date: i64,
    bagging_offset: i32,
}

impl Header {
    fn of(info: &BagInfo) -> Self {
        Self {
            keepsake_partial: JOURNAL_FORMAT,
            deflate_level: DEFLATE_LEVEL,
            source_organization: info.source_organization.clone(),
            external_identifier: info.external_identifier.clone(),
            extra: info.extra.clone(),
            bagging_date: info.bagging_date.unix_timestamp(),
            bagging_offset: info.bagging_date.offset().whole_seconds(),
        }
    }

    /// The same bag, whatever its date.
    fn same_bag(&self, other: &Self) -> bool {
        self.keepsake_partial == other.keepsake_partial
            && self.deflate_level == other.deflate_level
            && self.source_organization == other.source_organization
            && self.external_identifier == other.external_identifier
            && self.extra == other.extra
    }

    fn date(&self) -> Option<OffsetDateTime> {
        let offset = UtcOffset::from_whole_seconds(self.bagging_offset).ok()?;
        Some(
            OffsetDateTime::from_unix_timestamp(self.bagging_date)
                .ok()?
                .to_offset(offset),
        )
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    name: String,
    deflated: bool,
    crc32: u32,
    len: u64,
    compressed_len: u64,
    offset: u64,
    sha256: String,
    raw_crc32: u32,
    tag: bool,
}

impl Line {
    fn of(e: &JournalEntry) -> Self {
        Self {
            name: e.entry.name.clone(),
            deflated: e.entry.method == Method::Deflated,
            crc32: e.entry.crc32,
            len: e.len,
            compressed_len: e.entry.compressed_len,
            offset: e.entry.offset,
            sha256: hex::encode(e.sha256),
            raw_crc32: e.raw_crc32,
            tag: e.tag,
        }
    }

    fn entry(self) -> Option<JournalEntry> {
        let mut sha256 = [0u8; 32];
        hex::decode_to_slice(&self.sha256, &mut sha256).ok()?;
        Some(JournalEntry {
            entry: Entry {
                name: self.name,
                method: if self.deflated {
                    Method::Deflated
                } else {
                    Method::Stored
                },
                crc32: self.crc32,
                len: self.len,
                compressed_len: self.compressed_len,
                offset: self.offset,
            },
            sha256,
            len: self.len,
            raw_crc32: self.raw_crc32,
            tag: self.tag,
        })
    }
}

/// The journal of the archive written to `partial`.
pub(super) fn journal_path(partial: &Path) -> PathBuf {
    let mut name = partial.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

impl Journal {
    /// Starts the journal of a new archive, replacing any old one.
    pub fn create(partial: &Path, info: &BagInfo) -> Result<Self> {
        let path = journal_path(partial);
        let mut file = crate::fsx::private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(Error::io("create", &path))?;
        let mut line = serde_json::to_vec(&Header::of(info))
            .map_err(io::Error::other)
            .map_err(Error::io("write", &path))?;
        line.push(b'\n');
        file.write_all(&line).map_err(Error::io("write", &path))?;
        Ok(Self { file })
    }

    /// The journal file, to sync from elsewhere.
    pub fn file(&self) -> &std::fs::File {
        self.file.file()
    }

    /// Records a complete entry.
    pub fn append(&mut self, e: &JournalEntry) -> io::Result<()> {
        let mut line = serde_json::to_vec(&Line::of(e)).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)
    }

    /// Removes the journal of `partial`, if any.
    pub fn remove(partial: &Path) {
        crate::fsx::remove_or_log(&journal_path(partial), "the archive journal");
    }

    /// What can be kept of `partial` for the bag `info` (its date aside):
    /// `None` when there is no journal, it is of another bag or version, or
    /// not even the first entry is intact.
    pub fn recover(partial: &Path, info: &BagInfo) -> Result<Option<Recovered>> {
        let path = journal_path(partial);
        let journal = match fs_err::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", &path)(e)),
        };
        let mut lines = BufReader::new(journal);
        let mut first = String::new();
        lines
            .read_line(&mut first)
            .map_err(Error::io("read", &path))?;
        let Ok(header) = serde_json::from_str::<Header>(&first) else {
            return Ok(None);
        };
        let Some(bagging_date) = header.date() else {
            return Ok(None);
        };
        if !header.same_bag(&Header::of(info)) {
            return Ok(None);
        }
        let mut file = match fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .open(partial)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("open", partial)(e)),
        };
        super::partial::lock(&file, partial)?;

        let when = DosTime::from(bagging_date);
        let mut kept = Vec::new();
        let mut kept_journal_bytes = first.len() as u64;
        let mut sha = Sha256::new();
        let mut end = 0u64;
        {
            let mut reader = BufReader::with_capacity(4 * CHUNK, &mut file);
            let mut line = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if !line.ends_with('\n') {
                    break; // cut short by the interruption
                }
                let Some(e) = serde_json::from_str::<Line>(&line)
                    .ok()
                    .and_then(Line::entry)
                else {
                    break;
                };
                let before = sha.clone();
                if e.entry.offset != end || !intact(&mut reader, &e, when, &mut sha) {
                    sha = before;
                    break;
                }
                end += e.entry.local_header_len() + e.entry.compressed_len;
                kept_journal_bytes += line.len() as u64;
                kept.push(e);
            }
        }
        if kept.is_empty() {
            return Ok(None);
        }
        file.set_len(end).map_err(Error::io("cut back", partial))?;
        file.seek(SeekFrom::Start(end))
            .map_err(Error::io("cut back", partial))?;
        let journal = fs_err::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        journal
            .set_len(kept_journal_bytes)
            .map_err(Error::io("cut back", &path))?;
        let mut journal = Journal { file: journal };
        journal
            .file
            .seek(SeekFrom::End(0))
            .map_err(Error::io("open", &path))?;
        Ok(Some(Recovered {
            file,
            journal,
            entries: kept,
            bagging_date,
            end,
            sha,
        }))
    }
}

/// Whether the next bytes of `reader` are `e` as recorded: its local
/// header, then data of the recorded length and stored CRC. Feeds what it
/// reads to `sha`.
fn intact(reader: &mut dyn Read, e: &JournalEntry, when: DosTime, sha: &mut Sha256) -> bool {
    let header = local_header(&e.entry, when);
    let mut got = vec![0; header.len()];
    if reader.read_exact(&mut got).is_err() || got != header {
        return false;
    }
    sha.update(&got);
    let mut crc = crc32fast::Hasher::new();
    let mut data = reader.take(e.entry.compressed_len);
    let read = crate::fsx::read_each(&mut data, &mut vec![0; CHUNK], |piece| {
        crc.update(piece);
        sha.update(piece);
    });
    // Cut short, the file ended inside the entry.
    read.is_ok_and(|n| n == e.entry.compressed_len) && crc.finalize() == e.raw_crc32
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};
    use std::path::Path;

    use super::journal_path;
    use crate::archive::tests::{info, noise};
    use crate::archive::{ArchiveWriter, FinishedArchive, partial_path_for, verify};

    /// A source that must not be read: its entry is already in the archive.
    struct Untouchable;

    impl Read for Untouchable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("an entry kept from the interrupted run was read again")
        }
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("{{\"id\":{i},\"body\":\"post number {i}\"}}\n").into_bytes())
            .collect()
    }

    fn first_half(w: &mut ArchiveWriter) {
        w.add_payload_bytes("posts.json", &text(20_000), true)
            .expect("posts");
        w.add_payload_bytes("media/1-a.bin", &noise(300_000, 1), false)
            .expect("media 1");
    }

    fn second_half(w: &mut ArchiveWriter) {
        w.add_payload_bytes("media/2-b.bin", &noise(200_000, 2), false)
            .expect("media 2");
        w.add_payload_bytes("comments.json", &text(500), true)
            .expect("comments");
        w.add_tag_file("index.html", b"<!doctype html>\n")
            .expect("index");
    }

    fn uninterrupted(dir: &Path) -> FinishedArchive {
        let mut w = ArchiveWriter::create(&dir.join("whole.zip"), info()).expect("create");
        first_half(&mut w);
        second_half(&mut w);
        w.finish().expect("finish")
    }

    /// The bag a later run asks for: the same export, another date.
    fn later_info() -> crate::archive::BagInfo {
        let mut later = info();
        later.bagging_date += time::Duration::hours(5);
        later
    }

    #[test]
    fn an_interrupted_archive_is_continued_and_comes_out_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = uninterrupted(dir.path());

        let path = dir.path().join("resumed.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        first_half(&mut w);
        drop(w); // killed

        let mut w = ArchiveWriter::resume(&path, later_info()).expect("resume");
        assert_eq!(w.info().bagging_date, info().bagging_date, "the first date");
        assert!(w.has_recovered("posts.json") && w.has_recovered("media/1-a.bin"));
        w.add_payload_reader("posts.json", &mut Untouchable, None, true)
            .expect("kept");
        w.add_payload_reader("media/1-a.bin", &mut Untouchable, None, false)
            .expect("kept");
        second_half(&mut w);
        let resumed = w.finish().expect("finish");
        assert_eq!(
            resumed.sha256, whole.sha256,
            "byte for byte the same archive"
        );
        assert_eq!(
            (resumed.payload_files, resumed.payload_bytes),
            (whole.payload_files, whole.payload_bytes)
        );
        assert!(!journal_path(&partial_path_for(&path)).exists());
        assert!(verify(&resumed.path).expect("verify").ok);
    }

    #[test]
    fn a_torn_entry_is_written_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = uninterrupted(dir.path());
        let path = dir.path().join("torn.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        first_half(&mut w);
        w.add_payload_bytes("media/2-b.bin", &noise(200_000, 2), false)
            .expect("media 2");
        drop(w);
        // The last entry's data did not all reach the disk.
        let partial = partial_path_for(&path);
        let len = fs_err::metadata(&partial).expect("stat").len();
        fs_err::File::options()
            .write(true)
            .open(&partial)
            .expect("open")
            .set_len(len - 1_000)
            .expect("cut");

        let mut w = ArchiveWriter::resume(&path, info()).expect("resume");
        assert!(w.has_recovered("media/1-a.bin"));
        assert!(!w.has_recovered("media/2-b.bin"), "torn, so written again");
        first_half(&mut w);
        second_half(&mut w);
        assert_eq!(w.finish().expect("finish").sha256, whole.sha256);
    }

    #[test]
    fn damaged_data_ends_what_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let whole = uninterrupted(dir.path());
        let path = dir.path().join("damaged.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        first_half(&mut w);
        drop(w);
        // Flip a byte inside posts.json's compressed data.
        let partial = partial_path_for(&path);
        let mut bytes = fs_err::read(&partial).expect("read");
        let at = bytes
            .windows(10)
            .position(|w| w == b"posts.json")
            .expect("posts header")
            + 200;
        bytes[at] ^= 0xFF;
        fs_err::write(&partial, &bytes).expect("write");

        let mut w = ArchiveWriter::resume(&path, info()).expect("resume");
        assert!(!w.has_recovered("posts.json"));
        assert!(
            !w.has_recovered("media/1-a.bin"),
            "nothing after the damage"
        );
        first_half(&mut w);
        second_half(&mut w);
        let done = w.finish().expect("finish");
        assert_eq!(done.sha256, whole.sha256);
    }

    #[test]
    fn another_export_is_not_continued() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("other.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        first_half(&mut w);
        drop(w);
        let mut other = info();
        other.external_identifier = "exp_other".into();
        let mut w = ArchiveWriter::resume(&path, other).expect("resume");
        assert!(!w.has_recovered("posts.json"));
        first_half(&mut w);
        second_half(&mut w);
        let done = w.finish().expect("finish");
        assert!(verify(&done.path).expect("verify").ok);
    }
}
