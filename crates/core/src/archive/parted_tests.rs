//! Tests of `parted`.

use super::*;
use crate::archive::tests::{info, noise, union};
use crate::archive::{
    Prepared, SetProblem, parse_part_file_name, read_entry_to_string, verify, verify_set,
};
use sha2::Digest as _;

/// An index maker like the export's: the manifest, with the layout.
fn manifest(req: Option<IndexRequest<'_>>) -> Result<Vec<(String, Vec<u8>)>> {
    let v = match req {
        None => serde_json::json!({"format": "test"}),
        Some(r) => serde_json::json!({
            "format": "test", "part": r.this_part, "parts": r.parts, "warnings": r.warnings
        }),
    };
    Ok(vec![(
        "manifest.json".to_owned(),
        serde_json::to_vec_pretty(&v).expect("json"),
    )])
}

fn split(dir: &Path, max: u64) -> Option<SplitOptions> {
    Some(SplitOptions {
        max_part_bytes: max,
        spool_dir: dir.join("spool"),
    })
}

#[test]
fn parts_stay_within_the_size_and_hold_everything_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let limit = 64 * 1024;
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), limit)).expect("create");
    let mut expected = std::collections::BTreeMap::new();
    let text = "{\"id\":1,\"body\":\"some text that compresses\"}\n".repeat(2000);
    w.add_payload_reader("posts.json", &mut text.as_bytes(), None, true)
        .expect("posts");
    expected.insert("data/posts.json".to_owned(), text.into_bytes());
    w.add_payload_bytes("profile.json", b"{}", true)
        .expect("profile");
    expected.insert("data/profile.json".to_owned(), b"{}".to_vec());
    for i in 0..40u64 {
        // Sizes around the part size's fractions, some compressed.
        let bytes = noise(1_000 + (i as usize * 997) % 30_000, i + 1);
        let name = format!("media/{i}-file.bin");
        let src = dir.path().join(format!("src{i}"));
        fs_err::write(&src, &bytes).expect("write");
        w.add_payload_file(&name, &src, i % 3 == 0).expect("media");
        expected.insert(format!("data/{name}"), bytes);
    }
    w.add_tag_file("index.html", b"<!doctype html>")
        .expect("tag");
    let set = w.finish(&mut manifest).expect("finish");

    assert!(set.parts.len() > 5, "{} parts", set.parts.len());
    assert_eq!(set.warnings, Vec::<String>::new());
    for (k, part) in set.parts.iter().enumerate() {
        assert!(
            part.bytes <= limit,
            "part {} is {} bytes",
            k + 1,
            part.bytes
        );
        let report = verify(&part.path).expect("verify");
        assert!(report.ok, "{:?}", report.problems);
        let name = part
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name");
        assert_eq!(
            parse_part_file_name(name),
            Some(("export", k + 1, set.parts.len()))
        );
        let info = read_entry_to_string(&part.path, "bag-info.txt").expect("bag-info");
        assert!(
            info.contains(&format!("Bag-Count: {} of {}\n", k + 1, set.parts.len())),
            "{info}"
        );
        assert!(info.contains("Bag-Group-Identifier: exp_0123\n"), "{info}");
        let m: serde_json::Value = serde_json::from_str(
            &read_entry_to_string(&part.path, "data/manifest.json").expect("manifest"),
        )
        .expect("json");
        assert_eq!(m["part"], k + 1);
        assert_eq!(m["parts"].as_array().map(Vec::len), Some(set.parts.len()));
    }
    assert!(
        read_entry_to_string(&set.parts[0].path, "index.html").is_ok(),
        "tag files go into part 1"
    );
    assert_eq!(union(&set), expected);
    assert!(
        !dir.path().join("spool").exists(),
        "the spool is cleaned up"
    );
    let names: Vec<_> = fs_err::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".zip")), "{names:?}");

    let report = verify_set(&set.parts[2].path).expect("verify set");
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.parts.len(), set.parts.len());
}

