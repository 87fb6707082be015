//! Where sign-ins are kept, and how an expired access token is replaced.
//!
//! Tokens live in the OS keyring ([`KeyringStore`]): macOS Keychain, Windows
//! Credential Manager, or the Secret Service (GNOME Keyring, KWallet) on
//! Linux. If no keyring works, Keepsake stops and says how to fix it; it never
//! falls back silently to memory or to a file. The only file store,
//! [`InsecureFileStore`], is an explicit opt-in (`--insecure-token-file PATH`)
//! for machines that have no keyring at all.
//!
//! [`TokenSource`] hands out the current access token and refreshes it after a
//! `401`, one refresh at a time, storing the rotated refresh token before the
//! new access token is used (docs/api.md §3.4).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyring::credential::{CredentialBuilder, CredentialPersistence};
use serde::{Deserialize, Serialize};

use crate::{Error, PlatformUrl, Result, Secret};

/// How a token was obtained, which decides what happens when it stops working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A personal access token: no refresh; a `401` is final.
    Pat,
    /// An OAuth access token with (usually) a refresh token.
    #[serde(rename = "oauth")]
    OAuth,
}

/// One platform sign-in. `Debug` shows no token ([`Secret`] prints
/// `[redacted]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The platform base URL, as [`normalise_platform`] writes it.
    pub platform: String,
    /// The bearer token sent on every API request.
    pub access_token: Secret,
    /// The OAuth refresh token (single use: rotated by every refresh).
    pub refresh_token: Option<Secret>,
    /// When the access token expires (Unix seconds), if known.
    pub expires_at: Option<i64>,
    /// OAuth or personal access token.
    pub kind: TokenKind,
    /// The granted scopes, space-separated, if known.
    pub scope: Option<String>,
    /// The kind of the platform's API ([`crate::connector::Connector::kind`]),
    /// as found when signing in; `None` in sign-ins stored by older
    /// versions, which all speak the Keepsake Export API.
    pub connector: Option<String>,
}

impl Credentials {
    /// A sign-in with a personal access token (`keepsake login --token-stdin`).
    pub fn from_pat(platform: &PlatformUrl, token: Secret) -> Self {
        Self {
            platform: normalise_platform(platform),
            access_token: token,
            refresh_token: None,
            expires_at: None,
            kind: TokenKind::Pat,
            scope: None,
            connector: None,
        }
    }

    /// True when the access token expires within `margin_secs` of `now`
    /// (Unix seconds). Unknown expiry counts as not expiring.
    pub fn expires_within(&self, now: i64, margin_secs: i64) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.saturating_add(margin_secs))
    }
}

/// The canonical form of a platform URL, used as the key of its sign-in:
/// `scheme://host[:port]` plus the path without a trailing slash; no query,
/// no fragment, default ports dropped, host in lower case.
pub fn normalise_platform(url: &PlatformUrl) -> String {
    let u = url.as_url();
    let mut out = format!("{}://{}", u.scheme(), u.host_str().unwrap_or_default());
    if let Some(port) = u.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(u.path().trim_end_matches('/'));
    out
}

/// Somewhere sign-ins are kept, one per platform (keyed by the normalised
/// platform URL). Calls may block (a keyring may wait on D-Bus or show an
/// unlock prompt): call them from a blocking context, as [`TokenSource`] does.
pub trait CredentialStore: Send + Sync {
    /// The sign-in for `platform`, if there is one.
    fn load(&self, platform: &str) -> Result<Option<Credentials>>;
    /// Stores `c`, replacing any earlier sign-in for `c.platform`.
    fn save(&self, c: &Credentials) -> Result<()>;
    /// Forgets the sign-in for `platform`; no error if there was none.
    fn delete(&self, platform: &str) -> Result<()>;
}

/// Everything but the tokens, as stored next to them.
#[derive(Serialize, Deserialize)]
struct Meta {
    kind: TokenKind,
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connector: Option<String>,
}

