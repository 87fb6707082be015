//! How a failed request becomes a classified [`Error`]: the transport's
//! kind without its URL query, a status with the platform's problem and its
//! retry hint, a JSON body that is too large, cut off or invalid, and any
//! echo of the token redacted.

use std::time::SystemTime;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use super::body::{self, MAX_ERROR_BODY, Pace, Paced};
use super::{MAX_JSON_BYTES, retry};
use crate::error::{Problem, display_url};
use crate::{Error, Result, Secret};

pub(super) fn network(url: &Url, e: &reqwest::Error) -> Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else if e.is_redirect() {
        "a redirect was refused"
    } else {
        "request failed"
    };
    // reqwest's Display includes the URL with its query: keep only the kind.
    let mut detail = what.to_owned();
    if let Some(src) = std::error::Error::source(e) {
        detail.push_str(&format!(" ({src})"));
    }
    Error::Network {
        url: display_url(url),
        detail,
    }
}

pub(super) async fn status_error(url: &Url, resp: reqwest::Response, pace: Pace) -> Error {
    let status = resp.status();
    let header_wait = retry::from_headers(
        resp.headers(),
        SystemTime::now(),
        status == StatusCode::TOO_MANY_REQUESTS,
    );
    let mut body = Paced::new(resp, url, pace);
    let prefix = body::error_prefix(&mut body, MAX_ERROR_BODY).await;
    let problem = serde_json::from_slice::<Problem>(&prefix)
        .ok()
        .map(Box::new);
    // Not retryable as is: the caller fetches a fresh URL.
    let expired = status == StatusCode::FORBIDDEN
        && problem
            .as_ref()
            .is_some_and(|p| p.slug() == "media-url-expired");
    let retry_after = match expired {
        true => None,
        false => header_wait.or_else(|| retry::from_body(problem.as_deref())),
    };
    Error::Status {
        status: status.as_u16(),
        url: display_url(url),
        problem,
        retry_after,
    }
}

/// Reads a whole JSON body, refusing more than [`MAX_JSON_BYTES`].
pub(super) async fn read_json<T: DeserializeOwned>(url: &Url, mut body: Paced) -> Result<T> {
    let Some(buf) = body::read_capped(&mut body, MAX_JSON_BYTES).await? else {
        return Err(Error::Protocol {
            url: display_url(url),
            detail: format!("the answer is larger than {MAX_JSON_BYTES} bytes"),
        });
    };
    serde_json::from_slice(&buf).map_err(|e| {
        // A cut-off body (EOF while parsing) is a transport failure worth a
        // retry; anything else is the platform breaking the contract.
        if e.is_eof() {
            Error::Network {
                url: display_url(url),
                detail: format!("the answer broke off after {} bytes", buf.len()),
            }
        } else {
            Error::Protocol {
                url: display_url(url),
                detail: format!("invalid JSON: {e}"),
            }
        }
    })
}

/// Hides `token`, and anything shaped like a token, in what the platform
/// sent back: a server may echo the token in a problem `detail`, and that
/// text reaches the terminal, the desktop and the audit log.
pub(crate) fn redact(e: Error, token: &Secret) -> Error {
    let scrub = |text: &mut String| {
        let t = token.expose();
        // Too short a "token" would blank out ordinary words.
        if t.len() >= 8 && text.contains(t) {
            *text = text.replace(t, "[redacted]");
        }
        *text = crate::audit::redact(text);
    };
    match e {
        Error::Status {
            status,
            url,
            mut problem,
            retry_after,
        } => {
            if let Some(p) = problem.as_deref_mut() {
                scrub(&mut p.detail);
                scrub(&mut p.title);
                for v in p.extensions.values_mut() {
                    if let serde_json::Value::String(s) = v {
                        scrub(s);
                    }
                }
            }
            Error::Status {
                status,
                url,
                problem,
                retry_after,
            }
        }
        Error::Protocol { url, mut detail } => {
            scrub(&mut detail);
            Error::Protocol { url, detail }
        }
        Error::Network { url, mut detail } => {
            scrub(&mut detail);
            Error::Network { url, detail }
        }
        other => other,
    }
}
