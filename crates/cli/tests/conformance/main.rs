//! The connector conformance suite: one set of checks that every connector
//! runs against its real server, through `keepsake` as a user runs it.
//!
//! Each check is a function over a [`Target`] (a running server, an
//! account's token, the path of one of its paged collections, and a
//! [`Server`] that reads and changes what the server holds the platform's
//! own way); each connector's module starts its server and calls every
//! check: the Keepsake Export API against the reference platform
//! (`keepsake.rs`), WordPress against a real WordPress on MariaDB
//! (`wordpress.rs`), Matrix against a real Synapse (`matrix.rs`).
//!
//! A new connector's module (see `keepsake.rs`): start the server with an
//! account that spans several pages of one collection (the kill, the
//! writes and the revocation happen between pages); implement [`Server`]
//! with what the platform offers its own administrators (its API as
//! another account, an admin API, its database), never through Keepsake;
//! say how its records and requests are keyed; then one `#[tokio::test]`
//! per check. Every check runs the CLI through the fault proxy or straight
//! at the server, so it knows nothing of the platform's paths beyond
//! [`Target::page_path`] and [`Target::file_path`].

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

// Running the CLI in a private home (shared with the hostile suite).
#[path = "../hostile/common.rs"]
mod common;
// What every check asserts of an archive: that it holds exactly what the
// server holds, that independent tools accept it, that no file has the
// token.
mod expect;
// The HTTP fault axes: a huge error body, a trickling body, a Retry-After
// past the ceiling, each through the fault proxy in front of the server.
mod http_axes;
// A full export compared record by record, file by file, with the server.
mod full;
// Every archive (whole and split) through unzip -t, Python's zipfile, the
// bagit validator and `keepsake verify`, which must each reject a damaged
// copy.
mod archives;
// `kill -9` part-way, then a resume that fetches nothing a second time.
mod resume;
// Records written and deleted while the walk is under way.
mod walk;
// Resets, cut bodies, stalls and silence between client and server.
mod faults;
// Wrong, expired and revoked credentials, before and during the walk.
mod credentials;
// No token in any file under the home, data or output folders.
mod tokens;
// The Keepsake Export API v1, against the reference platform.
mod keepsake;
// WordPress's REST API, against a real WordPress on MariaDB.
mod wordpress;
// The Matrix client-server API, against a real Synapse.
mod matrix;

/// What a check needs of a connector's server.
pub struct Target {
    /// The server's base URL (what `keepsake login --platform` takes).
    pub url: String,
    /// A token of the account to export, for `KEEPSAKE_TOKEN`.
    pub token: String,
    /// What else the CLI needs to know of the sign-in (`KEEPSAKE_KIND`,
    /// `KEEPSAKE_USER` for WordPress's HTTP Basic).
    pub env: Vec<(&'static str, String)>,
    /// A part of the path and query of one paged collection's requests
    /// (`/posts`), and of no other request.
    pub page_path: &'static str,
    /// A part of the path and query of file downloads (`/content`).
    pub file_path: &'static str,
    /// The key of a record, as the connector declares it (`id`,
    /// `event_id`…); `None` for a record without one.
    pub record_key: fn(&Value) -> Option<String>,
    /// What a request fetches, for telling whether it was fetched twice:
    /// the same page of records or the same file gives the same key;
    /// `None` for requests that are not a page or a file (sign-in, the
    /// session itself), which a resume may repeat.
    pub fetch_key: fn(method: &str, path: &str) -> Option<String>,
    /// What the platform promises about a walk.
    pub features: Features,
    /// Reads and changes the account the server's own way.
    pub server: Arc<dyn Server>,
}

/// A private home whose CLI talks to `url` (the server, or a proxy in
/// front of it) as `t`'s account.
pub fn home(url: &str, t: &Target) -> common::Home {
    common::Home::with_env(url, &t.token, t.env.clone())
}

/// Capability flags: what a check may expect of the platform.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// An export sees the account as it was when the export began, whatever
    /// is written or deleted during the walk.
    pub snapshot: bool,
    /// The archive entry of the collection [`Server::write`] writes to
    /// (`data/posts.json`), when the platform can be written to.
    pub writes: Option<&'static str>,
    /// The platform's counts are exact (not estimates that writes move).
    pub exact_counts: bool,
    /// Some files come with no declared size: the engine downloads such a
    /// file twice and keeps it only when both copies match (a cut body
    /// framed as whole is caught), so one run fetches it twice.
    pub unsized_files: bool,
}

/// A future a [`Server`] returns.
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The server side of a conformance run, each the platform's own way
/// (its API, an admin API, its database): never through Keepsake.
pub trait Server: Send + Sync {
    /// Everything the account holds, read now.
    fn holdings(&self) -> Fut<'_, Holdings>;
    /// A new token of the account, as good as [`Target::token`].
    fn fresh_token(&self) -> Fut<'_, String>;
    /// A token of the account that the platform issued and that has
    /// expired; `None` where the platform's credentials do not expire
    /// (WordPress's application passwords).
    fn expired_token(&self) -> Fut<'_, Option<String>>;
    /// Withdraws `token`, as its owner signing out elsewhere would.
    fn revoke(&self, token: String) -> Fut<'_, ()>;
    /// Writes a new record into the collection of [`Features::writes`];
    /// returns its key.
    fn write(&self) -> Fut<'_, String>;
    /// Deletes the record of that collection with `key`.
    fn delete(&self, key: String) -> Fut<'_, ()>;
}

/// What the server holds for the account, in the shape the archive must
/// keep it.
#[derive(Debug, Clone, Default)]
pub struct Holdings {
    /// Per archive entry (`data/posts.json`): an array of the records it
    /// must hold (keyed by [`Target::record_key`]), or the one object. Each
    /// record holds the fields the archive must keep as they are; the
    /// archive may add fields of its own (where a file went).
    pub entries: BTreeMap<String, Value>,
    /// Every file the account holds.
    pub files: Vec<HeldFile>,
}

/// A file the server holds.
#[derive(Debug, Clone)]
pub struct HeldFile {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (lower-case hex).
    pub sha256: String,
}
