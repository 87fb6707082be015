//! WordPress's REST API (`wp/v2`, WordPress 5.6 and later): an author's,
//! or for a site's administrator any user's, posts and pages in every
//! status they may read, with their revisions, their comments, the media
//! they uploaded (the original files) and the tags and categories their
//! posts use.
//!
//! What WordPress lacks, and what Keepsake does instead:
//! - no export sessions: the connector makes one up (an id, the time it
//!   began) and the walks keep exports correct while the site is written
//!   to (`walk`);
//! - counts that may include what the account cannot read: they are
//!   estimates, and a difference is explained, not called missing;
//! - no checksums: Keepsake hashes each file and checks its size;
//! - no record of exports: the actor and the reason are in the local audit
//!   log and the manifest, which says the site keeps none.
//!
//! Sign-in is an application password: from WordPress's own authorisation
//! page for native apps (the browser comes back to a loopback address with
//! it), or pasted with the user name. WordPress takes a wrong application
//! password for an anonymous visitor rather than refusing it, so every
//! credential is checked with `users/me` before it is kept.

mod signin;
mod terms;
mod walk;
mod wire;

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{
    Account, AccountId, Category, Connector, Ending, Estimate, Features, FileRef, Offer,
    OpenRequest, Opener, Page, Report, Session, UserRef,
};
use crate::client::{ApiClient, Auth};
use crate::credentials::Credentials;
use crate::{Error, PlatformUrl, Result, Secret};
use walk::{DateCursor, Walk};
use wire::{User, rest};

/// The connector's kind.
pub const KIND: &str = "wordpress";

/// The connector.
pub struct WordPress;

/// The categories walked by date, and their routes.
const DATED: [(&str, &str); 4] = [
    ("posts", "/wp/v2/posts"),
    ("pages", "/wp/v2/pages"),
    ("comments", "/wp/v2/comments"),
    ("media", "/wp/v2/media"),
];

