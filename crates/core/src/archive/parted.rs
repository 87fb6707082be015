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

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::CHUNK;
use super::bagit::{BagInfo, DATA_PREFIX};
use super::names::check_tag_name;
use super::part_sizes::Source;
use super::partial::create_private;
use super::planner::Planner;
use super::prepare::Prepared;
use super::writer::{ArchiveWriter, FinishedArchive};
use crate::{Error, Result};

/// Below this, a part cannot hold its own tag files and index.
pub const MIN_PART_BYTES: u64 = 16 * 1024;

/// How to split an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOptions {
    /// No part is larger than this, in bytes, unless one file alone is.
    pub max_part_bytes: u64,
    /// A private scratch folder for streams set aside until the parts are
    /// laid out; emptied at the start (kept by [`PartedWriter::resume`]
    /// as journaled) and removed at the end.
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
    /// the same bag left: an archive in one piece (see
    /// [`ArchiveWriter::resume`]), or, for a split one, the entries set
    /// aside in the spool folder (its parts are laid out at the end, so
    /// none was written).
    pub fn resume(final_path: &Path, info: BagInfo, split: Option<SplitOptions>) -> Result<Self> {
        let inner = match split {
            None => Inner::Whole(Box::new(ArchiveWriter::resume(final_path, info)?)),
            Some(split) => Inner::Split(Box::new(Planner::resume(final_path, info, split)?)),
        };
        Ok(Self { inner })
    }

    /// Whether entries set aside with their data in the spool folder are
    /// kept by a resumed run (see [`resume`](Self::resume)): then the
    /// source a compressed entry was made from is no longer needed. Always
    /// `false` for an archive in one piece.
    pub fn keeps_spool(&self) -> bool {
        matches!(&self.inner, Inner::Split(p) if p.keeps_spool())
    }

    /// Ends what [`keeps_spool`](Self::keeps_spool) promised for what comes
    /// next: what is set aside from now on depends on the whole run (where
    /// each file is), so a resumed run makes it again. What was set aside
    /// before stays kept.
    pub fn stop_keeping_spool(&mut self) {
        if let Inner::Split(p) = &mut self.inner {
            p.close_journal();
        }
    }

    /// The payload an interrupted run left and this one keeps: SHA-256 by
    /// path under `data/` (see [`resume`](Self::resume)).
    pub fn recovered_payload(&self) -> HashMap<String, [u8; 32]> {
        match &self.inner {
            Inner::Whole(w) => w.recovered_payload(),
            Inner::Split(p) => p.recovered_payload(),
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

    /// Has `progress` told how far writing the parts has got, from the
    /// writing threads, at each entry and each part complete (many times a
    /// second: throttle it). An archive in one piece has no such phase.
    pub fn on_progress(&mut self, progress: impl Fn(PartsProgress) + Send + Sync + 'static) {
        if let Inner::Split(p) = &mut self.inner {
            p.progress = Some(Hook(Box::new(progress)));
        }
    }

    /// Has the parts' writing stop, with [`Error::Cancelled`], at the next
    /// file once `stop` says so (a cancel while a large split archive is
    /// written at the end). An archive in one piece is finished at once.
    pub fn stop_when(&mut self, stop: impl Fn() -> bool + Send + Sync + 'static) {
        if let Inner::Split(p) = &mut self.inner {
            p.stop = Some(Hook(Box::new(stop)));
        }
    }

    /// Whether the archive may come out in several parts.
    pub fn is_split(&self) -> bool {
        matches!(self.inner, Inner::Split(_))
    }

    /// [`ArchiveWriter::add_prepared`]; when split, the entry waits for the
    /// parts to be laid out, its data in the spool folder (a stored entry's
    /// own source file must stay as it is until [`finish`](Self::finish)).
    pub fn add_prepared(&mut self, path_in_data: &str, prepared: Prepared) -> Result<()> {
        self.set_aside(path_in_data, prepared, false)
    }

    /// [`Self::add_prepared`] for a stored entry whose source file exists
    /// only for it (a staged download): when split, the file is removed
    /// once its entry is written into a part and synced, so the disk holds
    /// little of the archive twice at any time.
    pub fn add_prepared_disposable(
        &mut self,
        path_in_data: &str,
        prepared: Prepared,
    ) -> Result<()> {
        self.set_aside(path_in_data, prepared, true)
    }

    fn set_aside(
        &mut self,
        path_in_data: &str,
        prepared: Prepared,
        disposable: bool,
    ) -> Result<()> {
        match &mut self.inner {
            Inner::Whole(w) => w.add_prepared(path_in_data, prepared).map(drop),
            Inner::Split(p) => p.add_prepared(path_in_data, prepared, disposable),
        }
    }

    /// Where entries being prepared may spool their data: the archive's
    /// folder for one in one piece, the spool folder for a split one.
    pub fn spool_dir(&self) -> &Path {
        match &self.inner {
            Inner::Whole(w) => w.spool_dir(),
            Inner::Split(p) => p.spool_dir(),
        }
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
                let len = fs_err::metadata(src).map_err(Error::io("open", src))?.len();
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

/// How far writing the parts of a split archive has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartsProgress {
    /// Parts written and synced.
    pub written: u32,
    /// Parts in all.
    pub parts: u32,
    /// Bytes of the parts' files written so far (as they are, not as
    /// compressed).
    pub done: u64,
    /// Bytes of all their files.
    pub total: u64,
}

/// A caller's function the parts' writers call ([`PartedWriter::on_progress`],
/// [`PartedWriter::stop_when`]), from their threads.
pub(super) struct Hook<F: ?Sized>(pub(super) Box<F>);

impl<F: ?Sized> fmt::Debug for Hook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook")
    }
}

/// Where [`PartsProgress`] goes.
pub(super) type ProgressFn = Hook<dyn Fn(PartsProgress) + Send + Sync>;

/// When to stop writing the parts (see [`PartedWriter::stop_when`]).
pub(super) type StopFn = Hook<dyn Fn() -> bool + Send + Sync>;

/// Copies `reader` into a new private file; returns its length.
pub(super) fn spool_into(path: &Path, reader: &mut dyn Read, name: &str) -> Result<u64> {
    let mut file = create_private(path)?;
    let len = crate::fsx::copy(reader, &mut file, CHUNK, Path::new(name), path)?;
    file.flush().map_err(Error::io("write", path))?;
    Ok(len)
}

#[cfg(test)]
#[path = "parted_tests.rs"]
mod tests;
