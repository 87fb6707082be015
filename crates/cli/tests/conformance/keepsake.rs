//! The Keepsake Export API connector against the reference platform.

use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;

use crate::Target;
use crate::http_axes;

async fn target() -> (Platform, Target) {
    let p = Platform::start(Preset::Demo).await;
    let t = Target {
        url: p.url.clone(),
        token: p.token("alice", "export:self"),
        page_path: "/posts",
    };
    (p, t)
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
