//! Export sessions: what opens one, what refuses one, and what they record.

use keepsake_platform::{Config, seed::Preset};
use keepsake_tests::{Platform, ids};
use serde_json::json;

const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_reports_counts_that_the_pages_then_deliver() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api.open_export(alice, json!({})).await.expect(201);
    let id = open.body["export_id"]
        .as_str()
        .expect("export id")
        .to_owned();
    assert_eq!(
        open.header("location"),
        Some(format!("/api/v1/users/{alice}/exports/{id}").as_str())
    );
    assert_eq!(open.body["status"], "running");
    assert_eq!(open.body["subject"]["login"], "alice");
    assert!(
        open.body["as_of"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    for category in ["posts", "comments", "likes", "connections", "media"] {
        let expected = open.body["categories"][category]["count"]
            .as_u64()
            .expect("count");
        assert!(expected > 0, "the demo account has {category}");
        assert!(
            open.body["categories"][category]["bytes"]
                .as_u64()
                .expect("bytes")
                > 0
        );
        let got = api.walk(alice, &id, category, 7).await;
        assert_eq!(got.len() as u64, expected, "{category}");
    }
    let profile = api
        .get(&format!("/api/v1/users/{alice}/exports/{id}/profile"))
        .await
        .expect(200);
    assert_eq!(profile.body["login"], "alice");
    assert!(profile.body["email"].as_str().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_running_export_per_account_then_the_quota() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let first = api.open_export(alice, json!({})).await.expect(201);
    let id = first.body["export_id"].as_str().expect("id").to_owned();

    let busy = api.open_export(alice, json!({})).await.expect(409);
    assert_eq!(busy.problem(), "export-running");
    assert_eq!(busy.body["running_export_id"], id.as_str());
    assert_eq!(
        busy.header("content-type"),
        Some("application/problem+json")
    );

    api.finish(alice, &id, json!({"status": "completed", "archive_sha256": SHA, "bytes": 10, "counts": {"posts": 150}}))
        .await
        .expect(200);
    let quota = api.open_export(alice, json!({})).await.expect(429);
    assert_eq!(quota.problem(), "export-quota");
    let retry: u64 = quota
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((3500..=3600).contains(&retry), "about an hour, not {retry}");
    assert!(
        quota.body["next_allowed_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert!(
        quota.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("next export is possible at")
    );
    assert_eq!(
        p.state.store().export_count(alice).expect("count"),
        1,
        "refusals open nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_cancelled_exports_do_not_use_up_the_quota() {
    let p = Platform::start(Preset::Demo).await;
    let bob = p.user_id("bob");
    let api = p.api(&p.token("bob", "export:self"));
    for status in ["cancelled", "failed"] {
        let open = api.open_export(bob, json!({})).await.expect(201);
        let id = open.body["export_id"].as_str().expect("id");
        api.finish(bob, id, json!({"status": status, "error": "user stopped"}))
            .await
            .expect(200);
    }
    api.open_export(bob, json!({})).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_is_configurable() {
    let p = Platform::start_with(
        Preset::Demo,
        Config {
            quota_per_window: 2,
            rate_limit_per_min: 0,
            ..Config::default()
        },
    )
    .await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    for _ in 0..2 {
        let open = api.open_export(alice, json!({})).await.expect(201);
        let id = open.body["export_id"].as_str().expect("id");
        api.finish(
            alice,
            id,
            json!({"status": "incomplete", "archive_sha256": SHA}),
        )
        .await
        .expect(200);
    }
    api.open_export(alice, json!({})).await.expect(429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_need_the_scope_and_a_reason() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let carol_self = p.api(&p.token("carol", "export:self"));
    let denied = carol_self
        .open_export(alice, json!({"reason": "ticket 1"}))
        .await
        .expect(403);
    assert_eq!(denied.problem(), "insufficient-scope");
    assert!(
        denied
            .header("www-authenticate")
            .is_some_and(|h| h.contains("insufficient_scope"))
    );

    let carol = p.api(&p.token("carol", "export:any"));
    let why = carol.open_export(alice, json!({})).await.expect(422);
    assert_eq!(why.problem(), "reason-required");
    carol
        .open_export(alice, json!({"reason": "   "}))
        .await
        .expect(422);

    let open = carol
        .open_export(alice, json!({"reason": "GDPR request #4711"}))
        .await
        .expect(201);
    assert_eq!(open.body["actor"]["login"], "carol");
    assert_eq!(open.body["subject"]["login"], "alice");
    assert_eq!(open.body["reason"], "GDPR request #4711");

    // Alice can see, in her own trail, who exported her data and why.
    let trail = p
        .api(&p.token("alice", "export:self"))
        .get(&format!("/api/v1/users/{alice}/exports"))
        .await
        .expect(200);
    let items = trail.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor"]["login"], "carol");
    assert_eq!(items[0]["reason"], "GDPR request #4711");

    // A user cannot export another user, and cannot even hold export:any.
    let bob = p.api(&p.token("bob", "export:self"));
    assert_eq!(
        bob.open_export(alice, json!({"reason": "curious"}))
            .await
            .expect(403)
            .problem(),
        "insufficient-scope"
    );
    assert!(
        p.state
            .store()
            .create_pat("bob", "export:any", None)
            .is_err()
    );

    // Support can look accounts up; users cannot.
    let found = carol.get("/api/v1/users?login=alice").await.expect(200);
    assert_eq!(found.body["items"][0]["id"], alice);
    bob.get("/api/v1/users?login=alice").await.expect(403);
    carol.get("/api/v1/users").await.expect(400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_account_mid_export_answers_410_everywhere() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api.open_export(alice, json!({})).await.expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    let page = api
        .get(&format!(
            "/api/v1/users/{alice}/exports/{id}/posts?limit=10"
        ))
        .await
        .expect(200);
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let media = api
        .get(&format!("/api/v1/users/{alice}/exports/{id}/media?limit=1"))
        .await
        .expect(200);
    let url = media.body["items"][0]["download_url"]
        .as_str()
        .expect("url")
        .to_owned();

    p.state.store().delete_user("alice").expect("delete");

    let gone = api
        .get(&format!(
            "/api/v1/users/{alice}/exports/{id}/posts?limit=10&cursor={cursor}"
        ))
        .await
        .expect(410);
    assert_eq!(gone.problem(), "account-deleted");
    api.get(&format!("/api/v1/users/{alice}/exports/{id}/profile"))
        .await
        .expect(410);
    let resp = keepsake_tests::client()
        .get(&url)
        .send()
        .await
        .expect("download");
    assert_eq!(resp.status().as_u16(), 410);
    api.open_export(alice, json!({})).await.expect(410);
    api.get("/api/v1/me").await.expect(410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_validated_and_final() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api
        .open_export(alice, json!({"categories": ["posts"]}))
        .await
        .expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    assert_eq!(
        open.body["categories"]
            .as_object()
            .expect("categories")
            .len(),
        1
    );

    api.get(&format!("/api/v1/users/{alice}/exports/{id}/likes"))
        .await
        .expect(404);
    assert_eq!(
        api.finish(alice, &id, json!({"status": "completed"}))
            .await
            .expect(422)
            .problem(),
        "invalid-outcome"
    );
    api.finish(alice, &id, json!({"status": "done", "archive_sha256": SHA}))
        .await
        .expect(422);
    api.finish(
        alice,
        &id,
        json!({"status": "completed", "archive_sha256": "xyz"}),
    )
    .await
    .expect(422);
    api.finish(
        alice,
        &id,
        json!({"status": "completed", "archive_sha256": SHA, "counts": {"bogus": 1}}),
    )
    .await
    .expect(422);

    // Only the actor who opened it reports its outcome.
    let carol = p.api(&p.token("carol", "export:any"));
    carol
        .finish(alice, &id, json!({"status": "failed"}))
        .await
        .expect(404);

    let done = api
        .finish(alice, &id, json!({"status": "completed", "archive_sha256": SHA, "bytes": 1234, "counts": {"posts": 150}}))
        .await
        .expect(200);
    assert_eq!(done.body["status"], "completed");
    assert_eq!(done.body["outcome"]["archive_sha256"], SHA);
    assert!(done.body["finished_at"].as_str().is_some());
    assert_eq!(
        api.finish(alice, &id, json!({"status": "failed"}))
            .await
            .expect(409)
            .problem(),
        "export-finished"
    );
    api.get(&format!("/api/v1/users/{alice}/exports/{id}/posts"))
        .await
        .expect(409);
    let got = api
        .get(&format!("/api/v1/users/{alice}/exports/{id}"))
        .await
        .expect(200);
    assert_eq!(got.body["outcome"]["bytes"], 1234);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_with_a_reason() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    for body in [
        json!({"categories": ["posts", "diaries"]}),
        json!({"categories": []}),
        json!({"since": "last tuesday"}),
        json!({"since": "2022-01-01", "until": "2021-01-01"}),
        json!({"unexpected": true}),
    ] {
        let r = api.open_export(alice, body.clone()).await.expect(400);
        assert_eq!(r.problem(), "bad-request", "{body}");
        assert!(!r.body["detail"].as_str().unwrap_or("").is_empty());
    }
    api.open_export(999_999, json!({})).await.expect(403);
    let carol = p.api(&p.token("carol", "export:any"));
    carol
        .open_export(999_999, json!({"reason": "x"}))
        .await
        .expect(404);
    api.get("/api/v1/users/1/exports/exp_00000000000000000000000000000000")
        .await
        .expect(404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_filters_bound_counts_and_pages() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let api = p.api(&p.token("alice", "export:self"));
    let open = api
        .open_export(
            alice,
            json!({"since": "2020-01-01", "until": "2021-06-30T12:00:00Z"}),
        )
        .await
        .expect(201);
    let id = open.body["export_id"].as_str().expect("id").to_owned();
    assert_eq!(open.body["since"], "2020-01-01T00:00:00Z");
    for category in ["posts", "comments", "likes"] {
        let items = api.walk(alice, &id, category, 50).await;
        assert_eq!(
            items.len() as u64,
            open.body["categories"][category]["count"]
                .as_u64()
                .expect("count")
        );
        assert!(!items.is_empty(), "{category} has records in range");
        for it in &items {
            let at = it["created_at"].as_str().expect("created_at");
            assert!(
                ("2020-01-01T00:00:00Z".."2021-06-30T12:00:00Z").contains(&at),
                "{category} {at}"
            );
        }
        let all_ids = ids(&items);
        assert!(all_ids.windows(2).all(|w| w[0] < w[1]));
    }
}
