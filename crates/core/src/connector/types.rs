//! The data that crosses the connector boundary: categories as
//! descriptors, accounts, sessions, pages, files and endings. The engine
//! works from these alone, so that no category, path or wire shape of a
//! platform is named outside its connector.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::client::Auth;

/// Text that is usually a constant of a connector, sometimes made at run
/// time (a room's categories), and read back from a staged session.
pub type Text = Cow<'static, str>;

/// What a platform offers, so the engine and the front ends need not know
/// which platform it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Features {
    /// Pages are bound to a snapshot time: writes during the export neither
    /// shift nor duplicate them.
    pub snapshot: bool,
    /// The session announces exact per-category counts.
    pub exact_counts: bool,
    /// Files come with a SHA-256 to check them against.
    pub checksums: bool,
    /// The platform keeps a record of each export's outcome, which the
    /// engine reports at the end.
    pub outcome_record: bool,
    /// Support staff can look up another account and export it.
    pub staff_lookup: bool,
    /// An export can be limited to a date range (Matrix rooms are taken
    /// whole: no).
    pub date_range: bool,
}

/// What a category holds, which decides how the engine fetches it and how
/// the archive shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// The order of a category's keys as the platform walks them: what a
/// reader may rely on (de-duplication and resume rely on none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Keys go up (the Export API's ids).
    Ascending,
    /// Keys go down, or the walk goes back in time (a room's history).
    Descending,
    /// No order to speak of.
    Unordered,
}

/// One column of a category's CSV file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The header.
    pub header: Text,
    /// Where the value is in a record (a JSON Pointer, RFC 6901).
    pub pointer: Text,
}

/// A column named `header` read from `pointer`.
pub const fn col(header: &'static str, pointer: &'static str) -> Column {
    Column {
        header: Cow::Borrowed(header),
        pointer: Cow::Borrowed(pointer),
    }
}

/// How the offline viewer shows a category: a style it knows, and where in
/// a record the parts it shows are (JSON Pointers; absent: not shown). A
/// reader that knows none of the styles still has the label and the
/// pointers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct View {
    /// `profile`, `entries` (titled or untitled texts with a date),
    /// `people`, `files`, `chat` (a room's timeline), or `records` (any
    /// other: the viewer shows each record's fields).
    pub style: Text,
    /// A short line that names the record (a post's title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text>,
    /// Its text, shown as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Text>,
    /// Its text as HTML the platform rendered: shown with only harmless
    /// markup kept (no script, style, link target or remote content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<Text>,
    /// When it was made (RFC 3339, or milliseconds since 1970).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Text>,
    /// Who made it, or whom it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Text>,
    /// A short word shown beside it (a post's status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Text>,
}

impl View {
    /// A view of `style` with nothing pointed at yet.
    pub const fn style(style: &'static str) -> Self {
        Self {
            style: Cow::Borrowed(style),
            title: None,
            text: None,
            html: None,
            date: None,
            who: None,
            tag: None,
        }
    }
}

/// A category as data: everything the engine, the CSV writer, the viewer
/// and the archive's manifest need to know of it, so that none of them
/// names a platform's categories.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Its name in the session and the archive (`posts`: `data/posts.json`):
    /// a plain name (lower-case letters, digits, `_`).
    pub name: Text,
    /// For people: "Posts".
    pub label: Text,
    /// What it holds.
    pub kind: CategoryKind,
    /// Where a record's key is (a JSON Pointer to a string or an integer):
    /// what a record sent twice is recognised by.
    pub key: Text,
    /// The order of the keys as the walk meets them.
    pub order: Order,
    /// The columns of its CSV file; empty for none.
    #[serde(default)]
    pub csv: Cow<'static, [Column]>,
    /// How the viewer shows it.
    #[serde(default)]
    pub view: View,
    /// Whether its records may name files ([`super::Connector::files`]
    /// is asked of each); always for [`CategoryKind::Files`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub names_files: bool,
    /// Top-level fields never archived (JSON Pointers): a signed download
    /// link is a credential.
    #[serde(default, skip_serializing_if = "<[Text]>::is_empty")]
    pub strip: Cow<'static, [Text]>,
    /// Records the archive counts and names apart, because a reader must
    /// know about them (a Matrix room's encrypted events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Marker>,
    /// The container it belongs to (a room), by [`Container::name`];
    /// `None` for the account's own categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// Records of a category counted apart: those whose value at `pointer` is