/// The OS keyring.
///
/// Each sign-in is kept as three entries of the service `keepsake`, with the
/// user names `{platform}#access`, `{platform}#refresh` and `{platform}#meta`
/// (kind, expiry, scope as JSON). They are separate because Windows Credential
/// Manager caps one secret at 2560 bytes (`CRED_MAX_CREDENTIAL_BLOB_SIZE`),
/// and keyring stores text there as UTF-16, so about 1280 characters: two
/// tokens and their metadata in one entry would not fit for platforms with
/// long (e.g. JWT) tokens. `#meta` is written last and deleted first, so a
/// sign-in that is half written or half deleted reads as no sign-in.
pub struct KeyringStore {
    builder: Box<CredentialBuilder>,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("builder", &self.builder)
            .finish()
    }
}

const ACCESS: &str = "access";
const REFRESH: &str = "refresh";
const META: &str = "meta";

impl KeyringStore {
    /// The keyring service name of every entry.
    pub const SERVICE: &'static str = "keepsake";

    /// The platform's keyring, checked to work.
    ///
    /// Fails closed with [`Error::Keyring`] when this build has no persistent
    /// keyring backend, or when the keyring does not answer (no D-Bus session
    /// bus, no Secret Service, locked keychain); the message says what to do.
    pub fn new() -> Result<Self> {
        Self::with_builder(keyring::default::default_credential_builder())
    }

    /// A keyring store over a specific keyring backend, checked like [`new`](Self::new):
    /// a backend that keeps credentials only in memory is refused.
    pub fn with_builder(builder: Box<CredentialBuilder>) -> Result<Self> {
        if matches!(
            builder.persistence(),
            CredentialPersistence::EntryOnly | CredentialPersistence::ProcessOnly
        ) {
            return Err(Error::Keyring {
                detail: "this build of Keepsake has no real keyring backend (it would keep tokens \
                         in memory only and lose them on exit); use a build for your system"
                    .into(),
            });
        }
        let store = Self { builder };
        store.probe()?;
        Ok(store)
    }

    /// Reads an entry that does not exist: "no entry" proves the keyring
    /// answers; anything else is the reason it does not.
    fn probe(&self) -> Result<()> {
        match self.entry("keepsake", "probe")?.get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error("cannot open the keyring", e)),
        }
    }

    fn entry(&self, platform: &str, part: &str) -> Result<keyring::Entry> {
        let user = format!("{platform}#{part}");
        let credential = self
            .builder
            .build(None, Self::SERVICE, &user)
            .map_err(|e| keyring_error("cannot address the keyring entry", e))?;
        Ok(keyring::Entry::new_with_credential(credential))
    }

    fn get(&self, platform: &str, part: &str) -> Result<Option<String>> {
        match self.entry(platform, part)?.get_password() {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(&format!("cannot read {platform}#{part}"), e)),
        }
    }

    fn set(&self, platform: &str, part: &str, value: &str) -> Result<()> {
        self.entry(platform, part)?
            .set_password(value)
            .map_err(|e| keyring_error(&format!("cannot store {platform}#{part}"), e))
    }

    fn remove(&self, platform: &str, part: &str) -> Result<()> {
        match self.entry(platform, part)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(
                &format!("cannot delete {platform}#{part}"),
                e,
            )),
        }
    }
}

impl CredentialStore for KeyringStore {
    fn load(&self, platform: &str) -> Result<Option<Credentials>> {
        let Some(meta) = self.get(platform, META)? else {
            return Ok(None);
        };
        let meta: Meta = serde_json::from_str(&meta).map_err(|e| Error::Keyring {
            detail: format!(
                "the stored sign-in for {platform} is damaged ({e}); run `keepsake logout` and sign in again"
            ),
        })?;
        let Some(access) = self.get(platform, ACCESS)? else {
            return Ok(None);
        };
        let refresh = self.get(platform, REFRESH)?;
        Ok(Some(Credentials {
            platform: platform.to_owned(),
            access_token: Secret::new(access),
            refresh_token: refresh.map(Secret::new),
            expires_at: meta.expires_at,
            kind: meta.kind,
            scope: meta.scope,
            connector: meta.connector,
        }))
    }

