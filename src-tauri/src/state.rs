//! What the app remembers while it runs: where things live, which platform,
//! the credential store, the export being prepared or run. Each method is a
//! short sequence of engine calls; commands are one line over these.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keepsake_core::audit::AuditLog;
use keepsake_core::client::{ApiClient, RetryPolicy, TokenProvider, Wait};
use keepsake_core::connector::{AccountId, Connector};
use keepsake_core::credentials::{
    CredentialStore, Credentials, KeyringStore, TokenSource, normalise_platform,
};
use keepsake_core::export::{
    self, CancelFlag, ExportOptions, Formats, Reporter, ResumeMode, Throttled,
};
use keepsake_core::{Code, Error, PlatformUrl, Secret, archive, interrupted};
use serde::{Deserialize, Serialize};

use crate::dto::{
    Account, AuditRow, AuditView, Customer, ExportRequest, ExportSummary, PlatformInfo,
    Preparation, ProgressEvent, VerifyResult,
};
use crate::error::{CmdResult, ErrorCode, IpcError};

// The archive and audit log checks.
mod checks;
// The platform and the sign-in.
mod signin;

/// The environment variable that points the app at a platform (the demo's
/// embedded reference platform); it wins over the remembered one.
pub const PLATFORM_ENV: &str = "KEEPSAKE_PLATFORM";

/// With [`PLATFORM_ENV`], the platform's kind (`wordpress`, `matrix`),
/// so that the demo need not be detected.
pub const KIND_ENV: &str = "KEEPSAKE_KIND";

/// How long the browser sign-in waits for the user.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// Counters reach the UI at most four times a second.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Parallel media downloads, as the CLI's default.
const MEDIA_WORKERS: usize = keepsake_core::export::DEFAULT_MEDIA_WORKERS;

/// Where the app keeps things on disk.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Non-secret settings shared with the CLI (`settings.json`).
    pub settings: PathBuf,
    /// The audit log directory.
    pub audit: PathBuf,
    /// Where exports go unless the user picks another folder.
    pub destination: PathBuf,
    /// The folders exports went to (`destinations.json` in the app's data
    /// directory; folder names only): where to look for interrupted
    /// exports on launch.
    pub destinations: PathBuf,
}

impl Paths {
    /// The user's own: config dir, data dir, `~/Downloads/Keepsake`.
    pub fn for_user() -> Self {
        let home = dirs::home_dir().unwrap_or_else(|| PathBuf::from("."));
        let data = AuditLog::default_dir().unwrap_or_else(|_| home.join(".keepsake"));
        Self {
            settings: dirs::config_dir()
                .unwrap_or_else(|| home.join(".config"))
                .join("keepsake")
                .join("settings.json"),
            destinations: data.join("destinations.json"),
            audit: data,
            destination: dirs::download_dir()
                .unwrap_or_else(|| home.join("Downloads"))
                .join("Keepsake"),
        }
    }
}

/// Settings remembered between runs: the same file and shape as the CLI's,
/// so both front ends talk to the same platform; the window also keeps the
/// platform's kind, found when its address was chosen.
#[derive(Default, Serialize, Deserialize)]
struct Settings {
    #[serde(default)]
    platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
}

/// The folders exports went to, most recent first.
#[derive(Default, Serialize, Deserialize)]
struct Destinations {
    #[serde(default)]
    folders: Vec<String>,
}

/// How many folders are remembered: enough for anyone's habits, few enough
/// to look into on every launch.
const REMEMBERED_DESTINATIONS: usize = 16;

/// The keyring read a launch begins with (is anyone signed in to the chosen
/// platform?), started on its own thread as the app starts, so that its
/// D-Bus round trips (a probe, then the entries) overlap WebKit's start
/// instead of following the first screen's request. Used once, by the first
/// [`AppState::who_am_i`], and only for the platform it was read for; a
/// sign-in, a sign-out or another platform drops it unread.
struct LaunchRead {
    /// The platform's keyring key (as [`normalise_platform`] writes it).
    platform: String,
    result: tokio::sync::oneshot::Receiver<LaunchCredentials>,
}

type LaunchCredentials = keepsake_core::Result<(Arc<dyn CredentialStore>, Option<Credentials>)>;

