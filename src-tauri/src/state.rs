//! What the app remembers while it runs: where things live, which platform,
//! the credential store, the export being prepared or run. Each method is a
//! short sequence of engine calls; commands are one line over these.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keepsake_core::audit::AuditLog;
use keepsake_core::client::{ApiClient, RetryPolicy, StaticToken, TokenProvider, Wait};
use keepsake_core::connector::Connector;
use keepsake_core::credentials::{
    CredentialStore, Credentials, KeyringStore, TokenSource, normalise_platform,
};
use keepsake_core::export::{
    self, CancelFlag, ExportOptions, Formats, Reporter, ResumeMode, Throttled,
};
use keepsake_core::{Error, PlatformUrl, Secret, archive, interrupted, oauth};
use serde::{Deserialize, Serialize};

use crate::dto::{
    Account, AuditRow, AuditView, Customer, ExportRequest, ExportSummary, PlatformInfo,
    Preparation, ProgressEvent, VerifyResult,
};
use crate::error::{CmdResult, ErrorCode, IpcError};

// The archive and audit log checks.
mod checks;

/// The environment variable that points the app at a platform (the demo's
/// embedded reference platform); it wins over the remembered one.
pub const PLATFORM_ENV: &str = "KEEPSAKE_PLATFORM";

/// How long the browser sign-in waits for the user.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// Counters reach the UI at most four times a second.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Parallel media downloads, as the CLI's default.
const MEDIA_WORKERS: usize = keepsake_core::export::DEFAULT_MEDIA_WORKERS;

