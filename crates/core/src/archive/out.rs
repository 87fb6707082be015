//! The archive file as it is written: appended to and hashed as it goes,
//! an entry's data copied in and checked, and synced from another thread.

use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::CHUNK;
use super::prepare::Spool;
use super::zipfmt::{self, Entry};
use crate::Error;
use crate::fsx::{Stop, pump};

/// The archive file, appended to and hashed as it is written.
pub(super) struct Out {
    pub(super) file: BufWriter<fs_err::File>,
    pub(super) pos: u64,
    pub(super) sha: Sha256,
}

impl Out {
    pub(super) fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.sha.update(bytes);
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Cuts the file back to `pos` with the hash as it was there.
    pub(super) fn rewind(&mut self, pos: u64, sha: Sha256) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().set_len(pos)?;
        self.file.seek(SeekFrom::Start(pos))?;
        self.pos = pos;
        self.sha = sha;
        Ok(())
    }
}

/// The archive file and its journal, to be synced from another thread:
/// after [`SyncPoint::sync`], every entry added before the call is on disk
/// and journaled, so it survives even a power cut and the sources it was
/// made from are no longer needed for resuming.
#[derive(Debug)]
pub struct SyncPoint {
    pub(super) archive: std::fs::File,
    pub(super) journal: std::fs::File,
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
pub(super) enum WriteFailure {
    /// Reading the data failed, or it was not what was prepared.
    Source(Error),
    /// Writing the archive failed.
    Archive(io::Error),
}

/// Copies a prepared entry's data into the archive, taking the CRC of the
/// bytes as stored (for the resume journal).
pub(super) fn copy_data(
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
                    .map_err(|e| WriteFailure::Source(Error::io("open", &path)(e)))?,
            ),
            path,
        ),
        // Other entries' data follows in the segment: only this range is
        // read, so a range cut short is caught by its length below.
        Spool::Range(path, offset) => {
            let open = || -> io::Result<fs_err::File> {
                let mut file = fs_err::File::open(&path)?;
                file.seek(SeekFrom::Start(offset))?;
                Ok(file)
            };
            let file = open().map_err(|e| WriteFailure::Source(Error::io("open", &path)(e)))?;
            (Box::new(file.take(entry.compressed_len)), path)
        }
    };
    let mut buf = vec![0; CHUNK];
    let mut copied = 0u64;
    // `None`: the source grew past the entry's length (told below).
    let pumped = pump(&mut reader, &mut buf, |piece| {
        copied += piece.len() as u64;
        if copied > entry.compressed_len {
            return Err(None);
        }
        raw_crc.update(piece);
        out.write(piece).map_err(|e| Some(WriteFailure::Archive(e)))
    });
    match pumped {
        Ok(_) | Err(Stop::Sink(None)) => {}
        Err(Stop::Sink(Some(failure))) => return Err(failure),
        Err(Stop::Read(e)) => return Err(WriteFailure::Source(Error::io("read", &src)(e))),
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
pub(super) struct HashingWriter<'a>(pub(super) &'a mut Out);

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.file.flush()
    }
}

/// Reads the concatenation of `lines`.
pub(super) struct LinesReader<'a, I: Iterator<Item = String>> {
    pub(super) lines: &'a mut I,
    pub(super) current: Vec<u8>,
    pub(super) pos: usize,
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
