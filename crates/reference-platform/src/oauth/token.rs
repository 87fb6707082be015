//! The token endpoint (`POST /oauth/token`: a code exchanged with its PKCE
//! verifier, a refresh token rotated with reuse detection) and revocation
//! (`POST /oauth/revoke`, RFC 7009).

use axum::{
    Form, Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Params, pkce_value_ok};
use crate::{
    CLIENT_ID, PlatformState, clock,
    store::{self, hash_secret, new_secret},
};

/// An RFC 6749 §5.2 error (these are `application/json`, as OAuth clients expect).
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut resp = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn invalid_grant(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// Issues an access + refresh token pair in `family`.
fn issue(
    c: &Connection,
    state: &PlatformState,
    user_id: i64,
    scope: &str,
    family: &str,
) -> rusqlite::Result<serde_json::Value> {
    let cfg = state.config();
    let now = clock::now();
    let access_ttl = state
        .faults()
        .token_ttl_secs
        .map(|t| t as i64)
        .unwrap_or(cfg.access_token_ttl.as_secs() as i64);
    let access = new_secret("ksa_");
    let refresh = new_secret("ksr_");
    c.execute(
        "INSERT INTO tokens (hash, kind, user_id, scope, family, created_at, expires_at) VALUES (?1, 'access', ?2, ?3, ?4, ?5, ?6)",
        params![hash_secret(&access), user_id, scope, family, now, now + access_ttl],
    )?;
    c.execute(
        "INSERT INTO tokens (hash, kind, user_id, scope, family, created_at, expires_at) VALUES (?1, 'refresh', ?2, ?3, ?4, ?5, ?6)",
        params![hash_secret(&refresh), user_id, scope, family, now, now + cfg.refresh_token_ttl.as_secs() as i64],
    )?;
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": access_ttl,
        "refresh_token": refresh,
        "scope": scope,
    }))
}

fn revoke_family(c: &Connection, family: &str) -> rusqlite::Result<()> {
    c.execute("UPDATE tokens SET revoked = 1 WHERE family = ?1", [family])?;
    Ok(())
}

enum Grant {
    Issued(serde_json::Value),
    Refused(&'static str),
}

/// `POST /oauth/token`.
pub(crate) async fn token(State(state): State<PlatformState>, Form(p): Form<Params>) -> Response {
    if p.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id",
        );
    }
    let grant_type = p.get("grant_type").cloned().unwrap_or_default();
    let st = state.clone();
    let result = match grant_type.as_str() {
        "authorization_code" => {
            let (Some(code), Some(redirect), Some(verifier)) =
                (p.get("code"), p.get("redirect_uri"), p.get("code_verifier"))
            else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code, redirect_uri and code_verifier are required",
                );
            };
            let (code_hash, redirect, verifier) =
                (hash_secret(code), redirect.clone(), verifier.clone());
            state
                .store()
                .run(move |c| exchange_code(c, &st, &code_hash, &redirect, &verifier))
                .await
        }
        "refresh_token" => {
            let Some(refresh) = p.get("refresh_token") else {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            let (hash, scope) = (hash_secret(refresh), p.get("scope").cloned());
            state
                .store()
                .run(move |c| rotate(c, &st, &hash, scope.as_deref()))
                .await
        }
        _ => {
            return token_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            );
        }
    };
    match result {
        Ok(Grant::Issued(body)) => {
            let mut resp = Json(body).into_response();
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            resp
        }
        Ok(Grant::Refused(why)) => invalid_grant(why),
        Err(e) => {
            tracing::error!(error = %e, "token endpoint");
            token_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "the platform failed; try again",
            )
        }
    }
}

