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
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, HttpClientError, PkceCodeChallenge,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse as _, TokenUrl,
};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::error::Problem;
use crate::loopback::{self, Loopback, describe, param};
use crate::{Error, PlatformUrl, Result, Secret};

/// A platform's OAuth endpoints (paths under its base URL) and the client
/// id Keepsake is known by there: the connector's to say.
#[derive(Debug, Clone, Copy)]
pub struct OAuthClient {
    /// The authorization endpoint (`oauth/authorize`).
    pub authorize: &'static str,
    /// The token endpoint.
    pub token: &'static str,
    /// The revocation endpoint (RFC 7009).
    pub revoke: &'static str,
    /// Keepsake's client id: a public client, no secret.
    pub client_id: &'static str,
}

/// What a token endpoint granted.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The bearer token.
    pub access_token: Secret,
    /// The refresh token, when one was issued.
    pub refresh_token: Option<Secret>,
    /// When the access token expires (Unix seconds), if said.
    pub expires_at: Option<i64>,
    /// The granted scopes, space-separated, if said.
    pub scope: Option<String>,
}

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
/// exchanges the code, and returns what the platform granted.
///
/// Errors: [`Error::SignIn`] when the user declines, the answer is not for
/// this sign-in (state mismatch), the platform refuses, or no answer comes
/// within `timeout`; [`Error::Network`] / [`Error::Status`] when the token
/// endpoint cannot be reached or fails.
pub async fn login_with_browser(
    platform: &PlatformUrl,
    oauth: &OAuthClient,
    scopes: &[&str],
    open: impl FnOnce(&Url) -> std::io::Result<()>,
    timeout: Duration,
) -> Result<Grant> {
    let base = platform.normalised();
    let listener = Loopback::bind().await?;
    let client = BasicClient::new(ClientId::new(oauth.client_id.to_owned()))
        .set_auth_uri(AuthUrl::from_url(endpoint(&base, oauth.authorize)?))
        .set_token_uri(TokenUrl::from_url(endpoint(&base, oauth.token)?))
        .set_redirect_uri(RedirectUrl::new(listener.redirect_uri()).map_err(|e| {
            Error::SignIn {
                detail: format!("cannot form the redirect address: {e}"),
            }
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
            "could not open the browser ({e}); open the sign-in address yourself, or sign in with a personal access token"
        ),
    })?;
    let Some((mut stream, answer)) = listener.wait(timeout).await else {
        return Err(Error::SignIn {
            detail: format!(
                "no answer came from the browser within {}; sign in again (or with a personal access token)",
                describe(timeout)
            ),
        });
    };

    let result = async {
        let code = check_callback(&answer, &state)?;
        let http = http_client(&base)?;
        let token_url = client.token_uri().to_string();
        let recorder = Recorder::new(http);
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&recorder)
            .await
            .map_err(|e| token_failure(e, recorder.status(), &token_url, "authorization code"))?;
        grant(&response, &token_url)
    }
    .await;
    loopback::tell(&mut stream, &result).await;
    result
}

/// The code the browser brought back, if the answer is ours and carries
/// one; otherwise why not.
pub(crate) fn check_callback(answer: &Url, sent: &CsrfToken) -> Result<String> {
    // Compared through hashes so that the time taken says nothing about
    // how much of a guessed state matched.
    let ours = Sha256::digest(sent.secret().as_bytes());
    let matches = param(answer, "state").is_some_and(|s| Sha256::digest(s.as_bytes()) == ours);
    if !matches {
        return Err(Error::SignIn {
            detail: "the answer that reached Keepsake was not for this sign-in (its state did not match), so it was refused and nothing was stored; sign in again".into(),
        });
    }
    if let Some(error) = param(answer, "error") {
        let detail = if error == "access_denied" {
            "you declined the sign-in in the browser".to_owned()
        } else {
            format!(
                "the platform refused the sign-in ({error}: {})",
                param(answer, "error_description")
                    .as_deref()
                    .unwrap_or("no details given")
            )
        };
        return Err(Error::SignIn { detail });
    }
    match param(answer, "code") {
        Some(code) if !code.is_empty() => Ok(code),
        _ => Err(Error::SignIn {
            detail: "the browser came back without an authorization code; sign in again".into(),
        }),
    }
}

/// Refreshes an OAuth sign-in (`grant_type=refresh_token`) at `token_path`
/// under `platform` (a normalised platform URL). The presented refresh
/// token is dead once this succeeds: store the result before using it.
pub async fn refresh(
    platform: &str,
    token_path: &str,
    client_id: &str,
    refresh_token: &Secret,
) -> Result<Grant> {
    let base = PlatformUrl::parse(platform)?.normalised();
    let token_url = endpoint(&base, token_path)?;
    let client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_token_uri(TokenUrl::from_url(token_url.clone()));
    let http = http_client(&base)?;
    let recorder = Recorder::new(http);
    let token_url = token_url.to_string();
    let response = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.expose().to_owned()))
        .request_async(&recorder)
        .await
        .map_err(|e| token_failure(e, recorder.status(), &token_url, "stored sign-in"))?;
    let mut fresh = grant(&response, &token_url)?;
    // RFC 6749 §6: without a new refresh token, the old one stays valid.
    if fresh.refresh_token.is_none() {
        fresh.refresh_token = Some(refresh_token.clone());
    }
    Ok(fresh)
}

/// Revokes a token (RFC 7009): a refresh token ends its whole sign-in, an
/// access token only itself, a personal access token ends for good.
/// `platform` is a normalised platform URL.
pub async fn revoke(platform: &str, oauth: &OAuthClient, token: &Secret) -> Result<()> {
    let base = PlatformUrl::parse(platform)?.normalised();
    let url = endpoint(&base, oauth.revoke)?;
    // Sent by hand: oauth2's revocation request refuses any http:// endpoint,
    // and the platform may be a loopback http:// one (PlatformUrl has already
    // refused plain http to anything else).
    let http = http_client(&base)?;
    let response = http
        .post(url.clone())
        .form(&[("token", token.expose()), ("client_id", oauth.client_id)])
        .send()
        .await
        .map_err(|e| network(&url, &e))?;
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(());
    }
    let retry_after = retry_after(response.status(), response.headers());
    // The platform's answer: read up to a bound, and never shown with the
    // token it was sent (a server may echo it).
    let body = crate::client::error_body(response, &url).await;
    let refused = Error::Status {
        status,
        url: crate::error::display_url(&url),
        problem: problem_from(&body),
        retry_after,
    };
    Err(crate::client::redact(refused, token))
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
            let status = response.status();
            let info = (status.as_u16(), retry_after(status, response.headers()));
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(info);
            Ok(response)
        })
    }
}

/// The wait an answer asks for, read as every other request's is
/// (`Retry-After`, and on a `429` the rate-limit reset).
fn retry_after(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> Option<Duration> {
    let rate_limited = status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    crate::client::asked_wait(headers, std::time::SystemTime::now(), rate_limited)
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
                            "the platform refused the {what} ({description}); sign in again"
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

fn grant(response: &oauth2::basic::BasicTokenResponse, url: &str) -> Result<Grant> {
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
    Ok(Grant {
        access_token: Secret::new(response.access_token().secret().as_str()),
        refresh_token: response
            .refresh_token()
            .map(|r| Secret::new(r.secret().as_str())),
        expires_at: response
            .expires_in()
            .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
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
