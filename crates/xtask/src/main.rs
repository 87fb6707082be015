//! Keepsake's developer tasks, run as `cargo xtask COMMAND`: set the machine
//! up, run the demo, run every test, run the benchmarks.
//!
//! It is glue over cargo, the reference platform binary and a few external
//! tools, and stays std-only so it builds in seconds on a cold machine. It
//! must never hold product logic, and never put a token in argv or on disk.

mod bench;
mod demo;
mod demo_platforms;
mod node;
mod package;
mod platform;
mod servers;
mod setup;
mod signin;
mod synapse;
mod test;
mod ui;
mod util;
mod viewer;
mod wordpress;

use std::process::ExitCode;

use util::Failure;

const USAGE: &str = "\
Keepsake developer tasks

Usage: cargo xtask <COMMAND>

Commands:
  setup              Install what the build and the tests need: Debian/Ubuntu
                     packages (via apt-get, with sudo when not root; among
                     them WordPress, MariaDB and PHP for the real WordPress
                     server), the Python tools (schemathesis, bagit) in
                     target/xtask/venv, Synapse in its own venv under
                     target/servers/synapse, Node.js 20 in target/tools/node
                     when the system's is older, and the npm packages of
                     ui/, tests/viewer and tests/signin; elsewhere it prints
                     the exact install commands
  demo [--platform reference|wordpress|matrix] [--check]
                     Seed a fresh reference platform in target/demo/, serve it
                     on a loopback port and open the desktop app on it (with
                     no display: export with the CLI, serve until Ctrl-C);
                     --check runs the CLI path, asks /healthz once and stops
                     (the CI smoke test). --platform wordpress or matrix does
                     the same on a seeded real WordPress (MariaDB) or Synapse
  test [--no-conformance] [--no-package] [-- CARGO_TEST_ARGS...]
                     build the UI, cargo test --workspace, the UI's component
                     tests, the offline viewer's browser tests (node --test
                     tests/viewer, headless Chromium), browser sign-in with
                     the real CLI against real WordPress and Synapse servers
                     (node --test tests/signin), the package test (build
                     the .deb and .rpm, install the .deb with apt-get, launch
                     it, remove it; whole runs only), then `demo --check`
                     on the reference platform, WordPress and Matrix, and
                     the contract conformance run (schemathesis against a
                     seeded platform)
  platform [ARGS...] Run the reference platform binary: keepsake-platform ARGS
                     (e.g. `platform seed --db x.db --preset demo`)
  bench [--quick|--desktop]
                     Benchmark the reference platform, then `keepsake export`
                     against it and against seeded WordPress and Synapse
                     servers, into docs/benchmarks.md; --quick uses small
                     sizes to check that the benchmarks run; --desktop
                     measures the release desktop app under Xvfb instead
  bundle             Build the desktop app's packages (.deb and .rpm; an
                     AppImage too when the bundler's tools are in its cache)
                     with the pinned Tauri CLI, into target/desktop-release/bundle
  wordpress seed | start [--port N] | stop | status
                     A real WordPress 6.1 (Debian's package) with MariaDB,
                     on 127.0.0.1 only, seeded with test users, 1,400 posts,
                     pages, comments and media (built once, cached in
                     target/servers/wordpress/seed); start serves a fresh
                     copy (port 18481) and prints its URL and the file with
                     the users' passwords and application passwords; stop
                     stops it. Tests call tests/servers/wordpress/wp.sh
  synapse install | seed [--preset default|bench] [--force]
          | start [--preset P] [--port N] [--cas-port N] [--extra-config FILE]
          | stop | status
                     A real Matrix homeserver: Synapse 1.163.2 from PyPI (in
                     target/servers/synapse/venv) on SQLite, 127.0.0.1 only,
                     no federation. seed builds a cached snapshot (users alice,
                     bob, carol, dave, admin; ~3,400 events backdated over
                     years in 8 rooms; media; bench adds a 12,000-event room);
                     start serves a fresh copy (port 8008) and names the file
                     with the users' passwords and tokens; --cas-port adds a
                     fake CAS identity provider for SSO. Tests call
                     tests/servers/synapse/harness.py
  help               Print this text

demo and test run setup first.";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(command) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<_> = args.collect();

    let result = match command.to_str() {
        Some("setup") => util::no_args("setup", &rest)
            .and_then(|()| setup::run())
            .map(|()| ExitCode::SUCCESS),
        Some("demo") => demo::run(&rest),
        Some("test") => test::run(&rest),
        Some("platform") => platform::passthrough(&rest),
        Some("bench") => bench::run(&rest).map(|()| ExitCode::SUCCESS),
        Some("bundle") => package::run(&rest).map(|()| ExitCode::SUCCESS),
        Some("wordpress") => wordpress::run(&rest),
        Some("synapse") => synapse::run(&rest).map(|()| ExitCode::SUCCESS),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(Failure::usage(format!(
            "unknown command `{}`",
            command.to_string_lossy()
        ))),
    };
    result.unwrap_or_else(|failure| {
        failure.report();
        failure.exit_code()
    })
}
