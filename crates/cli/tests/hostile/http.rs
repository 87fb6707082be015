//! Bodies that never end or trickle, `Retry-After` far off or as a date,
//! a platform that fails for good, and where the token goes (issue 14,
//! "Unbounded reads and waits" and "The token").

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use keepsake_tests::hostile::{Hostile, Script, hook, huge, problem, trickle, with_header};

use crate::common::{
    Home, Run, TOKEN, archives, assert_audited, assert_no_finished_archive, assert_no_token,
};

/// Exit codes of the CLI (`crates/cli/src/main.rs`).
const FAILED: i32 = 1;
const INCOMPLETE: i32 = 4;
const LATER: i32 = 6;

/// A hook answering every page of posts with `$answer`.
macro_rules! posts {
    ($answer:expr) => {
        hook(move |req| (req.category() == Some("posts")).then(|| $answer))
    };
}

/// What asks the address which platform it is: without a token, by
/// design (KEEPSAKE_TOKEN without --kind).
fn is_detection(path: &str) -> bool {
    path == "/openapi.yaml"
}

fn is_media_content(path: &str) -> bool {
    path.starts_with("/media/") && path.ends_with("/content")
}

/// `keepsake export` with a short stall window and give-up time, so that
/// what takes minutes by default takes seconds here.
fn export_quickly(home: &Home, give_up: &str, limit: Duration) -> Run {
    let args = home.export_args(&["--give-up-after", give_up]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = home
        .cmd(&args)
        .env("KEEPSAKE_HTTP_STALL_SECS", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keepsake starts");
    crate::common::watch(child, limit)
}

/// What every failed run must leave: the exit code, no finished archive,
/// the audit record, no token anywhere.
fn assert_failed(home: &Home, run: &Run, code: i32) {
    assert!(!run.killed, "had to be killed: {}", run.text());
    assert_eq!(run.code(), code, "{}", run.text());
    assert_no_finished_archive(&home.out());
    assert_audited(home, "failed");
    assert_no_token(&run.text());
}

// Issue 14: a 500 with a 1 GiB body took the client to 2.1 GB RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_with_a_huge_body_is_read_only_up_to_a_cap() {
    let h = Hostile::start(Script {
        hook: Some(posts!(huge(500, 1 << 30, "application/problem+json"))),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "3s", Duration::from_secs(60));
    assert_failed(&home, &run, LATER);
    assert!(run.text().contains("gave up"), "{}", run.text());
    // The binary itself is a few tens of MB; 1 GiB read whole is not.
    assert!(
        run.peak_rss_kib < 200 << 10,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
}

// Issue 14: a page sent a byte every 5 s ran until it was killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_trickling_a_byte_every_five_seconds_fails_within_the_bound() {
    let body = br#"{"items":[],"next_cursor":null}"#.to_vec();
    let h = Hostile::start(Script {
        hook: Some(posts!(trickle(200, body.clone(), Duration::from_secs(5)))),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "4s", Duration::from_secs(60));
    assert_failed(&home, &run, LATER);
    let text = run.text();
    assert!(text.contains("too slowly"), "{text}");
    assert!(text.contains("gave up"), "{text}");
    assert!(run.took < Duration::from_secs(20), "{:?}", run.took);
}

// Issue 14: media sent a byte every 5 s ran until it was killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_trickling_a_byte_every_five_seconds_is_reported_missing() {
    let bytes = Script::default().media_bytes;
    let h = Hostile::start(Script {
        hook: Some(hook(move |req| {
            if !is_media_content(&req.path) {
                return None;
            }
            // Resumes are answered too, just as slowly.
            let from = req
                .headers
                .get("range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes="))
                .and_then(|v| v.trim_end_matches('-').parse::<usize>().ok())
                .unwrap_or(0)
                .min(bytes.len());
            let rest = bytes[from..].to_vec();
            Some(match from {
                0 => trickle(200, rest, Duration::from_secs(5)),
                _ => with_header(
                    trickle(206, rest, Duration::from_secs(5)),
                    "content-range",
                    &format!("bytes {from}-{}/{}", bytes.len() - 1, bytes.len()),
                ),
            })
        })),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "4s", Duration::from_secs(60));
    assert!(!run.killed, "had to be killed: {}", run.text());
    assert_eq!(run.code(), INCOMPLETE, "{}", run.text());
    assert!(run.text().contains("too slowly"), "{}", run.text());
    assert!(run.took < Duration::from_secs(30), "{:?}", run.took);
    let resumed = h
        .seen()
        .iter()
        .filter(|s| is_media_content(&s.path))
        .count();
    assert!(resumed > 1, "{:?}", h.seen());
    assert_audited(&home, "incomplete");
    assert_no_token(&run.text());
}

// Issue 14: `Retry-After: 999999` was retried every 60 s forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_far_off_stops_at_once_with_the_platforms_time() {
    let h = Hostile::start(Script {
        hook: Some(posts!(with_header(
            problem(503, "unavailable", "down for maintenance"),
            "retry-after",
            "999999",
        ))),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "10m", Duration::from_secs(60));
    assert_failed(&home, &run, LATER);
    // The platform's time: 999999 s from now, about 11.6 days.
    let at = time::OffsetDateTime::from(SystemTime::now() + Duration::from_secs(999_999));
    let day = format!("{}-{:02}-{:02}", at.year(), at.month() as u8, at.day());
    assert!(run.text().contains(&day), "{day} in {}", run.text());
    assert_eq!(h.reads_of("posts"), 1, "{:?}", h.seen());
    assert!(run.took < Duration::from_secs(20), "{:?}", run.took);
}

// Issue 14: a `Retry-After` HTTP date was ignored (8 retries before it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_date_is_waited_out() {
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    let h = Hostile::start(Script {
        hook: Some(hook(move |req| {
            if req.category() != Some("posts") || t.fetch_add(1, Ordering::SeqCst) > 0 {
                return None;
            }
            let at = time::OffsetDateTime::from(SystemTime::now() + Duration::from_secs(3));
            let date = format!(
                "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
                &at.weekday().to_string()[..3],
                at.day(),
                &at.month().to_string()[..3],
                at.year(),
                at.hour(),
                at.minute(),
                at.second()
            );
            Some(with_header(
                problem(503, "unavailable", "back shortly"),
                "retry-after",
                &date,
            ))
        })),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "1m", Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    assert_eq!(archives(&home.out()).len(), 1, "{}", run.text());
    assert_eq!(h.reads_of("posts"), 2, "{:?}", h.seen());
    // One-second resolution: at least two of the three seconds were waited.
    assert!(run.took >= Duration::from_secs(2), "{:?}", run.took);
    assert_audited(&home, "completed");
}

// Issue 14: `503` forever had not given up after 120 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_failing_for_good_is_given_up_on_within_the_bound() {
    let h = Hostile::start(Script {
        hook: Some(posts!(problem(503, "unavailable", "try again later"))),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "3s", Duration::from_secs(60));
    assert_failed(&home, &run, LATER);
    let text = run.text();
    assert!(text.contains("gave up"), "{text}");
    // The waits said when it would give up.
    assert!(text.contains("\"giving_up_at\""), "{text}");
    assert!(run.took < Duration::from_secs(15), "{:?}", run.took);
    assert!(h.reads_of("posts") >= 2, "{:?}", h.seen());
}

// Issue 14: media downloads carried the bearer token, on the platform's
// origin (where the contract forbids it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_on_the_platforms_origin_is_fetched_without_the_token() {
    let h = Hostile::start(Script::default()).await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "1m", Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    let seen = h.seen();
    let media: Vec<_> = seen.iter().filter(|s| is_media_content(&s.path)).collect();
    assert_eq!(media.len(), 1, "{seen:?}");
    assert!(!media[0].authorized, "{seen:?}");
    assert!(
        seen.iter()
            .filter(|s| !is_media_content(&s.path) && !is_detection(&s.path))
            .all(|s| s.authorized),
        "{seen:?}"
    );
    assert_audited(&home, "completed");
}

// Issue 14: media on another host got the user's token, and plain http on
// loopback was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_on_another_host_is_fetched_without_the_token() {
    let cdn = Hostile::start(Script::default()).await;
    // Another host by name, over plain http on this machine.
    let cdn_url = cdn.url.replace("127.0.0.1", "localhost");
    let h = Hostile::start(Script {
        media_base: Some(cdn_url),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "1m", Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    let at_cdn = cdn.seen();
    assert_eq!(at_cdn.len(), 1, "{at_cdn:?}");
    assert!(is_media_content(&at_cdn[0].path), "{at_cdn:?}");
    assert!(!at_cdn[0].authorized, "{at_cdn:?}");
    // Pages carried it (all but the question which platform this is), and
    // nothing went to the platform for the file.
    let seen = h.seen();
    assert!(
        seen.iter().all(|s| s.authorized != is_detection(&s.path)),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|s| is_media_content(&s.path)), "{seen:?}");
    assert_audited(&home, "completed");
}

// Issue 14: a token echoed in a problem detail appeared on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_echoed_by_the_platform_is_never_printed() {
    let detail = format!("the token {TOKEN} may not read posts (Authorization: Bearer {TOKEN})");
    let h = Hostile::start(Script {
        hook: Some(posts!(problem(403, "forbidden", &detail))),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let run = export_quickly(&home, "1m", Duration::from_secs(60));
    assert_failed(&home, &run, FAILED);
    assert!(run.text().contains("[redacted]"), "{}", run.text());
    let audit = fs_err::read_to_string(home.path("data/keepsake/audit.jsonl")).expect("audit");
    assert_no_token(&audit);
}

/// Ctrl-C half a second after the first posts page was asked for (the
/// script decides how it is answered): the run must end within 3 s as
/// cancelled (exit 130), with no finished-looking archive and the export in
/// the audit log.
fn ctrl_c_on_the_posts_page(h: &Hostile) -> crate::common::Run {
    let home = Home::new(&h.url);
    let (run, after) = crate::common::export_then_ctrl_c(
        &home,
        &[],
        || h.reads_of("posts") > 0,
        Duration::from_millis(500),
    );
    assert!(
        after < Duration::from_secs(3),
        "took {after:?} after Ctrl-C"
    );
    assert_eq!(run.code(), 130, "{}", run.text());
    assert_no_finished_archive(&home.out());
    assert_audited(&home, "cancelled");
    run
}

// Issue 14: a wait the platform asks for (up to the give-up time) must not
// hold Ctrl-C hostage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_long_retry_after_ends_the_run_at_once() {
    let h = Hostile::start(Script {
        hook: Some(posts!(with_header(
            problem(503, "unavailable", "back in five minutes"),
            "retry-after",
            "300",
        ))),
        ..Script::default()
    })
    .await;
    let run = ctrl_c_on_the_posts_page(&h);
    assert!(run.text().contains("\"giving_up_at\""), "{}", run.text());
    assert_eq!(h.reads_of("posts"), 1, "{:?}", h.seen());
}

// Issue 14: Ctrl-C waited for a stalled page until its pace window (30 s)
// ran out; it must end the run within a second or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_stalled_page_ends_the_run_at_once() {
    let h = Hostile::start(Script {
        hook: Some(posts!(trickle(
            200,
            br#"{"items":[],"next_cursor":null}"#.to_vec(),
            Duration::from_secs(5),
        ))),
        ..Script::default()
    })
    .await;
    ctrl_c_on_the_posts_page(&h);
}
