//! The Keepsake export engine.
//!
//! Everything Keepsake does lives here: talking to a platform's Export API,
//! keeping credentials in the OS keyring, fetching pages, assembling the
//! archive and writing the audit log. The CLI and the desktop shell are thin
//! front ends over this crate.
//!
//! This crate must never depend on Tauri, the CLI or the reference platform,
//! and must never write a secret to disk, a log or a process argument.
//!
//! Today it holds only the platform URL policy; the export pipeline arrives
//! with the export-engine issue.
#![warn(missing_docs)]

pub mod platform_url;

pub use platform_url::{PlatformUrl, PlatformUrlError};
