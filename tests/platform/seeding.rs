//! Seeding is deterministic, and each preset holds what it promises — checked
//! in the database for determinism and over HTTP for what clients will see.

use std::collections::BTreeMap;

use keepsake_platform::{
    Store,
    seed::{
        self, HOSTILE_BODIES, Preset, SeedOptions, SeedReport, UNICODE_COMMENTS, UNICODE_EMAIL,
    },
};
use keepsake_tests::{Api, Platform, ids};
use rusqlite::types::Value as Sql;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Content tables; `meta` (the random media signing key) is left out.
const TABLES: [&str; 7] = [
    "users",
    "posts",
    "comments",
    "likes",
    "connections",
    "media",
    "media_blobs",
];

/// One table's rows in rowid order, as rendered values.
type Rows = Vec<Vec<String>>;

/// Seeds `opts` into a fresh database and reads every content table back.
/// Password hashes are salted at random, so they are left out; blobs are
/// reduced to their SHA-256 to keep failure messages readable.
fn seeded(opts: &SeedOptions) -> (SeedReport, BTreeMap<&'static str, Rows>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("seeded.db");
    let store = Store::open(&db).expect("open store");
    let report = seed::seed(&store, opts).expect("seed");
    let conn = rusqlite::Connection::open(&db).expect("open the seeded database");
    let mut tables = BTreeMap::new();
    for table in TABLES {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .expect("query a table");
        let names: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let rows = stmt
            .query_map([], |r| {
                let mut row = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    if name == "password_hash" {
                        continue;
                    }
                    row.push(match r.get::<_, Sql>(i)? {
                        Sql::Blob(b) => format!("{name}=sha256:{}", hex(&Sha256::digest(&b))),
                        v => format!("{name}={v:?}"),
                    });
                }
                Ok(row)
            })
            .expect("read rows")
            .collect::<rusqlite::Result<Rows>>()
            .expect("read rows");
        tables.insert(table, rows);
    }
    (report, tables)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two seeded databases table by table, naming the first row that differs.
#[track_caller]
fn assert_same_content(a: &BTreeMap<&'static str, Rows>, b: &BTreeMap<&'static str, Rows>) {
    for table in TABLES {
        let (ra, rb) = (&a[table], &b[table]);
        if let Some(i) = ra.iter().zip(rb).position(|(x, y)| x != y) {
            panic!("{table} row {i} differs:\n  {:?}\n  {:?}", ra[i], rb[i]);
        }
        assert_eq!(
            ra.len(),
            rb.len(),
            "{table} has as many rows in both databases"
        );
    }
}

fn opts(preset: Preset, seed: u64) -> SeedOptions {
    SeedOptions {
        preset,
        seed,
        posts: None,
        media: None,
    }
}

#[test]
fn the_same_preset_and_seed_write_the_same_content() {
    // Edge covers every table, Unicode and hostile names; fewer prolific posts keep it quick.
    for o in [
        opts(Preset::Demo, 11),
        SeedOptions {
            posts: Some(300),
            ..opts(Preset::Edge, 11)
        },
    ] {
        let (report_a, a) = seeded(&o);
        let (report_b, b) = seeded(&o);
        assert_eq!(report_a, report_b, "{o:?}: the same report");
        assert_same_content(&a, &b);
        for table in [
            "users",
            "posts",
            "comments",
            "likes",
            "connections",
            "media",
            "media_blobs",
        ] {
            assert!(
                !a[table].is_empty(),
                "{o:?}: {table} has rows, so the comparison meant something"
            );
        }
        assert_eq!(
            a["posts"].len() as u64,
            report_a.posts,
            "the report counts what was written"
        );
        assert_eq!(a["media"].len() as u64, report_a.media);
    }
}

