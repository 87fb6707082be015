//! The offline viewer's browser tests (`tests/viewer/`, node's test runner
//! with playwright-core driving Debian's Chromium): install their npm
//! packages from the lock file, and run them on the archives that the
//! `export` suite extracts into [`fixtures_dir`].

use std::path::PathBuf;

use crate::util::{self, Failure, Result};

/// The environment variable both sides agree on: the export suite writes
/// the fixtures there, the browser tests read them from there.
pub const FIXTURES_VAR: &str = "KEEPSAKE_VIEWER_FIXTURES";

pub fn dir() -> PathBuf {
    util::repo_root().join("tests").join("viewer")
}

/// Where the export suite extracts its archives for the browser tests.
pub fn fixtures_dir() -> PathBuf {
    util::target_dir().join("viewer-fixtures")
}

/// `npm ci` in `tests/viewer/` when `node_modules` is missing or the lock
/// file changed since the last install.
pub fn install() -> Result<()> {
    crate::node::install_locked(&dir(), "the viewer tests")
}

/// Removes the fixtures of an earlier run, so that the browser tests see
/// only archives made by this build.
pub fn clear_fixtures() -> Result<()> {
    util::remove_if_exists(&fixtures_dir())
}

/// `node --test tests/viewer/` on the fixtures. With `require`, missing
/// fixtures fail the run instead of skipping the tests (the workspace tests
/// ran in full, so they must have made them).
pub fn browser_tests(require: bool) -> Result<()> {
    println!("\nxtask test: the offline viewer in headless Chromium (node --test tests/viewer/)");
    let mut cmd = crate::node::find()?.command("node");
    cmd.arg("--test")
        .arg(dir())
        .current_dir(util::repo_root())
        .env(FIXTURES_VAR, fixtures_dir());
    if require {
        cmd.env("KEEPSAKE_REQUIRE_TOOLS", "1");
    }
    println!("xtask test: {}", util::display(&cmd));
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("the viewer's browser tests failed: {e}")).hint(
            "see the failing tests above; rerun them with `node --test tests/viewer/` \
             (after `cargo test -p keepsake-tests --test export viewer`, which makes the fixtures)",
        )
    })
}
