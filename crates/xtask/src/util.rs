//! Small helpers shared by the tasks: where the repository is, how to run a
//! command and say clearly which one failed, and the one error type.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};

/// What went wrong, in the user's terms, and what to do about it.
///
/// `main` prints it once; nothing below `main` prints errors itself.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    usage: bool,
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            usage: false,
        }
    }

    /// A mistake on the command line: exits 2 and points at `cargo xtask help`.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: Some("run `cargo xtask help` for the list of commands and flags".into()),
            usage: true,
        }
    }

    /// What the user should do next.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn report(&self) {
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            let mut lines = hint.lines();
            if let Some(first) = lines.next() {
                eprintln!("  next: {first}");
            }
            for line in lines {
                eprintln!("        {line}");
            }
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        if self.usage {
            ExitCode::from(2)
        } else {
            ExitCode::FAILURE
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The workspace root: this crate lives at `crates/xtask`.
pub fn repo_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| manifest_dir.to_path_buf(), Path::to_path_buf)
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` like cargo does.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => repo_root().join(dir),
        _ => repo_root().join("target"),
    }
}

/// Where xtask keeps its own state (the Python venv, conformance runs).
pub fn xtask_dir() -> PathBuf {
    target_dir().join("xtask")
}

/// `path` relative to the repository root when it is inside it, for messages.
pub fn show(path: &Path) -> String {
    let root = repo_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A `cargo` command run from the repository root, using the same cargo that
/// runs xtask (cargo sets `CARGO` for the programs it runs).
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(repo_root());
    // `cargo run` gave xtask its own package's variables; build scripts that
    // watch them (ring's watches CARGO_MANIFEST_DIR) would rebuild whenever
    // the child cargo inherits them, and again on the next plain build.
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("CARGO_PKG_")
            || matches!(
                n.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// The command line, for messages. Never put secrets in argv: this prints it.
pub fn display(cmd: &Command) -> String {
    let mut out = quote(cmd.get_program());
    for arg in cmd.get_args() {
        out.push(' ');
        out.push_str(&quote(arg));
    }
    out
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn spawn_failure(cmd: &Command, err: &std::io::Error) -> Failure {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let failure = Failure::new(format!("could not start `{}`: {err}", display(cmd)));
    if err.kind() == std::io::ErrorKind::NotFound {
        failure.hint(format!(
            "`{program}` is not on PATH; run `cargo xtask setup` or install it"
        ))
    } else {
        failure
    }
}

/// `cmd` exited with `status`, not zero.
pub fn status_failure(cmd: &Command, status: ExitStatus) -> Failure {
    Failure::new(format!("`{}` failed ({status})", display(cmd)))
}

/// Runs `cmd` with inherited stdio; fails if it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().map_err(|e| spawn_failure(cmd, &e))?;
    if status.success() {
        Ok(())
    } else {
        Err(status_failure(cmd, status))
    }
}

/// Like [`run`] but hands back the exit status instead of failing on it.
pub fn status(cmd: &mut Command) -> Result<ExitStatus> {
    cmd.status().map_err(|e| spawn_failure(cmd, &e))
}

/// Runs `cmd` and returns its stdout; stderr goes to the terminal.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let (status, out) = output(cmd)?;
    if !status.success() {
        return Err(status_failure(cmd, status));
    }
    Ok(out)
}

/// Like [`capture`] but hands back the exit status instead of failing on it.
pub fn output(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| spawn_failure(cmd, &e))?;
    let out = String::from_utf8(output.stdout).map_err(|_| {
        Failure::new(format!(
            "`{}` printed something that is not UTF-8",
            display(cmd)
        ))
    })?;
    Ok((output.status, out))
}

/// True when `cmd` starts and exits zero; all its output is discarded.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Maps an I/O error on `path` to a failure that names the file.
pub fn io_failure(action: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Failure {
    let what = format!("could not {action} {}", path.display());
    move |e| Failure::new(format!("{what}: {}", os_reason(&e)))
}

/// The OS's reason for an I/O error: under an `fs-err` error (whose own
/// message, with the workspace's `expose_original_error`, is only the
/// file's name), its source.
fn os_reason(e: &std::io::Error) -> String {
    e.get_ref()
        .and_then(|inner| std::error::Error::source(inner))
        .map_or_else(|| e.to_string(), ToString::to_string)
}

/// Removes `path` (file or directory) if it exists.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    let result = if path.is_dir() {
        fs_err::remove_dir_all(path)
    } else {
        fs_err::remove_file(path)
    };
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_failure("remove", path)(e)),
        _ => Ok(()),
    }
}

/// True when `program` is an executable file in a directory on `PATH`.
pub fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(program);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        }
        #[cfg(not(unix))]
        {
            candidate.is_file() || candidate.with_extension("exe").is_file()
        }
    })
}

/// Rejects any argument: for commands that take none.
pub fn no_args(command: &str, args: &[std::ffi::OsString]) -> Result<()> {
    match args.first() {
        None => Ok(()),
        Some(arg) => Err(Failure::usage(format!(
            "`cargo xtask {command}` takes no arguments, got `{}`",
            arg.to_string_lossy()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_for_a_shell() {
        let mut cmd = Command::new("schemathesis");
        cmd.args([
            "run",
            "--exclude-path-regex",
            "^/(admin(/.*)?)$",
            "it's",
            "",
        ]);
        assert_eq!(
            display(&cmd),
            r"schemathesis run --exclude-path-regex '^/(admin(/.*)?)$' 'it'\''s' ''"
        );
    }
}
