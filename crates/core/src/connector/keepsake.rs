//! The Keepsake Export API v1 (`docs/api.md`): snapshot sessions with exact
//! counts, keyset pages, signed media URLs with checksums, and a record of
//! each export's outcome on the platform. Every path, wire shape and
//! problem slug of the contract lives here.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{
    Account, AccountId, Category, CategoryKind, Connector, Ending, Features, FileRef, Flow, Offer,
    OpenRequest, Opener, Order, Page, Report, Session, View, col,
};
use crate::client::{ApiClient, Auth};
use crate::credentials::{Credentials, RefreshWith};
use crate::oauth::OAuthClient;
use crate::{Code, Error, PlatformUrl, Result};

/// Records per page: the contract's maximum.
pub const PAGE_LIMIT: u32 = 500;

/// The contract's scopes: one's own account, or any (support staff).
const SELF_SCOPES: &[&str] = &["export:self"];
const SUPPORT_SCOPES: &[&str] = &["export:self", "export:any"];

/// The contract's OAuth endpoints and Keepsake's client id there
/// (`docs/api.md` §3).
pub const OAUTH: OAuthClient = OAuthClient {
    authorize: "oauth/authorize",
    token: "oauth/token",
    revoke: "oauth/revoke",
    client_id: "keepsake",
};

/// The contract's categories (the `media_files` the engine adds are its
/// own, never reported back).
pub const CATEGORIES: [&str; 6] = [
    "profile",
    "posts",
    "comments",
    "likes",
    "connections",
    "media",
];

/// A category of records keyed by their integer `id`, in ascending order.
const fn records(
    name: &'static str,
    label: &'static str,
    kind: CategoryKind,
    csv: &'static [super::Column],
    style: &'static str,
) -> Category {
    Category {
        name: std::borrow::Cow::Borrowed(name),
        label: std::borrow::Cow::Borrowed(label),
        kind,
        key: std::borrow::Cow::Borrowed("/id"),
        order: Order::Ascending,
        csv: std::borrow::Cow::Borrowed(csv),
        view: View::style(style),
        names_files: matches!(kind, CategoryKind::Files),
        strip: std::borrow::Cow::Borrowed(if matches!(kind, CategoryKind::Files) {
            SIGNED_LINK
        } else {
            &[]
        }),
        marker: None,
        container: None,
    }
}

/// A media record's signed link and its expiry: a credential, never
/// archived (`docs/api.md` §6).
const SIGNED_LINK: &[super::Text] = &[
    std::borrow::Cow::Borrowed("/download_url"),
    std::borrow::Cow::Borrowed("/url_expires_at"),
];

const POSTS_CSV: &[super::Column] = &[
    col("id", "/id"),
    col("created_at", "/created_at"),
    col("body", "/body"),
    col("visibility", "/visibility"),
    col("reply_to", "/reply_to"),
    col("media_ids", "/media_ids"),
];

const COMMENTS_CSV: &[super::Column] = &[
    col("id", "/id"),
    col("created_at", "/created_at"),
    col("post_id", "/post_id"),
    col("body", "/body"),
    col("post_author", "/post_author/login"),
    col("post_author_id", "/post_author/id"),
];

const LIKES_CSV: &[super::Column] = &[
    col("id", "/id"),
    col("created_at", "/created_at"),
    col("post_id", "/post_id"),
    col("post_author", "/post_author/login"),
    col("post_author_id", "/post_author/id"),
];

const CONNECTIONS_CSV: &[super::Column] = &[
    col("id", "/id"),
    col("created_at", "/created_at"),
    col("direction", "/direction"),
    col("user_id", "/user/id"),
    col("user_login", "/user/login"),
    col("user_display_name", "/user/display_name"),
];

