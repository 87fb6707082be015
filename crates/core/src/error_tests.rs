//! Tests of `error`: how statuses, problems and failures become errors
//! and what they tell the user.

use super::*;

fn status(code: u16, slug: &str) -> Error {
    Error::Status {
        status: code,
        url: "u".into(),
        problem: Some(Box::new(Problem {
            kind: format!("x/{slug}"),
            ..Problem::default()
        })),
        retry_after: None,
    }
}

#[test]
fn a_file_error_names_the_file_once_and_keeps_the_os_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("gone.json");
    let e = Error::io("read", &missing)(fs_err::read(&missing).expect_err("missing"));
    let text = e.to_string();
    assert_eq!(text.matches("gone.json").count(), 1, "{text}");
    assert!(text.contains("No such file or directory"), "{text}");
    let Error::Io { source, .. } = e else {
        panic!("{e:?}")
    };
    // The OS's code survives, for a full disk to be recognised as one.
    assert_eq!(source.raw_os_error(), Some(2));
    // An error that is not from fs-err is kept as it is.
    let plain = std::io::Error::other("odd");
    assert_eq!(
        Error::io("read", &missing)(plain).to_string(),
        format!("read {}: odd", missing.display())
    );
}

#[test]
fn a_full_disk_while_writing_is_told_apart() {
    let full = Error::io("write", "/x/a.zip.partial")(std::io::Error::from_raw_os_error(28));
    assert!(full.is_disk_full(), "{full:?}");
    assert_eq!(full.code(), Code::DiskFull);
    assert_eq!(full.hint(), Some(Hint::FreeSpace));
    assert!(
        full.to_string().contains("No space left on device"),
        "{full}"
    );
    let quota = Error::io("write", "/x/a")(std::io::Error::from_raw_os_error(122));
    assert!(quota.is_disk_full(), "{quota:?}");
    let other = Error::io("write", "/x/a")(std::io::Error::from_raw_os_error(13));
    assert!(!other.is_disk_full());
    assert_eq!(other.code(), Code::Io);
}

#[test]
fn errors_are_classified_once() {
    assert_eq!(status(503, "unavailable").class(), Class::Retryable);
    assert_eq!(status(429, "rate-limited").class(), Class::Retryable);
    assert_eq!(status(429, "export-quota").class(), Class::Fatal);
    assert_eq!(status(401, "invalid-token").class(), Class::NeedsSignIn);
    assert_eq!(status(410, "account-deleted").class(), Class::Fatal);
    assert_eq!(status(410, "account-deleted").code(), "account_deleted");
    assert_eq!(status(409, "export-finished").code(), Code::ExportFinished);
    assert_eq!(status(409, "export-running").code(), Code::ExportRunning);
    assert_eq!(
        Error::Network {
            url: "u".into(),
            detail: "reset".into()
        }
        .class(),
        Class::Retryable
    );
}

#[test]
fn each_platforms_error_body_gives_its_code_and_words() {
    let read = |body: &str| -> (String, String) {
        let p: Problem = serde_json::from_str(body).expect("problem");
        (p.code().to_owned(), p.message().to_owned())
    };
    assert_eq!(
        read(r#"{"type":"https://x/problems/export-quota","title":"T","detail":"D"}"#),
        ("export-quota".into(), "D".into())
    );
    assert_eq!(
        read(
            r#"{"code":"rest_forbidden","message":"Sorry, you are not allowed.","data":{"status":403}}"#
        ),
        (
            "rest_forbidden".into(),
            "Sorry, you are not allowed.".into()
        )
    );
    assert_eq!(
        read(r#"{"errcode":"M_FORBIDDEN","error":"You are not in the room"}"#),
        ("M_FORBIDDEN".into(), "You are not in the room".into())
    );
    assert_eq!(
        read(r#"{"error":"invalid_grant","error_description":"spent"}"#),
        ("invalid_grant".into(), "spent".into())
    );
    assert_eq!(read(r#"{"title":"Only"}"#), (String::new(), "Only".into()));
}

#[test]
fn urls_are_shown_without_secrets() {
    let u = url::Url::parse("https://u:p@h.example/media/1?sig=abc#x").expect("url");
    assert_eq!(display_url(&u), "https://h.example/media/1");
}