#[test]
fn another_seed_writes_other_content_of_the_same_shape() {
    let (report_a, a) = seeded(&opts(Preset::Demo, 11));
    let (report_b, b) = seeded(&opts(Preset::Demo, 12));
    let shape = |r: &SeedReport| {
        (
            r.users,
            r.posts,
            r.comments,
            r.likes,
            r.connections,
            r.media,
        )
    };
    assert_eq!(
        shape(&report_a),
        shape(&report_b),
        "a preset fixes the counts"
    );
    for table in ["posts", "comments", "media_blobs"] {
        let same = a[table]
            .iter()
            .zip(&b[table])
            .filter(|(x, y)| x == y)
            .count();
        assert_eq!(
            same, 0,
            "{table}: {same} rows came out identical under another seed"
        );
    }
    let shas = |t: &BTreeMap<&str, Rows>| -> Vec<String> {
        t["media"].iter().map(|r| r[6].clone()).collect()
    };
    assert!(
        shas(&a).iter().all(|s| s.starts_with("sha256=")),
        "column 6 of media is sha256: {:?}",
        a["media"][0]
    );
    assert!(
        shas(&a).iter().all(|s| !shas(&b).contains(s)),
        "every media file changes with the seed"
    );
}

/// A client for `login` (who must hold a PAT-able account) and its id.
fn as_user(platform: &Platform, login: &str) -> (Api, i64) {
    (
        platform.api(&platform.token(login, "export:self")),
        platform.user_id(login),
    )
}