/// The app's state, managed by Tauri.
pub struct AppState {
    paths: Paths,
    /// The platform from the environment (demo mode), if any.
    env_platform: Option<String>,
    /// Its kind, from the environment too, when given.
    env_kind: Option<String>,
    /// A fixed credential store (tests); otherwise the OS keyring, opened on
    /// each use so that unlocking it later needs no restart.
    store: Option<Arc<dyn CredentialStore>>,
    running: Mutex<Option<CancelFlag>>,
    prepared: Mutex<Option<ExportRequest>>,
    /// Stops the browser sign-in that is waiting, if one is.
    signing_in: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    launch_read: Mutex<Option<LaunchRead>>,
}

impl AppState {
    /// The state of the real app.
    pub fn new() -> Self {
        let env_platform = std::env::var(PLATFORM_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        let mut state = Self::with(Paths::for_user(), env_platform, None);
        state.env_kind = std::env::var(KIND_ENV)
            .ok()
            .filter(|v| !v.trim().is_empty());
        *lock(&state.launch_read) = state.start_launch_read();
        state
    }

    /// Starts reading the keyring for the chosen platform, if there is one.
    fn start_launch_read(&self) -> Option<LaunchRead> {
        let platform = normalise_platform(&self.platform().ok()?);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let key = platform.clone();
        std::thread::Builder::new()
            .name("keyring-at-launch".into())
            .spawn(move || {
                let read = KeyringStore::new().and_then(|store| {
                    let store: Arc<dyn CredentialStore> = Arc::new(store);
                    let found = store.load(&key)?;
                    Ok((store, found))
                });
                let _ = tx.send(read);
            })
            .ok()?;
        Some(LaunchRead {
            platform,
            result: rx,
        })
    }

    /// The launch's keyring read, if it is for `platform` and not used yet.
    async fn take_launch_read(&self, platform: &str) -> Option<LaunchCredentials> {
        let read = lock(&self.launch_read)
            .take()
            .filter(|r| r.platform == platform)?;
        // A thread that could not start or died: read again the usual way.
        read.result.await.ok()
    }

    /// Drops the launch's keyring read: what it found may be out of date.
    fn forget_launch_read(&self) {
        lock(&self.launch_read).take();
    }

    /// State over explicit paths and store (tests).
    pub fn with(
        paths: Paths,
        env_platform: Option<String>,
        store: Option<Arc<dyn CredentialStore>>,
    ) -> Self {
        Self {
            paths,
            env_platform,
            env_kind: None,
            store,
            running: Mutex::new(None),
            prepared: Mutex::new(None),
            signing_in: Mutex::new(None),
            launch_read: Mutex::new(None),
        }
    }

    /// The same state with the platform's kind given, as the demo does
    /// (tests).
    pub fn with_kind(mut self, kind: &str) -> Self {
        self.env_kind = Some(kind.to_owned());
        self
    }

    fn store(&self) -> CmdResult<Arc<dyn CredentialStore>> {
        match &self.store {
            Some(s) => Ok(s.clone()),
            None => Ok(Arc::new(KeyringStore::new()?)),
        }
    }

    // -- exports ----------------------------------------------------------

    /// Where exports go by default.
    pub fn default_destination(&self) -> String {
        self.paths.destination.display().to_string()
    }

    fn options(
        req: &ExportRequest,
        connector: &Arc<dyn Connector>,
        resume: ResumeMode,
    ) -> CmdResult<ExportOptions> {
        if req.subject_id.is_some() && req.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(IpcError::new(
                ErrorCode::Invalid,
                "exporting someone else's account needs a reason; it is recorded in both audit trails",
            ));
        }
        let dest = req.destination.trim();
        if dest.is_empty() {
            return Err(IpcError::new(
                ErrorCode::Invalid,
                "choose a destination folder",
            ));
        }
        if let Some(size) = req.split_size
            && size < archive::MIN_PART_BYTES
        {
            return Err(IpcError::new(
                ErrorCode::Invalid,
                format!(
                    "parts of {size} bytes are too small: every part carries its own index and checksums; choose parts of at least {} KiB, or no split",
                    archive::MIN_PART_BYTES / 1024
                ),
            ));
        }
        Ok(ExportOptions {
            connector: connector.clone(),
            subject_id: req.subject_id.as_deref().map(AccountId::from),
            reason: req.reason.clone().filter(|r| !r.trim().is_empty()),
            categories: req.categories.clone(),
            since: req.since.clone().filter(|s| !s.is_empty()),
            until: req.until.clone().filter(|s| !s.is_empty()),
            out_dir: PathBuf::from(dest),
            resume,
            media_workers: MEDIA_WORKERS,
            media_memory: keepsake_core::export::DEFAULT_MEDIA_MEMORY,
            undeclared_file_max: keepsake_core::export::DEFAULT_UNDECLARED_FILE_MAX,
            // JSON always; CSV and the viewer unless turned off.
            formats: Formats {
                csv: req.csv.unwrap_or(true),
                viewer: req.viewer.unwrap_or(true),
            },
            split_size: req.split_size,
        })
    }

