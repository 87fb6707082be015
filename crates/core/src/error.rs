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

    /// A member of the body that is text.
    fn text(&self, name: &str) -> Option<&str> {
        self.extensions
            .get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The platform's code for the error, whichever way its API writes
    /// errors: an RFC 9457 type's slug, WordPress's `code`
    /// (`rest_forbidden`), Matrix's `errcode` (`M_FORBIDDEN`), OAuth's
    /// `error`.
    pub fn code(&self) -> &str {
        Some(self.slug())
            .filter(|s| !s.is_empty())
            .or_else(|| self.text("code"))
            .or_else(|| self.text("errcode"))
            .or_else(|| self.text("error"))
            .unwrap_or("")
    }

    /// What happened, in the platform's own words: an RFC 9457 `detail`
    /// (or `title`), WordPress's `message`, Matrix's `error`, OAuth's
    /// `error_description`.
    pub fn message(&self) -> &str {
        Some(self.detail.as_str())
            .filter(|s| !s.is_empty())
            .or_else(|| self.text("message"))
            .or_else(|| self.text("error_description"))
            .or_else(|| self.text("error"))
            .or_else(|| Some(self.title.as_str()).filter(|s| !s.is_empty()))
            .unwrap_or("")
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
    #[error("the platform refused {url} ({status}): {}", .problem.as_ref().map(|p| p.message()).filter(|d| !d.is_empty()).unwrap_or("no details given"))]
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
    #[error("you are not signed in to {platform}; sign in first")]
    NotSignedIn {
        /// The platform base URL.
        platform: String,
    },

    /// The OS keyring is unavailable or refused the operation.
    #[error(
        "the system keyring is not available ({detail}); Keepsake keeps tokens only there. Unlock or install a keyring (e.g. GNOME Keyring / KWallet with a D-Bus session)"
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
    #[error("not enough free space in {}: the export needs about {needed_mb} MB, {available_mb} MB are free; free some space or choose another folder", path.display())]
    DiskFull {
        /// The destination folder.
        path: PathBuf,
        /// Estimated need, in MB.
        needed_mb: u64,
        /// Free space, in MB.
        available_mb: u64,
    },

    /// The address answers like no platform Keepsake knows.
    #[error(
        "{url} does not answer like any platform Keepsake knows (tried: {tried}); check the address"
    )]
    UnknownPlatform {
        /// The address, as shown.
        url: String,
        /// The kinds of platform asked, by name.
        tried: String,
    },

    /// The user's request cannot be carried out as given.
    #[error("{0}")]
    Invalid(String),

    /// The archive writer stopped while entries were still on their way to
    /// it: the writer's own error, if it had one, says why, and is the one
    /// to show (fetching stops because of it, not the other way round).
    #[error("the archive writer stopped")]
    WriterStopped,

    /// The platform withholds one part of the export (a room the account
    /// left and may no longer read): recorded as a shortfall, the rest of
    /// the export goes on.
    #[error("{what}: {detail}")]
    Withheld {
        /// What is missing, for people ("the room “Team”").
        what: String,
        /// Why, in the platform's words.
        detail: String,
    },

    /// The platform will allow this later (export quota, an export already
    /// running); the message says when or what to do.
    #[error("{message}")]
    TryLater {
        /// [`Code::Quota`] or [`Code::ExportRunning`].
        code: Code,
        /// What happened and what to do next.
        message: String,
        /// When the platform will allow it (RFC 3339), when it said.
        retry_at: Option<String>,
    },

    /// The export was cancelled.
    #[error(
        "the export was cancelled; what was fetched is kept in the destination folder, and resuming the export there continues it"
    )]
    Cancelled,
}

/// The OS error underneath an `fs-err` error (its code kept, so a full
/// disk is still recognised); any other error unchanged.
pub(crate) fn os_error(e: std::io::Error) -> std::io::Error {
    let inner = e
        .get_ref()
        .and_then(|inner| std::error::Error::source(inner))
        .and_then(|source| source.downcast_ref::<std::io::Error>());
    match inner {
        Some(os) => match os.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(os.kind(), os.to_string()),
        },
        None => e,
    }
}

