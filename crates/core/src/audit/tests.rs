#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use tempfile::TempDir;

use super::*;

fn entry(actor: &str) -> AuditEntry {
    AuditEntry {
        actor: actor.into(),
        actor_id: Some(7.into()),
        subject: "zoë".into(),
        subject_id: Some(8.into()),
        reason: Some("ticket 42".into()),
        platform: "http://127.0.0.1:8080".into(),
        categories: vec!["posts".into(), "likes".into()],
        filters: Filters {
            since: Some("2024-01-01T00:00:00Z".into()),
            until: None,
        },
        export_id: Some("exp_1".into()),
        result: Outcome::Completed,
        error_code: None,
        error_message: None,
        counts: BTreeMap::from([
            (
                "posts".into(),
                CategoryCount {
                    expected: Some(10),
                    retrieved: 10,
                },
            ),
            (
                "likes".into(),
                CategoryCount {
                    expected: None,
                    retrieved: 3,
                },
            ),
        ]),
        bytes: 1234,
        archive_path: Some("/home/zoë/exports/keepsake.zip".into()),
        archive_sha256: Some("ab".repeat(32)),
        duration_ms: 987,
        app_version: crate::VERSION.into(),
        report: None,
    }
}

fn log_with(records: usize) -> (TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(&dir.path().join("keepsake")).unwrap();
    for i in 0..records {
        log.append(entry(&format!("actor{}", i + 1))).unwrap();
    }
    (dir, log)
}

fn lines(log: &AuditLog) -> Vec<String> {
    fs_err::read_to_string(log.log_path())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rewrite(log: &AuditLog, lines: &[String]) {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    fs_err::write(log.log_path(), text).unwrap();
}

/// Asserts the chain is broken and returns the problems as one string.
fn broken(log: &AuditLog) -> String {
    let report = log.verify().unwrap();
    assert!(!report.ok, "verify should fail: {report:?}");
    assert!(!report.problems.is_empty());
    report.problems.join("\n")
}

#[test]
fn three_appends_verify() {
    let (_dir, log) = log_with(3);
    let records = log.list().unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(records[0].prev_hash, "0".repeat(64));
    assert_eq!(records[1].prev_hash, records[0].hash);
    assert_eq!(records[2].prev_hash, records[1].hash);
    assert_eq!(records[2].entry, entry("actor3"));
    assert!(records.iter().all(|r| chain::is_hash(&r.hash)));
    // RFC 3339, UTC, milliseconds.
    let time = &records[0].time;
    assert_eq!(time.len(), "2025-01-01T00:00:00.000Z".len(), "{time}");
    time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).unwrap();

    let head: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(log.head_path()).unwrap()).unwrap();
    assert_eq!(
        head,
        serde_json::json!({ "seq": 3, "hash": records[2].hash })
    );

    let report = log.verify().unwrap();
    assert_eq!(
        report,
        ChainReport {
            ok: true,
            records: 3,
            problems: vec![]
        }
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(log.dir()), 0o700);
        assert_eq!(mode(&log.log_path()), 0o600);
        assert_eq!(mode(&log.head_path()), 0o600);
    }
}

#[test]
fn empty_log_verifies() {
    let (_dir, log) = log_with(0);
    assert_eq!(
        log.verify().unwrap(),
        ChainReport {
            ok: true,
            records: 0,
            problems: vec![]
        }
    );
    assert!(log.list().unwrap().is_empty());
    fs_err::write(log.log_path(), "").unwrap();
    assert!(log.verify().unwrap().ok);
}

