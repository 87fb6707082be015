//! The Matrix client-server API (tested against Synapse): an account's
//! profile, account data, and every room it is in or has left, each
//! room's state and its whole history as the account sees it, with the
//! files events name (through the authenticated media API). A Synapse
//! administrator exports another account through Synapse's admin API.
//!
//! Rooms are found as the export opens (`rooms`), and each is a container
//! of two categories: its state and its history (`room_0001_events`). A
//! history is walked backwards from the position every room had when the
//! export began, a thousand events a page, so what is sent meanwhile is
//! not mixed in and a resumed walk goes on from its journaled token.
//! Encrypted events are kept as the homeserver holds them and counted, so
//! the archive says how many cannot be read without keys.

mod rooms;
mod signin;
mod wire;

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{
    Account, AccountId, Category, CategoryKind, Connector, Ending, Estimate, Features, FileRef,
    Offer, OpenRequest, Opener, Page, Report, Session, UserRef, encode,
};
use crate::client::{ApiClient, Auth};
use crate::credentials::Credentials;
use crate::{Error, PlatformUrl, Result, Secret};
use wire::{Messages, PER_PAGE, WhoAmI, admin, client, localpart, server_of};

/// The connector's kind.
pub const KIND: &str = "matrix";

/// The connector.
pub struct Matrix;

/// Empty pages in a row a history walk passes over before it gives the
/// engine one (a homeserver may filter a whole page away).
const EMPTY_PAGES: u32 = 20;

