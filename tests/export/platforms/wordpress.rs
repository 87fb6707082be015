//! The WordPress connector against a real WordPress: an author's site as
//! the viewer fixture, posts trashed during the walk, an upload cut off or
//! gone, a site administrator's export of an author.

use std::sync::Arc;

use keepsake_core::connector;
use keepsake_core::export::Outcome;
use serde_json::Value;

use super::{client, completed, export, manifest, options, wordpress};
use crate::support::{self, Dest};
use crate::viewer::{Fixture, publish};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wordpress_authors_site_becomes_a_viewer_fixture() {
    let Some(wp) = wordpress().await else {
        return;
    };
    let c = client(&wp.url, Some("author"), &wp.app_password("author"));
    let dest = Dest::new();
    let report = completed(&c, &options(connector::wordpress(), &dest.out()), &dest).await;
    let m = manifest(&report.archive);
    assert_eq!(m["connector"]["kind"], "wordpress");
    assert!(
        m["platform_record"]
            .as_str()
            .is_some_and(|s| s.starts_with("none"))
    );
    assert_eq!(m["files"]["checked_against_platform_sha256"], 0);
    assert_eq!(m["files"]["missing"], 0);
    // Every upload's name made safe; the hostile ones too.
    for f in &support::records(&report.archive, "files") {
        let path = f["archive_path"].as_str().expect("archived");
        let name = path.rsplit('/').next().expect("a name");
        assert!(
            !name.contains(['\u{202e}', '<', '>', '\\']) && !path.contains(".."),
            "{path}"
        );
        assert_eq!(f["check"], "size", "{f}");
    }
    // The terms its posts use, not the site's unused ones.
    let tags = support::records(&report.archive, "tags");
    let categories = support::records(&report.archive, "categories");
    assert!(!tags.is_empty() && !categories.is_empty());
    assert!(
        tags.iter().all(|t| t["name"] != "Nobody uses this tag"),
        "{tags:?}"
    );
    assert!(
        categories.iter().all(|c| c["name"] != "Empty category"),
        "{categories:?}"
    );
    // The seed's `<script>` stays in the JSON, as data.
    let posts = support::records(&report.archive, "posts");
    assert!(
        posts.iter().any(|p| p["content"]["raw"]
            .as_str()
            .is_some_and(|c| c.contains("<script"))),
        "the hostile posts are there"
    );
    publish(
        &report.archive,
        &Fixture {
            name: "wordpress",
            login: "author",
            search: "sample",
            hostile: true,
            measure: false,
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_trashed_during_the_walk_are_a_difference_explained_not_a_shortfall() {
    let Some(wp) = wordpress().await else {
        return;
    };
    // The author's three oldest posts, far behind the walk (newest first),
    // trashed by the administrator once the walk has its first page: the
    // count WordPress gave when the export opened no longer holds.
    let author = wp.user("author")["id"].to_string();
    let oldest: Vec<String> = wp
        .sql(&format!(
            "SELECT ID FROM wp_posts WHERE post_author = {author} AND post_type = 'post' \
             AND post_status IN ('publish','future','draft','pending','private') \
             ORDER BY post_date ASC, ID ASC LIMIT 3"
        ))
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .collect();
    assert_eq!(oldest.len(), 3);
    let trashed: Arc<std::sync::Mutex<usize>> = Arc::default();
    let hook: keepsake_tests::proxy::Hook = {
        let (url, admin, oldest, trashed) = (
            wp.url.clone(),
            wp.app_password("admin"),
            oldest.clone(),
            trashed.clone(),
        );
        let pages = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        Arc::new(move |method: &str, path: &str| {
            // The export's walk of posts (not the count, nor the terms'
            // walk as the session opened, which ask for `_fields`).
            let walk = method == "GET"
                && path.contains("rest_route=/wp/v2/posts&")
                && path.contains("context=edit")
                && !path.contains("_fields");
            let second = walk && pages.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1;
            let (url, admin, oldest, trashed) =
                (url.clone(), admin.clone(), oldest.clone(), trashed.clone());
            Box::pin(async move {
                if !second {
                    return;
                }
                let http = keepsake_tests::client();
                for id in &oldest {
                    let r = http
                        .delete(format!("{url}/?rest_route=/wp/v2/posts/{id}"))
                        .basic_auth("admin", Some(&admin))
                        .send()
                        .await
                        .expect("trash");
                    assert!(r.status().is_success(), "trash {id}: {}", r.status());
                    *trashed.lock().expect("trashed") += 1;
                }
            })
        })
    };
    let every = keepsake_tests::proxy::Trigger {
        path_contains: String::new(),
        skip: 0,
        times: 0,
    };
    let proxy = keepsake_tests::proxy::FaultProxy::start_hooked(
        &wp.url,
        keepsake_tests::proxy::Fault::None,
        every,
        Some(hook),
    )
    .await;
    let c = client(&proxy.url, Some("author"), &wp.app_password("author"));
    let dest = Dest::new();
    let mut opts = options(connector::wordpress(), &dest.out());
    opts.categories = Some(vec!["posts".into()]);
    let report = completed(&c, &opts, &dest).await;
    assert_eq!(
        *trashed.lock().expect("trashed"),
        3,
        "the hook trashed them"
    );
    let expected = report.counts["posts"].expected.expect("a count");
    assert_eq!(report.counts["posts"].retrieved, expected - 3);
    let said = format!(
        "posts: {} records arrived where the platform's count said {expected}; its counts are estimates",
        expected - 3
    );
    assert!(
        report.warnings.iter().any(|w| w.starts_with(&said)),
        "the difference is explained: {:?}",
        report.warnings
    );
    let posts = support::records(&report.archive, "posts");
    assert!(posts.iter().all(|p| !oldest.contains(&p["id"].to_string())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_midway_is_resumed_with_range_and_kept_whole() {
    let Some(wp) = wordpress().await else {
        return;
    };
    // The largest original upload, its connection torn down half-way once.
    let proxy = keepsake_tests::proxy::FaultProxy::start(
        &wp.url,
        keepsake_tests::proxy::Fault::ResetMidBody,
        keepsake_tests::proxy::Trigger {
            path_contains: "huge-panorama.jpg".into(),
            skip: 0,
            times: 1,
        },
    )
    .await;
    let c = client(&proxy.url, Some("author"), &wp.app_password("author"));
    let dest = Dest::new();
    let mut opts = options(connector::wordpress(), &dest.out());
    opts.categories = Some(vec!["media".into()]);
    let report = completed(&c, &opts, &dest).await;
    assert_eq!(proxy.spoiled(), 1);
    let asked: Vec<_> = proxy
        .exchanges()
        .into_iter()
        .filter(|e| e.path.contains("huge-panorama.jpg"))
        .collect();
    let from = |r: &str| -> u64 {
        r.strip_prefix("bytes=")
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        asked
            .iter()
            .any(|e| e.range.as_deref().is_some_and(|r| from(r) > 0)),
        "the cut download went on from where it broke: {asked:?}"
    );
    // And what the archive holds is the upload, byte for byte.
    let files = support::records(&report.archive, "files");
    let entry = files
        .iter()
        .find(|f| {
            f["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("huge-panorama.jpg"))
        })
        .expect("listed");
    let archive_path = entry["archive_path"].as_str().expect("archived");
    let relative = wp
        .sql(
            "SELECT meta_value FROM wp_postmeta WHERE meta_key = '_wp_attached_file' \
              AND meta_value LIKE '%huge-panorama%'",
        )
        .into_iter()
        .filter_map(|r| r.into_iter().next())
        .next()
        .expect("on the site");
    // The record names the scaled copy; the original sits beside it.
    let original = std::path::Path::new(&relative).with_file_name("huge-panorama.jpg");
    let on_disk = fs_err::read(wp.dir().join("wp-content/uploads").join(original)).expect("read");
    let mut zip =
        zip::ZipArchive::new(fs_err::File::open(&report.archive).expect("open")).expect("a zip");
    let mut archived = Vec::new();
    std::io::Read::read_to_end(
        &mut zip.by_name(archive_path).expect("entry"),
        &mut archived,
    )
    .expect("read");
    assert!(archived == on_disk, "the archive holds the upload whole");
    use sha2::Digest as _;
    assert_eq!(entry["sha256"], hex::encode(sha2::Sha256::digest(&on_disk)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_gone_from_the_site_is_a_shortfall_with_its_address_and_the_rest_is_kept() {
    let Some(wp) = wordpress().await else {
        return;
    };
    // The author's PDF, deleted from the uploads folder behind WordPress's
    // back: the site still lists it, and answers 404 for the file.
    let author = wp.user("author")["id"].to_string();
    let rows = wp.sql(&format!(
        "SELECT m.meta_value FROM wp_postmeta m JOIN wp_posts p ON p.ID = m.post_id \
         WHERE p.post_type = 'attachment' AND p.post_author = {author} \
         AND p.post_mime_type = 'application/pdf' AND m.meta_key = '_wp_attached_file'"
    ));
    let relative = rows
        .first()
        .and_then(|r| r.first())
        .expect("the author's PDF")
        .clone();
    fs_err::remove_file(wp.dir().join("wp-content/uploads").join(&relative)).expect("delete");

    let c = client(&wp.url, Some("author"), &wp.app_password("author"));
    let dest = Dest::new();
    let report = export(&c, &options(connector::wordpress(), &dest.out()), &dest)
        .await
        .expect("an archive, not a failed export");
    assert_eq!(report.outcome, Outcome::Incomplete);
    let said: Vec<&String> = report
        .shortfalls
        .iter()
        .filter(|s| s.contains(&relative))
        .collect();
    assert_eq!(
        said.len(),
        1,
        "one shortfall names its address: {:?}",
        report.shortfalls
    );
    assert!(said[0].contains("404"), "and why: {said:?}");
    let files = support::records(&report.archive, "files");
    let gone: Vec<&Value> = files.iter().filter(|f| f["missing"].is_string()).collect();
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert!(gone[0]["archive_path"].is_null());
    assert!(
        files
            .iter()
            .filter(|f| f["missing"].is_null())
            .all(|f| f["archive_path"].is_string())
    );
    assert_eq!(manifest(&report.archive)["files"]["missing"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_administrator_exports_an_author_with_a_reason_only() {
    let Some(wp) = wordpress().await else {
        return;
    };
    let admin = client(&wp.url, Some("admin"), &wp.app_password("admin"));
    let wordpress = connector::wordpress();
    let author = wordpress
        .find_account(&admin, "author")
        .await
        .expect("look-up")
        .expect("the author");
    assert_eq!(author.id.as_str(), wp.user("author")["id"].to_string());
    assert!(
        wordpress
            .find_account(&admin, "nobody-here")
            .await
            .expect("look-up")
            .is_none()
    );
    let dest = Dest::new();
    let mut opts = options(wordpress.clone(), &dest.out());
    opts.subject_id = Some(author.id.clone());
    let refused = export(&admin, &opts, &dest).await.expect_err("no reason");
    assert!(refused.to_string().contains("needs a reason"), "{refused}");
    assert!(dest.archives().is_empty());

    opts.reason = Some("GDPR request #77".into());
    let report = completed(&admin, &opts, &dest).await;
    assert_eq!(
        (report.subject.as_str(), report.actor.as_str()),
        ("author", "admin")
    );
    let m = manifest(&report.archive);
    assert_eq!(m["reason"], "GDPR request #77");
    assert_eq!(m["subject"]["login"], "author");
    let audit = dest.audit.list().expect("audit");
    let last = &audit.last().expect("a record").entry;
    assert_eq!(last.reason.as_deref(), Some("GDPR request #77"));
    // The administrator reads the author's posts of every status.
    assert_eq!(
        support::records(&report.archive, "posts").len() as u64,
        report.counts["posts"].expected.expect("a count")
    );

    // An author is not support staff: another user's export is refused,
    // saying what is missing.
    let author_client = client(&wp.url, Some("author"), &wp.app_password("author"));
    let dest = Dest::new();
    let mut opts = options(wordpress, &dest.out());
    opts.subject_id = Some(wp.user("author2")["id"].to_string().as_str().into());
    opts.reason = Some("curious".into());
    let err = export(&author_client, &opts, &dest)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not an administrator"), "{err}");
    assert!(dest.archives().is_empty());
}
