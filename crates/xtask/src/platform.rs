//! Driving the reference platform binary (`keepsake-platform`): the
//! `cargo xtask platform` pass-through, and building, seeding and serving it
//! for the demo and the conformance run.

use fs_err::File;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::util::{self, Failure, Result};

const PACKAGE: &str = "keepsake-platform";
const BIN: &str = "keepsake-platform";

/// The line `serve` prints once it accepts connections; the URL follows it.
const LISTENING_PREFIX: &str = "keepsake-platform listening on ";

/// How long a freshly built server may take to print that line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// `cargo xtask platform ARGS…` = `cargo run -p keepsake-platform -- ARGS…`,
/// run from the caller's directory so relative paths mean what they say.
pub fn passthrough(args: &[OsString]) -> Result<ExitCode> {
    let mut cmd = util::cargo();
    cmd.current_dir(std::env::current_dir().unwrap_or_else(|_| util::repo_root()));
    cmd.args(["run", "--package", PACKAGE, "--bin", BIN, "--"])
        .args(args);
    let status = util::status(&mut cmd)?;
    // The platform already said what went wrong; hand its exit code on.
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Builds the debug binary and returns its path.
pub fn build() -> Result<PathBuf> {
    util::run(util::cargo().args(["build", "--package", PACKAGE, "--bin", BIN])).map_err(|e| {
        Failure::new(format!("{e}"))
            .hint("fix the compile errors above (crates/reference-platform), then rerun")
    })?;
    let bin = util::target_dir()
        .join("debug")
        .join(format!("{BIN}{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(Failure::new(format!(
            "cargo built {PACKAGE} but {} is not there",
            bin.display()
        ))
        .hint("check CARGO_TARGET_DIR and the `build.target` setting in .cargo/config.toml"))
    }
}

/// Seeds a fresh database at `db` with a named preset, removing any old one
/// (and its SQLite `-wal`/`-shm` companions) first.
pub fn seed(bin: &Path, db: &Path, preset: &str) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        util::remove_if_exists(Path::new(&path))?;
    }
    util::run(
        Command::new(bin)
            .arg("seed")
            .arg("--db")
            .arg(db)
            .args(["--preset", preset]),
    )
}

/// Mints a personal access token and returns it; it is printed nowhere.
pub fn create_token(bin: &Path, db: &Path, user: &str, scope: &str) -> Result<String> {
    let mut cmd = Command::new(bin);
    cmd.args(["token", "create", "--db"])
        .arg(db)
        .args(["--user", user, "--scope", scope]);
    let out = util::capture(&mut cmd)?;
    let token = out.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err(Failure::new(format!(
            "`{}` did not print exactly one token on stdout",
            util::display(&cmd)
        ))
        .hint("`token create` must print the token alone on stdout (messages belong on stderr)"));
    }
    Ok(token.to_owned())
}

/// A running `keepsake-platform serve`; killed when dropped, so that no
/// early return or panic leaves a server behind.
pub struct Server {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`, without a trailing slash.
    pub url: String,
    /// Where the server's stdout goes (and its stderr when asked).
    pub log: PathBuf,
    /// Byte offset in `log` just past the listening line.
    log_offset: u64,
}

impl Server {
    /// Starts `bin serve ARGS…` and waits for its listening line.
    ///
    /// Its stdout goes to the file `log` rather than a pipe, and xtask reads
    /// the file: after Ctrl-C xtask dies at once while the server is still
    /// shutting down, and a write to a pipe with no reader would fail there.
    /// With `quiet`, stderr goes to the log too (for test runs).
    pub fn start(bin: &Path, args: &[&OsStr], log: &Path, quiet: bool) -> Result<Self> {
        let out = File::create(log).map_err(util::io_failure("create", log))?;
        let err = if quiet {
            Stdio::from(
                out.try_clone()
                    .map_err(util::io_failure("open", log))?
                    .into_file(),
            )
        } else {
            Stdio::inherit()
        };
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.into_file())
            .stderr(err);
        let shown = util::display(&cmd);
        let child = cmd
            .spawn()
            .map_err(|e| Failure::new(format!("could not start `{shown}`: {e}")))?;
        // Own the child before anything can fail, so Drop cleans it up.
        let mut server = Self {
            child,
            url: String::new(),
            log: log.to_path_buf(),
            log_offset: 0,
        };
        server.wait_until_listening(&shown)?;
        Ok(server)
    }

    fn wait_until_listening(&mut self, shown: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            let text = fs_err::read_to_string(&self.log).unwrap_or_default();
            let mut offset = 0;
            for line in text.split_inclusive('\n') {
                offset += line.len();
                // Only whole lines: the server may be mid-write.
                if let Some(rest) = line
                    .strip_suffix('\n')
                    .and_then(|l| l.strip_prefix(LISTENING_PREFIX))
                {
                    self.url = rest.trim().trim_end_matches('/').to_owned();
                    self.log_offset = offset as u64;
                    return Ok(());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(
                    Failure::new(format!("`{shown}` exited before listening ({status})")).hint(
                        format!(
                            "its output is in {}:\n{}",
                            util::show(&self.log),
                            tail(&self.log, 15)
                        ),
                    ),
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(Failure::new(format!(
                    "`{shown}` did not print \"{LISTENING_PREFIX}…\" within {} s",
                    STARTUP_TIMEOUT.as_secs()
                ))
                .hint(format!("see its output in {}", util::show(&self.log))));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the server to exit by itself, copying its stdout (after the
    /// listening line) to ours as it appears.
    pub fn follow(mut self) -> Result<std::process::ExitStatus> {
        let mut log = File::open(&self.log).map_err(util::io_failure("open", &self.log))?;
        log.seek(SeekFrom::Start(self.log_offset))
            .map_err(util::io_failure("read", &self.log))?;
        let mut buf = Vec::new();
        loop {
            let exited = self
                .child
                .try_wait()
                .map_err(|e| Failure::new(format!("could not wait for the server: {e}")))?;
            buf.clear();
            // Errors here only lose log lines; the server is what matters.
            let _ = log.read_to_end(&mut buf);
            if !buf.is_empty() {
                print!("{}", String::from_utf8_lossy(&buf));
            }
            if let Some(status) = exited {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Already exited is fine; there is nobody to tell about other errors.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `n` lines of a log file, indented, for error messages.
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs_err::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
