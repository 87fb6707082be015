//! Tests of `assemble`.

use super::*;

/// The Export API's media category, whose records name files.
fn media() -> Category {
    crate::connector::keepsake()
        .categories()
        .into_iter()
        .find(|c| c.name == "media")
        .expect("media")
}

fn session() -> crate::connector::Session {
    serde_json::from_value(serde_json::json!({
        "export_id": "exp_1", "status": "running", "as_of": "2024-01-01T00:00:00Z",
        "subject": {"id": 1, "login": "a"}, "actor": {"id": 1, "login": "a"},
        "reason": null, "since": null, "until": null, "categories": {},
    }))
    .expect("session")
}

/// The Export API's media files as its connector names them.
fn files_of(retrieved: Retrieved) -> Arc<FilesOf> {
    let (connector, session, media) = (crate::connector::keepsake(), session(), media());
    Arc::new(FilesOf {
        retrieved: Arc::new(retrieved),
        key_of: Box::new(move |r| {
            let named = connector.files(&session, &media, r);
            named.into_iter().next().map(|f| f.key)
        }),
    })
}

/// The Export API's posts category, archived as staged.
fn posts() -> Category {
    crate::connector::keepsake()
        .categories()
        .into_iter()
        .find(|c| c.name == "posts")
        .expect("posts")
}

/// Every form of `category` made from `input` in one reading: the JSON,
/// the CSV (where the category has columns) and the viewer's data file.
fn forms(input: &str, category: &Category, files: Option<Arc<FilesOf>>) -> Vec<String> {
    let rewrite = Arc::new(Rewrite::new(category, files));
    let made = forms::forms_of(
        &category.name,
        category.csv.clone(),
        rewrite,
        Formats::default(),
    );
    let sinks = vec![Vec::new(); made.forms.len()];
    let outs = made
        .write(&mut std::io::Cursor::new(input.to_owned()), sinks)
        .expect("write");
    outs.into_iter()
        .map(|b| String::from_utf8(b).expect("utf-8"))
        .collect()
}

fn array(input: &str, category: &Category, files: Option<Arc<FilesOf>>) -> Value {
    serde_json::from_str(&forms(input, category, files)[0]).expect("valid JSON array")
}

#[test]
fn json_lines_become_a_json_array() {
    let index = super::super::fetch_all::files_index();
    assert_eq!(array("", &index, None), serde_json::json!([]));
    assert_eq!(
        array("{\"id\":1}\n{\"id\":2}\n", &index, None),
        serde_json::json!([{"id":1},{"id":2}])
    );
}

#[test]
fn media_records_lose_their_signed_url() {
    let v = array(
        "{\"id\":3,\"filename\":\"../x.png\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n",
        &media(),
        Some(files_of(Retrieved::default())),
    );
    assert!(v[0].get("download_url").is_none());
    assert!(v[0].get("url_expires_at").is_none());
    assert_eq!(v[0]["archive_path"], Value::Null, "not downloaded");
}

#[test]
fn the_viewer_data_of_media_loses_the_signed_url_too() {
    let line = "{\"id\":3,\"filename\":\"x.png\",\"size\":1,\"sha256\":\"00\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n";
    let retrieved: Retrieved = [("3".to_owned(), media_archive_path("3", "x.png"))].into();
    let made = forms(line, &media(), Some(files_of(retrieved)));
    let js = made.last().expect("the viewer's file");
    assert!(js.starts_with("window.__keepsake.push"), "{js}");
    for gone in ["download_url", "url_expires_at", "sig="] {
        assert!(!js.contains(gone), "{gone} in {js}");
    }
    assert!(
        js.contains("\"archive_path\":\"data/media/3-x.png\""),
        "{js}"
    );
}

#[test]
fn one_reading_makes_every_form_of_every_record() {
    // The second record holds a lone surrogate: kept as sent in the JSON
    // of a category archived as staged, U+FFFD in the CSV and the viewer.
    let input = "{\"id\":1,\"created_at\":\"t\",\"body\":\"=1+1\",\"visibility\":\"public\",\"reply_to\":null,\"media_ids\":[]}\n\n{\"id\":2,\"created_at\":\"t\",\"body\":\"a\\ud800b\",\"visibility\":\"public\",\"reply_to\":1,\"media_ids\":[7]}\n";
    let [json, csv, js] =
        <[String; 3]>::try_from(forms(input, &posts(), None)).expect("three forms");
    assert!(json.contains("\"body\":\"a\\ud800b\""), "as staged: {json}");
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert!(rows[0].starts_with("\u{FEFF}id,"), "{csv}");
    assert_eq!(rows[1], "1,t,'=1+1,public,,");
    assert_eq!(rows[2], "2,t,a\u{FFFD}b,public,1,7");
    assert_eq!(
        rows.len(),
        4,
        "two rows, no row for the blank line: {csv:?}"
    );
    // In the viewer's JSON text, escaped once more for the script.
    assert!(js.contains("\"body\":\"a\\\\ufffdb\""), "{js}");
    assert_eq!(js.matches("window.__keepsake.push").count(), 1, "{js}");
}

#[test]
fn an_empty_category_still_has_every_form() {
    let [json, csv, js] = <[String; 3]>::try_from(forms("", &posts(), None)).expect("three forms");
    assert_eq!(json, "[]\n");
    assert!(
        csv.starts_with("\u{FEFF}id,") && csv.ends_with("\r\n") && csv.lines().count() == 1,
        "{csv:?}"
    );
    assert!(js.contains("JSON.parse('[]')"), "{js}");
}

#[test]
fn a_failure_says_whether_the_records_or_a_form_failed() {
    /// A disk with no room left.
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::StorageFull.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let rewrite = Arc::new(Rewrite::new(&posts(), None));
    let made = forms::forms_of("posts", posts().csv, rewrite, Formats::default());
    let record = "{\"id\":1,\"created_at\":\"t\",\"body\":\"b\"}\n";
    let full = made.write(&mut std::io::Cursor::new(record), vec![Full, Full, Full]);
    assert!(
        matches!(&full, Err(crate::fsx::Stop::Sink(e)) if e.kind() == std::io::ErrorKind::StorageFull),
        "{:?}",
        full.err()
    );
    let torn = made.write(
        &mut std::io::Cursor::new("{\"id\":1,\"bo\n"),
        vec![Vec::new(); 3],
    );
    assert!(
        matches!(torn, Err(crate::fsx::Stop::Read(_))),
        "{:?}",
        torn.err()
    );
}
