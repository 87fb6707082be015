//! A fault-injecting HTTP proxy for the connector conformance suite.
//!
//! It sits between the client and any real server (the reference platform,
//! WordPress, Synapse), forwards every request unchanged (pointing the
//! server's absolute links to itself at the proxy, so that file downloads
//! and next pages pass through it too), and spoils one
//! answer on request: the first request that a [`Fault`]'s trigger matches,
//! after a number of requests have passed, gets a hostile answer instead of
//! the server's. The server never knows, so the same fault applies to every
//! platform: what it tests is the engine's shared HTTP layer.
//!
//! Only the answer is spoiled; the request still reaches the server when
//! the fault needs the real answer (a trickled, cut or stalled body), so
//! nothing the server records is lost.
//!
//! Every exchange is logged with when it was asked and when its answer
//! went out ([`FaultProxy::exchanges`]), so a test can tell the requests a
//! `kill -9` interrupted from those that were answered; and a [`Hook`] may
//! run before any request is forwarded, to change the server between two
//! pages of a walk.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;

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
    /// This status with this JSON body and no header: a `429` whose body
    /// alone says how long to wait (Matrix's `retry_after_ms`), a `403`
    /// that refuses one room (Matrix's `M_FORBIDDEN`).
    Refuse {
        /// The status.
        status: u16,
        /// The body.
        body: &'static str,
    },
    /// The server's answer with its whole `Content-Length`, but only half
    /// the body before the connection is torn down (a client that takes
    /// a short read for the whole body keeps half a page).
    ResetMidBody,
    /// The first half of the server's body, framed as the whole answer
    /// (`Content-Length` of the half): nothing at the HTTP level says it is
    /// short, only the body itself (invalid JSON, a wrong size or checksum).
    CutBody,
    /// The server's status, headers and half its body, then nothing, with
    /// the connection held open (a client without a stall timeout hangs).
    Stall,
    /// The request is read and never answered: no status, no headers.
    NoAnswer,
    /// The server's answer, held this long before it is sent (to slow a
    /// walk down enough to interrupt it part-way).
    Delay(Duration),
}

/// How long a stalled body, or a request never answered, is held open: far
/// longer than any test waits.
const HOLD: Duration = Duration::from_secs(600);

/// Runs before a request is forwarded, with its method and its path and
/// query (`"GET"`, `"/api/v1/…?cursor=…"`); the request waits for it.
pub type Hook = Arc<dyn Fn(&str, &str) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One request through the proxy.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `GET`, `POST`, `PATCH`…
    pub method: String,
    /// The path and query.
    pub path: String,
    /// When the request arrived.
    pub asked: Instant,
    /// Its `Range` header, if it asked for part of a file.
    pub range: Option<String>,
    /// When the answer's last byte was handed to the connection (`None`
    /// while in flight, or when it never was: a cut, a stall, a kill).
    pub answered: Option<Instant>,
}

/// When the fault fires: on the first request whose path and query contain
/// `path_contains` after `skip` such requests have passed, once. (The
/// query counts: WordPress names its routes there.)
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
    /// The proxy's own origin, `http://127.0.0.1:PORT`.
    own: String,
    fault: Fault,
    trigger: Trigger,
    hook: Option<Hook>,
    matched: AtomicUsize,
    spoiled: AtomicUsize,
    log: Mutex<Vec<Exchange>>,
    http: reqwest::Client,
}

impl FaultProxy {
    /// Proxies to `upstream` (`http://127.0.0.1:PORT`), spoiling the answer
    /// `trigger` picks with `fault`.
    pub async fn start(upstream: &str, fault: Fault, trigger: Trigger) -> Self {
        Self::start_hooked(upstream, fault, trigger, None).await
    }

