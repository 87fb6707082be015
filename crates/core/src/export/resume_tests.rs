//! Tests of the resume plan, one per kind of leftover in the staging
//! folder. (What the partial archive holds is the zip thread's, and is
//! tested with the archive writer and by the export suite.)

use std::io::Write as _;
use std::path::PathBuf;

use super::*;
use crate::export::formats::Formats;
use crate::export::staging::{Checkpoint, open_private};

fn staged(choices: Option<Choices>) -> StagedSession {
    StagedSession {
        platform: "https://p.example".into(),
        session: serde_json::from_value(serde_json::json!({
            "export_id": "exp_1", "status": "running", "as_of": "2024-01-01T00:00:00Z",
            "subject": {"id": 1, "login": "a"}, "actor": {"id": 1, "login": "a"},
            "reason": null, "since": null, "until": null, "categories": {},
        }))
        .expect("session"),
        archive_name: "a.zip".into(),
        choices,
        connector: None,
    }
}

fn options(out_dir: &Path, formats: Formats) -> ExportOptions {
    ExportOptions {
        connector: crate::connector::keepsake(),
        subject_id: None,
        reason: None,
        categories: None,
        since: None,
        until: None,
        out_dir: out_dir.to_owned(),
        resume: super::super::ResumeMode::Auto,
        media_workers: 1,
        media_memory: 0,
        undeclared_file_max: crate::export::DEFAULT_UNDECLARED_FILE_MAX,
        formats,
        split_size: None,
    }
}

const NO_CSV: Formats = Formats {
    csv: false,
    viewer: true,
};

fn page(cat: &str, next: Option<&str>, boot: Option<&str>) -> Checkpoint {
    Checkpoint::Page {
        cat: cat.into(),
        next: next.map(String::from),
        len: 0,
        count: 1,
        keys: vec!["1".into()],
        odd_text: 0,
        marked: 0,
        boot: boot.map(String::from),
    }
}

fn file(key: &str, bytes: &[u8], boot: Option<&str>) -> Checkpoint {
    Checkpoint::Media {
        key: key.into(),
        bytes: bytes.len() as u64,
        crc32: Some(crc32fast::hash(bytes)),
        boot: boot.map(String::from),
        sha256: None,
    }
}

/// A staging folder (`{out}/.keepsake-exp_1`) with `checkpoints`, and each
/// `(key, bytes)` staged as a downloaded file.
fn staging(out: &Path, checkpoints: &[Checkpoint], files: &[(&str, &[u8])]) -> (Staging, PathBuf) {
    let dir = out.join(".keepsake-exp_1");
    let mut s = Staging::open(&dir).expect("open");
    for c in checkpoints {
        s.record(c).expect("record");
    }
    crate::fsx::create_private_dir(&dir.join("media")).expect("media");
    for (key, bytes) in files {
        let path = dir
            .join("media")
            .join(format!("{}.bin", staging::file_slug(key)));
        open_private(&path, false)
            .and_then(|mut f| f.write_all(bytes).map_err(crate::Error::io("write", &path)))
            .expect("staged file");
    }
    (s, dir)
}

/// The plan for a staging folder made by [`staging`], for a session
/// staged with `first` choices, asked for by a run without CSV.
fn plan(
    out: &Path,
    (checkpoints, files): (&[Checkpoint], &[(&str, &[u8])]),
    first: Option<Choices>,
    boot: Option<&str>,
) -> (ResumePlan, PathBuf) {
    let (mut s, dir) = staging(out, checkpoints, files);
    let plan =
        ResumePlan::build(&mut s, &dir, &staged(first), &options(out, NO_CSV), boot).expect("plan");
    (plan, dir)
}

#[test]
fn with_nothing_left_the_plan_starts_afresh_with_this_runs_choices() {
    let out = tempfile::tempdir().expect("out");
    // A session prepared with other choices and never started takes this
    // run's, and records them for the runs after it.
    let first = Choices {
        formats: Formats::default(),
        split_size: Some(1 << 30),
    };
    let (plan, dir) = plan(out.path(), (&[], &[]), Some(first), None);
    assert!(plan.categories.is_empty() && plan.files.is_empty());
    assert_eq!(
        plan.choices,
        Choices {
            formats: NO_CSV,
            split_size: None
        }
    );
    let recorded: serde_json::Value =
        serde_json::from_slice(&fs_err::read(dir.join("session.json")).expect("session.json"))
            .expect("json");
    assert_eq!(recorded["choices"]["formats"]["csv"], false, "{recorded}");
}

#[test]
fn a_walk_and_downloads_under_way_are_continued_with_the_first_choices() {
    let out = tempfile::tempdir().expect("out");
    let first = Choices {
        formats: Formats::default(),
        split_size: None,
    };
    let leftovers: (&[Checkpoint], &[(&str, &[u8])]) = (
        &[
            page("posts", Some("c2"), None),
            page("likes", None, None),
            file("7", b"seven", None),
        ],
        &[("7", b"seven")],
    );
    let (plan, _) = plan(out.path(), leftovers, Some(first), None);
    assert_eq!(plan.categories["posts"].next.as_deref(), Some("c2"));
    assert_eq!(plan.categories["likes"].next, None);
    assert_eq!(plan.files["7"].bytes, 5);
    assert_eq!(
        plan.choices, first,
        "a resumed export keeps the formats it started with"
    );
}

#[test]
fn a_file_whose_staged_copy_went_into_the_archive_stays_in_the_plan() {
    // Its copy was removed once it was in the archive: the download step
    // takes it from the archive, or downloads it again where the archive
    // could not be continued.
    let out = tempfile::tempdir().expect("out");
    let gone: &[Checkpoint] = &[file("7", b"seven", Some("old-boot"))];
    let (plan, _) = plan(out.path(), (gone, &[]), None, Some("now"));
    assert!(plan.files.contains_key("7"));
}

#[test]
fn after_a_restart_unsynced_pages_and_damaged_files_are_done_again() {
    let out = tempfile::tempdir().expect("out");
    let leftovers: (&[Checkpoint], &[(&str, &[u8])]) = (
        &[
            page("posts", Some("c1"), None),
            page("posts", Some("c2"), Some("old-boot")),
            file("7", b"seven", Some("old-boot")),
            file("8", b"eight", Some("old-boot")),
        ],
        // A power cut took part of file 7.
        &[("7", b"sev"), ("8", b"eight")],
    );
    let (plan, dir) = plan(out.path(), leftovers, None, Some("now"));
    assert_eq!(
        plan.categories["posts"].next.as_deref(),
        Some("c1"),
        "back to the last synced page"
    );
    assert!(!plan.files.contains_key("7"), "damaged: downloaded again");
    assert!(
        !dir.join("media")
            .join(format!("{}.bin", staging::file_slug("7")))
            .exists()
    );
    assert!(plan.files.contains_key("8"), "intact: kept");
}
