use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use keepsake_desktop::commands;
use keepsake_desktop::dto::ExportRequest;
use keepsake_desktop::error::ErrorCode;
use keepsake_desktop::state::AppState;
use keepsake_platform::FaultPlan;
use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;
use tauri::Manager as _;

use crate::support::{TestApp, collecting_channel, collecting_channel_with};

async fn signed_in(p: &Platform, login: &str, scope: &str) -> TestApp {
    let t = TestApp::new(p);
    commands::sign_in_with_token(t.state(), p.token(login, scope))
        .await
        .expect("signed in");
    t
}

#[tokio::test]
async fn prepare_export_verify_and_the_audit_log() {
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "alice", "export:self").await;

    let prep = commands::prepare_export(t.state(), t.request())
        .await
        .expect("prepared");
    assert_eq!(prep.subject, "alice");
    assert!(!prep.resumed);
    let posts = prep
        .categories
        .iter()
        .find(|c| c.name == "posts")
        .expect("posts");
    assert!(posts.records > Some(0) && posts.bytes > 0, "{posts:?}");
    assert!(prep.free_bytes.is_some_and(|f| f > 0));
    assert!(prep.needed_bytes > 0);

    let (channel, events) = collecting_channel();
    let summary = commands::start_export(t.handle(), t.state(), t.request(), channel)
        .await
        .expect("exported");
    assert_eq!(summary.outcome, "completed");
    assert_eq!(
        summary.export_id, prep.export_id,
        "the prepared session was the one run"
    );
    assert!(std::path::Path::new(&summary.archive).is_file());
    assert_eq!(summary.sha256.len(), 64);

    let events = events.lock().expect("events").clone();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        kinds.contains(&"preflight") && kinds.contains(&"category"),
        "{kinds:?}"
    );
    assert_eq!(
        events
            .last()
            .map(|e| (e["event"].clone(), e["phase"].clone())),
        Some(("phase".into(), "done".into()))
    );
    let posts_final = events
        .iter()
        .rfind(|e| e["event"] == "category" && e["name"] == "posts")
        .expect("posts progress");
    assert_eq!(
        posts_final["fetched"], posts_final["expected"],
        "the final count gets through"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "bytes" && e.get("etaSecs").is_some())
    );

    let verified = commands::verify_archive(t.state(), summary.archive.clone())
        .await
        .expect("verified");
    assert!(verified.ok && verified.files_checked > 0, "{verified:?}");

    let audit = commands::audit_log(t.state()).await.expect("audit");
    assert!(audit.ok, "{:?}", audit.problems);
    assert_eq!(audit.rows.len(), 1);
    assert_eq!(audit.rows[0].result, "completed");
    assert_eq!(
        audit.rows[0].archive_path.as_deref(),
        Some(summary.archive.as_str())
    );

    let csv = t.dir.path().join("audit.csv");
    let n = t.state().export_audit_csv(csv.clone()).await.expect("csv");
    assert_eq!(n, 1);
    assert!(
        fs_err::read_to_string(&csv)
            .expect("read")
            .contains("completed")
    );

    // A damaged archive is reported, not thrown.
    let damaged = t.dir.path().join("damaged.zip");
    let mut bytes = fs_err::read(&summary.archive).expect("read archive");
    let mid = bytes.len() / 3;
    bytes[mid] ^= 0xff;
    fs_err::write(&damaged, bytes).expect("write");
    match commands::verify_archive(t.state(), damaged.display().to_string()).await {
        Ok(v) => assert!(!v.ok),
        Err(e) => assert_eq!(e.code, ErrorCode::Archive, "{e:?}"),
    }
}

#[tokio::test]
async fn the_quota_says_when_the_next_export_is_possible() {
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "bob", "export:self").await;
    let (channel, _) = collecting_channel();
    commands::start_export(t.handle(), t.state(), t.request(), channel)
        .await
        .expect("first export");
    let err = commands::prepare_export(t.state(), t.request())
        .await
        .expect_err("quota");
    assert_eq!(err.code, ErrorCode::Quota, "{err:?}");
    let at = err.retry_at.expect("retry time");
    assert!(
        time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).is_ok(),
        "{at}"
    );
}

