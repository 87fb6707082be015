//! Tests of `spool_journal`, through the split writer that keeps it.

use std::collections::BTreeMap;
use std::io::Write as _;

use sha2::Digest as _;

use super::JOURNAL;
use crate::archive::tests::{info, noise, union};
use crate::archive::{
    IndexRequest, PartedWriter, Prepared, SplitOptions, prepare_verified_text, verify_set,
};
use crate::fsx::Digests;

const LIMIT: u64 = 64 * 1024;

fn split(dir: &std::path::Path) -> Option<SplitOptions> {
    Some(SplitOptions {
        max_part_bytes: LIMIT,
        spool_dir: dir.join("spool"),
    })
}

fn sums(bytes: &[u8]) -> ([u8; 32], u32) {
    let mut d = Digests::default();
    d.update(bytes);
    let (sha256, crc32, _) = d.finish();
    (sha256, crc32)
}

/// Compressed text, as a category's forms or a text download are.
fn text(dir: &std::path::Path, bytes: &[u8]) -> Prepared {
    let (sha256, crc32) = sums(bytes);
    prepare_verified_text(bytes, sha256, crc32, &dir.join("spool")).expect("text")
}

/// Bytes stored as they are, as a download held in memory is.
fn stored(bytes: Vec<u8>) -> Prepared {
    let (sha256, crc32) = sums(&bytes);
    Prepared::verified_bytes(bytes, sha256, crc32)
}

/// A writer that set aside two entries in its spool and one stored source
/// file, then was dropped as a killed run's is. Returns what each holds.
fn interrupted(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    let path = dir.join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir)).expect("create");
    let posts = "{\"id\":1,\"body\":\"words that compress\"}\n".repeat(900);
    let photo = noise(40_000, 7);
    let source = noise(30_000, 8);
    w.add_prepared("posts.json", text(dir, posts.as_bytes()))
        .expect("posts");
    w.add_prepared("media/1-photo.png", stored(photo.clone()))
        .expect("photo");
    let src = dir.join("staged-2");
    fs_err::write(&src, &source).expect("staged");
    let (sha256, crc32) = sums(&source);
    let prepared = Prepared::verified_file(src, source.len() as u64, sha256, crc32);
    w.add_prepared_disposable("media/2-clip.bin", prepared)
        .expect("staged");
    drop(w);
    BTreeMap::from([
        ("posts.json".to_owned(), posts.into_bytes()),
        ("media/1-photo.png".to_owned(), photo),
        ("media/2-clip.bin".to_owned(), source),
    ])
}

fn manifest(req: Option<IndexRequest<'_>>) -> crate::Result<Vec<(String, Vec<u8>)>> {
    let v = serde_json::json!({"format": "test", "part": req.map(|r| r.this_part)});
    Ok(vec![(
        "manifest.json".to_owned(),
        serde_json::to_vec(&v).expect("json"),
    )])
}

/// Where the journal in `spool` says the data of entry `name` is: its
/// segment, offset and length.
fn range_of(spool: &std::path::Path, name: &str) -> (String, u64, u64) {
    let journal = fs_err::read_to_string(spool.join(JOURNAL)).expect("journal");
    let line = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["name"] == name)
        .expect("journaled");
    let number = |key: &str| line[key].as_u64().expect(key);
    let file = line["file"].as_str().expect("file").to_owned();
    (file, number("offset"), number("compressed_len"))
}

#[test]
fn a_resumed_split_archive_keeps_what_its_spool_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = interrupted(dir.path());

    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::resume(&path, info(), split(dir.path())).expect("resume");
    let kept = w.recovered_payload();
    let mut names: Vec<&str> = kept.keys().map(String::as_str).collect();
    names.sort_unstable();
    // The staged source file is the staging folder's to keep, not the
    // spool's: the export takes it back from there.
    assert_eq!(names, ["media/1-photo.png", "posts.json"]);
    for (name, sha256) in &kept {
        assert_eq!(
            *sha256,
            <[u8; 32]>::from(sha2::Sha256::digest(&expected[name])),
            "{name}"
        );
    }
    let source = &expected["media/2-clip.bin"];
    let src = dir.path().join("staged-2");
    let (sha256, crc32) = sums(source);
    let prepared = Prepared::verified_file(src, source.len() as u64, sha256, crc32);
    w.add_prepared_disposable("media/2-clip.bin", prepared)
        .expect("staged again");
    let set = w.finish(&mut manifest).expect("finish");

    assert!(set.parts.len() > 1, "split: {} part", set.parts.len());
    let expected: BTreeMap<String, Vec<u8>> = expected
        .into_iter()
        .map(|(path, bytes)| (format!("data/{path}"), bytes))
        .collect();
    assert_eq!(union(&set), expected, "every entry once, as set aside");
    let report = verify_set(&set.parts[0].path).expect("verify the set");
    assert!(report.ok, "{report:?}");
}

/// What a resume keeps of an interrupted run's spool, the bag `bag`, after
/// `change` was done to the spool folder.
fn kept_after(bag: &str, change: impl FnOnce(&std::path::Path)) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    interrupted(dir.path());
    let spool = dir.path().join("spool");
    change(&spool);
    let mut info = info();
    info.external_identifier = bag.to_owned();
    let path = dir.path().join("export.zip");
    let w = PartedWriter::resume(&path, info, split(dir.path())).expect("resume");
    let mut kept: Vec<String> = w.recovered_payload().into_keys().collect();
    kept.sort_unstable();
    if kept.is_empty() {
        let left: Vec<_> = fs_err::read_dir(&spool)
            .expect("spool")
            .map(|e| e.expect("entry").file_name())
            .filter(|n| !n.to_string_lossy().starts_with(JOURNAL))
            .collect();
        assert!(left.is_empty(), "the spool is made again: {left:?}");
    }
    kept
}

