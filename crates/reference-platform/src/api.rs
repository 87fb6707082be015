//! The `/api/v1` handlers: accounts, export sessions and their collections.

use std::collections::HashMap;

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    PlatformState,
    auth::{Actor, authenticate},
    exports::{self, ExportRequest, ExportRow, Outcome, PageRequest},
    faults::{Knob, Roll},
    media::Signer,
    problem::Problem,
    wire::UserRow,
};

type ApiResult = Result<Response, Problem>;

fn parse_id(raw: &str, what: &str) -> Result<i64, Problem> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id >= 0)
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "{what} must be a non-negative integer, not '{raw}'"
            ))
        })
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        Problem::bad_request(format!(
            "the request body is not valid JSON for this request: {e}"
        ))
    })
}

async fn user(state: &PlatformState, id: i64) -> Result<UserRow, Problem> {
    state
        .store()
        .run(move |c| UserRow::by_id(c, id))
        .await?
        .ok_or_else(|| Problem::not_found(format!("no account with id {id}")))
}

fn live(u: UserRow) -> Result<UserRow, Problem> {
    match u.deleted_at {
        Some(_) => Err(Problem::account_deleted(u.id)),
        None => Ok(u),
    }
}

/// `GET /api/v1/me`.
pub(crate) async fn me(State(state): State<PlatformState>, headers: HeaderMap) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    let u = live(user(&state, actor.user_id).await?)?;
    let mut body = u.json();
    body["scopes"] = json!(actor.scopes);
    body["token_kind"] = json!(actor.kind);
    Ok(Json(body).into_response())
}

/// `GET /api/v1/users?login=…|email=…` (support staff).
pub(crate) async fn lookup(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    if !actor.has(crate::SCOPE_ANY) {
        return Err(Problem::insufficient_scope(
            crate::SCOPE_ANY,
            "looking accounts up is for support staff (export:any)",
        ));
    }
    let (field, value) = match (q.get("login"), q.get("email")) {
        (Some(l), _) => ("login", l.clone()),
        (None, Some(e)) => ("email", e.clone()),
        (None, None) => {
            return Err(Problem::bad_request(
                "give login= or email= to look an account up",
            ));
        }
    };
    let found = state
        .store()
        .run(move |c| UserRow::by_field(c, field, &value))
        .await?;
    Ok(Json(json!({ "items": found.map(|u| vec![u.json()]).unwrap_or_default() })).into_response())
}

/// `GET /api/v1/users/{user_id}`.
pub(crate) async fn get_user(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    let id = parse_id(&user_id, "user_id")?;
    actor.may_export(id)?;
    Ok(Json(live(user(&state, id).await?)?.json()).into_response())
}

/// `POST /api/v1/users/{user_id}/exports`.
pub(crate) async fn open_export(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    let subject = parse_id(&user_id, "user_id")?;
    actor.may_export(subject)?;
    let req: ExportRequest = parse_json(&body)?;
    let cfg = state.config();
    let quota = (cfg.quota_per_window, cfg.quota_window.as_secs() as i64);
    let abandon = cfg.abandon_after.as_secs() as i64;
    let store = state.store().clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut conn = store.conn()?;
        exports::open(&mut conn, &actor, subject, req, quota, abandon).map_err(|e| store.err(e))
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))??;
    let body = result?;
    let location = format!(
        "/api/v1/users/{subject}/exports/{}",
        body["export_id"].as_str().unwrap_or_default()
    );
    let mut resp = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// `GET /api/v1/users/{user_id}/exports`: the server-side audit trail.
pub(crate) async fn list_exports(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    let subject = parse_id(&user_id, "user_id")?;
    actor.may_export(subject)?;
    user(&state, subject).await?;
    let abandon = state.config().abandon_after.as_secs() as i64;
    let items = state
        .store()
        .run(move |c| {
            let mut stmt = c.prepare(
                "SELECT id FROM exports WHERE subject_id = ?1 ORDER BY created_at DESC, rowid DESC",
            )?;
            let ids: Vec<String> = stmt
                .query_map([subject], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut items = Vec::new();
            for id in ids {
                if let Some(row) = ExportRow::load(c, &id, abandon)? {
                    items.push(row.json(c)?);
                }
            }
            Ok(items)
        })
        .await?;
    Ok(Json(json!({ "items": items })).into_response())
}

/// Loads an export addressed as `/users/{user_id}/exports/{export_id}`.
async fn export_for(
    state: &PlatformState,
    actor: &Actor,
    user_id: &str,
    export_id: String,
) -> Result<ExportRow, Problem> {
    let subject = parse_id(user_id, "user_id")?;
    actor.may_export(subject)?;
    let abandon = state.config().abandon_after.as_secs() as i64;
    let missing = || Problem::not_found(format!("no export {export_id} for account {subject}"));
    let id = export_id.clone();
    let row = state
        .store()
        .run(move |c| ExportRow::load(c, &id, abandon))
        .await?;
    row.filter(|r| r.subject_id == subject).ok_or_else(missing)
}

/// `GET /api/v1/users/{user_id}/exports/{export_id}`.
pub(crate) async fn get_export(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path((user_id, export_id)): Path<(String, String)>,
) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    let row = export_for(&state, &actor, &user_id, export_id).await?;
    let body = state.store().run(move |c| row.json(c)).await?;
    Ok(Json(body).into_response())
}

