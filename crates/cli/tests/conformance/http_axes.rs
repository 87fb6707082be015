//! The three HTTP fault axes of issue 14, for any connector: the fault
//! proxy spoils one answer of a paged collection, and the export must cope
//! the way the engine's shared HTTP layer promises, whatever the platform.

use std::time::Duration;

use keepsake_tests::proxy::{Fault, FaultProxy, Trigger};
use serde_json::Value;

use crate::Target;
use crate::common::{archives, assert_no_finished_archive, assert_no_token};

fn trigger(t: &Target) -> Trigger {
    Trigger {
        path_contains: t.page_path.to_owned(),
        skip: 0,
        times: 1,
    }
}

/// A `500` with a 1 GiB body on a page: the client reads a capped part of
/// it, retries, and completes, with memory bounded.
pub async fn a_huge_error_body_is_capped_and_retried(t: &Target) {
    let proxy = FaultProxy::start(&t.url, Fault::HugeErrorBody(1 << 30), trigger(t)).await;
    let home = crate::home(&proxy.url, t);
    let run = home.export(&[], Duration::from_secs(180));
    assert!(!run.killed, "{}", run.text());
    assert_eq!(proxy.spoiled(), 1, "{:?}", proxy.seen());
    crate::expect::completed(t, &run);
    assert!(
        run.peak_rss_kib < 200 << 10,
        "peak RSS {} KiB while a 1 GiB error body arrived",
        run.peak_rss_kib
    );
    assert_eq!(archives(&home.out()).len(), 1);
}

/// A page whose body arrives one byte every 5 s: given up after the pace
/// window (shortened to 1 s here), asked again, and the export completes.
pub async fn a_trickling_body_is_given_up_and_retried(t: &Target) {
    let proxy = FaultProxy::start(&t.url, Fault::Trickle(Duration::from_secs(5)), trigger(t)).await;
    let home = crate::home(&proxy.url, t);
    let run = home.export(&["--http-stall-secs", "1"], Duration::from_secs(120));
    assert!(!run.killed, "the trickle was waited out: {}", run.text());
    assert_eq!(proxy.spoiled(), 1, "{:?}", proxy.seen());
    crate::expect::completed(t, &run);
    assert!(
        run.took < Duration::from_secs(60),
        "the trickled page held the export {:?}",
        run.took
    );
}

/// `429` with `Retry-After: 999999` (11 days): not waited out, not retried
/// forever, but stopped at once with the platform's time in the message;
/// what was fetched is kept and no finished-looking archive is left.
pub async fn a_retry_after_past_the_ceiling_stops_at_once(t: &Target) {
    let proxy = FaultProxy::start(&t.url, Fault::RetryAfter(999_999), trigger(t)).await;
    let home = crate::home(&proxy.url, t);
    let run = home.export(&[], Duration::from_secs(60));
    assert!(!run.killed, "{}", run.text());
    assert_eq!(run.code(), 6, "exit 6 is \"try later\": {}", run.text());
    assert!(run.took < Duration::from_secs(30), "{:?}", run.took);
    let text = run.text();
    let when = (time::OffsetDateTime::now_utc() + time::Duration::seconds(999_999)).year();
    assert!(
        text.contains(&when.to_string()),
        "the platform's time: {text}"
    );
    assert_eq!(
        proxy.spoiled(),
        1,
        "asked once, not again: {:?}",
        proxy.seen()
    );
    assert_no_finished_archive(&home.out());
    assert_no_token(&text);
    let audit: Vec<Value> = home.audit();
    assert!(!audit.is_empty(), "no audit record");
}
