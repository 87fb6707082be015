//! Fetching every category at once (each cursor chain in order) with the
//! media downloads alongside, feeding finished categories to the zip
//! thread; the profile, a single record, is fetched here too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use tokio::sync::mpsc;

use super::progress::ExportEvent;
use super::{RUNNING, Shared, Tally, assemble, fetch, media, staging};
use crate::connector::Session;
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

/// Every category concurrently (each cursor chain in order), media
/// downloads alongside; finished categories go to the zip thread at once.
pub(super) async fn fetch_everything(
    shared: Arc<Shared>,
    session: &Session,
    states: HashMap<String, staging::CategoryState>,
    zip: std::sync::mpsc::Sender<assemble::Job>,
    media_workers: usize,
    stream_text: bool,
) -> Result<(BTreeMap<String, Tally>, media::MediaTally)> {
    let zip_err = || Error::WriterStopped;
    // A category's CSV columns are the connector's to say.
    let connector = shared.connector.clone();
    let csv_of = move |cat: &str| connector.category(cat).map_or(&[][..], |d| d.csv);
    let mut tasks = tokio::task::JoinSet::new();
    let mut media_rx = None;
    // Half the downloads wait for the record categories: their pages then
    // come sooner, so their entries (the costly part to compress, and what
    // a resumed run would prepare again) are in the archive early.
    let text = session
        .categories
        .keys()
        .filter(|c| *c != "profile" && *c != "media")
        .count();
    let (text_done, text_rx) = tokio::sync::watch::channel(text == 0);
    let text_left = Arc::new(TextLeft(
        std::sync::atomic::AtomicUsize::new(text),
        text_done,
    ));
    for cat in session.categories.keys() {
        if cat == "profile" {
            continue;
        }
        let state = states.get(cat).cloned().unwrap_or_default();
        let csv = csv_of(cat);
        let media_tx = if cat == "media" {
            let (tx, rx) = mpsc::channel::<Value>(256);
            media_rx = Some(rx);
            Some(tx)
        } else {
            None
        };
        // The archive takes a category's records as they arrive, except
        // media's (which name the files retrieved, known only at the end)
        // and a split archive's (laid out at the end anyway).
        let growth = if cat != "media" && stream_text {
            let (growth, watch) = assemble::growing::Growth::new();
            zip.send(assemble::Job::Category {
                name: cat.clone(),
                jsonl: shared.staging_file(cat),
                media: None,
                growing: Some(watch),
                csv,
            })
            .map_err(|_| zip_err())?;
            Some(growth)
        } else {
            None
        };
        let streamed = growth.is_some();
        let (shared, cat, zip) = (shared.clone(), cat.clone(), zip.clone());
        let left = (cat != "media").then(|| Arc::clone(&text_left));
        tasks.spawn(async move {
            let _counted = left.map(TextCounted);
            let tally =
                fetch::category(shared.clone(), cat.clone(), state, media_tx, growth).await?;
            if cat != "media" && !streamed {
                zip.send(assemble::Job::Category {
                    name: cat.clone(),
                    jsonl: shared.staging_file(&cat),
                    media: None,
                    growing: None,
                    csv,
                })
                .map_err(|_| Error::WriterStopped)?;
            }
            Ok::<_, Error>((cat, tally))
        });
    }
    let downloads = media_rx.map(|rx| {
        let (shared, zip) = (shared.clone(), zip.clone());
        tokio::spawn(media::download_all(shared, rx, media_workers, zip, text_rx))
    });
    // From here on, a failure joins the others and the tasks are drained
    // below rather than dropped: a dropped task is aborted only when the
    // runtime next polls it, and the caller then blocks on the zip thread,
    // whose readers wait for those very tasks to give up their files.
    let mut errors = Vec::new();
    let mut profile_odd_text = 0;
    if session.categories.contains_key("profile") {
        let profile_progress = |fetched| ExportEvent::Category {
            name: "profile".into(),
            fetched,
            expected: 1,
        };
        shared.reporter.report(profile_progress(0));
        let fetched = fetch::profile(&shared).await.and_then(|(bytes, odd)| {
            shared.reporter.report(profile_progress(1));
            zip.send(assemble::Job::Bytes {
                name: "profile.json".into(),
                bytes,
            })
            .map_err(|_| zip_err())?;
            Ok(odd)
        });
        match fetched {
            Ok(odd) => profile_odd_text = u64::from(odd),
            Err(e) => {
                shared.failed.store(true, Ordering::SeqCst);
                errors.push(e);
            }
        }
    }
    let mut tallies = BTreeMap::new();
    if session.categories.contains_key("profile") {
        tallies.insert(
            "profile".to_owned(),
            Tally {
                expected: 1,
                retrieved: 1,
                odd_text: profile_odd_text,
                ..Tally::default()
            },
        );
    }
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
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                media::MediaTally::default()
            }
        },
        None => media::MediaTally::default(),
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
    if tallies.contains_key("media") {
        zip.send(assemble::Job::Category {
            name: "media".into(),
            jsonl: shared.staging_file("media"),
            // The journal, not the staging folder: a staged file may be gone
            // already, once it is safely in the archive.
            media: Some(Arc::new(shared.media_retrieved())),
            growing: None,
            csv: csv_of("media"),
        })
        .map_err(|_| zip_err())?;
    }
    Ok((tallies, media_tally))
}
