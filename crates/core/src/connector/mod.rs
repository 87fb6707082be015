//! The boundary between the engine and one platform's API.
//!
//! A [`Connector`] knows one API: who the signed-in account is, how to find
//! another account for support staff, how to open an export session and
//! check it is still open, how to read a collection page by page with a
//! resumable cursor, how to get a fresh link for a media file, and what to
//! tell the platform at the end. Everything else (staging, the journal,
//! retries and waits, the zip, BagIt, CSV, the viewer, the audit log,
//! progress) is the engine's, the same for every platform. The model is
//! rclone's backends behind `fs.Fs` + `Features`: the engine asks the
//! connector's [`Features`] instead of special-casing a platform.
//!
//! A connector never weakens the engine's rules: whatever it returns is
//! still untrusted, and the engine checks it (`export::checked`) before a
//! value reaches a path, a terminal or the archive.
//!
//! To add one: a module here with the platform's wire types and paths, an
//! `impl Connector`, and a line in [`all`].

pub mod keepsake;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Result;
use crate::client::{ApiClient, Auth};

/// What a platform offers, so the engine and the front ends need not know
/// which platform it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Features {
    /// Pages are bound to a snapshot time: writes during the export neither
    /// shift nor duplicate them.
    pub snapshot: bool,
    /// The session announces exact per-category counts.
    pub exact_counts: bool,
    /// Media come with a SHA-256 to check them against.
    pub checksums: bool,
    /// The platform keeps a record of each export's outcome, which the
    /// engine reports at the end.
    pub outcome_record: bool,
    /// Support staff can look up another account and export it.
    pub staff_lookup: bool,
}

/// What a category holds, which decides how the engine fetches it and how
/// the archive shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryKind {
    /// One record (a profile), fetched whole.
    Single,
    /// Records walked page by page.
    Records,
    /// Records of other accounts (followers, room members), walked the same
    /// way.
    People,
    /// Records that each name a file, downloaded and archived beside them.
    Files,
}

/// One column of a category's CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// Where the value is in a record (a JSON Pointer, RFC 6901).
    pub pointer: &'static str,
}

/// A column named `header` read from `pointer`.
pub const fn col(header: &'static str, pointer: &'static str) -> Column {
    Column { header, pointer }
}

/// A category as data: everything the engine, the CSV writer and the
/// archive's manifest need to know of it, so that none of them names a
/// platform's categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Its name in the session and the archive (`posts`: `data/posts.json`).
    pub name: &'static str,
    /// For people: "Posts".
    pub label: &'static str,
    /// What it holds.
    pub kind: CategoryKind,
    /// The columns of its CSV file; empty for none.
    pub csv: &'static [Column],
}

/// An account on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The platform's id of it.
    pub id: i64,
    /// Its login (untrusted text: sanitised before it is shown or used in a
    /// name).
    pub login: String,
    /// Its display name, when the platform has one.
    pub display_name: Option<String>,
    /// Whether this sign-in may export other accounts (support staff).
    pub support: bool,
}

/// What the user asks an export session to hold.
#[derive(Debug, Clone, Default)]
pub struct OpenRequest {
    /// Why (required when exporting someone else's account).
    pub reason: Option<String>,
    /// Categories; `None` for all.
    pub categories: Option<Vec<String>>,
    /// Only records created at or after this date / date-time.
    pub since: Option<String>,
    /// Only records created before this date / date-time.
    pub until: Option<String>,
}

/// An account as a session names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRef {
    /// The platform's id of it.
    pub id: i64,
    /// Its login (untrusted).
    pub login: String,
}

/// What a session announces of one category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Estimate {
    /// Records (files for media); exact where [`Features::exact_counts`].
    pub count: u64,
    /// Estimated bytes of their JSON (of the files, for media).
    pub bytes: u64,
}

/// An export session as the engine keeps it (and stages it in
/// `session.json`): the same for every connector, which maps its
/// platform's answers onto it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The platform's id of the session (untrusted: checked before it
    /// names a folder).
    pub export_id: String,
    /// `running`, or how it ended.
    pub status: String,
    /// The snapshot time (RFC 3339).
    pub as_of: String,
    /// The account exported.
    pub subject: UserRef,
    /// The account that exports it.
    pub actor: UserRef,
    /// Why, for support staff.
    pub reason: Option<String>,
    /// The start of the date range, as the platform applied it.
    pub since: Option<String>,
    /// The end of the date range.
    pub until: Option<String>,
    /// What the session holds, per category.
    pub categories: BTreeMap<String, Estimate>,
}

