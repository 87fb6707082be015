//! The zip thread of an archive in one piece. Entries are prepared (read,
//! hashed, compressed) on a pool of threads, one per core, while this
//! thread appends the prepared ones to the archive in the order the jobs
//! came: compressing text, the most expensive part of an export, no longer
//! waits for one thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};

use serde_json::Value;

use super::{Formats, Job, UnitSource, finish, stopped_early, units};
use crate::archive::{FinishedSet, PartedWriter, Prepared, prepare_file, prepare_reader};
use crate::{Error, Result};

/// Entries prepared ahead of the writer, at most: bounds the memory and
/// temporary files held by entries waiting their turn.
const AHEAD: usize = 16;

type Work = Box<dyn FnOnce() -> Result<Prepared> + Send>;

struct Task {
    work: Work,
    reply: mpsc::SyncSender<Result<Prepared>>,
}

enum Ready {
    Entry {
        path: String,
        prepared: mpsc::Receiver<Result<Prepared>>,
    },
    Finish(Value),
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

    let (task_tx, task_rx) = mpsc::channel::<Task>();
    let task_rx = Arc::new(Mutex::new(task_rx));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    for i in 0..workers {
        let tasks = Arc::clone(&task_rx);
        std::thread::Builder::new()
            .name(format!("keepsake-deflate-{i}"))
            .spawn(move || work(&tasks))
            .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;
    }

    let (ready_tx, ready_rx) = mpsc::sync_channel::<Ready>(AHEAD);
    std::thread::Builder::new()
        .name("keepsake-zip-jobs".into())
        .spawn(move || {
            for job in jobs {
                if let Job::Finish { manifest } = job {
                    let _ = ready_tx.send(Ready::Finish(manifest));
                    return;
                }
                for unit in units(job, formats) {
                    if recovered.contains(&unit.path) {
                        continue;
                    }
                    let (reply, prepared) = mpsc::sync_channel(1);
                    let work = prepare(unit.source, spool_dir.clone(), unit.path.clone());
                    if task_tx.send(Task { work, reply }).is_err()
                        || ready_tx
                            .send(Ready::Entry {
                                path: unit.path,
                                prepared,
                            })
                            .is_err()
                    {
                        return; // the writer stopped
                    }
                }
            }
        })
        .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;

    for ready in ready_rx {
        match ready {
            Ready::Entry { path, prepared } => {
                let prepared = prepared.recv().map_err(|_| {
                    Error::Invalid(format!("preparing {path} for the archive stopped unexpectedly"))
                })??;
                let Some(whole) = writer.whole_mut() else {
                    return Err(stopped_early());
                };
                whole.add_prepared(&path, prepared)?;
            }
            Ready::Finish(manifest) => return finish(writer, &manifest, formats),
        }
    }
    Err(stopped_early())
}

/// A pool thread: prepares entries until there are no more.
fn work(tasks: &Mutex<mpsc::Receiver<Task>>) {
    loop {
        let task = match tasks.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(task) = task else { return };
        let _ = task.reply.send((task.work)());
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
        UnitSource::File { path: src, compress } => prepare_file(&src, compress, &spool_dir),
        UnitSource::Bytes(bytes) => prepare_reader(
            &mut &bytes[..],
            Some(bytes.len() as u64),
            true,
            &spool_dir,
            &path,
        ),
    })
}