#[test]
fn edited_record_is_named() {
    let (_dir, log) = log_with(3);
    let mut l = lines(&log);
    assert!(l[1].contains(r#""actor":"actor2""#));
    l[1] = l[1].replace(r#""actor":"actor2""#, r#""actor":"mallory""#);
    rewrite(&log, &l);
    let problems = broken(&log);
    assert!(
        problems.contains("record 2 (line 2) was altered"),
        "{problems}"
    );
    assert_eq!(log.verify().unwrap().problems.len(), 1, "{problems}");
}

#[test]
fn rehashed_edit_breaks_the_chain() {
    let (_dir, log) = log_with(3);
    let mut l = lines(&log);
    let mut value: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
    value["reason"] = "nothing to see".into();
    value["hash"] = chain::hash_of(&value).into();
    l[1] = value.to_string();
    rewrite(&log, &l);
    let problems = broken(&log);
    assert!(
        problems.contains("record 3 (line 3) does not chain"),
        "{problems}"
    );
}

#[test]
fn deleted_middle_record_is_detected() {
    let (_dir, log) = log_with(3);
    let mut l = lines(&log);
    l.remove(1);
    rewrite(&log, &l);
    let problems = broken(&log);
    assert!(
        problems.contains("record 2 is missing before record 3 (line 2)"),
        "{problems}"
    );
}

#[test]
fn reordered_records_are_detected() {
    let (_dir, log) = log_with(3);
    let mut l = lines(&log);
    l.swap(1, 2);
    rewrite(&log, &l);
    let problems = broken(&log);
    assert!(
        problems.contains("record 2 (line 3) is out of order"),
        "{problems}"
    );
}

#[test]
fn truncated_end_is_detected() {
    let (_dir, log) = log_with(3);
    let mut l = lines(&log);
    l.pop();
    rewrite(&log, &l);
    let problems = broken(&log);
    assert!(
        problems.contains("the log ends at record 2 but its head says it ends at record 3"),
        "{problems}"
    );
}

#[test]
fn log_cut_mid_line_is_detected() {
    let (_dir, log) = log_with(3);
    let text = fs_err::read(log.log_path()).unwrap();
    fs_err::write(log.log_path(), &text[..text.len() - 20]).unwrap();
    let problems = broken(&log);
    assert!(problems.contains("line 3 is incomplete"), "{problems}");
    assert!(
        problems.contains("head says it ends at record 3"),
        "{problems}"
    );
    assert!(log.list().is_err());
}

#[test]
fn malformed_line_is_detected() {
    let (_dir, log) = log_with(3);
    let mut l = lines(&log);
    l[1] = "{not json".into();
    rewrite(&log, &l);
    let problems = broken(&log);
    assert!(problems.contains("line 2 is not valid JSON"), "{problems}");
    // Reported once: record 3 is not also blamed for the gap.
    assert_eq!(log.verify().unwrap().problems.len(), 1, "{problems}");
    assert_eq!(log.verify().unwrap().records, 2);
}

#[test]
fn missing_head_is_detected() {
    let (_dir, log) = log_with(2);
    fs_err::remove_file(log.head_path()).unwrap();
    let problems = broken(&log);
    assert!(
        problems.contains("head file") && problems.contains("is missing"),
        "{problems}"
    );
}

#[test]
fn head_without_log_is_detected() {
    let (_dir, log) = log_with(2);
    fs_err::remove_file(log.log_path()).unwrap();
    assert!(broken(&log).contains("the log file is missing"));
    fs_err::write(log.log_path(), "").unwrap();
    assert!(broken(&log).contains("emptied or truncated"));
}

#[test]
fn appending_after_tampering_is_refused() {
    type Tamper = fn(&AuditLog);
    let tampers: [(&str, Tamper); 6] = [
        ("last line removed", |log| {
            let mut l = lines(log);
            l.pop();
            rewrite(log, &l);
        }),
        ("head removed", |log| {
            fs_err::remove_file(log.head_path()).unwrap()
        }),
        ("log removed", |log| {
            fs_err::remove_file(log.log_path()).unwrap()
        }),
        ("last line edited", |log| {
            let l: Vec<String> = lines(log)
                .into_iter()
                .map(|l| l.replace("actor2", "mallory"))
                .collect();
            rewrite(log, &l);
        }),
        ("head replaced", |log| {
            fs_err::write(
                log.head_path(),
                format!(r#"{{"seq":2,"hash":"{}"}}"#, "1".repeat(64)),
            )
            .unwrap();
        }),
        ("torn line", |log| {
            let mut text = fs_err::read_to_string(log.log_path()).unwrap();
            text.push_str(r#"{"seq":3,"#);
            fs_err::write(log.log_path(), text).unwrap();
        }),
    ];
    for (what, tamper) in tampers {
        let (_dir, log) = log_with(2);
        tamper(&log);
        let before = fs_err::read(log.log_path()).ok();
        match log.append(entry("actor3")) {
            Err(Error::Audit { detail, .. }) => {
                assert!(detail.contains("keepsake audit verify"), "{what}: {detail}");
            }
            other => panic!("{what}: append should be refused, got {other:?}"),
        }
        assert_eq!(
            fs_err::read(log.log_path()).ok(),
            before,
            "{what}: the log was written to"
        );
        assert!(!log.verify().unwrap().ok, "{what}");
    }
}

#[test]
fn interrupted_append_is_carried_on() {
    // A crash between writing a record and its head leaves the head one
    // record behind; that is not tampering, and the chain goes on.
    let (_dir, log) = log_with(2);
    let head = fs_err::read(log.head_path()).unwrap();
    log.append(entry("actor3")).unwrap();
    fs_err::write(log.head_path(), head).unwrap();
    assert!(log.verify().unwrap().ok);
    assert_eq!(log.append(entry("actor4")).unwrap().seq, 4);
    assert_eq!(
        log.verify().unwrap(),
        ChainReport {
            ok: true,
            records: 4,
            problems: vec![]
        }
    );
}

#[test]
fn concurrent_appends_form_one_chain() {
    const THREADS: usize = 8;
    const EACH: usize = 10;
    let (_dir, log) = log_with(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            // A separate handle per thread, as separate processes would have.
            let log = AuditLog::open(log.dir()).unwrap();
            s.spawn(move || {
                for i in 0..EACH {
                    log.append(entry(&format!("t{t}-{i}"))).unwrap();
                }
            });
        }
    });
    let report = log.verify().unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, (THREADS * EACH) as u64);
    let seqs: Vec<u64> = log.list().unwrap().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=(THREADS * EACH) as u64).collect::<Vec<_>>());
}

