//! What a split archive's entries cost in a part, at most: each entry's
//! zip headers, records and manifest line, and its data (stored at its
//! length, compressed at the size measured by compressing it the way the
//! writer does, plus a margin, or else at what DEFLATE cannot exceed); and
//! the sums that bound a part as it is laid out.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::CHUNK;
use super::bagit::manifest_line;
use super::zipfmt::{CENTRAL_HEADER_LEN, LOCAL_HEADER_LEN};
use crate::fsx::{Stop, pump};
use crate::{Error, Result};

/// The longest extra field an entry gets: ZIP64 sizes and offset (28 bytes
/// at most), with room to spare.
pub(super) const EXTRA_MAX: u64 = 64;
/// A data descriptor, ZIP64 form: the writer no longer writes them (every
/// local header has its sizes), and the room is kept as margin.
pub(super) const DESCRIPTOR: u64 = 24;
/// How much larger the index may turn out than measured when re-planning.
pub(super) const INDEX_SLACK: u64 = 1024;

/// Where a set-aside entry's content is.
#[derive(Debug)]
pub(super) enum Source {
    /// A file of the caller's.
    File(PathBuf),
    /// A file in the spool folder.
    Spool(PathBuf),
    /// Held here (tag files, small payload).
    Bytes(Vec<u8>),
    /// Prepared already (hashed, and deflated where it compresses), its data
    /// in a file: its size in the zip is known exactly.
    Prepared(super::prepare::Kept),
}

/// An entry set aside until the parts are laid out.
#[derive(Debug)]
pub(super) struct Pending {
    /// The full entry name (`data/…` for payload).
    pub(super) name: String,
    pub(super) tag: bool,
    pub(super) source: Source,
    pub(super) len: u64,
    pub(super) compress: bool,
    /// For a compressed entry: the size of a zip holding only it, measured
    /// by compressing it the way the archive writer will.
    pub(super) measured: Option<u64>,
}

impl Pending {
    /// What the entry adds to a zip (local header, data, descriptor and
    /// central directory record), at most.
    pub(super) fn cost(&self) -> u64 {
        let data = match (&self.source, self.measured) {
            (Source::Prepared(k), _) => k.compressed_len,
            (_, Some(m)) => measured_bound(m, self.len),
            (_, None) => data_bound(self.len, self.compress),
        };
        entry_overhead(&self.name) + data
    }

    /// Compresses the entry as the archive writer will, to learn its size.
    pub(super) fn measure(&mut self) -> Result<()> {
        if !self.compress {
            return Ok(());
        }
        let mut reader: Box<dyn Read> = match &self.source {
            Source::Bytes(b) => Box::new(&b[..]),
            Source::File(p) | Source::Spool(p) => {
                Box::new(fs_err::File::open(p).map_err(Error::io("open", p))?)
            }
            // Its size is known.
            Source::Prepared(_) => return Ok(()),
        };
        self.measured = Some(deflated_zip_len(&mut reader, &self.name)?);
        Ok(())
    }

    /// Media files go after everything else, in id order.
    pub(super) fn sort_key(&self) -> (u8, u64, &str) {
        match self.name.strip_prefix("data/media/") {
            _ if self.tag => (0, 0, &self.name),
            None => (1, 0, &self.name),
            Some(rest) => {
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let id = rest[..digits].parse().unwrap_or(u64::MAX);
                (2, id, &self.name)
            }
        }
    }
}

/// The size of a zip holding only `reader`'s content, deflated the way the
/// archive writer deflates (same library, settings and chunk size). It is
/// more than the entry's compressed data: its headers are in it too.
pub(super) fn deflated_zip_len(reader: &mut dyn Read, name: &str) -> Result<u64> {
    let failed = |detail: String| Error::Invalid(format!("{name} could not be measured: {detail}"));
    let options = zip::write::SimpleFileOptions::DEFAULT
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(i64::from(super::writer::DEFLATE_LEVEL)))
        .large_file(true);
    let mut zip = zip::ZipWriter::new(Counter::default());
    zip.start_file("m", options)
        .map_err(|e| failed(e.to_string()))?;
    let mut buf = vec![0; CHUNK];
    pump(reader, &mut buf, |piece| zip.write_all(piece)).map_err(|stop| match stop {
        Stop::Read(e) => Error::io("read", Path::new(name))(e),
        Stop::Sink(e) => failed(e.to_string()),
    })?;
    Ok(zip.finish().map_err(|e| failed(e.to_string()))?.len)
}

