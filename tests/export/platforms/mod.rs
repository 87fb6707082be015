//! Exports from the real third-party servers through the engine: a
//! WordPress author's site and a Matrix account, what is particular to
//! each (support staff's exports, a room left, encrypted events, messages
//! sent and redacted during the walk, names and markup from hostile
//! users), and the viewer fixtures of their archives (`wordpress`,
//! `matrix`, `matrix-bench`) for the browser tests in `tests/viewer`.

use std::path::Path;
use std::sync::Arc;

use keepsake_core::archive::read_entry_to_string;
use keepsake_core::client::{ApiClient, RetryPolicy, StaticToken};
use keepsake_core::connector::Connector;
use keepsake_core::export::{self, CancelFlag, ExportOptions, ExportReport, Outcome, Silent};
use keepsake_core::{PlatformUrl, Secret};
use keepsake_tests::synapse::{Preset, Synapse};
use keepsake_tests::wordpress::WordPress;
use serde_json::Value;

use crate::support::{self, Dest};

/// A client of `url` signed in with `secret` (with `user`: HTTP Basic).
pub(super) fn client(url: &str, user: Option<&str>, secret: &str) -> ApiClient {
    let platform = PlatformUrl::parse(url).expect("loopback URL");
    let tokens = match user {
        Some(u) => StaticToken::basic(u, Secret::new(secret), &platform),
        None => StaticToken::new(Secret::new(secret), &platform),
    };
    ApiClient::new(&platform, Arc::new(tokens))
        .expect("client")
        .with_retry(RetryPolicy {
            max_retries: 4,
            ..RetryPolicy::default()
        })
}

pub(super) fn options(connector: Arc<dyn Connector>, out: &Path) -> ExportOptions {
    ExportOptions {
        connector,
        ..support::options(out)
    }
}

pub(super) async fn export(
    client: &ApiClient,
    opts: &ExportOptions,
    dest: &Dest,
) -> keepsake_core::Result<ExportReport> {
    export::run(
        client,
        opts,
        Arc::new(Silent),
        CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
}

/// An export that must complete: its report.
pub(super) async fn completed(
    client: &ApiClient,
    opts: &ExportOptions,
    dest: &Dest,
) -> ExportReport {
    let report = export(client, opts, dest).await.expect("export");
    assert_eq!(
        report.outcome,
        Outcome::Completed,
        "{:?}",
        report.shortfalls
    );
    report
}

/// A fresh Synapse from the `preset` snapshot; `None` (the test skips)
/// when Synapse cannot run here.
pub(super) async fn synapse(preset: Preset) -> Option<Synapse> {
    tokio::task::spawn_blocking(move || Synapse::start(preset))
        .await
        .expect("start")
}

/// A fresh WordPress; `None` (the test skips) when it cannot run here.
pub(super) async fn wordpress() -> Option<WordPress> {
    tokio::task::spawn_blocking(WordPress::start)
        .await
        .expect("start")
}

pub(super) fn manifest(archive: &Path) -> Value {
    serde_json::from_str(&read_entry_to_string(archive, "data/manifest.json").expect("manifest"))
        .expect("JSON")
}

/// Every entry of the archive, as text where it is text.
pub(super) fn every_text(archive: &Path) -> Vec<(String, String)> {
    let file = fs_err::File::open(archive).expect("open");
    let mut zip = zip::ZipArchive::new(file).expect("zip");
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).expect("entry");
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut bytes).expect("read");
        if let Ok(text) = String::from_utf8(bytes) {
            out.push((e.name().expect("a name").to_string(), text));
        }
    }
    out
}

mod matrix;
mod wordpress;
