//! Every fault knob of the reference platform on: the archive still holds
//! every record exactly once, and every file intact.

use keepsake_core::audit::Outcome;
use keepsake_platform::{FaultPlan, seed::Preset};
use keepsake_tests::Platform;

use crate::support::{self, Dest, ids, records};

const CATS: [&str; 5] = ["posts", "comments", "likes", "connections", "media"];

/// Exports alice with `plan` in force and compares with a clean walk.
async fn survives(name: &str, plan: FaultPlan, workers: usize) -> Platform {
    let p = support::unlimited(Preset::Demo).await;
    let mut reference = Vec::new();
    for cat in CATS {
        reference.push(support::reference_ids(&p, "carol", "alice", cat).await);
    }
    p.state.set_faults(plan);
    p.state.reset_requests();
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.media_workers = workers;
    let report = support::run(&p, &p.token("alice", "export:self"), &dest, opts)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{name}: {:?}",
        report.shortfalls
    );
    for (cat, want) in CATS.iter().zip(&reference) {
        assert_eq!(
            &ids(&records(&report.archive, cat)),
            want,
            "{name}: {cat} exactly once each"
        );
    }
    assert_eq!(
        report.counts["media_files"].retrieved,
        reference[4].len() as u64,
        "{name}: every media file"
    );
    let check = keepsake_core::archive::verify(&report.archive).expect("verify");
    assert!(check.ok, "{name}: {:?}", check.problems);
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_are_retried() {
    let plan = FaultPlan {
        seed: 1,
        rate_429: 0.2,
        rate_500: 0.15,
        rate_503: 0.15,
        retry_after_secs: 0,
        ..FaultPlan::default()
    };
    survives("429/500/503", plan, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_bodies_are_fetched_again_and_downloads_resume() {
    let p = survives(
        "reset + truncate",
        FaultPlan {
            seed: 2,
            reset_mid_body: 0.2,
            truncate_json: 0.2,
            ..FaultPlan::default()
        },
        4,
    )
    .await;
    let keys: Vec<String> = p
        .state
        .requests()
        .into_keys()
        .filter(|k| k.contains("/content"))
        .collect();
    assert!(
        p.hits("range=bytes=") > 0,
        "an interrupted download resumed with Range: {keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_and_latency_are_waited_out() {
    survives(
        "slow + latency",
        FaultPlan {
            seed: 3,
            slow_body: 0.2,
            slow_body_delay_ms: 1,
            latency_ms: 5,
            ..FaultPlan::default()
        },
        4,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_cursors_and_duplicated_records_are_caught() {
    survives(
        "repeat + duplicate",
        FaultPlan {
            seed: 4,
            repeat_cursor: 0.3,
            duplicate_record: 0.5,
            ..FaultPlan::default()
        },
        4,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_media_is_downloaded_again() {
    survives(
        "corrupt media",
        FaultPlan {
            seed: 5,
            corrupt_media: 0.25,
            ..FaultPlan::default()
        },
        4,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_media_urls_are_refreshed() {
    let plan = FaultPlan {
        seed: 6,
        media_url_ttl_secs: Some(1),
        latency_ms: 200,
        ..FaultPlan::default()
    };
    let p = survives("short media URL TTL", plan, 1).await;
    let fresh = p
        .state
        .requests()
        .keys()
        .filter(|k| k.starts_with("GET /api/v1/") && k.contains("/media/"))
        .count();
    assert!(fresh > 0, "fresh URLs were asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_never_moves_fails_the_export_with_a_reason() {
    // prolific's 10,000 posts take several pages, so cursors are sent.
    let p = Platform::start(Preset::Edge).await;
    p.state.set_faults(FaultPlan {
        repeat_cursor: 1.0,
        ..FaultPlan::default()
    });
    let dest = Dest::new();
    let err = support::run(
        &p,
        &p.token("prolific", "export:self"),
        &dest,
        support::options(&dest.out()),
    )
    .await
    .expect_err("stuck");
    assert!(err.to_string().contains("same cursor"), "{err}");
    assert!(dest.archives().is_empty());
}
