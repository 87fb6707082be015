//! The CSV copies in real archives, read back by an independent reader
//! (Python's `csv` module) and compared with the JSON cell by cell.

use std::path::Path;
use std::process::Command;

use keepsake_core::archive::read_entry_to_string;
use keepsake_core::export::Formats;
use keepsake_platform::seed::{self, Preset};
use keepsake_tests::Platform;
use serde_json::Value;

use crate::support::{self, Dest, records};

/// The columns each CSV file must have, and where each comes from in the
/// JSON record: the layout docs/archive-format.md promises, restated here
/// independently of the engine's table.
const LAYOUT: [(&str, &[(&str, &str)]); 4] = [
    (
        "posts",
        &[
            ("id", "/id"),
            ("created_at", "/created_at"),
            ("body", "/body"),
            ("visibility", "/visibility"),
            ("reply_to", "/reply_to"),
            ("media_ids", "/media_ids"),
        ],
    ),
    (
        "comments",
        &[
            ("id", "/id"),
            ("created_at", "/created_at"),
            ("post_id", "/post_id"),
            ("body", "/body"),
            ("post_author", "/post_author/login"),
            ("post_author_id", "/post_author/id"),
        ],
    ),
    (
        "likes",
        &[
            ("id", "/id"),
            ("created_at", "/created_at"),
            ("post_id", "/post_id"),
            ("post_author", "/post_author/login"),
            ("post_author_id", "/post_author/id"),
        ],
    ),
    (
        "connections",
        &[
            ("id", "/id"),
            ("created_at", "/created_at"),
            ("direction", "/direction"),
            ("user_id", "/user/id"),
            ("user_login", "/user/login"),
            ("user_display_name", "/user/display_name"),
        ],
    ),
];

/// What a spreadsheet should show for a JSON value: text as it is, but with
/// a leading `'` when a spreadsheet would run it as a formula.
fn expected_cell(v: Option<&Value>) -> String {
    let guard = |s: String| {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s
        }
    };
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => guard(s.clone()),
        Some(Value::Array(items)) => guard(
            items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(";"),
        ),
        Some(Value::Object(_)) => guard(v.map(Value::to_string).unwrap_or_default()),
        Some(other) => other.to_string(),
    }
}

/// Rows of a CSV file as Python's `csv` module reads them (strict RFC 4180
/// quoting, the BOM removed by `utf-8-sig`).
fn python_rows(csv: &Path) -> Vec<Vec<String>> {
    let script = r#"
import csv, json, sys
with open(sys.argv[1], encoding="utf-8-sig", newline="") as f:
    rows = list(csv.reader(f, strict=True))
sys.stdout.write(json.dumps(rows))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(csv)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "Python's csv module cannot read {}: {}",
        csv.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("rows as JSON")
}

/// Checks every CSV file of `archive` against its JSON, cell by cell.
fn check_round_trip(archive: &Path, scratch: &Path) -> Vec<(String, Vec<Vec<String>>)> {
    let mut all = Vec::new();
    for (cat, columns) in LAYOUT {
        let raw = read_entry_to_string(archive, &format!("data/{cat}.csv"))
            .unwrap_or_else(|e| panic!("{cat}.csv: {e}"));
        assert!(
            raw.starts_with('\u{FEFF}'),
            "{cat}.csv starts with a BOM so Excel reads UTF-8"
        );
        assert!(
            raw.ends_with("\r\n"),
            "{cat}.csv ends its last row with CRLF"
        );
        let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
        assert!(
            raw.starts_with(&format!("\u{FEFF}{}\r\n", header.join(","))),
            "{cat}.csv header"
        );
        let file = scratch.join(format!("{cat}.csv"));
        fs_err::write(&file, &raw).expect("write the CSV");
        let rows = python_rows(&file);
        let json = records(archive, cat);
        assert_eq!(
            rows.len(),
            json.len() + 1,
            "{cat}: a header and one row per record"
        );
        assert_eq!(rows[0], header, "{cat}");
        for (row, record) in rows[1..].iter().zip(&json) {
            assert_eq!(row.len(), columns.len(), "{cat} {}", record["id"]);
            for (cell, (header, pointer)) in row.iter().zip(columns) {
                assert_eq!(
                    cell,
                    &expected_cell(record.pointer(pointer)),
                    "{cat} record {} column {header}",
                    record["id"]
                );
            }
        }
        all.push((cat.to_owned(), rows));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_reads_back_equal_to_the_json_for_hostile_and_unicode_accounts() {
    let p = Platform::start(Preset::Edge).await;
    // Line breaks, quotes and separators in one body, beyond the preset's.
    let awkward = "multi\r\nline, with \"quotes\"\nand a lone LF\rand CR; \u{2028}end";
    let hostile = p.user_id("hostile");
    p.state
        .store()
        .create_post(hostile, awkward)
        .expect("a post");
    for login in ["hostile", "unicode"] {
        let dest = Dest::new();
        let report = support::run(
            &p,
            &p.token(login, "export:self"),
            &dest,
            support::options(&dest.out()),
        )
        .await
        .expect("export");
        let scratch = tempfile::tempdir().expect("tmp");
        let rows = check_round_trip(&report.archive, scratch.path());
        let posts = &rows
            .iter()
            .find(|(c, _)| c == "posts")
            .expect("posts.csv")
            .1;
        let bodies: Vec<&str> = posts[1..].iter().map(|r| r[2].as_str()).collect();
        assert!(!bodies.is_empty(), "{login} has posts");
        if login == "hostile" {
            let formula = seed::HOSTILE_BODIES
                .iter()
                .find(|b| b.starts_with('='))
                .expect("the preset has a formula body");
            assert!(
                bodies.contains(&format!("'{formula}").as_str()),
                "the formula cell is neutralised with a leading quote"
            );
            assert!(
                !bodies.iter().any(|b| b.starts_with('=')),
                "no cell starts with '='"
            );
            assert!(
                bodies.contains(&awkward),
                "CR, LF, quotes, commas and U+2028 survive quoting"
            );
            for b in seed::HOSTILE_BODIES.iter().filter(|b| !b.starts_with('=')) {
                assert!(bodies.contains(b), "{b:?} is kept as it is");
            }
        }
        let manifest: Value = serde_json::from_str(
            &read_entry_to_string(&report.archive, "data/manifest.json").expect("manifest"),
        )
        .expect("json");
        assert_eq!(
            manifest["formats"],
            serde_json::json!(["json", "csv", "viewer"])
        );
        support::validate_externally(&report.archive);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_csv_there_is_json_only_and_the_manifest_says_so() {
    let p = Platform::start(Preset::Edge).await;
    let dest = Dest::new();
    let mut opts = support::options(&dest.out());
    opts.formats = Formats::JSON_ONLY;
    let report = support::run(&p, &p.token("unicode", "export:self"), &dest, opts)
        .await
        .expect("export");
    for (cat, _) in LAYOUT {
        assert!(
            read_entry_to_string(&report.archive, &format!("data/{cat}.csv")).is_err(),
            "{cat}.csv was not asked for"
        );
        assert!(!records(&report.archive, cat).is_empty() || cat != "posts");
    }
    let manifest: Value = serde_json::from_str(
        &read_entry_to_string(&report.archive, "data/manifest.json").expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["formats"], serde_json::json!(["json"]));
    assert!(
        keepsake_core::archive::verify(&report.archive)
            .expect("verify")
            .ok
    );
}