    /// Opens the export session (or finds the interrupted one) and reports
    /// counts, size and free space without fetching anything.
    pub async fn prepare(&self, req: ExportRequest) -> CmdResult<Preparation> {
        let (client, connector) = self.client().await?;
        self.discard_if_changed(&client, &connector, &req).await?;
        // Preparing stages the session there: an export that may be
        // interrupted from now on.
        self.remember_destination(&req.destination);
        let prepared =
            export::prepare(&client, &Self::options(&req, &connector, ResumeMode::Auto)?).await?;
        *lock(&self.prepared) = Some(req.clone());
        Ok(Preparation::new(prepared, req))
    }

    /// A prepared session for another request is given up first: the
    /// platform holds one running export per account. Another choice of
    /// formats or split is the same session.
    async fn discard_if_changed(
        &self,
        client: &ApiClient,
        connector: &Arc<dyn Connector>,
        req: &ExportRequest,
    ) -> CmdResult<()> {
        let previous = lock(&self.prepared).clone();
        if let Some(prev) = previous.filter(|p| !p.same_session(req)) {
            export::discard(client, &Self::options(&prev, connector, ResumeMode::Auto)?).await?;
            *lock(&self.prepared) = None;
        }
        Ok(())
    }

    /// Gives up the prepared (or interrupted) export of `req`.
    pub async fn discard(&self, req: ExportRequest) -> CmdResult<()> {
        let (client, connector) = self.client().await?;
        export::discard(&client, &Self::options(&req, &connector, ResumeMode::Auto)?).await?;
        *lock(&self.prepared) = None;
        Ok(())
    }

