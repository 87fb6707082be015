//! The Keepsake Export API connector against the reference platform.
//!
//! What the server holds is read through the platform's own Export API as
//! its support account (a session of its own, cancelled afterwards);
//! tokens are minted, expired and written to in its store; revoked through
//! its `/oauth/revoke`.

use std::sync::Arc;

use keepsake_platform::seed::{Preset, SeedOptions};
use keepsake_platform::{Config, PlatformState};
use keepsake_tests::Platform;
use serde_json::{Value, json};

use crate::{
    Features, Fut, HeldFile, Holdings, Server, Target, archives, credentials, faults, full,
    http_axes, resume, tokens, walk,
};

/// The account every check exports, and the support account that reads
/// what the server holds.
const LOGIN: &str = "alice";
const SUPPORT: &str = "carol";

/// The paged collections of the contract, each `data/{name}.json`.
const COLLECTIONS: [&str; 5] = ["posts", "comments", "likes", "connections", "media"];

struct Reference {
    url: String,
    state: PlatformState,
    user_id: i64,
}

impl Reference {
    fn token(&self) -> String {
        self.state
            .store()
            .create_pat(LOGIN, "export:self", None)
            .expect("mint token")
    }
}

impl Server for Reference {
    fn holdings(&self) -> Fut<'_, Holdings> {
        Box::pin(async move {
            let support = self
                .state
                .store()
                .create_pat(SUPPORT, "export:any", None)
                .expect("mint token");
            let api = keepsake_tests::Api {
                base: self.url.clone(),
                token: support,
                http: keepsake_tests::client(),
            };
            let id = self.user_id;
            let open = api
                .open_export(id, json!({"reason": "conformance: what the server holds"}))
                .await
                .expect(201);
            let eid = open.body["export_id"]
                .as_str()
                .expect("export id")
                .to_owned();
            let mut held = Holdings::default();
            let profile = api
                .get(&format!("/api/v1/users/{id}/exports/{eid}/profile"))
                .await
                .expect(200);
            held.entries
                .insert("data/profile.json".into(), profile.body);
            for cat in COLLECTIONS {
                let mut items = api.walk(id, &eid, cat, 500).await;
                if cat == "media" {
                    for m in &mut items {
                        held.files.push(HeldFile {
                            key: m["id"].to_string(),
                            size: m["size"].as_u64().expect("size"),
                            sha256: m["sha256"].as_str().expect("sha256").to_owned(),
                        });
                        // A signed link is a credential of this session:
                        // the archive keeps the file instead.
                        let m = m.as_object_mut().expect("a media record");
                        m.remove("download_url");
                        m.remove("url_expires_at");
                    }
                }
                held.entries
                    .insert(format!("data/{cat}.json"), Value::Array(items));
            }
            api.finish(id, &eid, json!({"status": "cancelled"}))
                .await
                .expect(200);
            held
        })
    }

    fn fresh_token(&self) -> Fut<'_, String> {
        Box::pin(async move { self.token() })
    }

    fn expired_token(&self) -> Fut<'_, Option<String>> {
        Box::pin(async move {
            let token = self.token();
            let hash = keepsake_platform::store::hash_secret(&token);
            let conn = self.state.store().conn().expect("store");
            let n = conn
                .execute(
                    "UPDATE tokens SET expires_at = created_at - 60 WHERE hash = ?1",
                    [hash],
                )
                .expect("expire the token");
            assert_eq!(n, 1, "the token was minted");
            Some(token)
        })
    }

    fn revoke(&self, token: String) -> Fut<'_, ()> {
        Box::pin(async move {
            let r = keepsake_tests::client()
                .post(format!("{}/oauth/revoke", self.url))
                .form(&[("token", token.as_str())])
                .send()
                .await
                .expect("revoke");
            assert!(r.status().is_success(), "revoke: {}", r.status());
        })
    }

    fn write(&self) -> Fut<'_, String> {
        Box::pin(async move {
            let (store, id) = (self.state.store().clone(), self.user_id);
            tokio::task::spawn_blocking(move || {
                store
                    .create_post(id, "written while the export walks")
                    .expect("write a post")
                    .to_string()
            })
            .await
            .expect("writer")
        })
    }

    fn delete(&self, key: String) -> Fut<'_, ()> {
        Box::pin(async move {
            let store = self.state.store().clone();
            let id: i64 = key.parse().expect("a post id");
            tokio::task::spawn_blocking(move || store.delete_post(id).expect("delete a post"))
                .await
                .expect("writer");
        })
    }
}