    fn save(&self, c: &Credentials) -> Result<()> {
        // The refresh token first: after a rotation the old one is already
        // dead, and the old access token stays usable until it expires.
        match &c.refresh_token {
            Some(r) => self.set(&c.platform, REFRESH, r.expose())?,
            None => self.remove(&c.platform, REFRESH)?,
        }
        self.set(&c.platform, ACCESS, c.access_token.expose())?;
        let meta = Meta {
            kind: c.kind,
            expires_at: c.expires_at,
            scope: c.scope.clone(),
            connector: c.connector.clone(),
        };
        let meta = serde_json::to_string(&meta).map_err(|e| Error::Keyring {
            detail: format!("cannot encode the sign-in metadata: {e}"),
        })?;
        self.set(&c.platform, META, &meta)
    }

    fn delete(&self, platform: &str) -> Result<()> {
        // Meta first: from then on the sign-in is gone even if a later
        // deletion fails.
        let results = [META, ACCESS, REFRESH].map(|part| self.remove(platform, part));
        results.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
    }
}

/// What the user can do about a keyring that does not answer, per platform.
fn keyring_hint() -> String {
    if cfg!(target_os = "macos") {
        "unlock the login keychain (Keychain Access) and allow Keepsake to use it".into()
    } else if cfg!(windows) {
        "Windows Credential Manager refused the request; sign in to Windows with a user profile \
         that has Credential Manager"
            .into()
    } else if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|v| v.is_empty()) {
        "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset): sign in to a desktop session, \
         or on a headless machine run Keepsake inside `dbus-run-session` after \
         `gnome-keyring-daemon --unlock`, or pass --insecure-token-file PATH"
            .into()
    } else {
        "no working Secret Service on the D-Bus session bus: unlock GNOME Keyring or KWallet, or \
         on a headless machine run Keepsake inside `dbus-run-session` after \
         `gnome-keyring-daemon --unlock`, or pass --insecure-token-file PATH"
            .into()
    }
}

fn keyring_error(action: &str, e: keyring::Error) -> Error {
    let detail = match &e {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            format!("{action}: {e}; {}", keyring_hint())
        }
        keyring::Error::TooLong(..) => {
            format!("{action}: {e}; the token is too long for this keyring")
        }
        keyring::Error::Ambiguous(_) => format!(
            "{action}: {e}; remove the duplicate `{}` entries with your keyring manager and sign in again",
            KeyringStore::SERVICE
        ),
        _ => format!("{action}: {e}"),
    };
    Error::Keyring { detail }
}

