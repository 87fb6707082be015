//! The `keepsake` binary end to end, as a user or a script runs it, against
//! a real reference platform on loopback.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use keepsake_platform::{Config, FaultPlan, seed::Preset};
use keepsake_tests::Platform;
use serde_json::Value;

/// A private home for one test: the CLI's data, config and output live here.
struct Home {
    dir: tempfile::TempDir,
    platform: String,
}

impl Home {
    fn new(p: &Platform) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tmp"),
            platform: p.url.clone(),
        }
    }
    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }
    fn cmd(&self, token: Option<&str>) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keepsake"));
        c.env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("KEEPSAKE_PLATFORM", &self.platform)
            .env_remove("KEEPSAKE_TOKEN")
            .stdin(Stdio::null());
        if let Some(t) = token {
            c.env("KEEPSAKE_TOKEN", t);
        }
        c
    }
    fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        self.cmd(token).args(args).output().expect("keepsake runs")
    }
    fn audit_file(&self) -> PathBuf {
        self.path("data/keepsake/audit.jsonl")
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn result_json(o: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"result\""))
        .unwrap_or_else(|| panic!("no result line in {}", text(o)));
    serde_json::from_str::<Value>(line).expect("json")["result"].clone()
}

async fn export_ok(h: &Home, token: &str, out: &Path) -> Value {
    let o = h.run(
        Some(token),
        &[
            "export",
            "--json",
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    result_json(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_verify_detects_a_flipped_byte_and_a_removed_entry() {
    let p = Platform::start(Preset::Demo).await;
    let h = Home::new(&p);
    let out = h.path("out");
    let report = export_ok(&h, &p.token("alice", "export:self"), &out).await;
    let archive = PathBuf::from(report["archive"].as_str().expect("archive path"));
    assert_eq!(report["outcome"], "completed");

    let o = h.run(None, &["verify", archive.to_str().expect("path")]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("intact"));

    // A flipped byte inside a stored (uncompressed) media entry.
    let mut bytes = fs_err::read(&archive).expect("read");
    let pos = find(&bytes, b"IDAT").expect("a PNG is stored uncompressed") + 64;
    bytes[pos] ^= 0x01;
    let flipped = h.path("flipped.zip");
    fs_err::write(&flipped, &bytes).expect("write");
    let o = h.run(None, &["verify", flipped.to_str().expect("path")]);
    assert_eq!(code(&o), 5, "{}", text(&o));
    assert!(text(&o).contains("DAMAGED"));

    // The same archive without one entry (rewritten with Python's zipfile,
    // an independent implementation).
    let removed = h.path("removed.zip");
    let py = Command::new("python3")
        .arg("-c")
        .arg("import sys,zipfile\nsrc=zipfile.ZipFile(sys.argv[1])\ndst=zipfile.ZipFile(sys.argv[2],'w')\nfor i in src.infolist():\n    if i.filename!='data/likes.json': dst.writestr(i, src.read(i.filename))\ndst.close()")
        .arg(&archive)
        .arg(&removed)
        .status()
        .expect("python3");
    assert!(py.success());
    let o = h.run(None, &["verify", removed.to_str().expect("path")]);
    assert_eq!(code(&o), 5, "{}", text(&o));
    assert!(
        text(&o).contains("likes.json"),
        "names what is missing: {}",
        text(&o)
    );
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_detects_edits_deletions_and_truncation() {
    let p = Platform::start_with(
        Preset::Demo,
        Config {
            quota_per_window: 0,
            rate_limit_per_min: 0,
            ..Config::default()
        },
    )
    .await;
    let h = Home::new(&p);
    let token = p.token("alice", "export:self");
    for i in 0..3 {
        export_ok(&h, &token, &h.path(&format!("out{i}"))).await;
    }
    let o = h.run(None, &["audit", "verify"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let pristine = fs_err::read_to_string(h.audit_file()).expect("log");
    assert_eq!(pristine.lines().count(), 3);
    assert!(!pristine.contains(&token), "never a token in the audit log");

    let csv = h.run(None, &["audit", "export", "--csv"]);
    assert_eq!(code(&csv), 0);
    assert_eq!(
        String::from_utf8_lossy(&csv.stdout).lines().count(),
        4,
        "a header and three records"
    );

    let lines: Vec<&str> = pristine.lines().collect();
    let tamper = |content: String, what: &str| {
        fs_err::write(h.audit_file(), content).expect("write");
        let o = h.run(None, &["audit", "verify"]);
        assert_eq!(code(&o), 5, "{what}: {}", text(&o));
        fs_err::write(h.audit_file(), &pristine).expect("restore");
    };
    tamper(
        pristine.replacen("\"completed\"", "\"failed\"", 1),
        "an edited record",
    );
    tamper(format!("{}\n{}\n", lines[0], lines[2]), "a deleted record");
    tamper(format!("{}\n{}\n", lines[0], lines[1]), "a truncated log");
    let o = h.run(None, &["audit", "verify"]);
    assert_eq!(code(&o), 0, "restored: {}", text(&o));
}

/// Waits until the staging journal of an export in `out` has `lines` lines.
/// The staging folder of the export in `out`, once there is one.
fn staging_dir(out: &Path) -> Option<PathBuf> {
    fs_err::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with(".keepsake-"))
        .map(|e| e.path())
}

fn wait_for_journal(out: &Path, lines: usize, child: &mut std::process::Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let n = staging_dir(out)
            .and_then(|dir| fs_err::read_to_string(dir.join("journal.jsonl")).ok())
            .map(|j| j.lines().count())
            .unwrap_or(0);
        if n >= lines {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

fn page_keys(p: &Platform) -> std::collections::HashMap<String, u64> {
    p.state
        .requests()
        .into_iter()
        .filter(|(k, _)| k.starts_with("GET /api/v1/users/") && k.contains("?"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_several_points_then_resume_refetches_nothing() {
    let p = Platform::start(Preset::Edge).await;
    let support = p.token("support", "export:any");
    let prolific = p.user_id("prolific");
    let api = p.api(&support);
    let open = api
        .open_export(
            prolific,
            serde_json::json!({"reason": "reference", "categories": ["posts"]}),
        )
        .await
        .expect(201);
    let eid = open.body["export_id"].as_str().expect("id").to_owned();
    let reference = keepsake_tests::ids(&api.walk(prolific, &eid, "posts", 500).await);
    api.finish(prolific, &eid, serde_json::json!({"status": "cancelled"}))
        .await
        .expect(200);

    p.state.set_faults(FaultPlan {
        latency_ms: 40,
        ..FaultPlan::default()
    });
    p.state.reset_requests();
    let h = Home::new(&p);
    let token = p.token("prolific", "export:self");
    let out = h.path("out");
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut kills = 0;
    for at in [3, 12, 22] {
        let mut child = h
            .cmd(Some(&token))
            .args(["export", "--json", "--out", out.to_str().expect("path")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        if wait_for_journal(&out, at, &mut child) {
            child.kill().expect("SIGKILL");
            kills += 1;
        }
        let _ = child.wait();
        for (k, n) in page_keys(&p) {
            *seen.entry(k).or_insert(0) += n;
        }
        p.state.reset_requests();
        let leftovers: Vec<String> = fs_err::read_dir(&out)
            .expect("out")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            leftovers.iter().all(|n| !n.ends_with(".zip")),
            "no finished-looking archive after kill -9: {leftovers:?}"
        );
    }
    assert!(kills >= 2, "the export was killed mid-way at least twice");
    let o = h.run(
        Some(&token),
        &[
            "export",
            "--json",
            "--resume",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let report = result_json(&o);
    assert_eq!(report["resumed"], true);
    assert!(
        report["archive_kept_bytes"].as_u64().is_some_and(|n| n > 0),
        "the archive written before the kills was continued: {report}"
    );
    for (k, n) in page_keys(&p) {
        *seen.entry(k).or_insert(0) += n;
    }
    // Each kill may cost the page that was in flight (per category chain);
    // nothing journaled is fetched again.
    let twice: Vec<(&String, &u64)> = seen
        .iter()
        .filter(|(k, n)| **n > 1 && !k.contains("/media/"))
        .collect();
    assert!(
        twice.len() <= kills * 5,
        "pages fetched more than once: {twice:?}"
    );
    let archive = PathBuf::from(report["archive"].as_str().expect("archive"));
    let posts: Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&archive, "data/posts.json").expect("posts"),
    )
    .expect("json");
    assert_eq!(
        keepsake_tests::ids(posts.as_array().expect("array")),
        reference,
        "identical to an uninterrupted export"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_a_token_on_stdin_and_the_token_never_reaches_disk() {
    let p = Platform::start(Preset::Demo).await;
    let h = Home::new(&p);
    let token = p.token("alice", "export:self");
    let keyring = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let mut extra: Vec<String> = Vec::new();
    if !keyring {
        eprintln!("no session bus: using --insecure-token-file for this test");
        extra = vec![
            "--insecure-token-file".into(),
            h.path("tokens.json").to_string_lossy().into_owned(),
        ];
    }
    let mut login = h
        .cmd(None)
        .arg("login")
        .arg("--token-stdin")
        .args(&extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    login
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{token}\n").as_bytes())
        .expect("write token");
    let o = login.wait_with_output().expect("login");
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("signed in"), "{}", text(&o));
    // The platform's kind was asked for, said, and kept with the sign-in.
    assert!(
        text(&o).contains(&format!("Keepsake Export API v1 at {}", p.url)),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains(&token), "the token is never printed");

    let mut args = vec![
        "export".to_owned(),
        "--out".into(),
        h.path("out").to_string_lossy().into_owned(),
    ];
    args.extend(extra.clone());
    let o = h.cmd(None).args(&args).output().expect("export");
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(!text(&o).contains(&token));

    let o = h
        .cmd(None)
        .arg("whoami")
        .args(&extra)
        .output()
        .expect("whoami");
    assert!(text(&o).contains("alice"), "{}", text(&o));
    assert!(
        text(&o).contains("on Keepsake Export API v1"),
        "{}",
        text(&o)
    );

    if keyring {
        // Nothing under the home, data, config or output folders holds it.
        for file in walk(h.dir.path()) {
            let content = fs_err::read(&file).unwrap_or_default();
            assert!(
                find(&content, token.as_bytes()).is_none(),
                "the token is in {}",
                file.display()
            );
        }
    }
    let mut args = vec!["logout".to_owned()];
    args.extend(extra.clone());
    let o = h.cmd(None).args(&args).output().expect("logout");
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        p.api(&token).get("/api/v1/me").await.status,
        401,
        "logout revokes the token"
    );
    let o = h
        .cmd(None)
        .arg("whoami")
        .args(&extra)
        .output()
        .expect("whoami");
    assert_eq!(code(&o), 3, "signed out: {}", text(&o));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs_err::read_dir(dir) {
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p))
            } else {
                out.push(p)
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_scripts_what_happened() {
    let p = Platform::start(Preset::Demo).await;
    let h = Home::new(&p);
    let o = h.run(Some("ksp_not-a-token"), &["whoami"]);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let token = p.token("alice", "export:self");
    export_ok(&h, &token, &h.path("out")).await;
    let o = h.run(
        Some(&token),
        &["export", "--out", h.path("out2").to_str().expect("path")],
    );
    assert_eq!(code(&o), 6, "quota: {}", text(&o));
    assert!(
        text(&o).contains("next export is possible at"),
        "{}",
        text(&o)
    );
    let o = h.run(
        Some(&token),
        &[
            "export",
            "--user",
            "2",
            "--out",
            h.path("out3").to_str().expect("path"),
        ],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("--reason"));
    let o = Command::new(env!("CARGO_BIN_EXE_keepsake"))
        .env("KEEPSAKE_PLATFORM", "http://platform.example")
        .env("HOME", h.dir.path())
        .arg("whoami")
        .output()
        .expect("run");
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("refusing plain http://"), "{}", text(&o));
}

// Archives in other forms: split parts, formats, date ranges.
#[path = "cli_parts/forms.rs"]
mod forms;

#[path = "cli_parts/split_resume.rs"]
mod split_resume;
