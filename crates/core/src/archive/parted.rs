//! Split archives: one export in several zip files ("parts"), each a
//! complete zip and a complete BagIt bag on its own, none larger than a size
//! chosen, except a part that holds alone one file too large for any part.
//!
//! [`PartedWriter`] takes entries like [`ArchiveWriter`]. Without a split
//! size it is an [`ArchiveWriter`] and streams straight into the zip. With
//! one, it sets entries aside (files by path, streams spooled to disk) and
//! lays the parts out in [`PartedWriter::finish`], when everything is known:
//! every part's `data/manifest.json` lists every part and what it holds, and
//! every part's `bag-info.txt` says `Bag-Count: n of N`, so no part can be
//! completed before the last entry has been placed.
//!
//! A part is planned whole before its first byte is written, from what each
//! entry costs in the zip at most: headers, central directory record and
//! manifest line, and its data — stored data at its length, compressed data
//! at the size measured by compressing it beforehand exactly as the writer
//! does (plus a margin). A finished part is checked against the limit; if
//! one is ever larger, every part is laid out and written again from sizes
//! DEFLATE cannot exceed, so the limit holds whatever the measurement said.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::bagit::{
    BAG_INFO_TXT, BAGIT_TXT, BAGIT_TXT_CONTENT, BagInfo, DATA_PREFIX, MANIFEST, TAG_MANIFEST,
    bag_info_text, manifest_line,
};
use super::names::{NameSet, check_tag_name};
use super::partial::{SealedArchive, create_private, partial_path_for, remove_stale_partial};
use super::writer::{ArchiveWriter, FinishedArchive};
use super::zipfmt::{CENTRAL_HEADER_LEN, LOCAL_HEADER_LEN};
use super::{CHUNK, io_error};
use crate::{Error, Result};

/// Below this, a part cannot hold its own tag files and index.
pub const MIN_PART_BYTES: u64 = 16 * 1024;

/// The longest extra field an entry gets: ZIP64 sizes and offset (28 bytes
/// at most), with room to spare.
const EXTRA_MAX: u64 = 64;
/// A data descriptor, ZIP64 form: the writer no longer writes them (every
/// local header has its sizes), and the room is kept as margin.
const DESCRIPTOR: u64 = 24;
/// End of central directory, its ZIP64 form and the locator, with room.
const END_RECORDS: u64 = 128;
/// How much larger the index may turn out than measured when re-planning.
const INDEX_SLACK: u64 = 1024;
/// Re-planning rounds before giving up (each round only grows the reserve).
const MAX_ROUNDS: usize = 32;

/// How to split an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOptions {
    /// No part is larger than this, in bytes, unless one file alone is.
    pub max_part_bytes: u64,
    /// A private scratch folder for streams set aside until the parts are
    /// laid out; emptied at the start and removed at the end.
    pub spool_dir: PathBuf,
}

/// One part as laid out: what the index in every part says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartPlan {
    /// 1-based.
    pub number: u32,
    /// The part's file name (`NAME.part02-of-03.zip`).
    pub name: String,
    /// Every file it holds (entry names such as `data/posts.json`,
    /// `data/media/7-photo.png`, `index.html`), except `data/manifest.json`
    /// and the BagIt tag files, which every part has.
    pub files: Vec<String>,
    /// The size of those files, uncompressed.
    pub bytes: u64,
    /// The one file this part holds alone because it does not fit in a part
    /// of the size chosen; the part may then be larger than that size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oversized: Option<String>,
}

/// Makes the files that describe the layout, for [`PartedWriter::finish`]:
/// `(path_in_data, content)` pairs.
pub type MakeIndex<'a> = dyn FnMut(Option<IndexRequest<'_>>) -> Result<Vec<(String, Vec<u8>)>> + 'a;

/// What the index maker given to [`PartedWriter::finish`] is asked for.
#[derive(Debug, Clone, Copy)]
pub struct IndexRequest<'a> {
    /// Every part.
    pub parts: &'a [PartPlan],
    /// The part this index goes into (1-based).
    pub this_part: u32,
    /// Sentences about the layout worth recording (oversized files).
    pub warnings: &'a [String],
}

