//! Writing the parts of a split archive once they are laid out, two at a
//! time. Every part is a file of its own and its entries are prepared
//! already, so writing one is copying, a CRC and the part's SHA-256: work
//! that spreads over two cores. Two, not more: a spinning disk would seek
//! between more files than that. Meanwhile this thread makes the next
//! part's index files, one part ahead, so they are in memory for at most
//! three parts at once. The data kept for a part's entries (staged
//! downloads, ranges of spool segments) goes as the part is written and
//! synced, on a cleanup thread per writer, so the disk holds little more
//! than the archive's size throughout.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crossbeam_channel::Sender;

use super::bagit::{BagInfo, DATA_PREFIX};
use super::journal::Journal;
use super::out::SyncPoint;
use super::part_sizes::{Layout, Pending, Reserve, Source};
use super::parted::{MakeIndex, PartPlan, PartsProgress, ProgressFn};
use super::partial::{SealedArchive, partial_path_for};
use super::planner::{Planner, index_for, part_labels};
use super::prepare::Disposal;
use super::segments::{Ranges, Segment};
use super::writer::ArchiveWriter;
use crate::{Error, Result};

/// Parts written at once.
const WRITERS: usize = 2;

/// How much of a part is written between two syncs, at most, after each
/// of which the files kept for its entries before go. What the disk holds
/// twice while the parts are written is a few of these per writer (the one
/// being written, and batches waiting for the cleanup threads): at 32 MiB
/// that was an eighth of the `large` bench's archive on top of it, at
/// 8 MiB it is under a twentieth; the parts took as long (0.61–0.65 s
/// against 0.64–0.66 s, three runs each).
const SYNC_EVERY: u64 = 8 << 20;

/// The parts as laid out, to be written.
pub(super) struct LaidOut<'a> {
    pub(super) layout: &'a [(Layout, bool)],
    pub(super) plans: &'a [PartPlan],
    pub(super) warnings: &'a [String],
    /// Room each part keeps for its index files.
    pub(super) reserve: &'a Reserve,
    /// Whether every payload entry's size is exact (all prepared): then no
    /// part can come out larger than laid out, so the parts are never laid
    /// out again and the files kept for their entries may go.
    pub(super) exact: bool,
}

/// One part to write.
struct PartJob<'a> {
    /// 0-based.
    k: usize,
    path: PathBuf,
    info: BagInfo,
    entries: &'a [usize],
    index: Vec<(String, Vec<u8>)>,
    /// Whether it holds one file too large for a part (and may be larger).
    oversized: bool,
    /// Whether its kept files may go as it is written and synced (its
    /// sizes are exact).
    dispose: bool,
}

/// Where a written part goes, shared by the writers.
struct Out<'a> {
    done: &'a Sender<(usize, Result<SealedArchive>)>,
    remove: &'a Sender<Batch>,
    /// Set by the first part that fails: the others are not started.
    failed: &'a AtomicBool,
    disposed: &'a AtomicBool,
    /// Whether a cleanup thread runs (else files are removed here).
    remover: bool,
    progress: &'a Progress<'a>,
}

/// How far the writers have got, told to [`Planner::progress`].
struct Progress<'a> {
    to: Option<&'a ProgressFn>,
    parts: u32,
    total: u64,
    written: AtomicU32,
    done: AtomicU64,
}

impl Progress<'_> {
    /// Counts `bytes` more written, or a part more when `part`, and tells.
    fn add(&self, bytes: u64, part: bool) {
        let Some(to) = self.to else { return };
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let written = self.written.fetch_add(u32::from(part), Ordering::Relaxed) + u32::from(part);
        if part && written == self.parts {
            // Told once, after the writers are done (see `write_laid_out`).
            return;
        }
        (to.0)(PartsProgress {
            written,
            parts: self.parts,
            done,
            total: self.total,
        });
    }
}

/// Stops the other writers should its thread panic, so that no more
/// parts are written (and their files removed) for a set that is lost.
struct StopOthersOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOthersOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// What writing the parts left.
pub(super) struct Sealed {
    /// In part order, sealed but not published.
    pub(super) parts: Vec<SealedArchive>,
    /// Whether files kept for a part were removed once it was written.
    pub(super) disposed: bool,
}

