//! The boundary between the engine and one platform's API.
//!
//! A [`Connector`] knows one API: how to recognise it from an address, the
//! ways to sign in it offers, who the signed-in account is, how to find
//! another account for support staff, how to open an export session (or
//! make one up where the platform has none) and check it is still open,
//! which categories it holds (some found only as the session opens, such as
//! a Matrix account's rooms), how to read a category page by page with a
//! resumable cursor, which files a record names and how to download them,
//! how to read its errors, and what to tell the platform at the end.
//! Everything else (staging, the journal, retries and waits, the zip,
//! BagIt, CSV, the viewer, the audit log, progress) is the engine's, the
//! same for every platform. The model is rclone's backends behind `fs.Fs` +
//! `Features`: the engine asks the connector's [`Features`] and category
//! descriptors instead of special-casing a platform.
//!
//! A connector never weakens the engine's rules: whatever it returns is
//! still untrusted, and the engine checks it (`export::checked`) before a
//! value reaches a path, a terminal or the archive.
//!
//! To add one: a module here with the platform's wire types and paths, an
//! `impl Connector`, and a line in [`all`].

pub mod keepsake;
pub mod matrix;
mod types;
pub mod wordpress;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

pub use types::*;

use crate::client::ApiClient;
use crate::credentials::Credentials;
use crate::{Error, PlatformUrl, Result, Secret};

/// A way of signing in, as a front end offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// In the system browser, which comes back to a loopback address with
    /// the sign-in (OAuth with PKCE, WordPress's application authorisation,
    /// Matrix single sign-on).
    Browser,
    /// A name and a secret typed into Keepsake (a Matrix password, a
    /// WordPress application password).
    Password,
    /// An access token pasted in (automation).
    Token,
}

/// One way of signing in a platform offers, with the words to offer it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// Which flow.
    pub flow: Flow,
    /// What to call it ("Sign in with your browser").
    pub label: String,
    /// For [`Flow::Password`] and [`Flow::Token`]: what the secret is
    /// ("Password", "Application password").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_label: Option<String>,
    /// For [`Flow::Password`]: what the user name is ("Matrix ID or user
    /// name").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_label: Option<String>,
    /// For [`Flow::Password`] and [`Flow::Token`]: the platform's page that
    /// makes the secret, to open in the browser (WordPress's approval page,
    /// which shows a new application password once). It holds no secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// Opens the browser at a sign-in address (which holds no secret).
pub type Opener = Box<dyn FnOnce(&url::Url) -> std::io::Result<()> + Send>;

/// One platform's API. Object-safe: the engine holds an
/// `Arc<dyn Connector>`; each call takes the client bound to the platform
/// and the signed-in account.
pub trait Connector: Send + Sync {
    /// A stable id, stored with the credentials and written into the
    /// manifest (`keepsake-export-api`).
    fn kind(&self) -> &'static str;
    /// For people: "Keepsake Export API v1".
    fn name(&self) -> &'static str;
    /// The version of the platform's API it speaks (in the manifest).
    fn version(&self) -> &'static str;
    /// Whether the platform at the client's address speaks this API. Asks
    /// without credentials (it runs before sign-in); a platform that does
    /// not answer like this API is `Ok(false)`, one that cannot be reached
    /// is an error.
    fn detect<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<bool>>;
    /// What the platform offers.
    fn features(&self) -> Features;
    /// What support access means here, for people ("an administrator of
    /// the site").
    fn support_means(&self) -> &'static str;

