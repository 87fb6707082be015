//! Ids, dates and logins that try to become paths (issue 14: an export id
//! `exp_abcdef01/../../victim` made the staging folder one outside `--out`,
//! and deleted it), and archives whose entry names try to leave the folder
//! they are unpacked into, which `keepsake verify` must call damaged.

use std::path::Path;
use std::time::Duration;

use keepsake_tests::hostile::{Hostile, Script};

use crate::common::{Home, archives, assert_audited, assert_no_finished_archive};

const LIMIT: Duration = Duration::from_secs(60);

/// Exports with `script`, which the engine must refuse: exit 1 with a
/// message naming `field`, nothing beside `--out` (or in `elsewhere`)
/// created or deleted, no finished-looking archive, the failure audited.
/// Returns what the CLI printed.
async fn refused(script: Script, field: &str, elsewhere: &[&Path]) -> String {
    let h = Hostile::start(script).await;
    let home = Home::new(&h.url);
    let canaries = home.canaries(elsewhere);
    let run = home.export(&[], LIMIT);
    let text = run.text();
    assert!(!run.killed, "{text}");
    assert_eq!(run.code(), 1, "{text}");
    assert!(text.contains(field), "the message names {field}: {text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert!(
        !text.contains("No such file or directory"),
        "a bare I/O error: {text}"
    );
    canaries.assert_intact();
    assert_no_finished_archive(&home.out());
    assert_no_finished_archive(&home.path(""));
    // Nothing at all was staged for a session that was refused.
    let staged: Vec<_> = fs_err::read_dir(home.out())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert_eq!(staged, Vec::<std::ffi::OsString>::new(), "{text}");
    assert_audited(&home, "failed");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_id_that_climbs_out_of_the_output_folder_is_refused() {
    // Issue 14: staged in (and then deleted) HOME/victim, with its files.
    let text = refused(
        Script {
            export_id: "exp_abcdef01/../../victim".into(),
            ..Script::default()
        },
        "export id",
        &[],
    )
    .await;
    assert!(text.contains("not a plain name"), "{text}");
    assert!(text.contains("/api/v1/users/1/exports"), "the URL: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absolute_export_id_is_refused() {
    let elsewhere = tempfile::tempdir().expect("tmp");
    let id = format!("{}/victim", elsewhere.path().display());
    refused(
        Script {
            export_id: id,
            ..Script::default()
        },
        "export id",
        &[elsewhere.path()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_id_and_a_date_that_place_the_archive_outside_are_refused() {
    // Issue 14: together they wrote the finished archive outside --out.
    refused(
        Script {
            export_id: "exp_abcdef01/../keepsake-alice-".into(),
            as_of: "/../../../victim/x".into(),
            ..Script::default()
        },
        "export id",
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_time_that_is_a_path_is_refused_in_the_platforms_terms() {
    // Issue 14: this broke the export with a bare "No such file or directory".
    let text = refused(
        Script {
            as_of: "/../../..".into(),
            ..Script::default()
        },
        "as_of",
        &[],
    )
    .await;
    assert!(text.contains("RFC 3339"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_that_is_a_path_names_an_archive_inside_the_output_folder() {
    let h = Hostile::start(Script {
        login: "../../victim/C:\\evil".into(),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let canaries = home.canaries(&[]);
    let run = home.export(&[], LIMIT);
    assert_eq!(run.code(), 0, "{}", run.text());
    let zips = archives(&home.out());
    assert_eq!(zips.len(), 1, "{}", run.text());
    let name = zips[0]
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_owned();
    assert!(
        name.starts_with("keepsake-")
            && name.ends_with("-2026-11-26-01234567.zip")
            && !name.contains(['/', '\\', ':']),
        "{name}"
    );
    canaries.assert_intact();
    assert_audited(&home, "completed");
    let v = home.run(&["verify", zips[0].to_str().expect("utf-8")]);
    assert_eq!(crate::common::code(&v), 0, "{}", crate::common::text(&v));
}

/// Stages, in `home`'s output folder, an interrupted export of account 1
/// from `platform` as a run of Keepsake would have left it.
fn stage(home: &Home, platform: &str, export_id: &str, archive_name: &str) -> std::path::PathBuf {
    let dir = home
        .out()
        .join(format!(".keepsake-{}", export_id.replace('/', "_")));
    fs_err::create_dir_all(dir.join("media")).expect("staging dir");
    let session = serde_json::json!({
        "platform": platform,
        "archive_name": archive_name,
        "session": {
            "export_id": export_id,
            "status": "running",
            "as_of": "2026-11-26T06:40:00Z",
            "subject": {"id": 1, "login": "alice"},
            "actor": {"id": 1, "login": "alice"},
            "reason": null,
            "since": null,
            "until": null,
            "categories": {"posts": {"count": 3, "bytes": 600}},
        },
    });
    fs_err::write(dir.join("session.json"), session.to_string()).expect("session.json");
    fs_err::write(dir.join("journal.jsonl"), b"").expect("journal");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_the_platform_answers_with_a_path_like_date_is_refused() {
    let h = Hostile::start(Script {
        as_of: "/../../..".into(),
        ..Script::default()
    })
    .await;
    let home = Home::new(&h.url);
    let staged = stage(
        &home,
        &format!("{}/", h.url),
        "exp_0123456789abcdef",
        "keepsake-alice-2026-11-26-01234567.zip",
    );
    let canaries = home.canaries(&[]);
    let run = home.export(&[], LIMIT);
    let text = run.text();
    assert_eq!(run.code(), 1, "{text}");
    assert!(
        text.contains("/exports/exp_0123456789abcdef") && text.contains("as_of"),
        "the GET of the staged session is what was refused: {text}"
    );
    assert!(text.contains("is kept as it was"), "{text}");
    assert!(
        staged.join("session.json").is_file(),
        "what was staged is kept"
    );
    canaries.assert_intact();
    assert_no_finished_archive(&home.out());
    assert_audited(&home, "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_session_with_a_path_like_id_is_neither_resumed_nor_deleted() {
    let h = Hostile::start(Script::default()).await;
    let home = Home::new(&h.url);
    // As an older version (or a hand edit) might have left it: the id and
    // the archive name would make resuming, or ending it, touch HOME/victim.
    let staged = stage(
        &home,
        &format!("{}/", h.url),
        "exp_abcdef01/../../victim",
        "../victim/keep.txt",
    );
    let canaries = home.canaries(&[]);
    let run = home.export(&[], LIMIT);
    assert_eq!(run.code(), 0, "a new export is made: {}", run.text());
    assert_eq!(archives(&home.out()).len(), 1, "{}", run.text());
    assert!(
        staged.join("session.json").is_file(),
        "the untrusted staging folder is left alone"
    );
    canaries.assert_intact();
    assert_audited(&home, "completed");
    // Nothing asked the platform about the staged id.
    assert!(
        h.seen().iter().all(|s| !s.path.contains("victim")),
        "{:?}",
        h.seen()
    );
}

/// A complete bag, made by Keepsake's own writer, whose payload holds
/// `posts.json` and `fine.txt`.
fn good_bag(path: &Path) {
    use keepsake_core::archive::{ArchiveWriter, BagInfo};
    let info = BagInfo::new(
        "Hostile",
        "exp_0123",
        time::macros::datetime!(2026-11-26 06:40 UTC),
    );
    let mut w = ArchiveWriter::create(path, info).expect("create");
    w.add_payload_bytes("posts.json", b"[]\n", true)
        .expect("posts");
    w.add_payload_bytes("fine.txt", b"pwned\n", true)
        .expect("payload");
    w.finish().expect("finish");
}

/// SHA-256 of `bytes`, in hex (through the engine: this suite has no
/// hashing crate of its own).
fn sha256_hex(home: &Home, bytes: &[u8]) -> String {
    let prepared =
        keepsake_core::archive::prepare_reader(&mut &bytes[..], None, false, &home.path(""), "x")
            .expect("hash");
    prepared
        .sha256()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `src` copied to `dst` with the entry `data/fine.txt` named `to`, in the
/// zip and in the manifests alike (the writer refuses such a name, so the
/// bag is edited after it is written): consistent in all but the name.
fn renamed(home: &Home, src: &Path, dst: &Path, to: &str) {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(fs_err::File::open(src).expect("open")).expect("zip");
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).expect("entry");
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).expect("read");
        entries.push((e.name().expect("name").into_owned(), bytes));
    }
    let text = |entries: &[(String, Vec<u8>)], name: &str| {
        let (_, b) = entries.iter().find(|(n, _)| n == name).expect(name);
        String::from_utf8(b.clone()).expect("utf-8")
    };
    let manifest =
        text(&entries, "manifest-sha256.txt").replace("  data/fine.txt\n", &format!("  {to}\n"));
    let manifest_sha = sha256_hex(home, manifest.as_bytes());
    let tags: String = text(&entries, "tagmanifest-sha256.txt")
        .lines()
        .map(|l| match l.split_once("  ") {
            Some((_, "manifest-sha256.txt")) => format!("{manifest_sha}  manifest-sha256.txt\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    let mut out = zip::ZipWriter::new(fs_err::File::create(dst).expect("create"));
    for (name, bytes) in &entries {
        let (name, bytes) = match name.as_str() {
            "data/fine.txt" => (to, &bytes[..]),
            "manifest-sha256.txt" => (name.as_str(), manifest.as_bytes()),
            "tagmanifest-sha256.txt" => (name.as_str(), tags.as_bytes()),
            _ => (name.as_str(), &bytes[..]),
        };
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        out.write_all(bytes).expect("write");
    }
    out.finish().expect("finish");
}

fn verify(home: &Home, archive: &Path) -> (i32, String) {
    let o = home.run(&["verify", archive.to_str().expect("utf-8")]);
    (crate::common::code(&o), crate::common::text(&o))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_calls_an_archive_with_an_escaping_entry_damaged() {
    let home = Home::new("http://127.0.0.1:9");
    let good = home.path("good.zip");
    good_bag(&good);
    let (code, text) = verify(&home, &good);
    assert_eq!(code, 0, "a normal bag is intact: {text}");
    // The editing alone keeps a bag intact.
    let same = home.path("same.zip");
    renamed(&home, &good, &same, "data/fine.txt");
    let (code, text) = verify(&home, &same);
    assert_eq!(code, 0, "a faithful copy is intact: {text}");

    // Issue 14: reported intact.
    let evil = home.path("evil.zip");
    renamed(&home, &good, &evil, "data/../../evil");
    let (code, text) = verify(&home, &evil);
    assert_eq!(code, 5, "{text}");
    assert!(
        text.contains("DAMAGED") && text.contains("data/../../evil") && text.contains("unsafe"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_calls_an_archive_with_an_escaping_directory_entry_damaged() {
    let home = Home::new("http://127.0.0.1:9");
    let path = home.path("dir.zip");
    good_bag(&path);
    // Directory entries are in no manifest: adding one keeps the bag
    // consistent in everything but its names (issue 14: reported intact).
    {
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        let mut zip = zip::ZipWriter::new_append(file).expect("append");
        zip.add_directory("../evil/", zip::write::SimpleFileOptions::default())
            .expect("dir");
        zip.finish().expect("finish");
    }
    let (code, text) = verify(&home, &path);
    assert_eq!(code, 5, "{text}");
    assert!(
        text.contains("../evil/") && text.contains("unsafe"),
        "{text}"
    );
    assert!(
        !text.contains("missing from the archive") && !text.contains("in no manifest"),
        "only the name is wrong: {text}"
    );
}
