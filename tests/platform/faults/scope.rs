//! What the faults touch, and the loopback endpoint that sets them.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_touch_only_the_api_and_media_downloads() {
    let (platform, api, alice) = demo().await;
    let (_, page) = first_page(&api, alice, "media", 1).await;
    let url = page.body["items"][0]["download_url"]
        .as_str()
        .expect("a download URL")
        .to_owned();

    platform.state.set_faults(FaultPlan {
        rate_500: 1.0,
        ..FaultPlan::default()
    });
    let http = client();
    assert_problem(&api.get("/api/v1/me").await, 500, "internal");
    let media = http
        .get(&url)
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(
        media.status().as_u16(),
        500,
        "media downloads suffer faults too"
    );

    let health = http
        .get(format!("{}/healthz", platform.url))
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(
        health.status().as_u16(),
        200,
        "health checks never suffer faults"
    );
    assert_eq!(
        health.json::<Value>().await.expect("JSON"),
        json!({ "status": "ok" })
    );
    let spec = http
        .get(format!("{}/openapi.yaml", platform.url))
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(
        spec.status().as_u16(),
        200,
        "the served contract never suffers faults"
    );
    // OAuth answers for itself: here its own error for a bad grant, not an injected 500.
    let token = http
        .post(format!("{}/oauth/token", platform.url))
        .form(&[
            ("grant_type", "password"),
            ("client_id", keepsake_platform::CLIENT_ID),
        ])
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(token.status().as_u16(), 400);
    let body: Value = token.json().await.expect("an OAuth error body");
    assert_eq!(body["error"], json!("unsupported_grant_type"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loopback_admin_endpoint_reads_sets_and_validates_the_plan() {
    let (platform, api, _) = demo().await;
    let http = client();
    let admin = format!("{}/admin/faults", platform.url);
    let current = http
        .get(&admin)
        .send()
        .await
        .expect("request reaches the platform");
    assert_eq!(current.status().as_u16(), 200);
    let default = serde_json::to_value(FaultPlan::default()).expect("a plan serializes");
    assert_eq!(
        current.json::<Value>().await.expect("JSON"),
        default,
        "faults are off by default"
    );

    // Fields left out take their defaults.
    let put = http
        .put(&admin)
        .json(&json!({ "rate_503": 1.0, "retry_after_secs": 3 }))
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status().as_u16(), 200);
    assert_eq!(
        put.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let plan = FaultPlan {
        rate_503: 1.0,
        retry_after_secs: 3,
        ..FaultPlan::default()
    };
    let expected = serde_json::to_value(&plan).expect("a plan serializes");
    assert_eq!(
        put.json::<Value>().await.expect("JSON"),
        expected,
        "PUT answers with the plan now in force"
    );
    assert_eq!(platform.state.faults(), plan);
    let reply = api.get("/api/v1/me").await;
    assert_problem(&reply, 503, "unavailable");
    assert_eq!(
        reply.header("retry-after"),
        Some("3"),
        "the plan set over HTTP is the one applied"
    );

    for (bad, why) in [
        (json!({ "rate_429": 1.5 }), "rate_429"),
        (json!({ "corrupt_media": -0.1 }), "corrupt_media"),
        (
            json!({ "rate_500": 0.5, "no_such_knob": true }),
            "no_such_knob",
        ),
    ] {
        let resp = http.put(&admin).json(&bad).send().await.expect("PUT");
        let reply = Reply::read(resp).await;
        assert_problem(&reply, 400, "bad-request");
        let detail = reply.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(why), "the refusal names {why}: {detail}");
        assert_eq!(
            platform.state.faults(),
            plan,
            "a refused plan changes nothing ({bad})"
        );
    }

    let off = http.put(&admin).json(&json!({})).send().await.expect("PUT");
    assert_eq!(off.status().as_u16(), 200);
    api.get("/api/v1/me").await.expect(200);
}
