//! The platform's Export API over HTTP: timeouts, same-origin redirects for
//! anything that carries the token, size caps and a minimum pace on every
//! body, strict JSON, one refresh on `401`, and one retry loop with
//! exponential backoff and jitter that honours `Retry-After` up to a
//! ceiling and gives up after a time budget.
//!
//! Every failure leaves here as a classified [`Error`], with any echo of the
//! token redacted; callers never look at status codes themselves.

mod body;
mod failure;
mod retry;
mod tokens;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use reqwest::{Method, header};
use serde::de::DeserializeOwned;
use url::Url;

pub use body::{MAX_ERROR_BODY, MIN_BYTES_PER_WINDOW, Pace, STALL_WINDOW};
pub(crate) use retry::from_headers as asked_wait;
pub use retry::{GIVE_UP_AFTER, MAX_RETRY_AFTER, RetryPolicy, Wait};
pub use tokens::{StaticToken, TokenProvider};

use crate::error::display_url;
use crate::{Class, Error, PlatformUrl, Result, Secret};
use body::Paced;
pub(crate) use failure::redact;
use failure::{network, read_json, status_error};

/// The first [`MAX_ERROR_BODY`] bytes of an error answer to a request sent
/// outside [`ApiClient`] (OAuth's), read at the usual [`Pace`]: what
/// [`ApiClient`]'s own failures read.
pub(crate) async fn error_body(response: reqwest::Response, url: &Url) -> Vec<u8> {
    let mut body = Paced::new(response, url, Pace::default());
    body::error_prefix(&mut body, MAX_ERROR_BODY).await
}

/// A JSON page or object larger than this is refused (a page of 500 posts is
/// well under 1 MiB; this bounds memory against a broken or hostile server).
pub const MAX_JSON_BYTES: usize = 32 << 20;

/// The longest one JSON request may take, body included.
pub const JSON_DEADLINE: Duration = Duration::from_secs(120);

/// The longest a media download may take to start answering (its body then
/// has no overall deadline, only a [`Pace`]: a large file on a slow line
/// may take long).
pub const MEDIA_HEADERS_DEADLINE: Duration = Duration::from_secs(60);

/// Something that wants to know when the client waits before a retry (the
/// progress display shows "waiting for rate limit until …; giving up at …").
pub type WaitObserver = Arc<dyn Fn(&Wait<'_>) + Send + Sync>;

/// Asked a few times a second while a request is sent, its body read, or a
/// retry waited for: `true` ends it with [`Error::Cancelled`] (the export
/// was cancelled), so Ctrl-C never waits on a stalled platform.
pub type StopCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// How often a [`StopCheck`] is asked.
const STOP_POLL: Duration = Duration::from_millis(200);

/// `fut`, unless `stop` says to stop first: then [`Error::Cancelled`].
async fn until_stopped<T>(
    stop: Option<&StopCheck>,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let Some(stop) = stop else {
        return fut.await;
    };
    tokio::pin!(fut);
    loop {
        if stop() {
            return Err(Error::Cancelled);
        }
        tokio::select! {
            done = &mut fut => return done,
            () = tokio::time::sleep(STOP_POLL) => {}
        }
    }
}

/// Whether a request carries the sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// Send it (the API itself; media a connector says needs it, such as
    /// Matrix's authenticated media). Only ever to the platform's origin.
    Token,
    /// Never send it: signed media URLs, wherever they point (the Export
    /// API contract, `docs/api.md` §6).
    Omit,
}

/// An Export API client bound to one platform and one identity.
#[derive(Clone)]
pub struct ApiClient {
    base: Url,
    /// For requests with the token: redirects stay on the same origin.
    http: reqwest::Client,
    /// For requests without it: redirects may go to another https host.
    anonymous: reqwest::Client,
    tokens: Arc<dyn TokenProvider>,
    retry: RetryPolicy,
    pace: Pace,
    on_wait: Option<WaitObserver>,
    stop: Option<StopCheck>,
}

