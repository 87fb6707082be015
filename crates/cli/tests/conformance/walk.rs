//! Records written and deleted while the export walks the account: before
//! every page of the paged collection after the first, the proxy's hook
//! writes a new record and deletes two old ones (one near the start, which
//! the walk has passed, one near the end, still ahead of it). No record is
//! lost or appears twice; on a platform with snapshots the archive is the
//! account as it was when the export began.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keepsake_tests::proxy::{Fault, FaultProxy, Hook, Trigger};

use crate::Target;
use crate::expect;

#[derive(Default)]
struct Changes {
    pages: usize,
    written: Vec<String>,
    deleted: Vec<String>,
}

pub async fn records_written_and_deleted_during_the_walk_are_neither_lost_nor_doubled(t: &Target) {
    let Some(entry) = t.features.writes else {
        eprintln!("skipped: this platform cannot be written to");
        return;
    };
    let held = t.server.holdings().await;
    let before: Vec<String> = held.entries[entry]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| (t.record_key)(r).expect("a key"))
        .collect();
    assert!(before.len() >= 20, "{entry}: too few records to walk");

    let changes = Arc::new(Mutex::new(Changes::default()));
    let hook: Hook = {
        let (changes, server, page_path) = (changes.clone(), t.server.clone(), t.page_path);
        let before = before.clone();
        Arc::new(move |method: &str, path: &str| {
            let is_page = method == "GET" && path.contains(page_path);
            let (changes, server, before) = (changes.clone(), server.clone(), before.clone());
            Box::pin(async move {
                if !is_page {
                    return;
                }
                let n = {
                    let mut c = changes.lock().expect("changes");
                    c.pages += 1;
                    c.pages - 1
                };
                // The first page opens the walk; every later one finds the
                // account changed since the page before.
                if n == 0 || n > before.len() / 2 {
                    return;
                }
                let behind = before[n - 1].clone();
                let ahead = before[before.len() - n].clone();
                let new = server.write().await;
                server.delete(behind.clone()).await;
                server.delete(ahead.clone()).await;
                let mut c = changes.lock().expect("changes");
                c.written.push(new);
                c.deleted.extend([behind, ahead]);
            })
        })
    };
    let every = Trigger {
        path_contains: String::new(),
        skip: 0,
        times: 0,
    };
    let proxy = FaultProxy::start_hooked(&t.url, Fault::None, every, Some(hook)).await;
    let home = crate::home(&proxy.url, t);
    let archive = expect::completed(t, &home.export(&[], Duration::from_secs(120)));

    // What the server holds now, read before the changes are looked at:
    // the lock is not held across the wait.
    let now = t.server.holdings().await;
    let changes = changes.lock().expect("changes");
    assert!(
        changes.written.len() >= 2,
        "the account changed between pages at least twice ({} pages of {}): {:?}",
        changes.pages,
        t.page_path,
        proxy.seen()
    );
    // The changes really landed.
    let live: BTreeSet<String> = now.entries[entry]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(t.record_key)
        .collect();
    assert!(
        changes.written.iter().all(|w| live.contains(w)),
        "written: {:?}",
        changes.written
    );
    assert!(
        changes.deleted.iter().all(|d| !live.contains(d)),
        "deleted: {:?}",
        changes.deleted
    );

    let got = expect::keys(t, &archive, entry);
    let touched: BTreeSet<&String> = changes.deleted.iter().collect();
    let lost: Vec<&String> = before
        .iter()
        .filter(|k| !touched.contains(k) && !got.contains(*k))
        .collect();
    assert!(
        lost.is_empty(),
        "records untouched during the walk were lost: {lost:?}"
    );
    let known: BTreeSet<&String> = before.iter().chain(&changes.written).collect();
    let strange: Vec<&String> = got.iter().filter(|k| !known.contains(k)).collect();
    assert!(strange.is_empty(), "records from nowhere: {strange:?}");
    if t.features.snapshot {
        // Exactly the account as it was when the export began: what was
        // deleted during the walk is still there, what was written is not.
        let missing: Vec<&String> = changes
            .deleted
            .iter()
            .filter(|d| !got.contains(*d))
            .collect();
        assert!(
            missing.is_empty(),
            "deleted during the walk, missing from the snapshot: {missing:?}"
        );
        let new: Vec<&String> = changes
            .written
            .iter()
            .filter(|w| got.contains(*w))
            .collect();
        assert!(
            new.is_empty(),
            "written during the walk, yet in the snapshot: {new:?}"
        );
        expect::holds_exactly(t, &archive, &held);
    }
    expect::valid(&home, &archive);
}
