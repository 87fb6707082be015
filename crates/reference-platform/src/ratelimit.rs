//! A fixed-window request limit per token (or per client address), with the
//! `RateLimit-*` headers on every response so clients can pace themselves.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{PlatformState, problem::Problem, store::hash_secret};

const WINDOW: Duration = Duration::from_secs(60);

pub(crate) struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

struct Verdict {
    allowed: bool,
    remaining: u32,
    reset_secs: u64,
}

impl RateLimiter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    fn check(&self, key: String) -> Verdict {
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Verdict {
                allowed: true,
                remaining: 0,
                reset_secs: 0,
            };
        };
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        let reset_secs = WINDOW
            .saturating_sub(now.duration_since(entry.0))
            .as_secs()
            .max(1);
        Verdict {
            allowed: entry.1 <= self.limit,
            remaining: self.limit.saturating_sub(entry.1),
            reset_secs,
        }
    }
}

/// Middleware: counts the request and stamps the headers.
pub(crate) async fn limit(
    State(state): State<PlatformState>,
    req: Request,
    next: Next,
) -> Response {
    let limiter = &state.inner.rate;
    if limiter.limit == 0 {
        return next.run(req).await;
    }
    let key = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(auth) => format!("t:{}", hash_secret(auth)),
        None => {
            let ip = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string());
            format!("ip:{}", ip.unwrap_or_default())
        }
    };
    let v = limiter.check(key);
    let mut resp = if v.allowed {
        next.run(req).await
    } else {
        Problem::rate_limited(v.reset_secs).into_response()
    };
    let h = resp.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(limiter.limit));
    h.insert("ratelimit-remaining", HeaderValue::from(v.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(v.reset_secs));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_allows_exactly_the_limit() {
        let r = RateLimiter::new(3);
        let allowed: Vec<bool> = (0..5).map(|_| r.check("k".into()).allowed).collect();
        assert_eq!(allowed, [true, true, true, false, false]);
        assert!(r.check("other".into()).allowed, "limits are per key");
    }
}