/// A media download in progress: status, headers and a paced body.
pub struct Download {
    /// `200` (the whole file, also when a resume was asked for and the
    /// server ignored `Range`) or `206`.
    pub status: u16,
    /// Total length of the body about to arrive, if declared.
    pub content_length: Option<u64>,
    body: Paced,
    stop: Option<StopCheck>,
}

impl Download {
    /// The next piece of the body, `None` at its end. A body that breaks
    /// off or arrives slower than the [`Pace`] is a retryable network error;
    /// a cancelled export ends the wait for it ([`ApiClient::stop_when`]).
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        until_stopped(self.stop.as_ref(), self.body.chunk()).await
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Where a request without the token, first sent to `from` (the platform,
/// or the address a redirect started at), may go: https anywhere, plain
/// http only to this machine (`PlatformUrl`'s rule); and this machine only
/// from a platform on it. A platform elsewhere naming `127.0.0.1` would
/// have Keepsake read a service of the user's own into the archive.
fn anonymous_ok(url: &Url, from: &Url) -> bool {
    use crate::platform_url::is_loopback;
    let local = is_loopback(url);
    if local && !is_loopback(from) {
        return false;
    }
    url.scheme() == "https" || (url.scheme() == "http" && local)
}

fn build_http(credentialed: bool) -> Result<reqwest::Client> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5 {
            return attempt.stop();
        }
        let ok = if credentialed {
            // A token must not be replayed to another origin, and http://
            // downgrades are refused.
            attempt
                .previous()
                .first()
                .is_some_and(|first| same_origin(first, attempt.url()))
        } else {
            attempt
                .previous()
                .first()
                .is_some_and(|first| anonymous_ok(attempt.url(), first))
        };
        if ok { attempt.follow() } else { attempt.stop() }
    });
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        .redirect(policy)
        .user_agent(concat!("keepsake/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Invalid(format!("could not set up HTTPS: {e}")))
}

impl ApiClient {
    /// A client for `platform` that sends no credentials: what a
    /// detection, a sign-in page and a password login use. Someone is
    /// waiting on these: a few quick tries, then say so (an export's policy
    /// would keep trying an unreachable address for minutes).
    pub fn anonymous(platform: &PlatformUrl) -> Result<Self> {
        Ok(
            Self::new(platform, Arc::new(StaticToken::anonymous(platform)))?
                .with_retry(RetryPolicy::interactive()),
        )
    }

    /// A client for `platform` using `tokens`.
    pub fn new(platform: &PlatformUrl, tokens: Arc<dyn TokenProvider>) -> Result<Self> {
        Ok(Self {
            base: platform.as_url().clone(),
            http: build_http(true)?,
            anonymous: build_http(false)?,
            tokens,
            retry: RetryPolicy::default(),
            pace: Pace::default(),
            on_wait: None,
            stop: None,
        })
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The retry policy in force.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Replaces the minimum pace of bodies (tests lower the window).
    pub fn with_pace(mut self, pace: Pace) -> Self {
        self.pace = pace;
        self
    }

    /// Calls `observer` before every wait between attempts.
    pub fn on_wait(mut self, observer: WaitObserver) -> Self {
        self.on_wait = Some(observer);
        self
    }

    /// Ends requests in flight, media bodies and waits between attempts
    /// early when `stop` says so.
    pub fn stop_when(mut self, stop: StopCheck) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Sleeps `wait`, looking at the stop check a few times a second.
    async fn wait(&self, wait: Duration) -> Result<()> {
        until_stopped(self.stop.as_ref(), async {
            tokio::time::sleep(wait).await;
            Ok(())
        })
        .await
    }

    /// `req` with the sign-in: HTTP Basic where the token goes with a
    /// user name, a bearer token otherwise.
    fn authorize(&self, req: reqwest::RequestBuilder, token: &Secret) -> reqwest::RequestBuilder {
        match self.tokens.user() {
            Some(user) => req.basic_auth(user, Some(token.expose())),
            None => req.bearer_auth(token.expose()),
        }
    }

    /// The platform's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Resolves an API path (or an absolute URL on the same platform).
    pub fn url(&self, path: &str) -> Result<Url> {
        self.url_for(path, Auth::Token)
    }

    /// Resolves `path` for a request with or without the token: the token
    /// goes to the platform's origin only; a request without it may go to
    /// another host over https, or over http on this machine.
    fn url_for(&self, path: &str, auth: Auth) -> Result<Url> {
        let url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Invalid(format!("bad API path {path}: {e}")))?;
        if same_origin(&url, &self.base) {
            return Ok(url);
        }
        let refusal = match auth {
            Auth::Token => {
                "the platform pointed a request that carries the sign-in token to another host; refusing to send it there"
            }
            Auth::Omit if anonymous_ok(&url, &self.base) => return Ok(url),
            Auth::Omit if crate::platform_url::is_loopback(&url) => {
                "the platform, which is not on this computer, pointed to an address on this computer; refusing to follow it"
            }
            Auth::Omit => {
                "the platform pointed to a plain-http URL on another host; refusing to follow it"
            }
        };
        Err(Error::Protocol {
            url: display_url(&url),
            detail: refusal.into(),
        })
    }

    /// Sends one request and turns a failure status into a classified error
    /// (its body read up to [`MAX_ERROR_BODY`]).
    async fn send_once(
        &self,
        req: reqwest::RequestBuilder,
        url: &Url,
        headers_deadline: Option<Duration>,
    ) -> Result<reqwest::Response> {
        // A server that takes the request and says nothing is given up on
        // like a body that stalls: after the stall window (or the
        // request's own deadline, if shorter), then retried.
        let wait = headers_deadline.map_or(self.pace.window, |d| d.min(self.pace.window));
        let resp = tokio::time::timeout(wait, req.send())
            .await
            .map_err(|_| Error::Network {
                url: display_url(url),
                detail: format!("no answer within {:.0} s", wait.as_secs_f64()),
            })?
            .map_err(|e| network(url, &e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(status_error(url, resp, self.pace).await)
    }

    /// One attempt of `op` with the current token (or none), renewing it
    /// once on `401`; whatever it says is redacted of the token it carried.
    async fn attempt<'a, T>(
        &self,
        auth: Auth,
        op: &impl Fn(Option<Secret>) -> BoxFuture<'a, Result<T>>,
    ) -> Result<T> {
        if auth == Auth::Omit {
            return op(None).await.map_err(|e| match e {
                // Without the token a 401 says nothing about the sign-in: it
                // must not end the export as "signed out".
                Error::Status {
                    status: 401, url, ..
                } => Error::Protocol {
                    url,
                    detail: "a signed URL was refused as unauthenticated (401)".into(),
                },
                e => e,
            });
        }
        let token = self.tokens.current().await?;
        match op(Some(token.clone())).await {
            Err(ref e) if e.class() == Class::NeedsSignIn => {
                let renewed = self.tokens.renew(&token).await?;
                op(Some(renewed.clone()))
                    .await
                    .map_err(|e| redact(e, &renewed))
            }
            other => other.map_err(|e| redact(e, &token)),
        }
    }

    /// The one retry loop: `op` (send and, for JSON, read the body) again
    /// after each retryable failure, waiting what the platform asks up to
    /// [`RetryPolicy::max_retry_after`], else an exponential backoff; never
    /// past [`RetryPolicy::give_up_after`] or `max_retries`.
    async fn with_retries<'a, T>(
        &self,
        url: &Url,
        auth: Auth,
        op: impl Fn(Option<Secret>) -> BoxFuture<'a, Result<T>>,
    ) -> Result<T> {
        let policy = &self.retry;
        let started = SystemTime::now();
        let start = tokio::time::Instant::now();
        let give_up_at = started + policy.give_up_after;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_retries)
            .with_jitter()
            .build();
        let shown = display_url(url);
        let mut tries = 0;
        loop {
            tries += 1;
            let err = match until_stopped(self.stop.as_ref(), self.attempt(auth, &op)).await {
                Ok(v) => return Ok(v),
                Err(e) if e.class() == Class::Retryable => e,
                Err(e) => return Err(e),
            };
            let asked = match &err {
                Error::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let next = backoff.next();
            let now = SystemTime::now();
            if let Some(wait) = asked {
                if wait > policy.max_retry_after {
                    let limit = format!(
                        "longer than the {} Keepsake waits at most",
                        retry::human(policy.max_retry_after)
                    );
                    return Err(retry::come_back_later(&shown, now, wait, &limit, &err));
                }
                if start.elapsed() + wait > policy.give_up_after {
                    let limit =
                        format!("past {}, when Keepsake gives up", retry::clock(give_up_at));
                    return Err(retry::come_back_later(&shown, now, wait, &limit, &err));
                }
            }
            let wait = match (asked, next) {
                (Some(asked), Some(_)) => asked.max(policy.min_delay),
                (None, Some(backoff)) => backoff,
                (_, None) => return Err(retry::gave_up(&shown, started, tries, &err)),
            };
            if start.elapsed() + wait > policy.give_up_after {
                return Err(retry::gave_up(&shown, started, tries, &err));
            }
            if let Some(obs) = &self.on_wait {
                obs(&Wait {
                    delay: wait,
                    error: &err,
                    give_up_at,
                });
            }
            self.wait(wait).await?;
        }
    }

    /// `GET` JSON, strictly parsed, size-capped.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        Ok(self.request(Method::GET, path, None, Auth::Token).await?.0)
    }

    /// `POST` JSON.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        Ok(self
            .request(Method::POST, path, Some(body), Auth::Token)
            .await?
            .0)
    }

    /// `PATCH` JSON.
    pub async fn patch_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        Ok(self
            .request(Method::PATCH, path, Some(body), Auth::Token)
            .await?
            .0)
    }

    /// Any request whose answer is JSON, on the platform's origin, with or
    /// without the sign-in (a password login is without): the value and
    /// the answer's headers (a platform's counts and links are there).
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        auth: Auth,
    ) -> Result<(T, header::HeaderMap)> {
        let url = self.url(path)?;
        self.json(method, &url, body, auth).await
    }

    /// A body that breaks off, stalls or is cut short is retried with the
    /// request, in the same loop: the request is idempotent or, for POST,
    /// refused by the server with 409 on a second try (which the caller
    /// handles).
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
        auth: Auth,
    ) -> Result<(T, header::HeaderMap)> {
        self.with_retries(url, auth, |token| {
            let method = method.clone();
            Box::pin(async move {
                // Without the token too, redirects stay on the platform's
                // origin: the body may hold a password.
                let mut req = self
                    .http
                    .request(method, url.clone())
                    .timeout(JSON_DEADLINE);
                if let Some(t) = &token {
                    req = self.authorize(req, t);
                }
                if let Some(b) = body {
                    req = req.json(b);
                }
                let resp = self.send_once(req, url, None).await?;
                let headers = resp.headers().clone();
                let value = read_json(url, Paced::new(resp, url, self.pace)).await?;
                Ok((value, headers))
            })
        })
        .await
    }

    /// Starts a media download, from `offset` when resuming; `auth` says
    /// whether it carries the token (the Export API's signed URLs: never).
    pub async fn download(&self, url: &str, offset: u64, auth: Auth) -> Result<Download> {
        let url = self.url_for(url, auth)?;
        let resp = self
            .with_retries(&url, auth, |token| {
                let url = &url;
                Box::pin(async move {
                    let client = if token.is_some() {
                        &self.http
                    } else {
                        &self.anonymous
                    };
                    let mut req = client.get(url.clone());
                    if let Some(t) = &token {
                        req = self.authorize(req, t);
                    }
                    if offset > 0 {
                        req = req.header(header::RANGE, format!("bytes={offset}-"));
                    }
                    self.send_once(req, url, Some(MEDIA_HEADERS_DEADLINE)).await
                })
            })
            .await?;
        let status = resp.status().as_u16();
        // A server that ignores `Range` answers 200 with the whole file:
        // the caller starts over from the first byte. Anything else is not
        // a body to take.
        if offset > 0 && status != 206 && status != 200 {
            return Err(Error::Protocol {
                url: display_url(&url),
                detail: format!("asked to resume at byte {offset} but got status {status}"),
            });
        }
        Ok(Download {
            status,
            content_length: resp.content_length(),
            body: Paced::new(resp, &url, self.pace),
            stop: self.stop.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