    /// The ways to sign in that the platform at the client's address offers,
    /// the one to prefer first (asked without credentials).
    fn offers<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<Vec<Offer>>>;
    /// Signs in through the browser: `open` is called with the address to
    /// show; waits up to `timeout` for the browser to come back. `support`
    /// asks for support staff's rights where the platform grants them at
    /// sign-in.
    fn sign_in_browser<'a>(
        &'a self,
        platform: &'a PlatformUrl,
        support: bool,
        open: Opener,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Credentials>>;
    /// Signs in with a name and a secret typed into Keepsake.
    fn sign_in_password<'a>(
        &'a self,
        platform: &'a PlatformUrl,
        user: &'a str,
        secret: Secret,
    ) -> BoxFuture<'a, Result<Credentials>> {
        let _ = (user, secret);
        Box::pin(async move {
            Err(Error::Invalid(format!(
                "{} does not offer signing in with a password; sign in in the browser or with a token",
                platform.as_url()
            )))
        })
    }
    /// The credentials of a pasted access token (not yet checked).
    fn sign_in_token(&self, platform: &PlatformUrl, token: Secret) -> Credentials {
        Credentials::from_pat(platform, token)
    }
    /// Ends the sign-in on the platform (revokes the token, the application
    /// password or the device Keepsake made), with `client` still signed
    /// in with `credentials`.
    fn sign_out<'a>(
        &'a self,
        client: &'a ApiClient,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>>;

    /// The categories the platform always has, in the order to show them
    /// (a session may add categories it found, [`Session::found`]).
    fn categories(&self) -> Vec<Category>;
    /// The most records a category may bring before the walk stops as the
    /// platform's fault, given the count it announced (`None`: the platform
    /// announces none). The default is the engine's; a platform that counts
    /// loosely, or not at all, supplies its own.
    fn record_bound(&self, expected: Option<u64>) -> u64 {
        record_bound(expected)
    }
    /// How many categories are walked at once: the platform's sweet spot.
    fn parallel_walks(&self) -> usize {
        8
    }

    /// The signed-in account.
    fn whoami<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<Account>>;
    /// Another account, by login, for support staff; `None` when there is
    /// no such account.
    fn find_account<'a>(
        &'a self,
        client: &'a ApiClient,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<Account>>>;

    /// The API path of the session's own resource, for messages (no host).
    fn session_path(&self, session: &Session) -> String;
    /// Opens an export session of `subject` (the signed-in account is
    /// `actor`), mapping the platform's own refusals (quota, one already
    /// running, account deleted, no admin rights) to typed errors; also the
    /// path it was opened at, for messages.
    fn open<'a>(
        &'a self,
        client: &'a ApiClient,
        actor: &'a Account,
        subject: &'a AccountId,
        request: &'a OpenRequest,
    ) -> BoxFuture<'a, Result<(Session, String)>>;
    /// The session as the platform holds it now (to check, before resuming,
    /// that it is still open). Where the platform keeps no sessions, the
    /// staged one, as it is.
    fn live<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Session>>;
    /// One page of `category`, from `cursor` (`None` for the first).
    fn page<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page>>;
    /// A category that is one record (a profile), as sent.
    fn single<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
    ) -> BoxFuture<'a, Result<Box<RawValue>>>;
    /// The files `record` of `category` names, to download and archive.
    fn files(&self, session: &Session, category: &Category, record: &Value) -> Vec<FileRef>;
    /// `file` again with a fresh download link, after `error` said its link
    /// expired; `Ok(None)` when the error is not an expired link.
    fn refresh_file<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        file: &'a FileRef,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<Option<FileRef>>> {
        let _ = (client, session, file, error);
        Box::pin(async { Ok(None) })
    }
    /// What to tell the platform about how the export ended; `None` where
    /// the platform keeps no record of exports.
    fn report(&self, session: &Session, ending: &Ending<'_>) -> Option<Report>;
}

impl std::fmt::Debug for dyn Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl dyn Connector {
    /// The descriptor of `name` in `session`: one of the platform's own
    /// categories or one the session found.
    pub fn category_in(&self, session: &Session, name: &str) -> Option<Category> {
        session
            .found
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .or_else(|| self.categories().into_iter().find(|c| c.name == name))
    }
}

/// Every connector Keepsake has, in the order detection tries them.
pub fn all() -> Vec<Arc<dyn Connector>> {
    vec![keepsake(), wordpress(), matrix()]
}

/// The connector of `kind` (as stored with credentials or in a manifest).
pub fn by_kind(kind: &str) -> Option<Arc<dyn Connector>> {
    all().into_iter().find(|c| c.kind() == kind)
}

/// The connector of `kind`, or an error naming the kinds there are.
pub fn of_kind(kind: &str) -> Result<Arc<dyn Connector>> {
    by_kind(kind).ok_or_else(|| {
        let kinds: Vec<&str> = all().iter().map(|c| c.kind()).collect();
        Error::Invalid(format!(
            "Keepsake knows no platform of the kind '{kind}'; it knows: {}",
            kinds.join(", ")
        ))
    })
}