/// The contract's categories as data, with the columns of their CSV files
/// (nested values flattened: a comment's `post_author.login` as
/// `post_author`). The viewer has a style of its own for each.
fn descriptors() -> [Category; 6] {
    [
        records("profile", "Profile", CategoryKind::Single, &[], "profile"),
        records("posts", "Posts", CategoryKind::Records, POSTS_CSV, "posts"),
        records(
            "comments",
            "Comments",
            CategoryKind::Records,
            COMMENTS_CSV,
            "comments",
        ),
        records("likes", "Likes", CategoryKind::Records, LIKES_CSV, "likes"),
        records(
            "connections",
            "Connections",
            CategoryKind::People,
            CONNECTIONS_CSV,
            "connections",
        ),
        records("media", "Media", CategoryKind::Files, &[], "media"),
    ]
}

/// The connector's kind.
pub const KIND: &str = "keepsake-export-api";

/// The connector.
pub struct KeepsakeApi;

/// `GET /api/v1/me` and the users of `GET /api/v1/users`.
#[derive(Deserialize)]
struct User {
    id: i64,
    login: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl From<User> for Account {
    fn from(u: User) -> Self {
        Account {
            support: u.scopes.iter().any(|s| s == "export:any"),
            id: u.id.into(),
            login: u.login,
            display_name: u.display_name,
        }
    }
}

/// A media record: the file it names, and a signed link to it. The
/// contract makes the size and the SHA-256 mandatory; a record without
/// them still names a file, which is downloaded and checked as files of
/// platforms that give neither are (and `files.json` says so), rather
/// than left out without a word.
#[derive(Deserialize)]
struct Media {
    id: i64,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    sha256: Option<String>,
    download_url: String,
    #[serde(default)]
    filename: String,
    #[serde(default)]
    content_type: String,
}

impl From<Media> for FileRef {
    fn from(m: Media) -> Self {
        FileRef {
            key: m.id.to_string(),
            name: m.filename,
            content_type: m.content_type,
            size: m.size,
            sha256: m.sha256,
            url: m.download_url,
            // The signed URL is the credential; the token never goes to
            // it, on the platform's origin or a CDN's (`docs/api.md` §6).
            auth: Auth::Omit,
        }
    }
}

#[derive(Deserialize)]
struct Users {
    items: Vec<User>,
}

fn exports_path(subject: &AccountId) -> String {
    format!("/api/v1/users/{}/exports", super::encode(subject.as_str()))
}

impl Connector for KeepsakeApi {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "Keepsake Export API v1"
    }

