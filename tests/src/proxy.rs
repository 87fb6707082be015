//! A fault-injecting HTTP proxy for the connector conformance suite.
//!
//! It sits between the client and any real server (the reference platform,
//! WordPress, Synapse), forwards every request unchanged, and spoils one
//! answer on request: the first request that a [`Fault`]'s trigger matches,
//! after a number of requests have passed, gets a hostile answer instead of
//! the server's. The server never knows, so the same fault applies to every
//! platform: what it tests is the engine's shared HTTP layer.
//!
//! Only the answer is spoiled; the request still reaches the server when
//! the fault needs the real answer (a trickled body), so nothing the
//! server records is lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::hostile::{huge, trickle};

/// What the proxy does to the one answer it spoils.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything through.
    None,
    /// A `500` whose body is this many bytes, streamed without a length
    /// (a client that reads error bodies whole runs out of memory).
    HugeErrorBody(u64),
    /// The server's own answer, its body sent one byte every interval
    /// (a client without a minimum pace waits forever).
    Trickle(Duration),
    /// `429` with `Retry-After` of this many seconds (a client without a
    /// ceiling waits, or retries, forever).
    RetryAfter(u64),
}

/// When the fault fires: on the first request whose path contains
/// `path_contains` after `skip` such requests have passed, once.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// A part of the path (`"/posts"`, `"/messages"`); empty for any.
    pub path_contains: String,
    /// How many matching requests pass before the fault.
    pub skip: usize,
    /// How many matching requests in a row are spoiled (at least 1).
    pub times: usize,
}

/// A running proxy; stopped when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`: give this to the client instead of the
    /// server's address.
    pub url: String,
    inner: Arc<Inner>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Inner {
    upstream: String,
    fault: Fault,
    trigger: Trigger,
    matched: AtomicUsize,
    spoiled: AtomicUsize,
    seen: Mutex<Vec<String>>,
    http: reqwest::Client,
}

impl FaultProxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`), spoiling the answer
    /// `trigger` picks with `fault`.
    pub async fn start(upstream: &str, fault: Fault, trigger: Trigger) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            fault,
            trigger,
            matched: AtomicUsize::new(0),
            spoiled: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        });
        let app = Router::new().fallback(forward).with_state(inner.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            url,
            inner,
            shutdown: Some(tx),
        }
    }

    /// How many answers were spoiled so far.
    pub fn spoiled(&self) -> usize {
        self.inner.spoiled.load(Ordering::SeqCst)
    }

    /// The path and query of every request so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.inner.seen.lock().expect("seen").clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn forward(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path_q = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    inner.seen.lock().expect("seen").push(path_q.clone());
    let spoil = inner.fault != Fault::None
        && parts.uri.path().contains(&inner.trigger.path_contains)
        && {
            let n = inner.matched.fetch_add(1, Ordering::SeqCst);
            n >= inner.trigger.skip && n < inner.trigger.skip + inner.trigger.times.max(1)
        };
    if spoil {
        match inner.fault {
            Fault::HugeErrorBody(bytes) => {
                inner.spoiled.fetch_add(1, Ordering::SeqCst);
                return huge(500, bytes, "application/json");
            }
            Fault::RetryAfter(secs) => {
                inner.spoiled.fetch_add(1, Ordering::SeqCst);
                let mut r = Response::new(Body::from("{}"));
                *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                r.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from_str(&secs.to_string()).expect("header"),
                );
                return r;
            }
            Fault::Trickle(_) | Fault::None => {}
        }
    }
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "request body too large"),
    };
    let mut req = inner
        .http
        .request(parts.method.clone(), format!("{}{path_q}", inner.upstream))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST {
            req = req.header(name, value);
        }
    }
    let upstream = match req.send().await {
        Ok(r) => r,
        Err(e) => return plain(StatusCode::BAD_GATEWAY, &format!("upstream: {e}")),
    };
    let status = upstream.status();
    let headers = upstream.headers().clone();
    let bytes = match upstream.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => return plain(StatusCode::BAD_GATEWAY, &format!("upstream body: {e}")),
    };
    let mut answer = match inner.fault {
        Fault::Trickle(every) if spoil => {
            inner.spoiled.fetch_add(1, Ordering::SeqCst);
            trickle(status.as_u16(), bytes, every)
        }
        _ => Response::new(Body::from(bytes)),
    };
    *answer.status_mut() = status;
    for (name, value) in &headers {
        // The body is re-framed here: its length and encoding are ours.
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(text.to_owned()));
    *r.status_mut() = status;
    r
}
