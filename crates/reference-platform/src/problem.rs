//! RFC 9457 problem details: every error the API returns goes through here.

use axum::{
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Map, Value, json};

const TYPE_BASE: &str = "https://keepsake.invalid/problems/";

/// One `application/problem+json` response.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    extensions: Map<String, Value>,
}

impl Problem {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            headers: Vec::new(),
            extensions: Map::new(),
        }
    }

    fn header(mut self, name: HeaderName, value: String) -> Self {
        if let Ok(v) = HeaderValue::from_str(&value) {
            self.headers.push((name, v));
        }
        self
    }

    fn ext(mut self, key: &str, value: Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-token",
            "Invalid or expired token",
            detail,
        )
        .header(
            header::WWW_AUTHENTICATE,
            r#"Bearer realm="keepsake", error="invalid_token""#.to_owned(),
        )
    }

    pub fn insufficient_scope(scope: &str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient-scope",
            "Insufficient scope",
            detail,
        )
        .header(
            header::WWW_AUTHENTICATE,
            format!(r#"Bearer realm="keepsake", error="insufficient_scope", scope="{scope}""#),
        )
    }

    pub fn media_url_expired(media_id: i64) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "media-url-expired",
            "Media URL expired",
            "this signed media URL has expired or is not valid; fetch a fresh one from the media metadata endpoint",
        )
        .ext("media_id", json!(media_id))
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this resource does not support that HTTP method",
        )
    }

    pub fn export_running(running_export_id: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "export-running",
            "An export is already running",
            format!("export {running_export_id} is already running for this account; resume it or wait for it to finish"),
        )
        .ext("running_export_id", json!(running_export_id))
    }

    pub fn export_finished(export_id: &str, status: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "export-finished",
            "The export has finished",
            format!("export {export_id} has already ended ({status}); open a new export session"),
        )
    }

    pub fn account_deleted(user_id: i64) -> Self {
        Self::new(
            StatusCode::GONE,
            "account-deleted",
            "Account deleted",
            format!("account {user_id} has been deleted; its data can no longer be exported"),
        )
    }

    pub fn reason_required() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason-required",
            "A reason is required",
            "exporting another person's account needs a non-empty reason, which is recorded in the audit trail",
        )
    }

    pub fn invalid_outcome(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-outcome",
            "Invalid export outcome",
            detail,
        )
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("the request rate limit was reached; retry after {retry_after} s"),
        )
        .header(header::RETRY_AFTER, retry_after.to_string())
        .ext("retry_after", json!(retry_after))
    }

    pub fn export_quota(retry_after: u64, next_allowed_at: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "export-quota",
            "Export quota reached",
            format!("this account has reached its export quota; the next export is possible at {next_allowed_at}"),
        )
        .header(header::RETRY_AFTER, retry_after.to_string())
        .ext("retry_after", json!(retry_after))
        .ext("next_allowed_at", json!(next_allowed_at))
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
            detail,
        )
    }

    pub fn unavailable(retry_after: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            format!("the service is temporarily unavailable; retry after {retry_after} s"),
        )
        .header(header::RETRY_AFTER, retry_after.to_string())
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        Problem::internal("the platform's database failed; retry later")
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("{TYPE_BASE}{}", self.slug)));
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extensions);
        let mut resp = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            )],
            Value::Object(body).to_string(),
        )
            .into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}
