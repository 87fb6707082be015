//! Helpers for the export suite.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use keepsake_core::audit::AuditLog;
use keepsake_core::client::{ApiClient, RetryPolicy, StaticToken};
use keepsake_core::export::{self, CancelFlag, ExportOptions, ExportReport, ResumeMode, Silent};
use keepsake_core::{PlatformUrl, Result, Secret};
use keepsake_tests::Platform;
use serde_json::Value;

/// A client with quick retries (the platform is local).
pub fn client(p: &Platform, token: &str) -> ApiClient {
    let platform = PlatformUrl::parse(&p.url).expect("loopback URL");
    ApiClient::new(
        &platform,
        Arc::new(StaticToken::new(Secret::new(token), &platform)),
    )
    .expect("client")
    .with_retry(RetryPolicy {
        max_retries: 12,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
        ..RetryPolicy::default()
    })
}

/// Continues the export `opts` describes (there must be one to continue)
/// and checks that it ran to completion; `what` names the case in failures.
pub async fn resume_to_completion(
    p: &Platform,
    token: &str,
    dest: &Dest,
    mut opts: ExportOptions,
    what: &str,
) -> ExportReport {
    opts.resume = ResumeMode::Require;
    let report = run(p, token, dest, opts).await.expect("resumed");
    assert!(
        report.resumed,
        "{what}: it continued the interrupted export"
    );
    assert_eq!(
        report.outcome,
        keepsake_core::audit::Outcome::Completed,
        "{what}: {:?}",
        report.shortfalls
    );
    report
}

/// Default options into `out`.
pub fn options(out: &Path) -> ExportOptions {
    ExportOptions {
        connector: keepsake_core::connector::keepsake(),
        subject_id: None,
        reason: None,
        categories: None,
        since: None,
        until: None,
        out_dir: out.to_path_buf(),
        resume: ResumeMode::Auto,
        media_workers: 4,
        media_memory: export::DEFAULT_MEDIA_MEMORY,
        undeclared_file_max: export::DEFAULT_UNDECLARED_FILE_MAX,
        formats: Default::default(),
        split_size: None,
    }
}

/// A platform seeded with `preset` that lets one account export several
/// times in a row: no quota, no rate limit.
pub async fn unlimited(preset: keepsake_platform::seed::Preset) -> Platform {
    Platform::start_with(
        preset,
        keepsake_platform::Config {
            quota_per_window: 0,
            rate_limit_per_min: 0,
            ..keepsake_platform::Config::default()
        },
    )
    .await
}

/// A scratch destination and audit log.
pub struct Dest {
    pub dir: tempfile::TempDir,
    pub audit: AuditLog,
}

impl Dest {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let audit = AuditLog::open(&dir.path().join("audit")).expect("audit log");
        Self { dir, audit }
    }
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
    /// The names of everything in the destination.
    pub fn names(&self) -> Vec<String> {
        let Ok(rd) = fs_err::read_dir(self.out()) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }
    /// Archives (finished `.zip` files) in the destination.
    pub fn archives(&self) -> Vec<PathBuf> {
        let Ok(rd) = fs_err::read_dir(self.out()) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "zip"))
            .collect()
    }
}

/// Runs an export as `token`'s owner.
pub async fn run(
    p: &Platform,
    token: &str,
    dest: &Dest,
    opts: ExportOptions,
) -> Result<ExportReport> {
    export::run(
        &client(p, token),
        &opts,
        Arc::new(Silent),
        CancelFlag::default(),
        Some(&dest.audit),
    )
    .await
}

/// The records of `data/{cat}.json` in an archive.
pub fn records(archive: &Path, cat: &str) -> Vec<Value> {
    let text = keepsake_core::archive::read_entry_to_string(archive, &format!("data/{cat}.json"))
        .expect("category file");
    serde_json::from_str::<Value>(&text)
        .expect("valid JSON")
        .as_array()
        .cloned()
        .expect("a JSON array")
}

/// `id`s of records.
pub fn ids(v: &[Value]) -> Vec<i64> {
    v.iter().map(|r| r["id"].as_i64().expect("id")).collect()
}

fn tool_required() -> bool {
    std::env::var_os("KEEPSAKE_REQUIRE_TOOLS").is_some()
}

use keepsake_tests::venv_python;

/// Checks an archive with tools that share no code with Keepsake: `unzip
/// -t`, Python's `zipfile.testzip()`, and the Library of Congress `bagit`
/// validator on the extracted bag.
#[track_caller]
pub fn validate_externally(archive: &Path) {
    let ok = |c: &mut Command| c.status().map(|s| s.success());
    match ok(Command::new("unzip").arg("-tqq").arg(archive)) {
        Ok(true) => {}
        Ok(false) => panic!("unzip -t rejects {}", archive.display()),
        Err(_) if !tool_required() => eprintln!("skipped unzip -t: unzip is not installed"),
        Err(e) => panic!("unzip is required here: {e}"),
    }
    let Some(py) = venv_python() else {
        assert!(
            !tool_required(),
            "the bagit venv is required (cargo xtask setup)"
        );
        eprintln!("skipped the bagit validator: run `cargo xtask setup` first");
        return;
    };
    let script = r#"
import sys, zipfile, tempfile, bagit
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
assert bad is None, f"zipfile.testzip: {bad} is damaged"
with tempfile.TemporaryDirectory() as d:
    z.extractall(d)
    bagit.Bag(d).validate()
print("ok")
"#;
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(archive)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "independent validation of {} failed:\n{}{}",
        archive.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every id the platform would give in a clean walk of `cat`.
pub async fn reference_ids(p: &Platform, support: &str, login: &str, cat: &str) -> Vec<i64> {
    let id = p.user_id(login);
    let api = p.api(&p.token(support, "export:any"));
    let open = api
        .open_export(
            id,
            serde_json::json!({"reason": "reference walk", "categories": [cat]}),
        )
        .await
        .expect(201);
    let eid = open.body["export_id"].as_str().expect("id").to_owned();
    let items = api.walk(id, &eid, cat, 500).await;
    api.finish(id, &eid, serde_json::json!({"status": "cancelled"}))
        .await
        .expect(200);
    ids(&items)
}
