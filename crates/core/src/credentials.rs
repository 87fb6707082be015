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

use std::fmt;
use std::sync::Arc;

use keyring::credential::{CredentialBuilder, CredentialPersistence};
use serde::{Deserialize, Serialize};

use crate::{Error, PlatformUrl, Result, Secret};

mod file_store;
pub use file_store::InsecureFileStore;

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
    /// The account name the secret goes with, where the platform wants
    /// both on every request (HTTP Basic: a WordPress application
    /// password); `None` for a bearer token.
    pub user: Option<String>,
    /// Where an OAuth sign-in is refreshed.
    pub refresh_with: Option<RefreshWith>,
    /// What the connector needs to end this sign-in on the platform (the
    /// id of the application password or the device Keepsake made); not a
    /// secret.
    pub handle: Option<String>,
}

/// Where and as whom an OAuth sign-in is refreshed: the connector's, kept
/// with the sign-in so that a refresh needs no connector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshWith {
    /// The token endpoint, a path under the platform's address.
    pub token_path: String,
    /// The client id Keepsake is known by there.
    pub client_id: String,
}

impl RefreshWith {
    /// What sign-ins stored before connectors existed were refreshed at:
    /// the Keepsake Export API's token endpoint, the only platform then.
    fn legacy() -> Self {
        Self {
            token_path: "oauth/token".into(),
            client_id: "keepsake".into(),
        }
    }
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
            user: None,
            refresh_with: None,
            handle: None,
        }
    }

    /// An OAuth sign-in from what the platform granted, refreshed at
    /// `refresh_with`.
    pub fn from_grant(
        platform: &PlatformUrl,
        grant: crate::oauth::Grant,
        refresh_with: RefreshWith,
    ) -> Self {
        Self {
            platform: normalise_platform(platform),
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            expires_at: grant.expires_at,
            kind: TokenKind::OAuth,
            scope: grant.scope,
            connector: None,
            user: None,
            refresh_with: Some(refresh_with),
            handle: None,
        }
    }

    /// True when the access token expires within `margin_secs` of `now`
    /// (Unix seconds). Unknown expiry counts as not expiring.
    pub fn expires_within(&self, now: i64, margin_secs: i64) -> bool {
        self.expires_at
            .is_some_and(|at| at <= now.saturating_add(margin_secs))
    }
}

/// The canonical form of a platform URL, used as the key of its sign-in
/// (see [`PlatformUrl::normalised`]).
pub fn normalise_platform(url: &PlatformUrl) -> String {
    url.normalised()
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_with: Option<RefreshWith>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    handle: Option<String>,
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
                "the stored sign-in for {platform} is damaged ({e}); sign out of it and sign in again"
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
            user: meta.user,
            refresh_with: meta.refresh_with,
            handle: meta.handle,
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
            user: c.user.clone(),
            refresh_with: c.refresh_with.clone(),
            handle: c.handle.clone(),
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
         `gnome-keyring-daemon --unlock`"
            .into()
    } else {
        "no working Secret Service on the D-Bus session bus: unlock GNOME Keyring or KWallet, or \
         on a headless machine run Keepsake inside `dbus-run-session` after \
         `gnome-keyring-daemon --unlock`"
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
    /// Fixed for the sign-in's life (refreshes keep it).
    user: Option<String>,
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
            user: credentials.user.clone(),
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

    /// The account name the secret goes with (HTTP Basic), if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
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
                    "{} no longer accepts the stored sign-in (the token or password was revoked or has expired); sign in again",
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
                    "the sign-in to {} has expired and holds no refresh token; sign in again",
                    self.platform
                ),
            });
        };
        let with = current
            .refresh_with
            .clone()
            .unwrap_or_else(RefreshWith::legacy);
        let grant = crate::oauth::refresh(
            &self.platform,
            &with.token_path,
            &with.client_id,
            &refresh_token,
        )
        .await?;
        // What was found at sign-in stays: the platform's kind, the scopes
        // when the platform does not repeat them, the endpoint.
        let mut fresh = Credentials {
            platform: self.platform.clone(),
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            expires_at: grant.expires_at,
            scope: grant.scope.or_else(|| current.scope.clone()),
            refresh_with: Some(with),
            ..current.clone()
        };
        fresh.kind = TokenKind::OAuth;
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
#[path = "credentials_tests.rs"]
mod tests;
