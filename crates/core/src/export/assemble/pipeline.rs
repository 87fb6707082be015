//! The zip thread of an archive in one piece. Entries are prepared (read,
//! hashed, compressed) on a pool of threads, one per core, while this
//! thread appends each to the archive as soon as it is ready: compressing
//! text, the most expensive part of an export, neither waits for one thread
//! nor holds up the media files behind it. (The order of entries in the zip
//! is the order they became ready; the manifests are sorted.)

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

use super::{Formats, Job, Lease, UnitSource, finish, stopped_early, units};
use crate::archive::{
    FinishedSet, PartedWriter, Prepared, SyncPoint, prepare_file, prepare_reader,
    prepare_verified_text,
};
use crate::{Error, Result};

/// Prepared entries waiting for the writer, at most: bounds the memory and
/// temporary files they hold (the pool waits when the writer falls behind).
const AHEAD: usize = 16;

/// How much of the archive is written between two writebacks (see
/// [`SyncPoint::write_back`]).
const WRITEBACK_EVERY: u64 = 8 << 20;

type Work = Box<dyn FnOnce() -> Result<Prepared> + Send>;

struct Task {
    path: String,
    work: Work,
    staged: Option<PathBuf>,
    lease: Option<Lease>,
}

enum Ready {
    Entry {
        path: String,
        prepared: Result<Prepared>,
        staged: Option<PathBuf>,
        /// Held until the entry is written (memory it holds).
        lease: Option<Lease>,
    },
    /// Every job is in; `entries` entries were sent for preparing in all.
    Finish { manifest: Value, entries: u64 },
}