impl Connector for Matrix {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "Matrix"
    }

    fn version(&self) -> &'static str {
        "client-server v3"
    }

    fn detect<'a>(&'a self, client: &'a ApiClient) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let asked = client
                .request::<wire::Versions>(
                    Method::GET,
                    "/_matrix/client/versions",
                    None,
                    Auth::Omit,
                )
                .await;
            match asked {
                Ok((v, _)) => Ok(v
                    .versions
                    .iter()
                    .any(|v| v.starts_with("v1.") || v.starts_with("r0."))),
                Err(Error::Status { .. } | Error::Protocol { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    fn features(&self) -> Features {
        Features {
            // Each room's walk starts where the room stood when the export
            // began: later events are not mixed in. (Not a snapshot of
            // redactions: one made during the walk shows.)
            snapshot: false,
            exact_counts: false,
            checksums: false,
            outcome_record: false,
            staff_lookup: true,
            date_range: false,
        }
    }

    fn support_means(&self) -> &'static str {
        "an administrator of the homeserver (who may read any account's rooms through Synapse's admin API)"
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
        Box::pin(signin::sso(platform, open, timeout))
    }

    fn sign_in_password<'a>(
        &'a self,
        platform: &'a PlatformUrl,
        user: &'a str,
        secret: Secret,
    ) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(signin::password(platform, user, secret))
    }

    fn sign_out<'a>(
        &'a self,
        client: &'a ApiClient,
        credentials: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(signin::logout(client, credentials))
    }

    fn categories(&self) -> Vec<Category> {
        wire::categories()
    }

    fn parallel_walks(&self) -> usize {
        4
    }

    fn whoami<'a>(&'a self, client_: &'a ApiClient) -> BoxFuture<'a, Result<Account>> {
        Box::pin(async move {
            let me: WhoAmI = client_.get_json(&client("/account/whoami")).await?;
            let id = me.user_id;
            let shown: Option<Value> = client_
                .get_json(&client(&format!("/profile/{}/displayname", encode(&id))))
                .await
                .ok();
            Ok(Account {
                support: is_admin(client_, &id).await?,
                login: localpart(&id).to_owned(),
                display_name: shown
                    .as_ref()
                    .and_then(|v| v["displayname"].as_str())
                    .map(str::to_owned),
                id: id.into(),
            })
        })
    }

    fn find_account<'a>(
        &'a self,
        client_: &'a ApiClient,
        login: &'a str,
    ) -> BoxFuture<'a, Result<Option<Account>>> {
        Box::pin(async move {
            let id = if login.starts_with('@') {
                login.to_owned()
            } else {
                let me: WhoAmI = client_.get_json(&client("/account/whoami")).await?;
                format!("@{login}:{}", server_of(&me.user_id).unwrap_or("localhost"))
            };
            let found = client_
                .get_json::<Value>(&admin(&format!("/v2/users/{}", encode(&id))))
                .await;
            match found {
                Ok(u) => Ok(Some(Account {
                    login: localpart(&id).to_owned(),
                    display_name: u["displayname"].as_str().map(str::to_owned),
                    support: u["admin"].as_bool() == Some(true),
                    id: id.into(),
                })),
                Err(Error::Status { status: 404, .. }) => Ok(None),
                Err(e) => Err(not_admin(e)),
            }
        })
    }

    fn session_path(&self, _session: &Session) -> String {
        client("/rooms")
    }

    fn open<'a>(
        &'a self,
        client_: &'a ApiClient,
        actor: &'a Account,
        subject: &'a AccountId,
        request: &'a OpenRequest,
    ) -> BoxFuture<'a, Result<(Session, String)>> {
        Box::pin(async move {
            let own = *subject == actor.id;
            if !own && !actor.support {
                return Err(not_admin(Error::Status {
                    status: 403,
                    url: crate::error::display_url(client_.base()),
                    problem: None,
                    retry_after: None,
                }));
            }
            if request.since.is_some() || request.until.is_some() {
                return Err(Error::Invalid(
                    "a Matrix export takes whole rooms: a date range is not offered; \
                     export without --since and --until"
                        .into(),
                ));
            }
            let found = if own {
                rooms::own(client_).await?
            } else {
                rooms::of(client_, subject.as_str())
                    .await
                    .map_err(not_admin)?
            };
            let mut categories = std::collections::BTreeMap::new();
            let mut found_categories = Vec::new();
            let wanted = |name: &str| {
                request.categories.as_ref().is_none_or(|c| {
                    c.iter()
                        .any(|w| w == name || name.ends_with(&format!("_{w}")))
                })
            };
            for c in wire::categories() {
                // An account's uploads are listed by the admin API only.
                if (c.name == "media" && own) || !wanted(&c.name) {
                    continue;
                }
                let count = (c.kind == CategoryKind::Single).then_some(1);
                categories.insert(c.name.to_string(), estimate(count, None));
            }
            for room in &found.rooms {
                for c in wire::room_categories(room) {
                    if !wanted(&c.name) {
                        continue;
                    }
                    let start = c.name.ends_with("_events").then(|| found.start.clone());
                    categories.insert(c.name.to_string(), estimate(None, start));
                    found_categories.push(c);
                }
            }
            let session = Session {
                export_id: export_id(),
                status: "running".into(),
                as_of: now(),
                subject: UserRef {
                    login: localpart(subject.as_str()).to_owned(),
                    id: subject.clone(),
                },
                actor: actor.clone().into(),
                reason: request.reason.clone(),
                since: None,
                until: None,
                categories,
                found: found_categories,
                containers: found.rooms,
                notes: json!({
                    "admin_view": !own,
                    "server": server_of(subject.as_str()),
                }),
            };
            Ok((session, client("/sync")))
        })
    }

    fn live<'a>(
        &'a self,
        _client: &'a ApiClient,
        session: &'a Session,
    ) -> BoxFuture<'a, Result<Session>> {
        // A homeserver keeps no export sessions: the staged one stands.
        Box::pin(async move { Ok(session.clone()) })
    }

    fn page<'a>(
        &'a self,
        client_: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            if category.name == "media" {
                return uploads(client_, session, cursor).await;
            }
            let room = category
                .container
                .as_ref()
                .and_then(|c| session.containers.iter().find(|r| r.name == *c))
                .ok_or_else(|| Error::Invalid(format!("no room holds {}", category.name)))?;
            let admin_view = session.notes["admin_view"].as_bool() == Some(true);
            let id = encode(&room.id);
            let read = async {
                if category.name.ends_with("_state") {
                    return state(client_, &id, admin_view).await;
                }
                history(client_, &id, admin_view, cursor).await
            };
            read.await.map_err(|e| withheld(e, &room.title))
        })
    }

    fn single<'a>(
        &'a self,
        client_: &'a ApiClient,
        session: &'a Session,
        category: &'a Category,
    ) -> BoxFuture<'a, Result<Box<RawValue>>> {
        Box::pin(async move {
            let user = session.subject.id.as_str();
            let admin_view = session.notes["admin_view"].as_bool() == Some(true);
            let value: Value = match (&*category.name, admin_view) {
                ("profile", false) => {
                    client_
                        .get_json(&client(&format!("/profile/{}", encode(user))))
                        .await?
                }
                ("profile", true) => {
                    client_
                        .get_json(&admin(&format!("/v2/users/{}", encode(user))))
                        .await?
                }
                ("account_data", false) => own_account_data(client_, user).await?,
                ("account_data", true) => {
                    let v: Value = client_
                        .get_json(&admin(&format!("/v1/users/{}/accountdata", encode(user))))
                        .await?;
                    json!({"user_id": user, "account_data": v["account_data"]})
                }
                (other, _) => return Err(Error::Invalid(format!("no single record {other}"))),
            };
            let mut value = value;
            if let Value::Object(m) = &mut value {
                m.entry("user_id").or_insert_with(|| json!(user));
            }
            RawValue::from_string(value.to_string()).map_err(|e| Error::Invalid(e.to_string()))
        })
    }

    fn files(&self, session: &Session, category: &Category, record: &Value) -> Vec<FileRef> {
        if category.name != "media" {
            return wire::files_of(record);
        }
        // An upload the admin API lists: on the account's own homeserver.
        let server = session.notes["server"].as_str().unwrap_or("localhost");
        let id = record["media_id"].as_str().unwrap_or_default();
        wire::file(
            &format!("mxc://{server}/{id}"),
            record["upload_name"].as_str().unwrap_or(""),
            record["media_type"].as_str().unwrap_or(""),
            // The homeserver's own record of the upload.
            record["media_length"].as_u64(),
            None,
        )
        // Keyed `server/id` like the files events name, so an upload that
        // a message shows is downloaded and archived once.
        .into_iter()
        .collect()
    }

    fn report(&self, _session: &Session, _ending: &Ending<'_>) -> Option<Report> {
        // A homeserver keeps no record of exports.
        None
    }
}

