//! Tests across writer, verifier and names, and against other tools
//! (bagit-python, Info-ZIP `unzip`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use zip::ZipArchive;
use zip::write::SimpleFileOptions;

use super::names::NameAllocator;
use super::*;

/// Bag metadata as an export sets it.
pub(super) fn info() -> BagInfo {
    let mut info = BagInfo::new(
        "Reference Platform",
        "exp_0123",
        time::macros::datetime!(2025-06-01 12:34:56 UTC),
    );
    info.extra = vec![
        ("Keepsake-Subject".into(), "42".into()),
        ("Keepsake-Actor".into(), "42".into()),
        ("Keepsake-As-Of".into(), "2025-06-01T12:00:00Z".into()),
        ("Keepsake-Status".into(), "completed".into()),
    ];
    info
}

/// What a set holds: entry name → content, over every part; panics on a
/// payload file held twice.
pub(super) fn union(set: &FinishedSet) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut all = std::collections::BTreeMap::new();
    for part in &set.parts {
        let mut zip =
            zip::ZipArchive::new(fs_err::File::open(&part.path).expect("open")).expect("zip");
        for i in 0..zip.len() {
            let mut e = zip.by_index(i).expect("entry");
            let name = e.name().expect("name").into_owned();
            if !name.starts_with("data/") || name == "data/manifest.json" {
                continue;
            }
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("read");
            assert!(all.insert(name.clone(), bytes).is_none(), "{name} twice");
        }
    }
    all
}

/// `n` bytes DEFLATE cannot shrink (xorshift from `seed`, not 0).
pub(super) fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// A small finished bag at `dir/name`: a JSON file, a stored "photo" and a
/// tag file.
pub(super) fn small_bag(dir: &Path, name: &str) -> FinishedArchive {
    let path = dir.join(name);
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    w.add_payload_bytes("posts.json", b"[{\"id\":1,\"body\":\"hello\"}]\n", true)
        .expect("posts");
    w.add_payload_bytes(
        "media/1-photo.jpg",
        b"STORED-PHOTO-CONTENT-0123456789",
        false,
    )
    .expect("photo");
    w.add_tag_file("index.html", b"<!doctype html><title>Keepsake</title>\n")
        .expect("index");
    w.finish().expect("finish")
}

/// Copies the zip `src` to `dst` entry by entry: `edit` may change an
/// entry's content or drop it (`None`); `extra` entries are appended.
pub(super) fn rewrite(
    src: &Path,
    dst: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) {
    let mut zip = ZipArchive::new(fs_err::File::open(src).expect("open")).expect("zip");
    let mut out = zip::ZipWriter::new(fs_err::File::create(dst).expect("create"));
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().expect("name").into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read");
        if let Some(bytes) = edit(&name, bytes) {
            out.start_file(name, SimpleFileOptions::DEFAULT)
                .expect("start");
            out.write_all(&bytes).expect("write");
        }
    }
    for (name, bytes) in extra {
        out.start_file(*name, SimpleFileOptions::DEFAULT)
            .expect("start");
        out.write_all(bytes).expect("write");
    }
    out.finish().expect("finish");
}

/// The bagit-python interpreter `cargo xtask setup` installs, if present.
fn bagit_python() -> Option<PathBuf> {
    // Under the workspace's target folder, as xtask reads it.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    };
    let python = target.join("xtask/venv/bin/python");
    python.is_file().then_some(python)
}