/// A sign-in as the token file holds it.
#[derive(Serialize, Deserialize)]
struct FileEntry {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_at: Option<i64>,
    kind: TokenKind,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connector: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TokenFile {
    #[serde(default)]
    warning: String,
    #[serde(default)]
    platforms: BTreeMap<String, FileEntry>,
}

const FILE_WARNING: &str = "This file holds Keepsake sign-in tokens IN PLAIN TEXT. Anyone who can \
                            read it can read and export your data. Delete it when you no longer \
                            need it (keepsake logout).";

/// **Tokens in a plain-text file.** Anyone who can read the file (another
/// user with access to the directory, a backup, a synced folder, malware
/// running as you) can use the tokens to read and export the account.
///
/// Only for machines with no usable keyring, and only when the user asks for
/// it (`--insecure-token-file PATH`). The file is JSON, created with mode
/// `0600` on Unix (on Windows it inherits the folder's ACL), and replaced
/// atomically (temporary file, fsync, rename) on every change. Concurrent
/// writers in one process are serialised; separate processes writing the
/// same file at once may lose one another's update.
#[derive(Debug)]
pub struct InsecureFileStore {
    path: PathBuf,
    lock: std::sync::Mutex<()>,
}

impl InsecureFileStore {
    /// A store in `path` (created on the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: std::sync::Mutex::new(()),
        }
    }

    /// The token file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<TokenFile> {
        let text = match fs_err::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TokenFile {
                    warning: FILE_WARNING.into(),
                    platforms: BTreeMap::new(),
                });
            }
            Err(e) => return Err(Error::io("read", &self.path)(e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is not a Keepsake token file ({e}); delete it and sign in again",
                self.path.display()
            ))
        })
    }

    fn write(&self, file: &TokenFile) -> Result<()> {
        if file.platforms.is_empty() {
            // No sign-in left: leave no file of secrets behind.
            return match fs_err::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io("remove", &self.path)(e))
                }
                _ => Ok(()),
            };
        }
        let text = serde_json::to_vec_pretty(file)
            .map_err(|e| Error::Invalid(format!("cannot encode the token file: {e}")))?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs_err::create_dir_all(&dir).map_err(Error::io("create", &dir))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tokens".into());
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = write_private(&tmp, &text).and_then(|()| {
            fs_err::rename(&tmp, &self.path).map_err(Error::io("rename", &self.path))
        });
        if written.is_err() {
            let _ = fs_err::remove_file(&tmp);
        }
        written?;
        // Make the rename itself durable (best effort: not all systems allow
        // opening a directory).
        #[cfg(unix)]
        if let Ok(d) = fs_err::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Writes `bytes` to a new file readable by its owner only, and fsyncs it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut options = fs_err::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(Error::io("create", path))?;
    f.write_all(bytes).map_err(Error::io("write", path))?;
    f.sync_all().map_err(Error::io("sync", path))
}

impl CredentialStore for InsecureFileStore {
    fn load(&self, platform: &str) -> Result<Option<Credentials>> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        Ok(file.platforms.remove(platform).map(|e| Credentials {
            platform: platform.to_owned(),
            access_token: Secret::new(e.access_token),
            refresh_token: e.refresh_token.map(Secret::new),
            expires_at: e.expires_at,
            kind: e.kind,
            scope: e.scope,
            connector: e.connector,
        }))
    }

    fn save(&self, c: &Credentials) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        file.warning = FILE_WARNING.into();
        file.platforms.insert(
            c.platform.clone(),
            FileEntry {
                access_token: c.access_token.expose().to_owned(),
                refresh_token: c.refresh_token.as_ref().map(|r| r.expose().to_owned()),
                expires_at: c.expires_at,
                kind: c.kind,
                scope: c.scope.clone(),
                connector: c.connector.clone(),
            },
        );
        self.write(&file)
    }

    fn delete(&self, platform: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read()?;
        if file.platforms.remove(platform).is_some() || file.platforms.is_empty() {
            self.write(&file)?;
        }
        Ok(())
    }
}

/// Refresh proactively when the access token expires within this many seconds.
const EXPIRY_MARGIN_SECS: i64 = 30;

/// The access token for one platform, refreshed when needed.
///
/// Refreshes are single-flight: the current credentials sit behind one async
/// mutex that is held across the whole refresh (request and keyring write),
/// so concurrent callers that all saw the same `401` cause exactly one
/// refresh and then share its result. Two refreshes with the same refresh
/// token would trigger the platform's reuse detection and sign the user out
/// (docs/api.md §3.4). Across processes (the CLI and the desktop app at once)
/// the store is re-read before refreshing, which narrows but does not close
/// that window.
pub struct TokenSource {
    platform: String,
    store: Arc<dyn CredentialStore>,
    current: tokio::sync::Mutex<Credentials>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("platform", &self.platform)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source over `credentials`, which `store` holds (or will hold).
    pub fn new(store: Arc<dyn CredentialStore>, credentials: Credentials) -> Self {
        Self {
            platform: credentials.platform.clone(),
            store,
            current: tokio::sync::Mutex::new(credentials),
        }
    }

