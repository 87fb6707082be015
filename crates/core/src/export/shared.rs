//! The state every fetch task of one export shares: the client, the
//! session, the staging folder and its journal, what the archive already
//! holds, the memory budget for downloads, and the byte count behind the
//! progress display.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::progress::{ExportEvent, Reporter};
use super::staging::{self, Checkpoint, Staging};
use super::{CancelFlag, RUNNING, assemble};
use crate::client::ApiClient;
use crate::connector::{Connector, Session};
use crate::{Error, Result};

/// State shared by the fetch tasks.
pub(crate) struct Shared {
    pub(super) client: ApiClient,
    pub(super) reporter: Arc<dyn Reporter>,
    pub(super) connector: Arc<dyn Connector>,
    pub(super) session: Session,
    pub(super) staging: Mutex<Staging>,
    pub(super) staging_dir: PathBuf,
    /// Records per category, where the platform announced them.
    pub(super) expected: HashMap<String, Option<u64>>,
    /// The files an interrupted run downloaded, by key (see
    /// [`super::resume::ResumePlan`]).
    pub(super) staged_files: HashMap<String, staging::MediaFile>,
    /// What the archive already holds, once the zip thread has checked it.
    pub(super) archived: assemble::Archived,
    /// The memory downloads may hold on their way into the archive; `None`
    /// where every download is staged.
    pub(super) in_memory: Option<super::media::InMemory>,
    /// See [`super::ExportOptions::undeclared_file_max`].
    pub(super) undeclared_file_max: u64,
    pub(super) cancel: CancelFlag,
    pub(super) failed: std::sync::atomic::AtomicBool,
    pub(super) bytes: AtomicU64,
    pub(super) total_bytes: u64,
    /// This boot of the system ([`staging::boot_id`]), where the system
    /// names it: what is written unsynced is marked with it.
    pub(super) boot: Option<String>,
    pub(super) started: Instant,
}

impl Shared {
    pub(super) fn staging_file(&self, cat: &str) -> PathBuf {
        self.staging_dir.join(format!("{cat}.jsonl"))
    }
    /// Where the file of `key` is downloaded to, and where it is once
    /// verified.
    pub(super) fn media_paths(&self, key: &str) -> (PathBuf, PathBuf) {
        let m = self.staging_dir.join("media");
        let slug = staging::file_slug(key);
        (
            m.join(format!("{slug}.part")),
            m.join(format!("{slug}.bin")),
        )
    }
    /// The records the platform announced for `cat`, if it did.
    pub(super) fn expected(&self, cat: &str) -> Option<u64> {
        self.expected.get(cat).copied().flatten()
    }
    /// The file of `key` an interrupted run downloaded and verified, if
    /// it did.
    pub(super) fn staged_file(&self, key: &str) -> Option<&staging::MediaFile> {
        self.staged_files.get(key)
    }
    pub(super) fn check_cancelled(&self) -> Result<()> {
        if self.cancel.state() != RUNNING || self.failed.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }
    pub(super) fn checkpoint(&self, c: &Checkpoint) -> Result<()> {
        self.staging
            .lock()
            .map_err(|_| Error::Invalid("staging lock poisoned".into()))?
            .record(c)
    }
    pub(super) fn add_bytes(&self, n: u64) {
        let done = self.bytes.fetch_add(n, Ordering::Relaxed) + n;
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (done as f64 / secs) as u64;
        let eta_secs =
            (rate > 0 && self.total_bytes > done).then(|| (self.total_bytes - done) / rate.max(1));
        self.reporter.report(ExportEvent::Bytes {
            done,
            total: self.total_bytes.max(done),
            rate,
            eta_secs,
        });
    }
}
