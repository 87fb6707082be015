//! The browser sign-in tests (`tests/signin/`, node's test runner with
//! playwright-core driving Debian's Chromium): the real `keepsake login`
//! against a real WordPress and a real Synapse, approved in the browser and
//! back through the loopback listener. They run the CLI the workspace tests
//! built, so they come after those.

use std::path::PathBuf;

use crate::util::{self, Failure, Result};

pub fn dir() -> PathBuf {
    util::repo_root().join("tests").join("signin")
}

/// `npm ci` in `tests/signin/` when `node_modules` is missing or the lock
/// file changed since the last install.
pub fn install() -> Result<()> {
    crate::node::install_locked(&dir(), "the sign-in tests")
}

/// `node --test tests/signin/`. With `require`, a missing CLI, browser or
/// server fails the run instead of skipping the tests (the workspace tests
/// ran in full, so they built the CLI; setup installed the rest).
pub fn browser_tests(require: bool) -> Result<()> {
    println!(
        "\nxtask test: sign-in in headless Chromium against real WordPress and Synapse servers \
         (node --test tests/signin/)"
    );
    let mut cmd = crate::node::find()?.command("node");
    cmd.arg("--test")
        .arg(dir())
        .current_dir(util::repo_root())
        // Both sides then agree on where the CLI, the snapshots and the
        // Synapse venv are, whatever the caller's CARGO_TARGET_DIR says.
        .env("CARGO_TARGET_DIR", util::target_dir())
        .env(crate::synapse::VENV_VAR, crate::synapse::venv_dir());
    if require {
        cmd.env("KEEPSAKE_REQUIRE_TOOLS", "1");
    }
    println!("xtask test: {}", util::display(&cmd));
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("the browser sign-in tests failed: {e}")).hint(
            "see the failing tests above; rerun them with `node --test tests/signin/` \
             (after `cargo build -p keepsake-cli`, which makes target/debug/keepsake)",
        )
    })
}