    fn version(&self) -> &'static str {
        "1"
    }

    fn detect<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<bool>> {
        // The contract serves itself (`docs/api.md` §9): its OpenAPI
        // document's title names it. Only its head is read.
        Box::pin(async move {
            let head = super::peek(client, "/openapi.yaml", 4096).await?;
            Ok(head.is_some_and(|h| {
                String::from_utf8_lossy(&h)
                    .lines()
                    .take(40)
                    .any(|l| l.trim() == "title: Keepsake Export API")
            }))
        })
    }

    fn support_means(&self) -> &'static str {
        "a support-staff sign-in (the export:any scope)"
    }

    fn offers<'a>(&'a self, _client: &'a ApiClient) -> BoxFuture<'a, Result<Vec<Offer>>> {
        Box::pin(async {
            Ok(vec![
                Offer {
                    flow: Flow::Browser,
                    label: "Sign in with your browser".into(),
                    secret_label: None,
                    user_label: None,
                    page: None,
                },
                Offer {
                    flow: Flow::Token,
                    label: "Use a personal access token".into(),
                    secret_label: Some("Personal access token".into()),
                    user_label: None,
                    page: None,
                },
            ])
        })
    }

    fn sign_in_browser<'a>(
        &'a self,
        platform: &'a PlatformUrl,
        support: bool,
        open: Opener,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let scopes = if support { SUPPORT_SCOPES } else { SELF_SCOPES };
            let grant =
                crate::oauth::login_with_browser(platform, &OAUTH, scopes, open, timeout).await?;
            Ok(Credentials::from_grant(
                platform,
                grant,
                RefreshWith {
                    token_path: OAUTH.token.into(),
                    client_id: OAUTH.client_id.into(),
                },
            ))
        })
    }

    fn sign_out<'a>(
        &'a self,
        _client: &'a ApiClient,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            // The refresh token first: it ends the whole sign-in.
            if let Some(r) = &credentials.refresh_token {
                crate::oauth::revoke(&credentials.platform, &OAUTH, r).await?;
            }
            crate::oauth::revoke(&credentials.platform, &OAUTH, &credentials.access_token).await
        })
    }

    fn features(&self) -> Features {
        Features {
            snapshot: true,
            exact_counts: true,
            checksums: true,
            outcome_record: true,
            staff_lookup: true,
            date_range: true,
        }
    }

    fn categories(&self) -> Vec<Category> {
        descriptors().into()
    }

    fn whoami<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { Ok(client.get_json::<User>("/api/v1/me").await?.into()) })
    }

    fn find_account<'a>(
        &'a self,
        client: &'a ApiClient,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<Account>>> {
        Box::pin(async move {
            let login: String = url::form_urlencoded::byte_serialize(login.as_bytes()).collect();
            let found: Users = client
                .get_json(&format!("/api/v1/users?login={login}"))
                .await?;
            Ok(found.items.into_iter().next().map(Account::from))
        })
    }

    fn session_path(&self, session: &Session) -> String {
        format!(
            "{}/{}",
            exports_path(&session.subject.id),
            session.export_id
        )
    }

    fn open<'a>(
        &'a self,
        client: &'a ApiClient,
        _actor: &'a Account,
        subject: &'a AccountId,
        request: &'a OpenRequest,
    ) -> BoxFuture<'a, Result<(Session, String)>> {
        Box::pin(async move {
            let mut body = serde_json::Map::new();
            if let Some(r) = &request.reason {
                body.insert("reason".into(), json!(r));
            }
            if let Some(c) = &request.categories {
                body.insert("categories".into(), json!(c));
            }
            if let Some(s) = &request.since {
                body.insert("since".into(), json!(s));
            }
            if let Some(u) = &request.until {
                body.insert("until".into(), json!(u));
            }
            let path = exports_path(subject);
            let session = client
                .post_json(&path, &Value::Object(body))
                .await
                .map_err(explain_open_error)?;
            Ok((session, path))
        })
    }

    fn live<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Session>> {
        Box::pin(async move { client.get_json(&self.session_path(session)).await })
    }

    fn page<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let mut path = format!(
                "{}/{}?limit={PAGE_LIMIT}",
                self.session_path(session),
                category.name
            );
            if let Some(c) = cursor {
                path.push_str("&cursor=");
                path.extend(url::form_urlencoded::byte_serialize(c.as_bytes()));
            }
            client.get_json(&path).await
        })
    }

    fn single<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
    ) -> BoxFuture<'a, Result<Box<RawValue>>> {
        Box::pin(async move {
            client
                .get_json(&format!("{}/{}", self.session_path(session), category.name))
                .await
        })
    }

    fn files(&self, _session: &Session, category: &Category, record: &Value) -> Vec<FileRef> {
        if category.kind != CategoryKind::Files {
            return Vec::new();
        }
        Media::deserialize(record)
            .map(|m| vec![m.into()])
            .unwrap_or_default()
    }

    fn refresh_file<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        file: &'a FileRef,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<Option<FileRef>>> {
        Box::pin(async move {
            let expired = error
                .problem()
                .is_some_and(|p| p.code() == "media-url-expired");
            if !expired {
                return Ok(None);
            }
            let path = format!(
                "{}/media/{}",
                self.session_path(session),
                super::encode(&file.key)
            );
            let record: Media = client.get_json(&path).await.map_err(|e| match e {
                Error::Protocol { url, detail } => Error::Protocol {
                    url,
                    detail: format!("its record is not what a media record holds: {detail}"),
                },
                e => e,
            })?;
            Ok(Some(record.into()))
        })
    }

    fn report(&self, session: &Session, ending: &Ending<'_>) -> Option<Report> {
        let mut body = json!({ "status": ending.status });
        if let Some(code) = ending.error {
            body["error"] = json!(code);
        }
        if let Some((bytes, sha256)) = ending.archive {
            body["counts"] = ending
                .counts
                .iter()
                .filter(|(k, _)| CATEGORIES.contains(&k.as_str()))
                .map(|(k, n)| (k.clone(), json!(n)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            body["bytes"] = json!(bytes);
            body["archive_sha256"] = json!(sha256);
        }
        Some(Report {
            path: self.session_path(session),
            body,
        })
    }
}

/// Adds the next step to 409 and quota refusals.
fn explain_open_error(e: Error) -> Error {
    match e.problem().map(|p| p.code().to_owned()).as_deref() {
        Some("export-running") => {
            let id = e
                .problem()
                .and_then(|p| p.extensions.get("running_export_id"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            Error::TryLater {
                code: Code::ExportRunning,
                message: format!(
                    "an export of this account is already running ({id}). If this computer started it, resume it from the same \
                     destination folder; otherwise wait for it to finish (the platform closes abandoned exports after 24 hours)."
                ),
                retry_at: None,
            }
        }
        Some("export-quota") => {
            let retry_at = e
                .problem()
                .and_then(|p| p.extensions.get("next_allowed_at"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let when = retry_at.as_deref().unwrap_or("later");
            Error::TryLater {
                code: Code::Quota,
                message: format!(
                    "this account has reached the platform's export limit; the next export is possible at {when}. Nothing was downloaded."
                ),
                retry_at,
            }
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptors_are_the_contracts_categories_and_csv_starts_with_id_and_date() {
        let names: Vec<String> = descriptors().iter().map(|d| d.name.to_string()).collect();
        assert_eq!(names, CATEGORIES);
        for d in descriptors().iter().filter(|d| !d.csv.is_empty()) {
            assert_eq!(d.csv[0].header, "id", "{}", d.name);
            assert_eq!(d.csv[1].header, "created_at", "{}", d.name);
        }
        // One record and files have no CSV of their own.
        let of = |name: &str| descriptors().into_iter().find(|d| d.name == name);
        assert!(of("profile").is_some_and(|d| d.csv.is_empty()));
        assert!(of("media").is_some_and(|d| d.csv.is_empty()));
    }
    use crate::connector::{Estimate, UserRef};

    fn session() -> Session {
        Session {
            export_id: "exp_1".into(),
            status: "running".into(),
            as_of: "2026-01-01T00:00:00Z".into(),
            subject: UserRef {
                id: 42.into(),
                login: "alice".into(),
            },
            actor: UserRef {
                id: 42.into(),
                login: "alice".into(),
            },
            reason: None,
            since: None,
            until: None,
            categories: [(
                "posts".to_owned(),
                Estimate {
                    count: Some(3),
                    bytes: 9,
                    start: None,
                },
            )]
            .into(),
            found: Vec::new(),
            containers: Vec::new(),
            notes: Value::Null,
        }
    }

    #[test]
    fn the_outcome_reports_the_contracts_categories_only() {
        let counts = [("posts".to_owned(), 3), ("media_files".to_owned(), 2)].into();
        let r = KeepsakeApi
            .report(
                &session(),
                &Ending {
                    status: "completed",
                    counts,
                    archive: Some((100, "ab")),
                    error: None,
                },
            )
            .expect("a report");
        assert_eq!(r.path, "/api/v1/users/42/exports/exp_1");
        assert_eq!(
            r.body,
            json!({"status": "completed", "counts": {"posts": 3}, "bytes": 100, "archive_sha256": "ab"})
        );
        let failed = KeepsakeApi
            .report(
                &session(),
                &Ending {
                    status: "failed",
                    counts: Default::default(),
                    archive: None,
                    error: Some("network"),
                },
            )
            .expect("a report");
        assert_eq!(failed.body, json!({"status": "failed", "error": "network"}));
    }
}
