//! The zip thread of an archive in one piece. Entries are prepared (read,
//! hashed, compressed) on a pool of threads, one per core, while this
//! thread appends each to the archive as soon as it is ready: compressing
//! text, the most expensive part of an export, neither waits for one thread
//! nor holds up the media files behind it. (The order of entries in the zip
//! is the order they became ready; the manifests are sorted.)
//!
//! One thread takes both the export's jobs and the prepared entries
//! (`select!`), so nothing polls: a job's entries go to the pool, or, when
//! there is nothing to prepare, straight into the archive; and when the
//! writer stops, the export's next job finds the channel closed.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, select};
use serde_json::Value;

use super::piped::Piped;
use super::{Formats, Job, Lease, Unit, UnitSource, finish, stopped_early, units};
use crate::archive::{
    Deflating, FinishedSet, PartedWriter, Prepared, SyncPoint, prepare_file, prepare_reader,
    prepare_verified_text,
};
use crate::{Error, Result};

/// Prepared entries waiting for the writer, at most: bounds the memory and
/// temporary files they hold (the pool waits when the writer falls behind).
const AHEAD: usize = 16;

/// How much of the archive is written between two writebacks (see
/// [`SyncPoint::write_back`]).
const WRITEBACK_EVERY: u64 = 8 << 20;

/// An entry prepared by the pool (or a thread of its own), for the writer.
struct Ready {
    path: String,
    prepared: Result<Prepared>,
    staged: Option<PathBuf>,
    /// Held until the entry is written (memory it holds).
    lease: Option<Lease>,
}

/// Writes every job's entries into `writer` and finishes it when the
/// [`Job::Finish`] job comes. An archive in one piece continues what an
/// interrupted run left in it; a split one sets its entries aside, prepared,
/// until the parts are laid out.
pub(super) fn run(
    mut writer: PartedWriter,
    jobs: Receiver<Job>,
    formats: Formats,
    sync_every: u64,
    archived: &tokio::sync::watch::Sender<Option<super::Recovered>>,
) -> Result<FinishedSet> {
    let spool_dir = writer.spool_dir().to_owned();
    let recovered = Arc::new(writer.recovered_payload());
    // A split archive keeps the staged files its entries are read from
    // until its parts are written.
    let cleaner = writer
        .whole_mut()
        .and_then(|whole| whole.sync_point())
        .and_then(Cleaner::start);
    // Downloads of files already in the archive can now be skipped.
    archived.send_replace(Some(Arc::clone(&recovered)));

    let (ready_tx, ready) = crossbeam_channel::bounded::<Ready>(AHEAD);
    let (task_tx, tasks) = crossbeam_channel::unbounded::<Unit>();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    for i in 0..workers {
        let (tasks, ready, spool_dir) = (tasks.clone(), ready_tx.clone(), spool_dir.clone());
        std::thread::Builder::new()
            .name(format!("keepsake-deflate-{i}"))
            .spawn(move || work(&tasks, &ready, &spool_dir))
            .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;
    }
    drop(tasks);

    let mut zip = Zip {
        writer,
        cleaner,
        written: 0,
        unsynced: (Vec::new(), 0),
        not_written_back: 0,
        sync_every,
    };
    // Until the last job: where entries to prepare go. Dropped then, so
    // the pool ends once it is done and the wait for entries ends when
    // none can come any more.
    let mut senders = Some((task_tx, ready_tx));
    // Entries to wait for, counted as they are sent; the archive is
    // finished once as many were written, after the last job.
    let (mut sent, mut last): (u64, Option<Value>) = (0, None);
    let no_jobs = crossbeam_channel::never::<Job>();
    loop {
        if let Some(manifest) = &last
            && zip.written == sent
        {
            // Files not handed over stay until the staging folder goes;
            // the cleanup thread is done before the export removes it.
            let Zip {
                writer, cleaner, ..
            } = zip;
            let finished = finish(writer, manifest, formats);
            drop(cleaner);
            return finished;
        }
        let jobs = if senders.is_some() { &jobs } else { &no_jobs };
        select! {
            recv(jobs) -> job => {
                let Ok(job) = job else {
                    // The export stopped without finishing: what is being
                    // prepared still goes in (a resume keeps it), then the
                    // archive stays open.
                    senders = None;
                    continue;
                };
                if let Job::Finish { manifest } = job {
                    last = Some(manifest);
                    senders = None;
                    continue;
                }
                if depends_on_the_whole_run(&job) {
                    zip.writer.stop_keeping_spool();
                }
                let Some((task_tx, ready_tx)) = &senders else { continue };
                for mut unit in units(job, formats) {
                    // What an interrupted run archived is kept, not made again.
                    let entries = match &mut unit.source {
                        UnitSource::Forms(forms) => {
                            forms.retain(|path| !recovered.contains_key(path));
                            forms.len()
                        }
                        _ => usize::from(!recovered.contains_key(&unit.path)),
                    };
                    if entries == 0 {
                        continue;
                    }
                    sent += entries as u64;
                    dispatch(unit, &mut zip, task_tx, ready_tx, &spool_dir)?;
                }
            }
            recv(ready) -> entry => {
                // Every entry that could come came: the export stopped, or
                // one was lost (a preparing thread died).
                let Ok(entry) = entry else { return Err(stopped_early()) };
                zip.add(&entry.path, entry.prepared, entry.staged, entry.lease)?;
            }
        }
    }
}

