//! The Matrix connector against a real Synapse, started from the seeded
//! snapshot (`tests/servers/synapse`).
//!
//! What the homeserver holds is read through its own client API as the
//! account (every room it is in or has left, each room's state and its
//! history walked back from now; a second client, never Keepsake) and from
//! the seed's record of the files; access tokens are made by a password
//! login and ended by logging that device out.

use std::sync::Arc;

use keepsake_tests::synapse::{Preset, Synapse};
use serde_json::{Value, json};

use crate::{
    Features, Fut, HeldFile, Holdings, Server, Target, archives, credentials, faults, full,
    http_axes, resume, tokens,
};

/// The account every check exports.
const USER: &str = "alice";

struct Homeserver {
    mx: Synapse,
}

impl Homeserver {
    fn get(&self, token: &str, path: &str) -> reqwest::RequestBuilder {
        keepsake_tests::client()
            .get(format!("{}{path}", self.mx.url))
            .bearer_auth(token)
    }

    async fn json(&self, token: &str, path: &str) -> Value {
        let r = self.get(token, path).send().await.expect("the homeserver");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.expect("JSON")
    }
}

fn enc(s: &str) -> String {
    keepsake_core::connector::encode(s)
}

/// Only what identifies an event: it must be in the archive as sent.
fn event(e: &Value) -> Value {
    json!({
        "event_id": e["event_id"],
        "type": e["type"],
        "sender": e["sender"],
        "origin_server_ts": e["origin_server_ts"],
    })
}

impl Server for Homeserver {
    fn holdings(&self) -> Fut<'_, Holdings> {
        Box::pin(async move {
            let token = self.mx.token(USER);
            let mut held = Holdings::default();
            let me = self.mx.user(USER)["user_id"].as_str().expect("user id");
            let profile = self
                .json(&token, &format!("/_matrix/client/v3/profile/{}", enc(me)))
                .await;
            held.entries.insert(
                "data/profile.json".into(),
                json!({"displayname": profile["displayname"]}),
            );
            // The rooms the account is in or has left, in the order of
            // their ids (as the archive numbers them).
            let filter = json!({"room": {"include_leave": true, "timeline": {"limit": 1}},
                                "presence": {"not_types": ["*"]}});
            let sync = self
                .json(
                    &token,
                    &format!(
                        "/_matrix/client/v3/sync?timeout=0&filter={}",
                        enc(&filter.to_string())
                    ),
                )
                .await;
            let mut rooms: Vec<String> = ["join", "leave"]
                .iter()
                .flat_map(|s| {
                    sync["rooms"][*s]
                        .as_object()
                        .map(|m| m.keys().cloned().collect::<Vec<_>>())
                        .unwrap_or_default()
                })
                .collect();
            rooms.sort();
            for (i, room) in rooms.iter().enumerate() {
                let name = format!("room_{:04}", i + 1);
                let state: Vec<Value> = self
                    .json(
                        &token,
                        &format!("/_matrix/client/v3/rooms/{}/state", enc(room)),
                    )
                    .await
                    .as_array()
                    .expect("state")
                    .iter()
                    .map(event)
                    .collect();
                held.entries
                    .insert(format!("data/{name}_state.json"), Value::Array(state));
                let mut history = Vec::new();
                let mut from: Option<String> = None;
                loop {
                    let mut path = format!(
                        "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000",
                        enc(room)
                    );
                    if let Some(f) = &from {
                        path.push_str(&format!("&from={}", enc(f)));
                    }
                    let page = self.json(&token, &path).await;
                    history.extend(page["chunk"].as_array().expect("chunk").iter().map(event));
                    match page["end"].as_str() {
                        Some(end) if !page["chunk"].as_array().expect("chunk").is_empty() => {
                            from = Some(end.to_owned());
                        }
                        _ => break,
                    }
                }
                held.entries
                    .insert(format!("data/{name}_events.json"), Value::Array(history));
            }
            for m in self.mx.seed["media"].as_array().expect("media") {
                if m["visible_to_alice"] != true {
                    continue;
                }
                held.files.push(HeldFile {
                    key: format!(
                        "{}/{}",
                        m["server_name"].as_str().expect("server"),
                        m["media_id"].as_str().expect("media id")
                    ),
                    size: m["size"].as_u64().expect("size"),
                    sha256: m["sha256"].as_str().expect("sha256").to_owned(),
                });
            }
            held
        })
    }

    fn fresh_token(&self) -> Fut<'_, String> {
        Box::pin(async move {
            let r: Value = keepsake_tests::client()
                .post(format!("{}/_matrix/client/v3/login", self.mx.url))
                .json(&json!({
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": USER},
                    "password": self.mx.user(USER)["password"],
                }))
                .send()
                .await
                .expect("login")
                .json()
                .await
                .expect("its answer");
            r["access_token"].as_str().expect("a token").to_owned()
        })
    }

    fn expired_token(&self) -> Fut<'_, Option<String>> {
        // Synapse's access tokens do not expire (no refresh tokens here).
        Box::pin(async { None })
    }

    fn revoke(&self, token: String) -> Fut<'_, ()> {
        Box::pin(async move {
            let r = keepsake_tests::client()
                .post(format!("{}/_matrix/client/v3/logout", self.mx.url))
                .bearer_auth(&token)
                .json(&json!({}))
                .send()
                .await
                .expect("logout");
            assert!(r.status().is_success(), "logout: {}", r.status());
        })
    }

    fn write(&self) -> Fut<'_, String> {
        // History is not written over: messages sent and redacted during
        // the walk are tested in tests/export/platforms/matrix.rs.
        Box::pin(async { unreachable!("no writes") })
    }

    fn delete(&self, _key: String) -> Fut<'_, ()> {
        Box::pin(async { unreachable!("no writes") })
    }
}

