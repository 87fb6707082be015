//! Latency and error statuses, each at its rate; a seeded fraction repeats its sequence.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_ms_delays_every_api_response() {
    let (platform, api, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        latency_ms: 300,
        ..FaultPlan::default()
    });
    for _ in 0..2 {
        let started = Instant::now();
        api.get("/api/v1/me").await.expect(200);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "a reply with 300 ms of injected latency came after {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_429_answers_rate_limited_with_the_configured_retry_after() {
    let (platform, api, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        rate_429: 1.0,
        retry_after_secs: 7,
        ..FaultPlan::default()
    });
    for _ in 0..3 {
        let reply = api.get("/api/v1/me").await;
        assert_problem(&reply, 429, "rate-limited");
        assert_eq!(reply.header("retry-after"), Some("7"));
        assert_eq!(
            reply.body["retry_after"],
            json!(7),
            "the problem names the wait too"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_500_answers_internal_errors() {
    let (platform, api, alice) = demo().await;
    platform.state.set_faults(FaultPlan {
        rate_500: 1.0,
        ..FaultPlan::default()
    });
    assert_problem(&api.get("/api/v1/me").await, 500, "internal");
    assert_problem(
        &api.get(&format!("/api/v1/users/{alice}")).await,
        500,
        "internal",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_503_answers_unavailable_with_retry_after() {
    let (platform, api, _) = demo().await;
    platform.state.set_faults(FaultPlan {
        rate_503: 1.0,
        retry_after_secs: 4,
        ..FaultPlan::default()
    });
    let reply = api.get("/api/v1/me").await;
    assert_problem(&reply, 503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("4"));
}

/// The statuses of 200 requests (four request kinds, interleaved) under `plan`.
async fn statuses_under(plan: FaultPlan) -> Vec<u16> {
    let (platform, api, alice) = demo().await;
    platform.state.set_faults(plan);
    let paths = [
        "/api/v1/me".to_owned(),
        format!("/api/v1/users/{alice}"),
        format!("/api/v1/users/{alice}/exports"),
        "/api/v1/nowhere".to_owned(),
    ];
    let mut statuses = Vec::with_capacity(200);
    for i in 0..200 {
        statuses.push(api.get(&paths[i % paths.len()]).await.status);
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fraction_hits_about_that_share_and_the_same_seed_repeats_the_sequence() {
    let plan = FaultPlan {
        seed: 42,
        rate_500: 0.3,
        ..FaultPlan::default()
    };
    let first = statuses_under(plan.clone()).await;
    let hits = first.iter().filter(|s| **s == 500).count();
    // Expect 60 ± 6.5: a band of about four standard deviations either side.
    assert!(
        (35..=85).contains(&hits),
        "rate_500 = 0.3 failed {hits} of 200 requests"
    );
    assert!(
        first.iter().all(|s| [200, 404, 500].contains(s)),
        "only the injected fault and real answers: {first:?}"
    );
    assert!(
        first.contains(&404),
        "requests that get through are answered for real"
    );

    // A fresh platform, the same seed: the very same requests fail.
    assert_eq!(
        statuses_under(plan.clone()).await,
        first,
        "the same seed gives the same fault sequence"
    );
    // Another seed picks other victims (identical by chance: about 2^-120).
    let other = statuses_under(FaultPlan { seed: 43, ..plan }).await;
    assert_ne!(other, first, "the seed chooses which requests fail");
}
