//! The desktop UI's toolchain (`ui/`, npm): install it from the lock file,
//! build it into `ui/dist` (which the desktop shell embeds), and run its
//! component tests — all on the node [`crate::node::find`] picks.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{self, Failure, Result};

/// Written into `ui/node_modules` after `npm ci`: a copy of the lock file it
/// installed, so that an unchanged lock skips the install.
const STAMP_FILE: &str = ".keepsake-stamp";

pub fn dir() -> PathBuf {
    util::repo_root().join("ui")
}

/// A tool installed in `ui/node_modules/.bin`.
pub fn bin(name: &str) -> PathBuf {
    dir().join("node_modules").join(".bin").join(name)
}

/// `npm ci` in `ui/` when the lock file changed since the last install.
pub fn install() -> Result<()> {
    let node = crate::node::find()?;
    let ui = dir();
    let lock = ui.join("package-lock.json");
    let stamp = ui.join("node_modules").join(STAMP_FILE);
    let wanted = fs_err::read(&lock).map_err(util::io_failure("read", &lock))?;
    if fs_err::read(&stamp).is_ok_and(|have| have == wanted) {
        return Ok(());
    }
    println!("setup: installing the UI's npm packages (npm ci in ui/)");
    util::run(
        node.command("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&ui),
    )
    .map_err(|e| {
        Failure::new(format!("{e}")).hint(
            "check the network access to the npm registry and the messages above, then rerun `cargo xtask setup`",
        )
    })?;
    fs_err::write(&stamp, &wanted).map_err(util::io_failure("write", &stamp))
}

/// `vite build` into `ui/dist`.
pub fn build() -> Result<()> {
    println!("xtask: building the UI (vite build)");
    util::run(
        crate::node::find()?
            .command(bin("vite"))
            .args(["build", "--logLevel", "warn"])
            .current_dir(dir()),
    )
    .map_err(|e| Failure::new(format!("{e}")).hint("fix the UI build errors above (ui/src)"))
}

/// The UI's type check (svelte-check over the TypeScript and the Svelte
/// components, tests included), then its component tests (vitest, jsdom).
/// Vite strips types without checking them, so without this step a type
/// error reaches the app unseen. Both run even when the first fails.
pub fn component_tests() -> Result<()> {
    let node = crate::node::find()?;
    println!("\nxtask test: UI type check (svelte-check)");
    let check = run_in_ui(node.command(bin("svelte-check")).args(SVELTE_CHECK_ARGS)).map_err(|e| {
        Failure::new(format!("the UI's type check failed: {e}"))
            .hint("fix the errors and warnings svelte-check lists above; rerun it with `npm run check` in ui/")
    });
    println!("\nxtask test: UI component tests (vitest)");
    let tests = run_in_ui(node.command(bin("vitest")).arg("run")).map_err(|e| {
        Failure::new(format!("the UI component tests failed: {e}"))
            .hint("see the failing tests above; rerun them with `npx vitest run` in ui/")
    });
    check.and(tests)
}

/// svelte-check fails on warnings too: they are Svelte's accessibility and
/// reactivity findings, which the UI keeps at zero.
const SVELTE_CHECK_ARGS: &[&str] = &[
    "--tsconfig",
    "./tsconfig.json",
    "--fail-on-warnings",
    "--output",
    "human",
];

/// The built UI in headless Chromium (Playwright, IPC mocked, axe-core).
pub fn browser_tests() -> Result<()> {
    println!("\nxtask test: the UI in headless Chromium (node --test ui/e2e)");
    run_in_ui(
        crate::node::find()?
            .command("node")
            .args(["--test", "--test-concurrency=1", "e2e/"]),
    ).map_err(|e| {
        Failure::new(format!("the UI browser tests failed: {e}"))
            .hint("see the failing tests above; rerun them with `npx vite build && node --test e2e/` in ui/")
    })
}

fn run_in_ui(cmd: &mut Command) -> Result<()> {
    cmd.current_dir(dir());
    util::run(cmd)
}

/// tauri-driver, pinned: the WebDriver front for the desktop app's
/// end-to-end suite.
const TAURI_DRIVER_VERSION: &str = "2.1.0";

/// Where `cargo install` puts tauri-driver.
pub fn tauri_driver() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    cargo_home
        .join("bin")
        .join(format!("tauri-driver{}", std::env::consts::EXE_SUFFIX))
}

/// `cargo install tauri-driver` once (Linux: it drives WebKitWebDriver).
pub fn install_tauri_driver() -> Result<()> {
    if !cfg!(target_os = "linux") {
        return Ok(());
    }
    // cargo keeps what it installed in $CARGO_HOME/.crates.toml.
    let record = tauri_driver()
        .parent()
        .and_then(|bin| bin.parent())
        .map(|home| home.join(".crates.toml"));
    let installed = record
        .and_then(|r| fs_err::read_to_string(r).ok())
        .is_some_and(|t| t.contains(&format!("\"tauri-driver {TAURI_DRIVER_VERSION} ")));
    if installed && tauri_driver().is_file() {
        return Ok(());
    }
    println!("setup: installing tauri-driver {TAURI_DRIVER_VERSION} (cargo install, once)");
    util::run(util::cargo().args([
        "install",
        "tauri-driver",
        "--locked",
        "--version",
        TAURI_DRIVER_VERSION,
    ]))
    .map_err(|e| {
        Failure::new(format!("{e}"))
            .hint("check the network access to crates.io, then rerun `cargo xtask setup`")
    })
}

/// Whether the desktop app's WebDriver suite can run here.
pub fn desktop_e2e_available() -> bool {
    cfg!(target_os = "linux") && missing_display_tools().is_empty()
}

/// What the WebDriver suite needs to open the real window (Linux), and is
/// not here: the virtual display, WebKit's WebDriver and tauri-driver.
pub fn missing_display_tools() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !util::on_path("xvfb-run") {
        missing.push("xvfb-run (package xvfb)");
    }
    if !util::on_path("WebKitWebDriver") {
        missing.push("WebKitWebDriver (package webkit2gtk-driver)");
    }
    if !tauri_driver().is_file() {
        missing.push("tauri-driver (cargo install tauri-driver)");
    }
    missing
}
