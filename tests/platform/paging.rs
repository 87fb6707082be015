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

    // Between every two pages a writer adds a post and deletes two old
    // ones: one the walk has passed and one still ahead of it (some in the
    // very next page). It is driven step by step from here, so the writes
    // certainly land while the walk is under way; a writer left to the
    // scheduler could finish before the first page or after the last.
    let store = p.state.store().clone();
    let mut walked: Vec<i64> = Vec::new();
    let mut written: Vec<i64> = Vec::new();
    let mut deleted: BTreeSet<i64> = BTreeSet::new();
    // Ids deleted while the walk had not reached them yet.
    let mut deleted_ahead: Vec<i64> = Vec::new();
    // How many write steps had landed before each page was fetched.
    let mut steps_before_page: Vec<usize> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        if let Some(&last) = walked.last() {
            let behind = walked
                .iter()
                .rev()
                .step_by(3)
                .find(|id| !deleted.contains(id))
                .copied();
            let mut ahead_ids = before.range(last + 1..).filter(|id| !deleted.contains(id));
            let step = written.len();
            let ahead = if step.is_multiple_of(2) {
                ahead_ids.nth(40)
            } else {
                ahead_ids.next_back()
            }
            .copied();
            let store = store.clone();
            let victims: Vec<i64> = behind.into_iter().chain(ahead).collect();
            let new = tokio::task::spawn_blocking(move || {
                let new = store
                    .create_post(prolific, &format!("written during the export {step}"))
                    .expect("write");
                for v in &victims {
                    store.delete_post(*v).expect("delete");
                }
                // The step has landed: the live account shows it.
                let live: BTreeSet<i64> =
                    store.post_ids(prolific).expect("ids").into_iter().collect();
                assert!(live.contains(&new), "step {step}: the new post is live");
                assert!(
                    victims.iter().all(|v| !live.contains(v)),
                    "step {step}: the deleted posts are gone"
                );
                new
            })
            .await
            .expect("writer");
            written.push(new);
            deleted.extend(behind);
            if let Some(a) = ahead {
                deleted.insert(a);
                deleted_ahead.push(a);
            }
        }
        steps_before_page.push(written.len());
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
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }

    // The writes really happened during the walk: none before the first
    // page, one step before every later page.
    let pages = steps_before_page.len();
    assert!(pages > 100, "{pages} pages of 97 for 10,000 posts");
    assert_eq!(
        steps_before_page[0], 0,
        "the first page saw the account as opened"
    );
    assert_eq!(
        steps_before_page[pages - 1],
        pages - 1,
        "a write step landed between every two pages, up to the last"
    );
    assert_eq!(written.len(), pages - 1);
    assert!(
        deleted_ahead.len() >= 40 && deleted.len() > deleted_ahead.len(),
        "deletions on both sides of the walk: {} ahead, {} in all",
        deleted_ahead.len(),
        deleted.len()
    );

    let unique: BTreeSet<i64> = walked.iter().copied().collect();
    assert_eq!(unique.len(), walked.len(), "no record twice");
    assert_eq!(
        unique, before,
        "exactly the records alive when the export opened"
    );
    assert!(walked.windows(2).all(|w| w[0] < w[1]), "in id order");
    assert!(
        deleted_ahead.iter().all(|d| unique.contains(d)),
        "posts deleted before the walk reached them are still in the snapshot"
    );
    assert!(
        written.iter().all(|w| !unique.contains(w)),
        "posts written during the walk are not in it"
    );

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
