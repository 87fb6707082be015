//! A private home for one test and the `keepsake` binary run in it.
//!
//! Layout: `HOME/` holds `data/`, `config/`, the output folder `out/`, and
//! canaries beside it; a test checks the canaries after the run to prove
//! nothing outside `--out` was created or deleted.

#![allow(dead_code)] // each test module uses its own part of the runner

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The token every run sends; tests look for it in output and files.
pub const TOKEN: &str = "ksk_hostile_test_token_5f3a9c1e7b2d";

/// A private home for one test.
pub struct Home {
    dir: tempfile::TempDir,
    platform: String,
    token: String,
    env: Vec<(&'static str, String)>,
}

impl Home {
    /// A home whose CLI talks to `platform` with [`TOKEN`].
    pub fn new(platform: &str) -> Self {
        Self::with_token(platform, TOKEN)
    }

    /// A home whose CLI talks to `platform` with `token`.
    pub fn with_token(platform: &str, token: &str) -> Self {
        Self::with_env(platform, token, Vec::new())
    }

    /// A home whose CLI talks to `platform` with `token` and `env` (the
    /// platform's kind, the user a password goes with).
    pub fn with_env(platform: &str, token: &str, env: Vec<(&'static str, String)>) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tmp"),
            platform: platform.to_owned(),
            token: token.to_owned(),
            env,
        }
    }

    /// `HOME/sub`.
    pub fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// The output folder, `HOME/out`.
    pub fn out(&self) -> PathBuf {
        self.path("out")
    }

    /// The CLI with the home's environment and the token.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_keepsake"));
        c.env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("KEEPSAKE_PLATFORM", &self.platform)
            .env("KEEPSAKE_TOKEN", &self.token)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `keepsake export --json --out HOME/out` plus `extra`.
    pub fn export_args(&self, extra: &[&str]) -> Vec<String> {
        let mut a = vec![
            "export".to_owned(),
            "--json".to_owned(),
            "--out".to_owned(),
            self.out().to_str().expect("utf-8 path").to_owned(),
        ];
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        a
    }

    /// Runs the CLI to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("keepsake runs")
    }

    /// Runs `keepsake export` (see [`Home::export_args`]) and kills it
    /// after `limit`: a run that had to be killed is a failure of its own,
    /// with what it printed so far.
    pub fn export(&self, extra: &[&str], limit: Duration) -> Run {
        let args = self.export_args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run_bounded(&args, limit)
    }

    /// Runs the CLI, killing it after `limit`, and measures its peak RSS.
    pub fn run_bounded(&self, args: &[&str], limit: Duration) -> Run {
        let child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keepsake starts");
        watch(child, limit)
    }

    /// Starts the CLI without waiting (to signal it, say); finish it with
    /// [`watch`].
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("keepsake starts")
    }

    /// The audit log's entries.
    pub fn audit(&self) -> Vec<Value> {
        let path = self.path("data/keepsake/audit.jsonl");
        let Ok(text) = fs_err::read_to_string(&path) else {
            return Vec::new();
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    /// Places canaries beside the output folder (and in `extra` folders):
    /// files and a folder the run must leave exactly as they are.
    pub fn canaries(&self, extra: &[&Path]) -> Canaries {
        let mut roots = vec![self.dir.path().to_path_buf()];
        roots.extend(extra.iter().map(|p| p.to_path_buf()));
        for root in &roots {
            fs_err::create_dir_all(root.join("victim/deep")).expect("canary dir");
            fs_err::write(root.join("canary.txt"), b"keep me").expect("canary");
            fs_err::write(root.join("victim/keep.txt"), b"mine").expect("canary");
            fs_err::write(root.join("victim/deep/keep.txt"), b"mine too").expect("canary");
        }
        let skip = ["data", "config", "out", ".cache", ".local", ".config"]
            .map(|s| self.dir.path().join(s));
        let before = roots.iter().map(|r| (r.clone(), tree(r, &skip))).collect();
        Canaries {
            before,
            skip: skip.to_vec(),
        }
    }
}

/// Everything under some folders, to compare after a run.
pub struct Canaries {
    before: Vec<(PathBuf, BTreeMap<PathBuf, Vec<u8>>)>,
    skip: Vec<PathBuf>,
}

impl Canaries {
    /// Panics if anything under the watched folders (outside `--out` and
    /// the app's own data folders) was created, changed or deleted.
    pub fn assert_intact(&self) {
        for (root, before) in &self.before {
            let after = tree(root, &self.skip);
            assert_eq!(
                before.keys().collect::<Vec<_>>(),
                after.keys().collect::<Vec<_>>(),
                "files beside the output folder in {} were created or deleted",
                root.display()
            );
            assert_eq!(before, &after, "a file beside the output folder changed");
        }
    }
}

fn tree(root: &Path, skip: &[PathBuf]) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if skip.contains(&p) {
                continue;
            }
            let meta = fs_err::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), fs_err::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// A finished run of the CLI.