#[tokio::test]
async fn a_cancelled_export_is_kept_offered_on_launch_and_resumed() {
    let p = Platform::start(Preset::Demo).await;
    // Slow enough that the cancel lands mid-way.
    p.state.set_faults(FaultPlan {
        latency_ms: 40,
        ..FaultPlan::default()
    });
    let t = signed_in(&p, "alice", "export:self").await;
    assert!(
        commands::pending_resume(t.state())
            .await
            .expect("asked")
            .is_none()
    );

    let handle = t.handle();
    let once = Arc::new(AtomicBool::new(false));
    let (channel, _) = collecting_channel_with(move |e| {
        if e["event"] == "category" && !once.swap(true, Ordering::SeqCst) {
            assert!(
                handle.state::<AppState>().cancel(true),
                "an export was running"
            );
        }
    });
    let err = commands::start_export(t.handle(), t.state(), t.request(), channel)
        .await
        .expect_err("cancelled");
    assert_eq!(err.code, ErrorCode::Cancelled, "{err:?}");
    assert!(
        !commands::cancel_export(t.state(), true),
        "nothing runs any more"
    );

    p.state.set_faults(FaultPlan::default());
    let pending = commands::pending_resume(t.state())
        .await
        .expect("asked")
        .expect("the interrupted export is offered");
    assert!(pending.resumed);
    assert_eq!(pending.subject, "alice");

    let (channel, events) = collecting_channel();
    let summary = commands::start_export(t.handle(), t.state(), pending.request.clone(), channel)
        .await
        .expect("resumed");
    assert!(summary.resumed);
    assert_eq!(summary.outcome, "completed");
    assert!(
        events
            .lock()
            .expect("events")
            .iter()
            .any(|e| e["event"] == "preflight" && e["resumed"] == true)
    );
    assert!(
        commands::pending_resume(t.state())
            .await
            .expect("asked")
            .is_none()
    );
    let rows = commands::audit_log(t.state()).await.expect("audit").rows;
    let results: Vec<&str> = rows.iter().map(|r| r.result.as_str()).collect();
    assert_eq!(results, ["completed", "cancelled"], "newest first");
}

#[tokio::test]
async fn a_discarded_preparation_does_not_count_against_the_quota() {
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "alice", "export:self").await;
    commands::prepare_export(t.state(), t.request())
        .await
        .expect("prepared");
    commands::discard_export(t.state(), t.request())
        .await
        .expect("discarded");
    // A changed request gives up the earlier session by itself.
    let mut posts_only = t.request();
    posts_only.categories = Some(vec!["posts".into()]);
    commands::prepare_export(t.state(), t.request())
        .await
        .expect("prepared again");
    let (channel, _) = collecting_channel();
    let summary = commands::start_export(t.handle(), t.state(), posts_only, channel)
        .await
        .expect("exported");
    assert_eq!(
        summary
            .counts
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["posts"]
    );
}

