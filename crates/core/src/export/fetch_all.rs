//! Fetching every category of a session, as its descriptor says: single
//! records whole, the others page by page (a few cursor chains at once, as
//! many as the connector says its platform likes), with the downloads of
//! the files their records name alongside, feeding finished categories to
//! the zip thread as they go.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{Semaphore, mpsc};

use super::progress::ExportEvent;
use super::{RUNNING, Shared, Tally, assemble, fetch, media, staging};
use crate::connector::{Category, CategoryKind, FileRef, Session};
use crate::{Error, Result};

/// The record categories still being fetched; says when there are none.
struct TextLeft(
    std::sync::atomic::AtomicUsize,
    tokio::sync::watch::Sender<bool>,
);

/// Counts a record category as done when dropped (however it ended).
struct TextCounted(Arc<TextLeft>);

impl Drop for TextCounted {
    fn drop(&mut self) {
        if self.0.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.1.send_replace(true);
        }
    }
}

/// The descriptor of every category of `session`, in the connector's
/// order (the categories it always has, then those it found as the session
/// opened): the order the manifest lists them in, for a reader to show
/// them in. A category the connector does not describe (a platform that
/// added one) is kept as plain records keyed by `id`, after the others.
pub(super) fn descriptors(shared: &Shared, session: &Session) -> Vec<Arc<Category>> {
    let order: Vec<String> = shared
        .connector
        .categories()
        .iter()
        .chain(&session.found)
        .map(|c| c.name.to_string())
        .collect();
    let mut names: Vec<&String> = session.categories.keys().collect();
    names.sort_by_key(|n| (order.iter().position(|o| o == *n).unwrap_or(usize::MAX), *n));
    names
        .into_iter()
        .map(|name| {
            Arc::new(
                shared
                    .connector
                    .category_in(session, name)
                    .unwrap_or_else(|| plain(name)),
            )
        })
        .collect()
}

/// A category known only by its name: records keyed by `id`.
fn plain(name: &str) -> Category {
    Category {
        name: name.to_owned().into(),
        label: name.to_owned().into(),
        kind: CategoryKind::Records,
        key: "/id".into(),
        order: crate::connector::Order::Unordered,
        csv: Default::default(),
        view: crate::connector::View::style("records"),
        names_files: false,
        strip: Default::default(),
        marker: None,
        container: None,
    }
}

/// The columns of `data/files.csv`.
const INDEX_CSV: &[crate::connector::Column] = &[
    crate::connector::col("key", "/key"),
    crate::connector::col("name", "/name"),
    crate::connector::col("content_type", "/content_type"),
    crate::connector::col("size", "/size"),
    crate::connector::col("sha256", "/sha256"),
    crate::connector::col("check", "/check"),
    crate::connector::col("archive_path", "/archive_path"),
    crate::connector::col("missing", "/missing"),
];

/// The file index's descriptor (`data/files.json`).
pub(super) fn files_index() -> Category {
    Category {
        name: super::FILES_INDEX.into(),
        label: "Files".into(),
        kind: CategoryKind::Records,
        key: "/key".into(),
        order: crate::connector::Order::Unordered,
        csv: std::borrow::Cow::Borrowed(INDEX_CSV),
        view: crate::connector::View::style("files_index"),
        names_files: false,
        strip: Default::default(),
        marker: None,
        container: None,
    }
}

