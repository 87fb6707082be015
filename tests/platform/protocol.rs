//! The protocol around the data: problem details everywhere, rate-limit
//! headers, authentication errors, and the contract served by the platform.

use keepsake_platform::{Config, seed::Preset};
use keepsake_tests::{Platform, client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_problem_details_everywhere() {
    let p = Platform::start(Preset::Demo).await;
    let api = p.api(&p.token("alice", "export:self"));
    for (method, path, status) in [
        (reqwest::Method::GET, "/no/such/thing", 404),
        (reqwest::Method::DELETE, "/api/v1/me", 405),
        (reqwest::Method::GET, "/api/v1/users/abc", 400),
    ] {
        let r = api.send(method.clone(), path, None).await;
        assert_eq!(r.status, status, "{method} {path}");
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{method} {path}"
        );
        assert_eq!(r.body["status"], status);
        assert_eq!(r.body["instance"], path, "instance names the request path");
        assert!(
            r.body["title"].is_string()
                && r.body["detail"].is_string()
                && r.body["type"].is_string()
        );
    }
    let anon = p.api("");
    let r = anon.get("/api/v1/me").await.expect(401);
    assert_eq!(r.problem(), "invalid-token");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    p.api("ksp_not-a-real-token")
        .get("/api/v1/me")
        .await
        .expect(401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_rate_limit_headers_and_the_limit_holds() {
    let p = Platform::start_with(
        Preset::Demo,
        Config {
            rate_limit_per_min: 5,
            ..Config::default()
        },
    )
    .await;
    let api = p.api(&p.token("alice", "export:self"));
    let mut statuses = Vec::new();
    for i in 0..7 {
        let r = api.get("/api/v1/me").await;
        assert_eq!(r.header("ratelimit-limit"), Some("5"));
        let remaining: u32 = r
            .header("ratelimit-remaining")
            .expect("remaining")
            .parse()
            .expect("int");
        assert_eq!(remaining, 4u32.saturating_sub(i));
        assert!(r.header("ratelimit-reset").is_some());
        statuses.push(r.status);
        if r.status == 429 {
            assert_eq!(r.problem(), "rate-limited");
            assert!(r.header("retry-after").is_some());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
    // Limits are per token: another token is unaffected.
    p.api(&p.token("bob", "export:self"))
        .get("/api/v1/me")
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_serves_its_contract() {
    let p = Platform::start(Preset::Demo).await;
    let resp = client()
        .get(format!("{}/openapi.yaml", p.url))
        .send()
        .await
        .expect("spec");
    assert_eq!(resp.status().as_u16(), 200);
    let spec = resp.text().await.expect("text");
    assert!(
        spec.starts_with("openapi: 3.1") || spec.contains("\nopenapi: 3.1"),
        "an OpenAPI 3.1 document"
    );
    for path in [
        "/oauth/authorize:",
        "/oauth/token:",
        "/oauth/revoke:",
        "/api/v1/me:",
        "/api/v1/users:",
        "/api/v1/users/{user_id}:",
        "/api/v1/users/{user_id}/exports:",
        "/api/v1/users/{user_id}/exports/{export_id}:",
        "/api/v1/users/{user_id}/exports/{export_id}/profile:",
        "/api/v1/users/{user_id}/exports/{export_id}/posts:",
        "/api/v1/users/{user_id}/exports/{export_id}/comments:",
        "/api/v1/users/{user_id}/exports/{export_id}/likes:",
        "/api/v1/users/{user_id}/exports/{export_id}/connections:",
        "/api/v1/users/{user_id}/exports/{export_id}/media:",
        "/api/v1/users/{user_id}/exports/{export_id}/media/{media_id}:",
        "/media/{media_id}/content:",
        "/healthz:",
        "/admin/faults:",
    ] {
        assert!(spec.contains(path), "the contract documents {path}");
    }
    let health = client()
        .get(format!("{}/healthz", p.url))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);
}
