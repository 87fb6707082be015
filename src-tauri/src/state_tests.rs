//! Tests of `state`.

use super::*;
use keepsake_core::connector::keepsake;

fn request() -> ExportRequest {
    ExportRequest {
        destination: "/home/alice/Downloads/Keepsake".into(),
        ..ExportRequest::default()
    }
}

/// A launch read for `platform` that found nobody signed in.
fn launch_read(state: &AppState, dir: &Path, platform: &str) {
    let store: Arc<dyn CredentialStore> = Arc::new(
        keepsake_core::credentials::InsecureFileStore::new(dir.join("tokens.json")),
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _ = tx.send(Ok((store, None)));
    *lock(&state.launch_read) = Some(LaunchRead {
        platform: platform.to_owned(),
        result: rx,
    });
}

#[tokio::test]
async fn the_launch_read_is_used_once_for_its_platform_and_dropped_by_a_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = Paths {
        settings: dir.path().join("settings.json"),
        audit: dir.path().join("audit"),
        destination: dir.path().join("Downloads"),
        destinations: dir.path().join("destinations.json"),
    };
    let state = AppState::with(paths, None, None);
    let a = "http://a.example";

    launch_read(&state, dir.path(), a);
    assert!(state.take_launch_read(a).await.is_some(), "its platform");
    assert!(state.take_launch_read(a).await.is_none(), "once only");

    launch_read(&state, dir.path(), a);
    assert!(
        state.take_launch_read("http://b.example").await.is_none(),
        "another platform's"
    );
    assert!(lock(&state.launch_read).is_none(), "and dropped");

    launch_read(&state, dir.path(), a);
    // Chosen, even though nothing answers there: what was read is stale.
    let _ = state.set_platform("http://127.0.0.1:1").await;
    assert!(
        lock(&state.launch_read).is_none(),
        "another platform was chosen"
    );
}

#[test]
fn formats_and_split_reach_the_engine() {
    let defaults = AppState::options(&request(), &keepsake(), ResumeMode::Auto).expect("valid");
    assert_eq!(defaults.formats, Formats::default(), "CSV and viewer on");
    assert_eq!(defaults.split_size, None, "one archive");

    let json_only_2gb = ExportRequest {
        csv: Some(false),
        viewer: Some(false),
        split_size: Some(2_000_000_000),
        ..request()
    };
    let o = AppState::options(&json_only_2gb, &keepsake(), ResumeMode::Auto).expect("valid");
    assert_eq!(o.formats, Formats::JSON_ONLY);
    assert_eq!(o.split_size, Some(2_000_000_000));

    let viewer_only = ExportRequest {
        csv: Some(false),
        ..request()
    };
    let o = AppState::options(&viewer_only, &keepsake(), ResumeMode::Auto).expect("valid");
    assert_eq!(
        o.formats,
        Formats {
            csv: false,
            viewer: true
        }
    );
}

#[test]
fn parts_below_the_engine_minimum_are_refused_with_what_to_choose() {
    for size in [0, 1, archive::MIN_PART_BYTES - 1] {
        let req = ExportRequest {
            split_size: Some(size),
            ..request()
        };
        let err = AppState::options(&req, &keepsake(), ResumeMode::Auto).expect_err("too small");
        assert_eq!(err.code, ErrorCode::Invalid);
        assert!(
            err.message.contains("at least 16 KiB, or no split"),
            "{}",
            err.message
        );
    }
    let smallest = ExportRequest {
        split_size: Some(archive::MIN_PART_BYTES),
        ..request()
    };
    assert!(AppState::options(&smallest, &keepsake(), ResumeMode::Auto).is_ok());
}

#[test]
fn formats_and_split_do_not_change_the_session() {
    let prepared = request();
    let json_only_split = ExportRequest {
        csv: Some(false),
        viewer: Some(false),
        split_size: Some(4_000_000_000),
        ..request()
    };
    assert!(prepared.same_session(&json_only_split));
    let posts_only = ExportRequest {
        categories: Some(vec!["posts".into()]),
        ..request()
    };
    assert!(!prepared.same_session(&posts_only));
    let elsewhere = ExportRequest {
        destination: "/media/usb".into(),
        ..request()
    };
    assert!(!prepared.same_session(&elsewhere));
}

#[test]
fn the_request_arrives_in_camel_case_and_missing_choices_are_the_defaults() {
    let req: ExportRequest = serde_json::from_value(serde_json::json!({
        "destination": "/x",
        "csv": false,
        "viewer": false,
        "splitSize": 2_000_000_000u64,
    }))
    .expect("request");
    assert_eq!(
        (req.csv, req.viewer, req.split_size),
        (Some(false), Some(false), Some(2_000_000_000))
    );
    let bare: ExportRequest =
        serde_json::from_value(serde_json::json!({"destination": "/x"})).expect("request");
    assert_eq!((bare.csv, bare.viewer, bare.split_size), (None, None, None));
    assert_eq!(
        serde_json::to_value(&bare).expect("json"),
        serde_json::json!({"destination": "/x"}),
        "echoed back as it came"
    );
}
