//! The Keepsake reference platform.
//!
//! A real HTTP server (axum) over a real SQLite database that implements the
//! Export API contract in `docs/api.md` / `docs/api/openapi.yaml`: OAuth 2.0
//! for native apps with PKCE, personal access tokens, export sessions with a
//! snapshot (`as_of`), keyset-paged collections, signed expiring media URLs
//! with `Range`, RFC 9457 problems, rate limits, quotas, deterministic
//! seeding and deterministic fault injection.
//!
//! It is the embedded default for demos, the server every test and benchmark
//! runs against, and the reference a platform team implements the contract
//! from. It must never share code with the Keepsake client: the client has to
//! work against any platform that honours the contract, not against this
//! implementation's quirks.
#![warn(missing_docs)]

mod api;
mod auth;
mod clock;
pub mod config;
mod exports;
pub mod faults;
mod html;
mod http;
mod media;
mod oauth;
mod problem;
mod ratelimit;
pub mod seed;
mod state;
pub mod store;
mod wire;

pub use config::Config;
pub use faults::FaultPlan;
pub use http::{app, serve};
pub use state::PlatformState;
pub use store::{Store, StoreError};

/// The registered public OAuth client id used by the Keepsake apps.
pub const CLIENT_ID: &str = "keepsake";

/// The scope that lets a user export their own account.
pub const SCOPE_SELF: &str = "export:self";
/// The scope that lets support staff export any account.
pub const SCOPE_ANY: &str = "export:any";
