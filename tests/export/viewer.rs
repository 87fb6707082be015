//! The offline viewer in real archives, and the fixtures for its browser
//! tests.
//!
//! These tests export accounts of the reference platform with the real
//! engine, check what the archive holds for the viewer, and extract each
//! archive into `$KEEPSAKE_VIEWER_FIXTURES/{name}/` (default
//! `target/viewer-fixtures`), listed in `fixtures.json`. The browser tests in
//! `tests/viewer/` (node's test runner with headless Chromium, run by
//! `cargo xtask test` after this suite) open each extracted `index.html`
//! from `file://`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use keepsake_core::archive::read_entry_to_string;
use keepsake_core::viewer;
use keepsake_platform::Config;
use keepsake_platform::seed::{self, Preset};
use keepsake_tests::Platform;
use serde_json::{Value, json};

use crate::support::{self, Dest};

/// Where the extracted archives go.
fn fixtures_dir() -> PathBuf {
    match std::env::var_os("KEEPSAKE_VIEWER_FIXTURES") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/viewer-fixtures"),
    }
}

/// Serialises rewrites of `fixtures.json` between the tests of this module.
static INDEX: Mutex<()> = Mutex::new(());

/// What the browser tests need to know about one extracted archive.
pub struct Fixture<'a> {
    pub name: &'a str,
    pub login: &'a str,
    /// Search for every post (`"all"`) or a sample (`"sample"`).
    pub search: &'a str,
    /// Hostile content: check that nothing runs.
    pub hostile: bool,
    /// Measure and report the first paint.
    pub measure: bool,
}

/// Extracts `archive` into the fixtures folder as `fixture.name` and lists
/// it in `fixtures.json`.
pub fn publish(archive: &Path, fixture: &Fixture<'_>) {
    let root = fixtures_dir();
    fs_err::create_dir_all(&root).expect("create the fixtures folder");
    let root = root.canonicalize().expect("fixtures folder");
    let dir = root.join(fixture.name);
    if dir.exists() {
        fs_err::remove_dir_all(&dir).expect("remove the old fixture");
    }
    fs_err::create_dir_all(&dir).expect("create the fixture folder");
    let file = fs_err::File::open(archive).expect("open the archive");
    zip::ZipArchive::new(file)
        .expect("a zip")
        .extract(&dir)
        .expect("extract");
    // (A platform without posts has none.)
    let posts = read_entry_to_string(archive, "data/posts.json")
        .map(|_| support::records(archive, "posts").len())
        .unwrap_or(0);
    let manifest: Value = serde_json::from_str(
        &read_entry_to_string(archive, "data/manifest.json").expect("manifest.json"),
    )
    .expect("JSON");
    let entry = json!({
        "name": fixture.name,
        "kind": manifest["connector"]["kind"],
        "login": fixture.login,
        "dir": dir,
        "index": dir.join(viewer::INDEX_NAME),
        "posts": posts,
        "search": fixture.search,
        "hostile": fixture.hostile,
        "measure_first_paint": fixture.measure,
    });
    fs_err::write(
        dir.join("fixture.json"),
        serde_json::to_vec_pretty(&entry).expect("json"),
    )
    .expect("write fixture.json");

    write_index(&root);
}

