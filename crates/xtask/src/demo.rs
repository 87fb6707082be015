//! `cargo xtask demo [--check]`: a freshly seeded reference platform on a
//! loopback port, and what to do with it. `--check` is the CI smoke test:
//! start, ask `/healthz` once, stop.

use std::ffi::{OsStr, OsString};
use std::process::{Command, ExitCode};

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
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        [other, ..] => {
            return Err(Failure::usage(format!(
                "`cargo xtask demo` takes only `--check`, got `{}`",
                other.to_string_lossy()
            )));
        }
    };

    setup::run()?;
    let bin = platform::build()?;

    let dir = util::target_dir().join("demo");
    util::remove_if_exists(&dir)?;
    std::fs::create_dir_all(&dir).map_err(util::io_failure("create", &dir))?;
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

    print_welcome(&server, &util::show(&db));

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

fn print_welcome(server: &Server, db: &str) {
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
    println!("The desktop app and the `keepsake` CLI export arrive with later issues;");
    println!("today the demo is the platform they will export from.");
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
