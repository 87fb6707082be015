//! Bearer-token authentication and scope checks for `/api/v1`.

use axum::http::{HeaderMap, header};
use rusqlite::{OptionalExtension, params};

use crate::{PlatformState, SCOPE_ANY, SCOPE_SELF, clock, problem::Problem, store::hash_secret};

/// Who is calling, as proven by their token.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub user_id: i64,
    pub scopes: Vec<String>,
    pub kind: &'static str,
}

impl Actor {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// May this actor export (or read the export trail of) `subject_id`?
    pub fn may_export(&self, subject_id: i64) -> Result<(), Problem> {
        if self.has(SCOPE_ANY) {
            return Ok(());
        }
        if subject_id == self.user_id {
            return if self.has(SCOPE_SELF) {
                Ok(())
            } else {
                Err(Problem::insufficient_scope(
                    SCOPE_SELF,
                    "this token cannot export your account; sign in with export:self",
                ))
            };
        }
        Err(Problem::insufficient_scope(
            SCOPE_ANY,
            "exporting another person's account needs the export:any scope (support staff only)",
        ))
    }
}

/// Checks the `Authorization: Bearer` header.
pub(crate) async fn authenticate(
    state: &PlatformState,
    headers: &HeaderMap,
) -> Result<Actor, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(Problem::invalid_token(
            "this request needs an access token (Authorization: Bearer …)",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Problem::invalid_token("the Authorization header must be 'Bearer <token>'")
        })?;
    let hash = hash_secret(token);
    let fault_ttl = state.faults().token_ttl_secs;
    let row = state
        .store()
        .run(move |c| {
            c.query_row(
                "SELECT user_id, scope, kind, created_at, expires_at, revoked FROM tokens \
                 WHERE hash = ?1 AND kind IN ('access', 'pat')",
                params![hash],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<i64>>(4)?,
                        r.get::<_, bool>(5)?,
                    ))
                },
            )
            .optional()
        })
        .await?;
    let Some((user_id, scope, kind, created_at, expires_at, revoked)) = row else {
        return Err(Problem::invalid_token(
            "this access token is not known; sign in again",
        ));
    };
    let now = clock::now();
    let fault_expired =
        kind == "access" && fault_ttl.is_some_and(|ttl| created_at + (ttl as i64) < now);
    if revoked || expires_at.is_some_and(|e| e < now) || fault_expired {
        return Err(Problem::invalid_token(
            "this access token has expired or was revoked; refresh it or sign in again",
        ));
    }
    Ok(Actor {
        user_id,
        scopes: scope.split_whitespace().map(str::to_owned).collect(),
        kind: if kind == "pat" { "pat" } else { "oauth" },
    })
}