    /// The stored sign-in for `platform` (normalised), or [`Error::NotSignedIn`].
    pub async fn load(store: Arc<dyn CredentialStore>, platform: &str) -> Result<Self> {
        let credentials =
            load_blocking(&store, platform)
                .await?
                .ok_or_else(|| Error::NotSignedIn {
                    platform: platform.to_owned(),
                })?;
        Ok(Self::new(store, credentials))
    }

    /// The platform these tokens are for.
    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// A copy of the current credentials.
    pub async fn credentials(&self) -> Credentials {
        self.current.lock().await.clone()
    }

    /// The token to send now. An OAuth token that is known to expire within
    /// a few seconds is refreshed first, sparing a certain `401`.
    pub async fn access_token(&self) -> Result<Secret> {
        let mut current = self.current.lock().await;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if current.kind == TokenKind::OAuth
            && current.refresh_token.is_some()
            && current.expires_within(now, EXPIRY_MARGIN_SECS)
        {
            self.refresh_locked(&mut current).await?;
        }
        Ok(current.access_token.clone())
    }

    /// The platform refused `rejected` with `401`: returns a token to retry
    /// with once. If another task (or process) has already replaced
    /// `rejected`, that newer token is returned without a refresh; otherwise
    /// an OAuth sign-in is refreshed and the rotated tokens are stored before
    /// they are returned. A personal access token cannot be refreshed: that
    /// is an error telling the user to create a new one.
    pub async fn refresh_after_401(&self, rejected: &Secret) -> Result<Secret> {
        let mut current = self.current.lock().await;
        if current.access_token != *rejected {
            return Ok(current.access_token.clone());
        }
        // Another process may have refreshed (and so spent the refresh token
        // we hold): adopt what it stored instead of refreshing again.
        let stored = load_blocking(&self.store, &self.platform)
            .await?
            .ok_or_else(|| Error::NotSignedIn {
                platform: self.platform.clone(),
            })?;
        if stored.access_token != *rejected {
            *current = stored;
            return Ok(current.access_token.clone());
        }
        match current.kind {
            TokenKind::Pat => Err(Error::SignIn {
                detail: format!(
                    "{} refused the personal access token (expired or revoked); create a new one and run `keepsake login --token-stdin`",
                    self.platform
                ),
            }),
            TokenKind::OAuth => {
                self.refresh_locked(&mut current).await?;
                Ok(current.access_token.clone())
            }
        }
    }

    /// Refreshes `current` (whose lock the caller holds), stores the result,
    /// and only then replaces `current`.
    async fn refresh_locked(&self, current: &mut Credentials) -> Result<()> {
        let Some(refresh_token) = current.refresh_token.clone() else {
            return Err(Error::SignIn {
                detail: format!(
                    "the sign-in to {} has expired and holds no refresh token; run `keepsake login` again",
                    self.platform
                ),
            });
        };
        let mut fresh = crate::oauth::refresh(&self.platform, &refresh_token).await?;
        fresh.platform = self.platform.clone();
        if fresh.scope.is_none() {
            fresh.scope = current.scope.clone();
        }
        // The platform's kind was found at sign-in; a refresh keeps it.
        fresh.connector = current.connector.clone();
        let store = Arc::clone(&self.store);
        let to_store = fresh.clone();
        let saved = blocking(move || store.save(&to_store)).await;
        if let Err(e) = saved {
            // The refresh token we held is spent and its successor could not
            // be kept: do not present the spent one again (that would revoke
            // the whole sign-in family); the user signs in again.
            current.refresh_token = None;
            return Err(e);
        }
        *current = fresh;
        Ok(())
    }
}

