//! A small Export API server that misbehaves on request.
//!
//! It speaks just enough of the contract for `keepsake export` to run a
//! whole export of a tiny account (a profile, three posts, one media file),
//! and hands every request to a test's [`Hook`] first, so one test can make
//! one answer hostile: a path-like export id, a cursor that never ends, a
//! body that trickles, a token echoed back. It records every request (with
//! whether it carried `Authorization`) so tests can count and inspect them.
//!
//! Unlike the reference platform it keeps no state beyond what a test's
//! hook keeps: every answer is computed from the request and the [`Script`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Req {
    /// Its index among all requests this server received (from 0).
    pub n: usize,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, percent-decoded as axum gives it.
    pub path: String,
    /// The query parameters (the last value wins).
    pub query: BTreeMap<String, String>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The request body (at most 1 MiB is read).
    pub body: Vec<u8>,
}

impl Req {
    /// The `Authorization` header, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
    }
    /// The collection this request reads (`posts`, `profile`, `media`, …)
    /// when it is a GET under an export session; `None` otherwise.
    pub fn category(&self) -> Option<&str> {
        if self.method != "GET" {
            return None;
        }
        let (_, tail) = self.path.split_once("/exports/")?;
        let mut segs = tail.rsplit('/');
        let last = segs.next()?;
        if CATEGORIES.contains(&last) {
            return Some(last);
        }
        // `…/media/{id}`: fresh metadata for one file.
        (segs.next() == Some("media") && last.parse::<i64>().is_ok()).then_some("media")
    }
    /// The `cursor` query parameter.
    pub fn cursor(&self) -> Option<&str> {
        self.query.get("cursor").map(String::as_str)
    }
}

/// What the server recorded of a request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Index among all requests.
    pub n: usize,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Whether an `Authorization` header came with it.
    pub authorized: bool,
}

/// Answers a request first: `Some` is sent as is, `None` falls through to
/// the well-behaved default.
pub type Hook = Arc<dyn Fn(&Req) -> Option<Response> + Send + Sync>;

/// Wraps a closure as a [`Hook`].
pub fn hook(f: impl Fn(&Req) -> Option<Response> + Send + Sync + 'static) -> Hook {
    Arc::new(f)
}

/// The contract's categories, in its order.
pub use keepsake_core::export::CATEGORIES;

/// The account and session the server describes, and the hook.
#[derive(Clone)]
pub struct Script {
    /// The account's id (actor and subject).
    pub user_id: i64,
    /// Its login.
    pub login: String,
    /// Its display name.
    pub display_name: String,
    /// The export id the session answers with.
    pub export_id: String,
    /// The session's snapshot time.
    pub as_of: String,
    /// The posts the default pages serve (one page, no cursor).
    pub posts: Vec<Value>,
    /// Announced counts that replace the true ones (`posts: 10` with 10,000
    /// served, say).
    pub counts: BTreeMap<String, u64>,
    /// The media file's bytes.
    pub media_bytes: Vec<u8>,
    /// Where media `download_url`s point (another server's URL for the
    /// CDN case); this server's own URL when `None`.
    pub media_base: Option<String>,
    /// Answers requests before the defaults.
    pub hook: Option<Hook>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            user_id: 1,
            login: "alice".into(),
            display_name: "Alice Example".into(),
            export_id: "exp_0123456789abcdef".into(),
            as_of: "2026-11-26T06:40:00Z".into(),
            posts: (1..=3).map(post).collect(),
            counts: BTreeMap::new(),
            media_bytes: b"\x89PNG\r\n\x1a\n not really a picture".to_vec(),
            media_base: None,
            hook: None,
        }
    }
}

/// A post record with id `id`.
pub fn post(id: i64) -> Value {
    json!({
        "id": id,
        "created_at": format!("2025-01-{:02}T10:00:00Z", (id.rem_euclid(28)) + 1),
        "updated_at": null,
        "visibility": "public",
        "body": format!("post number {id}"),
        "media_ids": [],
    })
}

