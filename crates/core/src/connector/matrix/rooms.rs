//! The rooms of an export, found as it opens: their ids, what to call
//! them, and where the walk of each begins.
//!
//! An account's own export asks `/sync` once, with a filter that keeps it
//! small: the joined rooms and those the account left (whose history up to
//! the leave it may still read), each room's name, topic and settings, and
//! who the direct chats are with. Its `next_batch` is the position of every
//! room at that moment; each history is walked backwards from there, so
//! what is sent during the export is not mixed in, however late a room's
//! walk starts. A homeserver administrator's export of another account
//! asks Synapse's admin API for the account's rooms and their details, and
//! its own `/sync` for the position.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::wire::{admin, client};
use crate::client::ApiClient;
use crate::connector::{Container, encode};
use crate::{Error, Result};

/// Found rooms, and where their walks begin.
pub(super) struct Found {
    pub(super) rooms: Vec<Container>,
    pub(super) start: String,
}

/// The `/sync` filter of the room list: a room's name and settings, no
/// timeline to speak of, no presence, nothing else.
fn room_list_filter() -> Value {
    json!({
        "room": {
            "include_leave": true,
            "timeline": {"limit": 1},
            "state": {
                "types": [
                    "m.room.name", "m.room.topic", "m.room.canonical_alias",
                    "m.room.encryption", "m.room.join_rules", "m.room.create"
                ],
                "lazy_load_members": true
            },
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]}
        },
        "presence": {"not_types": ["*"]},
        "account_data": {"types": ["m.direct"]}
    })
}

/// A `/sync` with `filter`, answered at once.
pub(super) async fn sync(client_: &ApiClient, filter: &Value) -> Result<Value> {
    let path = format!(
        "{}?timeout=0&filter={}",
        client("/sync"),
        encode(&filter.to_string())
    );
    client_.get_json(&path).await
}

/// The rooms of the signed-in account, joined and left.
pub(super) async fn own(c: &ApiClient) -> Result<Found> {
    let answer = sync(c, &room_list_filter()).await?;
    let start = answer["next_batch"]
        .as_str()
        .ok_or_else(|| Error::Protocol {
            url: client("/sync"),
            detail: "the homeserver's sync has no next_batch".into(),
        })?
        .to_owned();
    let direct = direct_rooms(answer.pointer("/account_data/events"));
    let mut rooms = Vec::new();
    for (section, membership) in [("join", "join"), ("leave", "leave")] {
        let Some(map) = answer["rooms"][section].as_object() else {
            continue;
        };
        for (id, room) in map {
            let mut state: Vec<&Value> = Vec::new();
            for part in ["/state/events", "/timeline/events"] {
                if let Some(events) = room.pointer(part).and_then(Value::as_array) {
                    state.extend(events.iter().filter(|e| e.get("state_key").is_some()));
                }
            }
            rooms.push(describe(id, membership, &state, direct.get(id.as_str())));
        }
    }
    Ok(Found {
        rooms: number(rooms),
        start,
    })
}

/// The rooms of `subject`, as a homeserver administrator reads them.
pub(super) async fn of(c: &ApiClient, subject: &str) -> Result<Found> {
    let joined: Value = c
        .get_json(&admin(&format!(
            "/v1/users/{}/joined_rooms",
            encode(subject)
        )))
        .await?;
    let account_data: Value = c
        .get_json(&admin(&format!(
            "/v1/users/{}/accountdata",
            encode(subject)
        )))
        .await?;
    let direct = direct_rooms(Some(&json!([{
        "type": "m.direct",
        "content": account_data.pointer("/account_data/global/m.direct").cloned().unwrap_or(Value::Null)
    }])));
    let mut rooms = Vec::new();
    for id in joined["joined_rooms"].as_array().into_iter().flatten() {
        let Some(id) = id.as_str() else { continue };
        let details: Value = c
            .get_json(&admin(&format!("/v1/rooms/{}", encode(id))))
            .await?;
        let mut r = describe(id, "join", &[], direct.get(id));
        if let Some(name) = details["name"].as_str().filter(|n| !n.is_empty()) {
            r.title = name.to_owned();
        } else if let Some(alias) = details["canonical_alias"].as_str() {
            r.title = alias.to_owned();
        }
        r.facts["encrypted"] = json!(details["encryption"].is_string());
        r.facts["public"] = json!(details["join_rules"] == "public");
        if let Some(topic) = details["topic"].as_str() {
            r.facts["topic"] = json!(topic);
        }
        rooms.push(r);
    }
    // The admin's own position is the homeserver's: every room's too.
    let nothing = json!({
        "room": {"rooms": []},
        "presence": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]}
    });
    let start = sync(c, &nothing).await?["next_batch"]
        .as_str()
        .ok_or_else(|| Error::Protocol {
            url: client("/sync"),
            detail: "the homeserver's sync has no next_batch".into(),
        })?
        .to_owned();
    Ok(Found {
        rooms: number(rooms),
        start,
    })
}

