//! `cargo xtask demo [--check]`: the main job on the embedded reference
//! platform — a freshly seeded platform on a loopback port, and then:
//!
//! - with a display (`$DISPLAY` or `$WAYLAND_DISPLAY`), the desktop app
//!   opens pointed at it, until its window closes;
//! - without one, alice's account is exported by the `keepsake` CLI and
//!   verified, then the platform is left running to explore.
//!
//! `--check` is the CI smoke test: the CLI path, then ask `/healthz` once
//! and stop.

use std::ffi::{OsStr, OsString};
use std::process::{Command, ExitCode};

use crate::demo_platforms;
use crate::platform::{self, Server};
use crate::setup;
use crate::util::{self, Failure, Result};

/// The demo preset's accounts: (username, password, role).
///
/// These must match the `demo` preset in crates/reference-platform's seeding.
const DEMO_ACCOUNTS: &[(&str, &str, &str)] = &[
    ("alice", "alice-demo-password", "a user with a full account"),
    ("bob", "bob-demo-password", "a user"),
    (
        "carol",
        "carol-demo-password",
        "support staff (may export any user, with a reason)",
    ),
];

pub fn run(args: &[OsString]) -> Result<ExitCode> {
    let mut check = false;
    let mut which = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--check" {
            check = true;
        } else if arg == "--platform" {
            which = Some(match rest.next().and_then(|v| v.to_str()) {
                Some("wordpress") => demo_platforms::Which::WordPress,
                Some("matrix") => demo_platforms::Which::Matrix,
                Some("reference") => continue,
                _ => {
                    return Err(Failure::usage(
                        "`--platform` takes `reference` (the default), `wordpress` or `matrix`",
                    ));
                }
            });
        } else {
            return Err(Failure::usage(format!(
                "`cargo xtask demo` takes `--platform reference|wordpress|matrix` and `--check`, got `{}`",
                arg.to_string_lossy()
            )));
        }
    }
    if let Some(which) = which {
        return demo_platforms::run(which, check);
    }

    setup::run()?;
    let bin = platform::build()?;
    // With a display, the demo is the desktop app; without one (and in the
    // CI smoke test), the same export runs through the CLI.
    let desktop = if check { None } else { display() };
    let app = match desktop {
        Some(_) => Some(build_desktop()?),
        None => None,
    };
    let cli = if app.is_none() {
        Some(build_cli()?)
    } else {
        None
    };

    let dir = util::target_dir().join("demo");
    util::remove_if_exists(&dir)?;
    fs_err::create_dir_all(&dir).map_err(util::io_failure("create", &dir))?;
    let db = dir.join("platform.db");
    platform::seed(&bin, &db, "demo")?;

    let server_args: [&OsStr; 5] = [
        "--db".as_ref(),
        db.as_os_str(),
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--demo".as_ref(),
    ];
    let server = Server::start(&bin, &server_args, &dir.join("platform.log"), false)?;

    if let (Some(app), Some(display)) = (&app, &desktop) {
        print_desktop_welcome(&server, &util::show(&db), display);
        let result = open_desktop(app, &server, &dir);
        drop(server);
        return result.map(|()| ExitCode::SUCCESS);
    }
    if !check {
        println!(
            "\ndemo: there is no display ($DISPLAY and $WAYLAND_DISPLAY are unset), so the desktop app \
             cannot open; the same export runs through the `keepsake` CLI instead"
        );
    }
    let cli = cli.ok_or_else(|| Failure::new("the CLI was not built"))?;
    let archive = export_alice(&cli, &bin, &db, &dir, &server)?;
    print_welcome(&server, &util::show(&db), &util::show(&archive));

    if check {
        let result = health_check(&server);
        drop(server); // Stopped before the verdict is printed.
        return result.map(|()| ExitCode::SUCCESS);
    }

    println!("Press Ctrl-C to stop.\n");
    let log = util::show(&server.log);
    let status = server.follow()?;
    if status.success() {
        println!("demo: the platform stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(
            Failure::new(format!("the platform exited unexpectedly ({status})")).hint(format!(
                "its output is in {log}; rerun `cargo xtask demo` to start over"
            )),
        )
    }
}

/// The display the desktop app would open on, if there is one.
pub(crate) fn display() -> Option<String> {
    ["WAYLAND_DISPLAY", "DISPLAY"].iter().find_map(|var| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| format!("{var}={v}"))
    })
}

/// The UI, then the desktop app (debug build, embedding ui/dist).
pub(crate) fn build_desktop() -> Result<std::path::PathBuf> {
    crate::ui::build()?;
    util::run(util::cargo().args(["build", "--package", "keepsake-desktop"])).map_err(|e| {
        Failure::new(format!("{e}"))
            .hint("fix the compile errors above (src-tauri, crates/core), then rerun")
    })?;
    Ok(util::target_dir()
        .join("debug")
        .join(format!("keepsake-desktop{}", std::env::consts::EXE_SUFFIX)))
}

/// Runs the desktop app against the demo platform until its window closes.
/// Its settings and audit log go under `target/demo/`; sign-ins go to your
/// keyring (keyed by the platform's loopback address), archives to
/// ~/Downloads/Keepsake.
fn open_desktop(app: &std::path::Path, server: &Server, dir: &std::path::Path) -> Result<()> {
    let mut cmd = Command::new(app);
    cmd.env("KEEPSAKE_PLATFORM", &server.url)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    let status = util::status(&mut cmd)?;
    println!("demo: the app closed; stopping the platform");
    if status.success() {
        Ok(())
    } else {
        Err(
            Failure::new(format!("the desktop app exited with {status}"))
                .hint(format!("the platform's log is {}", util::show(&server.log))),
        )
    }
}

