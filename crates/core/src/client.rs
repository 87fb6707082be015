//! The platform's Export API over HTTP: timeouts, same-host redirects, size
//! caps, strict JSON, one refresh on `401`, and retries with exponential
//! backoff and jitter that honour `Retry-After` (via `backon`).
//!
//! Every failure leaves here as a classified [`Error`]; callers never look
//! at status codes themselves.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::{StreamExt, future::BoxFuture};
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Problem, display_url};
use crate::{Class, Error, PlatformUrl, Result, Secret};

/// A JSON page or object larger than this is refused (a page of 500 posts is
/// well under 1 MiB; this bounds memory against a broken or hostile server).
pub const MAX_JSON_BYTES: usize = 32 << 20;

/// The longest one JSON request may take, body included.
pub const JSON_DEADLINE: Duration = Duration::from_secs(120);

/// Hands out bearer tokens and renews them after a `401`.
pub trait TokenProvider: Send + Sync {
    /// The token to use now.
    fn current(&self) -> BoxFuture<'_, Result<Secret>>;
    /// `rejected` got a `401`: return a renewed token (refreshing at most
    /// once across concurrent callers) or a sign-in error.
    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret>>;
}

/// A token that cannot be renewed (a personal access token).
pub struct StaticToken {
    token: Secret,
    platform: String,
}

impl StaticToken {
    /// Wraps a token for `platform`.
    pub fn new(token: Secret, platform: &PlatformUrl) -> Self {
        Self {
            token,
            platform: platform.as_url().to_string(),
        }
    }
}

impl TokenProvider for StaticToken {
    fn current(&self) -> BoxFuture<'_, Result<Secret>> {
        Box::pin(async move { Ok(self.token.clone()) })
    }
    fn renew<'a>(&'a self, _rejected: &'a Secret) -> BoxFuture<'a, Result<Secret>> {
        Box::pin(async move {
            Err(Error::NotSignedIn {
                platform: self.platform.clone(),
            })
        })
    }
}

/// Something that wants to know when the client waits before a retry (the
/// progress display shows "waiting for rate limit until …").
pub type WaitObserver = Arc<dyn Fn(Duration, &Error) + Send + Sync>;

/// How hard to try.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: usize,
    /// First backoff.
    pub min_delay: Duration,
    /// Longest backoff (and longest `Retry-After` honoured).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 10,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// An Export API client bound to one platform and one identity.
#[derive(Clone)]
pub struct ApiClient {
    base: Url,
    http: reqwest::Client,
    tokens: Arc<dyn TokenProvider>,
    retry: RetryPolicy,
    on_wait: Option<WaitObserver>,
}

/// A media download in progress: status, headers and a body stream.
pub struct Download {
    /// `200` or `206`.
    pub status: u16,
    /// Total length of the body about to arrive, if declared.
    pub content_length: Option<u64>,
    /// The response, to stream with `chunk()`.
    pub response: reqwest::Response,
}