/// The archive, complete: one file, or every part of a split archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedSet {
    /// The archive's files, in order (one unless split).
    pub parts: Vec<FinishedArchive>,
    /// Sentences about the layout worth telling the user (a file too large
    /// for a part).
    pub warnings: Vec<String>,
}

/// Writes an archive whole or, with [`SplitOptions`], in parts: each a
/// complete zip and BagIt bag, none larger than the size chosen unless it
/// holds alone one file too large for any part.
///
/// Without a split size this is an [`ArchiveWriter`] streaming into the zip.
/// With one, entries are set aside (files by path, streams spooled to disk)
/// and the parts are laid out and written in [`finish`](Self::finish), when
/// everything is known, from sizes measured by compressing each entry the
/// way the writer will; should a part still come out too large, they are
/// laid out again from sizes DEFLATE cannot exceed.
#[derive(Debug)]
pub struct PartedWriter {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Whole(Box<ArchiveWriter>),
    Split(Box<Planner>),
}

impl PartedWriter {
    /// Starts an archive that will become `final_path`, or, with `split`,
    /// parts named after it (`NAME.part01-of-03.zip` for `NAME.zip`). A
    /// split archive that fits in one part is written as `final_path`.
    ///
    /// Refuses when `final_path` or a part of its name exists (an archive is
    /// never overwritten), and, with `split`, a size below
    /// [`MIN_PART_BYTES`].
    pub fn create(final_path: &Path, info: BagInfo, split: Option<SplitOptions>) -> Result<Self> {
        let inner = match split {
            None => Inner::Whole(Box::new(ArchiveWriter::create(final_path, info)?)),
            Some(split) => Inner::Split(Box::new(Planner::create(final_path, info, split)?)),
        };
        Ok(Self { inner })
    }

    /// [`create`](Self::create), continuing what an interrupted writer of
    /// the same bag left when the archive is whole (see
    /// [`ArchiveWriter::resume`]). A split archive is laid out at the end,
    /// so there is nothing to continue: it starts afresh.
    pub fn resume(final_path: &Path, info: BagInfo, split: Option<SplitOptions>) -> Result<Self> {
        match split {
            None => Ok(Self {
                inner: Inner::Whole(Box::new(ArchiveWriter::resume(final_path, info)?)),
            }),
            split => Self::create(final_path, info, split),
        }
    }

    /// The writer of an archive in one piece, for what only it can do
    /// (entries prepared elsewhere, resuming); `None` when split.
    pub fn whole_mut(&mut self) -> Option<&mut ArchiveWriter> {
        match &mut self.inner {
            Inner::Whole(w) => Some(w),
            Inner::Split(_) => None,
        }
    }

    /// Whether the archive may come out in several parts.
    pub fn is_split(&self) -> bool {
        matches!(self.inner, Inner::Split(_))
    }

    /// [`ArchiveWriter::add_payload_reader`]; when split, the stream is read
    /// to the end now, into the spool folder.
    pub fn add_payload_reader(
        &mut self,
        path_in_data: &str,
        reader: &mut dyn Read,
        len_hint: Option<u64>,
        compress: bool,
    ) -> Result<()> {
        match &mut self.inner {
            Inner::Whole(w) => w
                .add_payload_reader(path_in_data, reader, len_hint, compress)
                .map(drop),
            Inner::Split(p) => p.add_reader(path_in_data, reader, len_hint, compress),
        }
    }

    /// [`ArchiveWriter::add_payload_file`]; when split, `src` must stay as
    /// it is until [`finish`](Self::finish).
    pub fn add_payload_file(
        &mut self,
        path_in_data: &str,
        src: &Path,
        compress: bool,
    ) -> Result<()> {
        match &mut self.inner {
            Inner::Whole(w) => w.add_payload_file(path_in_data, src, compress).map(drop),
            Inner::Split(p) => {
                let len = fs_err::metadata(src).map_err(io_error("open", src))?.len();
                p.push(
                    format!("{DATA_PREFIX}{path_in_data}"),
                    false,
                    Source::File(src.to_owned()),
                    len,
                    compress,
                )
            }
        }
    }