/// The data bound of an entry of `len` bytes measured at `measured`:
/// DEFLATE gives the same bytes for the same input and settings, and the
/// margin covers a difference in how the input reaches it. Never more than
/// [`data_bound`], which holds whatever happens.
pub(super) fn measured_bound(measured: u64, len: u64) -> u64 {
    (measured + measured / 256 + 256).min(data_bound(len, true))
}

/// Counts what is written to it, and keeps nothing.
#[derive(Debug, Default)]
pub(super) struct Counter {
    pos: u64,
    len: u64,
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for Counter {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

/// Zip bytes an entry named `name` adds besides its data.
pub(super) fn entry_overhead(name: &str) -> u64 {
    LOCAL_HEADER_LEN + CENTRAL_HEADER_LEN + 2 * EXTRA_MAX + DESCRIPTOR + 2 * name.len() as u64
}

/// The most bytes `len` bytes of data can take in the zip. DEFLATE's worst
/// case is a few bytes per 16 KiB stored block (zlib's `compressBound` is
/// `len + len/4096 + len/16384 + 13`); this bound is looser.
pub(super) fn data_bound(len: u64, compress: bool) -> u64 {
    if compress { len + len / 1000 + 64 } else { len }
}

/// The length of `name`'s line in a manifest.
pub(super) fn manifest_line_len(name: &str) -> u64 {
    manifest_line(&"0".repeat(64), name).len() as u64
}

/// A part being laid out: sums that bound its size.
#[derive(Debug, Default, Clone)]
pub(super) struct Layout {
    pub(super) entries: Vec<usize>,
    /// Σ [`Pending::cost`].
    pub(super) costs: u64,
    /// Σ payload manifest lines.
    pub(super) payload_lines: u64,
    /// Σ tag manifest lines of tag files added.
    pub(super) tag_lines: u64,
}

impl Layout {
    /// The sums with `e` added.
    pub(super) fn sums_with(&self, e: &Pending) -> Sums {
        let line = manifest_line_len(&e.name);
        Sums {
            costs: self.costs + e.cost(),
            payload_lines: self.payload_lines + if e.tag { 0 } else { line },
            tag_lines: self.tag_lines + if e.tag { line } else { 0 },
        }
    }

    pub(super) fn sums(&self) -> Sums {
        Sums {
            costs: self.costs,
            payload_lines: self.payload_lines,
            tag_lines: self.tag_lines,
        }
    }

    pub(super) fn add(&mut self, i: usize, e: &Pending) {
        let s = self.sums_with(e);
        self.entries.push(i);
        self.costs = s.costs;
        self.payload_lines = s.payload_lines;
        self.tag_lines = s.tag_lines;
    }
}

/// Room kept in every part for its index files.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Reserve {
    /// Their content, compressed (at most).
    pub(super) bytes: u64,
    /// Their zip headers and records.
    pub(super) overhead: u64,
    /// Their manifest lines.
    pub(super) lines: u64,
}

impl Reserve {
    /// Room for either.
    pub(super) fn max(self, other: Reserve) -> Reserve {
        Reserve {
            bytes: self.bytes.max(other.bytes),
            overhead: self.overhead.max(other.overhead),
            lines: self.lines.max(other.lines),
        }
    }

    /// Whether what `self` needs (without slack) is within `room`.
    pub(super) fn fits_in(&self, room: &Reserve) -> bool {
        self.bytes - INDEX_SLACK <= room.bytes
            && self.overhead <= room.overhead
            && self.lines <= room.lines
    }
}

/// What bounds a part's size besides its fixed parts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sums {
    pub(super) costs: u64,
    pub(super) payload_lines: u64,
    pub(super) tag_lines: u64,
}
