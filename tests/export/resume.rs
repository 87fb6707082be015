//! Cancel with "keep", then resume: nothing fetched twice, same records.

use std::collections::HashMap;
use std::sync::Arc;

use keepsake_core::Error;
use keepsake_core::audit::Outcome;
use keepsake_core::export::{self, CancelFlag, ExportEvent, Reporter, ResumeMode};
use keepsake_platform::{FaultPlan, seed::Preset};
use keepsake_tests::Platform;

use crate::support::{self, Dest, ids, records};

/// Cancels (keeping what was fetched) once `posts` passes `at`.
struct CancelAt {
    flag: CancelFlag,
    at: u64,
}

impl Reporter for CancelAt {
    fn report(&self, e: ExportEvent) {
        if let ExportEvent::Category { name, fetched, .. } = e
            && name == "posts"
            && fetched >= self.at
        {
            self.flag.cancel(true);
        }
    }
}

fn page_requests(all: &HashMap<String, u64>) -> HashMap<String, u64> {
    all.iter()
        .filter(|(k, _)| k.starts_with("GET /api/v1/users/") && k.contains("/exports/"))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Size of the `.zip.partial` files in `out` (0 when there are none), and
/// checks each has its journal.
fn unfinished_archive_bytes(out: &std::path::Path) -> u64 {
    let names: Vec<String> = fs_err::read_dir(out)
        .expect("out")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut bytes = 0;
    for n in names.iter().filter(|n| n.ends_with(".zip.partial")) {
        assert!(
            names.contains(&format!("{n}.journal")),
            "{n} has a journal: {names:?}"
        );
        bytes += fs_err::metadata(out.join(n)).expect("stat").len();
    }
    if bytes == 0 {
        assert!(
            !names.iter().any(|n| n.ends_with(".journal")),
            "a journal without its archive: {names:?}"
        );
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_export_resumes_without_fetching_again() {
    let p = Platform::start(Preset::Edge).await;
    let reference = support::reference_ids(&p, "support", "prolific", "posts").await;
    p.state.set_faults(FaultPlan {
        latency_ms: 15,
        ..FaultPlan::default()
    });
    p.state.reset_requests();
    let token = p.token("prolific", "export:self");
    let dest = Dest::new();
    let client = support::client(&p, &token);
    let flag = CancelFlag::default();
    let reporter = Arc::new(CancelAt {
        flag: flag.clone(),
        at: 5_000,
    });
    let err = export::run(
        &client,
        &support::options(&dest.out()),
        reporter,
        flag,
        Some(&dest.audit),
    )
    .await
    .expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(
        dest.archives().is_empty(),
        "no archive from a cancelled run"
    );
    let first = page_requests(&p.state.requests());
    p.state.reset_requests();
    // The archive written so far stays, with the journal of its entries.
    let partial_bytes = unfinished_archive_bytes(&dest.out());
    assert!(partial_bytes > 0, "the unfinished archive was kept");

    let mut opts = support::options(&dest.out());
    opts.resume = ResumeMode::Require;
    // Asked for another form on resuming (as a front end that does not know
    // the first choice might): the export keeps the one it started with.
    opts.formats = export::Formats::JSON_ONLY;
    let report = export::run(
        &client,
        &opts,
        Arc::new(export::Silent),
        CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
    .expect("resumed");
    assert!(report.resumed);
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(
        report.archive_kept_bytes > 0 && report.archive_kept_bytes <= partial_bytes,
        "the resumed run continued the archive ({} of {partial_bytes} bytes kept)",
        report.archive_kept_bytes
    );
    assert_eq!(
        unfinished_archive_bytes(&dest.out()),
        0,
        "no unfinished archive or journal is left"
    );
    let check = keepsake_core::archive::verify(&report.archive).expect("verify");
    assert!(check.ok, "{:?}", check.problems);
    let manifest: serde_json::Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&report.archive, "data/manifest.json")
            .expect("manifest"),
    )
    .expect("json");
    assert_eq!(
        manifest["formats"],
        serde_json::json!(["json", "csv", "viewer"]),
        "the formats the export started with"
    );
    assert_eq!(
        ids(&records(&report.archive, "posts")),
        reference,
        "the same records as an uninterrupted export"
    );

    let second = page_requests(&p.state.requests());
    // At most the request in flight when the cancel landed is made twice;
    // no journaled page is.
    let again: Vec<&String> = second
        .keys()
        .filter(|k| k.contains("/posts") && first.contains_key(*k))
        .collect();
    assert!(again.len() <= 1, "posts pages fetched twice: {again:?}");
    let total_posts_pages: u64 = second
        .iter()
        .filter(|(k, _)| k.contains("/posts"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        total_posts_pages <= 11,
        "the resume fetched {total_posts_pages} pages of posts; half were already there"
    );

    let log = dest.audit.list().expect("audit");
    assert_eq!(
        log.iter().map(|r| r.entry.result).collect::<Vec<_>>(),
        [Outcome::Cancelled, Outcome::Completed]
    );
    assert_eq!(
        log[0].entry.export_id, log[1].entry.export_id,
        "one export session, resumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_without_anything_staged_says_so() {
    let p = Platform::start(Preset::Demo).await;
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.resume = ResumeMode::Require;
    let err = support::run(&p, &p.token("alice", "export:self"), &dest, opts)
        .await
        .expect_err("nothing to resume");
    assert!(err.to_string().contains("no interrupted export"), "{err}");
}

/// The desktop flow: prepare (counts, size, free space), then run continues
/// that very session; or discard, which cancels it and frees the quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_export_is_the_one_that_runs_or_is_discarded() {
    let p = Platform::start(Preset::Demo).await;
    let token = p.token("alice", "export:self");
    let client = support::client(&p, &token);
    let dest = Dest::new();
    let opts = support::options(&dest.out());

    let first = export::prepare(&client, &opts).await.expect("prepare");
    assert!(!first.resumed);
    assert_eq!(first.subject, "alice");
    assert!(
        first
            .categories
            .iter()
            .any(|c| c.name == "posts" && c.label == "Posts" && c.records == Some(150))
    );
    assert!(first.free_bytes.is_some_and(|f| f > 0) && first.needed_bytes > 0);
    let again = export::prepare(&client, &opts)
        .await
        .expect("prepare twice");
    assert_eq!(
        again.export_id, first.export_id,
        "preparing again finds the staged session"
    );
    assert!(again.resumed);

    export::discard(&client, &opts).await.expect("discard");
    let alice = p.user_id("alice");
    let trail = p
        .api(&token)
        .get(&format!(
            "/api/v1/users/{alice}/exports/{}",
            first.export_id
        ))
        .await
        .expect(200);
    assert_eq!(trail.body["status"], "cancelled");

    // Discarding freed the quota: a new session opens and runs to the end.
    let second = export::prepare(&client, &opts)
        .await
        .expect("prepare after discard");
    assert_ne!(second.export_id, first.export_id);
    let report = export::run(
        &client,
        &opts,
        Arc::new(export::Silent),
        CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
    .expect("run");
    assert_eq!(
        report.export_id, second.export_id,
        "run continues the prepared session"
    );
    assert_eq!(report.outcome, Outcome::Completed);
}

/// Whether a media file the archive journal lists is gone from staging: the
/// export removed it once it was safely in the archive.
fn staged_media_removed(out: &std::path::Path) -> bool {
    let Ok(rd) = fs_err::read_dir(out) else {
        return false;
    };
    let names: Vec<std::path::PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    let Some(staging) = names.iter().find(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".keepsake-"))
    }) else {
        return false;
    };
    let Some(journal) = names
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".zip.partial.journal"))
    else {
        return false;
    };
    let text = fs_err::read_to_string(journal).unwrap_or_default();
    text.lines().filter(|l| l.ends_with('}')).any(|line| {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            return false;
        };
        let Some(rest) = v["name"]
            .as_str()
            .and_then(|n| n.strip_prefix("data/media/"))
        else {
            return false;
        };
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        !staging.join("media").join(format!("{id}.bin")).exists()
    })
}

