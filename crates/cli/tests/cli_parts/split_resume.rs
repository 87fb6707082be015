//! A split export killed with `kill -9` while it downloads, then resumed:
//! what it set aside in its spool folder (journaled) is kept, not
//! downloaded again, and the parts hold what an uninterrupted run's hold.

use std::collections::BTreeMap;
use std::io::Read as _;

use super::forms::unlimited;
use super::*;

const SPLIT: &str = "300KB";

fn split_args(out: &Path) -> Vec<String> {
    ["export", "--json", "--split-size", SPLIT, "--out"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([out.to_str().expect("path").to_owned()])
        .collect()
}

/// Every data file of the parts a report names, by name.
fn files_of(report: &Value) -> BTreeMap<String, Vec<u8>> {
    let mut all = BTreeMap::new();
    for part in report["parts"].as_array().expect("parts") {
        let path = part["path"].as_str().expect("path");
        let mut zip = zip::ZipArchive::new(fs_err::File::open(path).expect("part")).expect("zip");
        for i in 0..zip.len() {
            let mut e = zip.by_index(i).expect("entry");
            let name = e.name().expect("name").into_owned();
            // The index files say when and how the run went.
            if !name.starts_with("data/") || name.contains("manifest") {
                continue;
            }
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).expect("read");
            all.insert(name, bytes);
        }
    }
    all
}

/// The media ids the spool journal of the export in `out` names, once it
/// names one; empty if the export ended first.
fn wait_for_spooled_media(out: &Path, child: &mut std::process::Child) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Vec::new();
        }
        let journal = staging_dir(out)
            .and_then(|dir| fs_err::read_to_string(dir.join("spool/kept.jsonl")).ok())
            .unwrap_or_default();
        let ids: Vec<String> = journal
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                let name = v["name"].as_str()?.strip_prefix("data/media/")?;
                Some(name.split('-').next()?.to_owned())
            })
            .collect();
        if !ids.is_empty() {
            return ids;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_export_killed_with_9_keeps_what_its_spool_journaled() {
    let p = unlimited(Preset::Demo).await;
    let h = Home::new(&p);
    let token = p.token("alice", "export:self");
    let args = split_args(&h.path("whole-run"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = h.run(Some(&token), &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let expected = files_of(&result_json(&o));

    // Slow answers, so the kill comes with some files set aside and others
    // still to come.
    p.state.set_faults(FaultPlan {
        latency_ms: 60,
        ..FaultPlan::default()
    });
    let out = h.path("out");
    let args = split_args(&out);
    let mut child = h
        .cmd(Some(&token))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let spooled = wait_for_spooled_media(&out, &mut child);
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(
        !spooled.is_empty(),
        "the export was killed once a download was set aside"
    );
    let left: Vec<String> = fs_err::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|n| !n.ends_with(".zip")),
        "no finished-looking part after kill -9: {left:?}"
    );

    p.state.set_faults(FaultPlan::default());
    p.state.reset_requests();
    let mut resume: Vec<&str> = args.iter().map(String::as_str).collect();
    resume.push("--resume");
    let o = h.run(Some(&token), &resume);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = result_json(&o);
    assert_eq!(report["resumed"], true, "{report}");
    for id in &spooled {
        let again = p.hits(&format!("/media/{id}/content"));
        assert_eq!(again, 0, "media {id} was set aside before the kill");
    }
    let got = files_of(&report);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the same files as an uninterrupted run"
    );
    for (name, bytes) in &expected {
        assert!(
            got[name] == *bytes,
            "{name} differs from an uninterrupted run's"
        );
    }
    let first = report["parts"][0]["path"].as_str().expect("part 1");
    let o = h.run(None, &["verify", "--set", first]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}