    /// [`ArchiveWriter::add_payload_bytes`].
    pub fn add_payload_bytes(
        &mut self,
        path_in_data: &str,
        bytes: &[u8],
        compress: bool,
    ) -> Result<()> {
        match &mut self.inner {
            Inner::Whole(w) => w.add_payload_bytes(path_in_data, bytes, compress).map(drop),
            Inner::Split(p) => p.push(
                format!("{DATA_PREFIX}{path_in_data}"),
                false,
                Source::Bytes(bytes.to_vec()),
                bytes.len() as u64,
                compress,
            ),
        }
    }

    /// [`ArchiveWriter::add_tag_file`]; when split, the tag file goes into
    /// part 1 (with the start of the payload: where a reader opens a set).
    pub fn add_tag_file(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        match &mut self.inner {
            Inner::Whole(w) => w.add_tag_file(name, bytes).map(drop),
            Inner::Split(p) => {
                check_tag_name(name).map_err(|why| p.refuse(why))?;
                p.push(
                    name.to_owned(),
                    true,
                    Source::Bytes(bytes.to_vec()),
                    bytes.len() as u64,
                    true,
                )
            }
        }
    }

    /// Completes the archive: adds the index files `make_index` gives
    /// (`(path_in_data, content)`, e.g. `manifest.json`: the files that
    /// describe the layout) to every part, completes every bag, and gives
    /// every file its final name once all are complete.
    ///
    /// `make_index` gets `None` for an archive in one piece, and otherwise
    /// the layout and the part the files are for. It must give the same
    /// files for the same request (it is asked to measure, then to write),
    /// with the same names whatever the request.
    pub fn finish(self, make_index: &mut MakeIndex<'_>) -> Result<FinishedSet> {
        match self.inner {
            Inner::Whole(mut w) => {
                for (path, bytes) in make_index(None)? {
                    w.add_payload_bytes(&path, &bytes, true)?;
                }
                Ok(FinishedSet {
                    parts: vec![w.finish()?],
                    warnings: Vec::new(),
                })
            }
            Inner::Split(p) => p.finish(make_index),
        }
    }
}

/// Where a set-aside entry's content is.
#[derive(Debug)]
enum Source {
    /// A file of the caller's.
    File(PathBuf),
    /// A file in the spool folder.
    Spool(PathBuf),
    /// Held here (tag files, small payload).
    Bytes(Vec<u8>),
}

/// An entry set aside until the parts are laid out.
#[derive(Debug)]
struct Pending {
    /// The full entry name (`data/…` for payload).
    name: String,
    tag: bool,
    source: Source,
    len: u64,
    compress: bool,
    /// For a compressed entry: the size of a zip holding only it, measured
    /// by compressing it the way the archive writer will.
    measured: Option<u64>,
}

impl Pending {
    /// What the entry adds to a zip (local header, data, descriptor and
    /// central directory record), at most.
    fn cost(&self) -> u64 {
        let data = match self.measured {
            Some(m) => measured_bound(m, self.len),
            None => data_bound(self.len, self.compress),
        };
        entry_overhead(&self.name) + data
    }

    /// Compresses the entry as the archive writer will, to learn its size.
    fn measure(&mut self) -> Result<()> {
        if !self.compress {
            return Ok(());
        }
        let mut reader: Box<dyn Read> = match &self.source {
            Source::Bytes(b) => Box::new(&b[..]),
            Source::File(p) | Source::Spool(p) => {
                Box::new(fs_err::File::open(p).map_err(io_error("open", p))?)
            }
        };
        self.measured = Some(deflated_zip_len(&mut reader, &self.name)?);
        Ok(())
    }

    /// Media files go after everything else, in id order.
    fn sort_key(&self) -> (u8, u64, &str) {
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
fn deflated_zip_len(reader: &mut dyn Read, name: &str) -> Result<u64> {
    let failed = |detail: String| Error::Invalid(format!("{name} could not be measured: {detail}"));
    let options = zip::write::SimpleFileOptions::DEFAULT
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(i64::from(super::writer::DEFLATE_LEVEL)))
        .large_file(true);
    let mut zip = zip::ZipWriter::new(Counter::default());
    zip.start_file("m", options)
        .map_err(|e| failed(e.to_string()))?;
    let mut buf = vec![0; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("read", Path::new(name))(e)),
        };
        zip.write_all(&buf[..n])
            .map_err(|e| failed(e.to_string()))?;
    }
    Ok(zip.finish().map_err(|e| failed(e.to_string()))?.len)
}