#[test]
fn prepared_entries_are_laid_out_from_their_exact_sizes() {
    // As an export sets them aside: text deflated once, files stored as
    // verified while downloading (read again only to be copied).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let limit = 64 * 1024;
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), limit)).expect("create");
    let spool = w.spool_dir().to_owned();
    let mut expected = std::collections::BTreeMap::new();
    let text = "{\"id\":1,\"body\":\"some text that compresses\"}\n".repeat(20_000);
    let mut deflating = super::super::Deflating::new(&spool);
    std::io::Write::write_all(&mut deflating, text.as_bytes()).expect("deflate");
    let prepared = deflating.finish().expect("prepared");
    assert!(prepared.compressed_len < limit, "compresses into a part");
    w.add_prepared("posts.json", prepared).expect("posts");
    expected.insert("data/posts.json".to_owned(), text.into_bytes());
    for i in 0..30u64 {
        let bytes = noise(2_000 + (i as usize * 997) % 20_000, i + 1);
        let name = format!("media/{i}-file.bin");
        let src = dir.path().join(format!("src{i}"));
        fs_err::write(&src, &bytes).expect("write");
        let sha: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        let v = Prepared::verified_file(src, bytes.len() as u64, sha, crc32fast::hash(&bytes));
        // Half are staged downloads, which go once their part is written.
        if i % 2 == 0 {
            w.add_prepared_disposable(&name, v).expect("media");
        } else {
            w.add_prepared(&name, v).expect("media");
        }
        expected.insert(format!("data/{name}"), bytes);
    }
    let set = w.finish(&mut manifest).expect("finish");
    for i in 0..30u64 {
        assert_eq!(
            dir.path().join(format!("src{i}")).exists(),
            i % 2 == 1,
            "src{i}: a staged download goes once in a part, a file of the caller's stays"
        );
    }

    assert!(set.parts.len() > 5, "{} parts", set.parts.len());
    for part in &set.parts {
        assert!(part.bytes <= limit, "a part of {} bytes", part.bytes);
    }
    assert_eq!(union(&set), expected);
    let report = verify_set(&set.parts[0].path).expect("verify set");
    assert!(report.ok, "{:?}", report.problems);
    assert!(!spool.exists(), "the spool is cleaned up");
}

#[test]
fn a_prepared_file_that_changed_before_its_part_is_written_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 64 * 1024)).expect("create");
    let src = dir.path().join("src");
    fs_err::write(&src, b"as downloaded").expect("write");
    let bytes = b"as downloaded";
    let sha: [u8; 32] = sha2::Sha256::digest(bytes).into();
    let v = Prepared::verified_file(src.clone(), bytes.len() as u64, sha, crc32fast::hash(bytes));
    w.add_prepared("media/1-a.bin", v).expect("set aside");
    fs_err::write(&src, b"AS DOWNLOADED").expect("changed, same length");
    let err = w.finish(&mut manifest).expect_err("changed");
    assert!(
        err.to_string().contains("changed while being archived"),
        "{err}"
    );
}

/// Sets aside `n` staged downloads `media/{i}-file.bin` of `size` bytes
/// each, their sources `src{i}` in `dir`.
fn staged_files(w: &mut PartedWriter, dir: &Path, n: u64, size: usize) {
    for i in 0..n {
        let bytes = noise(size, i + 1);
        let src = dir.join(format!("src{i}"));
        fs_err::write(&src, &bytes).expect("write");
        let sha: [u8; 32] = sha2::Sha256::digest(&bytes).into();
        let v = Prepared::verified_file(src, bytes.len() as u64, sha, crc32fast::hash(&bytes));
        w.add_prepared_disposable(&format!("media/{i}-file.bin"), v)
            .expect("media");
    }
}

/// Changes a set-aside file's first byte (its length stays), as if it
/// changed after it was prepared.
fn change_first_byte(path: &Path) {
    let mut bytes = fs_err::read(path).expect("read");
    bytes[0] ^= 1;
    fs_err::write(path, &bytes).expect("change");
}