impl Planner {
    /// Writes every part of `laid`, sealed but not published. Where every
    /// payload entry's size is exact, the files kept for its entries are
    /// removed once they are in a synced part (see [`Self::write_part`]).
    /// On failure no part's `.partial` file is left.
    pub(super) fn write_laid_out(
        &self,
        laid: &LaidOut<'_>,
        make_index: &mut MakeIndex<'_>,
    ) -> Result<Sealed> {
        let n = laid.plans.len();
        let progress = Progress {
            to: self.progress.as_ref(),
            parts: n as u32,
            total: laid
                .layout
                .iter()
                .flat_map(|(part, _)| &part.entries)
                .map(|&i| self.entries[i].len)
                .sum(),
            written: AtomicU32::new(0),
            done: AtomicU64::new(0),
        };
        progress.add(0, false);
        let failed = AtomicBool::new(false);
        let disposed = AtomicBool::new(false);
        let (done_tx, done_rx) = crossbeam_channel::unbounded::<(usize, Result<SealedArchive>)>();
        // Syncing a part and removing its files (slow on disks that
        // discard freed blocks) goes on, on threads of their own, while the
        // next parts are written: one per writer, so that one part's sync
        // does not hold up the other writer's batches. (A batch syncs its
        // part up to its own entries, so batches may run in any order.)
        let (remove, batches) = crossbeam_channel::bounded::<Batch>(2);
        let made = std::thread::scope(|scope| {
            let remover = (0..WRITERS.min(n))
                .filter(|_| {
                    let batches = batches.clone();
                    std::thread::Builder::new()
                        .name("keepsake-part-cleanup".into())
                        .spawn_scoped(scope, move || {
                            for batch in batches {
                                batch.run();
                            }
                        })
                        .is_ok()
                })
                .count()
                > 0;
            drop(batches);
            let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<PartJob<'_>>(0);
            let writers = (0..WRITERS.min(n))
                .filter(|_| {
                    let (jobs, done, remove) = (jobs_rx.clone(), done_tx.clone(), remove.clone());
                    let (failed, disposed, progress) = (&failed, &disposed, &progress);
                    std::thread::Builder::new()
                        .name("keepsake-part-writer".into())
                        .spawn_scoped(scope, move || {
                            let _stop = StopOthersOnPanic(failed);
                            let out = Out {
                                done: &done,
                                remove: &remove,
                                failed,
                                disposed,
                                remover,
                                progress,
                            };
                            for job in jobs {
                                self.run_job(job, &out);
                            }
                        })
                        .is_ok()
                })
                .count();
            drop(jobs_rx);
            let made = (|| -> Result<()> {
                for (k, (plan, (part, _))) in laid.plans.iter().zip(laid.layout).enumerate() {
                    if self.stopped() {
                        return Err(Error::Cancelled);
                    }
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = index_for(make_index, laid.plans, plan.number, laid.warnings)?;
                    if !self.reserve(&index)?.fits_in(laid.reserve) {
                        return Err(self.refuse(
                            "the index files changed between measuring and writing".into(),
                        ));
                    }
                    let mut info = self.info.clone();
                    let path = if n == 1 {
                        self.final_path.clone()
                    } else {
                        info.extra.extend(part_labels(&self.info, k + 1, n));
                        self.final_path.with_file_name(&plan.name)
                    };
                    let job = PartJob {
                        k,
                        path,
                        info,
                        entries: &part.entries,
                        index,
                        oversized: plan.oversized.is_some(),
                        dispose: laid.exact,
                    };
                    if writers == 0 {
                        let out = Out {
                            done: &done_tx,
                            remove: &remove,
                            failed: &failed,
                            disposed: &disposed,
                            remover,
                            progress: &progress,
                        };
                        self.run_job(job, &out);
                    } else if jobs_tx.send(job).is_err() {
                        break;
                    }
                }
                Ok(())
            })();
            if made.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            drop(jobs_tx);
            drop(remove);
            made
        });
        drop(done_tx);
        let mut parts: Vec<Option<SealedArchive>> = (0..n).map(|_| None).collect();
        let mut first_error = made.err();
        for (k, result) in done_rx {
            match result {
                Ok(s) => parts[k] = Some(s),
                // Stopped by another part's failure: that one says why.
                Err(Error::WriterStopped) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if first_error.is_none() && parts.iter().any(Option::is_none) {
            first_error = Some(self.refuse("a part was not written".into()));
        }
        if let Some(e) = first_error {
            for s in parts.iter().flatten() {
                let _ = fs_err::remove_file(partial_path_for(&s.archive().path));
            }
            return Err(e);
        }
        // The writers' last reports may arrive in either order: this one
        // comes after them all.
        progress.add(0, false);
        Ok(Sealed {
            parts: parts.into_iter().flatten().collect(),
            disposed: disposed.into_inner(),
        })
    }

    /// Writes one part, unless a part failed already.
    fn run_job(&self, job: PartJob<'_>, out: &Out<'_>) {
        if out.failed.load(Ordering::Relaxed) {
            return;
        }
        let sealed = self.write_part(&job, out);
        match &sealed {
            Ok(_) => out.progress.add(0, true),
            Err(_) => out.failed.store(true, Ordering::Relaxed),
        }
        let _ = out.done.send((job.k, sealed));
    }

    /// Writes one part and seals it; on failure, removes its `.partial`.
    /// Where the part's kept files may go, they go as it is written: every
    /// [`SYNC_EVERY`] bytes (a quarter part at most) the part is synced and
    /// the files of the entries before are removed, the rest once it is
    /// sealed within the limit. So
    /// the disk holds little more than the archive at any time. Sizes are
    /// exact where files may go (see [`LaidOut::exact`]), so the part cannot
    /// come out larger than laid out; should it all the same, the export
    /// stops with an error instead of laying the parts out again, since
    /// some of their files are gone.
    fn write_part(&self, job: &PartJob<'_>, out: &Out<'_>) -> Result<SealedArchive> {
        let mut w = ArchiveWriter::create(&job.path, job.info.clone())?;
        let sync = job.dispose.then(|| w.sync_point().map(Arc::new)).flatten();
        let mut batch = (Vec::new(), 0);
        let sealed = job
            .entries
            .iter()
            .try_for_each(|&i| {
                if self.stopped() {
                    out.failed.store(true, Ordering::Relaxed);
                    return Err(Error::Cancelled);
                }
                if out.failed.load(Ordering::Relaxed) {
                    // Another part failed: this one is discarded too.
                    return Err(Error::WriterStopped);
                }
                write_entry(&mut w, &self.entries[i])?;
                out.progress.add(self.entries[i].len, false);
                let Some(sync) = &sync else { return Ok(()) };
                if let Some(file) = self.disposable(i) {
                    batch.0.push(file);
                    batch.1 += self.entries[i].len;
                }
                if batch.1 >= (self.limit / 4).min(SYNC_EVERY) {
                    out.dispose(Some(sync.clone()), std::mem::take(&mut batch.0));
                    batch.1 = 0;
                }
                Ok(())
            })
            .and_then(|()| {
                job.index
                    .iter()
                    .try_for_each(|(path, bytes)| w.add_payload_bytes(path, bytes, true).map(drop))
            })
            .and_then(|()| w.seal());
        match sealed {
            Ok(mut s) => {
                s.close();
                let within = s.archive().bytes <= self.limit || job.oversized;
                if job.dispose && within {
                    // Sealing synced it.
                    let rest = match sync {
                        Some(_) => batch.0,
                        None => job
                            .entries
                            .iter()
                            .filter_map(|&i| self.disposable(i))
                            .collect(),
                    };
                    out.dispose(None, rest);
                }
                Ok(s)
            }
            Err(e) => {
                // With its journal. (Not `remove_stale_partial`: a batch
                // may still hold the part's lock through its sync point.)
                let partial = partial_path_for(&job.path);
                Journal::remove(&partial);
                let _ = fs_err::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Whether the parts' writing is to stop (see `PartedWriter::stop_when`).
    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| (s.0)())
    }

    /// The data kept for entry `i`, to go once it is in a synced part.
    fn disposable(&self, i: usize) -> Option<Disposal> {
        match &self.entries[i].source {
            Source::Prepared(kept) => kept.disposal(),
            _ => None,
        }
    }
}

impl Out<'_> {
    /// Removes `files` once `sync` (if any) has made their part's entries
    /// durable: on a cleanup thread where one runs.
    fn dispose(&self, sync: Option<Arc<SyncPoint>>, files: Vec<Disposal>) {
        // Once a part failed, the set is lost: the files are what a resumed
        // run needs. (Batches queued before still go.)
        if files.is_empty() || self.failed.load(Ordering::Relaxed) {
            return;
        }
        self.disposed.store(true, Ordering::Relaxed);
        let batch = Batch { sync, files };
        if !self.remover {
            batch.run();
        } else if let Err(unsent) = self.remove.send(batch) {
            unsent.0.run();
        }
    }
}

/// Data kept for entries now in a part, to remove once it is on disk.
struct Batch {
    /// Synced first, where the part is not sealed yet.
    sync: Option<Arc<SyncPoint>>,
    files: Vec<Disposal>,
}

impl Batch {
    fn run(self) {
        if let Some(sync) = &self.sync
            && let Err(e) = sync.sync()
        {
            // Keep the files: the part may not hold them safely yet.
            tracing::warn!(error = %e, "could not sync a part; its files are kept until it is sealed");
            return;
        }
        // A segment's ranges given back together (see
        // `Segment::release_all`); other files one by one.
        let mut segments: Vec<(Arc<Segment>, Ranges)> = Vec::new();
        for file in self.files {
            match file {
                Disposal::Release(segment, offset, len) => {
                    match segments.iter_mut().find(|(s, _)| Arc::ptr_eq(s, &segment)) {
                        Some((_, ranges)) => ranges.push((offset, len)),
                        None => segments.push((segment, vec![(offset, len)])),
                    }
                }
                other => other.run(),
            }
        }
        for (segment, ranges) in segments {
            segment.release_all(ranges);
        }
    }
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
            let mut file = fs_err::File::open(src).map_err(Error::io("open", src))?;
            w.add_payload_reader(path_in_data, &mut file, Some(e.len), e.compress)
        }
        // Copied as prepared, checked against its length (and a stored
        // one's CRC).
        Source::Prepared(kept) => w.add_prepared(path_in_data, kept.prepared()),
    }
    .map(drop)
}