#[tokio::test]
async fn json_only_in_parts_keeps_the_prepared_session_and_lists_every_part() {
    const PART: u64 = 64 * 1024;
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "alice", "export:self").await;

    let mut tiny = t.request();
    tiny.split_size = Some(1000);
    let err = commands::prepare_export(t.state(), tiny)
        .await
        .expect_err("parts too small");
    assert_eq!(err.code, ErrorCode::Invalid, "{err:?}");

    // Prepared with the defaults; the formats and split chosen afterwards
    // do not give the session up.
    let prep = commands::prepare_export(t.state(), t.request())
        .await
        .expect("prepared");
    let mut req = t.request();
    req.csv = Some(false);
    req.viewer = Some(false);
    req.split_size = Some(PART);
    let (channel, _) = collecting_channel();
    let summary = commands::start_export(t.handle(), t.state(), req, channel)
        .await
        .expect("exported");
    assert_eq!(summary.outcome, "completed", "{:?}", summary.shortfalls);
    assert_eq!(summary.export_id, prep.export_id, "the prepared session");

    assert!(summary.parts.len() > 1, "{:?}", summary.parts);
    assert_eq!(summary.archive, summary.parts[0].path);
    assert_eq!(summary.file_name, summary.parts[0].file_name);
    assert_eq!(
        summary.parts.iter().map(|x| x.bytes).sum::<u64>(),
        summary.bytes
    );
    for part in &summary.parts {
        let on_disk = fs_err::metadata(&part.path).expect("part on disk").len();
        assert_eq!(on_disk, part.bytes, "{}", part.file_name);
        assert!(part.path.ends_with(&part.file_name));
        assert_eq!(part.sha256.len(), 64);
    }
    let first = std::path::Path::new(&summary.parts[0].path);
    let manifest: serde_json::Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(first, "data/manifest.json")
            .expect("manifest"),
    )
    .expect("manifest JSON");
    assert_eq!(manifest["formats"], serde_json::json!(["json"]));
    assert_eq!(manifest["split_size"], PART);
    assert!(keepsake_core::archive::read_entry_to_string(first, "index.html").is_err());

    // Verify checks the whole set from its first part.
    let verified = commands::verify_archive(t.state(), summary.archive.clone())
        .await
        .expect("verified");
    assert!(verified.ok, "{:?}", verified.problems);
    assert_eq!(verified.parts, Some(summary.parts.len() as u64));
    assert!(verified.files_checked > 0);

    let last = &summary.parts[summary.parts.len() - 1];
    fs_err::remove_file(&last.path).expect("remove the last part");
    let missing = commands::verify_archive(t.state(), summary.archive.clone())
        .await
        .expect("checked");
    assert!(!missing.ok);
    assert!(
        missing.problems.iter().any(|x| x.contains("missing")),
        "{:?}",
        missing.problems
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_shown() {
    let p = Platform::start(Preset::Demo).await;
    p.state.set_faults(FaultPlan {
        seed: 3,
        rate_429: 0.5,
        retry_after_secs: 1,
        ..FaultPlan::default()
    });
    let t = signed_in(&p, "alice", "export:self").await;
    let mut req = t.request();
    req.categories = Some(vec!["posts".into(), "likes".into(), "comments".into()]);
    let (channel, events) = collecting_channel();
    commands::start_export(t.handle(), t.state(), req, channel)
        .await
        .expect("exported despite 429s");
    let waits: Vec<_> = events
        .lock()
        .expect("events")
        .iter()
        .filter(|e| e["event"] == "waiting")
        .cloned()
        .collect();
    assert!(
        !waits.is_empty(),
        "a countdown was shown: {:?}",
        p.state.requests()
    );
    assert!(waits[0]["untilMs"].as_u64().is_some_and(|ms| ms > 0));
    assert!(waits[0]["secs"].as_u64().is_some_and(|s| s >= 1));
    // Issue 14: the wait says when Keepsake would give up.
    let until = waits[0]["untilMs"].as_u64().unwrap_or(u64::MAX);
    assert!(waits[0]["giveUpMs"].as_u64().is_some_and(|ms| ms > until));
}

#[tokio::test]
async fn support_exports_a_customer_with_a_reason() {
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "carol", "export:self export:any").await;
    let alice = commands::find_customer(t.state(), "alice".into())
        .await
        .expect("found");
    assert_eq!(alice.id, p.user_id("alice").to_string());
    let nobody = commands::find_customer(t.state(), "nobody-here".into())
        .await
        .expect_err("unknown");
    assert_eq!(nobody.code, ErrorCode::Invalid);

    let mut req = t.request();
    req.subject_id = Some(alice.id);
    let no_reason = commands::prepare_export(t.state(), req.clone())
        .await
        .expect_err("needs a reason");
    assert_eq!(no_reason.code, ErrorCode::Invalid);

    req.reason = Some("Ticket 4411".into());
    req.categories = Some(vec!["profile".into(), "posts".into()]);
    let (channel, _) = collecting_channel();
    let summary = commands::start_export(t.handle(), t.state(), req, channel)
        .await
        .expect("exported");
    assert_eq!(
        (summary.subject.as_str(), summary.actor.as_str()),
        ("alice", "carol")
    );
    let row = &commands::audit_log(t.state()).await.expect("audit").rows[0];
    assert_eq!(row.reason.as_deref(), Some("Ticket 4411"));
}

