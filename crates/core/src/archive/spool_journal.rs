//! What a split archive has set aside in its spool folder, journaled so
//! that a resumed export keeps it instead of downloading and compressing
//! it again: the category files and the downloads held in memory. An
//! entry's data is written whole into a segment (see [`super::segments`])
//! before its line, and the line says all the layout needs (sizes, CRC-32,
//! SHA-256), where the data is in the segment, and the CRC-32 of the data
//! as written there, checked before the entry is kept.
//!
//! The spool is not synced: syncing as it is written would cost more than
//! making again what a power cut takes. Nothing unchecked is kept for it:
//! a line counts only while its data still has the CRC-32 the line gives,
//! within the boot and after a restart alike (a power cut may leave a
//! line whose data never reached the disk: that entry is made again), as
//! the staging folder's journal does for a download staged unsynced.
//! (Downloads staged on disk, too large or too many to be held in memory,
//! are not here: the staging folder's own journal keeps those.)

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::prepare::Kept;
use super::segments::{Segment, read_range};
use super::zipfmt::Method;
use crate::{Error, Result};

/// The journal's file in the spool folder (the data files are numbered).
pub(super) const JOURNAL: &str = "kept.jsonl";
/// The journal being made, renamed to [`JOURNAL`] once whole.
const NEW_JOURNAL: &str = "kept.jsonl.new";
/// Raised whenever what a line means, or the data it names, changes: a
/// journal of another format is not kept. (2: data in segments, at an
/// offset.)
const FORMAT: u32 = 2;

/// The first line: whose spool this is.
#[derive(Serialize, Deserialize, PartialEq)]
struct Header {
    format: u32,
    bag: String,
}

impl Header {
    fn new(bag: &str) -> Self {
        Self {
            format: FORMAT,
            bag: bag.to_owned(),
        }
    }
}

/// The spool folder as a run starts with it.
pub(super) struct Spool {
    /// What an interrupted run set aside and may be kept, by entry name.
    pub(super) kept: Vec<(String, Kept)>,
    /// The number of the next data file.
    pub(super) next_slot: usize,
    /// The journal for this run, holding what is kept already, to be
    /// [published](SpoolJournal::publish).
    pub(super) journal: SpoolJournal,
}

/// Opens the spool folder `dir` of the bag `bag`: with `keep`, keeping what
/// an interrupted run set aside (see [`recover`]), else emptied. Should the
/// folder not be readable as it was left, it is emptied: what it held is
/// made again.
pub(super) fn open(dir: &Path, bag: &str, keep: bool) -> Result<Spool> {
    let recovered = if keep && dir.is_dir() {
        recover(dir, bag)
            .inspect_err(|e| tracing::warn!(error = %e, "the spool folder is made again"))
            .ok()
    } else {
        None
    };
    let (found, next_slot) = match recovered {
        Some(found) => found,
        None => {
            match fs_err::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("empty", dir)(e)),
            }
            crate::fsx::create_private_dir(dir)?;
            (Vec::new(), 0)
        }
    };
    // What is kept goes into the new journal as it was (a name the writer
    // then refuses leaves a line whose file is gone: passed over next time).
    let mut journal = SpoolJournal::create(dir, bag)?;
    let mut kept = Vec::with_capacity(found.len());
    for (line, entry) in found {
        journal.append(&line)?;
        kept.push((line.name, entry));
    }
    Ok(Spool {
        kept,
        next_slot,
        journal,
    })
}

/// One entry set aside.
#[derive(Serialize, Deserialize)]
struct Line {
    /// The entry's name in the zip.
    name: String,
    /// The segment in the spool folder its data is in.
    file: String,
    /// Where its data starts in the segment.
    offset: u64,
    deflated: bool,
    sha256: String,
    crc32: u32,
    len: u64,
    compressed_len: u64,
    /// CRC-32 of the data as written (compressed): checked before the
    /// entry is kept, so data a power cut, or a failing or
    /// removed-and-returned disk, lost is made again rather than archived.
    stored_crc32: u32,
}

/// The journal being written.
#[derive(Debug)]
pub(super) struct SpoolJournal {
    file: fs_err::File,
    dir: PathBuf,
    /// Whether entries are still recorded (see [`Self::close`]).
    open: bool,
}

impl SpoolJournal {
    /// A new journal for the bag `bag` in `dir`, beside the one an
    /// interrupted run left until [published](Self::publish).
    fn create(dir: &Path, bag: &str) -> Result<Self> {
        let path = dir.join(NEW_JOURNAL);
        let file = crate::fsx::private_file()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(Error::io("create", &path))?;
        let mut journal = Self {
            file,
            dir: dir.to_owned(),
            open: true,
        };
        journal.append(&Header::new(bag))?;
        Ok(journal)
    }

    /// Makes this the journal, in place of the one an interrupted run left:
    /// a run killed before lost nothing that journal kept.
    pub(super) fn publish(&mut self) -> Result<()> {
        let from = self.dir.join(NEW_JOURNAL);
        fs_err::rename(&from, self.dir.join(JOURNAL)).map_err(Error::io("rename", &from))
    }

    /// Records nothing more: what the journal holds stays kept.
    pub(super) fn close(&mut self) {
        self.open = false;
    }

    /// Whether entries are still recorded.
    pub(super) fn is_open(&self) -> bool {
        self.open
    }

