//! Deterministic fault injection for client test suites.
//!
//! Off by default. Each knob is a probability that a request to `/api/v1/*`
//! or `/media/*` suffers that fault. The decision is a pure function of the
//! plan's seed, the knob, the request (method, path without its `exp_*`
//! export-id segments, query without `sig`, `expires` and `export`) and how
//! many times that same request was seen before — so a run is repeatable
//! even when a client fetches categories concurrently, and a retried request
//! eventually gets through unless a knob is 1.0.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{PlatformState, problem::Problem};

/// Which faults to inject, and how often.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Seed of the deterministic fault sequence.
    pub seed: u64,
    /// Added latency before every response, in milliseconds.
    pub latency_ms: u64,
    /// Fraction of requests answered `429` with `Retry-After`.
    pub rate_429: f64,
    /// Fraction answered `500`.
    pub rate_500: f64,
    /// Fraction answered `503` with `Retry-After`.
    pub rate_503: f64,
    /// The `Retry-After` those answers carry, in seconds.
    pub retry_after_secs: u64,
    /// Fraction whose connection is cut half-way through the body.
    pub reset_mid_body: f64,
    /// Fraction of JSON bodies cut in half (with a matching Content-Length).
    pub truncate_json: f64,
    /// Fraction of bodies sent one byte at a time.
    pub slow_body: f64,
    /// Pause after every 64 one-byte chunks of a slow body, in milliseconds.
    pub slow_body_delay_ms: u64,
    /// Fraction of pages whose `next_cursor` is the cursor they were asked for.
    pub repeat_cursor: f64,
    /// Fraction of pages that repeat the previous page's last record first.
    pub duplicate_record: f64,
    /// Fraction of media downloads with one byte flipped (the declared
    /// SHA-256 no longer matches).
    pub corrupt_media: f64,
    /// OAuth access tokens expire this many seconds after issue.
    pub token_ttl_secs: Option<u64>,
    /// Signed media URLs live this many seconds.
    pub media_url_ttl_secs: Option<u64>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            seed: 0,
            latency_ms: 0,
            rate_429: 0.0,
            rate_500: 0.0,
            rate_503: 0.0,
            retry_after_secs: 1,
            reset_mid_body: 0.0,
            truncate_json: 0.0,
            slow_body: 0.0,
            slow_body_delay_ms: 1,
            repeat_cursor: 0.0,
            duplicate_record: 0.0,
            corrupt_media: 0.0,
            token_ttl_secs: None,
            media_url_ttl_secs: None,
        }
    }
}

impl FaultPlan {
    /// Checks that every fraction lies in `0..=1`.
    pub fn validate(&self) -> Result<(), String> {
        let fractions = [
            ("rate_429", self.rate_429),
            ("rate_500", self.rate_500),
            ("rate_503", self.rate_503),
            ("reset_mid_body", self.reset_mid_body),
            ("truncate_json", self.truncate_json),
            ("slow_body", self.slow_body),
            ("repeat_cursor", self.repeat_cursor),
            ("duplicate_record", self.duplicate_record),
            ("corrupt_media", self.corrupt_media),
        ];
        for (name, v) in fractions {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, not {v}"));
            }
        }
        Ok(())
    }
}

/// The faults a knob can cause; each rolls its own die.
#[derive(Debug, Clone, Copy, Hash)]
pub(crate) enum Knob {
    Status429,
    Status500,
    Status503,
    Reset,
    Truncate,
    Slow,
    RepeatCursor,
    Duplicate,
    Corrupt,
}

/// Remembers how often each request was seen, so rolls are repeatable.
#[derive(Default)]
pub(crate) struct FaultDice {
    seen: Mutex<HashMap<u64, u64>>,
}

impl FaultDice {
    pub fn reset(&self) {
        if let Ok(mut s) = self.seen.lock() {
            s.clear();
        }
    }

    fn roll_for(&self, key: u64) -> Roll {
        let n = self
            .seen
            .lock()
            .map(|mut s| {
                let n = s.entry(key).or_insert(0);
                *n += 1;
                *n
            })
            .unwrap_or(0);
        Roll { key, n }
    }
}

/// One request's identity in the fault sequence; stored in the request's
/// extensions so handlers can ask about page-level faults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Roll {
    key: u64,
    n: u64,
}