#[test]
fn records_have_no_place_for_a_secret() {
    let (_dir, log) = log_with(1);
    let value: serde_json::Value = serde_json::from_str(&lines(&log)[0]).unwrap();
    let keys: BTreeSet<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "seq",
        "time",
        "actor",
        "actor_id",
        "subject",
        "subject_id",
        "reason",
        "platform",
        "categories",
        "filters",
        "export_id",
        "result",
        "error_code",
        "error_message",
        "counts",
        "bytes",
        "archive_path",
        "archive_sha256",
        "duration_ms",
        "app_version",
        "prev_hash",
        "hash",
    ]
    .into();
    // A new field must be added here on purpose, after checking that it can
    // never hold a token.
    assert_eq!(keys, expected);
    for key in keys {
        for word in [
            "token",
            "secret",
            "password",
            "auth",
            "cookie",
            "credential",
        ] {
            assert!(!key.contains(word), "{key}");
        }
    }
}

#[test]
fn tokens_in_free_text_are_redacted() {
    let (_dir, log) = log_with(0);
    let mut e = entry("alice");
    e.reason = Some("customer pasted ksp_AbC-12_x9= into the ticket".into());
    e.error_message = Some("401 with Authorization: Bearer ksa_q.w-e/r+t=; retry (ksr_zz)".into());
    e.platform = "https://me:pw@platform.example/?access_token=ksa_x".into();
    let record = log.append(e).unwrap();
    assert_eq!(
        record.entry.reason.as_deref(),
        Some("customer pasted [redacted] into the ticket")
    );
    assert_eq!(
        record.entry.error_message.as_deref(),
        Some("401 with Authorization: Bearer [redacted]; retry ([redacted])")
    );
    assert_eq!(record.entry.platform, "https://platform.example/");
    let text = fs_err::read_to_string(log.log_path()).unwrap();
    for needle in ["ksp_", "ksa_", "ksr_", "pw@"] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }
    // Words that merely contain a prefix are left alone.
    assert_eq!(
        chain::redact("disk_full, task_1, bearer"),
        "disk_full, task_1, bearer"
    );
    assert!(log.verify().unwrap().ok);
}

#[test]
fn canonical_json_sorts_keys_and_escapes_like_serde_json() {
    let value = serde_json::json!({
        "hash": "ignored",
        "b": [1, -2, null, true, {"z": "é\u{1}\n\t\"\\", "a": {}}],
        "a": "x",
    });
    let mut without = value.clone();
    without.as_object_mut().unwrap().remove("hash");
    let expected = r#"{"a":"x","b":[1,-2,null,true,{"a":{},"z":"é\u0001\n\t\"\\"}]}"#;
    assert_eq!(
        chain::hash_of(&value),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(expected))
    );
}