/// `equals`, which `says` something a reader must know of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Where in a record (a JSON Pointer).
    pub pointer: Text,
    /// The value that marks it.
    pub equals: Text,
    /// What marked records are, for people, after a count of them ("3
    /// records encrypted, kept …"): it reads for one record as for many.
    pub says: Text,
}

/// Something of the account that holds categories of its own, found when
/// the export opens (a Matrix room: its state, its timeline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Its name in the archive, made by the connector (never the
    /// platform's id): a plain name.
    pub name: String,
    /// What it is, for people ("Room").
    pub kind: String,
    /// The platform's id of it (untrusted text).
    pub id: String,
    /// Its title as the platform gives it (untrusted text).
    pub title: String,
    /// Anything else the platform says of it that a reader needs (whether
    /// it is a direct chat, whether the account left it, …).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub facts: Value,
}

/// An account on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The platform's id of it (an integer on some platforms, a string
    /// such as `@alice:example.org` on others).
    pub id: AccountId,
    /// Its login (untrusted text: sanitised before it is shown or used in a
    /// name).
    pub login: String,
    /// Its display name, when the platform has one.
    pub display_name: Option<String>,
    /// Whether this sign-in may export other accounts (support staff).
    pub support: bool,
}

/// A platform's id of an account: kept as text, read from a JSON number
/// too (the Export API's ids, and sessions and audit records of older
/// versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AccountId(pub String);

impl AccountId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<i64> for AccountId {
    fn from(id: i64) -> Self {
        Self(id.to_string())
    }
}

impl From<&str> for AccountId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for AccountId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl<'de> Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Int(i64),
            Text(String),
        }
        Ok(match Either::deserialize(d)? {
            Either::Int(n) => Self(n.to_string()),
            Either::Text(s) => Self(s),
        })
    }
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The platform's id of it.
    pub id: AccountId,
    /// Its login (untrusted).
    pub login: String,
}

impl From<Account> for UserRef {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            login: a.login,
        }
    }
}

/// What a session holds of one category.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Estimate {
    /// Records (files for files), where the platform says; exact where
    /// [`Features::exact_counts`].
    #[serde(default)]
    pub count: Option<u64>,
    /// Estimated bytes of their JSON (of the files, for files).
    #[serde(default)]
    pub bytes: u64,
    /// The cursor the walk starts from, when the connector fixed it as the
    /// session opened (a room's position when the export began), so that
    /// what is sent later is not mixed in, however late the walk starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

/// An export session as the engine keeps it (and stages it in
/// `session.json`): the same for every connector, which maps its
/// platform's answers onto it. Where the platform has no sessions of its
/// own, the connector makes one up (an id, the time it began).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The session's id (untrusted where the platform gives it: checked
    /// before it names a folder).
    pub export_id: String,
    /// `running`, or how it ended.
    pub status: String,
    /// The snapshot time, or the time the export began (RFC 3339).
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
    /// The categories the connector made as the session opened (a room's
    /// state and timeline), beside those it always has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub found: Vec<Category>,
    /// The containers found as the session opened (rooms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    /// What the connector noted as the session opened, for its own later
    /// calls (what the signed-in account may read, the server's name): kept
    /// with the staged session, so a resumed run asks the same way.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub notes: Value,
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

/// A file a record names, to download and archive beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// What identifies it on the platform (a media id, an `mxc://` URI's
    /// server and id): untrusted text, unique per file.
    pub key: String,
    /// Its name as the platform gives it (untrusted: sanitised before it
    /// names anything).
    pub name: String,
    /// Its media type, as declared.
    #[serde(default)]
    pub content_type: String,
    /// Its size, where the platform says.
    #[serde(default)]
    pub size: Option<u64>,
    /// Its SHA-256 (hex), where the platform gives one.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Where to download it: a path on the platform or an absolute URL.
    /// Never archived (it may be a signed, expiring link).
    pub url: String,
    /// Whether the download carries the sign-in.
    pub auth: Auth,
}

/// How an export ended, for the platform's record of it.
pub struct Ending<'a> {
    /// `completed`, `incomplete`, `failed` or `cancelled`.
    pub status: &'a str,
    /// Records (files for files) the archive holds, per category.
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
