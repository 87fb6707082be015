//! Tests of `writer`.

use super::*;
use crate::archive::tests::{info, noise, small_bag};
use std::io;

use sha2::Sha256;

use crate::archive::{partial_path_for, read_entry_to_string, verify};

fn names_in(path: &Path) -> Vec<String> {
    let zip = zip::ZipArchive::new(fs_err::File::open(path).expect("open")).expect("zip");
    zip.file_names()
        .map(|n| n.expect("name").into_owned())
        .collect()
}

#[test]
fn the_final_name_appears_only_when_finished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    assert_eq!(w.partial_path(), dir.path().join("export.zip.partial"));
    assert!(w.partial_path().is_file());
    assert!(!path.exists());
    w.add_payload_bytes("a.json", b"{}", true).expect("add");
    assert!(!path.exists());
    let done = w.finish().expect("finish");
    assert_eq!(done.path, path);
    assert!(path.is_file());
    assert!(!partial_path_for(&path).exists());
    let on_disk = fs_err::read(&path).expect("read");
    assert_eq!(done.bytes, on_disk.len() as u64);
    assert_eq!(done.sha256, hex::encode(Sha256::digest(&on_disk)));
    assert_eq!((done.payload_files, done.payload_bytes), (1, 2));
}

#[cfg(unix)]
#[test]
fn archives_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let w = ArchiveWriter::create(&path, info()).expect("create");
    let mode = |p: &Path| fs_err::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(w.partial_path()), 0o600);
    let done = w.finish().expect("finish");
    assert_eq!(mode(&done.path), 0o600);
    let mut zip = zip::ZipArchive::new(fs_err::File::open(&done.path).expect("open")).expect("zip");
    for i in 0..zip.len() {
        assert_eq!(
            zip.by_index(i)
                .expect("entry")
                .unix_mode()
                .map(|m| m & 0o777),
            Some(0o600)
        );
    }
}

#[test]
fn an_existing_archive_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    fs_err::write(&path, b"precious").expect("write");
    let err = ArchiveWriter::create(&path, info()).expect_err("refused");
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("already exists")),
        "{err}"
    );
    assert_eq!(fs_err::read(&path).expect("read"), b"precious");
    assert!(!partial_path_for(&path).exists());
}

#[test]
fn a_final_name_taken_meanwhile_is_not_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let w = ArchiveWriter::create(&path, info()).expect("create");
    fs_err::write(&path, b"someone else's").expect("write");
    let err = w.finish().expect_err("refused");
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("appeared")),
        "{err}"
    );
    assert_eq!(fs_err::read(&path).expect("read"), b"someone else's");
    assert!(
        verify(&partial_path_for(&path)).expect("verify").ok,
        "the new archive is kept whole"
    );
}

#[test]
fn a_stale_partial_is_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    fs_err::write(partial_path_for(&path), b"left by a crash").expect("write");
    let done = ArchiveWriter::create(&path, info())
        .expect("create")
        .finish()
        .expect("finish");
    assert!(verify(&done.path).expect("verify").ok);
}

#[test]
fn a_partial_being_written_is_not_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut first = ArchiveWriter::create(&path, info()).expect("create");
    let err = ArchiveWriter::create(&path, info()).expect_err("second writer refused");
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("another Keepsake export")),
        "{err}"
    );
    first
        .add_payload_bytes("a.json", b"{}", true)
        .expect("first goes on");
    assert!(
        verify(&first.finish().expect("finish").path)
            .expect("verify")
            .ok
    );
}

#[test]
fn a_dropped_writer_leaves_only_the_partial_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    w.add_payload_bytes("a.json", &[b'x'; 100_000], true)
        .expect("add");
    let partial = w.partial_path().to_owned();
    drop(w); // as when the export thread stops on an error or a panic
    assert!(!path.exists());
    assert!(partial.is_file());
    // No central directory was added behind the caller's back.
    assert!(zip::ZipArchive::new(fs_err::File::open(&partial).expect("open")).is_err());

    let w = ArchiveWriter::create(&path, info()).expect("create again");
    assert_eq!(w.abandon(), partial);
    assert!(partial.is_file());
    assert!(!path.exists());
}

