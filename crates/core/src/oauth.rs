//! Signing in with OAuth 2.0 as a native app (docs/api.md §3.3–3.5):
//! authorization code + PKCE (S256) through the system browser and a
//! loopback redirect on `127.0.0.1:<ephemeral port>` (RFC 8252, RFC 7636),
//! refresh with rotation, and revocation (RFC 7009).
//!
//! Keepsake never sees the user's password: the user types it into the
//! browser they trust, and the platform sends the browser back to a
//! one-shot listener here with a single-use code.
//!
//! Every request goes through one HTTP client policy: rustls, no redirects
//! (a token endpoint that redirects is not followed with a code or a refresh
//! token in the body), 10 s to connect, 30 s in all.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, HttpClientError, PkceCodeChallenge,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use url::Url;

use crate::credentials::{Credentials, TokenKind, normalise_platform};
use crate::error::Problem;
use crate::{Error, PlatformUrl, Result, Secret};

mod loopback;
use loopback::{error_page, respond, success_page, wait_for_callback};

/// Keepsake's OAuth client id: a public client, no secret.
pub const CLIENT_ID: &str = "keepsake";

/// The path of the loopback redirect URI.
const CALLBACK_PATH: &str = "/callback";

/// A request head larger than this is not a browser coming back from sign-in.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// How long one connection to the listener may take to send its request.
/// Browsers open speculative connections that never send anything; each
/// connection is served on its own so that those cannot hold up the real one.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The HTTP client for the OAuth endpoints.
fn http_client(base: &str) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("keepsake/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Network {
            url: base.to_owned(),
            detail: format!("cannot set up the HTTP client: {}", chain(&e)),
        })
}

/// The platform's OAuth endpoint `path` (`oauth/token`, …).
fn endpoint(base: &str, path: &str) -> Result<Url> {
    Url::parse(&format!("{base}/{path}")).map_err(|e| {
        Error::Invalid(format!(
            "cannot form the address of {path} under {base}: {e}"
        ))
    })
}

