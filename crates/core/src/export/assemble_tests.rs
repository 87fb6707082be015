//! Tests of `assemble`.

use super::*;

fn array(input: &str, media: Option<Arc<HashSet<i64>>>) -> Value {
    let mut r = JsonArray::new(std::io::Cursor::new(input.to_owned()), media);
    let mut s = String::new();
    r.read_to_string(&mut s).expect("read");
    serde_json::from_str(&s).expect("valid JSON array")
}

#[test]
fn json_lines_become_a_json_array() {
    assert_eq!(array("", None), serde_json::json!([]));
    assert_eq!(
        array("{\"id\":1}\n{\"id\":2}\n", None),
        serde_json::json!([{"id":1},{"id":2}])
    );
}

#[test]
fn media_records_lose_their_signed_url() {
    let v = array(
        "{\"id\":3,\"filename\":\"../x.png\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n",
        Some(Arc::new(HashSet::new())),
    );
    assert!(v[0].get("download_url").is_none());
    assert!(v[0].get("url_expires_at").is_none());
    assert_eq!(v[0]["archive_path"], Value::Null, "not downloaded");
}

#[test]
fn the_viewer_data_of_media_loses_the_signed_url_too() {
    let line = "{\"id\":3,\"filename\":\"x.png\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n";
    let retrieved: HashSet<i64> = [3].into();
    let mut js = String::new();
    crate::viewer::JsData::new(
        std::io::Cursor::new(line),
        "media",
        |l: &str, out: &mut Vec<u8>| archived_record(l, Some(&retrieved), out),
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