/// Sends one unit on its way: into the archive at once when there is
/// nothing to prepare, to a thread of its own for a category's forms (which
/// may wait for pages), to the pool otherwise.
fn dispatch(
    unit: Unit,
    zip: &mut Zip,
    tasks: &Sender<Unit>,
    ready: &Sender<Ready>,
    spool_dir: &std::path::Path,
) -> Result<()> {
    match unit.source {
        UnitSource::Verified { path, v } => {
            let prepared = if path.exists() {
                Ok(Prepared::verified_file(path, v.len, v.sha256, v.crc32))
            } else {
                Err(gone(&unit.path))
            };
            zip.add(&unit.path, prepared, unit.staged, unit.lease)
        }
        UnitSource::Memory {
            bytes,
            v,
            compress: false,
        } => {
            let prepared = Ok(Prepared::verified_bytes(bytes, v.sha256, v.crc32));
            zip.add(&unit.path, prepared, unit.staged, unit.lease)
        }
        UnitSource::Forms(forms) => {
            let (ready, spool_dir) = (ready.clone(), spool_dir.to_owned());
            std::thread::Builder::new()
                .name("keepsake-forms".into())
                .spawn(move || {
                    // Each form deflated on a thread of its own (see
                    // `piped`), this one reading the records.
                    let sinks: std::io::Result<Vec<_>> = forms
                        .forms
                        .paths()
                        .map(|_| Piped::spawn("keepsake-form-deflate", Deflating::new(&spool_dir)))
                        .collect();
                    let written = sinks
                        .map_err(|e| {
                            Error::Invalid(format!("could not start the archive writer: {e}"))
                        })
                        .and_then(|sinks| forms.write(sinks, &spool_dir));
                    let prepared: Vec<Result<Prepared>> = match written {
                        Ok(done) => done
                            .into_iter()
                            .map(|piped| {
                                piped
                                    .finish()
                                    .map_err(Error::io("write a temporary file in", &spool_dir))
                                    .and_then(Deflating::finish)
                            })
                            .collect(),
                        // The fetch stopped (and says why): the entries are
                        // simply never finished, and the archive stays open
                        // for a resume.
                        Err(_) if forms.growing.as_ref().is_some_and(|w| w.abandoned()) => return,
                        // The writer stops at the first failed entry.
                        Err(e) => vec![Err(e)],
                    };
                    for (path, prepared) in forms.forms.paths().zip(prepared) {
                        let entry = Ready {
                            path: path.to_owned(),
                            prepared,
                            staged: None,
                            lease: None,
                        };
                        if ready.send(entry).is_err() {
                            return;
                        }
                    }
                })
                .map(drop)
                .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))
        }
        source => tasks
            .send(Unit { source, ..unit })
            .map_err(|_| stopped_early()),
    }
}

/// The archive being written, and what its entries leave to clean up.
struct Zip {
    writer: PartedWriter,
    cleaner: Option<Cleaner>,
    written: u64,
    /// Staged files whose entries are written but not yet synced, and
    /// their size.
    unsynced: (Vec<PathBuf>, u64),
    not_written_back: u64,
    /// Staged files go once this many bytes of their entries are written
    /// (and synced).
    sync_every: u64,
}

