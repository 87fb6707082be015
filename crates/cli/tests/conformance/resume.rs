//! `kill -9` part-way through an export, then a resume: nothing that was
//! fetched before the kill is fetched again, beyond what the kill
//! interrupted, and the archive is exactly what the server holds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keepsake_tests::proxy::{Exchange, Fault, FaultProxy, Trigger};

use crate::Target;
use crate::common::{assert_no_finished_archive, watch};
use crate::expect;

/// How long the proxy holds every answer: slow enough to kill the walk
/// with pages in hand and a page in flight.
const DELAY: Duration = Duration::from_millis(200);

/// An answer that reached the client less than this before the kill may
/// not have been recorded yet (on a loaded machine): fetching it again is
/// allowed. The kill comes half a delay after a page is asked, so the
/// page before it is allowed, and at least two earlier ones are not.
const GRACE: Duration = DELAY;

/// Kills the export once three pages of the paged collection are in and a
/// fourth is in flight, resumes it, and compares what each run fetched.
pub async fn a_kill_9_then_a_resume_fetches_nothing_twice(t: &Target) {
    let held = t.server.holdings().await;
    let every = Trigger {
        path_contains: String::new(),
        skip: 0,
        times: usize::MAX,
    };
    let proxy = FaultProxy::start(&t.url, Fault::Delay(DELAY), every).await;
    let home = crate::home(&proxy.url, t);
    let is_page = |e: &Exchange| e.method == "GET" && e.path.contains(t.page_path);

    let args = home.export_args(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = home.spawn(&args);
    let started = Instant::now();
    loop {
        let log = proxy.exchanges();
        let answered = log
            .iter()
            .filter(|e| is_page(e) && e.answered.is_some())
            .count();
        if answered >= 3 && log.iter().any(|e| is_page(e) && e.answered.is_none()) {
            break;
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!(
                "the export ended ({status}) before three pages of {} were in: the account must span several pages: {:?}",
                t.page_path,
                proxy.seen()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the walk never got three pages in"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(DELAY / 2).await;
    child.kill().expect("kill -9");
    let killed_at = Instant::now();
    let killed = watch(child, Duration::from_secs(10));
    assert_eq!(killed.code(), -1, "killed by the signal: {}", killed.text());
    assert_no_finished_archive(&home.out());
    let first = proxy.exchanges();

    let run = home.export(&["--resume"], Duration::from_secs(120));
    let archive = expect::completed(t, &run);
    let report = run.result().expect("result");
    assert_eq!(report["resumed"], true, "{report}");
    let second = &proxy.exchanges()[first.len()..];

    // What the first run had fetched, and whether it was still in flight
    // (or only just answered) when the kill came.
    let mut before: BTreeMap<String, bool> = BTreeMap::new();
    for e in &first {
        if let Some(key) = (t.fetch_key)(&e.method, &e.path) {
            let interrupted = e
                .answered
                .is_none_or(|at| killed_at.saturating_duration_since(at) < GRACE);
            let was = before.entry(key).or_insert(true);
            *was = *was && interrupted;
        }
    }
    let mut again = Vec::new();
    let mut seen_now: BTreeMap<String, usize> = BTreeMap::new();
    for e in second {
        let Some(key) = (t.fetch_key)(&e.method, &e.path) else {
            continue;
        };
        *seen_now.entry(key.clone()).or_default() += 1;
        if before.get(&key) == Some(&false) {
            again.push(key);
        }
    }
    let page_keys = |log: &[Exchange]| -> std::collections::BTreeSet<String> {
        log.iter()
            .filter(|e| is_page(e))
            .filter_map(|e| (t.fetch_key)(&e.method, &e.path))
            .collect()
    };
    let pages_now = page_keys(second);
    let mut pages = page_keys(&first);
    pages.extend(pages_now.iter().cloned());
    assert!(
        again.is_empty(),
        "fetched again after the kill, though answered before it: {again:?}"
    );
    // A file with no declared size is fetched twice by design, and once
    // more would be a refetch.
    let allowed = |key: &str| {
        if t.features.unsized_files && key.contains(t.file_path) {
            2
        } else {
            1
        }
    };
    let twice: Vec<_> = seen_now.iter().filter(|(k, n)| **n > allowed(k)).collect();
    assert!(
        twice.is_empty(),
        "the resume fetched these twice: {twice:?}"
    );
    assert!(
        !pages_now.is_empty() && pages_now.len() + 3 <= pages.len(),
        "the resume fetched {} of the {} pages of {}: it did not continue",
        pages_now.len(),
        pages.len(),
        t.page_path
    );
    expect::holds_exactly(t, &archive, &held);
    expect::valid(&home, &archive);
    expect::no_token_in_files(&[&home.path("")], &t.token);
}