/// The names in `dir` that end with `suffix`.
fn names_ending(dir: &Path, suffix: &str) -> Vec<String> {
    fs_err::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect()
}

#[test]
fn a_part_that_fails_while_others_are_written_leaves_no_part_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 64 * 1024)).expect("create");
    staged_files(&mut w, dir.path(), 40, 12_000);
    // A file in a middle part changed after it was set aside.
    let changed = dir.path().join("src25");
    change_first_byte(&changed);

    let err = w.finish(&mut manifest).expect_err("a file changed");
    // The failing part's own error, not the other writer's stopping.
    assert!(err.to_string().contains("data/media/25-file.bin"), "{err}");
    for leftover in [".partial", ".journal", ".zip"] {
        assert_eq!(names_ending(dir.path(), leftover), Vec::<String>::new());
    }
    assert!(changed.exists(), "the file that failed is kept");
}

#[test]
fn a_parts_staged_files_go_as_it_is_written_and_synced() {
    // One part of eight files, synced every quarter part (64 KiB): the
    // files of the entries written before a sync go then, not only once
    // the part is sealed. Seen here where the part's last entry fails.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 256 * 1024)).expect("create");
    staged_files(&mut w, dir.path(), 8, 20_000);
    change_first_byte(&dir.path().join("src7"));

    w.finish(&mut manifest).expect_err("the last file changed");
    let gone = |i: u64| !dir.path().join(format!("src{i}")).exists();
    assert!(gone(0), "written before a sync: removed");
    assert!(!gone(6), "written after the last sync: kept");
    assert!(!gone(7), "the file that failed is kept");
    for leftover in [".partial", ".journal"] {
        assert_eq!(names_ending(dir.path(), leftover), Vec::<String>::new());
    }
}

#[test]
fn writing_the_parts_is_told_as_it_goes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 64 * 1024)).expect("create");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    w.on_progress(move |p| sink.lock().expect("lock").push(p));
    staged_files(&mut w, dir.path(), 30, 10_000);
    let set = w.finish(&mut manifest).expect("finish");

    let seen = seen.lock().expect("lock").clone();
    let (n, total) = (set.parts.len() as u32, 30 * 10_000);
    assert!(n > 2, "{n} parts");
    let at = |written, done| PartsProgress {
        written,
        parts: n,
        done,
        total,
    };
    assert_eq!(seen.first(), Some(&at(0, 0)), "told before the first part");
    assert_eq!(
        seen.last(),
        Some(&at(n, total)),
        "and last, when all are done"
    );
    // Every file and every part on the way.
    assert!(seen.len() > 30 + n as usize, "{} reports", seen.len());
    assert_eq!(
        seen.iter().filter(|p| **p == at(n, total)).count(),
        1,
        "the end is told once"
    );
}

#[test]
fn writing_the_parts_stops_when_asked_and_leaves_no_part() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 64 * 1024)).expect("create");
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (stop, ask) = (std::sync::Arc::clone(&asked), std::sync::Arc::clone(&asked));
    w.stop_when(move || stop.load(std::sync::atomic::Ordering::SeqCst));
    // Asked once the first file is written.
    w.on_progress(move |p| {
        if p.done > 0 {
            ask.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    staged_files(&mut w, dir.path(), 30, 10_000);
    let err = w.finish(&mut manifest).expect_err("stopped");
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    for leftover in [".partial", ".journal", ".zip"] {
        assert_eq!(names_ending(dir.path(), leftover), Vec::<String>::new());
    }
    // The files of the parts not written are all still there.
    assert!(dir.path().join("src29").exists());
}

#[test]
fn a_file_larger_than_a_part_gets_a_part_of_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let limit = 32 * 1024;
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), limit)).expect("create");
    w.add_payload_bytes("media/1-small.bin", &noise(5_000, 1), false)
        .expect("small");
    w.add_payload_bytes("media/2-big.bin", &noise(100_000, 2), false)
        .expect("big");
    w.add_payload_bytes("media/3-small.bin", &noise(5_000, 3), false)
        .expect("small");
    let set = w.finish(&mut manifest).expect("finish");
    assert_eq!(set.parts.len(), 3);
    assert!(set.parts[1].bytes > limit);
    assert!(set.parts[0].bytes <= limit && set.parts[2].bytes <= limit);
    assert_eq!(set.warnings.len(), 1, "{:?}", set.warnings);
    assert!(
        set.warnings[0].contains("data/media/2-big.bin"),
        "{:?}",
        set.warnings
    );
    let m: serde_json::Value = serde_json::from_str(
        &read_entry_to_string(&set.parts[0].path, "data/manifest.json").expect("manifest"),
    )
    .expect("json");
    assert_eq!(m["parts"][1]["oversized"], "data/media/2-big.bin");
    assert_eq!(
        m["parts"][1]["files"],
        serde_json::json!(["data/media/2-big.bin"])
    );
    assert_eq!(m["warnings"][0], set.warnings[0].as_str());
}

