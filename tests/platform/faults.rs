//! Every fault-injection knob does exactly what it says — and nothing when it
//! is off — so client suites can rely on them to rehearse bad networks.

use std::time::{Duration, Instant};

use keepsake_platform::{FaultPlan, seed::Preset};
use keepsake_tests::{Api, Platform, Reply, client, ids};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod bodies;
mod expiry;
mod paging;
mod scope;
mod statuses;

/// A demo platform, a personal access token client for alice, and her id.
async fn demo() -> (Platform, Api, i64) {
    let platform = Platform::start(Preset::Demo).await;
    let api = platform.api(&platform.token("alice", "export:self"));
    let alice = platform.user_id("alice");
    (platform, api, alice)
}

/// Opens an export of `categories` for `user`; call it before switching
/// faults on, or the opening request suffers them too.
async fn open(api: &Api, user: i64, categories: &[&str]) -> String {
    let reply = api
        .open_export(user, json!({ "categories": categories }))
        .await
        .expect(201);
    reply.body["export_id"]
        .as_str()
        .expect("the session has an export_id")
        .to_owned()
}

/// Opens an export of alice's `category` alone and fetches its first page
/// of `limit` records: the export's id, and the page.
async fn first_page(api: &Api, alice: i64, category: &str, limit: u32) -> (String, Reply) {
    let export = open(api, alice, &[category]).await;
    let page = api
        .get(&page_path(alice, &export, category, limit, None))
        .await
        .expect(200);
    (export, page)
}

fn page_path(
    user: i64,
    export: &str,
    collection: &str,
    limit: u32,
    cursor: Option<&str>,
) -> String {
    let mut path = format!("/api/v1/users/{user}/exports/{export}/{collection}?limit={limit}");
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={c}"));
    }
    path
}

/// Raw bytes of a GET through reqwest, for tests that compare bodies byte for byte.
async fn get_bytes(api: &Api, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = api
        .http
        .get(url)
        .bearer_auth(&api.token)
        .send()
        .await
        .expect("request reaches the platform");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.expect("the whole body arrives").to_vec();
    (status, headers, body)
}

#[track_caller]
fn assert_problem(reply: &Reply, status: u16, slug: &str) {
    assert_eq!(reply.status, status, "unexpected reply: {:#}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "problems are problem+json"
    );
    assert_eq!(reply.problem(), slug, "problem type of {:#}", reply.body);
    assert_eq!(
        reply.body["status"],
        json!(status),
        "the problem repeats its status"
    );
}

#[track_caller]
fn header_of<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("the response has a {name} header"))
        .to_str()
        .expect("the header is text")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
