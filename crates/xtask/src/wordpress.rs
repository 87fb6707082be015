//! `cargo xtask wordpress seed|start|stop|status`: a real WordPress 6.1
//! (Debian's package, with MariaDB and PHP's built-in server, on loopback
//! only) seeded with known users, posts, comments and media, for trying a
//! connector by hand and for the demo.
//!
//! All the work is in `tests/servers/wordpress/wp.sh`, which the tests call
//! directly with directories and ports of their own (so that several run at
//! once); this task gives it one fixed instance under the target directory.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use crate::util::{self, Failure, Result};

/// The port `start` uses unless told otherwise: fixed, so that a URL written
/// down (a desktop app's saved account) still works after a restart.
const DEFAULT_PORT: u16 = 18481;

/// wp.sh's exit code when the port is taken.
const PORT_IN_USE: i32 = 3;

pub fn script() -> PathBuf {
    util::repo_root()
        .join("tests")
        .join("servers")
        .join("wordpress")
        .join("wp.sh")
}

/// Where the seeded snapshot is cached; wp.sh rebuilds it when the harness
/// files or the installed WordPress, MariaDB or PHP change.
pub fn snapshot_dir() -> PathBuf {
    util::target_dir()
        .join("servers")
        .join("wordpress")
        .join("seed")
}

fn instance_dir() -> PathBuf {
    util::target_dir()
        .join("servers")
        .join("wordpress")
        .join("instance")
}

pub fn run(args: &[OsString]) -> Result<ExitCode> {
    let args: Vec<&str> = args
        .iter()
        .map(|a| {
            a.to_str()
                .ok_or_else(|| Failure::usage("`cargo xtask wordpress`: arguments must be UTF-8"))
        })
        .collect::<Result<_>>()?;
    match args.as_slice() {
        ["seed"] => {
            wp(&["seed"], &[&snapshot_dir()])?;
            println!(
                "wordpress: snapshot in {} (its facts in seed.json)",
                util::show(&snapshot_dir())
            );
            Ok(ExitCode::SUCCESS)
        }
        ["start"] => start(DEFAULT_PORT),
        ["start", "--port", port] => {
            start(port.parse().map_err(|_| {
                Failure::usage(format!("`--port` wants a port number, got `{port}`"))
            })?)
        }
        ["stop"] => wp(&["stop"], &[&instance_dir()]).map(|()| ExitCode::SUCCESS),
        ["status"] => {
            // wp.sh prints the state; its exit code says whether it is up.
            let mut cmd = command(&["status"], &[&instance_dir()]);
            let status = util::status(&mut cmd)?;
            Ok(if status.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        _ => Err(Failure::usage(
            "usage: cargo xtask wordpress seed | start [--port N] | stop | status",
        )),
    }
}

fn start(port: u16) -> Result<ExitCode> {
    let instance = instance_dir();
    if util::succeeds(&mut command(&["status"], &[&instance])) {
        let url = fs_err::read_to_string(instance.join("url")).unwrap_or_default();
        println!(
            "wordpress: already running at {} (`cargo xtask wordpress stop` stops it)",
            url.trim()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let port_arg = port.to_string();
    let mut cmd = command(&["start"], &[&snapshot_dir(), &instance]);
    cmd.arg(&port_arg);
    // stdout is the URL alone; wp.sh's servers write to files, never to this
    // pipe, so reading it to the end does not wait for them.
    let output = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| Failure::new(format!("could not start {}: {e}", util::display(&cmd))))?;
    if output.status.code() == Some(PORT_IN_USE) {
        return Err(Failure::new(format!("port {port} is in use")).hint(format!(
            "stop what listens there (`cargo xtask wordpress stop` if it is an earlier \
                 WordPress) or pick another: cargo xtask wordpress start --port {}",
            port.wrapping_add(1)
        )));
    }
    if !output.status.success() {
        return Err(failure(&cmd, output.status));
    }
    let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    println!(
        "wordpress: running at {url}\n\
         \x20 users, passwords and application passwords: {}\n\
         \x20 e.g. author / author-password-1 (an author), admin / admin-password-1\n\
         \x20 stop it with `cargo xtask wordpress stop`",
        util::show(&instance.join("seed.json"))
    );
    Ok(ExitCode::SUCCESS)
}

fn command(words: &[&str], paths: &[&PathBuf]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).args(words).args(paths);
    cmd
}

fn wp(words: &[&str], paths: &[&PathBuf]) -> Result<()> {
    let mut cmd = command(words, paths);
    let status = util::status(&mut cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(failure(&cmd, status))
    }
}

fn failure(cmd: &Command, status: std::process::ExitStatus) -> Failure {
    Failure::new(format!("`{}` failed ({status})", util::display(cmd))).hint(
        "see wp.sh's message above; it needs Debian/Ubuntu's wordpress, mariadb and php \
         packages (`cargo xtask setup` installs them), and its logs are in the log/ folder \
         of the instance",
    )
}