/// `PATCH /api/v1/users/{user_id}/exports/{export_id}`: the client's outcome.
pub(crate) async fn finish_export(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path((user_id, export_id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let actor = authenticate(&state, &headers).await?;
    let row = export_for(&state, &actor, &user_id, export_id).await?;
    if row.actor_id != actor.user_id {
        return Err(Problem::not_found(format!(
            "no export {} opened by this account",
            row.id
        )));
    }
    let outcome: Outcome = serde_json::from_slice(&body).map_err(|e| {
        Problem::invalid_outcome(format!(
            "the outcome is not valid JSON for this request: {e}"
        ))
    })?;
    let body = state
        .store()
        .run(move |c| exports::finish(c, &row, outcome))
        .await??;
    Ok(Json(body).into_response())
}

/// Checks that a running session of this actor may be read from now.
async fn readable(
    state: &PlatformState,
    headers: &HeaderMap,
    user_id: &str,
    export_id: String,
) -> Result<ExportRow, Problem> {
    let actor = authenticate(state, headers).await?;
    let row = export_for(state, &actor, user_id, export_id).await?;
    if row.actor_id != actor.user_id {
        return Err(Problem::not_found(format!(
            "no export {} opened by this account",
            row.id
        )));
    }
    // Deletion wins over everything else, also in the middle of an export.
    live(user(state, row.subject_id).await?)?;
    if row.status != "running" {
        return Err(Problem::export_finished(&row.id, &row.status));
    }
    let id = row.id.clone();
    state.store().run(move |c| exports::touch(c, &id)).await?;
    Ok(row)
}

fn signer(state: &PlatformState, headers: &HeaderMap, export_id: &str) -> Signer {
    let base = match &state.config().public_url {
        Some(u) => u.as_str().trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            format!("http://{host}")
        }
    };
    let ttl = state
        .faults()
        .media_url_ttl_secs
        .unwrap_or(state.config().media_url_ttl.as_secs());
    Signer {
        key: state.inner.media_key.clone(),
        base,
        export_id: export_id.to_owned(),
        ttl_secs: ttl as i64,
    }
}

/// `GET …/exports/{export_id}/profile`.
pub(crate) async fn profile(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path((user_id, export_id)): Path<(String, String)>,
) -> ApiResult {
    let row = readable(&state, &headers, &user_id, export_id).await?;
    if !row.categories.iter().any(|c| c == "profile") {
        return Err(Problem::not_found(
            "this export session does not include the profile",
        ));
    }
    let u = user(&state, row.subject_id).await?;
    Ok(Json(u.profile_json()).into_response())
}

/// `GET …/exports/{export_id}/{collection}?cursor=&limit=`.
pub(crate) async fn collection(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path((user_id, export_id, category)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    roll: Option<Extension<Roll>>,
) -> ApiResult {
    if !["posts", "comments", "likes", "connections", "media"].contains(&category.as_str()) {
        return Err(Problem::not_found(format!("no collection '{category}'")));
    }
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(format!("limit must be an integer from 1 to 500, not '{l}'"))
            })?,
    };
    let cursor = q.get("cursor").filter(|c| !c.is_empty()).cloned();
    let after_id = match &cursor {
        None => 0,
        Some(c) => exports::decode_cursor(c)
            .ok_or_else(|| Problem::bad_request("the cursor is not one this server issued"))?,
    };
    let row = readable(&state, &headers, &user_id, export_id).await?;
    if !row.categories.contains(&category) {
        return Err(Problem::not_found(format!(
            "this export session does not include {category}"
        )));
    }
    let plan = state.faults();
    let hits = |k| roll.as_ref().is_some_and(|r| r.0.hits(&plan, k));
    let req = PageRequest {
        category,
        after_id,
        limit,
        include_cursor_record: cursor.is_some() && hits(Knob::Duplicate),
    };
    let repeat = cursor.is_some() && hits(Knob::RepeatCursor);
    let signer = signer(&state, &headers, &row.id);
    let (items, last, more) = state
        .store()
        .run(move |c| exports::page(c, &row, &req, &signer))
        .await?;
    let next: Value = if repeat {
        json!(cursor)
    } else if more {
        json!(last.map(exports::encode_cursor))
    } else {
        Value::Null
    };
    Ok(Json(json!({ "items": items, "next_cursor": next })).into_response())
}

/// `GET …/exports/{export_id}/media/{media_id}`: metadata with a fresh URL.
pub(crate) async fn media_item(
    State(state): State<PlatformState>,
    headers: HeaderMap,
    Path((user_id, export_id, media_id)): Path<(String, String, String)>,
) -> ApiResult {
    let media_id = parse_id(&media_id, "media_id")?;
    let row = readable(&state, &headers, &user_id, export_id).await?;
    if !row.categories.iter().any(|c| c == "media") {
        return Err(Problem::not_found(
            "this export session does not include media",
        ));
    }
    let signer = signer(&state, &headers, &row.id);
    let item = state
        .store()
        .run(move |c| exports::media_item(c, &row, media_id))
        .await?;
    let item =
        item.ok_or_else(|| Problem::not_found(format!("no media item {media_id} in this export")))?;
    Ok(Json(exports::media_json(&signer, item)).into_response())
}
