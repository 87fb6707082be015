//! Split archives in real exports: each part a complete zip and BagIt bag
//! within the size chosen, and the parts together exactly the archive.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keepsake_core::Error;
use keepsake_core::archive::{parse_part_file_name, read_entry_to_string, verify, verify_set};
use keepsake_core::audit::Outcome;
use keepsake_core::export::{self, CancelFlag, ExportEvent, ExportReport, Reporter};
use keepsake_platform::seed::Preset;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{self, Dest, ids, records, validate_externally};

/// The bag's own tag files, in every part.
const BAG_FILES: [&str; 4] = [
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
];

/// Every entry of a zip with its content.
fn entries(zip: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(fs_err::File::open(zip).expect("open")).expect("zip");
    let mut all = BTreeMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).expect("entry");
        let name = e.name().expect("name").into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).expect("read");
        assert!(
            all.insert(name.clone(), bytes).is_none(),
            "{name} twice in one zip"
        );
    }
    all
}

fn manifest(zip: &Path) -> Value {
    serde_json::from_str(&read_entry_to_string(zip, "data/manifest.json").expect("manifest"))
        .expect("json")
}

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|n| n.to_str()).expect("file name")
}

/// What a set holds: the files its index lists (each in one part) with
/// their content, and the names of the files every part has (the bag's tag
/// files and the index files).
pub(crate) struct Union {
    pub(crate) files: BTreeMap<String, Vec<u8>>,
    common: BTreeSet<String>,
}