// Regression: resume on launch looked only in the default folder, and only
// for the signed-in account's own data.
#[tokio::test]
async fn a_customers_export_interrupted_in_another_folder_is_offered_after_a_relaunch() {
    let p = Platform::start(Preset::Demo).await;
    p.state.set_faults(FaultPlan {
        latency_ms: 40,
        ..FaultPlan::default()
    });
    let t = signed_in(&p, "carol", "export:self export:any").await;
    let alice = p.user_id("alice");
    let elsewhere = t.dir.path().join("USB stick/Exports");
    let req = ExportRequest {
        destination: elsewhere.display().to_string(),
        subject_id: Some(alice.to_string()),
        reason: Some("Ticket 4411".into()),
        ..ExportRequest::default()
    };
    let handle = t.handle();
    let once = Arc::new(AtomicBool::new(false));
    let (channel, _) = collecting_channel_with(move |e| {
        if e["event"] == "category" && !once.swap(true, Ordering::SeqCst) {
            assert!(handle.state::<AppState>().cancel(true), "running");
        }
    });
    let err = commands::start_export(t.handle(), t.state(), req.clone(), channel)
        .await
        .expect_err("cancelled");
    assert_eq!(err.code, ErrorCode::Cancelled, "{err:?}");
    p.state.set_faults(FaultPlan::default());

    let t = t.relaunch();
    let pending = commands::pending_resume(t.state())
        .await
        .expect("asked")
        .expect("the customer's interrupted export is offered");
    assert!(pending.resumed);
    assert_eq!(
        (pending.subject.as_str(), pending.actor.as_str()),
        ("alice", "carol")
    );
    assert_eq!(pending.request.destination, req.destination);
    assert_eq!(pending.request.subject_id, Some(alice.to_string()));
    assert_eq!(pending.request.reason.as_deref(), Some("Ticket 4411"));

    // Whoever else signs in here is not offered carol's export to resume.
    commands::sign_in_with_token(t.state(), p.token("alice", "export:self"))
        .await
        .expect("alice signed in");
    assert!(
        commands::pending_resume(t.state())
            .await
            .expect("asked")
            .is_none()
    );

    commands::sign_in_with_token(t.state(), p.token("carol", "export:self export:any"))
        .await
        .expect("carol again");
    let pending = commands::pending_resume(t.state())
        .await
        .expect("asked")
        .expect("offered again");
    let (channel, _) = collecting_channel();
    let summary = commands::start_export(t.handle(), t.state(), pending.request, channel)
        .await
        .expect("resumed");
    assert!(summary.resumed);
    assert_eq!(summary.outcome, "completed");
    assert_eq!(
        (summary.subject.as_str(), summary.actor.as_str()),
        ("alice", "carol")
    );
    assert!(
        std::path::Path::new(&summary.archive).starts_with(&elsewhere),
        "{}",
        summary.archive
    );
    assert!(
        commands::pending_resume(t.state())
            .await
            .expect("asked")
            .is_none(),
        "nothing left to resume"
    );
    let remembered = fs_err::read_to_string(t.dir.path().join("data/keepsake/destinations.json"))
        .expect("remembered folders");
    assert!(
        !remembered.contains("ksp_"),
        "folder names only: {remembered}"
    );
}

#[tokio::test]
async fn a_user_may_not_look_customers_up() {
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "bob", "export:self").await;
    let err = commands::find_customer(t.state(), "alice".into())
        .await
        .expect_err("forbidden");
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
    let mut req: ExportRequest = t.request();
    req.subject_id = Some(p.user_id("alice").to_string());
    req.reason = Some("curious".into());
    let err = commands::prepare_export(t.state(), req)
        .await
        .expect_err("forbidden");
    assert_eq!(err.code, ErrorCode::Forbidden, "{err:?}");
}

#[tokio::test]
async fn a_deleted_account_says_so() {
    let p = Platform::start(Preset::Demo).await;
    let t = signed_in(&p, "alice", "export:self").await;
    let alice_id = p.user_id("alice");
    p.state
        .store()
        .run(move |c| {
            c.execute("UPDATE users SET deleted_at = 1 WHERE id = ?1", [alice_id])
                .map(|_| ())
        })
        .await
        .expect("delete alice");
    let err = commands::prepare_export(t.state(), t.request())
        .await
        .expect_err("deleted");
    assert_eq!(err.code, ErrorCode::AccountDeleted, "{err:?}");
}