    /// An interrupted export the signed-in account started, on this
    /// platform, in any folder exports went to (the default one and those
    /// remembered), of its own data or a customer's: offered for resuming
    /// on launch. The most recently used folder first; one at a time.
    pub async fn pending_resume(&self) -> CmdResult<Option<Preparation>> {
        let folders = self.destinations_to_search();
        let found = blocking(move || {
            Ok(folders
                .into_iter()
                .flat_map(|f| {
                    interrupted::list(Path::new(&f))
                        .into_iter()
                        .map(move |i| (f.clone(), i))
                })
                .collect::<Vec<_>>())
        })
        .await?;
        if found.is_empty() {
            // Nothing staged: no need to ask the platform anything.
            return Ok(None);
        }
        let (client, connector) = match self.client().await {
            Ok(c) => c,
            Err(e) if e.code == ErrorCode::SignedOut => return Ok(None),
            Err(e) => return Err(e),
        };
        let me = self
            .me(
                &client.clone().with_retry(RetryPolicy::interactive()),
                &*connector,
            )
            .await?;
        let platform = client.base().to_string();
        for (folder, i) in found {
            if i.platform != platform || i.actor.id.as_str() != me.id {
                // Another platform's, or someone else's to resume.
                continue;
            }
            let on_behalf = i.subject.id.as_str() != me.id;
            let req = ExportRequest {
                destination: folder,
                subject_id: on_behalf.then(|| i.subject.id.to_string()),
                reason: if on_behalf { i.reason } else { None },
                ..ExportRequest::default()
            };
            let Ok(opts) = Self::options(&req, &connector, ResumeMode::Require) else {
                // A customer's export staged without its reason: the
                // engine could not resume it as asked.
                continue;
            };
            match export::prepare(&client, &opts).await {
                Ok(p) => {
                    *lock(&self.prepared) = Some(req.clone());
                    return Ok(Some(Preparation::new(p, req)));
                }
                // The platform ended it (the engine removed what was staged).
                Err(Error::Invalid(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// The remembered folders, most recent first, then the default one.
    fn destinations_to_search(&self) -> Vec<String> {
        let mut folders = self.remembered_destinations();
        let default = self.default_destination();
        if !folders.contains(&default) {
            folders.push(default);
        }
        folders
    }

    fn remembered_destinations(&self) -> Vec<String> {
        fs_err::read(&self.paths.destinations)
            .ok()
            .and_then(|raw| serde_json::from_slice::<Destinations>(&raw).ok())
            .map(|d| d.folders)
            .unwrap_or_default()
    }

    /// Puts `folder` first in the remembered destinations. Best effort: a
    /// list that cannot be written costs only the offer to resume from
    /// that folder, never the export.
    fn remember_destination(&self, folder: &str) {
        let folder = folder.trim();
        if folder.is_empty() {
            return;
        }
        let mut folders = self.remembered_destinations();
        folders.retain(|f| f != folder);
        folders.insert(0, folder.to_owned());
        folders.truncate(REMEMBERED_DESTINATIONS);
        let path = &self.paths.destinations;
        let written = serde_json::to_vec_pretty(&Destinations { folders })
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                if let Some(dir) = path.parent() {
                    fs_err::create_dir_all(dir)?;
                }
                fs_err::write(path, bytes)
            });
        if let Err(e) = written {
            log::warn!("could not remember the export folder: {e}");
        }
    }

    /// Runs the export to the end, sending progress to `send`; one at a time.
    pub async fn run_export(
        &self,
        req: ExportRequest,
        send: impl Fn(ProgressEvent) + Send + Sync + 'static,
    ) -> CmdResult<ExportSummary> {
        let cancel = CancelFlag::default();
        {
            let mut running = lock(&self.running);
            if running.is_some() {
                return Err(IpcError::new(
                    ErrorCode::ExportRunning,
                    "an export is already running in this window; wait for it or cancel it",
                ));
            }
            *running = Some(cancel.clone());
        }
        let result = self.run_export_inner(req, send, cancel).await;
        *lock(&self.running) = None;
        result
    }

    async fn run_export_inner(
        &self,
        req: ExportRequest,
        send: impl Fn(ProgressEvent) + Send + Sync + 'static,
        cancel: CancelFlag,
    ) -> CmdResult<ExportSummary> {
        let send: Arc<dyn Fn(ProgressEvent) + Send + Sync> = Arc::new(send);
        let waits = send.clone();
        let (client, connector) = self.client().await?;
        let client = client.on_wait(Arc::new(move |w: &Wait<'_>| {
            let (d, e) = (w.delay, w.error);
            let reason = match e.code() {
                Code::RateLimited => "The platform asked Keepsake to slow down",
                Code::Network => "The connection to the platform broke",
                _ => "The platform is busy",
            };
            let secs = d.as_secs().max(1);
            waits(ProgressEvent::Waiting {
                reason: reason.into(),
                secs,
                until_ms: crate::dto::now_ms() + d.as_millis() as u64,
                give_up_ms: w
                    .give_up_at
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()
                    .map(|t| t.as_millis() as u64),
            });
        }));
        self.discard_if_changed(&client, &connector, &req).await?;
        let opts = Self::options(&req, &connector, ResumeMode::Auto)?;
        self.remember_destination(&req.destination);
        let log = AuditLog::open(&self.paths.audit)?;
        let reporter: Arc<dyn Reporter> = Arc::new(Throttled::new(ToUi(send), PROGRESS_INTERVAL));
        let result = export::run(&client, &opts, reporter, cancel, Some(&log)).await;
        *lock(&self.prepared) = None;
        Ok(result?.into())
    }

    /// Stops the running export; `keep` leaves what was fetched to resume.
    pub fn cancel(&self, keep: bool) -> bool {
        match &*lock(&self.running) {
            Some(flag) => {
                flag.cancel(keep);
                true
            }
            None => false,
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}

/// Engine progress to the UI's event shape.
struct ToUi(Arc<dyn Fn(ProgressEvent) + Send + Sync>);

impl Reporter for ToUi {
    fn report(&self, event: export::ExportEvent) {
        (self.0)(event.into());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keyring, archive and audit calls may block: keep them off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> keepsake_core::Result<T> + Send + 'static,
) -> keepsake_core::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Invalid(format!("a background task failed: {e}")))?
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
