//! OAuth 2.0 for native apps: authorization code + PKCE (S256) with loopback
//! redirects (RFC 6749, 7636, 8252), refresh-token rotation with reuse
//! detection, and revocation (RFC 7009).

use std::collections::HashMap;
use std::net::IpAddr;

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use rusqlite::{OptionalExtension, params};
use url::{Host, Url};

use crate::{
    CLIENT_ID, PlatformState, clock, html,
    store::{self, hash_secret, new_secret},
};

const CODE_TTL_SECS: i64 = 60;
const KNOWN_SCOPES: [&str; 2] = [crate::SCOPE_SELF, crate::SCOPE_ANY];

mod token;

pub(crate) use token::{revoke, token};

type Params = HashMap<String, String>;

/// A validated authorization request.
struct AuthRequest {
    redirect: Url,
    state: Option<String>,
    challenge: String,
    scopes: Vec<String>,
}

enum AuthError {
    /// The client or redirect cannot be trusted: show a page, never redirect.
    Page(String),
    /// Tell the client through its redirect.
    Redirect(Url),
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            AuthError::Page(msg) => {
                with_csp((StatusCode::BAD_REQUEST, Html(html::error_page(&msg))).into_response())
            }
            AuthError::Redirect(url) => found(&url),
        }
    }
}

fn with_csp(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(html::CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// RFC 8252 §7.3: `http` to a loopback IP literal, any port, no fragment.
/// `localhost` is refused (§8.3: it may resolve elsewhere).
pub(crate) fn loopback_redirect(uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    let loopback = match url.host()? {
        Host::Ipv4(ip) => IpAddr::V4(ip) == IpAddr::from([127, 0, 0, 1]),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(_) => false,
    };
    (url.scheme() == "http" && loopback && url.port().is_some() && url.fragment().is_none())
        .then_some(url)
}

fn redirect_error(
    redirect: &Url,
    error: &str,
    description: &str,
    state: Option<&str>,
) -> AuthError {
    let mut url = redirect.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error)
            .append_pair("error_description", description);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    AuthError::Redirect(url)
}

fn pkce_value_ok(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn validate(p: &Params) -> Result<AuthRequest, AuthError> {
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return Err(AuthError::Page(format!(
            "unknown client: this platform only accepts the client id '{CLIENT_ID}'"
        )));
    }
    let Some(redirect) = p.get("redirect_uri").and_then(|r| loopback_redirect(r)) else {
        return Err(AuthError::Page(
            "the redirect address is not allowed: native apps must use http://127.0.0.1:PORT/… or http://[::1]:PORT/…".into(),
        ));
    };
    let state = p.get("state").cloned();
    let st = state.as_deref();
    if p.get("response_type").map(String::as_str) != Some("code") {
        return Err(redirect_error(
            &redirect,
            "unsupported_response_type",
            "only response_type=code is supported",
            st,
        ));
    }
    if p.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return Err(redirect_error(
            &redirect,
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
            st,
        ));
    }
    let challenge = match p.get("code_challenge") {
        Some(c) if pkce_value_ok(c) => c.clone(),
        _ => {
            return Err(redirect_error(
                &redirect,
                "invalid_request",
                "a valid code_challenge is required",
                st,
            ));
        }
    };
    let scopes: Vec<String> = p
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .filter(|v: &Vec<String>| !v.is_empty())
        .unwrap_or_else(|| vec![crate::SCOPE_SELF.to_owned()]);
    if let Some(bad) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(redirect_error(
            &redirect,
            "invalid_scope",
            &format!("unknown scope '{bad}'"),
            st,
        ));
    }
    Ok(AuthRequest {
        redirect,
        state,
        challenge,
        scopes,
    })
}

fn hidden(p: &Params) -> Vec<(&'static str, String)> {
    [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ]
    .into_iter()
    .filter_map(|k| p.get(k).map(|v| (k, v.clone())))
    .collect()
}