async fn load_blocking(
    store: &Arc<dyn CredentialStore>,
    platform: &str,
) -> Result<Option<Credentials>> {
    let store = Arc::clone(store);
    let platform = platform.to_owned();
    blocking(move || store.load(&platform)).await
}

/// Runs a keyring call off the async threads: it may block on D-Bus or on an
/// unlock prompt.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Keyring {
            detail: format!("the keyring call did not finish: {e}"),
        })?
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};

    use super::*;

    fn oauth(platform: &str, access: &str, refresh: Option<&str>) -> Credentials {
        Credentials {
            platform: platform.into(),
            access_token: Secret::new(access),
            refresh_token: refresh.map(Secret::new),
            expires_at: Some(1_900_000_000),
            kind: TokenKind::OAuth,
            scope: Some("export:self".into()),
            connector: None,
        }
    }

    #[test]
    fn platforms_are_normalised() {
        for (input, want) in [
            ("https://Platform.Example/", "https://platform.example"),
            ("https://platform.example:443", "https://platform.example"),
            (
                "https://platform.example:8443/base/",
                "https://platform.example:8443/base",
            ),
            ("http://127.0.0.1:8080/?x=1#y", "http://127.0.0.1:8080"),
            ("http://[::1]:9/", "http://[::1]:9"),
        ] {
            let url = PlatformUrl::parse(input).expect("valid");
            assert_eq!(normalise_platform(&url), want, "{input}");
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let c = oauth(
            "https://p.example",
            "ksa_secret-access",
            Some("ksr_secret-refresh"),
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret-access") && !shown.contains("secret-refresh"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn a_backend_that_only_keeps_memory_is_refused() {
        // keyring's mock keeps a secret only inside its Entry object: a store
        // over it would lose every sign-in. It must never be used silently.
        let err = KeyringStore::with_builder(keyring::mock::default_credential_builder())
            .expect_err("mock refused");
        assert!(matches!(err, Error::Keyring { .. }), "{err}");
        assert!(err.to_string().contains("in memory only"), "{err}");
    }

    /// A keyring backend that persists across entries in a shared map, so
    /// that the entry layout of `KeyringStore` can be tested without an OS
    /// keyring (keyring's own mock forgets a secret with its entry).
    #[derive(Default, Clone)]
    struct MapKeyring(Arc<Mutex<HashMap<String, String>>>);

    #[derive(Debug)]
    struct MapCredential {
        key: String,
        map: Arc<Mutex<HashMap<String, String>>>,
    }

    impl CredentialApi for MapCredential {
        fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
            let text = String::from_utf8(secret.to_vec())
                .map_err(|e| keyring::Error::BadEncoding(e.into_bytes()))?;
            self.map.lock().expect("map").insert(self.key.clone(), text);
            Ok(())
        }
        fn get_secret(&self) -> keyring::Result<Vec<u8>> {
            self.map
                .lock()
                .expect("map")
                .get(&self.key)
                .map(|s| s.clone().into_bytes())
                .ok_or(keyring::Error::NoEntry)
        }
        fn delete_credential(&self) -> keyring::Result<()> {
            self.map
                .lock()
                .expect("map")
                .remove(&self.key)
                .map(|_| ())
                .ok_or(keyring::Error::NoEntry)
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    impl CredentialBuilderApi for MapKeyring {
        fn build(
            &self,
            _target: Option<&str>,
            service: &str,
            user: &str,
        ) -> keyring::Result<Box<Credential>> {
            Ok(Box::new(MapCredential {
                key: format!("{service}/{user}"),
                map: Arc::clone(&self.0),
            }))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    #[test]
    fn keyring_store_keeps_tokens_in_separate_entries() -> Result<()> {
        let backend = MapKeyring::default();
        let store = KeyringStore::with_builder(Box::new(backend.clone()))?;
        let p = "https://p.example";
        assert_eq!(store.load(p)?, None);

        let c = oauth(p, "ksa_one", Some("ksr_one"));
        store.save(&c)?;
        assert_eq!(store.load(p)?, Some(c));
        {
            let map = backend.0.lock().expect("map");
            let mut keys: Vec<_> = map.keys().cloned().collect();
            keys.sort();
            assert_eq!(
                keys,
                [
                    "keepsake/https://p.example#access",
                    "keepsake/https://p.example#meta",
                    "keepsake/https://p.example#refresh"
                ]
            );
            assert_eq!(map["keepsake/https://p.example#access"], "ksa_one");
            assert!(
                !map["keepsake/https://p.example#meta"].contains("ks"),
                "meta holds no token"
            );
        }

        // A PAT replaces the OAuth sign-in, and its stale refresh token goes.
        let pat = Credentials::from_pat(&PlatformUrl::parse(p).expect("url"), Secret::new("ksp_x"));
        store.save(&pat)?;
        assert_eq!(store.load(p)?, Some(pat));
        assert!(
            !backend
                .0
                .lock()
                .expect("map")
                .contains_key("keepsake/https://p.example#refresh")
        );

        // Another platform is another sign-in.
        assert_eq!(store.load("https://q.example")?, None);

        store.delete(p)?;
        assert_eq!(store.load(p)?, None);
        assert!(backend.0.lock().expect("map").is_empty());
        store.delete(p)?;
        Ok(())
    }

    #[test]
    fn a_half_written_sign_in_reads_as_none() -> Result<()> {
        let backend = MapKeyring::default();
        let store = KeyringStore::with_builder(Box::new(backend.clone()))?;
        // The process died after the tokens but before the metadata.
        backend
            .0
            .lock()
            .expect("map")
            .insert("keepsake/https://p.example#access".into(), "ksa_x".into());
        assert_eq!(store.load("https://p.example")?, None);
        // And a damaged metadata entry is an error that says what to do.
        backend
            .0
            .lock()
            .expect("map")
            .insert("keepsake/https://p.example#meta".into(), "{".into());
        let err = store.load("https://p.example").expect_err("damaged");
        assert!(err.to_string().contains("keepsake logout"), "{err}");
        Ok(())
    }

    #[test]
    fn insecure_file_round_trip_is_private_and_atomic() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/tokens.json");
        let store = InsecureFileStore::new(&path);
        assert_eq!(store.load("https://p.example")?, None);

        let a = oauth("https://p.example", "ksa_a", Some("ksr_a"));
        let b = oauth("https://q.example", "ksa_b", None);
        store.save(&a)?;
        store.save(&b)?;
        assert_eq!(store.load("https://p.example")?, Some(a.clone()));
        assert_eq!(store.load("https://q.example")?, Some(b));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = fs_err::read_to_string(&path).expect("read");
        assert!(text.contains("PLAIN TEXT"), "{text}");
        // No temporary file left next to it.
        let names: Vec<_> = fs_err::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("tokens.json")]);

        store.delete("https://q.example")?;
        assert_eq!(store.load("https://q.example")?, None);
        assert_eq!(store.load("https://p.example")?, Some(a));
        store.delete("https://p.example")?;
        assert!(
            !path.exists(),
            "no token file is left once every sign-in is gone"
        );
        Ok(())
    }

    /// A store in memory, for the refresh logic.
    #[derive(Default)]
    struct MemoryStore(Mutex<HashMap<String, Credentials>>);

    impl CredentialStore for MemoryStore {
        fn load(&self, platform: &str) -> Result<Option<Credentials>> {
            Ok(self.0.lock().expect("map").get(platform).cloned())
        }
        fn save(&self, c: &Credentials) -> Result<()> {
            self.0
                .lock()
                .expect("map")
                .insert(c.platform.clone(), c.clone());
            Ok(())
        }
        fn delete(&self, platform: &str) -> Result<()> {
            self.0.lock().expect("map").remove(platform);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_refused_pat_asks_for_a_new_one() -> Result<()> {
        let store = Arc::new(MemoryStore::default());
        let pat = Credentials::from_pat(
            &PlatformUrl::parse("https://p.example").expect("url"),
            Secret::new("ksp_x"),
        );
        store.save(&pat)?;
        let source = TokenSource::load(store, "https://p.example").await?;
        let token = source.access_token().await?;
        let err = source
            .refresh_after_401(&token)
            .await
            .expect_err("no refresh for a PAT");
        assert!(
            err.to_string().contains("keepsake login --token-stdin"),
            "{err}"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_token_already_replaced_is_not_refreshed_again() -> Result<()> {
        // The refresh token points nowhere: any refresh attempt would fail.
        let store = Arc::new(MemoryStore::default());
        let p = "http://127.0.0.1:9";
        store.save(&oauth(p, "ksa_new", Some("ksr_new")))?;
        let source = TokenSource::new(store.clone(), oauth(p, "ksa_new", Some("ksr_new")));
        // Another task already refreshed: the rejected token is an old one.
        assert_eq!(
            source.refresh_after_401(&Secret::new("ksa_old")).await?,
            Secret::new("ksa_new")
        );

        // Another process refreshed: the store holds a newer token than we do.
        store.save(&oauth(p, "ksa_other_process", Some("ksr_other_process")))?;
        assert_eq!(
            source.refresh_after_401(&Secret::new("ksa_new")).await?,
            Secret::new("ksa_other_process")
        );
        assert_eq!(
            source.credentials().await.refresh_token,
            Some(Secret::new("ksr_other_process"))
        );

        // Signed out elsewhere meanwhile.
        store.delete(p)?;
        let err = source
            .refresh_after_401(&Secret::new("ksa_other_process"))
            .await
            .expect_err("signed out");
        assert!(matches!(err, Error::NotSignedIn { .. }), "{err}");
        Ok(())
    }

    #[tokio::test]
    async fn loading_without_a_sign_in_says_so() {
        let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::default());
        let err = TokenSource::load(store, "https://p.example")
            .await
            .expect_err("none");
        assert!(matches!(err, Error::NotSignedIn { .. }), "{err}");
    }

    /// The real OS keyring. In CI this runs inside `dbus-run-session` with an
    /// unlocked gnome-keyring (`cargo xtask test` sets that up); it is skipped
    /// only when there is no session bus at all, and fails when there is one
    /// but the keyring does not work.
    #[test]
    fn keyring_round_trip() -> Result<()> {
        if cfg!(target_os = "linux") && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            println!("skipped: no session bus");
            return Ok(());
        }
        let store = KeyringStore::new()?;
        let nonce: u64 = rand_u64();
        let p = format!("https://keyring-test-{nonce:016x}.invalid");
        // Long tokens, as platforms with JWTs issue them.
        let c = Credentials {
            platform: p.clone(),
            access_token: Secret::new(format!("ksa_{}", "a".repeat(1000))),
            refresh_token: Some(Secret::new(format!("ksr_{}", "r".repeat(1000)))),
            expires_at: Some(1_900_000_000),
            kind: TokenKind::OAuth,
            scope: Some("export:self export:any".into()),
            // The platform's kind is kept with the tokens.
            connector: Some("keepsake-export-api".into()),
        };
        let result = (|| -> Result<()> {
            store.save(&c)?;
            // A fresh store reads what another one wrote: it is persistent.
            let other = KeyringStore::new()?;
            assert_eq!(other.load(&p)?, Some(c.clone()));
            let rotated = oauth(&p, "ksa_rotated", Some("ksr_rotated"));
            other.save(&rotated)?;
            assert_eq!(store.load(&p)?, Some(rotated));
            Ok(())
        })();
        let deleted = store.delete(&p);
        result?;
        deleted?;
        assert_eq!(store.load(&p)?, None);
        Ok(())
    }

    fn rand_u64() -> u64 {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).expect("random");
        u64::from_le_bytes(bytes)
    }
}