fn record_key(r: &Value) -> Option<String> {
    r.get("id").and_then(Value::as_i64).map(|i| i.to_string())
}

/// A page of an export session's collection (with its cursor), the
/// profile, or a file by id (its signed link changes between sessions).
fn fetch_key(method: &str, path: &str) -> Option<String> {
    if method != "GET" {
        return None;
    }
    let (route, _) = path.split_once('?').unwrap_or((path, ""));
    if route.starts_with("/media/") && route.ends_with("/content") {
        return Some(route.to_owned());
    }
    let segments: Vec<&str> = route.split('/').collect();
    // /api/v1/users/{id}/exports/{exp}/{collection}
    // Without the session's id: the same page of a new session is the same
    // data fetched again (keyset cursors do not depend on the session).
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    (segments.len() == 8 && segments[5] == "exports").then(|| format!("{}?{query}", segments[7]))
}

/// The demo preset (alice: 150 posts, one page), or alice with `posts`
/// posts (500 a page) for the checks that interrupt or change a walk.
async fn target_with(posts: Option<u64>) -> (Platform, Target) {
    let p = Platform::start_seeded(
        &SeedOptions {
            preset: Preset::Demo,
            seed: 7,
            posts,
            media: None,
        },
        Config {
            rate_limit_per_min: 0,
            quota_per_window: 0,
            ..Config::default()
        },
    )
    .await;
    let server = Reference {
        url: p.url.clone(),
        state: p.state.clone(),
        user_id: p.user_id(LOGIN),
    };
    let t = Target {
        url: p.url.clone(),
        token: server.token(),
        env: Vec::new(),
        page_path: "/posts",
        file_path: "/content",
        record_key,
        fetch_key,
        features: Features {
            snapshot: true,
            writes: Some("data/posts.json"),
            exact_counts: true,
            unsized_files: false,
        },
        server: Arc::new(server),
    };
    (p, t)
}

async fn target() -> (Platform, Target) {
    target_with(None).await
}

/// Eight pages of posts.
async fn paged_target() -> (Platform, Target) {
    target_with(Some(3_800)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_error_body_is_capped_and_retried() {
    let (_p, t) = target().await;
    http_axes::a_huge_error_body_is_capped_and_retried(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_given_up_and_retried() {
    let (_p, t) = target().await;
    http_axes::a_trickling_body_is_given_up_and_retried(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_past_the_ceiling_stops_at_once() {
    let (_p, t) = target().await;
    http_axes::a_retry_after_past_the_ceiling_stops_at_once(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_export_holds_exactly_what_the_server_holds() {
    let (_p, t) = target().await;
    full::a_full_export_holds_exactly_what_the_server_holds(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_archive_passes_every_validator() {
    let (_p, t) = target().await;
    archives::every_archive_passes_every_validator(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_mid_body_is_retried() {
    let (_p, t) = target().await;
    faults::a_connection_reset_mid_body_is_retried(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_body_is_detected_and_retried() {
    let (_p, t) = target().await;
    faults::a_cut_body_is_detected_and_retried(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_given_up_and_retried() {
    let (_p, t) = target().await;
    faults::a_stalled_body_is_given_up_and_retried(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_never_answered_is_given_up_and_retried() {
    let (_p, t) = target().await;
    faults::a_request_never_answered_is_given_up_and_retried(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_then_a_resume_fetches_nothing_twice() {
    let (_p, t) = paged_target().await;
    resume::a_kill_9_then_a_resume_fetches_nothing_twice(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_and_deleted_during_the_walk_are_neither_lost_nor_doubled() {
    let (_p, t) = paged_target().await;
    walk::records_written_and_deleted_during_the_walk_are_neither_lost_nor_doubled(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_expired_or_revoked_token_says_sign_in_again() {
    let (_p, t) = target().await;
    credentials::a_wrong_expired_or_revoked_token_says_sign_in_again(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_during_the_walk_leaves_no_finished_archive() {
    let (_p, t) = paged_target().await;
    credentials::a_token_revoked_during_the_walk_leaves_no_finished_archive(&t).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_file_holds_the_token() {
    let (_p, t) = target().await;
    tokens::no_file_holds_the_token(&t).await;
}