fn exchange_code(
    c: &Connection,
    state: &PlatformState,
    code_hash: &str,
    redirect: &str,
    verifier: &str,
) -> rusqlite::Result<Grant> {
    let row = c
        .query_row(
            "SELECT user_id, redirect_uri, code_challenge, scope, family, expires_at, used FROM auth_codes WHERE hash = ?1",
            [code_hash],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((user_id, want_redirect, challenge, scope, family, expires_at, used)) = row else {
        return Ok(Grant::Refused("unknown authorization code"));
    };
    // Single use, atomically: a second exchange means the code leaked, so
    // everything issued from it is revoked (RFC 6749 §4.1.2).
    if used
        || c.execute(
            "UPDATE auth_codes SET used = 1 WHERE hash = ?1 AND used = 0",
            [code_hash],
        )? == 0
    {
        revoke_family(c, &family)?;
        return Ok(Grant::Refused(
            "this authorization code was already used; tokens issued from it are revoked",
        ));
    }
    if expires_at <= clock::now() {
        return Ok(Grant::Refused(
            "the authorization code has expired; sign in again",
        ));
    }
    if want_redirect != redirect {
        return Ok(Grant::Refused(
            "redirect_uri does not match the one used to authorize",
        ));
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if !pkce_value_ok(verifier) || computed != challenge {
        return Ok(Grant::Refused(
            "the PKCE code_verifier does not match the code_challenge",
        ));
    }
    Ok(Grant::Issued(issue(c, state, user_id, &scope, &family)?))
}

fn rotate(
    c: &Connection,
    state: &PlatformState,
    hash: &str,
    scope: Option<&str>,
) -> rusqlite::Result<Grant> {
    let row = c
        .query_row(
            "SELECT t.user_id, t.scope, t.family, t.expires_at, t.used, t.revoked, u.deleted_at IS NOT NULL \
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?1 AND t.kind = 'refresh'",
            [hash],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, bool>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((user_id, granted, family, expires_at, used, revoked, deleted)) = row else {
        return Ok(Grant::Refused("unknown refresh token; sign in again"));
    };
    if revoked {
        return Ok(Grant::Refused(
            "this refresh token was revoked; sign in again",
        ));
    }
    // Rotation with reuse detection: a refresh token works once. A second use
    // means two parties hold it, so the whole family is revoked.
    if used
        || c.execute(
            "UPDATE tokens SET used = 1 WHERE hash = ?1 AND used = 0",
            [hash],
        )? == 0
    {
        revoke_family(c, &family)?;
        return Ok(Grant::Refused(
            "this refresh token was already used; every token of this sign-in is revoked, sign in again",
        ));
    }
    if expires_at.is_some_and(|e| e <= clock::now()) {
        return Ok(Grant::Refused(
            "the refresh token has expired; sign in again",
        ));
    }
    if deleted {
        return Ok(Grant::Refused("the account has been deleted"));
    }
    let scope = match scope {
        None => granted,
        Some(asked) => {
            let held: Vec<&str> = granted.split_whitespace().collect();
            if asked.split_whitespace().any(|s| !held.contains(&s)) {
                return Ok(Grant::Refused(
                    "the requested scope exceeds the one granted",
                ));
            }
            store::normalize_scope(asked)
        }
    };
    Ok(Grant::Issued(issue(c, state, user_id, &scope, &family)?))
}

/// `POST /oauth/revoke` (RFC 7009): always `200`, whether or not the token existed.
pub(crate) async fn revoke(State(state): State<PlatformState>, Form(p): Form<Params>) -> Response {
    if let Some(token) = p.get("token") {
        let hash = hash_secret(token);
        let _ = state
            .store()
            .run(move |c| {
                let family: Option<(String, Option<String>)> = c
                    .query_row(
                        "SELECT kind, family FROM tokens WHERE hash = ?1",
                        [&hash],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                match family {
                    Some((kind, Some(fam))) if kind == "refresh" => revoke_family(c, &fam),
                    Some(_) => c
                        .execute("UPDATE tokens SET revoked = 1 WHERE hash = ?1", [&hash])
                        .map(|_| ()),
                    None => Ok(()),
                }
            })
            .await;
    }
    let mut resp = StatusCode::OK.into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