#[test]
fn csv_round_trips_through_python() {
    let (dir, log) = log_with(0);
    let tricky = "=HYPERLINK(\"http://evil.example\",\"click\"), then\nsay \"hi\", ok";
    let mut e = entry("alice");
    e.reason = Some(tricky.into());
    e.result = Outcome::Failed;
    e.error_code = Some("network".into());
    e.error_message = Some("reset\u{1} — «retry»".into());
    e.filters.until = Some("2025-01-01T00:00:00Z".into());
    log.append(e).unwrap();
    let mut e = entry("bob");
    e.reason = None;
    e.archive_path = Some("-rf".into());
    log.append(e).unwrap();
    let records = log.list().unwrap();

    let csv_path = dir.path().join("audit.csv");
    let mut file = fs_err::File::create(&csv_path).unwrap();
    assert_eq!(log.export_csv(&mut file).unwrap(), 2);
    drop(file);

    // Python reads the CSV, and recomputes every hash from the documented
    // formula: an archivist can verify the log without Keepsake.
    let script = r#"
import csv, hashlib, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
hashes = []
for line in open(sys.argv[2], encoding="utf-8"):
    record = json.loads(line)
    stored = record.pop("hash")
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    hashes.append([stored, hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
print(json.dumps({"rows": rows, "hashes": hashes}))
"#;
    let output = match Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&csv_path)
        .arg(log.log_path())
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipped: python3 is not installed");
            return;
        }
        Err(e) => panic!("python3: {e}"),
    };
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows: Vec<Vec<String>> = serde_json::from_value(parsed["rows"].clone()).unwrap();
    let hashes: Vec<[String; 2]> = serde_json::from_value(parsed["hashes"].clone()).unwrap();

    for [stored, recomputed] in &hashes {
        assert_eq!(stored, recomputed);
    }
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].len(), 20);
    let row = |i: usize| -> BTreeMap<&str, &str> {
        rows[0]
            .iter()
            .map(String::as_str)
            .zip(rows[i].iter().map(String::as_str))
            .collect()
    };
    let first = row(1);
    assert_eq!(first["seq"], "1");
    assert_eq!(first["time"], records[0].time);
    assert_eq!(first["actor"], "alice");
    assert_eq!(first["subject"], "zoë");
    assert_eq!(first["reason"], format!("'{tricky}"));
    assert_eq!(first["platform"], "http://127.0.0.1:8080");
    assert_eq!(first["categories"], "posts;likes");
    assert_eq!(first["since"], "2024-01-01T00:00:00Z");
    assert_eq!(first["until"], "2025-01-01T00:00:00Z");
    assert_eq!(first["export_id"], "exp_1");
    assert_eq!(first["result"], "failed");
    assert_eq!(first["error_code"], "network");
    assert_eq!(first["bytes"], "1234");
    assert_eq!(first["archive_path"], "/home/zoë/exports/keepsake.zip");
    assert_eq!(first["archive_sha256"], "ab".repeat(32));
    assert_eq!(first["duration_ms"], "987");
    assert_eq!(first["app_version"], crate::VERSION);
    assert_eq!(first["counts"], "likes=?/3;posts=10/10");
    assert_eq!(first["hash"], records[0].hash);
    assert_eq!(first["report"], "");
    let second = row(2);
    assert_eq!(second["reason"], "");
    assert_eq!(second["result"], "completed");
    assert_eq!(second["archive_path"], "'-rf");
    assert_eq!(second["hash"], records[1].hash);
}

#[test]
fn a_follow_up_about_the_report_chains_like_any_record() {
    let (_dir, log) = log_with(1);
    let mut follow = entry("alice");
    follow.report = Some(Report::Pending);
    log.append(follow).unwrap();
    let lines = lines(&log);
    // Records without a report are written as before the field existed, so
    // their hashes (and older readers) are unaffected.
    assert!(!lines[0].contains("\"report\""), "{}", lines[0]);
    assert!(lines[1].contains("\"report\":\"pending\""), "{}", lines[1]);
    assert!(log.verify().unwrap().ok);
    let records = log.list().unwrap();
    assert_eq!(records[0].entry.report, None);
    assert_eq!(records[1].entry.report, Some(Report::Pending));
}

#[cfg(unix)]
#[test]
fn open_creates_a_private_directory() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/keepsake");
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(
        fs_err::metadata(log.dir()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(!log.log_path().exists() && !log.head_path().exists());
}