/// Runs alice's export, slowed down and one download at a time, and
/// cancels it (keeping) once a media file is in the archive and not in
/// staging: removed once archived, or (with `media_memory`) never staged.
/// Returns her token, the destination and the options, to resume with.
async fn cancel_once_media_archived(
    p: &Platform,
    media_memory: u64,
) -> (String, Dest, export::ExportOptions) {
    p.state.set_faults(FaultPlan {
        latency_ms: 40,
        ..FaultPlan::default()
    });
    let token = p.token("alice", "export:self");
    let dest = Dest::new();
    let client = support::client(p, &token);
    let mut opts = support::options(&dest.out());
    opts.media_workers = 1;
    opts.media_memory = media_memory;
    let flag = CancelFlag::default();
    let watch = {
        let (out, flag) = (dest.out(), flag.clone());
        tokio::spawn(async move {
            for _ in 0..10_000 {
                if staged_media_removed(&out) {
                    flag.cancel(true);
                    return true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            false
        })
    };
    let first = export::run(
        &client,
        &opts,
        Arc::new(export::Silent),
        flag,
        Some(&dest.audit),
    )
    .await;
    assert!(
        watch.await.expect("watcher"),
        "a staged media file is removed once its entry is in the archive"
    );
    assert!(
        matches!(first, Err(Error::Cancelled)),
        "cancelled mid-way: {first:?}"
    );
    (token, dest, opts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_media_leave_staging_and_a_resume_still_has_them_all() {
    resume_after_media_were_archived(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_archived_from_memory_are_not_downloaded_again() {
    resume_after_media_were_archived(export::DEFAULT_MEDIA_MEMORY).await;
}

/// Cancels alice's export once media files are in the archive (staged
/// and removed, or held in memory), resumes it, and checks that it has
/// every file and downloaded the archived ones once.
async fn resume_after_media_were_archived(media_memory: u64) {
    let p = Platform::start(Preset::Demo).await;
    let expected_media = support::reference_ids(&p, "carol", "alice", "media").await;
    let (token, dest, opts) = cancel_once_media_archived(&p, media_memory).await;
    p.state.reset_requests();

    let report = support::run(&p, &token, &dest, opts)
        .await
        .expect("resumed");
    assert!(report.resumed && report.archive_kept_bytes > 0);
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    assert_eq!(
        report.counts["media_files"].retrieved,
        expected_media.len() as u64
    );
    let media = records(&report.archive, "media");
    assert_eq!(ids(&media), expected_media);
    let mut zip =
        zip::ZipArchive::new(fs_err::File::open(&report.archive).expect("open")).expect("zip");
    for m in &media {
        let at = m["archive_path"]
            .as_str()
            .expect("every file is in the archive");
        let entry = zip.by_name(at).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(Some(entry.size()), m["size"].as_u64(), "{at}");
    }
    let check = keepsake_core::archive::verify(&report.archive).expect("verify");
    assert!(check.ok, "{:?}", check.problems);
    let downloads = p.hits("/content");
    assert!(
        downloads < expected_media.len() as u64,
        "files archived before the cancel were not downloaded again ({downloads} downloads)"
    );
}

/// Removes the journal of the archive an interrupted run left (say, a
/// disk tool removed it): what that archive held cannot be kept.
fn lose_the_archive_journal(dest: &Dest) {
    for e in fs_err::read_dir(dest.out())
        .expect("out")
        .filter_map(|e| e.ok())
    {
        if e.file_name().to_string_lossy().ends_with(".journal") {
            fs_err::remove_file(e.path()).expect("remove journal");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_held_in_memory_are_downloaded_again_when_the_archive_is_lost() {
    let p = Platform::start(Preset::Demo).await;
    let expected_media = support::reference_ids(&p, "carol", "alice", "media").await;
    let (token, dest, opts) = cancel_once_media_archived(&p, export::DEFAULT_MEDIA_MEMORY).await;
    lose_the_archive_journal(&dest);
    let report = support::run(&p, &token, &dest, opts)
        .await
        .expect("nothing was staged that is gone: the files are fetched again");
    whole_again(&report, &expected_media);
}

/// `report`'s archive was started afresh and holds every file of
/// `expected_media`, and verifies.
#[track_caller]
fn whole_again(report: &export::ExportReport, expected_media: &[i64]) {
    assert_eq!(report.archive_kept_bytes, 0, "the archive started afresh");
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    let media = records(&report.archive, "media");
    assert_eq!(ids(&media), expected_media);
    assert!(
        media.iter().all(|m| m["archive_path"].is_string()),
        "every file is in the archive"
    );
    let check = keepsake_core::archive::verify(&report.archive).expect("verify");
    assert!(check.ok, "{:?}", check.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_gone_from_staging_and_from_a_lost_archive_are_downloaded_again() {
    let p = Platform::start(Preset::Demo).await;
    let expected_media = support::reference_ids(&p, "carol", "alice", "media").await;
    let (token, dest, opts) = cancel_once_media_archived(&p, 0).await;
    // The staged copies of some files are gone too.
    assert!(
        staged_media_removed(&dest.out()),
        "a staged copy was removed"
    );
    lose_the_archive_journal(&dest);
    let report = support::run(&p, &token, &dest, opts)
        .await
        .expect("what is gone is fetched again");
    whole_again(&report, &expected_media);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_as_the_export_starts_returns_at_once_and_keeps_it() {
    // As a person pressing Cancel on the first progress: categories are
    // still arriving, their entries are being prepared as they come.
    let p = Platform::start(Preset::Demo).await;
    p.state.set_faults(FaultPlan {
        latency_ms: 150,
        ..FaultPlan::default()
    });
    let token = p.token("alice", "export:self");
    let dest = Dest::new();
    let client = support::client(&p, &token);
    let flag = CancelFlag::default();
    let reporter = Arc::new(CancelAt {
        flag: flag.clone(),
        at: 0,
    });
    let first = support::options(&dest.out());
    let run = export::run(&client, &first, reporter, flag, Some(&dest.audit));
    let err = tokio::time::timeout(std::time::Duration::from_secs(20), run)
        .await
        .expect("the cancelled export returns promptly")
        .expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(
        dest.archives().is_empty(),
        "no archive from a cancelled run"
    );

    p.state.set_faults(FaultPlan::default());
    let opts = support::options(&dest.out());
    support::resume_to_completion(&p, &token, &dest, opts, "faults off").await;
}