fn build_http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            // Follow redirects only within the same origin: a token must not
            // be replayed to another host, and http:// downgrades are refused.
            let same = attempt.previous().first().is_some_and(|first| {
                first.scheme() == attempt.url().scheme()
                    && first.host_str() == attempt.url().host_str()
                    && first.port_or_known_default() == attempt.url().port_or_known_default()
            });
            if same && attempt.previous().len() < 5 {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .user_agent(concat!("keepsake/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Invalid(format!("could not set up HTTPS: {e}")))
}

fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl ApiClient {
    /// A client for `platform` using `tokens`.
    pub fn new(platform: &PlatformUrl, tokens: Arc<dyn TokenProvider>) -> Result<Self> {
        Ok(Self {
            base: platform.as_url().clone(),
            http: build_http()?,
            tokens,
            retry: RetryPolicy::default(),
            on_wait: None,
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Calls `observer` before every wait between attempts.
    pub fn on_wait(mut self, observer: WaitObserver) -> Self {
        self.on_wait = Some(observer);
        self
    }

    /// The platform's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Resolves an API path (or an absolute URL on the same platform).
    pub fn url(&self, path: &str) -> Result<Url> {
        let url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Invalid(format!("bad API path {path}: {e}")))?;
        // Absolute URLs from the server (media) must stay on the platform's
        // origin unless they are https.
        if url.origin() != self.base.origin() && url.scheme() != "https" {
            return Err(Error::Protocol {
                url: display_url(&url),
                detail: "the platform pointed to a plain-http URL on another host; refusing to follow it".into(),
            });
        }
        Ok(url)
    }

    /// One attempt: send, and turn any failure into a classified error.
    async fn attempt(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        token: &Secret,
        extra: &[(header::HeaderName, String)],
        deadline: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let mut req = self
            .http
            .request(method, url.clone())
            .bearer_auth(token.expose());
        if let Some(d) = deadline {
            req = req.timeout(d);
        }
        for (k, v) in extra {
            req = req.header(k, v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| network(url, &e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(url, resp).await)
    }

    /// Sends with retries and one token renewal on `401`.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        extra: &[(header::HeaderName, String)],
        deadline: Option<Duration>,
    ) -> Result<reqwest::Response> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let max = self.retry.max_delay;
        let observer = self.on_wait.clone();
        (|| async {
            let token = self.tokens.current().await?;
            match self
                .attempt(method.clone(), url, body, &token, extra, deadline)
                .await
            {
                Err(e) if e.class() == Class::NeedsSignIn => {
                    let renewed = self.tokens.renew(&token).await?;
                    self.attempt(method.clone(), url, body, &renewed, extra, deadline)
                        .await
                }
                other => other,
            }
        })
        .retry(backoff)
        .when(|e: &Error| e.class() == Class::Retryable)
        .adjust(move |e: &Error, dur: Option<Duration>| {
            let wait = match (e, dur) {
                (_, None) => None,
                (
                    Error::Status {
                        retry_after: Some(ra),
                        ..
                    },
                    Some(d),
                ) => Some((*ra).min(max).max(d)),
                (_, Some(d)) => Some(d),
            };
            if let (Some(w), Some(obs)) = (wait, &observer) {
                obs(w, e);
            }
            wait
        })
        .await
    }

    /// `GET` JSON, strictly parsed, size-capped.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url(path)?;
        self.json_with_retries(Method::GET, &url, None).await
    }

    /// `POST` JSON.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let url = self.url(path)?;
        self.json_with_retries(Method::POST, &url, Some(body)).await
    }

    /// `PATCH` JSON.
    pub async fn patch_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let url = self.url(path)?;
        self.json_with_retries(Method::PATCH, &url, Some(body))
            .await
    }

    /// A body that breaks off or does not parse is retried like a dropped
    /// connection: the request is idempotent or, for POST, refused by the
    /// server with 409 on a second try (which the caller handles).
    async fn json_with_retries<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        let mut last = None;
        for _ in 0..=self.retry.max_retries.min(5) {
            let resp = self
                .send(method.clone(), url, body, &[], Some(JSON_DEADLINE))
                .await?;
            match read_json(url, resp).await {
                Ok(v) => return Ok(v),
                Err(e) if e.class() == Class::Retryable => {
                    if let Some(obs) = &self.on_wait {
                        obs(self.retry.min_delay, &e);
                    }
                    tokio::time::sleep(self.retry.min_delay).await;
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Protocol {
            url: display_url(url),
            detail: "no usable answer".into(),
        }))
    }

    /// Starts a media download, from `offset` when resuming.
    pub async fn download(&self, url: &str, offset: u64) -> Result<Download> {
        let url = self.url(url)?;
        let extra = if offset > 0 {
            vec![(header::RANGE, format!("bytes={offset}-"))]
        } else {
            Vec::new()
        };
        // No overall deadline for media: a large file on a slow line may take
        // long; the idle (read) timeout catches a stalled transfer.
        let resp = self.send(Method::GET, &url, None, &extra, None).await?;
        let status = resp.status().as_u16();
        if offset > 0 && status != 206 {
            return Err(Error::Protocol {
                url: display_url(&url),
                detail: format!("asked to resume at byte {offset} but got status {status}"),
            });
        }
        Ok(Download {
            status,
            content_length: resp.content_length(),
            response: resp,
        })
    }
}

fn network(url: &Url, e: &reqwest::Error) -> Error {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
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

async fn status_error(url: &Url, resp: reqwest::Response) -> Error {
    let status = resp.status();
    let ra = retry_after(resp.headers());
    let body = resp.bytes().await.unwrap_or_default();
    let problem = serde_json::from_slice::<Problem>(&body[..body.len().min(64 * 1024)])
        .ok()
        .map(Box::new);
    let mut err = Error::Status {
        status: status.as_u16(),
        url: display_url(url),
        problem,
        retry_after: ra,
    };
    if status == StatusCode::FORBIDDEN
        && err
            .problem()
            .is_some_and(|p| p.slug() == "media-url-expired")
    {
        // Not retryable as is: the caller fetches a fresh URL.
        err = Error::Status {
            status: 403,
            url: display_url(url),
            problem: err.problem().cloned().map(Box::new),
            retry_after: None,
        };
    }
    err
}

/// Reads a whole JSON body, refusing more than [`MAX_JSON_BYTES`].
async fn read_json<T: DeserializeOwned>(url: &Url, resp: reqwest::Response) -> Result<T> {
    if resp
        .content_length()
        .is_some_and(|l| l as usize > MAX_JSON_BYTES)
    {
        return Err(Error::Protocol {
            url: display_url(url),
            detail: format!("the answer is larger than {MAX_JSON_BYTES} bytes"),
        });
    }
    let mut buf = Vec::with_capacity(resp.content_length().unwrap_or(8192).min(1 << 20) as usize);
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| network(url, &e))?;
        if buf.len() + chunk.len() > MAX_JSON_BYTES {
            return Err(Error::Protocol {
                url: display_url(url),
                detail: format!("the answer is larger than {MAX_JSON_BYTES} bytes"),
            });
        }
        buf.extend_from_slice(&chunk);
    }
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

impl TokenProvider for crate::credentials::TokenSource {
    fn current(&self) -> BoxFuture<'_, Result<Secret>> {
        Box::pin(self.access_token())
    }
    fn renew<'a>(&'a self, rejected: &'a Secret) -> BoxFuture<'a, Result<Secret>> {
        Box::pin(self.refresh_after_401(rejected))
    }
}