/// Rooms that are direct chats, and with whom, from `m.direct` (`{user:
/// [room, …]}`).
fn direct_rooms(events: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in events.and_then(Value::as_array).into_iter().flatten() {
        if e["type"] != "m.direct" {
            continue;
        }
        for (user, rooms) in e["content"].as_object().into_iter().flatten() {
            for room in rooms.as_array().into_iter().flatten() {
                if let Some(r) = room.as_str() {
                    out.insert(r.to_owned(), user.clone());
                }
            }
        }
    }
    out
}

/// A room as the manifest lists it (named later by [`number`]).
fn describe(id: &str, membership: &str, state: &[&Value], direct: Option<&String>) -> Container {
    let content = |kind: &str, field: &str| -> Option<&Value> {
        state
            .iter()
            .rev()
            .find(|e| e["type"] == kind && e["state_key"] == "")
            .and_then(|e| e["content"].get(field))
    };
    let text = |kind: &str, field: &str| {
        content(kind, field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let title = text("m.room.name", "name")
        .or_else(|| text("m.room.canonical_alias", "alias"))
        .or_else(|| direct.map(|u| format!("Direct chat with {u}")))
        .unwrap_or_else(|| id.to_owned());
    let mut facts = json!({
        "membership": membership,
        "direct": direct.is_some(),
        "encrypted": content("m.room.encryption", "algorithm").is_some(),
        "public": text("m.room.join_rules", "join_rule").as_deref() == Some("public"),
    });
    if let Some(with) = direct {
        facts["direct_with"] = json!(with);
    }
    if let Some(topic) = text("m.room.topic", "topic") {
        facts["topic"] = json!(topic);
    }
    Container {
        name: String::new(),
        kind: "Room".into(),
        id: id.to_owned(),
        title,
        facts,
    }
}

/// Names the rooms `room_0001` … in the order of their ids (stable
/// whatever a room is called, and predictable by anyone who reads the
/// manifest's list): names of Keepsake's own, never the platform's id,
/// which may hold anything.
fn number(mut rooms: Vec<Container>) -> Vec<Container> {
    rooms.sort_by(|a, b| a.id.cmp(&b.id));
    let mut seen = BTreeSet::new();
    rooms.retain(|r| seen.insert(r.id.clone()));
    for (i, r) in rooms.iter_mut().enumerate() {
        r.name = format!("room_{:04}", i + 1);
    }
    rooms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rooms_are_named_in_the_order_of_their_ids_and_titled_as_clients_do() {
        let name = json!({"type": "m.room.name", "state_key": "", "content": {"name": "Team"}});
        let enc = json!({"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}});
        let rooms = number(vec![
            describe("!z", "leave", &[&name], None),
            describe("!b", "join", &[], Some(&"@bob:x".to_owned())),
            describe("!a", "join", &[&name, &enc], None),
        ]);
        let got: Vec<(&str, &str, &str)> = rooms
            .iter()
            .map(|r| (r.name.as_str(), r.id.as_str(), r.title.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("room_0001", "!a", "Team"),
                ("room_0002", "!b", "Direct chat with @bob:x"),
                ("room_0003", "!z", "Team"),
            ]
        );
        assert_eq!(rooms[0].facts["encrypted"], true);
        assert_eq!(rooms[2].facts["membership"], "leave");
        assert_eq!(rooms[1].facts["direct_with"], "@bob:x");
    }
}
