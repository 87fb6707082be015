//! Keyset paging over an export's snapshot: every record exactly once, even
//! while the account is written to and deleted from during the walk.

use std::collections::BTreeSet;

use keepsake_platform::seed::Preset;
use keepsake_tests::{Platform, ids};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_sees_exactly_the_snapshot_while_the_account_changes() {
    let p = Platform::start(Preset::Edge).await;
    let prolific = p.user_id("prolific");
    let api = p.api(&p.token("prolific", "export:self"));
    let before: BTreeSet<i64> = p
        .state
        .store()
        .post_ids(prolific)
        .expect("ids")
        .into_iter()
        .collect();
    assert_eq!(before.len(), 10_000);
    let open = api
        .open_export(prolific, json!({"categories": ["posts"]}))
        .await
        .expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    assert_eq!(open.body["categories"]["posts"]["count"], 10_000);

    // A writer adds new posts and deletes old ones — on both sides of the
    // walk's position — for as long as the walk runs.
    let store = p.state.store().clone();
    let victims: Vec<i64> = before.iter().copied().step_by(37).collect();
    let writer = tokio::task::spawn_blocking(move || {
        let mut written = Vec::new();
        for (i, victim) in victims.iter().enumerate() {
            written.push(
                store
                    .create_post(prolific, &format!("written during the export {i}"))
                    .expect("write"),
            );
            store.delete_post(*victim).expect("delete");
        }
        written
    });
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let page = api
            .get(&format!(
                "/api/v1/users/{prolific}/exports/{id}/posts?limit=97{q}"
            ))
            .await
            .expect(200);
        walked.extend(ids(page.body["items"].as_array().expect("items")));
        tokio::task::yield_now().await;
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let written = writer.await.expect("writer");
    assert!(!written.is_empty());

    let unique: BTreeSet<i64> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len(), "no record twice");
    assert_eq!(
        unique, before,
        "exactly the records alive when the export opened"
    );
    assert!(walked.windows(2).all(|w| w[0] < w[1]), "in id order");

    // A new session opened afterwards sees the new state.
    let now: BTreeSet<i64> = p
        .state
        .store()
        .post_ids(prolific)
        .expect("ids")
        .into_iter()
        .collect();
    api.finish(prolific, &id, json!({"status": "cancelled"}))
        .await
        .expect(200);
    let api2 = p.api(&p.token("support", "export:any"));
    let open = api2
        .open_export(
            prolific,
            json!({"categories": ["posts"], "reason": "check"}),
        )
        .await
        .expect(201);
    let id2 = open.body["export_id"].as_str().expect("id");
    let walked2: BTreeSet<i64> = ids(&api2.walk(prolific, id2, "posts", 500).await)
        .into_iter()
        .collect();
    assert_eq!(walked2, now);
    assert!(written.iter().all(|w| walked2.contains(w)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_size_yields_the_same_records() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api.open_export(alice, json!({})).await.expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    let reference = ids(&api.walk(alice, &id, "posts", 500).await);
    assert_eq!(reference.len(), 150);
    for limit in [1, 2, 149, 150, 151] {
        assert_eq!(
            ids(&api.walk(alice, &id, "posts", limit).await),
            reference,
            "limit {limit}"
        );
    }
    let default = api
        .get(&format!("/api/v1/users/{alice}/exports/{id}/posts"))
        .await
        .expect(200);
    assert_eq!(
        default.body["items"].as_array().expect("items").len(),
        100,
        "default page size"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_cursors_are_checked() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api.open_export(alice, json!({})).await.expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    for q in [
        "limit=0",
        "limit=501",
        "limit=abc",
        "limit=-1",
        "cursor=%21%21",
        "cursor=azE6LTE",
    ] {
        let r = api
            .get(&format!("/api/v1/users/{alice}/exports/{id}/posts?{q}"))
            .await
            .expect(400);
        assert_eq!(r.problem(), "bad-request", "{q}");
    }
    api.get(&format!("/api/v1/users/{alice}/exports/{id}/diaries"))
        .await
        .expect(404);
}
