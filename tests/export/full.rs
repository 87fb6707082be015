//! Whole exports of the edge preset.

use keepsake_core::audit::Outcome;
use keepsake_platform::seed::{self, Preset};
use keepsake_tests::Platform;
use serde_json::Value;

use crate::support::{self, Dest, ids, records, validate_externally};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_no_data_gives_a_complete_empty_archive() {
    let p = Platform::start(Preset::Edge).await;
    let dest = Dest::new();
    let report = support::run(
        &p,
        &p.token("empty", "export:self"),
        &dest,
        support::options(&dest.out()),
    )
    .await
    .expect("export");
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    for cat in ["posts", "comments", "likes", "connections", "media"] {
        assert_eq!(records(&report.archive, cat), Vec::<Value>::new(), "{cat}");
        assert_eq!(report.counts[cat].expected, Some(0));
    }
    let profile: Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&report.archive, "data/profile.json")
            .expect("profile"),
    )
    .expect("json");
    assert_eq!(profile["login"], "empty");
    assert!(
        keepsake_core::archive::verify(&report.archive)
            .expect("verify")
            .ok
    );
    validate_externally(&report.archive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_posts_arrive_exactly_once_and_the_manifest_reconciles() {
    let p = Platform::start(Preset::Edge).await;
    let dest = Dest::new();
    let report = support::run(
        &p,
        &p.token("prolific", "export:self"),
        &dest,
        support::options(&dest.out()),
    )
    .await
    .expect("export");
    assert_eq!(report.outcome, Outcome::Completed);
    let posts = ids(&records(&report.archive, "posts"));
    assert_eq!(posts.len(), 10_000);
    assert!(
        posts.windows(2).all(|w| w[0] < w[1]),
        "ordered, no duplicates"
    );
    assert_eq!(
        posts,
        p.state
            .store()
            .post_ids(p.user_id("prolific"))
            .expect("ids")
    );

    let manifest: Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&report.archive, "data/manifest.json")
            .expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["status"], "completed");
    assert_eq!(manifest["counts"]["posts"]["expected"], 10_000);
    assert_eq!(manifest["counts"]["posts"]["retrieved"], 10_000);
    assert_eq!(manifest["subject"]["login"], "prolific");
    assert_eq!(manifest["export_id"], report.export_id.as_str());
    // Which API the records came through, for a reader that does not know
    // the platform (format 1.1).
    assert_eq!(manifest["format_version"], "1.2");
    assert_eq!(manifest["connector"]["kind"], "keepsake-export-api");
    assert_eq!(manifest["connector"]["name"], "Keepsake Export API v1");
    assert_eq!(manifest["connector"]["features"]["checksums"], true);
    let posts = manifest["descriptors"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "posts"))
        .unwrap_or_else(|| panic!("posts is described: {manifest}"));
    assert_eq!(posts["label"], "Posts");
    assert_eq!(posts["kind"], "records");
    assert_eq!(posts["csv"][0]["header"], "id");
    assert_eq!(posts["key"], "/id");
    assert_eq!(posts["view"]["style"], "posts");
    assert!(posts.get("strip").is_none());
    assert!(
        manifest["tool"]
            .as_str()
            .is_some_and(|t| t.starts_with("keepsake "))
    );

    // The platform was told, and the audit log has it.
    let trail = p
        .api(&p.token("prolific", "export:self"))
        .get(&format!(
            "/api/v1/users/{}/exports/{}",
            p.user_id("prolific"),
            report.export_id
        ))
        .await
        .expect(200);
    assert_eq!(trail.body["status"], "completed");
    assert_eq!(
        trail.body["outcome"]["archive_sha256"],
        report.sha256.as_str()
    );
    let log = dest.audit.list().expect("audit");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].entry.result, Outcome::Completed);
    assert_eq!(
        log[0].entry.archive_sha256.as_deref(),
        Some(report.sha256.as_str())
    );
    assert!(dest.audit.verify().expect("verify").ok);
    validate_externally(&report.archive);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_unicode_survive_intact_and_stay_inside_the_archive() {
    let p = Platform::start(Preset::Edge).await;
    for login in ["hostile", "unicode"] {
        let dest = Dest::new();
        let report = support::run(
            &p,
            &p.token(login, "export:self"),
            &dest,
            support::options(&dest.out()),
        )
        .await
        .expect("export");
        assert_eq!(
            report.outcome,
            Outcome::Completed,
            "{login}: {:?}",
            report.shortfalls
        );
        let media = records(&report.archive, "media");
        let mut paths = std::collections::HashSet::new();
        for m in &media {
            assert!(
                m.get("download_url").is_none(),
                "signed URLs are credentials and stay out of the archive"
            );
            let path = m["archive_path"]
                .as_str()
                .expect("every file was downloaded");
            assert!(
                path.starts_with("data/media/") && !path.contains('\\'),
                "{path}"
            );
            assert!(
                path.split('/')
                    .all(|c| !c.is_empty() && c != ".." && c != "."),
                "{path} stays inside the archive"
            );
            assert!(path.len() <= 260, "{path}");
            assert!(
                paths.insert(path.to_lowercase()),
                "{path} is unique, also ignoring case"
            );
            // The bytes in the archive are the platform's bytes.
            let bytes = keepsake_core::archive::read_entry_to_string(&report.archive, path)
                .map(String::into_bytes);
            if let Ok(b) = bytes {
                assert_eq!(b.len() as u64, m["size"].as_u64().expect("size"));
            }
        }
        if login == "hostile" {
            let names: Vec<&str> = media
                .iter()
                .map(|m| m["filename"].as_str().expect("original name kept"))
                .collect();
            for raw in seed::hostile_filenames() {
                assert!(
                    names.contains(&raw.as_str()),
                    "the original name {raw:?} is kept in media.json"
                );
            }
            let bodies: Vec<String> = records(&report.archive, "posts")
                .iter()
                .map(|r| r["body"].as_str().expect("body").to_owned())
                .collect();
            for b in seed::HOSTILE_BODIES {
                assert!(
                    bodies.iter().any(|x| x == b),
                    "post body {b:?} kept byte for byte"
                );
            }
        } else {
            let profile: Value = serde_json::from_str(
                &keepsake_core::archive::read_entry_to_string(&report.archive, "data/profile.json")
                    .expect("profile"),
            )
            .expect("json");
            assert_eq!(
                profile["display_name"], "Zoe\u{0308} 👩‍👩‍👧 مرحبا",
                "NFD and emoji in data are not normalised"
            );
        }
        assert!(
            keepsake_core::archive::verify(&report.archive)
                .expect("verify")
                .ok
        );
        validate_externally(&report.archive);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(&report.archive)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "personal data is private");
        }
        assert_eq!(
            dest.archives(),
            vec![report.archive.clone()],
            "one finished archive, nothing else"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_range_and_a_category_choice_are_honoured() {
    let p = Platform::start(Preset::Edge).await;
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.categories = Some(vec!["posts".into()]);
    opts.since = Some("2020-01-01".into());
    opts.until = Some("2021-01-01".into());
    let report = support::run(&p, &p.token("prolific", "export:self"), &dest, opts)
        .await
        .expect("export");
    assert_eq!(report.outcome, Outcome::Completed);
    let posts = records(&report.archive, "posts");
    assert!(!posts.is_empty() && posts.len() < 10_000);
    assert_eq!(Some(posts.len() as u64), report.counts["posts"].expected);
    assert!(posts.iter().all(|r| {
        r["created_at"]
            .as_str()
            .is_some_and(|t| ("2020-01-01".."2021-01-01").contains(&t))
    }));
    assert!(
        keepsake_core::archive::read_entry_to_string(&report.archive, "data/likes.json").is_err(),
        "likes were not asked for"
    );
}

/// Keeps every event an export reports.
#[derive(Default)]
struct Events(std::sync::Mutex<Vec<keepsake_core::export::ExportEvent>>);

impl keepsake_core::export::Reporter for Events {
    fn report(&self, e: keepsake_core::export::ExportEvent) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_category_reports_its_progress_the_profile_too() {
    use keepsake_core::export::ExportEvent;
    let p = Platform::start(Preset::Demo).await;
    let dest = Dest::new();
    let events = std::sync::Arc::new(Events::default());
    let client = support::client(&p, &p.token("alice", "export:self"));
    keepsake_core::export::run(
        &client,
        &support::options(&dest.out()),
        events.clone(),
        keepsake_core::export::CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
    .expect("export");
    let events = events.0.lock().expect("events");
    for cat in keepsake_core::export::CATEGORIES {
        let last = events.iter().rev().find_map(|e| match e {
            ExportEvent::Category {
                name,
                fetched,
                expected,
            } if name == cat => Some((*fetched, *expected)),
            _ => None,
        });
        let Some((fetched, expected)) = last else {
            panic!("no progress for {cat}");
        };
        assert_eq!(Some(fetched), expected, "{cat} ends complete");
    }
}