    /// Records `kept`, whose data is whole in a segment of the spool
    /// folder with the CRC-32 `stored_crc32` as written, as `name`.
    pub(super) fn record(&mut self, name: &str, kept: &Kept, stored_crc32: u32) -> Result<()> {
        let file = kept
            .file
            .file_name()
            .and_then(|f| f.to_str())
            .ok_or_else(|| Error::Invalid("internal error: a spool file without a name".into()))?;
        self.append(&Line {
            name: name.to_owned(),
            file: file.to_owned(),
            offset: kept.offset,
            deflated: kept.method == Method::Deflated,
            sha256: hex::encode(kept.sha256),
            crc32: kept.crc32,
            len: kept.len,
            compressed_len: kept.compressed_len,
            stored_crc32,
        })
    }

    /// One line, in one write: a killed process leaves whole lines, or a
    /// last one cut short, which [`recover`] passes over.
    fn append(&mut self, value: &impl Serialize) -> Result<()> {
        let mut line = serde_json::to_vec(value).map_err(|e| Error::Invalid(e.to_string()))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| Error::io("write", self.file.path())(e))
    }
}

/// What an interrupted run of the bag `bag` set aside in `dir` and may be
/// kept: entries whose line is whole and whose data is there with the
/// CRC-32 the line gives. Every other file in `dir` is
/// removed (the journal stays until a new one replaces it). Also returns
/// the number after the highest a line names, from which new files are
/// numbered, so that no segment named in an old line is ever made again
/// with other data.
fn recover(dir: &Path, bag: &str) -> Result<(Vec<(Line, Kept)>, usize)> {
    let lines = read(dir, bag);
    let next = lines
        .iter()
        .filter_map(|l| l.file.parse::<usize>().ok())
        .max()
        .map_or(0, |n| n + 1);
    let mut found = Vec::new();
    let mut names = HashSet::new();
    // Where the last range kept in each segment ends: a line whose range
    // starts before it would share its data (the journal's fault).
    let mut ends: HashMap<String, u64> = HashMap::new();
    for line in lines {
        let file = dir.join(&line.file);
        let end = line.offset.checked_add(line.compressed_len);
        let after = ends.get(&line.file).is_none_or(|&e| line.offset >= e);
        let whole = end.is_some_and(|end| {
            after
                && fs_err::symlink_metadata(&file).is_ok_and(|m| m.is_file() && m.len() >= end)
                && stored_crc(&file, line.offset, line.compressed_len)
                    .is_ok_and(|crc| crc == line.stored_crc32)
        });
        let mut sha256 = [0u8; 32];
        let hashed = hex::decode_to_slice(&line.sha256, &mut sha256).is_ok();
        // (A name twice would be the journal's fault: the first stands.)
        if let (true, true, false, Some(end)) = (whole, hashed, names.contains(&line.name), end) {
            names.insert(line.name.clone());
            ends.insert(line.file.clone(), end);
            found.push((line, file, sha256));
        }
    }
    let mut live: HashMap<&PathBuf, usize> = HashMap::new();
    for (_, file, _) in &found {
        *live.entry(file).or_default() += 1;
    }
    let segments: HashMap<PathBuf, Arc<Segment>> = live
        .into_iter()
        .map(|(file, n)| (file.clone(), Segment::new(file.clone(), n)))
        .collect();
    let kept = found
        .into_iter()
        .map(|(line, file, sha256)| {
            let entry = kept_entry(Arc::clone(&segments[&file]), sha256, &line);
            (line, entry)
        })
        .collect();
    for entry in fs_err::read_dir(dir).map_err(Error::io("read", dir))? {
        let path = entry.map_err(Error::io("read", dir))?.path();
        if !segments.contains_key(&path) && path != dir.join(JOURNAL) {
            fs_err::remove_file(&path).map_err(Error::io("remove", &path))?;
        }
    }
    Ok((kept, next))
}

/// The CRC-32 of `len` bytes of the file at `path` from `offset`; a file
/// that ends before is an error.
fn stored_crc(path: &Path, offset: u64, len: u64) -> Result<u32> {
    let mut crc = crc32fast::Hasher::new();
    let read = read_range(path, offset, len, |piece| crc.update(piece))
        .map_err(Error::io("read", path))?;
    if read != len {
        return Err(Error::Invalid(format!("{} ends early", path.display())));
    }
    Ok(crc.finalize())
}

fn kept_entry(segment: Arc<Segment>, sha256: [u8; 32], line: &Line) -> Kept {
    Kept {
        method: if line.deflated {
            Method::Deflated
        } else {
            Method::Stored
        },
        sha256,
        crc32: line.crc32,
        len: line.len,
        compressed_len: line.compressed_len,
        file: segment.path().to_owned(),
        offset: line.offset,
        segment: Some(segment),
        disposable: false,
    }
}

/// The journal's entry lines, when it is the bag's and of this format;
/// none otherwise (no journal, another export's, another format,
/// unreadable). A name that is not a plain file name is passed over.
fn read(dir: &Path, bag: &str) -> Vec<Line> {
    let Ok(file) = fs_err::File::open(dir.join(JOURNAL)) else {
        return Vec::new();
    };
    let mut lines = BufReader::new(file).lines();
    let expected = Header::new(bag);
    let ours = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| serde_json::from_str::<Header>(&l).ok())
        .is_some_and(|h| h == expected);
    if !ours {
        return Vec::new();
    }
    lines
        .map_while(|l| l.ok())
        .filter_map(|l| serde_json::from_str::<Line>(&l).ok())
        .filter(|l| !l.file.is_empty() && l.file.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

#[cfg(test)]
#[path = "spool_journal_tests.rs"]
mod tests;
