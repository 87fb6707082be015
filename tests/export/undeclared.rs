//! A file whose size nobody declares (no size in its record, no
//! `Content-Length`) from a server that keeps sending: the download stops
//! at `ExportOptions::undeclared_file_max`, the file is reported missing,
//! and nothing of it stays on disk.

use std::sync::Arc;
use std::time::Duration;

use keepsake_core::client::{ApiClient, RetryPolicy, StaticToken};
use keepsake_core::export::{self, CancelFlag, Silent};
use keepsake_core::{PlatformUrl, Secret};
use keepsake_tests::hostile::{Hostile, Script, hook, huge, page};

use crate::support::{Dest, options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_no_declared_size_stops_at_the_limit_and_is_missing() {
    const LIMIT: u64 = 1 << 20;
    // The server's own address, known once it listens.
    let base = Arc::new(std::sync::Mutex::new(String::new()));
    let at = base.clone();
    let h = Hostile::start(Script {
        hook: Some(hook(move |req| {
            if req.path.starts_with("/media/") && req.path.ends_with("/content") {
                // 64 MiB, as fast as the client reads, length unsaid.
                return Some(huge(200, 64 << 20, "image/png"));
            }
            if req.method == "GET" && req.path.ends_with("/media") {
                return Some(page(
                    vec![serde_json::json!({
                        "id": 1, "created_at": "2025-04-02T18:22:10Z", "post_id": 1,
                        "filename": "photo.png", "content_type": "image/png",
                        "size": null, "sha256": null, "alt_text": null,
                        "download_url": format!("{}/media/1/content", at.lock().expect("base")),
                        "url_expires_at": "2099-01-01T00:00:00Z",
                    })],
                    None,
                ));
            }
            None
        })),
        ..Script::default()
    })
    .await;
    *base.lock().expect("base") = h.url.clone();
    let platform = PlatformUrl::parse(&h.url).expect("loopback URL");
    let client = ApiClient::new(
        &platform,
        Arc::new(StaticToken::new(Secret::new("token"), &platform)),
    )
    .expect("client")
    .with_retry(RetryPolicy {
        max_retries: 2,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    });
    let dest = Dest::new();
    let mut opts = options(&dest.out());
    opts.undeclared_file_max = LIMIT;
    let report = export::run(
        &client,
        &opts,
        Arc::new(Silent),
        CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
    .expect("the export ends, the file missing");
    let said = [report.shortfalls.clone(), report.warnings.clone()].concat();
    assert!(
        said.iter()
            .any(|s| s.contains("neither the file's record nor the server said")),
        "{said:?} {:?} {:?}",
        report.outcome,
        h.seen().iter().map(|s| s.path.clone()).collect::<Vec<_>>()
    );
    assert_eq!(
        dest.archives().len(),
        1,
        "an archive, the file listed missing"
    );
    // Nothing of the endless body went into it.
    let size = fs_err::metadata(&report.archive).expect("archive").len();
    assert!(size < LIMIT, "{size} bytes");
}