impl Zip {
    /// Appends one prepared entry; its staged file goes with the next batch.
    fn add(
        &mut self,
        path: &str,
        prepared: Result<Prepared>,
        staged: Option<PathBuf>,
        lease: Option<Lease>,
    ) -> Result<()> {
        let Some(whole) = self.writer.whole_mut() else {
            let prepared = prepared?;
            match staged {
                // Split: a staged download stored as it is goes once its
                // part is written.
                Some(file) if prepared.source_file() == Some(&*file) => {
                    self.writer.add_prepared_disposable(path, prepared)?;
                }
                // One whose data was compressed into the spool is not needed
                // any more where a resumed run keeps the spool: the disk
                // would hold it twice until the end.
                Some(file) if self.writer.keeps_spool() => {
                    self.writer.add_prepared(path, prepared)?;
                    remove_staged(&file);
                }
                Some(_) | None => self.writer.add_prepared(path, prepared)?,
            }
            self.written += 1;
            return Ok(());
        };
        let entry = whole.add_prepared(path, prepared?)?;
        drop(lease);
        self.written += 1;
        let Some(cleaner) = &self.cleaner else {
            return Ok(());
        };
        self.not_written_back += entry.bytes;
        if self.not_written_back >= WRITEBACK_EVERY {
            cleaner.send(Cleanup::Writeback);
            self.not_written_back = 0;
        }
        if let Some(file) = staged {
            self.unsynced.0.push(file);
            self.unsynced.1 += entry.bytes;
            if self.unsynced.1 >= self.sync_every {
                cleaner.send(Cleanup::Remove(std::mem::take(&mut self.unsynced.0)));
                self.unsynced.1 = 0;
            }
        }
        Ok(())
    }
}

/// Removes staged files once their entries are on disk: a thread that
/// syncs the archive and its journal, then deletes the files handed over
/// before. Until then a power cut could still take an entry with it, and
/// the file is what a resumed export would archive again. Deleting as the
/// export goes keeps the disk space an export needs near the archive's
/// size, and the deleting (slow on disks that discard freed blocks) off the
/// end of the export. It also writes the archive back as it grows, so no
/// sync on the export's way waits for much.
struct Cleaner {
    batches: Option<Sender<Cleanup>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Work for the cleanup thread.
enum Cleanup {
    /// Write the archive so far to disk.
    Writeback,
    /// Sync the archive, then remove these staged files.
    Remove(Vec<PathBuf>),
}

impl Cleaner {
    fn start(sync: SyncPoint) -> Option<Self> {
        let (batches, rx) = crossbeam_channel::unbounded::<Cleanup>();
        let thread = std::thread::Builder::new()
            .name("keepsake-cleanup".into())
            .spawn(move || {
                for work in rx {
                    let batch = match work {
                        Cleanup::Writeback => {
                            if let Err(e) = sync.write_back() {
                                tracing::debug!(error = %e, "could not write the archive back");
                            }
                            continue;
                        }
                        Cleanup::Remove(batch) => batch,
                    };
                    if let Err(e) = sync.sync() {
                        // Keep the files: they are what resuming needs.
                        tracing::warn!(error = %e, "could not sync the archive; staged files are kept");
                        return;
                    }
                    for file in batch {
                        remove_staged(&file);
                    }
                }
            })
            .ok()?;
        Some(Self {
            batches: Some(batches),
            thread: Some(thread),
        })
    }