fn record_key(r: &Value) -> Option<String> {
    r.get("event_id").and_then(Value::as_str).map(str::to_owned)
}

/// A page of a history (its `from` is its cursor), a room's state, or a
/// file; other requests (who am I, the room list) may repeat.
fn fetch_key(method: &str, path: &str) -> Option<String> {
    (method == "GET"
        && (path.contains("/messages?")
            || path.contains("/media/download/")
            || path.ends_with("/state")))
    .then(|| path.to_owned())
}

/// A fresh homeserver of `preset`, and alice as a target whose paged
/// collection is `room`'s history.
async fn target(preset: Preset, room: &str) -> Option<Target> {
    let mx = tokio::task::spawn_blocking(move || Synapse::start(preset))
        .await
        .expect("start")?;
    let room_id = match mx.room(room)["room_id"].as_str() {
        Some(r) => r.to_owned(),
        None => mx.seed["bench_room"]
            .as_str()
            .expect("the bench room")
            .to_owned(),
    };
    // The room's own walk, and no other request.
    let page_path: &'static str =
        Box::leak(format!("/rooms/{}/messages", enc(&room_id)).into_boxed_str());
    let token = mx.token(USER);
    Some(Target {
        url: mx.url.clone(),
        token,
        env: vec![("KEEPSAKE_KIND", "matrix".into())],
        page_path,
        file_path: "/media/download/",
        record_key,
        fetch_key,
        features: Features {
            snapshot: false,
            writes: None,
            exact_counts: false,
            unsized_files: true,
        },
        server: Arc::new(Homeserver { mx }),
    })
}

macro_rules! check {
    ($name:ident, $module:ident, $preset:expr, $room:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(t) = target($preset, $room).await else {
                return;
            };
            $module::$name(&t).await;
        }
    };
}

check!(
    a_full_export_holds_exactly_what_the_server_holds,
    full,
    Preset::Default,
    "group"
);
check!(
    every_archive_passes_every_validator,
    archives,
    Preset::Default,
    "group"
);
check!(
    a_kill_9_then_a_resume_fetches_nothing_twice,
    resume,
    Preset::Bench,
    "bench"
);
check!(
    a_connection_reset_mid_body_is_retried,
    faults,
    Preset::Default,
    "group"
);
check!(
    a_cut_body_is_detected_and_retried,
    faults,
    Preset::Default,
    "group"
);
check!(
    a_stalled_body_is_given_up_and_retried,
    faults,
    Preset::Default,
    "group"
);
check!(
    a_request_never_answered_is_given_up_and_retried,
    faults,
    Preset::Default,
    "group"
);
check!(
    a_wrong_expired_or_revoked_token_says_sign_in_again,
    credentials,
    Preset::Default,
    "group"
);
check!(
    a_token_revoked_during_the_walk_leaves_no_finished_archive,
    credentials,
    Preset::Bench,
    "bench"
);
check!(no_file_holds_the_token, tokens, Preset::Default, "group");
check!(
    a_huge_error_body_is_capped_and_retried,
    http_axes,
    Preset::Default,
    "group"
);
check!(
    a_trickling_body_is_given_up_and_retried,
    http_axes,
    Preset::Default,
    "group"
);
check!(
    a_retry_after_past_the_ceiling_stops_at_once,
    http_axes,
    Preset::Default,
    "group"
);
