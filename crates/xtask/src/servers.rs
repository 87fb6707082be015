//! The third-party test servers' seeds, made while the workspace compiles:
//! a WordPress site (about 10 s) and two Synapse snapshots (about a minute,
//! and the bench room's several minutes). Each is cached under `target/`
//! and made once; the tests that need one wait for it on its lock if it is
//! still being made, so starting them early only saves time.

use fs_err::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::util::{self, Result};

/// Seeds under way, each with its log.
pub struct Seeding(Vec<(&'static str, Child, PathBuf)>);

/// Starts every seed in the background (where the servers are installed);
/// their progress goes to `target/xtask/seed-*.log`.
pub fn seed_in_background() -> Result<Seeding> {
    let logs = util::xtask_dir();
    fs_err::create_dir_all(&logs).map_err(util::io_failure("create", &logs))?;
    let mut started = Vec::new();
    let mut spawn = |what: &'static str, mut cmd: Command| {
        let log = logs.join(format!("seed-{what}.log"));
        let Ok(out) = File::create(&log) else {
            return;
        };
        let err = out.try_clone().ok();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out.into_file()));
        if let Some(e) = err {
            cmd.stderr(Stdio::from(e.into_file()));
        }
        if let Ok(child) = cmd.spawn() {
            started.push((what, child, log));
        }
    };
    if std::path::Path::new("/usr/share/wordpress/wp-settings.php").is_file() {
        let mut wp = Command::new("bash");
        wp.arg(crate::wordpress::script())
            .arg("seed")
            .arg(crate::wordpress::snapshot_dir());
        spawn("wordpress", wp);
    }
    let python = crate::synapse::venv_dir().join("bin").join("python");
    if python.is_file() {
        // One after the other: the bench preset is the default and a room.
        let harness = util::repo_root().join("tests/servers/synapse/harness.py");
        let mut mx = Command::new("sh");
        mx.arg("-c")
            .arg(r#""$1" "$2" seed "$3" --preset default && "$1" "$2" seed "$4" --preset bench"#)
            .arg("seed")
            .arg(&python)
            .arg(&harness)
            .arg(crate::synapse::snapshot_dir("default"))
            .arg(crate::synapse::snapshot_dir("bench"))
            .env("KEEPSAKE_SYNAPSE_VENV", crate::synapse::venv_dir());
        spawn("synapse", mx);
    }
    Ok(Seeding(started))
}

impl Seeding {
    /// Waits for every seed; one that failed is said, with its log (the
    /// tests that needed it have failed, or made it themselves).
    pub fn finish(self) {
        for (what, mut child, log) in self.0 {
            match child.wait() {
                Ok(s) if s.success() => {}
                Ok(s) => println!(
                    "xtask test: seeding the {what} test server ended with {s}; see {}",
                    util::show(&log)
                ),
                Err(e) => println!("xtask test: seeding the {what} test server: {e}"),
            }
        }
    }
}
