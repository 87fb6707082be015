//! Tests of `verify`.

use super::*;
use crate::archive::tests::{info, rewrite, small_bag};
use crate::archive::{ArchiveWriter, bagit::manifest_line};

#[test]
fn a_written_bag_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let report = verify(&done.path).expect("verify");
    assert_eq!(report.problems, []);
    assert!(report.ok);
    assert_eq!(report.files_checked, 7);
    assert!(report.bytes_checked > done.payload_bytes);
}

#[test]
fn a_flipped_byte_is_a_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let mut bytes = fs_err::read(&done.path).expect("read");
    let at = bytes
        .windows(12)
        .position(|w| w == b"STORED-PHOTO")
        .expect("stored content is in the file");
    bytes[at] ^= 0x20;
    let tampered = dir.path().join("tampered.zip");
    fs_err::write(&tampered, &bytes).expect("write");

    let report = verify(&tampered).expect("verify");
    assert!(!report.ok);
    let [
        VerifyProblem::Mismatch {
            path,
            expected,
            actual,
        },
    ] = &report.problems[..]
    else {
        panic!("expected one mismatch: {:?}", report.problems);
    };
    assert_eq!(path, "data/media/1-photo.jpg");
    assert_ne!(expected, actual);
    assert_eq!(
        actual,
        &hex::encode(Sha256::digest(b"sTORED-PHOTO-CONTENT-0123456789"))
    );
    assert!(
        report.problems[0]
            .to_string()
            .contains("damaged or was changed")
    );
}

#[test]
fn a_damaged_crc_alone_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let mut bytes = fs_err::read(&done.path).expect("read");
    // The CRC-32 in the central directory entry of the stored photo.
    let name = b"data/media/1-photo.jpg";
    let central = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .map(|(i, _)| i)
        .find(|&i| bytes[i + 46..].starts_with(name))
        .expect("central entry");
    bytes[central + 16] ^= 0xFF;
    let tampered = dir.path().join("crc.zip");
    fs_err::write(&tampered, &bytes).expect("write");
    let report = verify(&tampered).expect("verify");
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, VerifyProblem::Unreadable { path, .. } if path == "data/media/1-photo.jpg")),
        "{:?}",
        report.problems
    );
    // The local header still has the right CRC-32: the zip disagrees with itself.
    assert!(
        report.problems.iter().all(|p| matches!(
            p,
            VerifyProblem::Unreadable { .. } | VerifyProblem::ZipStructure(_)
        )),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_removed_entry_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let out = dir.path().join("removed.zip");
    rewrite(
        &done.path,
        &out,
        |name, b| (name != "data/posts.json").then_some(b),
        &[],
    );
    let report = verify(&out).expect("verify");
    assert!(!report.ok);
    assert!(
        report
            .problems
            .contains(&VerifyProblem::Missing("data/posts.json".into())),
        "{:?}",
        report.problems
    );
    assert!(
        report.problems.iter().any(|p| matches!(
            p,
            VerifyProblem::OxumMismatch {
                expected_files: 2,
                actual_files: 1,
                ..
            }
        )),
        "{:?}",
        report.problems
    );
}

#[test]
fn an_added_entry_is_unlisted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let out = dir.path().join("added.zip");
    rewrite(
        &done.path,
        &out,
        |_, b| Some(b),
        &[("data/extra.txt", b"x"), ("evil.html", b"<script>")],
    );
    let report = verify(&out).expect("verify");
    assert!(
        report
            .problems
            .contains(&VerifyProblem::Unlisted("data/extra.txt".into()))
    );
    assert!(
        report
            .problems
            .contains(&VerifyProblem::Unlisted("evil.html".into()))
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, VerifyProblem::OxumMismatch { .. }))
    );
}

#[test]
fn changed_tag_files_are_caught_by_the_tag_manifest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let out = dir.path().join("retagged.zip");
    rewrite(
        &done.path,
        &out,
        |name, b| {
            if name == "bag-info.txt" {
                Some(
                    String::from_utf8(b)
                        .expect("utf-8")
                        .replace("exp_0123", "exp_9999")
                        .into_bytes(),
                )
            } else {
                Some(b)
            }
        },
        &[],
    );
    let report = verify(&out).expect("verify");
    assert!(
        matches!(&report.problems[..], [VerifyProblem::Mismatch { path, .. }] if path == "bag-info.txt"),
        "{:?}",
        report.problems
    );
}