/// The data bound of an entry of `len` bytes measured at `measured`:
/// DEFLATE gives the same bytes for the same input and settings, and the
/// margin covers a difference in how the input reaches it. Never more than
/// [`data_bound`], which holds whatever happens.
fn measured_bound(measured: u64, len: u64) -> u64 {
    (measured + measured / 256 + 256).min(data_bound(len, true))
}

/// Counts what is written to it, and keeps nothing.
#[derive(Debug, Default)]
struct Counter {
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
fn entry_overhead(name: &str) -> u64 {
    LOCAL_HEADER_LEN + CENTRAL_HEADER_LEN + 2 * EXTRA_MAX + DESCRIPTOR + 2 * name.len() as u64
}

/// The most bytes `len` bytes of data can take in the zip. DEFLATE's worst
/// case is a few bytes per 16 KiB stored block (zlib's `compressBound` is
/// `len + len/4096 + len/16384 + 13`); this bound is looser.
fn data_bound(len: u64, compress: bool) -> u64 {
    if compress { len + len / 1000 + 64 } else { len }
}

/// The length of `name`'s line in a manifest.
fn manifest_line_len(name: &str) -> u64 {
    manifest_line(&"0".repeat(64), name).len() as u64
}

/// A part being laid out: sums that bound its size.
#[derive(Debug, Default, Clone)]
struct Layout {
    entries: Vec<usize>,
    /// Σ [`Pending::cost`].
    costs: u64,
    /// Σ payload manifest lines.
    payload_lines: u64,
    /// Σ tag manifest lines of tag files added.
    tag_lines: u64,
}

impl Layout {
    /// The sums with `e` added.
    fn sums_with(&self, e: &Pending) -> Sums {
        let line = manifest_line_len(&e.name);
        Sums {
            costs: self.costs + e.cost(),
            payload_lines: self.payload_lines + if e.tag { 0 } else { line },
            tag_lines: self.tag_lines + if e.tag { line } else { 0 },
        }
    }

    fn sums(&self) -> Sums {
        Sums {
            costs: self.costs,
            payload_lines: self.payload_lines,
            tag_lines: self.tag_lines,
        }
    }

    fn add(&mut self, i: usize, e: &Pending) {
        let s = self.sums_with(e);
        self.entries.push(i);
        self.costs = s.costs;
        self.payload_lines = s.payload_lines;
        self.tag_lines = s.tag_lines;
    }
}

/// Room kept in every part for its index files.
#[derive(Debug, Default, Clone, Copy)]
struct Reserve {
    /// Their content, compressed (at most).
    bytes: u64,
    /// Their zip headers and records.
    overhead: u64,
    /// Their manifest lines.
    lines: u64,
}

impl Reserve {
    /// Room for either.
    fn max(self, other: Reserve) -> Reserve {
        Reserve {
            bytes: self.bytes.max(other.bytes),
            overhead: self.overhead.max(other.overhead),
            lines: self.lines.max(other.lines),
        }
    }