/// Every category of the session, files alongside; finished categories
/// go to the zip thread at once.
pub(super) async fn fetch_everything(
    shared: Arc<Shared>,
    session: &Session,
    states: HashMap<String, staging::CategoryState>,
    zip: crossbeam_channel::Sender<assemble::Job>,
    media_workers: usize,
) -> Result<(BTreeMap<String, Tally>, Option<media::MediaTally>)> {
    let zip_err = || Error::WriterStopped;
    let categories = descriptors(&shared, session);
    let names_files = |c: &Category| c.names_files || c.kind == CategoryKind::Files;
    let (files_tx, files_rx) = if categories.iter().any(|c| names_files(c)) {
        let (tx, rx) = mpsc::channel::<FileRef>(256);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let walked = |c: &Category| c.kind != CategoryKind::Single;
    // Half the downloads wait for the record categories: their pages then
    // come sooner, so their entries (the costly part to compress, and what
    // a resumed run would prepare again) are in the archive early.
    let text = categories
        .iter()
        .filter(|c| walked(c) && c.kind != CategoryKind::Files)
        .count();
    let (text_done, text_rx) = tokio::sync::watch::channel(text == 0);
    let text_left = Arc::new(TextLeft(
        std::sync::atomic::AtomicUsize::new(text),
        text_done,
    ));
    let walks = Arc::new(Semaphore::new(shared.connector.parallel_walks().max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for category in categories.iter().filter(|c| walked(c)) {
        let state = states.get(&*category.name).cloned().unwrap_or_default();
        let files = files_tx.clone().filter(|_| names_files(category));
        let is_files = category.kind == CategoryKind::Files;
        // The archive takes a category's records as they arrive, except
        // those of files (which say where each file is, known only at the
        // end). A split archive's too: its parts are laid out at the end,
        // but its forms are then made and compressed while the walk and
        // the downloads go on, not after.
        let streamed = !is_files;
        let (shared, category, zip) = (shared.clone(), category.clone(), zip.clone());
        let left = (!is_files).then(|| Arc::clone(&text_left));
        let walks = Arc::clone(&walks);
        tasks.spawn(async move {
            let _counted = left.map(TextCounted);
            // Only so many walks at once; a walk's entries follow its file
            // from when it starts, so only so many readers wait on pages.
            let _permit = walks.acquire_owned().await.map_err(|_| Error::Cancelled)?;
            shared.check_cancelled()?;
            let growth = if streamed {
                let (growth, watch) = assemble::growing::Growth::new();
                zip.send(assemble::Job::Category {
                    descriptor: category.clone(),
                    jsonl: shared.staging_file(&category.name),
                    retrieved: None,
                    growing: Some(watch),
                })
                .map_err(|_| Error::WriterStopped)?;
                Some(growth)
            } else {
                None
            };
            let tally =
                fetch::category(shared.clone(), (*category).clone(), state, files, growth).await?;
            if !is_files && !streamed {
                zip.send(assemble::Job::Category {
                    descriptor: category.clone(),
                    jsonl: shared.staging_file(&category.name),
                    retrieved: None,
                    growing: None,
                })
                .map_err(|_| Error::WriterStopped)?;
            }
            Ok::<_, Error>((category.name.to_string(), tally))
        });
    }
    let downloads = files_rx.map(|rx| {
        let (shared, zip) = (shared.clone(), zip.clone());
        tokio::spawn(media::download_all(shared, rx, media_workers, zip, text_rx))
    });
    // From here on, a failure joins the others and the tasks are drained
    // below rather than dropped: a dropped task is aborted only when the
    // runtime next polls it, and the caller then blocks on the zip thread,
    // whose readers wait for those very tasks to give up their files.
    let mut errors = Vec::new();
    let mut tallies = BTreeMap::new();
    for category in categories.iter().filter(|c| !walked(c)) {
        let name = category.name.to_string();
        let progress = |fetched| ExportEvent::Category {
            name: name.clone(),
            fetched,
            expected: Some(1),
        };
        shared.reporter.report(progress(0));
        let files = files_tx.as_ref().filter(|_| names_files(category));
        let fetched = fetch::single(&shared, category, files)
            .await
            .and_then(|(bytes, odd)| {
                shared.reporter.report(progress(1));
                zip.send(assemble::Job::Bytes {
                    name: format!("{name}.json"),
                    bytes,
                })
                .map_err(|_| zip_err())?;
                Ok(odd)
            });
        match fetched {
            Ok(odd) => {
                tallies.insert(
                    name,
                    Tally {
                        expected: Some(1),
                        retrieved: 1,
                        odd_text: u64::from(odd),
                        ..Tally::default()
                    },
                );
            }
            Err(e) => {
                shared.failed.store(true, Ordering::SeqCst);
                errors.push(e);
            }
        }
    }
    // The walks hold the other senders: the downloads end with the last.
    drop(files_tx);
    while let Some(joined) = tasks.join_next().await {
        match joined.map_err(|e| Error::Invalid(format!("a fetch task failed: {e}")))? {
            Ok((cat, t)) => {
                tallies.insert(cat, t);
            }
            Err(e) => {
                // Stop the others: one failed category fails the export.
                shared.failed.store(true, Ordering::SeqCst);
                errors.push(e);
            }
        }
    }
    let media_tally = match downloads {
        Some(h) => match h
            .await
            .map_err(|e| Error::Invalid(format!("the downloads failed: {e}")))?
        {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    if errors.is_empty() && shared.cancel.state() != RUNNING {
        errors.push(Error::Cancelled);
    }
    if !errors.is_empty() {
        // The cause, not the cancellations it set off in the other tasks.
        let pick = errors
            .iter()
            .position(|e| !matches!(e, Error::Cancelled))
            .unwrap_or(0);
        return Err(errors.swap_remove(pick));
    }
    if let Some(t) = &media_tally {
        // Records of files say where each file is: known only now.
        let retrieved = Arc::new(t.archived.clone());
        for category in categories
            .iter()
            .filter(|c| c.kind == CategoryKind::Files && tallies.contains_key(&*c.name))
        {
            let (connector, session) = (Arc::clone(&shared.connector), shared.session.clone());
            let of = Arc::clone(category);
            let files = assemble::FilesOf {
                retrieved: Arc::clone(&retrieved),
                key_of: Box::new(move |record| {
                    let named = connector.files(&session, &of, record);
                    named.into_iter().next().map(|f| f.key)
                }),
            };
            zip.send(assemble::Job::Category {
                descriptor: category.clone(),
                jsonl: shared.staging_file(&category.name),
                retrieved: Some(Arc::new(files)),
                growing: None,
            })
            .map_err(|_| zip_err())?;
        }
        zip.send(assemble::Job::Category {
            descriptor: Arc::new(files_index()),
            jsonl: shared.staging_file(super::FILES_INDEX_FILE),
            retrieved: None,
            growing: None,
        })
        .map_err(|_| zip_err())?;
    }
    Ok((tallies, media_tally))
}