/// The connector whose API the platform at the client's address speaks,
/// trying each in turn (without credentials).
pub async fn detect(client: &ApiClient) -> Result<Arc<dyn Connector>> {
    let mut tried = Vec::new();
    for c in all() {
        if c.detect(client).await? {
            return Ok(c);
        }
        tried.push(c.name());
    }
    Err(Error::UnknownPlatform {
        url: crate::error::display_url(client.base()),
        tried: tried.join(", "),
    })
}

/// Reads at most `max` bytes of `path` on the client's platform, without
/// credentials: what a detection looks at. `None` for an answer that is
/// not a success.
pub(crate) async fn peek(client: &ApiClient, path: &str, max: usize) -> Result<Option<Vec<u8>>> {
    let mut download = match client.download(path, 0, crate::client::Auth::Omit).await {
        Ok(d) => d,
        Err(Error::Status { .. } | Error::Protocol { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut body = Vec::new();
    while let Some(chunk) = download.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= max {
            body.truncate(max);
            break;
        }
    }
    Ok(Some(body))
}

/// The text of `pointer` in `record`: a string as it is, an integer in
/// decimal; `None` for anything else (what a key or a name must be).
pub fn text_at(record: &Value, pointer: &str) -> Option<String> {
    match record.pointer(pointer)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// `text` for a path segment or a query value: every byte but the
/// unreserved ones percent-encoded (a platform's id may hold `/`, `?`, `#`).
pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A name for this computer in what Keepsake registers on a platform (an
/// application password, a device): "Keepsake on HOST".
pub fn client_label() -> String {
    let host = hostname();
    let clean: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(48)
        .collect();
    if clean.is_empty() {
        "Keepsake".to_owned()
    } else {
        format!("Keepsake on {clean}")
    }
}

fn hostname() -> String {
    fs_err::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The Keepsake Export API v1, the engine's first connector.
pub fn keepsake() -> Arc<dyn Connector> {
    Arc::new(keepsake::KeepsakeApi)
}

/// WordPress's REST API.
pub fn wordpress() -> Arc<dyn Connector> {
    Arc::new(wordpress::WordPress)
}

/// The Matrix client-server API.
pub fn matrix() -> Arc<dyn Connector> {
    Arc::new(matrix::Matrix)
}

/// The records a category may hold when the platform announces no count.
pub(crate) const UNCOUNTED_RECORD_BOUND: u64 = 10_000_000;

/// The most records a category may bring before the walk stops as the
/// platform's fault, given the count the platform announced (`None` for a
/// platform that announces none). Well above the count, which may change
/// while the export runs, yet bounded, so a platform that invents records
/// cannot fill the disk. A connector whose platform counts differently
/// supplies its own.
pub fn record_bound(expected: Option<u64>) -> u64 {
    match expected {
        Some(n) => n.saturating_mul(2).saturating_add(1000),
        None => UNCOUNTED_RECORD_BOUND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectors_are_found_by_their_kind() {
        for c in all() {
            assert_eq!(by_kind(c.kind()).map(|f| f.kind()), Some(c.kind()));
        }
        assert!(by_kind("gopher").is_none());
        assert_eq!(format!("{:?}", &*keepsake()), "keepsake-export-api");
    }

    #[test]
    fn every_category_is_a_plain_name_with_a_key() {
        for c in all() {
            for d in c.categories() {
                assert!(
                    crate::export::is_plain_category(&d.name),
                    "{}: {}",
                    c.kind(),
                    d.name
                );
                assert!(d.key.starts_with('/'), "{}: {}", c.kind(), d.name);
            }
        }
    }

    #[test]
    fn keys_are_text_or_integers() {
        let r: Value = serde_json::json!({"id": 7, "e": "$x:y", "f": 1.5, "o": {}});
        assert_eq!(text_at(&r, "/id").as_deref(), Some("7"));
        assert_eq!(text_at(&r, "/e").as_deref(), Some("$x:y"));
        assert_eq!(text_at(&r, "/f"), None);
        assert_eq!(text_at(&r, "/o"), None);
        assert_eq!(text_at(&r, "/missing"), None);
        assert_eq!(encode("!room:ex/a?b#c"), "%21room%3Aex%2Fa%3Fb%23c");
    }
}