#[test]
fn malformed_entry_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = ArchiveWriter::create(&dir.path().join("e.zip"), info()).expect("create");
    for bad in [
        "",
        "/abs",
        "../up",
        "a/../b",
        "./a",
        "a//b",
        "a/",
        "back\\slash",
        "nul\0",
        " lead",
        "trail /x",
        &"x".repeat(5000),
    ] {
        let err = w.add_payload_bytes(bad, b"x", true).expect_err(bad);
        assert!(matches!(err, Error::Archive { .. }), "{bad:?}: {err}");
    }
    for bad in [
        "data/x",
        "Data/x",
        "bagit.txt",
        "BAG-INFO.txt",
        "manifest-md5.txt",
        "tagmanifest-sha512.txt",
        "../x",
    ] {
        let err = w.add_tag_file(bad, b"x").expect_err(bad);
        assert!(matches!(err, Error::Archive { .. }), "{bad:?}: {err}");
    }
    // Refusals leave the writer usable.
    w.add_payload_bytes("ok.json", b"{}", true).expect("add");
    assert!(
        verify(&w.finish().expect("finish").path)
            .expect("verify")
            .ok
    );
}

#[test]
fn names_that_would_collide_on_extraction_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = ArchiveWriter::create(&dir.path().join("e.zip"), info()).expect("create");
    w.add_payload_bytes("media/Photo.png", b"1", false)
        .expect("add");
    w.add_payload_bytes("file", b"2", false).expect("add");
    for clash in [
        "media/Photo.png",
        "media/photo.PNG",
        "MEDIA",
        "file/inside",
        "FILE/inside",
    ] {
        let err = w.add_payload_bytes(clash, b"x", false).expect_err(clash);
        assert!(matches!(err, Error::Archive { .. }), "{clash:?}: {err}");
    }
    w.add_tag_file("index.html", b"<p>").expect("tag");
    assert!(w.add_tag_file("Index.HTML", b"<p>").is_err());
    assert_eq!(w.payload_files(), 2);
}

#[test]
fn a_source_of_the_wrong_length_is_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("e.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    let short = w.add_payload_reader("short.bin", &mut &[7u8; 10][..], Some(11), false);
    assert!(matches!(short, Err(Error::Archive { .. })), "{short:?}");
    let long = w.add_payload_reader("long.bin", &mut &[7u8; 100_000][..], Some(99_999), true);
    assert!(matches!(long, Err(Error::Archive { .. })), "{long:?}");
    // The name is still free: the caller may try again.
    w.add_payload_reader("long.bin", &mut &[7u8; 100_000][..], Some(100_000), true)
        .expect("retry");
    let done = w.finish().expect("finish");
    assert_eq!((done.payload_files, done.payload_bytes), (1, 100_000));
    let report = verify(&done.path).expect("verify");
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn a_failing_source_leaves_no_trace() {
    /// Gives its bytes (noise, which DEFLATE cannot shrink), then fails.
    struct Failing(io::Cursor<Vec<u8>>);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "network gone",
                )),
                n => Ok(n),
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("e.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    for compress in [false, true] {
        let err = w
            .add_payload_reader(
                "media/big.bin",
                &mut Failing(io::Cursor::new(noise(300_000, 1))),
                None,
                compress,
            )
            .expect_err("fails");
        assert!(matches!(&err, Error::Io { action: "read", .. }), "{err}");
        assert!(err.to_string().contains("network gone"), "{err}");
    }
    w.add_payload_bytes("small.json", b"{}", true)
        .expect("writer still usable");
    let done = w.finish().expect("finish");
    assert_eq!(
        names_in(&done.path),
        [
            "bagit.txt",
            "data/small.json",
            "bag-info.txt",
            "manifest-sha256.txt",
            "tagmanifest-sha256.txt"
        ]
    );
    assert!(
        done.bytes < 10_000,
        "the aborted entry's bytes were cut off: {}",
        done.bytes
    );
    let report = verify(&done.path).expect("verify");
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn files_are_added_from_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("staged.bin");
    fs_err::write(&src, vec![42u8; 200_000]).expect("write");
    let mut w = ArchiveWriter::create(&dir.path().join("e.zip"), info()).expect("create");
    let entry = w
        .add_payload_file("media/1-x.bin", &src, false)
        .expect("add");
    assert_eq!(entry.name, "data/media/1-x.bin");
    assert_eq!(entry.bytes, 200_000);
    assert_eq!(
        entry.sha256,
        hex::encode(Sha256::digest(vec![42u8; 200_000]))
    );
    let err = w
        .add_payload_file("media/2.bin", &dir.path().join("absent"), false)
        .expect_err("missing source");
    assert!(matches!(&err, Error::Io { action: "open", .. }), "{err}");
    w.finish().expect("finish");
}