/// Signs in through the system browser.
///
/// Listens on `127.0.0.1` on a port the OS picks, builds the authorization
/// URL (PKCE S256, a random `state`, `scopes`), and calls `open` with it: the
/// caller launches the browser (and should print the URL too, for when it
/// cannot). `open` should fail only when the user cannot reach the URL at
/// all. Then it waits up to `timeout` for the browser to come back to
/// `/callback`, checks `state`, answers the browser with a short page,
/// exchanges the code, and returns the new OAuth credentials.
///
/// Errors: [`Error::SignIn`] when the user declines, the answer is not for
/// this sign-in (state mismatch), the platform refuses, or no answer comes
/// within `timeout`; [`Error::Network`] / [`Error::Status`] when the token
/// endpoint cannot be reached or fails.
pub async fn login_with_browser(
    platform: &PlatformUrl,
    scopes: &[&str],
    open: impl FnOnce(&Url) -> std::io::Result<()>,
    timeout: Duration,
) -> Result<Credentials> {
    let base = normalise_platform(platform);
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .map_err(|e| Error::SignIn {
            detail: format!("cannot listen on 127.0.0.1 for the browser's answer: {e}"),
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::SignIn {
            detail: format!("cannot listen on 127.0.0.1 for the browser's answer: {e}"),
        })?
        .port();
    // RFC 8252 §8.3: the IP literal, not `localhost`, which may resolve elsewhere.
    let redirect = format!("http://127.0.0.1:{port}{CALLBACK_PATH}");

    let client = BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_auth_uri(AuthUrl::from_url(endpoint(&base, "oauth/authorize")?))
        .set_token_uri(TokenUrl::from_url(endpoint(&base, "oauth/token")?))
        .set_redirect_uri(RedirectUrl::new(redirect).map_err(|e| Error::SignIn {
            detail: format!("cannot form the redirect address: {e}"),
        })?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state) = client
        // 256 bits; the contract asks for at least 128.
        .authorize_url(|| CsrfToken::new_random_len(32))
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
        .set_pkce_challenge(challenge)
        .url();

    open(&authorize_url).map_err(|e| Error::SignIn {
        detail: format!(
            "could not open the browser ({e}); open the sign-in address yourself, or sign in with a personal access token (`keepsake login --token-stdin`)"
        ),
    })?;
    tracing::debug!(port, "waiting for the browser to come back");

    let waited = tokio::time::timeout(timeout, wait_for_callback(&listener)).await;
    // One answer only: stop listening before anything else happens.
    drop(listener);
    let Ok((mut stream, callback)) = waited else {
        return Err(Error::SignIn {
            detail: format!(
                "no answer came from the browser within {}; run `keepsake login` again (or sign in with a personal access token: `keepsake login --token-stdin`)",
                describe(timeout)
            ),
        });
    };

    let result = async {
        callback.check(&state)?;
        let http = http_client(&base)?;
        let token_url = client.token_uri().to_string();
        let recorder = Recorder::new(http);
        let response = client
            .exchange_code(AuthorizationCode::new(callback.code.unwrap_or_default()))
            .set_pkce_verifier(verifier)
            .request_async(&recorder)
            .await
            .map_err(|e| token_failure(e, recorder.status(), &token_url, "authorization code"))?;
        credentials(base.clone(), &response, &token_url)
    }
    .await;

    let (status, page) = match &result {
        Ok(_) => ("200 OK", success_page()),
        Err(e) => ("400 Bad Request", error_page(&e.to_string())),
    };
    respond(&mut stream, status, &page).await;
    result
}

/// Refreshes an OAuth sign-in (`grant_type=refresh_token`). The presented
/// refresh token is dead once this succeeds: store the result before using
/// it. `platform` is a normalised platform URL.
pub async fn refresh(platform: &str, refresh_token: &Secret) -> Result<Credentials> {
    let base = normalise_platform(&PlatformUrl::parse(platform)?);
    let token_url = endpoint(&base, "oauth/token")?;
    let client = BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_token_uri(TokenUrl::from_url(token_url.clone()));
    let http = http_client(&base)?;
    let recorder = Recorder::new(http);
    let token_url = token_url.to_string();
    let response = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned()))
        .request_async(&recorder)
        .await
        .map_err(|e| token_failure(e, recorder.status(), &token_url, "stored sign-in"))?;
    let mut fresh = credentials(base, &response, &token_url)?;
    // RFC 6749 §6: without a new refresh token, the old one stays valid.
    if fresh.refresh_token.is_none() {
        fresh.refresh_token = Some(refresh_token.clone());
    }
    Ok(fresh)
}

/// Revokes a token (RFC 7009): a refresh token ends its whole sign-in, an
/// access token only itself, a personal access token ends for good.
/// `platform` is a normalised platform URL.
pub async fn revoke(platform: &str, token: &Secret) -> Result<()> {
    let base = normalise_platform(&PlatformUrl::parse(platform)?);
    let url = endpoint(&base, "oauth/revoke")?;
    // Sent by hand: oauth2's revocation request refuses any http:// endpoint,
    // and the platform may be a loopback http:// one (PlatformUrl has already
    // refused plain http to anything else).
    let http = http_client(&base)?;
    let response = http
        .post(url.clone())
        .form(&[("token", token.expose()), ("client_id", CLIENT_ID)])
        .send()
        .await
        .map_err(|e| network(&url, &e))?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(());
    }
    let retry_after = retry_after(response.headers());
    let body = response.bytes().await.unwrap_or_default();
    Err(Error::Status {
        status,
        url: crate::error::display_url(&url),
        problem: problem_from(&body),
        retry_after,
    })
}