fn estimate(count: Option<u64>, start: Option<String>) -> Estimate {
    Estimate {
        count,
        bytes: count.unwrap_or(0) * 2_000,
        start,
    }
}

/// Whether `user` is an administrator of the homeserver (Synapse says so
/// only to administrators; anyone else is refused, which means no).
async fn is_admin(c: &ApiClient, user: &str) -> Result<bool> {
    match c
        .get_json::<Value>(&admin(&format!("/v1/users/{}/admin", encode(user))))
        .await
    {
        Ok(v) => Ok(v["admin"].as_bool() == Some(true)),
        Err(Error::Status { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A refusal of the admin API, in words that say what is missing.
fn not_admin(e: Error) -> Error {
    match e {
        Error::Status { status: 403, .. } => Error::Status {
            status: 403,
            url: String::new(),
            problem: Some(Box::new(crate::error::Problem {
                detail: "this account is not a server admin: only an administrator of the \
                         homeserver may export another account's data"
                    .into(),
                ..Default::default()
            })),
            retry_after: None,
        },
        e => e,
    }
}

/// A room the homeserver will not show (one the account left, whose
/// history it may no longer read): a shortfall that names the room, not a
/// failure of the whole export.
fn withheld(e: Error, title: &str) -> Error {
    match &e {
        Error::Status { status: 403, .. } => Error::Withheld {
            what: format!("the room \u{201c}{title}\u{201d}"),
            detail: e
                .platform_said()
                .unwrap_or("the homeserver refused to show it")
                .to_owned(),
        },
        _ => e,
    }
}

/// A room's state: one page.
async fn state(c: &ApiClient, room: &str, admin_view: bool) -> Result<Page> {
    let items: Vec<Box<RawValue>> = if admin_view {
        #[derive(serde::Deserialize)]
        struct State {
            state: Vec<Box<RawValue>>,
        }
        c.get_json::<State>(&admin(&format!("/v1/rooms/{room}/state")))
            .await?
            .state
    } else {
        c.get_json(&client(&format!("/rooms/{room}/state"))).await?
    };
    Ok(Page {
        items,
        next_cursor: None,
    })
}

/// One page of a room's history, backwards from `from`. Pages a homeserver
/// filtered empty are passed over (a few), so the engine is not handed a
/// run of empty pages.
async fn history(c: &ApiClient, room: &str, admin_view: bool, from: Option<&str>) -> Result<Page> {
    let mut from = from.map(str::to_owned);
    for _ in 0..EMPTY_PAGES {
        let mut path = if admin_view {
            admin(&format!("/v1/rooms/{room}/messages"))
        } else {
            client(&format!("/rooms/{room}/messages"))
        };
        path.push_str(&format!("?dir=b&limit={PER_PAGE}"));
        if let Some(f) = &from {
            path.push_str(&format!("&from={}", encode(f)));
        }
        let page: Messages = c.get_json(&path).await?;
        // The last page has no `end` (and may be empty).
        let next = page.end.filter(|e| Some(e) != from.as_ref());
        if !page.chunk.is_empty() || next.is_none() {
            return Ok(Page {
                items: page.chunk,
                next_cursor: next,
            });
        }
        from = next;
    }
    Ok(Page {
        items: Vec::new(),
        next_cursor: from,
    })
}

/// The account's uploads, as the admin API lists them (`cursor`: the
/// offset of the next page).
async fn uploads(c: &ApiClient, session: &Session, cursor: Option<&str>) -> Result<Page> {
    let user = encode(session.subject.id.as_str());
    let from = cursor.unwrap_or("0");
    #[derive(serde::Deserialize)]
    struct Listed {
        media: Vec<Box<RawValue>>,
        #[serde(default)]
        next_token: Option<Value>,
    }
    let listed: Listed = c
        .get_json(&admin(&format!(
            "/v1/users/{user}/media?limit=100&from={}&order_by=created_ts",
            encode(from)
        )))
        .await
        .map_err(not_admin)?;
    Ok(Page {
        next_cursor: listed.next_token.map(|t| match t {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        items: listed.media,
    })
}

/// The account's own account data: the global events and each room's, as
/// `/sync` gives them (there is no other way to list them all).
async fn own_account_data(c: &ApiClient, user: &str) -> Result<Value> {
    let filter = json!({
        "room": {
            "include_leave": true,
            "timeline": {"limit": 0},
            "state": {"types": []},
            "ephemeral": {"not_types": ["*"]}
        },
        "presence": {"not_types": ["*"]}
    });
    let answer = rooms::sync(c, &filter).await?;
    let mut per_room = serde_json::Map::new();
    for section in ["join", "leave"] {
        for (id, room) in answer["rooms"][section].as_object().into_iter().flatten() {
            if let Some(events) = room
                .pointer("/account_data/events")
                .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()))
            {
                per_room.insert(id.clone(), events.clone());
            }
        }
    }
    Ok(json!({
        "user_id": user,
        "global": answer.pointer("/account_data/events").cloned().unwrap_or(json!([])),
        "rooms": per_room,
    }))
}

/// An export id of Keepsake's own (a homeserver has none).
fn export_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!("mx{}", hex::encode(bytes))
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
