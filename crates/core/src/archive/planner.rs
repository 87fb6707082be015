//! The split side of a [`PartedWriter`](super::PartedWriter): entries set
//! aside (files by path, streams spooled to disk) until every one is known,
//! then laid out into parts from what each costs at most
//! ([`super::part_sizes`]) and written, each part a complete zip and bag.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::bagit::{
    BAG_INFO_TXT, BAGIT_TXT, BAGIT_TXT_CONTENT, BagInfo, DATA_PREFIX, MANIFEST, TAG_MANIFEST,
    bag_info_text,
};
use super::names::NameSet;
use super::part_names::{dir_and_stem, part_file_name, sibling_parts};
use super::part_sizes::{
    INDEX_SLACK, Layout, Pending, Reserve, Source, Sums, data_bound, deflated_zip_len,
    entry_overhead, manifest_line_len, measured_bound,
};
use super::part_writing::{LaidOut, Sealed};
use super::parted::{
    FinishedSet, IndexRequest, MIN_PART_BYTES, MakeIndex, PartPlan, ProgressFn, SplitOptions,
    StopFn, spool_into,
};
use super::partial::{SealedArchive, partial_path_for, remove_stale_partial};
use super::prepare::{Kept, Prepared};
use super::segments::Segments;
use super::spool_journal::{self, SpoolJournal};
use super::zipfmt::Method;
use crate::{Error, Result};

/// End of central directory, its ZIP64 form and the locator, with room.
const END_RECORDS: u64 = 128;
/// Re-planning rounds before giving up (each round only grows the reserve).
const MAX_ROUNDS: usize = 32;

/// The split side of [`PartedWriter`].
#[derive(Debug)]
pub(super) struct Planner {
    pub(super) final_path: PathBuf,
    pub(super) info: BagInfo,
    pub(super) limit: u64,
    spool_dir: PathBuf,
    pub(super) entries: Vec<Pending>,
    names: NameSet,
    /// Told how far writing the parts has got.
    pub(super) progress: Option<ProgressFn>,
    /// Asked whether to stop writing the parts.
    pub(super) stop: Option<StopFn>,
    /// Where entries set aside in the spool folder are recorded.
    journal: Option<SpoolJournal>,
    /// The spool folder's files: segments of entries' data, and files of
    /// their own for streams.
    segments: Segments,
    /// What an interrupted run set aside and this one keeps: SHA-256 by
    /// path under `data/`.
    recovered: HashMap<String, [u8; 32]>,
}

impl Planner {
    /// Starts afresh: the spool folder emptied.
    pub(super) fn create(final_path: &Path, info: BagInfo, split: SplitOptions) -> Result<Self> {
        Self::open(final_path, info, split, false)
    }

    /// Starts keeping what an interrupted run of the same bag set aside in
    /// the spool folder and journaled (see [`super::spool_journal`]).
    pub(super) fn resume(final_path: &Path, info: BagInfo, split: SplitOptions) -> Result<Self> {
        Self::open(final_path, info, split, true)
    }

    fn open(final_path: &Path, info: BagInfo, split: SplitOptions, keep: bool) -> Result<Self> {
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
        let spool = spool_journal::open(&split.spool_dir, &info.external_identifier, keep)?;
        let mut names = NameSet::default();
        for own in [BAGIT_TXT, BAG_INFO_TXT, MANIFEST, TAG_MANIFEST] {
            names.claim(own);
        }
        let mut planner = Self {
            final_path: final_path.to_owned(),
            info,
            limit: split.max_part_bytes,
            journal: Some(spool.journal),
            segments: Segments::new(&split.spool_dir, spool.next_slot),
            spool_dir: split.spool_dir,
            entries: Vec::new(),
            names,
            progress: None,
            stop: None,
            recovered: HashMap::new(),
        };
        for (name, kept) in spool.kept {
            planner.keep(name, kept)?;
        }
        if let Some(journal) = &mut planner.journal {
            journal.publish()?;
        }
        Ok(planner)
    }

    /// Whether what is set aside in the spool folder now is journaled, so
    /// that a resumed run keeps it.
    pub(super) fn keeps_spool(&self) -> bool {
        self.journal.as_ref().is_some_and(SpoolJournal::is_open)
    }

