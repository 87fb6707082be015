//! What the checks assert of an export and its archive, whatever the
//! platform: complete, exactly what the server holds, accepted by tools
//! that share no code with Keepsake, and free of the token.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Home, Run};
use crate::{Holdings, Target};

/// The run completed and, where the platform's counts are exact, every
/// category of its report was retrieved as announced; returns its one
/// archive.
#[track_caller]
pub fn completed(t: &Target, run: &Run) -> PathBuf {
    assert!(!run.killed, "the export had to be killed: {}", run.text());
    assert_eq!(run.code(), 0, "{}", run.text());
    let report = run
        .result()
        .unwrap_or_else(|| panic!("no result: {}", run.text()));
    assert_eq!(report["outcome"], "completed", "{report}");
    let counts = report["counts"].as_object().expect("counts");
    assert!(!counts.is_empty(), "{report}");
    for (cat, c) in counts {
        // An uncounted category, or counts that are estimates (WordPress's
        // change while the walk runs), need not match.
        if t.features.exact_counts && !c["expected"].is_null() {
            assert_eq!(c["expected"], c["retrieved"], "{cat}: {report}");
        }
    }
    PathBuf::from(report["archive"].as_str().expect("the archive's path"))
}

/// The bytes of one entry of an archive.
pub fn entry_bytes(archive: &Path, name: &str) -> Option<Vec<u8>> {
    let file = fs_err::File::open(archive).expect("open archive");
    let mut zip = zip::ZipArchive::new(file).expect("a zip");
    let mut e = zip.by_name(name).ok()?;
    let mut v = Vec::new();
    e.read_to_end(&mut v).expect("read entry");
    Some(v)
}

/// Panics unless `archive` holds exactly `held`: every entry with every
/// record once (by key), each field as the server has it, no record the
/// server does not hold; every file, byte for byte (by its SHA-256 in the
/// bag's manifest, which the validators check against the bytes, and its
/// size).
#[track_caller]
pub fn holds_exactly(t: &Target, archive: &Path, held: &Holdings) {
    assert!(
        !held.entries.is_empty(),
        "the server holds nothing to compare"
    );
    for (name, want) in &held.entries {
        let bytes = entry_bytes(archive, name)
            .unwrap_or_else(|| panic!("{name} is not in {}", archive.display()));
        let got: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        match want {
            Value::Array(want) => same_records(t, name, want, &got),
            want => fields_kept(name, want, &got),
        }
    }
    let manifest = String::from_utf8(
        entry_bytes(archive, "manifest-sha256.txt").expect("the bag's payload manifest"),
    )
    .expect("a text manifest");
    let mut by_sha: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in manifest.lines() {
        if let Some((sha, path)) = line.split_once(char::is_whitespace) {
            by_sha.entry(sha).or_default().push(path.trim());
        }
    }
    files_indexed(archive, &by_sha);
    let file = fs_err::File::open(archive).expect("open archive");
    let mut zip = zip::ZipArchive::new(file).expect("a zip");
    for f in &held.files {
        let paths = by_sha
            .get(f.sha256.as_str())
            .unwrap_or_else(|| panic!("file {} ({}) is not in the archive", f.key, f.sha256));
        let sized = paths
            .iter()
            .any(|p| zip.by_name(p).is_ok_and(|e| e.size() == f.size));
        assert!(
            sized,
            "file {} is in the archive at {paths:?} but not {} bytes",
            f.key, f.size
        );
    }
}

/// Every file `data/files.json` says is archived is indexed with the
/// SHA-256 of its bytes (the bag's manifest has it, checked against the
/// bytes by the validators), whether the platform declared one or not and
/// whichever run of a resumed export fetched it.
#[track_caller]
fn files_indexed(archive: &Path, by_sha: &BTreeMap<&str, Vec<&str>>) {
    let Some(index) = entry_bytes(archive, "data/files.json") else {
        return;
    };
    let index: Value = serde_json::from_slice(&index).expect("files.json is JSON");
    let sha_of: BTreeMap<&str, &str> = by_sha
        .iter()
        .flat_map(|(sha, paths)| paths.iter().map(move |p| (*p, *sha)))
        .collect();
    for f in index.as_array().expect("files.json is a list") {
        let Some(path) = f["archive_path"].as_str() else {
            continue;
        };
        assert_eq!(
            f["sha256"].as_str(),
            sha_of.get(path).copied(),
            "files.json's SHA-256 of {path} is not that of its bytes: {f}"
        );
    }
}

/// The records of one entry, by key: the same set, each once, each with
/// the server's fields.
#[track_caller]
fn same_records(t: &Target, name: &str, want: &[Value], got: &Value) {
    let got = got
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not an array"));
    let keyed = |records: &[Value], side: &str| -> BTreeMap<String, Value> {
        let mut m = BTreeMap::new();
        for r in records {
            let k = (t.record_key)(r)
                .unwrap_or_else(|| panic!("{side} {name}: a record without a key: {r}"));
            if let Some(dup) = m.insert(k.clone(), r.clone()) {
                panic!("{side} {name}: {k} twice: {dup} and {r}");
            }
        }
        m
    };
    let want = keyed(want, "the server's");
    let got = keyed(got, "the archive's");
    let missing: Vec<&String> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{name}: {} records missing {:?}…, {} the server does not hold {:?}…",
        missing.len(),
        &missing[..missing.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)]
    );
    for (k, w) in &want {
        fields_kept(&format!("{name} {k}"), w, &got[k]);
    }
}

