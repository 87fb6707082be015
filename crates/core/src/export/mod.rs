//! The export flow: open (or resume) a session, check the disk, fetch every
//! category and media file into a staging directory with a checkpoint
//! journal, feed finished entries to the zip writer as they complete,
//! reconcile counts, and report the outcome to the platform.
//!
//! A finished archive appears only by rename after fsync; an interrupted run
//! leaves a hidden staging directory that the next run resumes from without
//! fetching again what it already has.

mod assemble;
mod attempt;
mod checked;
mod csv;
mod fetch;
mod fetch_all;
mod formats;
mod key_field;
mod manifest;
mod media;
mod outcome;
pub mod progress;
mod report;
mod resume;
mod session;
mod shared;
mod staging;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use assemble::media_archive_path;
pub use formats::{Formats, parse_size};
pub use outcome::send_kept_reports;
pub use progress::{ExportEvent, Phase, Reporter, Silent, Throttled};
pub use report::{ArchivePart, Counts, ExportReport};
pub use session::{Prepared, PreparedCategory, discard, prepare};
pub use staging::STAGING_PREFIX;

use crate::archive::BagInfo;
use crate::client::ApiClient;
use crate::{Error, Result};
#[cfg(test)]
pub(crate) use checked::is_plain_category;
pub(crate) use checked::is_plain_export_id;
use staging::Staging;

/// The archive format version written to `manifest.json`.
pub const FORMAT_VERSION: &str = "1.2";

/// The Keepsake Export API's categories (its connector owns them).
pub use crate::connector::keepsake::CATEGORIES;

/// The name of the file index in the archive (`data/files.json`): every
/// file the records name, where it is or why it is missing. No category
/// may take it.
pub const FILES_INDEX: &str = "files";

/// The file index while it is written, in the staging folder
/// (`_files.jsonl`: no category's staging file can have this name).
const FILES_INDEX_FILE: &str = "_files";

/// Whether to continue an interrupted export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeMode {
    /// Resume when an interrupted export of the same account is staged in
    /// the destination folder; start afresh otherwise.
    Auto,
    /// Resume, or fail if there is nothing to resume.
    Require,
    /// Never resume.
    Never,
}

/// What to export, and where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The platform's API ([`crate::connector::keepsake`] for the
    /// Keepsake Export API).
    pub connector: Arc<dyn Connector>,
    /// The account to export; `None` for the signed-in account.
    pub subject_id: Option<crate::connector::AccountId>,
    /// Why (required when exporting someone else's account).
    pub reason: Option<String>,
    /// Categories; `None` for all.
    pub categories: Option<Vec<String>>,
    /// Only records created at or after this date / date-time.
    pub since: Option<String>,
    /// Only records created before this date / date-time.
    pub until: Option<String>,
    /// Destination folder.
    pub out_dir: PathBuf,
    /// Resume behaviour.
    pub resume: ResumeMode,
    /// Parallel media downloads.
    pub media_workers: usize,
    /// Memory, in bytes, that small media files may take on their way
    /// from the download into an archive written in one piece, rather than
    /// being staged on disk ([`DEFAULT_MEDIA_MEMORY`]; 0 stages them all).
    pub media_memory: u64,
    /// The most one file may be when neither its record nor the server
    /// says how large it is ([`DEFAULT_UNDECLARED_FILE_MAX`]): a server
    /// that never ends such a download is stopped there, and the file is
    /// reported missing.
    pub undeclared_file_max: u64,
    /// Forms of the data besides JSON (recorded in `manifest.json`). A
    /// resumed export keeps the formats and split size it started with.
    pub formats: Formats,
    /// Split the archive into self-contained parts of at most this many
    /// bytes each (at least [`crate::archive::MIN_PART_BYTES`]); `None` for
    /// one archive. See `docs/archive-format.md`, "Split archives".
    pub split_size: Option<u64>,
}

/// The usual [`ExportOptions::media_workers`]. Eight downloads at once
/// keep both ends busy even when each waits on the platform in turn (on
/// two cores, four left about a tenth of the export's time idle).
pub const DEFAULT_MEDIA_WORKERS: usize = 8;

/// The usual [`ExportOptions::media_memory`]: 16 MiB.
pub const DEFAULT_MEDIA_MEMORY: u64 = 16 << 20;

/// The usual [`ExportOptions::undeclared_file_max`]: 16 GiB, above the
/// upload limits of the platforms Keepsake knows (WordPress and Synapse
/// ship with a few to a few hundred megabytes).
pub const DEFAULT_UNDECLARED_FILE_MAX: u64 = 16 << 30;