    /// Journals nothing more: what is set aside from now on depends on the
    /// whole run (where each file is), so a resumed run makes it again.
    /// What was journaled before stays kept, as long as its file is there
    /// (the parts' writing removes the files it has written).
    pub(super) fn close_journal(&mut self) {
        if let Some(journal) = &mut self.journal {
            journal.close();
        }
    }

    /// Takes `kept` back as `name`, as an interrupted run set it aside (and
    /// the new journal holds it already); one whose name this run would
    /// refuse is made again instead.
    fn keep(&mut self, name: String, kept: Kept) -> Result<()> {
        let path = name.strip_prefix(DATA_PREFIX);
        let Some(path) = path.filter(|_| self.names.check(&name).is_ok()) else {
            if let Some(disposal) = kept.disposal() {
                disposal.run();
            }
            return Ok(());
        };
        self.recovered.insert(path.to_owned(), kept.sha256);
        let (len, compress) = (kept.len, kept.method == Method::Deflated);
        self.push(name, false, Source::Prepared(kept), len, compress)
    }

    /// What an interrupted run set aside and this one keeps (see
    /// [`Self::resume`]): SHA-256 by path under `data/`.
    pub(super) fn recovered_payload(&self) -> HashMap<String, [u8; 32]> {
        self.recovered.clone()
    }

    pub(super) fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    pub(super) fn refuse(&self, detail: String) -> Error {
        Error::Archive {
            path: self.final_path.clone(),
            detail,
        }
    }