impl Connector for WordPress {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "WordPress"
    }

    fn version(&self) -> &'static str {
        "wp/v2"
    }

    fn detect<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            match signin::index(client).await {
                Ok(index) => Ok(index.namespaces.iter().any(|n| n == "wp/v2")),
                Err(Error::Status { .. } | Error::Protocol { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    fn features(&self) -> Features {
        Features {
            snapshot: false,
            exact_counts: false,
            checksums: false,
            outcome_record: false,
            staff_lookup: true,
            date_range: true,
        }
    }

    fn support_means(&self) -> &'static str {
        "an administrator of the site (who may read every user's posts, comments and media)"
    }

    fn offers<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<Vec<Offer>>> {
        Box::pin(signin::offers(client))
    }

    fn sign_in_browser<'a>(
        &'a self,
        platform: &'a PlatformUrl,
        _support: bool,
        open: Opener,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(signin::browser(platform, open, timeout))
    }

    fn sign_in_password<'a>(
        &'a self,
        platform: &'a PlatformUrl,
        user: &'a str,
        secret: Secret,
    ) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(signin::password(platform, user, secret))
    }

    fn sign_in_token(&self, platform: &PlatformUrl, token: Secret) -> Credentials {
        // WordPress has no bearer tokens: a token pasted here is an
        // application password without its user, which the check refuses.
        Credentials::from_pat(platform, token)
    }

    fn sign_out<'a>(
        &'a self,
        client: &'a ApiClient,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(signin::revoke(client, credentials))
    }

    fn categories(&self) -> Vec<Category> {
        wire::categories()
    }

    fn parallel_walks(&self) -> usize {
        // Measured: a PHP site answers fastest at two to four requests at
        // once.
        3
    }

    fn whoami<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move { Ok(account(me(client).await?)) })
    }

    fn find_account<'a>(
        &'a self,
        client: &'a ApiClient,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<Account>>> {
        Box::pin(async move {
            let query = [
                ("search", login.to_owned()),
                ("context", "edit".into()),
                ("per_page", "100".into()),
            ];
            let users: Vec<User> = client
                .get_json(&rest("/wp/v2/users", &query))
                .await
                .map_err(|e| refused(e, "look up other users"))?;
            Ok(users
                .into_iter()
                .find(|u| u.username.as_deref() == Some(login))
                .map(account))
        })
    }

    fn session_path(&self, _session: &Session) -> String {
        rest("/wp/v2", &[])
    }

    fn open<'a>(
        &'a self,
        client: &'a ApiClient,
        actor: &'a Account,
        subject: &'a AccountId,
        request: &'a OpenRequest,
    ) -> BoxFuture<'a, Result<(Session, String)>> {
        Box::pin(async move {
            let me = me(client).await?;
            let own = *subject == actor.id;
            if !own && !me.is_admin() {
                return Err(Error::Status {
                    status: 403,
                    url: crate::error::display_url(client.base()),
                    problem: Some(Box::new(crate::error::Problem {
                        detail: "this account is not an administrator of the site; only an \
                                 administrator may export another user's data"
                            .into(),
                        ..Default::default()
                    })),
                    retry_after: None,
                });
            }
            let notes = json!({
                // What the signed-in account may ask for: comments in their
                // edit form need a moderator, pages of every status an editor.
                "moderator": me.can("moderate_comments"),
                "edit_pages": me.can("edit_pages"),
            });
            let who: User = if own {
                me
            } else {
                client
                    .get_json(&rest(&format!("/wp/v2/users/{subject}"), &[edit()]))
                    .await
                    .map_err(|e| refused(e, "read that user"))?
            };
            let (since, until) = range(request)?;
            let mut session = Session {
                export_id: export_id(),
                status: "running".into(),
                as_of: now(),
                subject: UserRef {
                    id: who.id.into(),
                    login: who.login(),
                },
                actor: actor.clone().into(),
                reason: request.reason.clone(),
                since,
                until,
                categories: Default::default(),
                found: Vec::new(),
                containers: Vec::new(),
                notes,
            };
            let wanted = wanted(request)?;
            // The terms the posts use, found now so that a resumed export
            // takes the same ones (see `terms`).
            if wanted.iter().any(|w| terms::KINDS.contains(w)) {
                let posts = dated(&session, "posts").ok_or_else(|| unknown("posts"))?;
                let [tags, categories] = terms::used(client, posts)
                    .await
                    .map_err(|e| refused(e, "read this account's posts"))?;
                session.notes["term_ids"] = json!({"tags": tags, "categories": categories});
            }
            // The counts, asked at once.
            let counts = futures_util::future::try_join_all(
                wanted.iter().map(|name| estimate(client, &session, name)),
            )
            .await?;
            for (name, count) in wanted.into_iter().zip(counts) {
                session.categories.insert(
                    name.to_owned(),
                    Estimate {
                        count,
                        // (The count is the platform's: it may be anything.)
                        bytes: count.unwrap_or(0).saturating_mul(2_000),
                        start: None,
                    },
                );
            }
            Ok((session, rest("/wp/v2", &[])))
        })
    }

    fn live<'a>(
        &'a self,
        _client: &'a ApiClient,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Session>> {
        // WordPress keeps no sessions: the staged one stands.
        Box::pin(async move { Ok(session.clone()) })
    }

    fn page<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let name = &*category.name;
            // (Every failure of the walk goes through `explain` below.)
            let page = async {
                match name {
                    "tags" | "categories" => terms::page(client, session, name, cursor).await,
                    "revisions" => {
                        // Revisions are read by whoever may edit their post:
                        // an author's own posts, but pages only for editors.
                        let edit_pages = session.notes["edit_pages"].as_bool() == Some(true);
                        let parents = |kind: &str| {
                            if kind == "pages" && !edit_pages {
                                return None;
                            }
                            let mut w = dated(session, kind)?;
                            w.query.push(("_fields", "id,date,_links".into()));
                            Some(w)
                        };
                        walk::revisions(client, &parents, cursor).await
                    }
                    _ => {
                        let w = dated(session, name).ok_or_else(|| unknown(name))?;
                        let (items, next) =
                            walk::by_date(client, &w, &DateCursor::decode(cursor)?).await?;
                        Ok(Page {
                            items,
                            next_cursor: next.map(|n| n.encode()),
                        })
                    }
                }
            }
            .await;
            match page {
                Ok(p) => Ok(p),
                Err(e) => Err(explain(client, e, "read this account's data").await),
            }
        })
    }

    fn single<'a>(
        &'a self,
        client: &'a ApiClient,
        session: &'a Session,
        _category: &'a Category,
    ) -> BoxFuture<'a, Result<Box<RawValue>>> {
        Box::pin(async move {
            let route = format!("/wp/v2/users/{}", session.subject.id);
            client
                .get_json(&rest(&route, &[edit()]))
                .await
                .map_err(|e| refused(e, "read the profile"))
        })
    }

    fn files(&self, _session: &Session, category: &Category, record: &Value) -> Vec<FileRef> {
        if category.name != "media" {
            return Vec::new();
        }
        serde_json::from_value::<wire::Media>(record.clone())
            .ok()
            .and_then(original)
            .into_iter()
            .collect()
    }

    fn report(&self, _session: &Session, _ending: &Ending<'_>) -> Option<Report> {
        // WordPress keeps no record of exports.
        None
    }
}