#[test]
fn a_split_archive_that_fits_is_one_archive_under_its_own_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 1 << 20)).expect("create");
    w.add_payload_bytes("posts.json", b"[]", true)
        .expect("posts");
    let set = w.finish(&mut manifest).expect("finish");
    assert_eq!(set.parts.len(), 1);
    assert_eq!(set.parts[0].path, path);
    let info = read_entry_to_string(&path, "bag-info.txt").expect("bag-info");
    assert!(!info.contains("Bag-Count"), "{info}");
    let m = read_entry_to_string(&path, "data/manifest.json").expect("manifest");
    assert!(!m.contains("parts"), "{m}");
}

#[test]
fn a_missing_or_foreign_part_spoils_the_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let make = |sub: &str, id: &str| {
        let d = dir.path().join(sub);
        fs_err::create_dir_all(&d).expect("dir");
        let mut i = info();
        i.external_identifier = id.into();
        let mut w =
            PartedWriter::create(&d.join("export.zip"), i, split(&d, 32 * 1024)).expect("create");
        for k in 0..3 {
            w.add_payload_bytes(&format!("media/{k}.bin"), &noise(20_000, k + 1), false)
                .expect("add");
        }
        w.finish(&mut manifest).expect("finish")
    };
    let a = make("a", "exp_a");
    let b = make("b", "exp_b");
    assert_eq!(a.parts.len(), 3);
    assert!(verify_set(&a.parts[0].path).expect("verify").ok);
    // Each part is told as soon as it is checked, in order.
    let mut told = Vec::new();
    let report = crate::archive::verify_set_telling(&a.parts[2].path, &mut |p| {
        told.push((p.number, p.ok()))
    })
    .expect("verify");
    assert_eq!(told, [(1, true), (2, true), (3, true)]);
    assert!(report.ok);

    // Part 2 of another export in its place.
    fs_err::copy(&b.parts[1].path, &a.parts[1].path).expect("copy");
    let report = verify_set(&a.parts[0].path).expect("verify");
    assert!(!report.ok);
    assert!(
            report.problems.iter().any(|p| matches!(p, SetProblem::Mismatch { number: 2, detail } if detail.contains("another export"))),
            "{:?}",
            report.problems
        );

    fs_err::remove_file(&a.parts[2].path).expect("remove");
    let report = verify_set(&a.parts[0].path).expect("verify");
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, SetProblem::MissingPart { number: 3, .. })),
        "{:?}",
        report.problems
    );
    let err = verify_set(&dir.path().join("a/export.zip")).expect_err("not a part");
    assert!(err.to_string().contains("not a part"), "{err}");
}