fn consent(
    state: &PlatformState,
    p: &Params,
    req: &AuthRequest,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let demo = if state.config().demo {
        state.store().demo_credentials().unwrap_or_default()
    } else {
        Vec::new()
    };
    let page = html::consent_page(&html::Consent {
        hidden: &hidden(p),
        scopes: &req.scopes,
        error,
        login: p.get("login").map(String::as_str).unwrap_or(""),
        demo_accounts: &demo,
    });
    with_csp((status, Html(page)).into_response())
}

/// `GET /oauth/authorize`: the sign-in and consent page.
pub(crate) async fn authorize_page(
    State(state): State<PlatformState>,
    Query(p): Query<Params>,
) -> Response {
    match validate(&p) {
        Ok(req) => consent(&state, &p, &req, None, StatusCode::OK),
        Err(e) => e.into_response(),
    }
}

/// `POST /oauth/authorize`: the form's answer.
pub(crate) async fn authorize_submit(
    State(state): State<PlatformState>,
    Form(p): Form<Params>,
) -> Response {
    let req = match validate(&p) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let st = req.state.as_deref();
    if p.get("decision").map(String::as_str) != Some("approve") {
        return redirect_error(
            &req.redirect,
            "access_denied",
            "the user denied the request",
            st,
        )
        .into_response();
    }
    let login = p.get("login").cloned().unwrap_or_default();
    let password = p.get("password").cloned().unwrap_or_default();
    let lookup_login = login.clone();
    let user = state
        .store()
        .run(move |c| {
            c.query_row(
                "SELECT id, role, password_hash FROM users WHERE login = ?1 AND deleted_at IS NULL",
                [lookup_login],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()
        })
        .await;
    let user = match user {
        Ok(u) => u,
        Err(_) => {
            return with_csp(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(html::error_page("the platform failed; try again")),
                )
                    .into_response(),
            );
        }
    };
    // Verify off the async threads: argon2 is deliberately slow.
    let verified = match user {
        Some((id, role, Some(hash))) => tokio::task::spawn_blocking(move || {
            store::verify_password(&password, &hash).then_some((id, role))
        })
        .await
        .ok()
        .flatten(),
        _ => None,
    };
    let Some((user_id, role)) = verified else {
        return consent(
            &state,
            &p,
            &req,
            Some("That login and password do not match. Try again."),
            StatusCode::UNAUTHORIZED,
        );
    };
    if req.scopes.iter().any(|s| s == crate::SCOPE_ANY) && role != "support" {
        return redirect_error(
            &req.redirect,
            "invalid_scope",
            "export:any is only for support staff accounts",
            st,
        )
        .into_response();
    }
    let code = new_secret("ksc_");
    let family = new_secret("");
    let (code_hash, redirect, challenge, scope) = (
        hash_secret(&code),
        req.redirect.to_string(),
        req.challenge.clone(),
        store::normalize_scope(&req.scopes.join(" ")),
    );
    let stored = state
        .store()
        .run(move |c| {
            c.execute(
                "INSERT INTO auth_codes (hash, user_id, client_id, redirect_uri, code_challenge, scope, family, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![code_hash, user_id, CLIENT_ID, redirect, challenge, scope, family, clock::now() + CODE_TTL_SECS],
            )
        })
        .await;
    if stored.is_err() {
        return with_csp(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(html::error_page("the platform failed; try again")),
            )
                .into_response(),
        );
    }
    let mut url = req.redirect.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = st {
            q.append_pair("state", s);
        }
    }
    found(&url)
}

/// `302 Found` to the client's redirect URI, as RFC 6749 §4.1.2 shows it.
fn found(url: &Url) -> Response {
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    with_csp(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_ip_literals_with_a_port_are_redirect_targets() {
        assert!(loopback_redirect("http://127.0.0.1:49152/callback").is_some());
        assert!(loopback_redirect("http://[::1]:8080/cb").is_some());
        for bad in [
            "http://localhost:8080/cb",
            "https://127.0.0.1:8080/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.2:80/cb",
            "http://example.com:8080/cb",
            "http://127.0.0.1:8080/cb#frag",
            "not a url",
        ] {
            assert!(loopback_redirect(bad).is_none(), "{bad}");
        }
    }
}