    /// Whether what `self` needs (without slack) is within `room`.
    fn fits_in(&self, room: &Reserve) -> bool {
        self.bytes - INDEX_SLACK <= room.bytes
            && self.overhead <= room.overhead
            && self.lines <= room.lines
    }
}

/// What bounds a part's size besides its fixed parts.
#[derive(Debug, Clone, Copy)]
struct Sums {
    costs: u64,
    payload_lines: u64,
    tag_lines: u64,
}

/// The split side of [`PartedWriter`].
#[derive(Debug)]
struct Planner {
    final_path: PathBuf,
    info: BagInfo,
    limit: u64,
    spool_dir: PathBuf,
    entries: Vec<Pending>,
    names: NameSet,
}

impl Planner {
    fn create(final_path: &Path, info: BagInfo, split: SplitOptions) -> Result<Self> {
        info.check()?;
        if split.max_part_bytes < MIN_PART_BYTES {
            return Err(Error::Invalid(format!(
                "a split size of {} bytes is too small: every part carries its own tag files and index; choose at least {} KiB",
                split.max_part_bytes,
                MIN_PART_BYTES / 1024
            )));
        }
        let (dir, stem) = dir_and_stem(final_path)?;
        let taken = std::iter::once(final_path.to_owned()).chain(
            sibling_parts(&dir, &stem)
                .into_iter()
                .filter(|p| p.extension().is_some_and(|x| x == "zip")),
        );
        for path in taken {
            if fs_err::symlink_metadata(&path).is_ok() {
                return Err(Error::Invalid(format!(
                    "{} already exists and Keepsake never overwrites an archive; move or rename it, or choose another output folder",
                    path.display()
                )));
            }
        }
        // Parts of an earlier, interrupted run (their count may differ).
        for stale in sibling_parts(&dir, &stem)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "partial"))
        {
            remove_stale_partial(&stale)?;
        }
        match fs_err::remove_dir_all(&split.spool_dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("empty", &split.spool_dir)(e)),
        }
        create_private_dir(&split.spool_dir)?;
        let mut names = NameSet::default();
        for own in [BAGIT_TXT, BAG_INFO_TXT, MANIFEST, TAG_MANIFEST] {
            names.claim(own);
        }
        Ok(Self {
            final_path: final_path.to_owned(),
            info,
            limit: split.max_part_bytes,
            spool_dir: split.spool_dir,
            entries: Vec::new(),
            names,
        })
    }

    fn refuse(&self, detail: String) -> Error {
        Error::Archive {
            path: self.final_path.clone(),
            detail,
        }
    }

    fn push(
        &mut self,
        name: String,
        tag: bool,
        source: Source,
        len: u64,
        compress: bool,
    ) -> Result<()> {
        self.names.check(&name).map_err(|why| self.refuse(why))?;
        self.names.claim(&name);
        self.entries.push(Pending {
            name,
            tag,
            source,
            len,
            compress,
            measured: None,
        });
        Ok(())
    }

    fn add_reader(
        &mut self,
        path_in_data: &str,
        reader: &mut dyn Read,
        len_hint: Option<u64>,
        compress: bool,
    ) -> Result<()> {
        let name = format!("{DATA_PREFIX}{path_in_data}");
        self.names.check(&name).map_err(|why| self.refuse(why))?;
        let spool = self.spool_dir.join(format!("{:08}", self.entries.len()));
        let result = spool_into(&spool, reader, &name);
        let len = match result {
            Ok(len) if len_hint.is_none_or(|hint| hint == len) => len,
            Ok(len) => {
                let _ = fs_err::remove_file(&spool);
                return Err(self.refuse(format!(
                    "{name} was left out: its source gave {len} bytes where {} were expected (did it change while being archived?)",
                    len_hint.unwrap_or_default()
                )));
            }
            Err(e) => {
                let _ = fs_err::remove_file(&spool);
                return Err(e);
            }
        };
        self.push(name, false, Source::Spool(spool), len, compress)
    }

    /// The most a part with `sums` takes, with index files within `index`
    /// and a `bag-info.txt` of at most `bag_info` bytes.
    fn bound(sums: Sums, index: &Reserve, bag_info: u64) -> u64 {
        let payload_lines = sums.payload_lines + index.lines;
        let tag_lines = sums.tag_lines
            + [BAGIT_TXT, BAG_INFO_TXT, MANIFEST]
                .iter()
                .map(|n| manifest_line_len(n))
                .sum::<u64>();
        entry_overhead(BAGIT_TXT)
            + BAGIT_TXT_CONTENT.len() as u64
            + sums.costs
            + index.overhead
            + index.bytes
            + entry_overhead(BAG_INFO_TXT)
            + data_bound(bag_info, true)
            + entry_overhead(MANIFEST)
            + data_bound(payload_lines, true)
            + entry_overhead(TAG_MANIFEST)
            + data_bound(tag_lines, true)
            + END_RECORDS
    }

    /// `bag-info.txt` with the longest values a part's can have.
    fn bag_info_bound(&self) -> u64 {
        let mut info = self.info.clone();
        info.extra.extend(part_labels(
            &self.info,
            u32::MAX as usize,
            u32::MAX as usize,
        ));
        bag_info_text(&info, u64::MAX, u64::MAX).len() as u64
    }

    /// Lays the entries out in parts, each with room for an index of
    /// `index` bytes. Returns the parts' entries and the oversized ones.
    fn lay_out(&self, order: &[usize], index: &Reserve) -> Result<Vec<(Layout, bool)>> {
        let bag_info = self.bag_info_bound();
        let bound = |s: Sums| Self::bound(s, index, bag_info);
        let empty = bound(Layout::default().sums());
        if empty > self.limit {
            return Err(Error::Invalid(format!(
                "a split size of {} bytes cannot hold even a part's tag files and the index of this archive ({} bytes); choose at least {} bytes",
                self.limit,
                empty,
                empty.saturating_mul(4)
            )));
        }
        let mut parts = Vec::new();
        let mut current = Layout::default();
        for &i in order {
            let e = &self.entries[i];
            if !current.entries.is_empty() && bound(current.sums_with(e)) > self.limit {
                parts.push(std::mem::take(&mut current));
            }
            current.add(i, e);
        }
        parts.push(current);
        Ok(parts
            .into_iter()
            .map(|l| {
                let over = bound(l.sums()) > self.limit;
                (l, over)
            })
            .collect())
    }

    fn finish(mut self, make_index: &mut MakeIndex<'_>) -> Result<FinishedSet> {
        for e in &mut self.entries {
            e.measure()?;
        }
        self.finish_measured(make_index)
    }

    fn finish_measured(mut self, make_index: &mut MakeIndex<'_>) -> Result<FinishedSet> {
        let (sealed, plans, warnings) = self.write_parts(make_index)?;
        let too_large = sealed
            .iter()
            .zip(&plans)
            .any(|(s, p)| s.archive().bytes > self.limit && p.oversized.is_none());
        let (sealed, warnings) = if too_large {
            // Compressed data came out larger than measured (it should not):
            // lay out again from sizes DEFLATE cannot exceed.
            tracing::warn!("a part came out larger than laid out; laying the parts out again");
            for s in &sealed {
                let _ = fs_err::remove_file(partial_path_for(&s.archive().path));
            }
            for e in &mut self.entries {
                e.measured = None;
            }
            let (sealed, _, warnings) = self.write_parts(make_index)?;
            (sealed, warnings)
        } else {
            (sealed, warnings)
        };
        let mut parts = Vec::with_capacity(sealed.len());
        for s in sealed {
            parts.push(s.publish()?);
        }
        Ok(FinishedSet { parts, warnings })
    }

    /// Lays the parts out and writes them, sealed but not published.
    fn write_parts(
        &self,
        make_index: &mut MakeIndex<'_>,
    ) -> Result<(Vec<SealedArchive>, Vec<PartPlan>, Vec<String>)> {
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        order.sort_by(|&a, &b| self.entries[a].sort_key().cmp(&self.entries[b].sort_key()));

        // A first guess: the index as if everything were in one part.
        let everything = PartPlan {
            number: 1,
            name: self.part_name(1, 1),
            files: order
                .iter()
                .map(|&i| self.entries[i].name.clone())
                .collect(),
            bytes: self.entries.iter().map(|e| e.len).sum(),
            oversized: None,
        };
        let guess = make_index(Some(IndexRequest {
            parts: std::slice::from_ref(&everything),
            this_part: 1,
            warnings: &[],
        }))?;
        let mut reserve = self.reserve(&guess)?;
        let mut round = 0;
        // Each part's index files are made to be measured, dropped, and made
        // again when the part is written: one at a time in memory.
        let (layout, plans, warnings) = loop {
            round += 1;
            let layout = self.lay_out(&order, &reserve)?;
            let (plans, warnings) = self.plans(&layout);
            let mut needed = Reserve::default();
            for plan in &plans {
                let index = index_for(make_index, &plans, plan.number, &warnings)?;
                needed = needed.max(self.reserve(&index)?);
            }
            if needed.fits_in(&reserve) {
                break (layout, plans, warnings);
            }
            if round >= MAX_ROUNDS {
                return Err(self.refuse(format!(
                    "the parts could not be laid out: their index kept growing ({} bytes)",
                    needed.bytes
                )));
            }
            reserve = needed;
        };

        let single = plans.len() == 1;
        let mut sealed: Vec<SealedArchive> = Vec::with_capacity(plans.len());
        let mut current: Option<PathBuf> = None;
        let written = (|| -> Result<()> {
            for (plan, (part, _)) in plans.iter().zip(&layout) {
                let path = if single {
                    self.final_path.clone()
                } else {
                    self.final_path.with_file_name(&plan.name)
                };
                let mut info = self.info.clone();
                if !single {
                    info.extra
                        .extend(part_labels(&self.info, plan.number as usize, plans.len()));
                }
                current = Some(partial_path_for(&path));
                let mut w = ArchiveWriter::create(&path, info)?;
                for &i in &part.entries {
                    write_entry(&mut w, &self.entries[i])?;
                }
                let index = index_for(make_index, &plans, plan.number, &warnings)?;
                if !self.reserve(&index)?.fits_in(&reserve) {
                    return Err(
                        self.refuse("the index files changed between measuring and writing".into())
                    );
                }
                for (path, bytes) in &index {
                    w.add_payload_bytes(path, bytes, true)?;
                }
                let mut s = w.seal()?;
                s.close();
                sealed.push(s);
            }
            Ok(())
        })();
        if let Err(e) = written {
            let partials = sealed
                .iter()
                .map(|s| partial_path_for(&s.archive().path))
                .chain(current);
            for p in partials {
                let _ = fs_err::remove_file(p);
            }
            return Err(e);
        }
        Ok((sealed, plans, warnings))
    }

    /// Room for one part's index files, with some slack. Refuses index
    /// files whose names are taken.
    fn reserve(&self, files: &[(String, Vec<u8>)]) -> Result<Reserve> {
        let mut names = self.names.clone();
        let mut r = Reserve::default();
        for (path, bytes) in files {
            let name = format!("{DATA_PREFIX}{path}");
            names.check(&name).map_err(|why| self.refuse(why))?;
            names.claim(&name);
            r.overhead += entry_overhead(&name);
            r.lines += manifest_line_len(&name);
            let measured = deflated_zip_len(&mut &bytes[..], &name)?;
            r.bytes += measured_bound(measured, bytes.len() as u64);
        }
        r.bytes += INDEX_SLACK;
        Ok(r)
    }

    /// The layout as the index shows it, and a warning per oversized part.
    fn plans(&self, layout: &[(Layout, bool)]) -> (Vec<PartPlan>, Vec<String>) {
        let n = layout.len();
        let mut warnings = Vec::new();
        let plans = layout
            .iter()
            .enumerate()
            .map(|(k, (l, over))| {
                let number = k as u32 + 1;
                let files: Vec<String> = l
                    .entries
                    .iter()
                    .map(|&i| self.entries[i].name.clone())
                    .collect();
                let bytes = l.entries.iter().map(|&i| self.entries[i].len).sum();
                let name = self.part_name(number as usize, n);
                let oversized = over.then(|| {
                    let e = l
                        .entries
                        .iter()
                        .map(|&i| &self.entries[i])
                        .max_by_key(|e| e.len);
                    let file = e.map(|e| e.name.clone()).unwrap_or_default();
                    warnings.push(format!(
                        "{file} ({} bytes) does not fit in a part of {} bytes: {name} holds it alone and may be larger than the split size",
                        e.map(|e| e.len).unwrap_or_default(),
                        self.limit
                    ));
                    file
                });
                PartPlan {
                    number,
                    name,
                    files,
                    bytes,
                    oversized,
                }
            })
            .collect();
        (plans, warnings)
    }

    /// `NAME.part02-of-13.zip`: zero-padded so that the names sort.
    fn part_name(&self, k: usize, n: usize) -> String {
        let stem = dir_and_stem(&self.final_path)
            .map(|(_, s)| s)
            .unwrap_or_default();
        part_file_name(&stem, k, n)
    }
}

