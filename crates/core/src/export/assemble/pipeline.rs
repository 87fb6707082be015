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

use super::{Formats, Job, UnitSource, finish, stopped_early, units};
use crate::archive::{FinishedSet, PartedWriter, Prepared, prepare_file, prepare_reader};
use crate::{Error, Result};

/// Prepared entries waiting for the writer, at most: bounds the memory and
/// temporary files they hold (the pool waits when the writer falls behind).
const AHEAD: usize = 16;

type Work = Box<dyn FnOnce() -> Result<Prepared> + Send>;

struct Task {
    path: String,
    work: Work,
}

enum Ready {
    Entry {
        path: String,
        prepared: Result<Prepared>,
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
) -> Result<FinishedSet> {
    let Some(whole) = writer.whole_mut() else {
        return Err(Error::Invalid(
            "internal error: a split archive went to the parallel writer".into(),
        ));
    };
    let spool_dir = whole.spool_dir().to_owned();
    let recovered = whole.recovered_payload();

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
                    if recovered.contains(&unit.path) {
                        continue;
                    }
                    entries += 1;
                    let sent = match unit.source {
                        // Nothing to prepare: straight to the writer.
                        UnitSource::Verified { path, v } => ready_tx
                            .send(Ready::Entry {
                                path: unit.path,
                                prepared: Ok(Prepared::verified_file(
                                    path, v.len, v.sha256, v.crc32,
                                )),
                            })
                            .is_ok(),
                        source => task_tx
                            .send(Task {
                                work: prepare(source, spool_dir.clone(), unit.path.clone()),
                                path: unit.path,
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
    loop {
        if let Some((manifest, entries)) = &last
            && written == *entries
        {
            return finish(writer, manifest, formats);
        }
        let Ok(ready) = ready_rx.recv() else {
            return Err(stopped_early());
        };
        match ready {
            Ready::Entry { path, prepared } => {
                let Some(whole) = writer.whole_mut() else {
                    return Err(stopped_early());
                };
                whole.add_prepared(&path, prepared?)?;
                written += 1;
            }
            Ready::Finish { manifest, entries } => last = Some((manifest, entries)),
        }
    }
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
        UnitSource::Reader(make) => {
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
        UnitSource::Bytes(bytes) => prepare_reader(
            &mut &bytes[..],
            Some(bytes.len() as u64),
            true,
            &spool_dir,
            &path,
        ),
    })
}