#[test]
fn missing_or_broken_tag_files_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    let out = dir.path().join("untagged.zip");
    rewrite(
        &done.path,
        &out,
        |name, b| (name != "tagmanifest-sha256.txt").then_some(b),
        &[],
    );
    let report = verify(&out).expect("verify");
    assert!(report.problems.contains(&VerifyProblem::BadTagFile {
        name: "tagmanifest-sha256.txt".into(),
        detail: "missing".into()
    }));
    // Unprotected tag files are named too.
    assert!(
        report
            .problems
            .contains(&VerifyProblem::Unlisted("bag-info.txt".into()))
    );

    let out = dir.path().join("notabag.zip");
    rewrite(
        &done.path,
        &out,
        |name, b| match name {
            "bagit.txt" => None,
            "manifest-sha256.txt" => Some(b"not a manifest\n".to_vec()),
            _ => Some(b),
        },
        &[],
    );
    let report = verify(&out).expect("verify");
    let bad: Vec<&str> = report
        .problems
        .iter()
        .filter_map(|p| match p {
            VerifyProblem::BadTagFile { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        bad,
        ["bagit.txt", "manifest-sha256.txt"],
        "{:?}",
        report.problems
    );
}

#[test]
fn percent_signs_follow_the_rfc_and_other_tools() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Written by Keepsake: "%25" in the manifest, as RFC 8493 says.
    let path = dir.path().join("rfc.zip");
    let mut w = ArchiveWriter::create(&path, info()).expect("create");
    w.add_payload_bytes("100%.json", b"[]", true).expect("add");
    w.add_payload_bytes("a%0Ab.json", b"[]", true).expect("add");
    let done = w.finish().expect("finish");
    let manifest = read_entry_to_string(&done.path, "manifest-sha256.txt").expect("manifest");
    assert!(manifest.contains("  data/100%25.json\n"), "{manifest}");
    assert!(manifest.contains("  data/a%250Ab.json\n"), "{manifest}");
    let report = verify(&done.path).expect("verify");
    assert!(report.ok, "{:?}", report.problems);

    // Written by a tool that leaves '%' as it is (bagit-python 1.9).
    let out = dir.path().join("legacy.zip");
    let sha = hex::encode(Sha256::digest(b"[]"));
    let legacy = manifest_line(&sha, "data/100%.json").replace("%25", "%")
        + &manifest_line(&sha, "data/a%0Ab.json").replace("%25", "%");
    rewrite(
        &done.path,
        &out,
        |name, b| match name {
            "manifest-sha256.txt" => Some(legacy.clone().into_bytes()),
            "tagmanifest-sha256.txt" => None,
            _ => Some(b),
        },
        &[],
    );
    let report = verify(&out).expect("verify");
    let content_problems: Vec<_> = report
        .problems
        .iter()
        .filter(|p| {
            !matches!(
                p,
                VerifyProblem::BadTagFile { .. } | VerifyProblem::Unlisted(_)
            )
        })
        .collect();
    assert_eq!(content_problems, Vec::<&VerifyProblem>::new());
    assert!(
        !report
            .problems
            .contains(&VerifyProblem::Unlisted("data/100%.json".into()))
    );
}

#[test]
fn what_is_not_a_zip_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.zip");
    fs_err::write(&path, b"this is not a zip file").expect("write");
    assert!(matches!(verify(&path), Err(Error::Archive { .. })));
    assert!(matches!(
        verify(&dir.path().join("absent.zip")),
        Err(Error::Io { .. })
    ));
    // An unfinished archive cannot be opened either.
    let w = ArchiveWriter::create(&dir.path().join("u.zip"), info()).expect("create");
    let partial = w.abandon();
    let err = verify(&partial).expect_err("unfinished");
    assert!(err.to_string().contains("may be incomplete"), "{err}");
}

#[test]
fn entries_read_back_as_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = small_bag(dir.path(), "e.zip");
    assert_eq!(
        read_entry_to_string(&done.path, "data/posts.json").expect("read"),
        "[{\"id\":1,\"body\":\"hello\"}]\n"
    );
    let err = read_entry_to_string(&done.path, "data/manifest.json").expect_err("absent");
    assert!(
        matches!(&err, Error::Archive { detail, .. } if detail == "has no entry data/manifest.json"),
        "{err}"
    );
}