    /// As [`FaultProxy::start`], running `hook` before each request is
    /// forwarded.
    pub async fn start_hooked(
        upstream: &str,
        fault: Fault,
        trigger: Trigger,
        hook: Option<Hook>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Inner {
            upstream: upstream.trim_end_matches('/').to_owned(),
            own: url.clone(),
            fault,
            trigger,
            hook,
            matched: AtomicUsize::new(0),
            spoiled: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        });
        let app = Router::new().fallback(forward).with_state(inner.clone());
        Self {
            url,
            inner,
            shutdown: Some(crate::hostile::serve(listener, app)),
        }
    }

    /// How many answers were spoiled so far.
    pub fn spoiled(&self) -> usize {
        self.inner.spoiled.load(Ordering::SeqCst)
    }

    /// The path and query of every request so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.exchanges().into_iter().map(|e| e.path).collect()
    }

    /// Every exchange so far, in the order the requests arrived.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.inner.log.lock().expect("log").clone()
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
    let slot = {
        let mut log = inner.log.lock().expect("log");
        log.push(Exchange {
            method: parts.method.to_string(),
            path: path_q.clone(),
            asked: Instant::now(),
            range: parts
                .headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            answered: None,
        });
        log.len() - 1
    };
    if let Some(hook) = &inner.hook {
        hook(parts.method.as_str(), &path_q).await;
    }
    let spoil = inner.fault != Fault::None && path_q.contains(&inner.trigger.path_contains) && {
        let n = inner.matched.fetch_add(1, Ordering::SeqCst);
        n >= inner.trigger.skip
            && n < inner
                .trigger
                .skip
                .saturating_add(inner.trigger.times.max(1))
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
                return answered(&inner, slot, r);
            }
            Fault::Refuse { status, body } => {
                inner.spoiled.fetch_add(1, Ordering::SeqCst);
                let mut r = Response::new(Body::from(body));
                *r.status_mut() = StatusCode::from_u16(status).expect("a test's refusal status");
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return answered(&inner, slot, r);
            }
            Fault::NoAnswer => {
                inner.spoiled.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(HOLD).await;
                return plain(StatusCode::GATEWAY_TIMEOUT, "held past any test");
            }
            Fault::Delay(d) => tokio::time::sleep(d).await,
            _ => {}
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
    let bytes = inner.relink(bytes);
    let full_len = bytes.len();
    let spoiled_body = spoil
        && matches!(
            inner.fault,
            Fault::Trickle(_) | Fault::ResetMidBody | Fault::CutBody | Fault::Stall
        );
    if spoiled_body {
        inner.spoiled.fetch_add(1, Ordering::SeqCst);
    }
    let mut answer = match inner.fault {
        Fault::Trickle(every) if spoil => trickle(status.as_u16(), bytes, every),
        Fault::ResetMidBody if spoil => reset_mid_body(bytes),
        Fault::CutBody if spoil => Response::new(Body::from(bytes[..full_len / 2].to_vec())),
        Fault::Stall if spoil => stall(bytes),
        _ => Response::new(Body::from(bytes)),
    };
    *answer.status_mut() = status;
    for (name, value) in &headers {
        // The body is re-framed here: its length and encoding are ours.
        if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if spoil && matches!(inner.fault, Fault::ResetMidBody | Fault::Stall) {
        // The whole length is promised; only half of it will come.
        answer
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(full_len));
    }
    if spoiled_body {
        return answer;
    }
    answered(&inner, slot, answer)
}

impl Inner {
    /// The server's absolute links to itself (a signed media URL, a next
    /// page) pointed at the proxy instead, so that every request the
    /// client makes passes through it; JSON's escaped form (`http:\/\/`,
    /// as PHP writes it) too.
    fn relink(&self, bytes: Vec<u8>) -> Vec<u8> {
        let mut out = bytes;
        for (from, to) in [
            (self.upstream.clone(), self.own.clone()),
            (
                self.upstream.replace('/', "\\/"),
                self.own.replace('/', "\\/"),
            ),
        ] {
            out = replace_all(&out, from.as_bytes(), to.as_bytes());
        }
        out
    }
}

fn replace_all(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() || hay.len() < from.len() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Marks the exchange answered once the last byte of `r`'s body is
/// handed to the connection.
fn answered(inner: &Arc<Inner>, slot: usize, r: Response) -> Response {
    use axum::body::HttpBody as _;
    let (mut parts, body) = r.into_parts();
    // The bodies here are whole (the server's bytes, or ours): keep their
    // length, so that the client sees the same framing as without the
    // proxy; and with a length, hyper polls no further than its last byte.
    let len = body.size_hint().exact().expect("a body of known length");
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let inner = inner.clone();
    let mark = move || {
        if let Some(e) = inner.log.lock().expect("log").get_mut(slot) {
            e.answered = Some(Instant::now());
        }
    };
    if len == 0 {
        mark();
        return Response::from_parts(parts, body);
    }
    let mut sent = 0u64;
    let stream = body.into_data_stream().map(move |chunk| {
        if let Ok(c) = &chunk {
            sent += c.len() as u64;
            if sent >= len {
                mark();
            }
        }
        chunk
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The first half of `bytes`, then a failed stream: hyper tears the
/// connection down short of the promised length.
fn reset_mid_body(bytes: Vec<u8>) -> Response {
    let half = bytes[..bytes.len() / 2].to_vec();
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(
        half,
    ))])
    .chain(futures_util::stream::once(async {
        // As on a real network, the first half arrives as data before
        // the reset does.
        tokio::time::sleep(Duration::from_millis(30)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault: connection reset",
        ))
    }));
    Response::new(Body::from_stream(stream))
}

/// The first half of `bytes`, then silence with the connection open.
fn stall(bytes: Vec<u8>) -> Response {
    let half = bytes[..bytes.len() / 2].to_vec();
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(axum::body::Bytes::from(
        half,
    ))])
    .chain(futures_util::stream::once(async {
        tokio::time::sleep(HOLD).await;
        Err(std::io::Error::other("held past any test"))
    }));
    Response::new(Body::from_stream(stream))
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(text.to_owned()));
    *r.status_mut() = status;
    r
}
