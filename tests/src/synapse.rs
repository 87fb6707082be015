//! A real Matrix homeserver for a test: a fresh copy of a seeded Synapse
//! snapshot (`tests/servers/synapse/harness.py`, seeded once per machine
//! and cached under the target folder), on a loopback port, stopped when
//! dropped. What the seed holds is in [`Synapse::seed`] (`seed.json`):
//! users with passwords and access tokens, rooms, media.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Which seed: `default` (~3,400 events in 8 rooms) or `bench` (the
/// default and a room of ~12,100 events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// About 3,400 events.
    Default,
    /// The default and a room of about 12,100 events.
    Bench,
}

impl Preset {
    fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Bench => "bench",
        }
    }
}

/// A running Synapse.
pub struct Synapse {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's name (`localhost`): the part after `:` in user ids.
    pub server_name: String,
    /// What the seed made.
    pub seed: Value,
    /// The fake CAS identity provider's address, when started with one.
    pub cas_url: Option<String>,
    dir: tempfile::TempDir,
}

/// The harness script.
pub fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/synapse/harness.py")
}

/// The venv's Python, with Synapse in it (`cargo xtask setup` makes it).
fn python() -> PathBuf {
    match std::env::var_os("KEEPSAKE_SYNAPSE_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v).join("bin/python"),
        _ => crate::target_dir().join("servers/synapse/venv/bin/python"),
    }
}

/// Whether Synapse is installed here; where tools are required, its
/// absence fails the test instead.
pub fn available() -> bool {
    let here = python().is_file();
    if !here && std::env::var_os("KEEPSAKE_REQUIRE_TOOLS").is_some() {
        panic!("Synapse is not installed here: run `cargo xtask setup`");
    }
    here
}

impl Synapse {
    /// A fresh homeserver from the `preset`'s snapshot (seeded first if it
    /// is missing or stale); `None` where Synapse is not installed and not
    /// required.
    pub fn start(preset: Preset) -> Option<Self> {
        Self::start_with(preset, &[])
    }

    /// The same, with the harness's `start` options (`--cas-port 0`,
    /// `--extra-config FILE`).
    pub fn start_with(preset: Preset, options: &[&str]) -> Option<Self> {
        if !available() {
            eprintln!("skipped: Synapse is not installed (cargo xtask setup installs it)");
            return None;
        }
        let snapshot = crate::target_dir().join(format!("servers/synapse/seed-{}", preset.name()));
        let seeded = Command::new(python())
            .arg(harness())
            .args([
                "seed",
                &snapshot.to_string_lossy(),
                "--preset",
                preset.name(),
            ])
            .output()
            .expect("the harness runs");
        assert!(
            seeded.status.success(),
            "Synapse could not be seeded: {}",
            String::from_utf8_lossy(&seeded.stderr)
        );
        let dir = tempfile::tempdir().expect("instance dir");
        let out = Command::new(python())
            .arg(harness())
            .arg("start")
            .arg(&snapshot)
            .arg(dir.path())
            .arg("0")
            .args(["--watch-pid", &std::process::id().to_string()])
            .args(options)
            .output()
            .expect("the harness runs");
        assert!(
            out.status.success(),
            "Synapse did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let started: Value = serde_json::from_slice(&out.stdout).expect("the harness's JSON");
        let seed =
            fs_err::read(started["seed_json"].as_str().expect("seed.json")).expect("seed.json");
        Some(Self {
            url: started["base_url"].as_str().expect("base_url").to_owned(),
            server_name: started["server_name"]
                .as_str()
                .unwrap_or("localhost")
                .to_owned(),
            cas_url: started["cas_url"].as_str().map(str::to_owned),
            seed: serde_json::from_slice(&seed).expect("seed.json is JSON"),
            dir,
        })
    }

    /// A seeded user: `user_id`, `password`, `access_token`, …
    pub fn user(&self, name: &str) -> &Value {
        &self.seed["users"][name]
    }

    /// The seeded access token of `name` (its device `SEED`).
    pub fn token(&self, name: &str) -> String {
        self.user(name)["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// A seeded room (`group`, `left`, `bench`…).
    pub fn room(&self, key: &str) -> &Value {
        &self.seed["rooms"][key]
    }

    /// The instance's folder (its log is there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = Command::new(python())
            .arg(harness())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}
