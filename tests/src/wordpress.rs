//! A real WordPress for a test: a fresh copy of the seeded snapshot
//! (`tests/servers/wordpress/wp.sh`, seeded once per machine and cached
//! under the target folder), served by PHP on a loopback port with its
//! own MariaDB, stopped when dropped. What the seed holds is in
//! [`WordPress::seed`] (`seed.json`); the site's database answers
//! [`WordPress::sql`], the way a test reads back what the site holds.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A running WordPress.
pub struct WordPress {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// What the seed made: users (with passwords and application
    /// passwords), counts, media (see the harness's `seed.php`).
    pub seed: Value,
    dir: tempfile::TempDir,
}

/// The harness script.
pub fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/wordpress/wp.sh")
}

/// The cached, seeded snapshot every instance is copied from.
fn snapshot() -> PathBuf {
    crate::target_dir().join("servers/wordpress/seed")
}

/// Whether this machine has what the harness needs (the packages `cargo
/// xtask setup` installs); where tools are required, their absence fails
/// the test instead.
pub fn available() -> bool {
    let here = Path::new("/usr/share/wordpress/wp-settings.php").is_file()
        && Command::new("php")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success());
    if !here && std::env::var_os("KEEPSAKE_REQUIRE_TOOLS").is_some() {
        panic!("WordPress is not installed here: run `cargo xtask setup`");
    }
    here
}

impl WordPress {
    /// A fresh site from the snapshot (seeded first if it is missing or
    /// stale); `None` where WordPress is not installed and not required.
    pub fn start() -> Option<Self> {
        if !available() {
            eprintln!("skipped: WordPress is not installed (cargo xtask setup installs it)");
            return None;
        }
        let dir = tempfile::tempdir().expect("instance dir");
        for _ in 0..5 {
            let port = crate::free_port();
            let out = Command::new("bash")
                .arg(harness())
                .arg("start")
                .arg(snapshot())
                .arg(dir.path())
                .arg(port.to_string())
                .env("KEEPSAKE_WP_OWNER_PID", std::process::id().to_string())
                .output()
                .expect("wp.sh runs");
            match out.status.code() {
                Some(0) => {
                    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    let seed = fs_err::read(dir.path().join("seed.json")).expect("seed.json");
                    return Some(Self {
                        url,
                        seed: serde_json::from_slice(&seed).expect("seed.json is JSON"),
                        dir,
                    });
                }
                // The port was taken meanwhile: another.
                Some(3) => continue,
                _ => panic!(
                    "WordPress did not start: {}",
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }
        panic!("WordPress found no free port in five tries");
    }

    /// A seeded user: `login`, `password`, `app_password`, `id`, …
    pub fn user(&self, login: &str) -> &Value {
        &self.seed["users"][login]
    }

    /// The application password the seed made for `login`.
    pub fn app_password(&self, login: &str) -> String {
        self.user(login)["app_password"]
            .as_str()
            .expect("an application password")
            .to_owned()
    }

    /// The rows `query` answers, each a list of its columns (tab-separated
    /// by MariaDB, `\t` `\n` `\\` escaped inside values as it writes them).
    pub fn sql(&self, query: &str) -> Vec<Vec<String>> {
        let out = Command::new("bash")
            .arg(harness())
            .arg("sql")
            .arg(self.dir.path())
            .arg(query)
            .output()
            .expect("wp.sh runs");
        assert!(
            out.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').map(unescape).collect())
            .collect()
    }

    /// The instance's folder (its logs are in `log/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A value as MariaDB's batch output escapes it.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

impl Drop for WordPress {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(harness())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}
