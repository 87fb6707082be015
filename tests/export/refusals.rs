//! What the platform refuses, and how the engine reports it.

use std::time::Duration;

use keepsake_core::audit::Outcome;
use keepsake_core::{Class, Error};
use keepsake_platform::{FaultPlan, seed::Preset};
use keepsake_tests::Platform;

use crate::support::{self, Dest};

fn leftovers(dest: &Dest) -> Vec<String> {
    fs_err::read_dir(dest.out())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_mid_export_fails_cleanly_and_is_audited() {
    let p = Platform::start(Preset::Edge).await;
    p.state.set_faults(FaultPlan {
        latency_ms: 25,
        ..FaultPlan::default()
    });
    let dest = Dest::new();
    let store = p.state.store().clone();
    let deleter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        store.delete_user("prolific").expect("delete");
    });
    let err = support::run(
        &p,
        &p.token("prolific", "export:self"),
        &dest,
        support::options(&dest.out()),
    )
    .await
    .expect_err("the account vanished");
    deleter.await.expect("deleter");
    assert_eq!(err.code(), "account_deleted", "{err}");
    assert!(err.to_string().contains("deleted"), "{err}");
    assert!(dest.archives().is_empty());
    let left = leftovers(&dest);
    assert!(
        left.iter()
            .all(|n| !n.ends_with(".zip") && !n.ends_with(".partial")),
        "no finished-looking file: {left:?}"
    );
    let log = dest.audit.list().expect("audit");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.result, Outcome::Failed);
    assert_eq!(log[0].entry.error_code.as_deref(), Some("account_deleted"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_export_and_the_quota_say_what_to_do_next() {
    let p = Platform::start(Preset::Demo).await;
    let token = p.token("alice", "export:self");
    let alice = p.user_id("alice");
    let running = p
        .api(&token)
        .open_export(alice, serde_json::json!({}))
        .await
        .expect(201);
    let id = running.body["export_id"].as_str().expect("id").to_owned();
    let dest = Dest::new();
    let err = support::run(&p, &token, &dest, support::options(&dest.out()))
        .await
        .expect_err("409");
    assert!(
        matches!(
            err,
            Error::TryLater {
                code: keepsake_core::Code::ExportRunning,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&id)
            && err.to_string().contains("resume it from the same")
            && err.hint() == Some(keepsake_core::Hint::Resume),
        "{err}"
    );

    p.api(&token)
        .finish(
            alice,
            &id,
            serde_json::json!({"status": "completed", "archive_sha256": "0".repeat(64)}),
        )
        .await
        .expect(200);
    let err = support::run(&p, &token, &dest, support::options(&dest.out()))
        .await
        .expect_err("quota");
    assert!(
        matches!(
            err,
            Error::TryLater {
                code: keepsake_core::Code::Quota,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("next export is possible at 20"),
        "names the time: {err}"
    );
    let Error::TryLater {
        retry_at: Some(at), ..
    } = &err
    else {
        panic!("the time is given on its own: {err:?}");
    };
    assert!(
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|t| t > time::OffsetDateTime::now_utc())
            && err.to_string().contains(at.as_str()),
        "{at}"
    );
    assert!(dest.archives().is_empty());
    let log = dest.audit.list().expect("audit");
    assert_eq!(
        log.iter()
            .map(|r| r.entry.error_code.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["export_running", "quota"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_staff_export_on_behalf_with_scope_and_reason_only() {
    let p = Platform::start(Preset::Demo).await;
    let alice = p.user_id("alice");
    let dest = Dest::new();

    let mut opts = support::options(&dest.out());
    opts.subject_id = Some(alice.into());
    opts.reason = Some("GDPR request #4711".into());
    let err = support::run(&p, &p.token("carol", "export:self"), &dest, opts.clone())
        .await
        .expect_err("no export:any");
    assert_eq!(err.code(), "forbidden", "{err}");
    assert_eq!(err.class(), Class::Fatal);

    let mut no_reason = opts.clone();
    no_reason.reason = None;
    let err = support::run(&p, &p.token("carol", "export:any"), &dest, no_reason)
        .await
        .expect_err("no reason");
    // Refused by the engine before the platform is asked: every platform
    // gets the reason rule, whether it enforces one or not.
    assert_eq!(err.code(), "invalid", "{err}");
    assert!(err.to_string().contains("needs a reason"), "{err}");

    let report = support::run(&p, &p.token("carol", "export:any"), &dest, opts)
        .await
        .expect("export on behalf");
    assert_eq!(report.subject, "alice");
    assert_eq!(report.actor, "carol");
    let manifest: serde_json::Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&report.archive, "data/manifest.json")
            .expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["reason"], "GDPR request #4711");
    assert_eq!(manifest["actor"]["login"], "carol");
    let last = dest.audit.list().expect("audit").pop().expect("a record");
    assert_eq!(
        (last.entry.actor.as_str(), last.entry.subject.as_str()),
        ("carol", "alice")
    );
    assert_eq!(last.entry.reason.as_deref(), Some("GDPR request #4711"));
}
