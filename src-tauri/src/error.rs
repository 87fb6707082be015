//! The one error shape that crosses IPC: `{ code, message, retryAt? }`.
//!
//! `code` is a closed set the UI branches on (what to say, what to offer
//! next); it is derived once from the engine's own classification
//! (`Error::code()` / `Error::class()`), never from message text. `message`
//! is the engine's sentence, shown as the detail under the UI's own words.

use keepsake_core::{Code, Error};
use serde::Serialize;
use ts_rs::TS;

/// What went wrong, as far as the UI needs to know to choose its words and
/// the next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not signed in, or the sign-in expired or was revoked: sign in again.
    SignedOut,
    /// The browser sign-in did not complete (declined, timed out, refused).
    SignIn,
    /// The OS keyring is not available.
    Keyring,
    /// The platform's export quota is used up; `retryAt` says until when.
    Quota,
    /// An export of this account is already running (here or elsewhere).
    ExportRunning,
    /// The account was deleted on the platform.
    AccountDeleted,
    /// Not enough free space in the destination.
    DiskFull,
    /// The platform could not be reached.
    Network,
    /// The signed-in account may not do this.
    Forbidden,
    /// The request itself is wrong (a bad URL, a missing reason, …).
    Invalid,
    /// The export was cancelled.
    Cancelled,
    /// An archive is damaged or unreadable.
    Archive,
    /// The audit log is damaged or unreadable.
    Audit,
    /// A file could not be read or written.
    File,
    /// The platform failed or answered against its contract.
    Platform,
    /// A bug in Keepsake.
    Internal,
}

/// An error as the UI receives it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct IpcError {
    /// What kind of failure (the UI branches on it).
    pub code: ErrorCode,
    /// What happened, in the engine's words.
    pub message: String,
    /// When trying again makes sense (RFC 3339), for `quota`.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<String>,
}

impl IpcError {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_at: None,
        }
    }
}

/// Results of commands.
pub type CmdResult<T> = Result<T, IpcError>;

impl From<Error> for IpcError {
    fn from(e: Error) -> Self {
        let code = match e.code() {
            Code::SignedOut => ErrorCode::SignedOut,
            Code::SignIn => ErrorCode::SignIn,
            Code::Keyring => ErrorCode::Keyring,
            Code::Quota => ErrorCode::Quota,
            Code::ExportRunning => ErrorCode::ExportRunning,
            Code::AccountDeleted => ErrorCode::AccountDeleted,
            Code::DiskFull => ErrorCode::DiskFull,
            Code::Network => ErrorCode::Network,
            Code::Forbidden => ErrorCode::Forbidden,
            Code::Invalid | Code::PlatformUrl | Code::Rejected => ErrorCode::Invalid,
            Code::Cancelled => ErrorCode::Cancelled,
            Code::Archive => ErrorCode::Archive,
            Code::Audit => ErrorCode::Audit,
            Code::Io => ErrorCode::File,
            Code::NotFound
            | Code::RateLimited
            | Code::PlatformError
            | Code::Protocol
            | Code::ExportFinished
            | Code::Withheld => ErrorCode::Platform,
        };
        let retry_at = match &e {
            Error::TryLater { retry_at, .. } if code == ErrorCode::Quota => retry_at.clone(),
            _ => None,
        };
        Self {
            code,
            message: e.to_string(),
            retry_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_codes_map_onto_the_closed_set() {
        let quota = Error::TryLater {
            code: Code::Quota,
            message: "this account has reached the platform's export limit; the next export is possible at 2026-11-26T14:05:00Z. Nothing was downloaded.".into(),
            retry_at: Some("2026-11-26T14:05:00Z".into()),
        };
        let ipc = IpcError::from(quota);
        assert_eq!(ipc.code, ErrorCode::Quota);
        assert_eq!(ipc.retry_at.as_deref(), Some("2026-11-26T14:05:00Z"));

        let cases = [
            (Error::Cancelled, ErrorCode::Cancelled),
            (
                Error::NotSignedIn {
                    platform: "p".into(),
                },
                ErrorCode::SignedOut,
            ),
            (
                Error::Network {
                    url: "u".into(),
                    detail: "d".into(),
                },
                ErrorCode::Network,
            ),
            (Error::Invalid("x".into()), ErrorCode::Invalid),
            (
                Error::DiskFull {
                    path: "/x".into(),
                    needed_mb: 2,
                    available_mb: 1,
                },
                ErrorCode::DiskFull,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(IpcError::from(e).code, want);
        }
        let json = serde_json::to_value(IpcError::new(ErrorCode::DiskFull, "m")).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"code": "disk_full", "message": "m"})
        );
    }
}