/// One page of a collection: records as the platform sent them (checked
/// to be JSON, not re-encoded) and the cursor of the next page (`None` on
/// the last).
#[derive(Deserialize)]
pub struct Page {
    /// The records.
    pub items: Vec<Box<RawValue>>,
    /// The next page's cursor; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How an export ended, for the platform's record of it.
pub struct Ending<'a> {
    /// `completed`, `incomplete`, `failed` or `cancelled`.
    pub status: &'a str,
    /// Records (files for media) the archive holds, per category.
    pub counts: BTreeMap<String, u64>,
    /// The archive's size and SHA-256, when there is one.
    pub archive: Option<(u64, &'a str)>,
    /// The error's code, when it failed.
    pub error: Option<&'a str>,
}

/// What to send the platform about an ending: an API path and a JSON body
/// (sent with `PATCH`, and kept for a later run when it does not get
/// through).
pub struct Report {
    /// The API path (`PATCH`ed).
    pub path: String,
    /// The JSON body.
    pub body: Value,
}

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
    /// The OAuth scopes to ask for: a person's own export, or support
    /// staff's (any account).
    fn scopes(&self, support: bool) -> &'static [&'static str];
    /// Whether media downloads carry the session's credentials.
    fn media_auth(&self) -> Auth;
    /// The categories the platform may hold, in the order to show them.
    fn categories(&self) -> &'static [Category];
    /// The most records a category may bring before the walk stops as the
    /// platform's fault, given the count it announced (`None`: the platform
    /// announces none). The default is the engine's; a platform that counts
    /// loosely, or not at all, supplies its own.
    fn record_bound(&self, expected: Option<u64>) -> u64 {
        crate::export::record_bound(expected)
    }
    /// The category named `name`, if the platform has one.
    fn category(&self, name: &str) -> Option<&'static Category> {
        self.categories().iter().find(|c| c.name == name)
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
    /// Opens an export session of `subject`, mapping the platform's own
    /// refusals (quota, one already running, account deleted) to typed
    /// errors; also the path it was opened at, for messages.
    fn open<'a>(
        &'a self,
        client: &'a ApiClient,
        subject: i64,
        request: &'a OpenRequest,
    ) -> BoxFuture<'a, Result<(Session, String)>>;
    /// The session as the platform holds it now (to check, before resuming,
    /// that it is still open).
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
        category: &'a str,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page>>;
    /// A category that is one record (the profile), as sent.
    fn single<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        category: &'a str,
    ) -> BoxFuture<'a, Result<Box<RawValue>>>;
    /// A media file's record again, with a fresh download link.
    fn media_record<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        id: i64,
    ) -> BoxFuture<'a, Result<Value>>;
    /// What to tell the platform about how the export ended; `None` where
    /// the platform keeps no record of exports.
    fn report(&self, session: &Session, ending: &Ending<'_>) -> Option<Report>;
}

impl std::fmt::Debug for dyn Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

/// Every connector Keepsake has, in the order detection tries them.
pub fn all() -> Vec<Arc<dyn Connector>> {
    vec![keepsake()]
}

/// The connector of `kind` (as stored with credentials or in a manifest).
pub fn by_kind(kind: &str) -> Option<Arc<dyn Connector>> {
    all().into_iter().find(|c| c.kind() == kind)
}

/// The connector of `kind`, or an error naming the kinds there are.
pub fn of_kind(kind: &str) -> Result<Arc<dyn Connector>> {
    by_kind(kind).ok_or_else(|| {
        let kinds: Vec<&str> = all().iter().map(|c| c.kind()).collect();
        crate::Error::Invalid(format!(
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
    Err(crate::Error::Invalid(format!(
        "{} does not answer like any platform Keepsake knows (tried: {}); check the address,          or name the platform's kind with --kind",
        crate::error::display_url(client.base()),
        tried.join(", ")
    )))
}

/// Reads at most `max` bytes of `path` on the client's platform, without
/// credentials: what a detection looks at. `None` for an answer that is
/// not a success.
pub(crate) async fn peek(client: &ApiClient, path: &str, max: usize) -> Result<Option<Vec<u8>>> {
    let mut download = match client.download(path, 0, Auth::Omit).await {
        Ok(d) => d,
        Err(crate::Error::Status { .. }) => return Ok(None),
        Err(crate::Error::Protocol { .. }) => return Ok(None),
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

/// The Keepsake Export API v1, the engine's first connector.
pub fn keepsake() -> Arc<dyn Connector> {
    Arc::new(keepsake::KeepsakeApi)
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
}