    pub(super) fn push(
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

    /// The entry name of `path_in_data`, checked.
    fn checked_name(&self, path_in_data: &str) -> Result<String> {
        let name = format!("{DATA_PREFIX}{path_in_data}");
        self.names.check(&name).map_err(|why| self.refuse(why))?;
        Ok(name)
    }

    /// Sets aside an entry prepared already: its data goes to a segment in
    /// the spool folder, unless it is a stored entry's own source file
    /// (which must then stay as it is until its part is written). A
    /// segment goes once every entry in it is written into a part and
    /// synced; a source file that is `disposable` goes once its own is.
    pub(super) fn add_prepared(
        &mut self,
        path_in_data: &str,
        prepared: Prepared,
        disposable: bool,
    ) -> Result<()> {
        let name = self.checked_name(path_in_data)?;
        let (mut kept, stored_crc32) = prepared.kept_in(&mut self.segments, &name)?;
        kept.disposable = disposable;
        if let (Some(journal), Some(stored_crc32)) =
            (self.journal.as_mut().filter(|j| j.is_open()), stored_crc32)
        {
            journal.record(&name, &kept, stored_crc32)?;
        }
        let (len, compress) = (kept.len, kept.method == Method::Deflated);
        self.push(name, false, Source::Prepared(kept), len, compress)
    }

    pub(super) fn add_reader(
        &mut self,
        path_in_data: &str,
        reader: &mut dyn Read,
        len_hint: Option<u64>,
        compress: bool,
    ) -> Result<()> {
        let name = self.checked_name(path_in_data)?;
        let spool = self.segments.own_file();
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

    pub(super) fn finish(mut self, make_index: &mut MakeIndex<'_>) -> Result<FinishedSet> {
        for e in &mut self.entries {
            e.measure()?;
        }
        self.finish_measured(make_index)
    }

    pub(super) fn finish_measured(mut self, make_index: &mut MakeIndex<'_>) -> Result<FinishedSet> {
        let Written {
            sealed,
            plans,
            warnings,
            disposed,
        } = self.write_parts(make_index)?;
        let too_large = sealed
            .iter()
            .zip(&plans)
            .any(|(s, p)| s.archive().bytes > self.limit && p.oversized.is_none());
        if too_large && disposed {
            // Exact sizes cannot come out larger; should they, the files
            // of the parts written are gone and cannot be laid out again.
            for s in &sealed {
                let _ = fs_err::remove_file(partial_path_for(&s.archive().path));
            }
            return Err(
                self.refuse("a part came out larger than laid out; start the export again".into())
            );
        }
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
            let again = self.write_parts(make_index)?;
            (again.sealed, again.warnings)
        } else {
            (sealed, warnings)
        };
        let mut parts = Vec::with_capacity(sealed.len());
        for s in sealed {
            parts.push(s.publish()?);
        }
        // The set is complete: nothing in the spool is needed again, and
        // dropping the journal has it removed (see `Drop`).
        self.journal = None;
        Ok(FinishedSet { parts, warnings })
    }

    /// Lays the parts out and writes them, sealed but not published. Where
    /// every payload entry's size is exact (all prepared), the files kept
    /// for the entries are removed as they are written and synced; says
    /// whether any was.
    fn write_parts(&self, make_index: &mut MakeIndex<'_>) -> Result<Written> {
        let exact = self
            .entries
            .iter()
            .all(|e| e.tag || matches!(e.source, Source::Prepared(_)));
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
            let layout = lay_out(
                &self.entries,
                &order,
                &reserve,
                bag_info_bound(&self.info),
                self.limit,
            )?;
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

        let laid = LaidOut {
            layout: &layout,
            plans: &plans,
            warnings: &warnings,
            reserve: &reserve,
            exact,
        };
        let Sealed { parts, disposed } = self.write_laid_out(&laid, make_index)?;
        Ok(Written {
            sealed: parts,
            plans,
            warnings,
            disposed,
        })
    }

    /// Room for one part's index files, with some slack. Refuses index
    /// files whose names are taken.
    pub(super) fn reserve(&self, files: &[(String, Vec<u8>)]) -> Result<Reserve> {
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
    /// Removes the spool folder once the set is complete, and never while
    /// what it holds is journaled for a resumed run (an export stopped
    /// while fetching or writing its parts): the staging folder it is in
    /// goes when the export ends for good.
    fn drop(&mut self) {
        if self.journal.is_none() {
            let _ = fs_err::remove_dir_all(&self.spool_dir);
        }
    }
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

/// `bag-info.txt` of `info` with the longest values a part's can have.
fn bag_info_bound(info: &BagInfo) -> u64 {
    let mut info = info.clone();
    let labels = part_labels(&info, u32::MAX as usize, u32::MAX as usize);
    info.extra.extend(labels);
    bag_info_text(&info, u64::MAX, u64::MAX).len() as u64
}

/// Lays `entries` out in parts of at most `limit` bytes, in `order`, each
/// with room for an index of `index` bytes and a `bag-info.txt` of
/// `bag_info`. Returns the parts' entries and whether each is one entry
/// too large for a part. Pure: sizes in, parts out.
fn lay_out(
    entries: &[Pending],
    order: &[usize],
    index: &Reserve,
    bag_info: u64,
    limit: u64,
) -> Result<Vec<(Layout, bool)>> {
    let bound = |s: Sums| bound(s, index, bag_info);
    let empty = bound(Layout::default().sums());
    if empty > limit {
        return Err(Error::Invalid(format!(
            "a split size of {limit} bytes cannot hold even a part's tag files and the index of this archive ({empty} bytes); choose at least {} bytes",
            empty.saturating_mul(4)
        )));
    }
    let mut parts = Vec::new();
    let mut current = Layout::default();
    for &i in order {
        let e = &entries[i];
        if !current.entries.is_empty() && bound(current.sums_with(e)) > limit {
            parts.push(std::mem::take(&mut current));
        }
        current.add(i, e);
    }
    parts.push(current);
    Ok(parts
        .into_iter()
        .map(|l| {
            let over = bound(l.sums()) > limit;
            (l, over)
        })
        .collect())
}

/// The parts as [`Planner::write_parts`] wrote them.
struct Written {
    /// Sealed, not yet published.
    sealed: Vec<SealedArchive>,
    plans: Vec<PartPlan>,
    warnings: Vec<String>,
    /// Whether files kept for a part were removed once it was written.
    disposed: bool,
}

/// The index files of part `number` of `plans` (`None` asked for an archive
/// in one piece).
pub(super) fn index_for(
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

/// The `bag-info.txt` lines that tie a part to its set (RFC 8493 §2.2.2).
pub(super) fn part_labels(info: &BagInfo, k: usize, n: usize) -> [(String, String); 2] {
    [
        (
            "Bag-Group-Identifier".to_owned(),
            info.external_identifier.clone(),
        ),
        ("Bag-Count".to_owned(), format!("{k} of {n}")),
    ]
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;
