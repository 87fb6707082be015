//! The router: routes, middleware order, and the catch-all that turns every
//! framework rejection into an RFC 9457 problem.

use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;

use crate::{FaultPlan, PlatformState, api, faults, media, oauth, problem::Problem, ratelimit};

const OPENAPI: &str = include_str!("../../../docs/api/openapi.yaml");

/// The whole platform as an axum router; bind it wherever you like
/// (tests use `127.0.0.1:0`). Serve it with connect info (see [`serve`]) so
/// the admin endpoints can tell loopback peers apart.
pub fn app(state: PlatformState) -> Router {
    let export = "/api/v1/users/{user_id}/exports/{export_id}";
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/openapi.yaml", get(openapi))
        .route(
            "/oauth/authorize",
            get(oauth::authorize_page).post(oauth::authorize_submit),
        )
        .route("/oauth/token", axum::routing::post(oauth::token))
        .route("/oauth/revoke", axum::routing::post(oauth::revoke))
        .route("/api/v1/me", get(api::me))
        .route("/api/v1/users", get(api::lookup))
        .route("/api/v1/users/{user_id}", get(api::get_user))
        .route(
            "/api/v1/users/{user_id}/exports",
            get(api::list_exports).post(api::open_export),
        )
        .route(export, get(api::get_export).patch(api::finish_export))
        .route(&format!("{export}/profile"), get(api::profile))
        .route(
            &format!("{export}/media/{{media_id}}"),
            get(api::media_item),
        )
        .route(&format!("{export}/{{collection}}"), get(api::collection))
        .route("/media/{media_id}/content", get(media::download))
        .route("/admin/faults", get(get_faults).put(put_faults))
        .fallback(|| async { Problem::not_found("no such resource") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit,
        ))
        .layer(middleware::from_fn(problems_everywhere))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: PlatformState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI).into_response()
}

/// Rejections from extractors and the router (bad query, bad form, 405)
/// arrive as text; rewrite them as problems so clients parse one format.
async fn problems_everywhere(req: Request, next: Next) -> Response {
    let instance = req.uri().path().to_owned();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct == "application/problem+json" {
        return with_instance(resp, &instance).await;
    }
    if ct.contains("json") || ct.contains("html") || status == StatusCode::RANGE_NOT_SATISFIABLE {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).into_owned();
    let mut problem = match status {
        StatusCode::METHOD_NOT_ALLOWED => Problem::method_not_allowed().into_response(),
        StatusCode::NOT_FOUND => Problem::not_found(detail).into_response(),
        s if s.is_server_error() => Problem::internal(detail).into_response(),
        _ => Problem::bad_request(if detail.is_empty() {
            "the request was malformed".into()
        } else {
            detail
        })
        .into_response(),
    };
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            problem.headers_mut().insert(k.clone(), v.clone());
        }
    }
    with_instance(problem, &instance).await
}

/// Adds RFC 9457 `instance` (the request path) to a problem body. Done here,
/// once, because handlers build problems without knowing the path.
async fn with_instance(resp: Response, instance: &str) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(&bytes) else {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    };
    map.entry("instance")
        .or_insert_with(|| serde_json::Value::String(instance.to_owned()));
    let out = serde_json::Value::Object(map).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(out))
}

fn loopback_only(peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>) -> Result<(), Problem> {
    match peer {
        Some(axum::Extension(ConnectInfo(addr))) if addr.ip().is_loopback() => Ok(()),
        _ => Err(Problem::not_found("no such resource")),
    }
}

async fn get_faults(
    State(state): State<PlatformState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Response, Problem> {
    loopback_only(peer)?;
    Ok(Json(state.faults()).into_response())
}

async fn put_faults(
    State(state): State<PlatformState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    loopback_only(peer)?;
    let plan: FaultPlan = serde_json::from_slice(&body)
        .map_err(|e| Problem::bad_request(format!("not a fault plan: {e}")))?;
    plan.validate().map_err(Problem::bad_request)?;
    state.set_faults(plan);
    let mut resp = Json(state.faults()).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