#[track_caller]
fn fields_kept(what: &str, want: &Value, got: &Value) {
    let (Some(want), Some(got)) = (want.as_object(), got.as_object()) else {
        assert_eq!(want, got, "{what}");
        return;
    };
    for (field, v) in want {
        assert_eq!(got.get(field), Some(v), "{what}: field {field}");
    }
}

fn tools_required() -> bool {
    std::env::var_os("KEEPSAKE_REQUIRE_TOOLS").is_some()
}

/// The venv `cargo xtask setup` makes, with the Library of Congress bagit.
use keepsake_tests::venv_python as bagit_python;

/// Which of the independent tools reject `archive` (`unzip -t`, Python's
/// `zipfile`, the bagit validator, `keepsake verify`), each with what it
/// said. A tool that is not installed is skipped (unless
/// `KEEPSAKE_REQUIRE_TOOLS` is set), except `keepsake verify`.
pub fn rejections(home: &Home, archive: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut run = |tool: &str, c: &mut Command| match c.output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => bad.push(format!(
            "{tool}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) if tools_required() => bad.push(format!("{tool} is required here: {e}")),
        Err(e) => eprintln!("skipped {tool}: {e}"),
    };
    run("unzip -t", Command::new("unzip").arg("-tqq").arg(archive));
    run(
        "zipfile",
        Command::new("python3")
            .arg("-c")
            .arg("import sys, zipfile\nbad = zipfile.ZipFile(sys.argv[1]).testzip()\nassert bad is None, f'{bad} is damaged'")
            .arg(archive),
    );
    let unpacked = tempfile::tempdir().expect("tmp");
    let extract = Command::new("python3")
        .arg("-c")
        // The zip's own CRCs are the other tools' concern: unpack the bytes
        // as they are, so that bagit judges them by its manifests alone.
        .arg("import sys, zipfile\nzipfile.ZipExtFile._update_crc = lambda self, data: None\nzipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])")
        .arg(archive)
        .arg(unpacked.path())
        .output()
        .map(|o| o.status);
    match (bagit_python(), extract) {
        (Some(py), Ok(s)) if s.success() => run(
            "bagit",
            Command::new(py)
                .args(["-m", "bagit", "--validate"])
                .arg(unpacked.path()),
        ),
        (Some(_), _) => bad.push("bagit: the archive could not be extracted".into()),
        (None, _) if tools_required() => {
            bad.push("the bagit venv is required (cargo xtask setup)".into())
        }
        (None, _) => eprintln!("skipped the bagit validator: run `cargo xtask setup` first"),
    }
    let o = home.run(&["verify", archive.to_str().expect("utf-8 path")]);
    if !o.status.success() {
        bad.push(format!("keepsake verify: {}", crate::common::text(&o)));
    }
    bad
}

/// Panics unless every independent tool accepts `archive`.
#[track_caller]
pub fn valid(home: &Home, archive: &Path) {
    let bad = rejections(home, archive);
    assert!(
        bad.is_empty(),
        "{} is rejected:\n{}",
        archive.display(),
        bad.join("\n")
    );
}

/// Panics if `token` appears, as bytes, in any file under `roots`
/// (followed into every folder, hidden ones too).
#[track_caller]
pub fn no_token_in_files(roots: &[&Path], token: &str) {
    assert!(
        token.len() >= 16,
        "a token too short to look for: {token:?}"
    );
    let mut files = 0;
    let mut stack: Vec<PathBuf> = roots.iter().map(|r| r.to_path_buf()).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let meta = fs_err::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                files += 1;
                let bytes = fs_err::read(&p).unwrap_or_default();
                let at = bytes
                    .windows(token.len())
                    .position(|w| w == token.as_bytes());
                assert!(
                    at.is_none(),
                    "the token is in {} at byte {at:?}",
                    p.display()
                );
                if p.extension().is_some_and(|x| x == "zip" || x == "partial") {
                    in_zip_entries(&p, token);
                }
            }
        }
    }
    assert!(files > 0, "no file to look in under {roots:?}");
}

/// Compressed entries hide their bytes from a plain search: look inside.
#[track_caller]
fn in_zip_entries(path: &Path, token: &str) {
    let Ok(file) = fs_err::File::open(path) else {
        return;
    };
    let Ok(mut zip) = zip::ZipArchive::new(file) else {
        return;
    };
    for i in 0..zip.len() {
        let Ok(mut e) = zip.by_index(i) else { continue };
        let mut v = Vec::new();
        let _ = e.read_to_end(&mut v);
        let name = e.name().map(|n| n.into_owned()).unwrap_or_default();
        assert!(
            !v.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is in {name} inside {}",
            path.display()
        );
    }
}

/// The keys of the records of one entry of an archive, each once.
pub fn keys(t: &Target, archive: &Path, name: &str) -> BTreeSet<String> {
    let got: Value = serde_json::from_slice(
        &entry_bytes(archive, name).unwrap_or_else(|| panic!("{name} is not in the archive")),
    )
    .expect("JSON");
    let mut set = BTreeSet::new();
    for r in got.as_array().expect("an array") {
        let k = (t.record_key)(r).expect("a key");
        assert!(set.insert(k.clone()), "{name}: {k} twice");
    }
    set
}