/// Writes every job's entries into `writer` (which must be whole) and
/// finishes it when the [`Job::Finish`] job comes.
pub(super) fn run(
    mut writer: PartedWriter,
    jobs: mpsc::Receiver<Job>,
    formats: Formats,
    sync_every: u64,
    archived: &tokio::sync::watch::Sender<Option<super::Recovered>>,
) -> Result<FinishedSet> {
    let Some(whole) = writer.whole_mut() else {
        return Err(Error::Invalid(
            "internal error: a split archive went to the parallel writer".into(),
        ));
    };
    let spool_dir = whole.spool_dir().to_owned();
    let recovered = Arc::new(whole.recovered_payload());
    // Downloads of files already in the archive can now be skipped.
    archived.send_replace(Some(Arc::clone(&recovered)));
    let cleaner = whole.sync_point().and_then(Cleaner::start);

    let (ready_tx, ready_rx) = mpsc::sync_channel::<Ready>(AHEAD);
    let (task_tx, task_rx) = mpsc::channel::<Task>();
    let task_rx = Arc::new(Mutex::new(task_rx));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    for i in 0..workers {
        let (tasks, ready) = (Arc::clone(&task_rx), ready_tx.clone());
        std::thread::Builder::new()
            .name(format!("keepsake-deflate-{i}"))
            .spawn(move || work(&tasks, &ready))
            .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;
    }

    // Set when the writer stops, so the job thread stops taking jobs and
    // the export learns at its next job rather than at the end.
    let stopped = Arc::new(AtomicBool::new(false));
    let _stop_jobs = SetOnDrop(Arc::clone(&stopped));
    std::thread::Builder::new()
        .name("keepsake-zip-jobs".into())
        .spawn(move || {
            let mut entries = 0u64;
            loop {
                let job = match jobs.recv_timeout(Duration::from_millis(50)) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) if !stopped.load(Ordering::Acquire) => {
                        continue;
                    }
                    Err(_) => return,
                };
                if let Job::Finish { manifest } = job {
                    let _ = ready_tx.send(Ready::Finish { manifest, entries });
                    return;
                }
                for unit in units(job, formats) {
                    if recovered.contains_key(&unit.path) {
                        continue;
                    }
                    entries += 1;
                    let sent = match unit.source {
                        // Nothing to prepare: straight to the writer.
                        UnitSource::Verified { path, v } => ready_tx
                            .send(Ready::Entry {
                                prepared: if path.exists() {
                                    Ok(Prepared::verified_file(path, v.len, v.sha256, v.crc32))
                                } else {
                                    Err(gone(&unit.path))
                                },
                                path: unit.path,
                                staged: unit.staged,
                                lease: unit.lease,
                            })
                            .is_ok(),
                        UnitSource::Memory {
                            bytes,
                            v,
                            compress: false,
                        } => ready_tx
                            .send(Ready::Entry {
                                prepared: Ok(Prepared::verified_bytes(bytes, v.sha256, v.crc32)),
                                path: unit.path,
                                staged: unit.staged,
                                lease: unit.lease,
                            })
                            .is_ok(),
                        // Waits for pages: a thread of its own, so the
                        // pool goes on with entries that are ready.
                        UnitSource::Stream(make, watch) => {
                            let ready = ready_tx.clone();
                            let work = prepare(
                                UnitSource::Reader(make),
                                spool_dir.clone(),
                                unit.path.clone(),
                            );
                            let (path, staged, lease) = (unit.path, unit.staged, unit.lease);
                            let spawned = std::thread::Builder::new()
                                .name("keepsake-stream".into())
                                .spawn(move || {
                                    let prepared = work();
                                    // The fetch stopped (and says why): the
                                    // entry is simply never finished, and the
                                    // archive stays open for a resume.
                                    if prepared.is_err() && watch.abandoned() {
                                        return;
                                    }
                                    let _ = ready.send(Ready::Entry {
                                        prepared,
                                        path,
                                        staged,
                                        lease,
                                    });
                                });
                            match spawned {
                                Ok(_) => true,
                                Err(e) => ready_tx
                                    .send(Ready::Entry {
                                        prepared: Err(Error::Invalid(format!(
                                            "could not start the archive writer: {e}"
                                        ))),
                                        path: String::new(),
                                        staged: None,
                                        lease: None,
                                    })
                                    .is_ok(),
                            }
                        }
                        source => task_tx
                            .send(Task {
                                work: prepare(source, spool_dir.clone(), unit.path.clone()),
                                path: unit.path,
                                staged: unit.staged,
                                lease: unit.lease,
                            })
                            .is_ok(),
                    };
                    if !sent {
                        return; // the writer stopped
                    }
                }
            }
        })
        .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;

    // Entries can still be on their way when the last job is in: the
    // archive is finished once as many were written as were sent.
    let mut written = 0u64;
    let mut last: Option<(Value, u64)> = None;
    // Staged files whose entries are written but not yet synced, and their
    // size.
    let mut unsynced: (Vec<PathBuf>, u64) = (Vec::new(), 0);
    let mut not_written_back = 0u64;
    loop {
        if let Some((manifest, entries)) = &last
            && written == *entries
        {
            // Files not handed over stay until the staging folder goes;
            // the cleanup thread is done before the export removes it.
            let finished = finish(writer, manifest, formats);
            drop(cleaner);
            return finished;
        }
        let Ok(ready) = ready_rx.recv() else {
            return Err(stopped_early());
        };
        match ready {
            Ready::Entry {
                path,
                prepared,
                staged,
                lease,
            } => {
                let Some(whole) = writer.whole_mut() else {
                    return Err(stopped_early());
                };
                let entry = whole.add_prepared(&path, prepared?)?;
                drop(lease);
                written += 1;
                let Some(cleaner) = &cleaner else { continue };
                not_written_back += entry.bytes;
                if not_written_back >= WRITEBACK_EVERY {
                    cleaner.send(Cleanup::Writeback);
                    not_written_back = 0;
                }
                if let Some(file) = staged {
                    unsynced.0.push(file);
                    unsynced.1 += entry.bytes;
                    if unsynced.1 >= sync_every {
                        cleaner.send(Cleanup::Remove(std::mem::take(&mut unsynced.0)));
                        unsynced.1 = 0;
                    }
                }
            }
            Ready::Finish { manifest, entries } => last = Some((manifest, entries)),
        }
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
    batches: Option<mpsc::Sender<Cleanup>>,
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
        let (batches, rx) = mpsc::channel::<Cleanup>();
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
                        match fs_err::remove_file(&file) {
                            Ok(()) => {}
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => tracing::warn!(path = %file.display(), error = %crate::error::os_error(e), "could not remove a staged file"),
                        }
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

/// The error for a staged file that an interrupted run removed once it was
/// in the archive, when that part of the archive could not be kept.
fn gone(path: &str) -> Error {
    Error::Invalid(format!(
        "{path} was archived by the interrupted run and its staged copy removed, but the archive it went into could not be continued; start the export afresh (`keepsake export --no-resume`, or Discard in the app)"
    ))
}

/// Sets its flag when dropped: however the writer returns.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A pool thread: prepares entries until there are no more.
fn work(tasks: &Mutex<mpsc::Receiver<Task>>, ready: &mpsc::SyncSender<Ready>) {
    loop {
        let task = match tasks.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(task) = task else { return };
        let prepared = (task.work)();
        if ready
            .send(Ready::Entry {
                path: task.path,
                prepared,
                staged: task.staged,
                lease: task.lease,
            })
            .is_err()
        {
            return;
        }
    }
}

/// The preparation of one entry, to run on the pool.
fn prepare(source: UnitSource, spool_dir: PathBuf, path: String) -> Work {
    Box::new(move || match source {
        UnitSource::Reader(make) | UnitSource::Stream(make, _) => {
            let mut reader = make()?;
            let prepared = prepare_reader(&mut reader, None, true, &spool_dir, &path)?;
            reader.check()?;
            Ok(prepared)
        }
        UnitSource::File {
            path: src,
            compress,
        } => prepare_file(&src, compress, &spool_dir),
        UnitSource::Verified { path: src, v } => {
            Ok(Prepared::verified_file(src, v.len, v.sha256, v.crc32))
        }
        UnitSource::Memory { bytes, v, compress } => {
            if compress {
                prepare_verified_text(&bytes, v.sha256, v.crc32, &spool_dir)
            } else {
                Ok(Prepared::verified_bytes(bytes, v.sha256, v.crc32))
            }
        }
        UnitSource::Bytes(bytes) => prepare_reader(
            &mut &bytes[..],
            Some(bytes.len() as u64),
            true,
            &spool_dir,
            &path,
        ),
    })
}