fn print_desktop_welcome(server: &Server, db: &str, display: &str) {
    println!();
    println!(
        "Keepsake demo: the desktop app opens on {display}, pointed at the reference platform."
    );
    println!();
    println!("  platform   {}", server.url);
    println!("  log        {}", util::show(&server.log));
    println!();
    println!("  \"Sign in with your browser\" opens the platform's sign-in page, which lists");
    println!("  the demo accounts (user / password):");
    for (user, password, role) in DEMO_ACCOUNTS {
        println!("    {user:<5} / {password:<21} {role}");
    }
    println!();
    println!("  or \"Use an access token\" with one minted here:");
    println!("    cargo xtask platform token create --db {db} --user alice --scope export:self");
    println!();
    println!("Close the window to stop the demo.");
    println!();
}

pub(crate) fn build_cli() -> Result<std::path::PathBuf> {
    util::run(util::cargo().args(["build", "--package", "keepsake-cli", "--bin", "keepsake"]))
        .map_err(|e| {
            Failure::new(format!("{e}"))
                .hint("fix the compile errors above (crates/cli, crates/core), then rerun")
        })?;
    Ok(util::target_dir()
        .join("debug")
        .join(format!("keepsake{}", std::env::consts::EXE_SUFFIX)))
}

/// Exports alice's account with the real CLI, then verifies the archive.
/// The CLI's audit log and settings go under `target/demo/`, not into your
/// own data directory.
fn export_alice(
    cli: &std::path::Path,
    bin: &std::path::Path,
    db: &std::path::Path,
    dir: &std::path::Path,
    server: &Server,
) -> Result<std::path::PathBuf> {
    let token = platform::create_token(bin, db, "alice", "export:self")?;
    let out = dir.join("out");
    let run = |args: &[&OsStr]| {
        let mut cmd = Command::new(cli);
        cmd.args(args)
            .env("KEEPSAKE_PLATFORM", &server.url)
            // The token travels in the environment, never in argv.
            .env("KEEPSAKE_TOKEN", &token)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"));
        cmd
    };
    println!(
        "\ndemo: exporting alice's account with `keepsake export --out {}`\n",
        util::show(&out)
    );
    let mut export = run(&["export".as_ref(), "--out".as_ref(), out.as_os_str()]);
    util::run(&mut export).map_err(|e| {
        Failure::new(format!("the demo export failed: {e}"))
            .hint(format!("the platform's log is {}", util::show(&server.log)))
    })?;
    let archive = fs_err::read_dir(&out)
        .map_err(util::io_failure("read", &out))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .ok_or_else(|| {
            Failure::new(format!(
                "the export reported success but {} holds no archive",
                util::show(&out)
            ))
        })?;
    println!();
    let mut verify = run(&["verify".as_ref(), archive.as_os_str()]);
    util::run(&mut verify)
        .map_err(|e| Failure::new(format!("the demo archive does not verify: {e}")))?;
    Ok(archive)
}

fn print_welcome(server: &Server, db: &str, archive: &str) {
    let url = &server.url;
    let from_root = std::env::current_dir().is_ok_and(|cwd| cwd == util::repo_root());
    let width = DEMO_ACCOUNTS
        .iter()
        .map(|(user, ..)| user.len())
        .max()
        .unwrap_or(0);

    println!();
    println!("Keepsake demo: the reference platform is running.");
    println!();
    println!("  platform   {url}");
    println!("  health     {url}/healthz");
    println!("  contract   {url}/openapi.yaml  (prose in docs/api.md)");
    println!("  database   {db}  (fresh, seeded with the demo preset)");
    println!("  log        {}", util::show(&server.log));
    println!();
    println!("  demo accounts (user / password):");
    for (user, password, role) in DEMO_ACCOUNTS {
        println!("    {user:<width$} / {password:<21} {role}");
    }
    println!();
    println!(
        "  mint an access token{}:",
        if from_root {
            ""
        } else {
            " (from the repository root)"
        }
    );
    println!("    cargo xtask platform token create --db {db} --user alice --scope export:self");
    println!();
    println!("  alice's archive (a BagIt bag in a zip; unzip it, or `keepsake verify` it):");
    println!("    {archive}");
    println!();
    println!("  try the CLI yourself (it reads the token from stdin, never from argv):");
    println!("    cargo xtask platform token create --db {db} --user bob --scope export:self \\");
    println!("      | cargo run -q -p keepsake-cli -- login --platform {url} --token-stdin");
    println!("    cargo run -q -p keepsake-cli -- export --out target/demo/out");
    println!();
    println!(
        "With a display, `cargo xtask demo` opens the desktop app instead; it drives this same engine."
    );
    println!();
}

fn health_check(server: &Server) -> Result<()> {
    let health = format!("{}/healthz", server.url);
    let mut curl = Command::new("curl");
    curl.args(["-fsS", "--max-time", "10", &health]);
    let body = util::capture(&mut curl).map_err(|e| {
        Failure::new(format!("health check failed: {e}")).hint(format!(
            "the platform's output is in {}:\n{}",
            util::show(&server.log),
            platform::tail(&server.log, 15)
        ))
    })?;
    println!("demo --check: GET {health} -> {}", body.trim());
    println!("demo --check: ok");
    Ok(())
}