/// Someone is waiting on these answers (signing in, who am I, a lookup):
/// a few quick tries, then say so, rather than the export's patient policy.
fn interactive() -> RetryPolicy {
    RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
        // A platform asking for a longer wait is told to the user at once.
        max_retry_after: Duration::from_secs(10),
        give_up_after: Duration::from_secs(30),
    }
}

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
/// so both front ends talk to the same platform.
#[derive(Default, Serialize, Deserialize)]
struct Settings {
    #[serde(default)]
    platform: Option<String>,
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
        let state = Self::with(Paths::for_user(), env_platform, None);
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
            store,
            running: Mutex::new(None),
            prepared: Mutex::new(None),
            signing_in: Mutex::new(None),
            launch_read: Mutex::new(None),
        }
    }

    fn store(&self) -> CmdResult<Arc<dyn CredentialStore>> {
        match &self.store {
            Some(s) => Ok(s.clone()),
            None => Ok(Arc::new(KeyringStore::new()?)),
        }
    }

    // -- platform ---------------------------------------------------------

    fn remembered_platform(&self) -> Option<String> {
        let raw = fs_err::read(&self.paths.settings).ok()?;
        serde_json::from_slice::<Settings>(&raw).ok()?.platform
    }

    /// The chosen platform, if any.
    pub fn platform_info(&self) -> PlatformInfo {
        match &self.env_platform {
            Some(url) => PlatformInfo {
                url: Some(url.clone()),
                demo: true,
            },
            None => PlatformInfo {
                url: self.remembered_platform(),
                demo: false,
            },
        }
    }

    fn platform(&self) -> CmdResult<PlatformUrl> {
        let url = self.platform_info().url.ok_or_else(|| {
            IpcError::new(
                ErrorCode::Invalid,
                "choose the platform to sign in to first",
            )
        })?;
        Ok(PlatformUrl::parse(&url).map_err(Error::from)?)
    }

    /// Checks and remembers `url`.
    pub fn set_platform(&self, url: &str) -> CmdResult<PlatformInfo> {
        self.forget_launch_read();
        let parsed = PlatformUrl::parse(url.trim()).map_err(Error::from)?;
        let settings = Settings {
            platform: Some(normalise_platform(&parsed)),
        };
        let bytes = serde_json::to_vec_pretty(&settings)
            .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
        if let Some(dir) = self.paths.settings.parent() {
            fs_err::create_dir_all(dir).map_err(Error::io("create", dir))?;
        }
        fs_err::write(&self.paths.settings, bytes)
            .map_err(Error::io("write", &self.paths.settings))?;
        Ok(PlatformInfo {
            url: settings.platform,
            demo: false,
        }
        .or_env(&self.env_platform))
    }

    // -- signing in -------------------------------------------------------

    /// Signs in with a personal access token: checked against the platform
    /// before it is stored in the keyring; never sent back.
    pub async fn sign_in_with_token(&self, token: String) -> CmdResult<Account> {
        let token = Secret::new(token.trim());
        if token.expose().is_empty() {
            return Err(IpcError::new(
                ErrorCode::Invalid,
                "paste an access token first",
            ));
        }
        let platform = self.platform()?;
        self.keep(Credentials::from_pat(&platform, token), &platform)
            .await
    }

    /// Signs in through the system browser; `open` launches it.
    pub async fn sign_in_with_browser(
        &self,
        support: bool,
        open: impl FnOnce(&url::Url) -> std::io::Result<()>,
    ) -> CmdResult<Account> {
        let platform = self.platform()?;
        let scopes = connector().scopes(support);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        *lock(&self.signing_in) = Some(stop);
        // Dropping the sign-in stops it: the loopback listener closes.
        let creds = tokio::select! {
            creds = oauth::login_with_browser(&platform, scopes, open, SIGN_IN_TIMEOUT) => creds,
            Ok(()) = stopped => {
                return Err(IpcError::new(ErrorCode::Cancelled, "sign-in cancelled"));
            }
        };
        lock(&self.signing_in).take();
        self.keep(creds?, &platform).await
    }

    /// Stops a browser sign-in that is waiting for the browser; whether one
    /// was.
    pub fn cancel_sign_in(&self) -> bool {
        lock(&self.signing_in)
            .take()
            .is_some_and(|stop| stop.send(()).is_ok())
    }

    /// Checks new credentials with `/me`, then stores them.
    async fn keep(&self, creds: Credentials, platform: &PlatformUrl) -> CmdResult<Account> {
        self.forget_launch_read();
        let tokens = Arc::new(StaticToken::new(creds.access_token.clone(), platform));
        let client = ApiClient::new(platform, tokens)?.with_retry(interactive());
        let account = me(&client, platform).await?;
        let store = self.store()?;
        blocking(move || store.save(&creds)).await?;
        Ok(account)
    }

    async fn client(&self) -> CmdResult<ApiClient> {
        let platform = self.platform()?;
        let source = TokenSource::load(self.store()?, &normalise_platform(&platform)).await?;
        let tokens: Arc<dyn TokenProvider> = Arc::new(source);
        Ok(ApiClient::new(&platform, tokens)?)
    }

    /// [`client`](Self::client), from the launch's keyring read if it is
    /// still there.
    async fn client_at_launch(&self, platform: &PlatformUrl) -> CmdResult<ApiClient> {
        let key = normalise_platform(platform);
        let Some(read) = self.take_launch_read(&key).await else {
            return self.client().await;
        };
        let (store, found) = read?;
        let credentials = found.ok_or(Error::NotSignedIn { platform: key })?;
        let tokens: Arc<dyn TokenProvider> = Arc::new(TokenSource::new(store, credentials));
        Ok(ApiClient::new(platform, tokens)?)
    }

    /// Who is signed in; `None` when nobody is.
    pub async fn who_am_i(&self) -> CmdResult<Option<Account>> {
        let platform = match self.platform() {
            Ok(p) => p,
            Err(_) => return Ok(None),
        };
        let client = match self.client_at_launch(&platform).await {
            Ok(c) => c.with_retry(interactive()),
            Err(e) if e.code == ErrorCode::SignedOut => return Ok(None),
            Err(e) => return Err(e),
        };
        match me(&client, &platform).await {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.code == ErrorCode::SignedOut => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Revokes and forgets the sign-in.
    pub async fn sign_out(&self) -> CmdResult<()> {
        self.forget_launch_read();
        let platform = self.platform()?;
        let key = normalise_platform(&platform);
        let store = self.store()?;
        let load = store.clone();
        let k = key.clone();
        if let Some(c) = blocking(move || load.load(&k)).await? {
            // Best effort: a platform that cannot be reached must not keep
            // the user signed in here.
            if let Some(r) = &c.refresh_token {
                let _ = oauth::revoke(&key, r).await;
            }
            let _ = oauth::revoke(&key, &c.access_token).await;
        }
        blocking(move || store.delete(&key)).await?;
        Ok(())
    }

    /// Looks a customer up by login (support staff).
    pub async fn find_customer(&self, login: &str) -> CmdResult<Customer> {
        let login = login.trim();
        let client = self.client().await?.with_retry(interactive());
        let user = connector()
            .find_account(&client, login)
            .await?
            .ok_or_else(|| {
                IpcError::new(
                    ErrorCode::Invalid,
                    format!("no account with the login '{login}'"),
                )
            })?;
        Ok(Customer {
            id: user.id,
            login: user.login,
            display_name: user.display_name.unwrap_or_default(),
        })
    }

    // -- exports ----------------------------------------------------------

    /// Where exports go by default.
    pub fn default_destination(&self) -> String {
        self.paths.destination.display().to_string()
    }

    fn options(req: &ExportRequest, resume: ResumeMode) -> CmdResult<ExportOptions> {
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
            connector: connector(),
            subject_id: req.subject_id,
            reason: req.reason.clone().filter(|r| !r.trim().is_empty()),
            categories: req.categories.clone(),
            since: req.since.clone().filter(|s| !s.is_empty()),
            until: req.until.clone().filter(|s| !s.is_empty()),
            out_dir: PathBuf::from(dest),
            resume,
            media_workers: MEDIA_WORKERS,
            media_memory: keepsake_core::export::DEFAULT_MEDIA_MEMORY,
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
        let client = self.client().await?;
        self.discard_if_changed(&client, &req).await?;
        // Preparing stages the session there: an export that may be
        // interrupted from now on.
        self.remember_destination(&req.destination);
        let prepared = export::prepare(&client, &Self::options(&req, ResumeMode::Auto)?).await?;
        *lock(&self.prepared) = Some(req.clone());
        Ok(Preparation::new(prepared, req))
    }

    /// A prepared session for another request is given up first: the
    /// platform holds one running export per account. Another choice of
    /// formats or split is the same session.
    async fn discard_if_changed(&self, client: &ApiClient, req: &ExportRequest) -> CmdResult<()> {
        let previous = lock(&self.prepared).clone();
        if let Some(prev) = previous.filter(|p| !p.same_session(req)) {
            export::discard(client, &Self::options(&prev, ResumeMode::Auto)?).await?;
            *lock(&self.prepared) = None;
        }
        Ok(())
    }

    /// Gives up the prepared (or interrupted) export of `req`.
    pub async fn discard(&self, req: ExportRequest) -> CmdResult<()> {
        let client = self.client().await?;
        export::discard(&client, &Self::options(&req, ResumeMode::Auto)?).await?;
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
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) if e.code == ErrorCode::SignedOut => return Ok(None),
            Err(e) => return Err(e),
        };
        let me = me(&client.clone().with_retry(interactive()), &self.platform()?).await?;
        let platform = client.base().to_string();
        for (folder, i) in found {
            if i.platform != platform || i.actor.id != me.id {
                // Another platform's, or someone else's to resume.
                continue;
            }
            let on_behalf = i.subject.id != me.id;
            let req = ExportRequest {
                destination: folder,
                subject_id: on_behalf.then_some(i.subject.id),
                reason: if on_behalf { i.reason } else { None },
                ..ExportRequest::default()
            };
            let Ok(opts) = Self::options(&req, ResumeMode::Require) else {
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
        let client = self.client().await?.on_wait(Arc::new(move |w: &Wait<'_>| {
            let (d, e) = (w.delay, w.error);
            let reason = match e.code() {
                "rate_limited" => "The platform asked Keepsake to slow down",
                "network" => "The connection to the platform broke",
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
        self.discard_if_changed(&client, &req).await?;
        let opts = Self::options(&req, ResumeMode::Auto)?;
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

impl PlatformInfo {
    /// The environment's platform still wins (demo mode).
    fn or_env(self, env: &Option<String>) -> Self {
        match env {
            Some(url) => PlatformInfo {
                url: Some(url.clone()),
                demo: true,
            },
            None => self,
        }
    }
}

/// The signed-in account, as the connector says, for the window.
async fn me(client: &ApiClient, platform: &PlatformUrl) -> CmdResult<Account> {
    let c = connector();
    let me = c.whoami(client).await?;
    Ok(Account {
        id: me.id,
        login: me.login,
        display_name: me.display_name.unwrap_or_default(),
        role: if me.support { "support" } else { "user" }.to_owned(),
        // What this sign-in may do, in the platform's terms.
        scopes: c
            .scopes(me.support)
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        support: me.support,
        platform: normalise_platform(platform),
    })
}

/// The platform's connector: the Keepsake Export API, the one connector
/// so far (detection will choose among several).
fn connector() -> Arc<dyn Connector> {
    keepsake_core::connector::keepsake()
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
