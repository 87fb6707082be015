//! The processes under measurement, for the benchmarks (`bench-export`
//! and the desktop suite's `bench`): the release-built platform server and
//! `keepsake export` as children (killed on every path), and what /proc
//! says about their CPU time and peak memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

/// How often the export's /proc entries are read.
const POLL: Duration = Duration::from_millis(20);

/// A child process killed (and reaped) when dropped, on every path.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `keepsake-platform seed --db DB --preset large [--posts N] [--media N]`.
pub fn seed(bin: &Path, db: &Path, posts: Option<u64>, media: Option<u64>) -> Result<()> {
    let mut cmd = Command::new(bin);
    cmd.arg("seed")
        .arg("--db")
        .arg(db)
        .args(["--preset", "large"]);
    if let Some(p) = posts {
        cmd.arg("--posts").arg(p.to_string());
    }
    if let Some(m) = media {
        cmd.arg("--media").arg(m.to_string());
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context("running the seed")?;
    let log = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "seeding failed: {log}");
    eprintln!("    {}", log.trim());
    Ok(())
}

/// `keepsake-platform token create`: a personal access token for `large`.
pub fn mint_token(bin: &Path, db: &Path) -> Result<String> {
    let out = Command::new(bin)
        .args(["token", "create", "--db"])
        .arg(db)
        .args(["--user", "large", "--scope", "export:self"])
        .stdin(Stdio::null())
        .output()
        .context("minting a token")?;
    ensure!(
        out.status.success(),
        "minting a token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).context("the token is not UTF-8")?;
    ensure!(!token.trim().is_empty(), "token create printed nothing");
    Ok(token.trim().to_owned())
}

/// A `keepsake-platform serve` child on `127.0.0.1:0`, quota and rate limit off.
pub struct Server {
    pub url: String,
    pid: u32,
    // Kept open: the server must not write into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    _child: Guard,
}

impl Server {
    pub fn start(bin: &Path, db: &Path, log: &Path) -> Result<Self> {
        let stderr = fs_err::File::create(log).context("creating the server log")?;
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--db")
            .arg(db)
            .args(["--addr", "127.0.0.1:0", "--quota", "0", "--rate-limit", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.into_file())
            .spawn()
            .context("starting keepsake-platform serve")?;
        let stdout = child.stdout.take();
        let pid = child.id();
        let guard = Guard(child);
        let mut stdout = BufReader::new(stdout.context("the server's stdout")?);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .context("reading the server's first line")?;
        let Some(url) = line.trim().strip_prefix("keepsake-platform listening on ") else {
            bail!(
                "the platform did not start (it said {line:?}): {}",
                tail(log)
            );
        };
        Ok(Self {
            url: url.to_owned(),
            pid,
            _stdout: stdout,
            _child: guard,
        })
    }

    /// The server's CPU seconds so far.
    pub fn cpu(&self) -> Result<f64> {
        let (_, ticks) = proc_stat(&format!("/proc/{}/stat", self.pid))
            .context("reading the server's /proc/PID/stat")?;
        Ok(ticks as f64 / clock_ticks())
    }
}

/// How the `keepsake` CLI is run.
#[derive(Clone)]
pub struct Cli {
    pub bin: PathBuf,
    pub url: String,
    pub token: String,
    pub home: PathBuf,
    pub logs: PathBuf,
    /// More environment (`KEEPSAKE_KIND`, `KEEPSAKE_USER`) and arguments
    /// after `export` (`--include …`).
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

/// One `keepsake export` run.
pub struct CliRun {
    pub wall: f64,
    pub peak_rss_kib: u64,
    /// Client CPU seconds, from the last poll before it exited.
    pub cpu: f64,
    pub status: ExitStatus,
    /// `(staged, estimated total)` bytes when it was killed.
    pub killed_at: Option<(u64, u64)>,
    /// The most disk space the run took on the file system of `--out`
    /// (its free space at the start, less the least seen, polled with RSS):
    /// staging, temporary files and the archive, unnamed files included.
    pub peak_disk: u64,
    /// The final `{"result": …}` object.
    pub result: Option<Value>,
    /// `(category, count, bytes)` of the preflight event.
    pub preflight: Vec<(String, u64, u64)>,
    pub stderr_log: PathBuf,
}

/// What the progress reader has seen on the CLI's stdout.
#[derive(Default)]
struct Progress {
    done: u64,
    total: u64,
    result: Option<Value>,
    preflight: Vec<(String, u64, u64)>,
}

impl Cli {
    /// Runs `keepsake export --json --out OUT [--resume]`, polling its peak
    /// RSS and CPU every 20 ms; with `kill_at_half`, kills it (SIGKILL) once
    /// its progress reaches half the session's estimated bytes.
    pub fn export(
        &self,
        out: &Path,
        resume: bool,
        kill_at_half: bool,
        tag: &str,
    ) -> Result<CliRun> {
        let stderr_log = self.logs.join(format!("cli-{tag}.log"));
        let mut cmd = Command::new(&self.bin);
        cmd.args(["export", "--json", "--out"]).arg(out);
        if resume {
            cmd.arg("--resume");
        }
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.env("KEEPSAKE_PLATFORM", &self.url)
            .env("KEEPSAKE_TOKEN", &self.token)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(
                fs_err::File::create(&stderr_log)
                    .context("creating the CLI log")?
                    .into_file(),
            );
        let started = Instant::now();
        let mut child = Guard(cmd.spawn().context("starting keepsake export")?);
        let pid = child.0.id();
        let stdout = child.0.stdout.take().context("the CLI's stdout")?;
        let progress = Arc::new(Mutex::new(Progress::default()));
        let reader = {
            let progress = progress.clone();
            std::thread::spawn(move || read_progress(stdout, &progress))
        };
        let (stat, status) = (format!("/proc/{pid}/stat"), format!("/proc/{pid}/status"));
        let (mut ticks, mut peak, mut killed_at) = (0u64, 0u64, None);
        // The folder's file system (`out` itself may not exist yet).
        let fs_of = out.parent().unwrap_or(out).to_owned();
        let free_at_start = fs4::available_space(&fs_of).unwrap_or(0);
        let mut least_free = free_at_start;
        let status = loop {
            // A zombie (exited, not yet reaped) still shows its final CPU times.
            if let Some((_, t)) = proc_stat(&stat) {
                ticks = ticks.max(t);
            }
            if let Some(hwm) = vm_hwm_kib(&status) {
                peak = peak.max(hwm);
            }
            if let Ok(free) = fs4::available_space(&fs_of) {
                least_free = least_free.min(free);
            }
            if kill_at_half && killed_at.is_none() {
                // Half of the session's estimate, by the progress events
                // (throttled to four a second) or by what is on disk.
                let (done, total) = {
                    let p = progress
                        .lock()
                        .map_err(|_| anyhow::anyhow!("progress lock"))?;
                    let estimate: u64 = p.preflight.iter().map(|(_, _, b)| b).sum();
                    (p.done, p.total.max(estimate))
                };
                let staged = match staging_dir(out) {
                    Ok(dir) if total > 0 => dir_bytes(&dir),
                    _ => 0,
                };
                let reached = done.max(staged);
                if total > 0 && reached * 2 >= total {
                    killed_at = Some((reached, total));
                    child.0.kill().context("killing the export")?;
                }
            }
            if let Some(s) = child.0.try_wait().context("waiting for the CLI")? {
                break s;
            }
            std::thread::sleep(POLL);
        };
        let wall = started.elapsed().as_secs_f64();
        let _ = reader.join();
        let mut p = progress
            .lock()
            .map_err(|_| anyhow::anyhow!("progress lock"))?;
        Ok(CliRun {
            wall,
            peak_rss_kib: peak,
            cpu: ticks as f64 / clock_ticks(),
            status,
            killed_at,
            peak_disk: free_at_start.saturating_sub(least_free),
            result: p.result.take(),
            preflight: std::mem::take(&mut p.preflight),
            stderr_log,
        })
    }
}

fn read_progress(stdout: ChildStdout, progress: &Mutex<Progress>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Ok(mut p) = progress.lock() else { return };
        if v.get("result").is_some() {
            p.result = v.get("result").cloned();
        }
        match v["event"].as_str() {
            Some("bytes") => {
                p.done = v["done"].as_u64().unwrap_or(0);
                p.total = v["total"].as_u64().unwrap_or(0);
            }
            Some("preflight") => {
                // (A category whose count is not announced counts 0.)
                p.preflight = v["categories"]
                    .as_array()
                    .map(|cats| {
                        cats.iter()
                            .filter_map(|c| {
                                Some((
                                    c["name"].as_str()?.to_owned(),
                                    c["records"].as_u64().unwrap_or(0),
                                    c["bytes"].as_u64()?,
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            }
            _ => {}
        }
    }
}

impl CliRun {
    /// The archive and its size, if the run exited 0 with a completed archive.
    pub fn completed(&self, what: &str) -> Result<(PathBuf, u64)> {
        ensure!(
            self.status.success(),
            "{what} exited with {}: {}",
            self.status,
            tail(&self.stderr_log)
        );
        let r = self
            .result
            .as_ref()
            .with_context(|| format!("{what} printed no result"))?;
        ensure!(r["outcome"] == "completed", "{what} ended with {r}");
        let archive = PathBuf::from(
            r["archive"]
                .as_str()
                .context("the result names no archive")?,
        );
        ensure!(archive.is_file(), "{} does not exist", archive.display());
        Ok((archive, r["bytes"].as_u64().unwrap_or(0)))
    }
}

/// The hidden staging directory of an export in `out`.
pub fn staging_dir(out: &Path) -> Result<PathBuf> {
    fs_err::read_dir(out)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".keepsake-exp_"))
                && p.join("journal.jsonl").is_file()
        })
        .context("no staging directory with a journal")
}

pub fn dir_bytes(dir: &Path) -> u64 {
    fs_err::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// The state and utime + stime (in clock ticks) of a /proc/…/stat file.
fn proc_stat(path: &str) -> Option<(char, u64)> {
    parse_stat(&fs_err::read_to_string(path).ok()?)
}

fn parse_stat(text: &str) -> Option<(char, u64)> {
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let fields: Vec<&str> = text
        .get(text.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let state = fields.first()?.chars().next()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((state, utime + stime))
}

/// This process's CPU seconds so far (all threads).
pub fn self_cpu() -> Result<f64> {
    let (_, ticks) = proc_stat("/proc/self/stat").context("reading /proc/self/stat")?;
    Ok(ticks as f64 / clock_ticks())
}

/// `VmHWM` (peak resident set) of a /proc/…/status file, in KiB.
fn vm_hwm_kib(path: &str) -> Option<u64> {
    let text = fs_err::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The last lines of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = fs_err::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_fields_follow_the_last_parenthesis() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 3 0";
        assert_eq!(parse_stat(line), Some(('S', 280)));
        assert_eq!(parse_stat("garbage"), None);
    }
}