/// A running server; stopped when dropped.
pub struct Hostile {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Inner {
    script: Script,
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    /// Serves `script` on `127.0.0.1:0`.
    pub async fn start(script: Script) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let inner = Arc::new(Inner {
            script,
            url: url.clone(),
            seen: seen.clone(),
        });
        let app = Router::new().fallback(handle).with_state(inner);
        Self {
            url,
            seen,
            shutdown: Some(serve(listener, app)),
        }
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// How many requests so far read `category` (pages or metadata).
    pub fn reads_of(&self, category: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == "GET" && s.path.ends_with(&format!("/{category}")))
            .count()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let query: BTreeMap<String, String> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let req = {
        let mut seen = inner.seen.lock().expect("seen");
        let n = seen.len();
        seen.push(Seen {
            n,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            authorized: parts.headers.contains_key(header::AUTHORIZATION),
        });
        Req {
            n,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query,
            headers: parts.headers,
            body,
        }
    };
    if let Some(answer) = inner.script.hook.as_ref().and_then(|h| h(&req)) {
        return answer;
    }
    default_answer(&inner, &req)
}

/// The well-behaved answer to `req`. Routes by the path's tail, so that a
/// hostile export id (with `/` or `..` in it) still reaches its handler.
fn default_answer(inner: &Inner, req: &Req) -> Response {
    let s = &inner.script;
    let path = req.path.as_str();
    if let Some(id) = path
        .strip_prefix("/media/")
        .and_then(|t| t.strip_suffix("/content"))
    {
        return media_content(s, id);
    }
    if path == "/openapi.yaml" {
        // The contract serves itself (docs/api.md §9): what detection reads.
        return Response::new(Body::from(
            "openapi: 3.1.0\ninfo:\n  title: Keepsake Export API\n  version: 1.0.0\n",
        ));
    }
    if path == "/api/v1/me" || (path.starts_with("/api/v1/users/") && !path.contains("/exports")) {
        let mut me = user(s);
        me["scopes"] = json!(["export:self"]);
        me["token_kind"] = json!("personal");
        return json_answer(200, me);
    }
    match (req.method.as_str(), req.category()) {
        ("GET", Some("profile")) => return json_answer(200, user(s)),
        ("GET", Some("media")) if !path.ends_with("/media") => {
            return json_answer(200, media_record(inner, 1));
        }
        ("GET", Some(cat)) => {
            let items = match cat {
                "posts" => s.posts.clone(),
                "media" => vec![media_record(inner, 1)],
                _ => Vec::new(),
            };
            return page(items, None);
        }
        _ => {}
    }
    match req.method.as_str() {
        "POST" if path.ends_with("/exports") => json_answer(201, session(inner, "running")),
        "PATCH" if path.contains("/exports/") => {
            let status = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|b| b["status"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "completed".into());
            json_answer(200, session(inner, &status))
        }
        "GET" if path.ends_with("/exports") => json_answer(200, json!({"items": []})),
        "GET" if path.contains("/exports/") => json_answer(200, session(inner, "running")),
        _ => problem(404, "not-found", "no such resource on this test server"),
    }
}

fn user(s: &Script) -> Value {
    json!({
        "id": s.user_id,
        "login": s.login,
        "display_name": s.display_name,
        "role": "user",
        "created_at": "2021-03-04T10:00:00Z",
        "deleted": false,
    })
}

fn session(inner: &Inner, status: &str) -> Value {
    let s = &inner.script;
    let mut categories = serde_json::Map::new();
    for cat in CATEGORIES {
        let count = s.counts.get(cat).copied().unwrap_or(match cat {
            "profile" | "media" => 1,
            "posts" => s.posts.len() as u64,
            _ => 0,
        });
        let bytes = if cat == "media" {
            s.media_bytes.len() as u64
        } else {
            count * 200
        };
        categories.insert(cat.into(), json!({"count": count, "bytes": bytes}));
    }
    json!({
        "export_id": s.export_id,
        "subject": user(s),
        "actor": user(s),
        "reason": null,
        "status": status,
        "as_of": s.as_of,
        "created_at": s.as_of,
        "finished_at": null,
        "since": null,
        "until": null,
        "categories": categories,
        "outcome": null,
    })
}

/// The media record of file `id`, pointing at [`Script::media_base`].
fn media_record(inner: &Inner, id: i64) -> Value {
    let s = &inner.script;
    let base = s.media_base.as_deref().unwrap_or(&inner.url);
    json!({
        "id": id,
        "created_at": "2025-04-02T18:22:10Z",
        "post_id": 1,
        "filename": "photo.png",
        "content_type": "image/png",
        "size": s.media_bytes.len(),
        "sha256": hex::encode(Sha256::digest(&s.media_bytes)),
        "alt_text": null,
        "download_url": format!("{base}/media/{id}/content?sig=signed"),
        "url_expires_at": "2099-01-01T00:00:00Z",
    })
}

fn media_content(s: &Script, id: &str) -> Response {
    if id != "1" {
        return problem(404, "not-found", "no such media");
    }
    let mut r = Response::new(Body::from(s.media_bytes.clone()));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r
}

/// Serves `app` on `listener` in the background until the returned sender
/// is dropped or sent to.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
) -> tokio::sync::oneshot::Sender<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    tx
}

/// A JSON answer.
pub fn json_answer(status: u16, body: Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).expect("status"),
        body.to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An RFC 9457 problem with the contract's `type` URI for `slug`.
pub fn problem(status: u16, slug: &str, detail: &str) -> Response {
    let mut r = json_answer(
        status,
        json!({
            "type": format!("https://keepsake.example/problems/{slug}"),
            "title": slug,
            "status": status,
            "detail": detail,
        }),
    );
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

/// A page of `items` with `next` as its `next_cursor`.
pub fn page(items: Vec<Value>, next: Option<&str>) -> Response {
    json_answer(200, json!({"items": items, "next_cursor": next}))
}

/// `status` with `header: value` added.
pub fn with_header(mut r: Response, name: &'static str, value: &str) -> Response {
    r.headers_mut().insert(
        header::HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("header value"),
    );
    r
}

/// A body of `bytes` sent one byte every `every`: a server that never
/// quite stops answering.
pub fn trickle(status: u16, bytes: Vec<u8>, every: Duration) -> Response {
    let stream = futures_util::stream::unfold(0usize, move |i| {
        let bytes = bytes.clone();
        async move {
            if i >= bytes.len() {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(every).await;
            }
            Some((
                Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![bytes[i]])),
                i + 1,
            ))
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::from_u16(status).expect("status");
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `status` with a body of `total` bytes (spaces), streamed in 64 KiB
/// chunks as fast as the client reads them, with no `Content-Length`.
pub fn huge(status: u16, total: u64, content_type: &'static str) -> Response {
    const CHUNK: usize = 64 << 10;
    let stream = futures_util::stream::unfold(0u64, move |sent| async move {
        if sent >= total {
            return None;
        }
        let n = (total - sent).min(CHUNK as u64) as usize;
        Some((
            Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; n])),
            sent + n as u64,
        ))
    });
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = StatusCode::from_u16(status).expect("status");
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}
