//! The connector conformance suite: one set of checks that every connector
//! runs against its real server, through `keepsake` as a user runs it.
//!
//! Each check is a function over a [`Target`] (a running server, an
//! account's token, the path of one of its paged collections); each
//! connector's module starts its server and calls every check. Today the
//! Keepsake Export API against the reference platform; WordPress and
//! Matrix add a module each.

// Running the CLI in a private home (shared with the hostile suite).
#[path = "../hostile/common.rs"]
mod common;
// The HTTP fault axes: a huge error body, a trickling body, a Retry-After
// past the ceiling, each through the fault proxy in front of the server.
mod http_axes;
// The Keepsake Export API v1, against the reference platform.
mod keepsake;

/// What a check needs of a connector's server.
pub struct Target {
    /// The server's base URL (what `keepsake login --platform` takes).
    pub url: String,
    /// A token of the account to export, for `KEEPSAKE_TOKEN`.
    pub token: String,
    /// A part of the path of one paged collection's requests (`/posts`).
    pub page_path: &'static str,
}