/// Opens a full export for `user` and returns the session.
async fn open_all(api: &Api, user: i64) -> Value {
    api.open_export(user, json!({})).await.expect(201).body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_empty_account_has_nothing_to_export() {
    let platform = Platform::start(Preset::Edge).await;
    let (api, user) = as_user(&platform, "empty");
    let session = open_all(&api, user).await;
    let export = session["export_id"].as_str().expect("export id");
    for category in ["posts", "comments", "likes", "connections", "media"] {
        assert_eq!(
            session["categories"][category],
            json!({ "count": 0, "bytes": 0 }),
            "{category}"
        );
        let items = api.walk(user, export, category, 100).await;
        assert!(items.is_empty(), "{category} holds {} records", items.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prolific_account_has_exactly_ten_thousand_posts() {
    let platform = Platform::start(Preset::Edge).await;
    let (api, user) = as_user(&platform, "prolific");
    let session = api
        .open_export(user, json!({ "categories": ["posts"] }))
        .await
        .expect(201)
        .body;
    assert_eq!(session["categories"]["posts"]["count"], json!(10_000));
    let export = session["export_id"].as_str().expect("export id");
    let posts = ids(&api.walk(user, export, "posts", 500).await);
    assert_eq!(posts.len(), 10_000, "a walk returns every post");
    assert!(
        posts.windows(2).all(|w| w[0] < w[1]),
        "in ascending id order, each once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_file_names_are_served_exactly_as_uploaded() {
    let platform = Platform::start(Preset::Edge).await;
    let (api, user) = as_user(&platform, "hostile");
    let session = api
        .open_export(user, json!({ "categories": ["media"] }))
        .await
        .expect(201)
        .body;
    let export = session["export_id"].as_str().expect("export id");
    let media = api.walk(user, export, "media", 100).await;
    let mut served: Vec<String> = media
        .iter()
        .map(|m| m["filename"].as_str().expect("a filename").to_owned())
        .collect();
    let mut uploaded = seed::hostile_filenames();
    served.sort();
    uploaded.sort();
    assert_eq!(
        served, uploaded,
        "every hostile name, byte for byte, once each"
    );
    // The cases a careless normaliser or truncator would break, spelled out.
    for name in [
        "caf\u{e9}.txt",
        "cafe\u{301}.txt",
        "Photo.png",
        "PHOTO.PNG",
        "nul\u{0}byte.txt",
        "",
        "..",
    ] {
        assert!(served.iter().any(|s| s == name), "{name:?} is served as is");
    }
    assert!(
        served
            .iter()
            .any(|s| s.len() == 1000 && s.starts_with("aaaa")),
        "the 1000-byte name is whole"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_post_bodies_are_served_exactly_as_written() {
    let platform = Platform::start(Preset::Edge).await;
    let (api, user) = as_user(&platform, "hostile");
    let session = api
        .open_export(user, json!({ "categories": ["posts"] }))
        .await
        .expect(201)
        .body;
    let export = session["export_id"].as_str().expect("export id");
    let posts = api.walk(user, export, "posts", 100).await;
    let bodies: Vec<&str> = posts
        .iter()
        .map(|p| p["body"].as_str().expect("a body"))
        .collect();
    for hostile in HOSTILE_BODIES {
        assert!(
            bodies.contains(&hostile),
            "{hostile:?} is served byte for byte"
        );
    }
    for body in &bodies {
        assert!(
            HOSTILE_BODIES.contains(body),
            "{body:?} is not one of the hostile bodies: something rewrote it"
        );
    }
}

/// `record[field]` as text, failing with the record when it is not.
#[track_caller]
fn text<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is text in {record}"))
}

#[track_caller]
fn assert_non_ascii(what: &str, value: &str) {
    assert!(!value.is_ascii(), "{what} is plain ASCII: {value:?}");
}

// Regression: the edge preset promised Unicode in every field, but the
// `unicode` account's comments were ASCII sentences and its email ASCII.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unicode_account_has_unicode_in_every_text_field() {
    let platform = Platform::start(Preset::Edge).await;
    let (api, user) = as_user(&platform, "unicode");
    let session = open_all(&api, user).await;
    let export = session["export_id"].as_str().expect("export id");

    let profile = api
        .get(&format!("/api/v1/users/{user}/exports/{export}/profile"))
        .await
        .expect(200)
        .body;
    for field in ["email", "display_name", "bio", "location", "website"] {
        assert_non_ascii(&format!("profile {field}"), text(&profile, field));
    }
    assert_eq!(text(&profile, "email"), UNICODE_EMAIL, "served as stored");

    let posts = api.walk(user, export, "posts", 100).await;
    assert_eq!(posts.len(), 40);
    for p in &posts {
        assert_non_ascii("a post body", text(p, "body"));
    }

    let comments = api.walk(user, export, "comments", 100).await;
    let mut bodies: Vec<&str> = comments.iter().map(|c| text(c, "body")).collect();
    for body in &bodies {
        assert_non_ascii("a comment body", body);
    }
    bodies.sort_unstable();
    let mut seeded = UNICODE_COMMENTS.to_vec();
    seeded.sort_unstable();
    assert_eq!(bodies, seeded, "every Unicode comment, byte for byte, once");
    // The kinds of text the preset promises, each in at least one comment.
    let any = |pred: &dyn Fn(char) -> bool| bodies.iter().any(|b| b.chars().any(pred));
    assert!(
        any(&|c| ('\u{1F300}'..='\u{1FAFF}').contains(&c)),
        "an emoji"
    );
    assert!(
        any(&|c| ('\u{0590}'..='\u{06FF}').contains(&c)),
        "Hebrew or Arabic (right to left)"
    );
    assert!(
        any(&|c| ('\u{0300}'..='\u{036F}').contains(&c)),
        "a combining mark (NFD)"
    );

    let media = api.walk(user, export, "media", 100).await;
    assert_eq!(media.len(), 5);
    for m in &media {
        assert_non_ascii("a media file name", text(m, "filename"));
        assert_non_ascii("a media alt text", text(m, "alt_text"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_media_file_matches_its_declared_size_and_sha256() {
    let platform = Platform::start(Preset::Demo).await;
    let http = keepsake_tests::client();
    let mut checked = 0;
    for login in ["alice", "bob"] {
        let (api, user) = as_user(&platform, login);
        let session = api
            .open_export(user, json!({ "categories": ["media"] }))
            .await
            .expect(201)
            .body;
        let export = session["export_id"].as_str().expect("export id");
        let media = api.walk(user, export, "media", 100).await;
        assert_eq!(
            media.len() as i64,
            session["categories"]["media"]["count"]
                .as_i64()
                .expect("a count")
        );
        assert!(!media.is_empty(), "{login} has media");
        for m in &media {
            let url = m["download_url"].as_str().expect("a download URL");
            let resp = http
                .get(url)
                .send()
                .await
                .expect("request reaches the platform");
            assert_eq!(resp.status().as_u16(), 200, "{m}");
            let bytes = resp.bytes().await.expect("the whole file arrives");
            assert_eq!(
                json!(bytes.len()),
                m["size"],
                "{login}: {} has its declared size",
                m["filename"]
            );
            assert_eq!(
                json!(hex(&Sha256::digest(&bytes))),
                m["sha256"],
                "{login}: {} has its declared sha256",
                m["filename"]
            );
            if m["content_type"] == json!("image/png") {
                assert!(
                    bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    "{} starts with the PNG signature",
                    m["filename"]
                );
                assert_eq!(
                    &bytes[12..16],
                    b"IHDR",
                    "{} is a real PNG: IHDR comes first",
                    m["filename"]
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 17,
        "alice's 13 and bob's 4 files were checked, not {checked}"
    );
}