fn have_unzip() -> bool {
    Command::new("unzip")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn unzip_test(archive: &Path) {
    let out = Command::new("unzip")
        .arg("-tqq")
        .arg(archive)
        .output()
        .expect("run unzip");
    assert!(
        out.status.success(),
        "unzip -t failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn other_tools_accept_the_bag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    let mut media = NameAllocator::new();
    let hostile = [
        "../../etc/passwd",
        "C:\\x\\evil.txt",
        "CON",
        "Photo.png",
        "photo.png",
        "caf\u{e9}.txt",
        "cafe\u{301}.txt",
        "100% real.txt",
        "tab\there\nnewline.txt",
        "",
        "\u{fc}/\u{f6}\\\u{e4}.txt",
    ];
    for (i, raw) in hostile.iter().enumerate() {
        let name = media.allocate(raw, "file");
        let content = format!("media file {i}: {raw:?}\n");
        w.add_payload_bytes(&format!("media/{name}"), content.as_bytes(), i % 2 == 0)
            .expect("media");
    }
    w.add_payload_reader("posts.json", &mut &b"[]\n"[..], None, true)
        .expect("unknown length");
    w.add_tag_file("index.html", b"<!doctype html>\n")
        .expect("tag");
    let done = w.finish().expect("finish");

    let report = verify(&done.path).expect("verify");
    assert!(report.ok, "{:?}", report.problems);

    if have_unzip() {
        unzip_test(&done.path);
    } else {
        println!("note: unzip is not installed; skipped `unzip -t`");
    }

    let Some(python) = bagit_python() else {
        println!(
            "note: target/xtask/venv/bin/python is missing (run `cargo xtask setup`); skipped bagit-python validation"
        );
        return;
    };
    let bag = dir.path().join("bag");
    ZipArchive::new(fs_err::File::open(&done.path).expect("open"))
        .expect("zip")
        .extract(&bag)
        .expect("extract");
    let out = Command::new(&python)
        .args([
            "-c",
            "import bagit,sys; b=bagit.Bag(sys.argv[1]); b.validate(); print(len(b.entries))",
        ])
        .arg(&bag)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "bagit-python refused the bag: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// More than 65,535 entries need the ZIP64 end of central directory, which
/// the zip library writes by itself (`write_central_and_footer`).
#[test]
fn seventy_thousand_entries_use_zip64() {
    const ENTRIES: u64 = 70_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("many.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    for i in 0..ENTRIES {
        let name = format!("media/{:03}/{i}.txt", i % 500);
        w.add_payload_bytes(&name, i.to_string().as_bytes(), false)
            .expect("entry");
    }
    let done = w.finish().expect("finish");
    assert_eq!(done.payload_files, ENTRIES);

    let bytes = fs_err::read(&done.path).expect("read");
    let tail = &bytes[bytes.len().saturating_sub(200)..];
    assert!(
        tail.windows(4).any(|w| w == b"PK\x06\x06") && tail.windows(4).any(|w| w == b"PK\x06\x07"),
        "no ZIP64 end of central directory record and locator"
    );
    let zip = ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    assert_eq!(
        zip.len() as u64,
        ENTRIES + 4,
        "payload, bagit.txt, bag-info.txt, two manifests"
    );

    let report = verify(&done.path).expect("verify");
    assert!(
        report.ok,
        "{:?}",
        &report.problems[..report.problems.len().min(5)]
    );
    assert_eq!(report.files_checked, ENTRIES + 4);
    if have_unzip() {
        unzip_test(&done.path);
    }
}

/// Entries of 4 GiB and more need ZIP64 sizes. Slow (it writes and reads
/// back more than 8 GiB of zeros through DEFLATE and SHA-256), so run it on
/// request: `cargo test -p keepsake-core --release -- --ignored zip64_sizes`.
#[test]
#[ignore = "writes more than 8 GiB through DEFLATE; minutes in a debug build"]
fn entries_over_four_gib_use_zip64_sizes() {
    const BIG: u64 = (4 << 30) + 10;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    w.add_payload_reader(
        "known.bin",
        &mut std::io::repeat(0).take(BIG),
        Some(BIG),
        true,
    )
    .expect("known length");
    w.add_payload_reader("unknown.bin", &mut std::io::repeat(0).take(BIG), None, true)
        .expect("unknown length");
    // A length hint that is wrong is caught before it matters.
    let err = w
        .add_payload_reader(
            "lying.bin",
            &mut std::io::repeat(0).take(BIG),
            Some(10),
            true,
        )
        .expect_err("wrong hint");
    assert!(matches!(err, crate::Error::Archive { .. }), "{err}");
    let done = w.finish().expect("finish");
    assert_eq!(done.payload_bytes, 2 * BIG);
    let report = verify(&done.path).expect("verify");
    assert!(report.ok, "{:?}", report.problems);
    if have_unzip() {
        unzip_test(&done.path);
    }
}