impl Drop for Planner {
    fn drop(&mut self) {
        let _ = fs_err::remove_dir_all(&self.spool_dir);
    }
}

/// The index files of part `number` of `plans` (`None` asked for an archive
/// in one piece).
fn index_for(
    make_index: &mut MakeIndex<'_>,
    plans: &[PartPlan],
    number: u32,
    warnings: &[String],
) -> Result<Vec<(String, Vec<u8>)>> {
    if plans.len() == 1 {
        return make_index(None);
    }
    make_index(Some(IndexRequest {
        parts: plans,
        this_part: number,
        warnings,
    }))
}

/// The file name of part `k` of `n` of the archive `{stem}.zip`.
pub fn part_file_name(stem: &str, k: usize, n: usize) -> String {
    let width = n.to_string().len().max(2);
    format!("{stem}.part{k:0width$}-of-{n:0width$}.zip")
}

/// Splits `NAME.partKK-of-NN.zip` into `(NAME, KK, NN)`.
pub fn parse_part_file_name(name: &str) -> Option<(&str, usize, usize)> {
    let rest = name.strip_suffix(".zip")?;
    let (stem, numbers) = rest.rsplit_once(".part")?;
    let (k, n) = numbers.split_once("-of-")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(k) || !digits(n) || k.len() != n.len() {
        return None;
    }
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (k >= 1 && k <= n).then_some((stem, k, n))
}

