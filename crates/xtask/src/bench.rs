//! `cargo xtask bench [--quick]`: the benchmarks, written to
//! docs/benchmarks.md. The benchmarks themselves live in keepsake-tests:
//! `bench-platform` (the reference platform alone), then `bench-export`
//! (the `keepsake` CLI against the reference platform, which runs the
//! release binaries built here first). Each rewrites its own section.
//! `--desktop` measures the desktop app instead (tests/desktop/bench.rs: the
//! shipping binary under Xvfb through WebDriver, its `large` export beside
//! the CLI's, both against the release-built platform in its own process).

use std::ffi::OsString;

use crate::util::{self, Failure, Result};

/// Where the results go, relative to the repository root.
const OUT: &str = "docs/benchmarks.md";

/// The benchmark binaries of keepsake-tests, in the order they run
/// (`bench-connectors` against the WordPress and Synapse that setup
/// installs).
const BENCHES: [&str; 3] = ["bench-platform", "bench-export", "bench-connectors"];

/// Whether `--quick` (small sizes, a smoke test of the benchmarks) was given.
fn parse(args: &[OsString]) -> Result<bool> {
    match args {
        [] => Ok(false),
        [flag] if flag == "--quick" => Ok(true),
        [other, ..] => Err(Failure::usage(format!(
            "`cargo xtask bench` takes only `--quick` or `--desktop`, got `{}`",
            other.to_string_lossy()
        ))),
    }
}

pub fn run(args: &[OsString]) -> Result<()> {
    if matches!(args, [flag] if flag == "--desktop") {
        return desktop();
    }
    let quick = parse(args)?;
    crate::setup::run()?;
    // bench-export runs target/release/keepsake-platform and
    // target/release/keepsake as child processes: build them (and the
    // benchmarks) once, up front.
    let mut build = util::cargo();
    build.args([
        "build",
        "--release",
        "--package",
        "keepsake-platform",
        "--package",
        "keepsake-cli",
        "--package",
        "keepsake-tests",
        "--bins",
    ]);
    util::run(&mut build)?;
    for bench in BENCHES {
        let mut cmd = util::cargo();
        cmd.args([
            "run",
            "--release",
            "--package",
            "keepsake-tests",
            "--bin",
            bench,
            "--",
            "--out",
            OUT,
        ]);
        if quick {
            cmd.arg("--quick");
        }
        util::run(&mut cmd).map_err(|e| {
            Failure::new(format!("{e}")).hint(format!(
                "see {bench}'s own message above; its section of {OUT} was not updated"
            ))
        })?;
    }
    println!("bench: results written to {OUT}");
    Ok(())
}

/// The desktop app's section: size, launch to interactive, RSS, and the
/// window's export against the CLI's in the same run.
fn desktop() -> Result<()> {
    crate::setup::run()?;
    // The shipping build, as the packages carry it (desktop-release:
    // size over speed, full LTO), and the packages' sizes.
    let bundles = crate::package::build()?;
    crate::package::write_sizes(&bundles, &util::repo_root().join(OUT))?;
    let app = util::target_dir()
        .join(crate::package::PROFILE)
        .join(format!("keepsake-desktop{}", std::env::consts::EXE_SUFFIX));
    // The platform and the CLI the window is compared with: release builds,
    // each its own process, as bench-export runs them.
    util::run(util::cargo().args([
        "build",
        "--release",
        "--package",
        "keepsake-platform",
        "--package",
        "keepsake-cli",
        "--bins",
    ]))?;
    let release = util::target_dir().join("release");
    let exe = |name: &str| release.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let args: Vec<OsString> = [
        "test",
        "--package",
        "keepsake-tests",
        "--test",
        "desktop",
        "bench",
        "--",
        "--nocapture",
    ]
    .map(OsString::from)
    .to_vec();
    let session = crate::test::KeyringSession::create()?.ok_or_else(|| {
        Failure::new("the desktop benchmark needs dbus-run-session and gnome-keyring")
    })?;
    let mut cmd = session.command(&args);
    cmd.env("KEEPSAKE_BENCH_DESKTOP", "1")
        .env("KEEPSAKE_DESKTOP_BIN", &app)
        .env("KEEPSAKE_PLATFORM_BIN", exe("keepsake-platform"))
        .env("KEEPSAKE_CLI_BIN", exe("keepsake"));
    let result = util::run(&mut cmd);
    session.remove()?;
    result?;
    println!("bench: the desktop section of {OUT} is updated");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quick_is_accepted() {
        let os = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(!parse(&os(&[])).expect("no flags"));
        assert!(parse(&os(&["--quick"])).expect("quick"));
        assert!(parse(&os(&["--fast"])).is_err());
        assert!(parse(&os(&["--quick", "--quick"])).is_err());
    }
}