/// "5 minutes", "1 minute", "90 seconds".
fn describe(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        60 => "1 minute".into(),
        s if s >= 60 && s % 60 == 0 => format!("{} minutes", s / 60),
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

/// Sends oauth2's requests through our client and remembers the last
/// response's status, which oauth2's errors do not carry (a `503` or a
/// `429` must stay retryable, with its `Retry-After`).
struct Recorder {
    http: reqwest::Client,
    last: Mutex<Option<(u16, Option<Duration>)>>,
}

type HttpError = HttpClientError<reqwest::Error>;

impl Recorder {
    fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            last: Mutex::new(None),
        }
    }

    fn status(&self) -> Option<(u16, Option<Duration>)> {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

// A named implementation rather than a closure: a closure's future borrowing
// the recorder makes the callers' futures fail to be `Send` for all lifetimes
// (they run inside `tokio::spawn`).
impl<'c> oauth2::AsyncHttpClient<'c> for Recorder {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            let info = (response.status().as_u16(), retry_after(response.headers()));
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(info);
            Ok(response)
        })
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// A problem+json body, or at least its text as the detail.
fn problem_from(body: &[u8]) -> Option<Box<Problem>> {
    if body.is_empty() {
        return None;
    }
    serde_json::from_slice::<Problem>(body)
        .ok()
        .or_else(|| {
            // RFC 6749 §5.2 JSON: {"error", "error_description"}.
            let v: serde_json::Value = serde_json::from_slice(body).ok()?;
            Some(Problem {
                title: v["error"].as_str()?.to_owned(),
                detail: v["error_description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                ..Problem::default()
            })
        })
        .map(Box::new)
}

/// Maps oauth2's error for a token request to ours. `what` names what was
/// presented ("authorization code", "stored sign-in").
fn token_failure(
    e: RequestTokenError<HttpError, BasicErrorResponse>,
    status: Option<(u16, Option<Duration>)>,
    url: &str,
    what: &str,
) -> Error {
    let server_trouble = |status: u16| status == 429 || status >= 500;
    match e {
        RequestTokenError::Request(e) => Error::Network {
            url: url.to_owned(),
            detail: chain(&e),
        },
        RequestTokenError::ServerResponse(r) => {
            let description = r
                .error_description()
                .cloned()
                .unwrap_or_else(|| "no details given".into());
            match status {
                Some((code, retry_after)) if server_trouble(code) => Error::Status {
                    status: code,
                    url: url.to_owned(),
                    problem: Some(Box::new(Problem {
                        title: r.error().to_string(),
                        detail: description,
                        ..Problem::default()
                    })),
                    retry_after,
                },
                _ => Error::SignIn {
                    detail: match r.error() {
                        BasicErrorResponseType::InvalidGrant => format!(
                            "the platform refused the {what} ({description}); run `keepsake login`"
                        ),
                        BasicErrorResponseType::InvalidClient => format!(
                            "the platform does not accept the Keepsake client ({description}); it may not support Keepsake"
                        ),
                        other => {
                            format!("the platform refused the {what} ({other}: {description})")
                        }
                    },
                },
            }
        }
        RequestTokenError::Parse(e, body) => match status {
            Some((code, retry_after)) if !(200..300).contains(&code) => Error::Status {
                status: code,
                url: url.to_owned(),
                problem: problem_from(&body),
                retry_after,
            },
            _ => Error::Protocol {
                url: url.to_owned(),
                detail: format!("the token answer is not valid OAuth JSON: {e}"),
            },
        },
        RequestTokenError::Other(msg) => match status {
            Some((code, retry_after)) if !(200..300).contains(&code) => Error::Status {
                status: code,
                url: url.to_owned(),
                problem: None,
                retry_after,
            },
            _ => Error::Protocol {
                url: url.to_owned(),
                detail: msg,
            },
        },
    }
}

fn credentials(
    platform: String,
    response: &oauth2::basic::BasicTokenResponse,
    url: &str,
) -> Result<Credentials> {
    if *response.token_type() != BasicTokenType::Bearer {
        return Err(Error::Protocol {
            url: url.to_owned(),
            detail: format!(
                "the platform issued a '{}' token; Keepsake only uses bearer tokens",
                response.token_type().as_ref()
            ),
        });
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(Credentials {
        platform,
        access_token: Secret::new(response.access_token().secret().as_str()),
        refresh_token: response
            .refresh_token()
            .map(|r| Secret::new(r.secret().as_str())),
        expires_at: response
            .expires_in()
            .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
        kind: TokenKind::OAuth,
        connector: None,
        scope: response
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
    })
}

fn network(url: &Url, e: &reqwest::Error) -> Error {
    Error::Network {
        url: crate::error::display_url(url),
        detail: chain(e),
    }
}

/// An error and its causes, "outer: inner: innermost".
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