/// The `bag-info.txt` lines that tie a part to its set (RFC 8493 §2.2.2).
fn part_labels(info: &BagInfo, k: usize, n: usize) -> [(String, String); 2] {
    [
        (
            "Bag-Group-Identifier".to_owned(),
            info.external_identifier.clone(),
        ),
        ("Bag-Count".to_owned(), format!("{k} of {n}")),
    ]
}

/// The folder of `final_path` and its name without `.zip`.
fn dir_and_stem(final_path: &Path) -> Result<(PathBuf, String)> {
    let name = final_path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} is not a file name; choose a file such as keepsake-export.zip",
                final_path.display()
            ))
        })?;
    let stem = name.strip_suffix(".zip").unwrap_or(name).to_owned();
    let dir = match final_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, stem))
}

/// Files in `dir` named like a part of `{stem}.zip`, finished or not.
fn sibling_parts(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let Ok(rd) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let name = name.strip_suffix(".partial").unwrap_or(&name);
            parse_part_file_name(name).is_some_and(|(s, _, _)| s == stem)
        })
        .map(|e| e.path())
        .collect()
}

/// Writes a set-aside entry into a part.
fn write_entry(w: &mut ArchiveWriter, e: &Pending) -> Result<()> {
    if e.tag {
        let Source::Bytes(bytes) = &e.source else {
            return Err(Error::Invalid(format!("{} has no content", e.name)));
        };
        return w.add_tag_file(&e.name, bytes).map(drop);
    }
    let path_in_data = e.name.strip_prefix(DATA_PREFIX).unwrap_or(&e.name);
    match &e.source {
        Source::Bytes(bytes) => w.add_payload_bytes(path_in_data, bytes, e.compress),
        Source::File(src) | Source::Spool(src) => {
            // The length planned with: a file that changed since would break
            // the layout, and the writer refuses it.
            let mut file = fs_err::File::open(src).map_err(io_error("open", src))?;
            w.add_payload_reader(path_in_data, &mut file, Some(e.len), e.compress)
        }
    }
    .map(drop)
}

/// Copies `reader` into a new private file; returns its length.
fn spool_into(path: &Path, reader: &mut dyn Read, name: &str) -> Result<u64> {
    let mut file = create_private(path)?;
    let mut buf = vec![0; CHUNK];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error("read", Path::new(name))(e)),
        };
        file.write_all(&buf[..n]).map_err(io_error("write", path))?;
        len += n as u64;
    }
    file.flush().map_err(io_error("write", path))?;
    Ok(len)
}

use crate::fsx::create_private_dir;

#[cfg(test)]
#[path = "parted_tests.rs"]
mod tests;
