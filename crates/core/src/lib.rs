//! The Keepsake export engine.
//!
//! Everything Keepsake does lives here: talking to a platform's API through
//! its connector,
//! keeping credentials in the OS keyring, fetching pages, assembling the
//! archive and writing the audit log. The CLI and the desktop shell are thin
//! front ends over this crate.
//!
//! This crate must never depend on Tauri, the CLI or the reference platform,
//! and must never write a secret to disk, a log or a process argument.
#![warn(missing_docs)]

pub mod archive;
pub mod audit;
pub mod client;
pub mod connector;
pub mod credentials;
mod csv_cell;
pub mod error;
pub mod export;
mod fsx;
pub mod interrupted;
mod json_text;
mod loopback;
pub mod oauth;
mod pieces;
pub mod platform_url;
pub mod secret;
pub mod signin;
pub mod text;
pub mod viewer;

pub use error::{Class, Code, Error, Hint, Result};
pub use platform_url::{PlatformUrl, PlatformUrlError};
pub use secret::Secret;

/// This build's version, recorded in archives and the audit log.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