#[test]
fn the_same_input_gives_the_same_archive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = small_bag(dir.path(), "a.zip");
    let b = small_bag(dir.path(), "b.zip");
    assert_eq!(a.sha256, b.sha256);
    let mut zip = zip::ZipArchive::new(fs_err::File::open(&a.path).expect("open")).expect("zip");
    let entry = zip.by_name("data/posts.json").expect("entry");
    assert_eq!(
        entry.last_modified().map(|t| t.to_string()).as_deref(),
        Some("2025-06-01 12:34:56")
    );
}

#[test]
fn the_bag_has_its_tag_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    assert_eq!(
        names_in(&done.path),
        [
            "bagit.txt",
            "data/posts.json",
            "data/media/1-photo.jpg",
            "index.html",
            "bag-info.txt",
            "manifest-sha256.txt",
            "tagmanifest-sha256.txt"
        ]
    );
    let read = |name| read_entry_to_string(&done.path, name).expect(name);
    assert_eq!(
        read("bagit.txt"),
        "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
    );
    let bag_info = read("bag-info.txt");
    assert!(
        bag_info.contains("External-Identifier: exp_0123\n"),
        "{bag_info}"
    );
    assert!(
        bag_info.contains("Bagging-Date: 2025-06-01\n"),
        "{bag_info}"
    );
    assert!(
        bag_info.contains(&format!("Payload-Oxum: {}.2\n", done.payload_bytes)),
        "{bag_info}"
    );
    assert!(
        bag_info.ends_with("Keepsake-Status: completed\n"),
        "{bag_info}"
    );
    let manifest = read("manifest-sha256.txt");
    let paths: Vec<&str> = manifest.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        paths,
        ["data/media/1-photo.jpg", "data/posts.json"],
        "sorted"
    );
    let tags = read("tagmanifest-sha256.txt");
    let paths: Vec<&str> = tags.lines().map(|l| &l[66..]).collect();
    assert_eq!(
        paths,
        [
            "bag-info.txt",
            "bagit.txt",
            "index.html",
            "manifest-sha256.txt"
        ]
    );
}

#[test]
fn a_verified_file_that_changed_since_is_left_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("1.bin");
    let content = vec![9u8; 100_000];
    fs_err::write(&src, &content).expect("write");
    let sha: [u8; 32] = Sha256::digest(&content).into();
    let crc = crc32fast::hash(&content);
    let mut w = ArchiveWriter::create(&dir.path().join("v.zip"), info()).expect("create");
    // As downloaded: copied without being hashed again.
    let entry = w
        .add_prepared(
            "media/1.bin",
            Prepared::verified_file(src.clone(), 100_000, sha, crc),
        )
        .expect("add");
    assert_eq!(entry.sha256, hex::encode(sha));
    // Changed on disk since it was verified: left out, writer usable.
    fs_err::write(&src, vec![8u8; 100_000]).expect("change");
    let err = w
        .add_prepared(
            "media/2.bin",
            Prepared::verified_file(src.clone(), 100_000, sha, crc),
        )
        .expect_err("changed");
    assert!(
        err.to_string().contains("changed while being archived"),
        "{err}"
    );
    let done = w.finish().expect("finish");
    assert_eq!(done.payload_files, 1);
    let report = verify(&done.path).expect("verify");
    assert!(report.ok, "{:?}", report.problems);
}

#[test]
fn the_writer_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<ArchiveWriter>();
}
