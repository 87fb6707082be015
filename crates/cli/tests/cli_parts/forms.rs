//! Archives in other forms through the CLI: split parts that verify alone
//! and as a set, the formats and split sizes checked before anything is
//! fetched, and a date range whose counts reconcile.

use super::*;

/// A platform where one account may export several times in a row.
pub(super) async fn unlimited(preset: Preset) -> Platform {
    Platform::start_with(
        preset,
        Config {
            quota_per_window: 0,
            rate_limit_per_min: 0,
            ..Config::default()
        },
    )
    .await
}

fn entry(archive: &Path, name: &str) -> Option<String> {
    keepsake_core::archive::read_entry_to_string(archive, name).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_parts_verify_alone_and_as_a_set_and_a_missing_part_is_reported() {
    let p = Platform::start(Preset::Demo).await;
    let h = Home::new(&p);
    let out = h.path("out");
    let o = h.run(
        Some(&p.token("alice", "export:self")),
        &[
            "export",
            "--json",
            "--split-size",
            "300KB",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = result_json(&o);
    let parts: Vec<PathBuf> = report["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| PathBuf::from(p["path"].as_str().expect("path")))
        .collect();
    let n = parts.len();
    assert!(n >= 3, "alice in 300 KB parts: {n}");
    // Writing the parts is told as it goes, ending with every part done.
    let writing: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "writing_parts")
        .collect();
    let last = writing.last().expect("writing_parts events");
    assert_eq!(
        (&last["written"], &last["parts"]),
        (&Value::from(n), &Value::from(n)),
        "{last}"
    );
    assert_eq!(last["done"], last["total"], "{last}");
    for (k, part) in parts.iter().enumerate() {
        let name = part.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.ends_with(&format!(".part{:02}-of-{n:02}.zip", k + 1)),
            "{name}"
        );
        assert!(fs_err::metadata(part).expect("part").len() <= 300_000);
    }
    let path = |p: &PathBuf| p.to_str().expect("path").to_owned();

    // One part alone is a complete archive.
    let o = h.run(None, &["verify", &path(&parts[1])]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("intact"), "{}", text(&o));
    assert!(text(&o).contains(&format!("part 2 of {n}")), "{}", text(&o));

    // The whole set, from any part.
    let o = h.run(None, &["verify", "--set", &path(&parts[0])]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        text(&o).contains(&format!("complete and intact: all {n} parts")),
        "{}",
        text(&o)
    );
    let o = h.run(None, &["verify", "--set", "--json", &path(&parts[n - 1])]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let set = result_json(&o);
    assert_eq!(set["ok"], true);
    assert_eq!(set["parts"].as_array().map(Vec::len), Some(n));

    // A part gone: the others are fine, the set is not.
    fs_err::rename(&parts[1], h.path("elsewhere.zip")).expect("move part 2");
    let o = h.run(None, &["verify", "--set", &path(&parts[0])]);
    assert_eq!(code(&o), 5, "{}", text(&o));
    assert!(text(&o).contains("part 2 is missing"), "{}", text(&o));
    assert!(text(&o).contains("INCOMPLETE"), "{}", text(&o));
    let o = h.run(None, &["verify", &path(&parts[0])]);
    assert_eq!(code(&o), 0, "part 1 alone is still intact: {}", text(&o));

    // --set on an archive that is not a part says so.
    let o = h.run(None, &["verify", "--set", &path(&h.path("elsewhere.zip"))]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains("not a part of a split archive"),
        "{}",
        text(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn formats_and_split_sizes_are_checked_before_anything_is_fetched() {
    let p = Platform::start(Preset::Demo).await;
    let h = Home::new(&p);
    let token = p.token("alice", "export:self");
    let out = h.path("out");
    let out = out.to_str().expect("path");
    for (args, says) in [
        (vec!["--formats", "csv,viewer"], "must include json"),
        (vec!["--formats", "json,xml"], "not an archive format"),
        (vec!["--split-size", "10KB"], "too small"),
        (vec!["--split-size", "lots"], "not a size"),
    ] {
        let mut all = vec!["export", "--out", out];
        all.extend(args.iter().copied());
        let o = h.run(Some(&token), &all);
        assert_eq!(code(&o), 2, "{args:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{args:?}: {}", text(&o));
    }
    assert_eq!(
        p.state
            .store()
            .export_count(p.user_id("alice"))
            .expect("count"),
        0,
        "no export was opened"
    );
    let help = text(&h.run(None, &["export", "--help"]));
    for flag in ["--formats", "--split-size", "--since", "--until"] {
        assert!(help.contains(flag), "{flag} in --help");
    }

    // JSON only: no CSV, and the manifest says so.
    let o = h.run(
        Some(&token),
        &["export", "--json", "--formats", "json", "--out", out],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let archive = PathBuf::from(result_json(&o)["archive"].as_str().expect("archive"));
    assert!(entry(&archive, "data/posts.json").is_some());
    assert!(entry(&archive, "data/posts.csv").is_none());
    let manifest: Value =
        serde_json::from_str(&entry(&archive, "data/manifest.json").expect("manifest"))
            .expect("json");
    assert_eq!(manifest["formats"], serde_json::json!(["json"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_range_exports_only_records_in_range_and_the_counts_reconcile() {
    const SINCE: &str = "2020-01-01";
    const UNTIL: &str = "2022-01-01";
    let p = unlimited(Preset::Demo).await;
    let alice = p.user_id("alice");

    // What the platform holds in range, from an unfiltered walk.
    let api = p.api(&p.token("carol", "export:any"));
    let open = api
        .open_export(alice, serde_json::json!({"reason": "reference walk"}))
        .await
        .expect(201);
    let eid = open.body["export_id"].as_str().expect("id").to_owned();
    let mut in_range = std::collections::BTreeMap::new();
    for cat in ["posts", "comments", "likes", "connections", "media"] {
        let all = api.walk(alice, &eid, cat, 500).await;
        let ids: Vec<i64> = all
            .iter()
            .filter(|r| {
                let t = r["created_at"].as_str().expect("created_at");
                (SINCE..UNTIL).contains(&t)
            })
            .map(|r| r["id"].as_i64().expect("id"))
            .collect();
        assert!(ids.len() < all.len(), "{cat}: the range leaves records out");
        in_range.insert(cat, ids);
    }
    api.finish(alice, &eid, serde_json::json!({"status": "cancelled"}))
        .await
        .expect(200);

    let h = Home::new(&p);
    let token = p.token("alice", "export:self");
    let out = h.path("out");
    let args = [
        "export",
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--out",
        out.to_str().expect("path"),
    ];
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let o = h.run(Some(&token), &json_args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = result_json(&o);
    assert_eq!(report["outcome"], "completed");
    // As the platform normalised them.
    let (since, until) = (format!("{SINCE}T00:00:00Z"), format!("{UNTIL}T00:00:00Z"));
    assert_eq!(report["since"], since.as_str());
    assert_eq!(report["until"], until.as_str());
    let archive = PathBuf::from(report["archive"].as_str().expect("archive"));
    let manifest: Value =
        serde_json::from_str(&entry(&archive, "data/manifest.json").expect("manifest"))
            .expect("json");
    assert_eq!(manifest["status"], "completed");
    assert_eq!(
        manifest["filters"],
        serde_json::json!({"since": since, "until": until})
    );
    for (cat, expected_ids) in &in_range {
        let records: Value =
            serde_json::from_str(&entry(&archive, &format!("data/{cat}.json")).expect(cat))
                .expect("json");
        assert_eq!(
            &keepsake_tests::ids(records.as_array().expect("array")),
            expected_ids,
            "{cat}: exactly the records in range"
        );
        let n = expected_ids.len() as u64;
        assert_eq!(
            report["counts"][cat]["expected"], n,
            "{cat}: the filtered expectation"
        );
        assert_eq!(report["counts"][cat]["retrieved"], n, "{cat}");
        assert_eq!(manifest["counts"][cat]["expected"], n, "{cat}");
    }
    let media_files = &report["counts"]["media_files"];
    assert_eq!(media_files["expected"], media_files["retrieved"]);
    assert_eq!(media_files["retrieved"], in_range["media"].len());

    // The text summary states the range.
    let o = h.run(Some(&token), &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!(
            "records created from {since} until before {until}"
        )),
        "{}",
        text(&o)
    );
}