impl Roll {
    pub fn hits(&self, plan: &FaultPlan, knob: Knob) -> bool {
        let p = match knob {
            Knob::Status429 => plan.rate_429,
            Knob::Status500 => plan.rate_500,
            Knob::Status503 => plan.rate_503,
            Knob::Reset => plan.reset_mid_body,
            Knob::Truncate => plan.truncate_json,
            Knob::Slow => plan.slow_body,
            Knob::RepeatCursor => plan.repeat_cursor,
            Knob::Duplicate => plan.duplicate_record,
            Knob::Corrupt => plan.corrupt_media,
        };
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (plan.seed, self.key, self.n, knob as u8).hash(&mut h);
        let x = splitmix64(h.finish());
        (x as f64 / u64::MAX as f64) < p
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn request_key(req: &Request) -> u64 {
    // SipHash with fixed keys: stable for the life of the process, which is
    // all the determinism a run needs. The signature and expiry of media URLs
    // are left out so a refreshed URL counts as the same request, and export
    // ids (random per session) are left out so a seed picks the same faults
    // in every run rather than a different set per export.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    req.method().as_str().hash(&mut h);
    for segment in req.uri().path().split('/') {
        if !segment.starts_with("exp_") {
            segment.hash(&mut h);
        }
    }
    if let Some(q) = req.uri().query() {
        for pair in q.split('&').filter(|p| {
            !p.starts_with("sig=") && !p.starts_with("expires=") && !p.starts_with("export=")
        }) {
            pair.hash(&mut h);
        }
    }
    h.finish()
}

/// `METHOD path?query` without the media signature, plus any Range.
fn request_label(req: &Request) -> String {
    let mut s = format!("{} {}", req.method(), req.uri().path());
    if let Some(q) = req.uri().query() {
        let kept: Vec<&str> = q
            .split('&')
            .filter(|p| !p.starts_with("sig=") && !p.starts_with("expires="))
            .collect();
        if !kept.is_empty() {
            s.push('?');
            s.push_str(&kept.join("&"));
        }
    }
    if let Some(r) = req
        .headers()
        .get(axum::http::header::RANGE)
        .and_then(|v| v.to_str().ok())
    {
        s.push_str(" range=");
        s.push_str(r);
    }
    s
}

/// Middleware: applies the fault plan to `/api/v1/*` and `/media/*`.
pub(crate) async fn inject(
    State(state): State<PlatformState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if !(path.starts_with("/api/v1/") || path.starts_with("/media/")) {
        return next.run(req).await;
    }
    let plan = state.faults();
    if let Ok(mut counts) = state.inner.requests.lock() {
        *counts.entry(request_label(&req)).or_insert(0) += 1;
    }
    let roll = state.inner.dice.roll_for(request_key(&req));
    req.extensions_mut().insert(roll);
    if plan.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(plan.latency_ms)).await;
    }
    if roll.hits(&plan, Knob::Status429) {
        return Problem::rate_limited(plan.retry_after_secs).into_response();
    }
    if roll.hits(&plan, Knob::Status500) {
        return Problem::internal("injected fault: internal error").into_response();
    }
    if roll.hits(&plan, Knob::Status503) {
        return Problem::unavailable(plan.retry_after_secs).into_response();
    }
    let resp = next.run(req).await;
    if !resp.status().is_success() {
        return resp;
    }
    if roll.hits(&plan, Knob::Reset) {
        return cut_mid_body(resp);
    }
    if roll.hits(&plan, Knob::Truncate) && is_json(&resp) {
        return truncate(resp).await;
    }
    if roll.hits(&plan, Knob::Slow) {
        return slow(resp, plan.slow_body_delay_ms);
    }
    resp
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

/// Sends half the body, then fails the stream: hyper aborts the connection,
/// and the client sees fewer bytes than Content-Length promised.
fn cut_mid_body(resp: Response) -> Response {
    use axum::body::HttpBody as _;
    let (mut parts, body) = resp.into_parts();
    // JSON bodies carry no Content-Length header until hyper adds one, so
    // take the length from the body and declare it: the client must be
    // promised more than it gets.
    let Some(len) = declared_len_parts(&parts).or_else(|| body.size_hint().exact()) else {
        return Response::from_parts(parts, body);
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let mut budget = len / 2;
    let stream = body.into_data_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if budget == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "injected fault: connection reset",
            ));
        }
        let take = (chunk.len() as u64).min(budget) as usize;
        budget -= take as u64;
        Ok(chunk.slice(..take))
    });
    // Ensure the cut happens even when the body arrived in one chunk.
    // Pause before the cut so the first half reaches the client as data
    // (as on a real network), rather than arriving together with the reset.
    let tail = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection reset",
        ))
    });
    Response::from_parts(parts, Body::from_stream(stream.chain(tail)))
}

fn declared_len_parts(parts: &axum::http::response::Parts) -> Option<u64> {
    parts
        .headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn truncate(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return Problem::internal("injected fault: body unavailable").into_response();
    };
    let cut = bytes.slice(..bytes.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(cut.len()));
    Response::from_parts(parts, Body::from(cut))
}

fn slow(resp: Response, delay_ms: u64) -> Response {
    let (parts, body) = resp.into_parts();
    let mut sent: u64 = 0;
    let stream = body
        .into_data_stream()
        .map(|chunk| {
            let chunk = chunk.map_err(std::io::Error::other);
            futures_util::stream::iter(match chunk {
                Ok(c) => (0..c.len())
                    .map(|i| Ok(c.slice(i..i + 1)))
                    .collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        })
        .flatten()
        .then(move |b| {
            sent += 1;
            let pause = sent.is_multiple_of(64);
            async move {
                if pause {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                }
                b
            }
        });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_are_deterministic_and_roughly_fair() {
        let plan = FaultPlan {
            rate_500: 0.3,
            ..FaultPlan::default()
        };
        let hits = |seed| {
            let plan = FaultPlan {
                seed,
                ..plan.clone()
            };
            (0..10_000)
                .filter(|n| Roll { key: 42, n: *n }.hits(&plan, Knob::Status500))
                .count()
        };
        assert_eq!(hits(7), hits(7));
        assert_ne!(hits(7), hits(8));
        let h = hits(7);
        assert!((2_700..3_300).contains(&h), "{h} hits of 10000 at p=0.3");
    }

    #[test]
    fn zero_never_and_one_always() {
        let roll = Roll { key: 1, n: 1 };
        assert!(!roll.hits(&FaultPlan::default(), Knob::Reset));
        assert!(roll.hits(
            &FaultPlan {
                reset_mid_body: 1.0,
                ..FaultPlan::default()
            },
            Knob::Reset
        ));
    }

    #[test]
    fn fractions_out_of_range_are_refused() {
        assert!(
            FaultPlan {
                rate_429: 1.5,
                ..FaultPlan::default()
            }
            .validate()
            .is_err()
        );
        assert!(FaultPlan::default().validate().is_ok());
    }
}
