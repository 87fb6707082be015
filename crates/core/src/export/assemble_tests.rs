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

fn array(input: &str, rewrite: Rewrite) -> Value {
    let mut r = JsonArray::new(std::io::Cursor::new(input.to_owned()), Arc::new(rewrite));
    let mut s = String::new();
    r.read_to_string(&mut s).expect("read");
    serde_json::from_str(&s).expect("valid JSON array")
}

#[test]
fn json_lines_become_a_json_array() {
    let posts = || Rewrite::new(&super::super::fetch_all::files_index(), None);
    assert_eq!(array("", posts()), serde_json::json!([]));
    assert_eq!(
        array("{\"id\":1}\n{\"id\":2}\n", posts()),
        serde_json::json!([{"id":1},{"id":2}])
    );
}

#[test]
fn media_records_lose_their_signed_url() {
    let v = array(
        "{\"id\":3,\"filename\":\"../x.png\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n",
        Rewrite::new(&media(), Some(files_of(Retrieved::default()))),
    );
    assert!(v[0].get("download_url").is_none());
    assert!(v[0].get("url_expires_at").is_none());
    assert_eq!(v[0]["archive_path"], Value::Null, "not downloaded");
}

#[test]
fn the_viewer_data_of_media_loses_the_signed_url_too() {
    let line = "{\"id\":3,\"filename\":\"x.png\",\"size\":1,\"sha256\":\"00\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n";
    let retrieved: Retrieved = [("3".to_owned(), media_archive_path("3", "x.png"))].into();
    let rewrite = Rewrite::new(&media(), Some(files_of(retrieved)));
    let mut js = String::new();
    crate::viewer::JsData::new(
        std::io::Cursor::new(line),
        "media",
        |l: &str, out: &mut Vec<u8>| rewrite.record(l, out),
    )
    .read_to_string(&mut js)
    .expect("read");
    for gone in ["download_url", "url_expires_at", "sig="] {
        assert!(!js.contains(gone), "{gone} in {js}");
    }
    assert!(
        js.contains("\"archive_path\":\"data/media/3-x.png\""),
        "{js}"
    );
}