pub struct Run {
    /// What it printed and how it exited.
    pub output: Output,
    /// Whether it had to be killed at the limit.
    pub killed: bool,
    /// Its peak resident set (VmHWM), in KiB, as last seen while it ran.
    pub peak_rss_kib: u64,
    /// How long it ran.
    pub took: Duration,
}

impl Run {
    /// The exit code (-1 when killed by a signal).
    pub fn code(&self) -> i32 {
        code(&self.output)
    }
    /// stdout and stderr together.
    pub fn text(&self) -> String {
        text(&self.output)
    }
    /// The `--json` result line's `result`, if there is one.
    pub fn result(&self) -> Option<Value> {
        let stdout = String::from_utf8_lossy(&self.output.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("{\"result\""))?;
        serde_json::from_str::<Value>(line)
            .ok()?
            .get("result")
            .cloned()
    }
}

/// Waits for `child`, killing it after `limit`, sampling its peak RSS.
pub fn watch(mut child: Child, limit: Duration) -> Run {
    let started = Instant::now();
    let pid = child.id();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    // Drain both pipes on their own threads so a chatty child never blocks.
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let mut peak = 0;
    let mut killed = false;
    let status = loop {
        if let Some(hwm) = vm_hwm_kib(pid) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            killed = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = Output {
        status,
        stdout: out_t.join().expect("stdout"),
        stderr: err_t.join().expect("stderr"),
    };
    Run {
        output,
        killed,
        peak_rss_kib: peak,
        took: started.elapsed(),
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = fs_err::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The exit code (-1 when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// stdout and stderr together.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Panics if `dir` holds a file that looks like a finished archive
/// (`*.zip`); `*.zip.partial` and staging folders are allowed.
pub fn assert_no_finished_archive(dir: &Path) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".zip"),
            "a finished-looking archive was left behind: {name}"
        );
    }
}

/// The finished archives in `dir`.
pub fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs_err::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "zip"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One entry of a finished archive, as text.
pub fn entry(archive: &Path, name: &str) -> String {
    let file = fs_err::File::open(archive).expect("open archive");
    let mut zip = zip::ZipArchive::new(file).expect("zip");
    let mut e = zip.by_name(name).expect("entry in archive");
    let mut s = String::new();
    e.read_to_string(&mut s).expect("utf-8 entry");
    s
}

/// Panics unless the audit log's last entry has `result` (`completed`,
/// `incomplete`, `failed`, `cancelled`); returns that entry.
pub fn assert_audited(home: &Home, result: &str) -> Value {
    let entries = home.audit();
    let last = entries
        .last()
        .unwrap_or_else(|| panic!("no audit record was written"))
        .clone();
    assert_eq!(last["result"], result, "the audit record: {last}");
    last
}

/// Panics if the token appears in `s`.
pub fn assert_no_token(s: &str) {
    assert!(!s.contains(TOKEN), "the token was printed: {s}");
}

/// Starts `keepsake export` (with `extra`), waits until `ready()` (at most
/// 30 s), lets `settle` pass, sends Ctrl-C (SIGINT) and waits for the end
/// (killing it after 15 s). Returns the run and how long it took to end
/// after the signal.
pub fn export_then_ctrl_c(
    home: &Home,
    extra: &[&str],
    ready: impl Fn() -> bool,
    settle: Duration,
) -> (Run, Duration) {
    let args = home.export_args(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = home.spawn(&args);
    let pid = child.id();
    let waited = Instant::now();
    while !ready() {
        assert!(
            waited.elapsed() < Duration::from_secs(30),
            "the export never got to the point of the Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(settle);
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill -INT");
    assert!(kill.success(), "kill -INT {pid}");
    let run = watch(child, Duration::from_secs(15));
    assert!(!run.killed, "Ctrl-C was ignored: {}", run.text());
    let after = signalled.elapsed();
    (run, after)
}