    fn send(&self, work: Cleanup) {
        if let Some(b) = &self.batches {
            let _ = b.send(work);
        }
    }
}

impl Drop for Cleaner {
    /// Waits for the batch in hand, so nothing deletes in the staging
    /// folder once the writer has returned.
    fn drop(&mut self) {
        self.batches = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether what `job` brings depends on the whole run, not only on what was
/// fetched: where each file is (the files' category, the file index), known
/// once every download is done. A resumed run must make it again.
fn depends_on_the_whole_run(job: &Job) -> bool {
    matches!(job, Job::Category { descriptor, retrieved, .. }
        if retrieved.is_some() || descriptor.name == crate::export::FILES_INDEX)
}

/// Removes a staged file whose entry no longer needs it; one that cannot
/// be removed stays until the staging folder goes.
fn remove_staged(file: &std::path::Path) {
    crate::fsx::remove_or_log(file, "a staged file");
}

/// The error for a staged file that disappeared between its download and
/// the zip thread. (One an interrupted run removed once it was archived,
/// where that archive could not be continued, never gets here: the
/// download sees it gone and fetches it again.) A resumed run does the
/// same for this one, so that is what the message says.
fn gone(path: &str) -> Error {
    Error::Invalid(format!(
        "the downloaded copy of {path} disappeared from the staging folder before it went into the archive (something removed it); run the export again: it continues where it stopped and downloads that file again"
    ))
}

/// A pool thread: prepares entries until there are no more.
fn work(tasks: &Receiver<Unit>, ready: &Sender<Ready>, spool_dir: &std::path::Path) {
    for unit in tasks {
        if ready.send(prepared(unit, spool_dir)).is_err() {
            return;
        }
    }
}

/// Prepares one entry's content.
fn prepared(unit: Unit, spool_dir: &std::path::Path) -> Ready {
    let Unit {
        path,
        source,
        staged,
        lease,
    } = unit;
    let prepared = prepare(source, spool_dir, &path);
    Ready {
        path,
        prepared,
        staged,
        lease,
    }
}

fn prepare(source: UnitSource, spool_dir: &std::path::Path, path: &str) -> Result<Prepared> {
    match source {
        // Made on a thread of their own (see `dispatch`).
        UnitSource::Forms(_) => Err(Error::Invalid(
            "internal error: a category's forms went to the pool".into(),
        )),
        UnitSource::File {
            path: src,
            compress,
        } => prepare_file(&src, compress, spool_dir),
        UnitSource::Verified { path: src, v } => {
            Ok(Prepared::verified_file(src, v.len, v.sha256, v.crc32))
        }
        UnitSource::Memory { bytes, v, compress } => {
            if compress {
                prepare_verified_text(&bytes, v.sha256, v.crc32, spool_dir)
            } else {
                Ok(Prepared::verified_bytes(bytes, v.sha256, v.crc32))
            }
        }
        UnitSource::Bytes(bytes) => prepare_reader(
            &mut &bytes[..],
            Some(bytes.len() as u64),
            true,
            spool_dir,
            path,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{BagInfo, SplitOptions, prepare_file};

    /// A split archive's writer, its entries set aside (see [`Zip::add`]).
    fn split_zip(dir: &std::path::Path) -> Zip {
        let info = BagInfo::new(
            "Reference Platform",
            "exp_0123",
            time::macros::datetime!(2025-06-01 12:34:56 UTC),
        );
        let split = SplitOptions {
            max_part_bytes: 1 << 20,
            spool_dir: dir.join("spool"),
        };
        let writer = PartedWriter::create(&dir.join("export.zip"), info, Some(split))
            .expect("a split writer");
        Zip {
            writer,
            cleaner: None,
            written: 0,
            unsynced: (Vec::new(), 0),
            not_written_back: 0,
            sync_every: 1 << 20,
        }
    }

    /// Adds a stored and a compressed download, as staged files, with the
    /// spool journal `keeping` what is set aside or not; says whether each
    /// staged file is still there.
    fn add_two(keeping: bool) -> (bool, bool) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut zip = split_zip(dir.path());
        if !keeping {
            zip.writer.stop_keeping_spool();
        }
        let (stored, text) = (dir.path().join("1"), dir.path().join("2"));
        fs_err::write(&stored, [7u8; 5000]).expect("stored");
        fs_err::write(&text, "words, words and words\n".repeat(500)).expect("text");
        let prepared = prepare_file(&stored, false, zip.writer.spool_dir());
        zip.add("media/1-a.png", prepared, Some(stored.clone()), None)
            .expect("stored");
        let prepared = prepare_file(&text, true, zip.writer.spool_dir());
        zip.add("media/2-b.txt", prepared, Some(text.clone()), None)
            .expect("compressed");
        assert_eq!(zip.written, 2);
        (stored.exists(), text.exists())
    }

    #[test]
    fn a_split_archive_keeps_a_stored_download_but_not_one_its_spool_keeps() {
        // The stored one is read when its part is written; the compressed
        // one is in the spool, journaled, and its download would only take
        // the space twice until the end.
        assert_eq!(add_two(true), (true, false));
        // Where the journal no longer records (once every download is
        // done) the spool is not kept by a resumed run: the staged
        // download is what it would take again.
        assert_eq!(add_two(false), (true, true));
    }
}
