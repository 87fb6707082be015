//! The Keepsake Export API v1 (`docs/api.md`): snapshot sessions with exact
//! counts, keyset pages, signed media URLs with checksums, and a record of
//! each export's outcome on the platform. Every path, wire shape and
//! problem slug of the contract lives here.

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{
    Account, Category, CategoryKind, Connector, Ending, Features, OpenRequest, Page, Report,
    Session, col,
};
use crate::client::{ApiClient, Auth};
use crate::{Error, Result};

/// Records per page: the contract's maximum.
pub const PAGE_LIMIT: u32 = 500;

/// The contract's scopes: one's own account, or any (support staff).
const SELF_SCOPES: &[&str] = &["export:self"];
const SUPPORT_SCOPES: &[&str] = &["export:self", "export:any"];

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

/// The contract's categories as data, with the columns of their CSV files
/// (nested values flattened: a comment's `post_author.login` as
/// `post_author`).
const DESCRIPTORS: [Category; 6] = [
    Category {
        name: "profile",
        label: "Profile",
        kind: CategoryKind::Single,
        csv: &[],
    },
    Category {
        name: "posts",
        label: "Posts",
        kind: CategoryKind::Records,
        csv: &[
            col("id", "/id"),
            col("created_at", "/created_at"),
            col("body", "/body"),
            col("visibility", "/visibility"),
            col("reply_to", "/reply_to"),
            col("media_ids", "/media_ids"),
        ],
    },
    Category {
        name: "comments",
        label: "Comments",
        kind: CategoryKind::Records,
        csv: &[
            col("id", "/id"),
            col("created_at", "/created_at"),
            col("post_id", "/post_id"),
            col("body", "/body"),
            col("post_author", "/post_author/login"),
            col("post_author_id", "/post_author/id"),
        ],
    },
    Category {
        name: "likes",
        label: "Likes",
        kind: CategoryKind::Records,
        csv: &[
            col("id", "/id"),
            col("created_at", "/created_at"),
            col("post_id", "/post_id"),
            col("post_author", "/post_author/login"),
            col("post_author_id", "/post_author/id"),
        ],
    },
    Category {
        name: "connections",
        label: "Connections",
        kind: CategoryKind::People,
        csv: &[
            col("id", "/id"),
            col("created_at", "/created_at"),
            col("direction", "/direction"),
            col("user_id", "/user/id"),
            col("user_login", "/user/login"),
            col("user_display_name", "/user/display_name"),
        ],
    },
    Category {
        name: "media",
        label: "Media",
        kind: CategoryKind::Files,
        csv: &[],
    },
];

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
            id: u.id,
            login: u.login,
            display_name: u.display_name,
        }
    }
}

#[derive(Deserialize)]
struct Users {
    items: Vec<User>,
}

fn exports_path(subject: i64) -> String {
    format!("/api/v1/users/{subject}/exports")
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

    fn features(&self) -> Features {
        Features {
            snapshot: true,
            exact_counts: true,
            checksums: true,
            outcome_record: true,
            staff_lookup: true,
        }
    }

    fn scopes(&self, support: bool) -> &'static [&'static str] {
        if support { SUPPORT_SCOPES } else { SELF_SCOPES }
    }

    fn media_auth(&self) -> Auth {
        // The signed URL is the credential; the token never goes to it, on
        // the platform's origin or a CDN's (`docs/api.md` §6).
        Auth::Omit
    }

    fn categories(&self) -> &'static [Category] {
        &DESCRIPTORS
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
        format!("{}/{}", exports_path(session.subject.id), session.export_id)
    }

    fn open<'a>(
        &'a self,
        client: &'a ApiClient,
        subject: i64,
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
        category: &'a str,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let mut path = format!(
                "{}/{category}?limit={PAGE_LIMIT}",
                self.session_path(session)
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
        category: &'a str,
    ) -> BoxFuture<'a, Result<Box<RawValue>>> {
        Box::pin(async move {
            client
                .get_json(&format!("{}/{category}", self.session_path(session)))
                .await
        })
    }

    fn media_record<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        id: i64,
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            client
                .get_json(&format!("{}/media/{id}", self.session_path(session)))
                .await
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
    match e.problem().map(|p| p.slug().to_owned()).as_deref() {
        Some("export-running") => {
            let id = e
                .problem()
                .and_then(|p| p.extensions.get("running_export_id"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            Error::TryLater {
                code: "export_running",
                message: format!(
                    "an export of this account is already running ({id}). If this computer started it, run the same command with --resume \
                     in the same --out folder; otherwise wait for it to finish (the platform closes abandoned exports after 24 hours)."
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
                code: "quota",
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
        let names: Vec<&str> = DESCRIPTORS.iter().map(|d| d.name).collect();
        assert_eq!(names, CATEGORIES);
        for d in DESCRIPTORS.iter().filter(|d| !d.csv.is_empty()) {
            assert_eq!(d.csv[0].header, "id", "{}", d.name);
            assert_eq!(d.csv[1].header, "created_at", "{}", d.name);
        }
        // One record and files have no CSV of their own.
        assert!(
            KeepsakeApi
                .category("profile")
                .is_some_and(|d| d.csv.is_empty())
        );
        assert!(
            KeepsakeApi
                .category("media")
                .is_some_and(|d| d.csv.is_empty())
        );
    }
    use crate::connector::{Estimate, UserRef};

    fn session() -> Session {
        Session {
            export_id: "exp_1".into(),
            status: "running".into(),
            as_of: "2026-01-01T00:00:00Z".into(),
            subject: UserRef {
                id: 42,
                login: "alice".into(),
            },
            actor: UserRef {
                id: 42,
                login: "alice".into(),
            },
            reason: None,
            since: None,
            until: None,
            categories: [("posts".to_owned(), Estimate { count: 3, bytes: 9 })].into(),
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
