//! Shared harness for Keepsake's end-to-end suites: start a real reference
//! platform over a real SQLite file on `127.0.0.1:0`, mint tokens, and speak
//! the Export API over real HTTP.

use std::time::Duration;

pub mod bench;
pub mod hostile;
pub mod procs;
pub mod proxy;
pub mod synapse;
pub mod wordpress;

use keepsake_platform::{Config, PlatformState, seed};
use serde_json::Value;
use tempfile::TempDir;

/// A running reference platform; stopped when dropped.
pub struct Platform {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's state (its store is the same database it serves).
    pub state: PlatformState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: TempDir,
}

impl Platform {
    /// Seeds `preset` into a fresh database and serves it with defaults,
    /// except that the per-minute rate limit is off.
    pub async fn start(preset: seed::Preset) -> Self {
        Self::start_with(
            preset,
            Config {
                rate_limit_per_min: 0,
                ..Config::default()
            },
        )
        .await
    }

    /// Seeds `preset` and serves it with `config`.
    pub async fn start_with(preset: seed::Preset, config: Config) -> Self {
        let options = seed::SeedOptions {
            preset,
            seed: 7,
            posts: None,
            media: None,
        };
        Self::start_seeded(&options, config).await
    }

    /// Seeds with `options` (e.g. a preset with another post count) and
    /// serves it with `config`.
    pub async fn start_seeded(options: &seed::SeedOptions, config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("platform.db");
        let store = keepsake_platform::Store::open(&db).expect("open store");
        seed::seed(&store, options).expect("seed");
        let state = PlatformState::new(store, config).expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            let _ = keepsake_platform::serve(listener, serving, async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            url,
            state,
            shutdown: Some(tx),
            _dir: dir,
        }
    }

    /// Requests served since the counts were last reset whose route (the
    /// counter's key: method, path and query) contains `needle`.
    pub fn hits(&self, needle: &str) -> u64 {
        self.state
            .requests()
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, n)| n)
            .sum()
    }

    /// The id of an account.
    pub fn user_id(&self, login: &str) -> i64 {
        self.state.store().user_id(login).expect("known login")
    }

    /// A personal access token for `login` with `scope`.
    pub fn token(&self, login: &str, scope: &str) -> String {
        self.state
            .store()
            .create_pat(login, scope, None)
            .expect("mint token")
    }

    /// An API client for this platform, with `token`.
    pub fn api(&self, token: &str) -> Api {
        Api {
            base: self.url.clone(),
            token: token.to_owned(),
            http: client(),
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A plain HTTP client: no redirects (tests look at them), short timeouts.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// A response reduced to what tests assert on.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// Parsed JSON body (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    /// Reads `resp` whole.
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_default();
        Self {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem type slug (`…/problems/{slug}`).
    pub fn problem(&self) -> &str {
        self.body["type"]
            .as_str()
            .and_then(|t| t.rsplit('/').next())
            .unwrap_or("")
    }

    /// Asserts the status, with the body in the message.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected reply: {:#}", self.body);
        self
    }
}

/// Export API calls with one bearer token.
#[derive(Clone)]
pub struct Api {
    /// Platform base URL.
    pub base: String,
    /// Bearer token.
    pub token: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

impl Api {
    /// Sends a request and parses the reply.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        Reply::read(req.send().await.expect("request reaches the platform")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// Opens an export session for `user_id` with `body`.
    pub async fn open_export(&self, user_id: i64, body: Value) -> Reply {
        self.send(
            reqwest::Method::POST,
            &format!("/api/v1/users/{user_id}/exports"),
            Some(body),
        )
        .await
    }

    /// Reports an outcome.
    pub async fn finish(&self, user_id: i64, export_id: &str, outcome: Value) -> Reply {
        self.send(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{user_id}/exports/{export_id}"),
            Some(outcome),
        )
        .await
    }

    /// Walks a whole collection, page by page, returning every item in order.
    pub async fn walk(
        &self,
        user_id: i64,
        export_id: &str,
        collection: &str,
        limit: u32,
    ) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000_000 {
            let mut path =
                format!("/api/v1/users/{user_id}/exports/{export_id}/{collection}?limit={limit}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path).await.expect(200);
            items.extend(page.body["items"].as_array().cloned().unwrap_or_default());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
        panic!("the walk of {collection} did not end");
    }
}

/// The `id` fields of a list of records.
pub fn ids(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .map(|i| i["id"].as_i64().expect("record id"))
        .collect()
}

/// The workspace's target folder (`CARGO_TARGET_DIR` when set, as xtask
/// reads it), where the venvs and the seeded test servers are cached.
pub fn target_dir() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

/// The Python of the venv `cargo xtask setup` makes (with the Library of
/// Congress `bagit` validator); `None` without it.
pub fn venv_python() -> Option<std::path::PathBuf> {
    let p = target_dir().join("xtask/venv/bin/python");
    p.is_file().then_some(p)
}

/// A loopback port nothing listens on right now (for a server started as
/// a process of its own, which binds it itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
