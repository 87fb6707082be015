//! The engine's one error type, classified once (as rclone's `fserrors`
//! does) so callers never match on strings: retry it, sign in again, or stop.
//!
//! Messages say what happened in the user's terms and name the file or URL
//! involved; URLs are shown without credentials or query strings.

use std::path::PathBuf;
use std::time::Duration;

/// What a caller should do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Try again (after a backoff or `Retry-After`).
    Retryable,
    /// The credentials are missing, expired or revoked: sign in again.
    NeedsSignIn,
    /// Retrying will not help.
    Fatal,
}

/// Results of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An RFC 9457 problem as the platform sent it.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct Problem {
    /// Problem type URI.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Short summary.
    #[serde(default)]
    pub title: String,
    /// What happened, for people.
    #[serde(default)]
    pub detail: String,
    /// Every other member (e.g. `next_allowed_at`, `running_export_id`).
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// The slug at the end of the problem type (`export-quota`).
    pub fn slug(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or("")
    }
}

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The platform URL was refused.
    #[error(transparent)]
    PlatformUrl(#[from] crate::PlatformUrlError),

    /// The platform could not be reached or the connection broke.
    #[error("could not reach the platform at {url}: {detail}")]
    Network {
        /// The URL, without query or credentials.
        url: String,
        /// What failed (connect, timeout, reset).
        detail: String,
    },

    /// The platform answered with an error status.
    #[error("the platform refused {url} ({status}): {}", .problem.as_ref().map(|p| p.detail.as_str()).filter(|d| !d.is_empty()).unwrap_or("no details given"))]
    Status {
        /// HTTP status.
        status: u16,
        /// The URL, without query or credentials.
        url: String,
        /// The problem body, when the platform sent one.
        problem: Option<Box<Problem>>,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },

    /// The platform sent something that breaks the contract.
    #[error("the platform sent an invalid answer for {url}: {detail}")]
    Protocol {
        /// The URL, without query or credentials.
        url: String,
        /// What was wrong with it.
        detail: String,
    },

    /// No stored sign-in for this platform.
    #[error(
        "you are not signed in to {platform}; run `keepsake login --platform {platform}` first"
    )]
    NotSignedIn {
        /// The platform base URL.
        platform: String,
    },

    /// The OS keyring is unavailable or refused the operation.
    #[error(
        "the system keyring is not available ({detail}); Keepsake keeps tokens only there. Unlock or install a keyring (e.g. GNOME Keyring / KWallet with a D-Bus session), or pass --insecure-token-file PATH to accept a plain file"
    )]
    Keyring {
        /// What the keyring said.
        detail: String,
    },

    /// Signing in failed.
    #[error("sign-in failed: {detail}")]
    SignIn {
        /// Why.
        detail: String,
    },

    /// A file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("write", "rename", …).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The archive is malformed or fails verification.
    #[error("archive {}: {detail}", path.display())]
    Archive {
        /// The archive file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// The audit log is unreadable or its chain is broken.
    #[error("audit log {}: {detail}", path.display())]
    Audit {
        /// The log file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },

    /// Not enough free disk space for the export.
    #[error("not enough free space in {}: the export needs about {needed_mb} MB, {available_mb} MB are free; free some space or choose another folder with --out", path.display())]
    DiskFull {
        /// The destination folder.
        path: PathBuf,
        /// Estimated need, in MB.
        needed_mb: u64,
        /// Free space, in MB.
        available_mb: u64,
    },

    /// The user's request cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),

    /// The archive writer stopped while entries were still on their way to
    /// it: the writer's own error, if it had one, says why, and is the one
    /// to show (fetching stops because of it, not the other way round).
    #[error("the archive writer stopped")]
    WriterStopped,

    /// The platform will allow this later (export quota, an export already
    /// running); the message says when or what to do.
    #[error("{message}")]
    TryLater {
        /// `quota` or `export_running`.
        code: &'static str,
        /// What happened and what to do next.
        message: String,
        /// When the platform will allow it (RFC 3339), when it said.
        retry_at: Option<String>,
    },

    /// The export was cancelled.
    #[error(
        "the export was cancelled; what was fetched is kept in the destination folder, and the same command with --resume continues it"
    )]
    Cancelled,
}

impl Error {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// Retry, sign in, or stop.
    pub fn class(&self) -> Class {
        match self {
            Error::Network { .. } => Class::Retryable,
            Error::Status {
                status, problem, ..
            } => match status {
                401 => Class::NeedsSignIn,
                // A quota refusal is not worth retrying within an export: the
                // wait is an hour, and the user decides.
                429 if problem.as_ref().is_some_and(|p| p.slug() == "export-quota") => Class::Fatal,
                408 | 425 | 429 | 500..=599 => Class::Retryable,
                _ => Class::Fatal,
            },
            Error::NotSignedIn { .. } | Error::SignIn { .. } => Class::NeedsSignIn,
            _ => Class::Fatal,
        }
    }

    /// The platform's problem, if this error carries one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Status { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }

    /// A short stable code for the audit log and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PlatformUrl(_) => "platform_url",
            Error::Network { .. } => "network",
            Error::Status {
                status, problem, ..
            } => match (status, problem.as_ref().map(|p| p.slug())) {
                (401, _) => "signed_out",
                (403, _) => "forbidden",
                (404, _) => "not_found",
                (409, _) => "export_running",
                (410, _) => "account_deleted",
                (429, Some("export-quota")) => "quota",
                (429, _) => "rate_limited",
                (422, _) => "rejected",
                _ => "platform_error",
            },
            Error::Protocol { .. } => "protocol",
            Error::NotSignedIn { .. } => "signed_out",
            Error::Keyring { .. } => "keyring",
            Error::SignIn { .. } => "sign_in",
            Error::Io { .. } => "io",
            Error::Archive { .. } => "archive",
            Error::Audit { .. } => "audit",
            Error::DiskFull { .. } => "disk_full",
            Error::Invalid(_) => "invalid",
            Error::WriterStopped => "archive",
            Error::TryLater { code, .. } => code,
            Error::Cancelled => "cancelled",
        }
    }
}

/// A URL as it may be shown or logged: no user info, no query, no fragment
/// (signed media URLs carry their signature in the query).
pub fn display_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, slug: &str) -> Error {
        Error::Status {
            status: code,
            url: "u".into(),
            problem: Some(Box::new(Problem {
                kind: format!("x/{slug}"),
                ..Problem::default()
            })),
            retry_after: None,
        }
    }

    #[test]
    fn errors_are_classified_once() {
        assert_eq!(status(503, "unavailable").class(), Class::Retryable);
        assert_eq!(status(429, "rate-limited").class(), Class::Retryable);
        assert_eq!(status(429, "export-quota").class(), Class::Fatal);
        assert_eq!(status(401, "invalid-token").class(), Class::NeedsSignIn);
        assert_eq!(status(410, "account-deleted").class(), Class::Fatal);
        assert_eq!(status(410, "account-deleted").code(), "account_deleted");
        assert_eq!(
            Error::Network {
                url: "u".into(),
                detail: "reset".into()
            }
            .class(),
            Class::Retryable
        );
    }

    #[test]
    fn urls_are_shown_without_secrets() {
        let u = url::Url::parse("https://u:p@h.example/media/1?sig=abc#x").expect("url");
        assert_eq!(display_url(&u), "https://h.example/media/1");
    }
}