/// `context=edit`: the raw content, statuses and fields only an editor
/// sees.
fn edit() -> (&'static str, String) {
    ("context", "edit".into())
}

async fn me(client: &ApiClient) -> Result<User> {
    client.get_json(&rest("/wp/v2/users/me", &[edit()])).await
}

fn account(u: User) -> Account {
    Account {
        support: u.is_admin(),
        login: u.login(),
        display_name: u.name.clone(),
        id: u.id.into(),
    }
}

/// The date walk of category `name` for the session's subject; `None` for
/// a category that is not walked by date.
fn dated(session: &Session, name: &str) -> Option<Walk<'static>> {
    let route = DATED.iter().find(|(n, _)| *n == name)?.1;
    let moderator = session.notes["moderator"].as_bool() == Some(true);
    let edit_pages = session.notes["edit_pages"].as_bool() == Some(true);
    let mut query = vec![("author", session.subject.id.to_string())];
    match name {
        // Authors read their own comments of every state; a moderator
        // sees their edit form (raw text, e-mail).
        "comments" => {
            query.push(("status", "all".into()));
            query.push(("context", if moderator { "edit" } else { "view" }.into()));
        }
        // An author may not ask for pages of every status (400): only the
        // published ones, as anyone reads them.
        "pages" if !edit_pages => {
            query.push(("status", "publish".into()));
        }
        "media" => query.push(edit()),
        _ => {
            query.push(("status", "any".into()));
            query.push(edit());
        }
    }
    Some(Walk {
        route,
        query,
        after: session.since.as_deref().and_then(|s| walk::shifted(s, -1)),
        before: session.until.clone(),
    })
}

/// How many records of `name` WordPress counts for the session: an
/// estimate (it may count what the account cannot read); `None` where it
/// says nothing.
async fn estimate(client: &ApiClient, session: &Session, name: &str) -> Result<Option<u64>> {
    let (route, mut query) = match name {
        "profile" => return Ok(Some(1)),
        "revisions" => return Ok(None),
        // `open` keeps the ids of the terms the posts use before it counts.
        "tags" | "categories" => {
            return Ok(terms::kept(session, name).map(|ids| ids.len() as u64));
        }
        _ => {
            let w = dated(session, name).ok_or_else(|| unknown(name))?;
            let mut q = w.query;
            if let Some(a) = w.after {
                q.push(("after", a));
            }
            if let Some(b) = w.before {
                q.push(("before", b));
            }
            (w.route.to_owned(), q)
        }
    };
    query.push(("per_page", "1".into()));
    query.push(("_fields", "id".into()));
    let (_, headers): (Vec<Box<RawValue>>, _) = client
        .request(Method::GET, &rest(&route, &query), None, Auth::Token)
        .await
        .map_err(|e| refused(e, "count this account's data"))?;
    Ok(walk::header_number(&headers, "x-wp-total"))
}