/// Stops an export from outside (Ctrl-C, a Cancel button).
///
/// The first request decides how the export stops; every request is
/// counted, so that a cancelled export still reports that it was cancelled
/// unless the user asks again (see `outcome.rs`).
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicU8>, Arc<std::sync::atomic::AtomicU32>);

const RUNNING: u8 = 0;
const CANCEL_KEEP: u8 = 1;
const CANCEL_DISCARD: u8 = 2;

impl CancelFlag {
    /// Stops the export; `keep` leaves what was fetched for a later resume.
    pub fn cancel(&self, keep: bool) {
        self.1.fetch_add(1, Ordering::SeqCst);
        let _ = self.0.compare_exchange(
            RUNNING,
            if keep { CANCEL_KEEP } else { CANCEL_DISCARD },
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
    fn state(&self) -> u8 {
        self.0.load(Ordering::SeqCst)
    }
    /// How many times [`CancelFlag::cancel`] was called.
    fn requests(&self) -> u32 {
        self.1.load(Ordering::SeqCst)
    }
}

pub use crate::audit::Outcome;

/// Per-category bookkeeping of the fetch.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    /// What the platform announced, if it did.
    expected: Option<u64>,
    retrieved: u64,
    duplicates: u64,
    cursor_repeats: u64,
    /// Records whose text is not valid Unicode (lone surrogates).
    odd_text: u64,
    /// Why the platform withheld the rest, when it did.
    withheld: Option<String>,
    /// Records the category's marker marks.
    marked: u64,
}

use crate::connector::{Connector, Ending, Session};
use attempt::{Attempt, audit_entry};
use resume::ResumePlan;
use session::{Choices, StagedSession, needed_space, open_or_resume, write_private};
pub(crate) use shared::Shared;

/// Runs one export to the end and records it in `audit` whatever happens.
/// On success the archive exists and the platform has been told; on failure
/// or cancellation no archive exists and the error says what was kept.
pub async fn run(
    client: &ApiClient,
    opts: &ExportOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancelFlag,
    audit: Option<&crate::audit::AuditLog>,
) -> Result<ExportReport> {
    let started = Instant::now();
    let mut attempt = Attempt::default();
    let mut result = run_inner(client, opts, reporter.clone(), cancel.clone(), &mut attempt).await;
    // The record first, as soon as the archive is final: the platform may
    // never answer the report, and the user may stop waiting for it.
    let entry = audit_entry(client, opts, &attempt, &result, started);
    let mut unrecorded = None;
    if let Some(log) = audit
        && let Err(e) = log.append(entry.clone())
    {
        // The export itself is done; say loudly that its record is not.
        reporter.report(ExportEvent::Warning {
            message: format!("the export could not be recorded in the audit log: {e}"),
        });
        unrecorded = Some(e);
    }
    let cx = outcome::Context {
        client,
        audit,
        reporter: &*reporter,
        cancel: &cancel,
        // A cancelled export still says so unless asked again; a finished
        // one stops reporting at the first request.
        baseline: if result.is_ok() { 0 } else { cancel.requests() },
    };
    let reported = outcome::settle(&cx, attempt.due.take(), &entry).await;
    if let Ok(report) = &mut result {
        report.reported = reported;
        reporter.report(ExportEvent::Phase { phase: Phase::Done });
    }
    match (result, unrecorded) {
        (Ok(_), Some(e)) => Err(e),
        (result, _) => result,
    }
}

async fn run_inner(
    client: &ApiClient,
    opts: &ExportOptions,
    reporter: Arc<dyn Reporter>,
    cancel: CancelFlag,
    attempt: &mut Attempt,
) -> Result<ExportReport> {
    reporter.report(ExportEvent::Phase {
        phase: Phase::Opening,
    });
    // Opening may walk the platform too (WordPress reads the terms its
    // posts use): a Cancel ends it, as it ends the fetch.
    let stop = cancel.clone();
    let stoppable = client
        .clone()
        .stop_when(Arc::new(move || stop.state() != RUNNING));
    let opened = open_or_resume(&stoppable, opts, &*reporter).await;
    let (me, staging_dir, staged, resumed) = match opened {
        Ok(o) => o,
        Err((me, e)) => {
            attempt.actor = me;
            return Err(e);
        }
    };
    attempt.actor = Some(me);
    let session = staged.session.clone();
    attempt.subject = Some(session.subject.clone());
    attempt.export_id = Some(session.export_id.clone());
    attempt.reason = session.reason.clone();
    attempt.categories = session.categories.keys().cloned().collect();
    let result = fetch_and_assemble(
        client,
        opts,
        &staging_dir,
        &staged,
        resumed,
        reporter.clone(),
        cancel.clone(),
    )
    .await;
    let connector = &opts.connector;
    match result {
        Ok(report) => {
            let ending = Ending {
                status: if report.outcome == Outcome::Completed {
                    "completed"
                } else {
                    "incomplete"
                },
                counts: report
                    .counts
                    .iter()
                    .map(|(k, c)| (k.clone(), c.retrieved))
                    .collect(),
                archive: Some((report.bytes, &report.sha256)),
                error: None,
            };
            // Reported by `run`, after the audit record.
            attempt.due = connector.report(&session, &ending).map(outcome::Due::from);
            let _ = staging::remove_dir(&opts.out_dir, &staging_dir);
            Ok(report)
        }
        Err(e) => {
            if !keeps_what_was_fetched(&e, cancel.state()) {
                let status = if matches!(e, Error::Cancelled) {
                    "cancelled"
                } else {
                    "failed"
                };
                let ending = Ending {
                    status,
                    counts: BTreeMap::new(),
                    archive: None,
                    error: Some(e.code().as_str()),
                };
                attempt.due = connector.report(&session, &ending).map(outcome::Due::from);
                let _ = staging::remove_dir(&opts.out_dir, &staging_dir);
                crate::archive::remove_partial(&opts.out_dir.join(&staged.archive_name));
            }
            Err(e)
        }
    }
}

/// Whether an export that stopped with `e` (cancelled as `cancel` says)
/// keeps what it fetched for a later run to continue, rather than ending
/// the export on the platform and removing it.
fn keeps_what_was_fetched(e: &Error, cancel: u8) -> bool {
    cancel == CANCEL_KEEP
        || (matches!(
            e.class(),
            crate::Class::Retryable | crate::Class::NeedsSignIn
        ) && !matches!(e, Error::Cancelled))
        // The client gave up on a failing platform, or it named a time far
        // off: a later run resumes what was fetched.
        || matches!(e, Error::TryLater { .. })
        // So does one run once the disk that filled up while writing has
        // room again. (Found short before anything was fetched, the export
        // is ended on the platform instead.)
        || (matches!(e, Error::Io { .. }) && e.is_disk_full())
}

/// How many bytes of staged media the archive takes in between syncs, after
/// each of which the staged copies go: about an eighth of the export, so
/// that a small export frees its staging too, and at most 128 MiB.
fn sync_interval(estimated: u64) -> u64 {
    (estimated / 8).clamp(256 << 10, 128 << 20)
}

async fn fetch_and_assemble(
    client: &ApiClient,
    opts: &ExportOptions,
    staging_dir: &Path,
    staged: &StagedSession,
    resumed: bool,
    reporter: Arc<dyn Reporter>,
    cancel: CancelFlag,
) -> Result<ExportReport> {
    let session = &staged.session;
    let mut stg = Staging::open(staging_dir)?;
    // Read once: what a checkpoint written unsynced is marked with, and what
    // a replay compares such marks to.
    let boot = staging::boot_id();
    let ResumePlan {
        categories: cat_states,
        files: staged_files,
        choices: Choices {
            formats,
            split_size,
        },
    } = ResumePlan::build(&mut stg, staging_dir, staged, opts, boot.as_deref())?;
    let expected: HashMap<String, Option<u64>> = session
        .categories
        .iter()
        .map(|(k, v)| (k.clone(), v.count))
        .collect();
    let total_bytes = session::estimated_bytes(session.categories.values());
    reporter.report(ExportEvent::Preflight {
        export_id: session.export_id.clone(),
        as_of: session.as_of.clone(),
        categories: session::described(&*opts.connector, session),
        resumed,
    });
    reporter.report(ExportEvent::Phase {
        phase: Phase::Preflight,
    });
    let needed = needed_space(
        &session.categories,
        session::files_of(&*opts.connector, session),
        split_size.is_some(),
    );
    if let Ok(avail) = fs4::available_space(&opts.out_dir)
        && avail < needed
    {
        return Err(Error::DiskFull {
            path: opts.out_dir.clone(),
            needed_mb: needed >> 20,
            available_mb: avail >> 20,
        });
    }
    let final_path = opts.out_dir.join(&staged.archive_name);
    let info = BagInfo {
        source_organization: staged.platform.clone(),
        external_identifier: session.export_id.clone(),
        extra: vec![
            ("Keepsake-Subject".into(), session.subject.login.clone()),
            ("Keepsake-Actor".into(), session.actor.login.clone()),
            ("Keepsake-As-Of".into(), session.as_of.clone()),
        ],
        bagging_date: time::OffsetDateTime::now_utc(),
    };
    reporter.report(ExportEvent::Phase {
        phase: Phase::Fetching,
    });
    let split = split_size.map(|max_part_bytes| crate::archive::SplitOptions {
        max_part_bytes,
        spool_dir: staging_dir.join("spool"),
    });
    let in_memory = media::InMemory::new(opts.media_memory);
    let assemble::Started {
        jobs: zip_tx,
        thread: zip_thread,
        archived,
    } = assemble::start(
        final_path.clone(),
        info,
        formats,
        split,
        sync_interval(total_bytes),
        (Arc::clone(&reporter), cancel.clone()),
    )?;
    // A wait before a retry (which may last until the give-up time) ends
    // as soon as the export is cancelled.
    let stop = cancel.clone();
    let client = client
        .clone()
        .stop_when(Arc::new(move || stop.state() != RUNNING));
    let shared = Arc::new(Shared {
        client,
        reporter: reporter.clone(),
        connector: opts.connector.clone(),
        session: session.clone(),
        staging: Mutex::new(stg),
        staging_dir: staging_dir.to_path_buf(),
        expected,
        staged_files,
        archived,
        in_memory,
        undeclared_file_max: opts.undeclared_file_max,
        cancel,
        failed: Default::default(),
        bytes: AtomicU64::new(0),
        total_bytes,
        started: Instant::now(),
        boot,
    });

    let outcome = fetch_all::fetch_everything(
        shared.clone(),
        session,
        cat_states,
        zip_tx.clone(),
        opts.media_workers,
    )
    .await;
    let (tallies, files) = match outcome {
        Ok(x) => x,
        Err(e) => {
            shared.failed.store(true, Ordering::SeqCst);
            drop(zip_tx);
            // The archive so far stays beside the staged data: a resumed
            // run continues it (see `archive::ArchiveWriter::resume`).
            let zip_result = zip_thread.join();
            // When fetching stopped because the archive writer did, its
            // error is the one that says what went wrong.
            if let Ok(Err(zip_err)) = zip_result
                && matches!(e, Error::WriterStopped)
            {
                return Err(zip_err);
            }
            return Err(e);
        }
    };

    reporter.report(ExportEvent::Phase {
        phase: Phase::Finishing,
    });
    let descriptors = fetch_all::descriptors(&shared, session);
    let exact = shared.connector.features().exact_counts;
    let reckoning = manifest::reckon(
        &tallies,
        files.as_ref(),
        (&descriptors, &session.containers),
        exact,
    );
    let manifest = manifest::manifest(
        &shared,
        staged,
        &reckoning,
        files.as_ref(),
        &descriptors,
        (formats, split_size),
    );
    let manifest::Reckoning {
        counts,
        shortfalls,
        mut warnings,
        outcome,
        ..
    } = reckoning;
    let send = zip_tx.send(assemble::Job::Finish { manifest });
    drop(zip_tx);
    let finished = zip_thread
        .join()
        .map_err(|_| Error::Invalid("the archive writer crashed".into()))?;
    let finished = match (send, finished) {
        (Ok(()), Ok(f)) => f,
        // The archive so far stays with the staged data (the staged media
        // it holds may be gone already): whoever removes the staging folder
        // removes it too.
        (_, Err(e)) => return Err(e),
        (Err(_), Ok(_)) => return Err(Error::WriterStopped),
    };
    let (archive, sha256, bytes, parts) = assemble::summary(&finished);
    let archive_kept_bytes = finished.parts.iter().map(|p| p.kept_bytes).sum();
    warnings.extend(finished.warnings);
    Ok(ExportReport {
        categories: session::described(&*opts.connector, session),
        outcome,
        export_id: session.export_id.clone(),
        archive,
        sha256,
        bytes,
        parts,
        since: session.since.clone(),
        until: session.until.clone(),
        counts,
        shortfalls,
        warnings,
        resumed,
        archive_kept_bytes,
        subject: session.subject.login.clone(),
        actor: session.actor.login.clone(),
        as_of: session.as_of.clone(),
        reported: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_fetched_is_kept_for_a_full_disk_and_a_failing_platform() {
        let os = |code| {
            Error::io("write", "/out/a.zip.partial")(std::io::Error::from_raw_os_error(code))
        };
        // ENOSPC while writing: kept, to continue once there is room.
        assert!(keeps_what_was_fetched(&os(28), RUNNING));
        // Another file error: the export ends.
        assert!(!keeps_what_was_fetched(&os(13), RUNNING));
        // Too little space found before anything was fetched: it ends too.
        let short = Error::DiskFull {
            path: "/out".into(),
            needed_mb: 10,
            available_mb: 1,
        };
        assert!(!keeps_what_was_fetched(&short, RUNNING));
        // Cancelled: as the user chose.
        assert!(keeps_what_was_fetched(&Error::Cancelled, CANCEL_KEEP));
        assert!(!keeps_what_was_fetched(&Error::Cancelled, CANCEL_DISCARD));
        assert!(keeps_what_was_fetched(&Error::WriterStopped, CANCEL_KEEP));
    }
}