impl Error {
    /// Wraps an I/O error with the file it concerns. An `fs-err` error is
    /// unwrapped to the OS error underneath: `fs-err` already names the
    /// file, which `Error::Io` shows again, and its own message (with the
    /// workspace's `expose_original_error`) leaves out the OS's reason.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source: os_error(source),
        }
    }

    /// What the user can do next, for the front end to say in its own
    /// terms (a flag on the command line, a button in the window): the
    /// messages themselves name no front end's controls.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Error::Cancelled => Some(Hint::Resume),
            Error::TryLater {
                code: Code::ExportRunning,
                ..
            } => Some(Hint::Resume),
            Error::DiskFull { .. } => Some(Hint::OtherFolder),
            Error::Io { .. } if self.is_disk_full() => Some(Hint::FreeSpace),
            Error::Keyring { .. } => Some(Hint::NoKeyring),
            Error::UnknownPlatform { .. } => Some(Hint::NameKind),
            _ if self.class() == Class::NeedsSignIn => Some(Hint::SignIn),
            // The client gave up on a failing platform: what was fetched is
            // kept for a later run.
            Error::Network { .. } | Error::Status { .. } if self.class() == Class::Retryable => {
                Some(Hint::Resume)
            }
            _ => None,
        }
    }

    /// Whether the disk (or the user's quota on it) filled up: found
    /// before the export, or while writing. An export stopped by it keeps
    /// what it fetched, to continue once there is room.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::DiskFull { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            _ => false,
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
                429 if problem.as_ref().is_some_and(|p| p.code() == "export-quota") => Class::Fatal,
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

    /// What the platform said of this error in its own words, if it said
    /// anything.
    pub fn platform_said(&self) -> Option<&str> {
        self.problem()
            .map(|p| p.message())
            .filter(|m| !m.is_empty())
    }

    /// A short stable code for the audit log and the UI.
    pub fn code(&self) -> Code {
        match self {
            Error::PlatformUrl(_) => Code::PlatformUrl,
            Error::Network { .. } => Code::Network,
            Error::Status {
                status, problem, ..
            } => match (status, problem.as_ref().map(|p| p.code())) {
                (401, _) => Code::SignedOut,
                (403, _) => Code::Forbidden,
                (404, _) => Code::NotFound,
                (409, Some("export-finished")) => Code::ExportFinished,
                (409, _) => Code::ExportRunning,
                (410, _) => Code::AccountDeleted,
                (429, Some("export-quota")) => Code::Quota,
                (429, _) => Code::RateLimited,
                (422, _) => Code::Rejected,
                _ => Code::PlatformError,
            },
            Error::Protocol { .. } => Code::Protocol,
            Error::NotSignedIn { .. } => Code::SignedOut,
            Error::Keyring { .. } => Code::Keyring,
            Error::SignIn { .. } => Code::SignIn,
            Error::Io { .. } if self.is_disk_full() => Code::DiskFull,
            Error::Io { .. } => Code::Io,
            Error::Archive { .. } => Code::Archive,
            Error::Audit { .. } => Code::Audit,
            Error::DiskFull { .. } => Code::DiskFull,
            Error::UnknownPlatform { .. } => Code::PlatformUrl,
            Error::Invalid(_) => Code::Invalid,
            Error::WriterStopped => Code::Archive,
            Error::Withheld { .. } => Code::Withheld,
            Error::TryLater { code, .. } => *code,
            Error::Cancelled => Code::Cancelled,
        }
    }
}

/// What the user can do next about an error ([`Error::hint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Sign in (again).
    SignIn,
    /// Run the same export again in the same folder: it continues.
    Resume,
    /// Choose another destination folder.
    OtherFolder,
    /// The disk filled up while the export wrote to it: free some space
    /// and run it again in the same folder, where it continues.
    FreeSpace,
    /// The keyring does not answer; on a machine without one, the command
    /// line can keep the token in a plain file the user chooses.
    NoKeyring,
    /// The platform was not recognised; where a front end can say which
    /// kind it is, that skips the question.
    NameKind,
}

/// The closed set of error codes: recorded in the audit log, sent to the
/// desktop UI (which branches on them), mapped to exit codes. Stable text
/// ([`Code::as_str`]); new codes may be added, none renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The platform address was refused.
    PlatformUrl,
    /// The platform could not be reached, or the connection broke.
    Network,
    /// The sign-in is missing, expired or revoked.
    SignedOut,
    /// The sign-in may not do this.
    Forbidden,
    /// No such thing on the platform.
    NotFound,
    /// An export of the account is already running.
    ExportRunning,
    /// The export session has already ended.
    ExportFinished,
    /// The account was deleted.
    AccountDeleted,
    /// The platform's export quota is used up for now.
    Quota,
    /// The platform asks to slow down.
    RateLimited,
    /// The platform refused the request as given.
    Rejected,
    /// The platform failed in another way.
    PlatformError,
    /// The platform broke its own API.
    Protocol,
    /// The OS keyring did not answer.
    Keyring,
    /// Signing in failed.
    SignIn,
    /// A file could not be read or written.
    Io,
    /// An archive is damaged, or could not be written.
    Archive,
    /// The audit log is damaged.
    Audit,
    /// Not enough disk space.
    DiskFull,
    /// The request cannot be carried out as given.
    Invalid,
    /// The platform withholds part of the export.
    Withheld,
    /// The export was cancelled.
    Cancelled,
}

impl Code {
    /// The code as text (`signed_out`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::PlatformUrl => "platform_url",
            Code::Network => "network",
            Code::SignedOut => "signed_out",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::ExportRunning => "export_running",
            Code::ExportFinished => "export_finished",
            Code::AccountDeleted => "account_deleted",
            Code::Quota => "quota",
            Code::RateLimited => "rate_limited",
            Code::Rejected => "rejected",
            Code::PlatformError => "platform_error",
            Code::Protocol => "protocol",
            Code::Keyring => "keyring",
            Code::SignIn => "sign_in",
            Code::Io => "io",
            Code::Archive => "archive",
            Code::Audit => "audit",
            Code::DiskFull => "disk_full",
            Code::Invalid => "invalid",
            Code::Withheld => "withheld",
            Code::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
#[path = "error_tests.rs"]
mod tests;