/// The categories asked for, checked against the site's.
fn wanted(request: &OpenRequest) -> Result<Vec<&'static str>> {
    let all = wire::NAMES;
    match &request.categories {
        None => Ok(all.to_vec()),
        Some(asked) => asked
            .iter()
            .map(|a| {
                all.iter().copied().find(|n| n == a).ok_or_else(|| {
                    Error::Invalid(format!(
                        "a WordPress site has no category '{a}'; it has: {}",
                        all.join(", ")
                    ))
                })
            })
            .collect(),
    }
}

/// The date range of the request, as WordPress reads dates (the site's
/// local time): `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS`.
fn range(request: &OpenRequest) -> Result<(Option<String>, Option<String>)> {
    let read = |d: &Option<String>| -> Result<Option<String>> {
        let Some(d) = d.as_deref().map(str::trim).filter(|d| !d.is_empty()) else {
            return Ok(None);
        };
        let full = if d.len() == 10 {
            format!("{d}T00:00:00")
        } else {
            d.to_owned()
        };
        // WordPress compares the site's own time, and a zone would be cut
        // off unread: say so rather than export another range.
        if full.len() > 19 {
            return Err(Error::Invalid(format!(
                "{d:?} has a time zone or more; WordPress compares dates in the site's own time: \
                 give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS without a zone"
            )));
        }
        walk::shifted(&full, 0).map(Some).ok_or_else(|| {
            Error::Invalid(format!(
                "{d:?} is not a date WordPress reads; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (the site's time)"
            ))
        })
    };
    Ok((read(&request.since)?, read(&request.until)?))
}

/// The original of an uploaded file: WordPress scales a large image down
/// and points `source_url` at the smaller copy, keeping the upload's name
/// in `media_details.original_image`, beside it.
fn original(m: wire::Media) -> Option<FileRef> {
    let source = url::Url::parse(&m.source_url).ok()?;
    let (url, size) = match m
        .media_details
        .get("original_image")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\']))
    {
        Some(name) => (source.join(&super::encode(name)).ok()?, None),
        // WordPress's recorded size is that of the file `source_url` names.
        None => (
            source,
            m.media_details.get("filesize").and_then(Value::as_u64),
        ),
    };
    let name = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .map(|n| {
            percent_encoding::percent_decode_str(n)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    Some(FileRef {
        key: m.id.to_string(),
        name,
        content_type: m.mime_type,
        size,
        sha256: None,
        url: url.to_string(),
        // Uploads are served without a sign-in; none goes with them.
        auth: Auth::Omit,
    })
}

/// A refusal in the middle of a walk, explained. WordPress takes a revoked
/// application password for an anonymous visitor, so the sign-in ending
/// shows as whatever an anonymous visitor gets for the question (a 400 for
/// `status=any`, a 401, a 403): when `users/me` no longer knows the
/// account, that is what it is, and the answer is to sign in again.
async fn explain(client: &ApiClient, e: Error, doing: &str) -> Error {
    let asked_as_nobody = matches!(
        e,
        Error::Status {
            status: 400..=403,
            ..
        }
    ) && matches!(
        me(client).await,
        Err(Error::Status { status: 401, .. } | Error::SignIn { .. })
    );
    if asked_as_nobody {
        return Error::SignIn {
            detail: "WordPress no longer accepts this sign-in (its application password was \
                     revoked or changed): it answers as it answers a visitor; sign in again, \
                     and the export continues where it stopped"
                .into(),
        };
    }
    refused(e, doing)
}

/// WordPress's refusals of this account (401 and 403) mean its sign-in
/// no longer reads what it read: sign in again, in WordPress's own words.
fn refused(e: Error, doing: &str) -> Error {
    match &e {
        Error::Status {
            status: 401 | 403, ..
        } => Error::SignIn {
            detail: format!(
                "the site refused to let this sign-in {doing} ({}); sign in again with an account that may",
                e.platform_said().unwrap_or("no reason given")
            ),
        },
        _ => e,
    }
}

fn unknown(name: &str) -> Error {
    Error::Invalid(format!("a WordPress site has no category '{name}'"))
}

/// An export id of Keepsake's own (the site has none): random, so that
/// the eight characters an archive's name takes of it tell two exports of
/// one day apart.
fn export_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!("wp{}", hex::encode(bytes))
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
