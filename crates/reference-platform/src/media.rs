//! Signed, expiring media URLs and the download endpoint with `Range`.
//!
//! The signed URL is the credential (as with object stores): it names the
//! media item and the export it was issued for, and expires. An expired URL
//! answers `403 media-url-expired`; the client asks the metadata endpoint for
//! a fresh one.

use std::collections::HashMap;

use axum::{
    body::{Body, Bytes},
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rusqlite::{OptionalExtension, params};
use sha2::Sha256;

use crate::{
    PlatformState, clock,
    faults::{Knob, Roll},
    problem::Problem,
};

const CHUNK: i64 = 256 * 1024;

/// Issues media URLs for one export session.
pub(crate) struct Signer {
    pub key: Vec<u8>,
    pub base: String,
    pub export_id: String,
    pub ttl_secs: i64,
}

fn signature(key: &[u8], media_id: i64, export_id: &str, expires: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{media_id}.{export_id}.{expires}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl Signer {
    /// A fresh URL for `media_id` and when it expires.
    pub fn url(&self, media_id: i64) -> (String, i64) {
        let expires = clock::now() + self.ttl_secs;
        let sig = signature(&self.key, media_id, &self.export_id, expires);
        (
            format!(
                "{}/media/{media_id}/content?export={}&expires={expires}&sig={sig}",
                self.base, self.export_id
            ),
            expires,
        )
    }
}

fn valid(key: &[u8], media_id: i64, q: &HashMap<String, String>) -> bool {
    let (Some(export), Some(expires), Some(sig)) =
        (q.get("export"), q.get("expires"), q.get("sig"))
    else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    // Valid through its last whole second, so a TTL is never cut short.
    if expires < clock::now() {
        return false;
    }
    let Ok(given) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(format!("{media_id}.{export}.{expires}").as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Parses a single `bytes=` range against `size`; `Err` means unsatisfiable.
fn parse_range(value: &str, size: i64) -> Option<Result<(i64, i64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multi-range: serve the whole body, as RFC 9110 allows
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: i64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        ((size - n).max(0), size - 1)
    } else {
        let start: i64 = a.parse().ok()?;
        let end = if b.is_empty() {
            size - 1
        } else {
            b.parse::<i64>().ok()?.min(size - 1)
        };
        if start > end || start >= size {
            return Some(Err(()));
        }
        (start, end)
    };
    Some(Ok(range))
}

/// `GET|HEAD /media/{media_id}/content`.
pub(crate) async fn download(
    State(state): State<PlatformState>,
    Path(media_id): Path<i64>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
    roll: Option<axum::Extension<Roll>>,
) -> Result<Response, Problem> {
    if !valid(&state.inner.media_key, media_id, &q) {
        return Err(Problem::media_url_expired(media_id));
    }
    let row = state
        .store()
        .run(move |c| {
            c.query_row(
                "SELECT m.size, m.sha256, m.content_type, u.deleted_at IS NOT NULL, m.owner_id FROM media m \
                 JOIN users u ON u.id = m.owner_id WHERE m.id = ?1",
                params![media_id],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, bool>(3)?, r.get::<_, i64>(4)?)),
            )
            .optional()
        })
        .await?;
    let Some((size, sha256, content_type, deleted, owner)) = row else {
        return Err(Problem::not_found(format!("no media item {media_id}")));
    };
    if deleted {
        return Err(Problem::account_deleted(owner));
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size - 1),
        Some(Ok((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Some(Err(())) => {
            let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            resp.headers_mut()
                .insert(header::CONTENT_RANGE, hv(format!("bytes */{size}")));
            return Ok(resp);
        }
    };
    let len = (end - start + 1).max(0);
    let corrupt = roll.is_some_and(|r| r.0.hits(&state.faults(), Knob::Corrupt));
    let body = if method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        Body::from_stream(blob_stream(
            state.clone(),
            media_id,
            start,
            end,
            corrupt.then_some(size / 2),
        ))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, hv(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, hv(format!("\"{sha256}\"")));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            hv(format!("bytes {start}-{end}/{size}")),
        );
    }
    Ok(resp)
}

fn hv(s: String) -> HeaderValue {
    HeaderValue::from_str(&s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// Streams `start..=end` of the blob in chunks, never holding the whole file.
/// `flip` names one absolute offset whose byte is inverted (the corrupt-media
/// fault).
fn blob_stream(
    state: PlatformState,
    media_id: i64,
    start: i64,
    end: i64,
    flip: Option<i64>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(start, move |pos| {
        let state = state.clone();
        async move {
            if pos > end {
                return None;
            }
            let n = (end - pos + 1).min(CHUNK);
            let read = state
                .store()
                .run(move |c| {
                    let blob =
                        c.blob_open(rusqlite::MAIN_DB, "media_blobs", "data", media_id, true)?;
                    let mut buf = vec![0u8; n as usize];
                    blob.read_at_exact(&mut buf, pos as usize)?;
                    Ok(buf)
                })
                .await;
            match read {
                Ok(mut buf) => {
                    if let Some(f) = flip.filter(|f| (pos..pos + n).contains(f)) {
                        buf[(f - pos) as usize] ^= 0xFF;
                    }
                    Some((Ok(Bytes::from(buf)), pos + n))
                }
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), end + 1)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=5-1", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn signatures_bind_media_export_and_expiry() {
        let signer = Signer {
            key: b"k".to_vec(),
            base: "http://h".into(),
            export_id: "exp_1".into(),
            ttl_secs: 60,
        };
        let (url, _) = signer.url(7);
        let q: HashMap<String, String> = url::Url::parse(&url)
            .expect("url")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert!(valid(b"k", 7, &q));
        assert!(!valid(b"k", 8, &q), "another media id");
        assert!(!valid(b"other", 7, &q), "another key");
        let mut expired = q.clone();
        expired.insert("expires".into(), (clock::now() - 1).to_string());
        assert!(!valid(b"k", 7, &expired));
    }
}