#[test]
fn nothing_is_kept_from_another_export_or_journal_format() {
    let unchanged = |_: &std::path::Path| {};
    let all = ["media/1-photo.png", "posts.json"];
    assert_eq!(kept_after("exp_0123", unchanged), all);
    assert!(kept_after("exp_other", unchanged).is_empty());
    let older_format = |spool: &std::path::Path| {
        let journal = spool.join(JOURNAL);
        let text = fs_err::read_to_string(&journal).expect("journal");
        fs_err::write(&journal, text.replacen("\"format\":2", "\"format\":1", 1)).expect("write");
    };
    assert!(kept_after("exp_0123", older_format).is_empty());
    // A journal being replaced when the run was killed: the one it would
    // have replaced stands.
    let half_replaced = |spool: &std::path::Path| {
        fs_err::write(spool.join("kept.jsonl.new"), b"{\"format\":2,").expect("write");
    };
    assert_eq!(kept_after("exp_0123", half_replaced), all);
}

#[test]
fn data_lost_at_the_same_length_is_made_again() {
    // What a power cut, or a disk that lost unsynced data, leaves: the
    // file at its length, its bytes gone.
    let zeroed = |spool: &std::path::Path| {
        let (file, offset, len) = range_of(spool, "data/media/1-photo.png");
        let mut segment = fs_err::OpenOptions::new()
            .write(true)
            .open(spool.join(file))
            .expect("segment");
        std::io::Seek::seek(&mut segment, std::io::SeekFrom::Start(offset)).expect("seek");
        segment.write_all(&vec![0u8; len as usize]).expect("zero");
    };
    assert_eq!(kept_after("exp_0123", zeroed), ["posts.json"]);
}

#[test]
fn what_depends_on_the_whole_run_is_made_again_and_what_came_before_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path())).expect("create");
    w.add_prepared("posts.json", text(dir.path(), b"[1, 2, 3]"))
        .expect("posts");
    assert!(w.keeps_spool());
    // Every download done: the file index says where each file is.
    w.stop_keeping_spool();
    assert!(!w.keeps_spool());
    w.add_prepared("files.json", text(dir.path(), b"[{\"key\": \"1\"}]"))
        .expect("index");
    drop(w);
    let w = PartedWriter::resume(&path, info(), split(dir.path())).expect("resume");
    let kept: Vec<String> = w.recovered_payload().into_keys().collect();
    assert_eq!(kept, ["posts.json"]);
}

#[test]
fn a_damaged_spool_file_or_journal_line_is_made_again_and_never_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    interrupted(dir.path());
    let spool = dir.path().join("spool");
    // Both set aside in one segment, the photo last.
    let (segment, offset, len) = range_of(&spool, "data/media/1-photo.png");
    assert_eq!(range_of(&spool, "data/posts.json").0, segment);
    assert!(offset > 0);
    // The photo's data cut short, and a last line cut short by the kill.
    let segment = spool.join(segment);
    fs_err::OpenOptions::new()
        .write(true)
        .open(&segment)
        .expect("open")
        .set_len(offset + len - 1)
        .expect("cut");
    let mut journal = fs_err::OpenOptions::new()
        .append(true)
        .open(spool.join(JOURNAL))
        .expect("journal");
    // Lines no run writes: a name the writer refuses, and a range another
    // line's data is in.
    fs_err::write(spool.join("00000007"), b"12345").expect("odd file");
    for (name, file, len) in [
        ("data/../outside.txt", "00000007", 5),
        ("data/again.json", "00000000", 10),
    ] {
        let stored = &fs_err::read(spool.join(file)).expect("data")[..len];
        let line = serde_json::json!({
            "name": name, "file": file, "offset": 0, "deflated": false,
            "sha256": "0".repeat(64), "crc32": 0, "len": len, "compressed_len": len,
            "stored_crc32": crc32fast::hash(stored),
        });
        writeln!(journal, "{line}").expect("odd line");
    }
    std::io::Write::write_all(&mut journal, b"{\"name\":\"data/media/9-x.png\",\"fi")
        .expect("cut line");

    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::resume(&path, info(), split(dir.path())).expect("resume");
    let kept: Vec<String> = w.recovered_payload().into_keys().collect();
    assert_eq!(kept, ["posts.json"]);
    assert!(segment.exists(), "the segment holds the posts still");
    assert!(
        !spool.join("00000007").exists(),
        "what a refused line names is removed"
    );
    // Made again, the photo goes to a segment of a new number: an old line
    // can never name it.
    w.add_prepared("media/1-photo.png", stored(noise(40_000, 7)))
        .expect("photo again");
    assert!(spool.join("00000008").exists());
    drop(w);

    // And a second resume keeps both.
    let w = PartedWriter::resume(&path, info(), split(dir.path())).expect("resume again");
    let mut kept: Vec<String> = w.recovered_payload().into_keys().collect();
    kept.sort_unstable();
    assert_eq!(kept, ["media/1-photo.png", "posts.json"]);
}