#[test]
fn existing_parts_are_never_overwritten_and_stale_ones_are_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    fs_err::write(dir.path().join("export.part02-of-05.zip.partial"), b"crash").expect("stale");
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 32 * 1024)).expect("create");
    assert!(!dir.path().join("export.part02-of-05.zip.partial").exists());
    w.add_payload_bytes("a.bin", &noise(20_000, 1), false)
        .expect("a");
    w.add_payload_bytes("b.bin", &noise(20_000, 2), false)
        .expect("b");
    let set = w.finish(&mut manifest).expect("finish");
    assert_eq!(set.parts.len(), 2);
    let err =
        PartedWriter::create(&path, info(), split(dir.path(), 32 * 1024)).expect_err("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn bad_names_and_sizes_are_refused_when_added() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    assert!(PartedWriter::create(&path, info(), split(dir.path(), 1000)).is_err());
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), 1 << 20)).expect("create");
    w.add_payload_bytes("a.json", b"{}", true).expect("a");
    assert!(w.add_payload_bytes("A.JSON", b"{}", true).is_err());
    assert!(w.add_payload_bytes("../up", b"{}", true).is_err());
    assert!(w.add_tag_file("data/x", b"").is_err());
    assert!(w.add_tag_file("bagit.txt", b"").is_err());
    let short = w.add_payload_reader("short.bin", &mut &[1u8; 10][..], Some(11), false);
    assert!(short.is_err());
    w.add_payload_reader("short.bin", &mut &[1u8; 10][..], Some(10), false)
        .expect("the name is free again");
    let set = w.finish(&mut manifest).expect("finish");
    assert!(verify(&set.parts[0].path).expect("verify").ok);
}

/// Many layouts, from measured sizes and from bounds alone: no part is
/// ever larger than the limit unless it holds one oversized file.
#[test]
fn no_layout_exceeds_the_limit() {
    for seed in 1..=12u64 {
        for measured in [true, false] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("e.zip");
            let limit = 16 * 1024 + (seed * 7919) % (96 * 1024);
            let mut w =
                PartedWriter::create(&path, info(), split(dir.path(), limit)).expect("create");
            for i in 0..30u64 {
                let size = ((seed * 31 + i * 7907) % 40_000) as usize;
                let bytes = if i % 2 == 0 {
                    noise(size, seed * 100 + i)
                } else {
                    "compressible text ".repeat(size / 18).into_bytes()
                };
                w.add_payload_bytes(&format!("media/{i}-x.bin"), &bytes, i % 3 != 0)
                    .expect("add");
            }
            w.add_tag_file("index.html", &noise(3000, seed))
                .expect("tag");
            let Inner::Split(mut p) = w.inner else {
                panic!("split")
            };
            if measured {
                for e in &mut p.entries {
                    e.measure().expect("measure");
                }
            }
            let set = p.finish_measured(&mut manifest).expect("finish");
            let index: serde_json::Value = serde_json::from_str(
                &read_entry_to_string(&set.parts[0].path, "data/manifest.json").expect("manifest"),
            )
            .expect("json");
            for (k, part) in set.parts.iter().enumerate() {
                let alone = set.parts.len() > 1 && !index["parts"][k]["oversized"].is_null();
                assert!(
                    part.bytes <= limit || alone,
                    "seed {seed}, measured {measured}: part {} is {} > {limit}",
                    k + 1,
                    part.bytes
                );
                assert!(verify(&part.path).expect("verify").ok);
            }
            assert_eq!(union(&set).len(), 30);
        }
    }
}

/// If compressed data ever came out larger than measured, the parts are
/// laid out again from bounds rather than left too large.
#[test]
fn a_wrong_measurement_is_caught_and_laid_out_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("e.zip");
    let limit = 32 * 1024;
    let mut w = PartedWriter::create(&path, info(), split(dir.path(), limit)).expect("create");
    for i in 0..6u64 {
        w.add_payload_bytes(&format!("{i}.bin"), &noise(12_000, i + 1), true)
            .expect("add");
    }
    let Inner::Split(mut p) = w.inner else {
        panic!("split")
    };
    for e in &mut p.entries {
        e.measured = Some(100); // a lie: noise does not shrink
    }
    let set = p.finish_measured(&mut manifest).expect("finish");
    assert!(set.parts.iter().all(|x| x.bytes <= limit));
    assert_eq!(union(&set).len(), 6);
    let leftovers: Vec<_> = fs_err::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}