/// Checks what every split archive must be.
pub(crate) fn check_set(report: &ExportReport, limit: u64) -> Union {
    let n = report.parts.len();
    assert!(n >= 2, "split into {n} parts");
    eprintln!(
        "{n} parts of at most {limit} bytes: {:?}; warnings: {:?}",
        report.parts.iter().map(|p| p.bytes).collect::<Vec<_>>(),
        report.warnings
    );
    assert_eq!(
        report.archive, report.parts[0].path,
        "the report names part 1"
    );
    assert_eq!(
        report.bytes,
        report.parts.iter().map(|p| p.bytes).sum::<u64>()
    );
    let contents: Vec<BTreeMap<String, Vec<u8>>> =
        report.parts.iter().map(|p| entries(&p.path)).collect();
    // Files every part has: the bag's tag files and the index files.
    let common: BTreeSet<String> = contents[0]
        .keys()
        .filter(|k| contents.iter().all(|c| c.contains_key(*k)))
        .cloned()
        .collect();
    for f in BAG_FILES.iter().chain(&["data/manifest.json"]) {
        assert!(common.contains(*f), "{f} is in every part");
    }
    let index = manifest(&report.parts[0].path)["parts"].clone();
    let mut union = BTreeMap::new();
    for (k, part) in report.parts.iter().enumerate() {
        let number = k + 1;
        let name = file_name(&part.path);
        let (_, pk, pn) = parse_part_file_name(name).expect("a part's name");
        assert_eq!((pk, pn), (number, n), "{name}");
        assert!(
            name.contains(&format!(".part{number:02}-of-{n:02}.zip")),
            "{name}"
        );

        // The size: within the limit, or alone with a warning.
        let on_disk = fs_err::metadata(&part.path).expect("part").len();
        assert_eq!(on_disk, part.bytes);
        let listed = &index[k];
        assert_eq!(listed["number"], number);
        assert_eq!(listed["name"], name);
        if let Some(big) = listed["oversized"].as_str() {
            assert_eq!(listed["files"], serde_json::json!([big]), "alone");
            assert!(
                report
                    .warnings
                    .iter()
                    .any(|w| w.contains(big) && w.contains(name)),
                "a warning names {big}: {:?}",
                report.warnings
            );
        } else {
            assert!(
                on_disk <= limit,
                "{name} is {on_disk} bytes, more than {limit}"
            );
        }

        // A complete bag on its own, for Keepsake and for other tools.
        let v = verify(&part.path).expect("verify");
        assert!(v.ok, "{name}: {:?}", v.problems);
        validate_externally(&part.path);
        let bag_info = read_entry_to_string(&part.path, "bag-info.txt").expect("bag-info");
        assert!(
            bag_info.contains(&format!("Bag-Count: {number} of {n}\n")),
            "{bag_info}"
        );
        assert!(
            bag_info.contains(&format!("Bag-Group-Identifier: {}\n", report.export_id)),
            "{bag_info}"
        );
        assert!(bag_info.contains(&format!("External-Identifier: {}\n", report.export_id)));

        // Its manifest knows where it is and what every part holds.
        let m = manifest(&part.path);
        assert_eq!(m["part"], number);
        assert_eq!(m["parts"], index, "every part has the same index");
        let files: BTreeSet<String> = listed["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f.as_str().expect("path").to_owned())
            .collect();
        let held: BTreeSet<String> = contents[k].keys().cloned().collect();
        let besides: BTreeSet<String> = held.difference(&files).cloned().collect();
        assert!(
            besides.is_subset(&common),
            "part {number} holds files its index entry does not list: {:?}",
            besides.difference(&common).collect::<Vec<_>>()
        );
        assert_eq!(
            listed["bytes"],
            files
                .iter()
                .map(|f| contents[k][f].len() as u64)
                .sum::<u64>()
        );
        for f in files {
            let bytes = contents[k][&f].clone();
            assert!(
                union.insert(f.clone(), bytes).is_none(),
                "{f} is in two parts"
            );
        }
    }
    let set = verify_set(&report.parts[n - 1].path).expect("verify the set");
    assert!(set.ok, "{:?}", set.problems);
    assert_eq!(set.parts.len(), n);
    Union {
        files: union,
        common,
    }
}

/// The records of `cat` from whichever part holds them.
fn part_records(report: &ExportReport, cat: &str) -> Vec<Value> {
    let part = report
        .parts
        .iter()
        .find(|p| read_entry_to_string(&p.path, &format!("data/{cat}.json")).is_ok())
        .unwrap_or_else(|| panic!("no part holds {cat}.json"));
    records(&part.path, cat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_in_300_kb_parts_holds_every_record_and_file_exactly_once() {
    const LIMIT: u64 = 300_000;
    let p = support::unlimited(Preset::Demo).await;
    let token = p.token("alice", "export:self");

    // The same account in one archive, to compare with.
    let whole_dest = Dest::new();
    let whole = support::run(&p, &token, &whole_dest, support::options(&whole_dest.out()))
        .await
        .expect("export");
    assert!(whole.parts.is_empty(), "one archive when not split");
    assert!(
        whole.bytes > 3 * LIMIT,
        "alice's archive ({} bytes) needs several parts",
        whole.bytes
    );

    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.split_size = Some(LIMIT);
    let report = support::run(&p, &token, &dest, opts).await.expect("export");
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    let union = check_set(&report, LIMIT);

    // Only the parts are left, and they sort in order.
    let mut left: Vec<PathBuf> = fs_err::read_dir(dest.out())
        .expect("out")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    left.sort();
    let parts: Vec<PathBuf> = report.parts.iter().map(|p| p.path.clone()).collect();
    assert_eq!(left, parts, "nothing but the parts: no .partial, no spool");

    // The set's SHA-256 is what `sha256sum NAME.part*.zip | sha256sum` gives.
    let listing: String = parts
        .iter()
        .map(|p| {
            let sha = hex::encode(Sha256::digest(fs_err::read(p).expect("part")));
            format!("{sha}  {}\n", file_name(p))
        })
        .collect();
    assert_eq!(report.sha256, hex::encode(Sha256::digest(listing)));

    // The union is the whole archive, file for file (except the tag and
    // index files every part has, which differ from export to export).
    let whole_files = entries(&whole.archive);
    let expected: BTreeMap<&String, &Vec<u8>> = whole_files
        .iter()
        .filter(|(k, _)| !union.common.contains(*k))
        .collect();
    let got: BTreeMap<&String, &Vec<u8>> = union.files.iter().collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (name, bytes) in &expected {
        assert!(
            got[*name] == *bytes,
            "{name} differs from the whole archive"
        );
    }

    // Every record of the platform, exactly once.
    assert_eq!(
        ids(&part_records(&report, "posts")),
        p.state.store().post_ids(p.user_id("alice")).expect("ids")
    );
    let media = part_records(&report, "media");
    assert!(!media.is_empty());
    for m in &media {
        let path = m["archive_path"].as_str().expect("downloaded");
        assert_eq!(
            union.files.get(path).map(|b| b.len() as u64),
            m["size"].as_u64(),
            "{path} is in exactly one part, whole"
        );
    }
    let m = manifest(&report.parts[0].path);
    assert_eq!(m["split_size"], LIMIT);
    assert_eq!(m["counts"], manifest(&whole.archive)["counts"]);
    assert_eq!(m["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_file_larger_than_a_part_gets_a_part_of_its_own_with_a_warning() {
    const LIMIT: u64 = 40_000;
    let p = support::unlimited(Preset::Demo).await;
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.split_size = Some(LIMIT);
    let report = support::run(&p, &p.token("alice", "export:self"), &dest, opts)
        .await
        .expect("export");
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    let big: Vec<Value> = part_records(&report, "media")
        .into_iter()
        .filter(|m| m["size"].as_u64().is_some_and(|s| s > LIMIT))
        .collect();
    assert!(
        !big.is_empty(),
        "alice has photos larger than {LIMIT} bytes"
    );
    for m in &big {
        let path = m["archive_path"].as_str().expect("path");
        assert!(
            report.warnings.iter().any(|w| w.contains(path)),
            "{path}: {:?}",
            report.warnings
        );
    }
    let manifest_warnings = manifest(&report.parts[0].path)["warnings"].clone();
    for w in &report.warnings {
        assert!(
            manifest_warnings
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == w.as_str())),
            "the manifest records {w:?}"
        );
    }
    check_set(&report, LIMIT);
}

/// Where a test cancels an export (keeping what was fetched).
#[derive(Debug, Clone, Copy)]
enum At {
    /// Once this fraction of the estimated bytes are in.
    Bytes(f64),
    /// Once the parts are being written, after everything was fetched.
    WritingParts,
}

struct CancelAt {
    flag: CancelFlag,
    at: At,
}

impl Reporter for CancelAt {
    fn report(&self, e: ExportEvent) {
        let now = match (e, self.at) {
            (ExportEvent::Bytes { done, total, .. }, At::Bytes(fraction)) => {
                total > 0 && done as f64 >= total as f64 * fraction
            }
            (ExportEvent::WritingParts { done, .. }, At::WritingParts) => done > 0,
            _ => false,
        };
        if now {
            self.flag.cancel(true);
        }
    }
}

/// The ids of the media files a stopped split export set aside in its
/// spool folder, as its journal lists them (`data/media/{id}-{name}`), and
/// whose data is still there (not yet written into a part and freed): its
/// range of its segment has the CRC-32 the line gives.
fn set_aside_media(dest: &Dest) -> Vec<String> {
    let staging = fs_err::read_dir(dest.out())
        .expect("out")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".keepsake-"))
        })
        .expect("a staging folder");
    let spool = staging.join("spool");
    let Ok(journal) = fs_err::read_to_string(spool.join("kept.jsonl")) else {
        return Vec::new();
    };
    journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            let (Some(file), Some(offset), Some(len)) = (
                v["file"].as_str(),
                v["offset"].as_u64(),
                v["compressed_len"].as_u64(),
            ) else {
                return false;
            };
            fs_err::read(spool.join(file)).is_ok_and(|data| {
                let range = usize::try_from(offset)
                    .ok()
                    .zip(usize::try_from(offset + len).ok());
                range
                    .and_then(|(from, to)| data.get(from..to))
                    .is_some_and(|r| {
                        Some(u64::from(crc32fast::hash(r))) == v["stored_crc32"].as_u64()
                    })
            })
        })
        .filter_map(|v| {
            let name = v["name"].as_str()?.strip_prefix("data/media/")?;
            Some(name.split('-').next()?.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_export_cancelled_at_several_points_resumes_to_the_same_parts() {
    const LIMIT: u64 = 300_000;
    let p = support::unlimited(Preset::Demo).await;
    let token = p.token("alice", "export:self");
    let client = support::client(&p, &token);
    let split = |dest: &Dest| {
        let mut opts = support::options(&dest.out());
        opts.split_size = Some(LIMIT);
        opts
    };

    let dest = Dest::new();
    p.state.reset_requests();
    let uninterrupted = support::run(&p, &token, &dest, split(&dest))
        .await
        .expect("export");
    let media = p.hits("/content");
    let expected = check_set(&uninterrupted, LIMIT).files;
    let compressed = expected
        .keys()
        .filter(|name| name.starts_with("data/media/") && name.ends_with(".txt"))
        .count() as u64;
    assert!(compressed > 0, "alice has text files, which are compressed");

    let mut ever_set_aside = false;
    let points = [
        At::Bytes(0.2),
        At::Bytes(0.5),
        At::Bytes(0.9),
        At::WritingParts,
    ];
    for point in points {
        let dest = Dest::new();
        p.state.reset_requests();
        let flag = CancelFlag::default();
        let cancel = Arc::new(CancelAt {
            flag: flag.clone(),
            at: point,
        });
        let err = export::run(&client, &split(&dest), cancel, flag, Some(&dest.audit))
            .await
            .expect_err("cancelled");
        assert!(matches!(err, Error::Cancelled), "{point:?}: {err:?}");
        assert!(dest.archives().is_empty(), "{point:?}: no part is final");
        let left = dest.names();
        assert!(
            left.len() == 1 && left[0].starts_with(".keepsake-"),
            "{point:?}: only what was fetched is left: {left:?}"
        );
        let before = p.hits("/content");
        let journaled = set_aside_media(&dest);
        ever_set_aside |= !journaled.is_empty();
        let content = |id: &String| format!("/media/{id}/content");
        let counts: Vec<u64> = journaled.iter().map(|id| p.hits(&content(id))).collect();

        let what = format!("{point:?}");
        let report = support::resume_to_completion(&p, &token, &dest, split(&dest), &what).await;
        let got = check_set(&report, LIMIT).files;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{point:?}: the same files as an uninterrupted run"
        );
        for (name, bytes) in &expected {
            assert!(got[name] == *bytes, "{point:?}: {name} differs");
        }
        let again = p.hits("/content") - before;
        // What was set aside in the spool (a download held in memory) is
        // kept.
        for (id, count) in journaled.iter().zip(counts) {
            assert_eq!(
                p.hits(&content(id)) - count,
                0,
                "{point:?}: media {id} was set aside before the cancel, yet downloaded again"
            );
        }
        eprintln!("cancelled at {point:?}: {before} downloads, then {again}, of {media} files");
        let most = match point {
            // Files downloaded before the cancel and set aside in the
            // spool stay there: only those in flight then (one per
            // downloader at most) come twice, and those held in memory
            // not yet set aside (compressed ones wait for the preparing
            // pool).
            At::Bytes(_) => media + 4 + compressed,
            // Every file was in; those already in parts written before the
            // cancel left staging or the spool, and come again (the parts
            // do not stay): at most every file once more.
            At::WritingParts => 2 * media,
        };
        assert!(
            before + again <= most,
            "{point:?}: {before} downloads, then {again}, of {media} files"
        );
    }
    assert!(
        ever_set_aside,
        "some cancel came after a file was set aside in the spool"
    );
}