/// Rewrites `fixtures.json`: every complete fixture in the folder (each test
/// adds its own; `fixture.json` is written last, so a half-extracted one is
/// left out until its test finishes).
fn write_index(root: &Path) {
    let _guard = INDEX.lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<Value> = fs_err::read_dir(root)
        .expect("fixtures folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| fs_err::read(e.path().join("fixture.json")).ok())
        .filter_map(|raw| serde_json::from_slice(&raw).ok())
        .collect();
    all.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let tmp = root.join("fixtures.json.tmp");
    fs_err::write(
        &tmp,
        serde_json::to_vec_pretty(&json!({"fixtures": all})).expect("json"),
    )
    .expect("write the index");
    fs_err::rename(&tmp, root.join("fixtures.json")).expect("publish the index");
}

/// What every archive with the viewer holds: the page as a tag file, a data
/// file per category, and no signed URL anywhere in them.
fn check_viewer_files(archive: &Path, categories: &[&str]) {
    let page = read_entry_to_string(archive, "index.html").expect("index.html at the root");
    assert_eq!(page, viewer::index_html(), "the page is the static one");
    let tags = read_entry_to_string(archive, "tagmanifest-sha256.txt").expect("tag manifest");
    assert!(
        tags.lines().any(|l| l.ends_with("  index.html")),
        "index.html is in the tag manifest:\n{tags}"
    );
    let manifest = read_entry_to_string(archive, "manifest-sha256.txt").expect("manifest");
    for cat in categories.iter().chain(["manifest"].iter()) {
        let name = format!("data/{}", viewer::data_file(cat));
        assert!(
            manifest.lines().any(|l| l.ends_with(&format!("  {name}"))),
            "{name} is in the payload manifest"
        );
        let js = read_entry_to_string(archive, &name).expect("data file");
        for bad in [
            "</script",
            "<!--",
            "\u{2028}",
            "\u{2029}",
            "download_url",
            "sig=",
        ] {
            assert!(!js.contains(bad), "{bad:?} in {name}");
        }
        assert!(js.starts_with(&format!("window.__keepsake.push([\"{cat}\",")));
    }
    let m: Value = serde_json::from_str(
        &read_entry_to_string(archive, "data/manifest.json").expect("manifest.json"),
    )
    .expect("json");
    assert!(
        m["formats"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "viewer")),
        "the manifest records the viewer: {}",
        m["formats"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_accounts_get_a_viewer_and_become_browser_fixtures() {
    let p = Platform::start(Preset::Edge).await;
    let fixtures = [
        Fixture {
            name: "hostile",
            login: "hostile",
            search: "all",
            hostile: true,
            measure: false,
        },
        Fixture {
            name: "unicode",
            login: "unicode",
            search: "all",
            hostile: false,
            measure: false,
        },
        Fixture {
            name: "prolific",
            login: "prolific",
            search: "sample",
            hostile: false,
            measure: false,
        },
        Fixture {
            name: "empty",
            login: "empty",
            search: "all",
            hostile: false,
            measure: false,
        },
    ];
    for f in &fixtures {
        let dest = Dest::new();
        let report = support::run(
            &p,
            &p.token(f.login, "export:self"),
            &dest,
            support::options(&dest.out()),
        )
        .await
        .unwrap_or_else(|e| panic!("export of {}: {e}", f.login));
        check_viewer_files(
            &report.archive,
            &[
                "profile",
                "posts",
                "comments",
                "likes",
                "connections",
                "media",
            ],
        );
        publish(&report.archive, f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_without_the_viewer_has_no_page_and_no_data_files() {
    let p = Platform::start(Preset::Edge).await;
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.formats.viewer = false;
    let report = support::run(&p, &p.token("hostile", "export:self"), &dest, opts)
        .await
        .expect("export");
    assert!(read_entry_to_string(&report.archive, "index.html").is_err());
    assert!(read_entry_to_string(&report.archive, "data/js/posts.js").is_err());
    assert!(
        keepsake_core::archive::verify(&report.archive)
            .expect("verify")
            .ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_archive_becomes_a_fixture_extracted_side_by_side() {
    let p = Platform::start(Preset::Edge).await;
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.split_size = Some(keepsake_core::archive::MIN_PART_BYTES);
    let report = support::run(&p, &p.token("unicode", "export:self"), &dest, opts)
        .await
        .expect("export");
    assert!(report.parts.len() > 1, "{} parts", report.parts.len());
    let root = fixtures_dir();
    fs_err::create_dir_all(&root).expect("fixtures folder");
    let root = root.canonicalize().expect("fixtures folder");
    let dir = root.join("split");
    if dir.exists() {
        fs_err::remove_dir_all(&dir).expect("remove the old fixture");
    }
    // Each part into its own folder, named after the part, side by side: the
    // default of unzip tools, and what the viewer expects.
    let mut folders = Vec::new();
    for part in &report.parts {
        let stem = part
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".zip"))
            .expect("a part name")
            .to_owned();
        let to = dir.join(&stem);
        fs_err::create_dir_all(&to).expect("part folder");
        zip::ZipArchive::new(fs_err::File::open(&part.path).expect("open part"))
            .expect("a zip")
            .extract(&to)
            .expect("extract");
        folders.push(to);
    }
    let first = &folders[0];
    assert!(
        first.join(viewer::INDEX_NAME).is_file(),
        "part 1 has the viewer"
    );
    let entry = json!({
        "name": "split",
        "login": "unicode",
        "dir": first,
        "index": first.join(viewer::INDEX_NAME),
        "parts": folders,
        "posts": report.counts["posts"].retrieved,
        "search": "none",
        "hostile": false,
        "measure_first_paint": false,
    });
    fs_err::write(
        dir.join("fixture.json"),
        serde_json::to_vec_pretty(&entry).expect("json"),
    )
    .expect("write fixture.json");
    write_index(&root);
}

/// The platform's `large` preset with 100,000 posts and no media, served on
/// loopback.
async fn large_platform() -> Platform {
    let started = Instant::now();
    let options = seed::SeedOptions {
        preset: Preset::Large,
        seed: 7,
        posts: Some(100_000),
        media: Some(0),
    };
    let config = Config {
        rate_limit_per_min: 0,
        ..Config::default()
    };
    let p = Platform::start_seeded(&options, config).await;
    eprintln!(
        "seeded and serving 100,000 posts after {:.1?}",
        started.elapsed()
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_posts_become_the_first_paint_fixture() {
    let started = Instant::now();
    let guard = large_platform().await;
    let token = guard.token("large", "export:self");
    let dest = Dest::new();
    let platform = keepsake_core::PlatformUrl::parse(&guard.url).expect("url");
    let client = keepsake_core::client::ApiClient::new(
        &platform,
        std::sync::Arc::new(keepsake_core::client::StaticToken::new(
            keepsake_core::Secret::new(token),
            &platform,
        )),
    )
    .expect("client");
    let exported = Instant::now();
    let report = keepsake_core::export::run(
        &client,
        &support::options(&dest.out()),
        std::sync::Arc::new(keepsake_core::export::Silent),
        keepsake_core::export::CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
    .expect("export");
    eprintln!("exported 100,000 posts in {:.1?}", exported.elapsed());
    assert_eq!(report.counts["posts"].retrieved, 100_000);
    check_viewer_files(
        &report.archive,
        &[
            "profile",
            "posts",
            "comments",
            "likes",
            "connections",
            "media",
        ],
    );
    publish(
        &report.archive,
        &Fixture {
            name: "large",
            login: "large",
            search: "sample",
            hostile: false,
            measure: true,
        },
    );
    eprintln!("the 100,000-post fixture took {:.1?}", started.elapsed());
}
