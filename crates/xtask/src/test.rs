//! `cargo xtask test`: the workspace's tests and the browser suites that
//! build on them, then the contract conformance run — schemathesis
//! generating requests from docs/api/openapi.yaml (as the platform serves
//! it) against a real, seeded reference platform.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, ExitCode};

use crate::platform::{self, Server};
use crate::setup::{self, Venv};
use crate::util::{self, Failure, Result};

/// Test cases per API operation and phase: enough to find shape mismatches,
/// bounded so the run stays a few minutes on a 2-core CI machine.
const MAX_EXAMPLES: &str = "60";

/// The stateful phase is left out: it chains operations through OpenAPI
/// links and needs the `stateful` semantics (created resources, quotas)
/// that the checks below do not model.
const PHASES: &str = "examples,coverage,fuzzing";

/// Conformance of every response to what the contract documents.
///
/// Left out, because they need stateful semantics and fail falsely here:
/// `positive_data_acceptance` (a valid request may rightly get 404 for an
/// unknown user id or 409 while an export runs), `use_after_free` and
/// `ensure_resource_availability` (they assume create/delete links), and
/// `negative_data_rejection` (it flags tolerated inputs such as unknown query
/// parameters). `ignored_auth`, `missing_required_header`,
/// `unsupported_method` are candidates to add once the contract pins those
/// answers down.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Operations that are not part of the machine contract: the operator's
/// `/admin/*` (fault injection) and the HTML sign-in page.
const EXCLUDED_PATHS: &str = "^/(admin(/.*)?|oauth/authorize)$";

/// The environment variable that carries the token into schemathesis.
const TOKEN_VAR: &str = "KEEPSAKE_TEST_TOKEN";

/// Support staff, so that both `export:self` and `export:any` operations are
/// reachable.
const CONFORMANCE_USER: &str = "carol";
const CONFORMANCE_SCOPE: &str = "export:self export:any";

struct Options {
    unit: bool,
    conformance: bool,
    package: bool,
    cargo_args: Vec<OsString>,
}

fn parse(args: &[OsString]) -> Result<Options> {
    let mut options = Options {
        unit: true,
        conformance: true,
        package: true,
        cargo_args: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--no-conformance" {
            options.conformance = false;
        } else if arg == "--no-package" {
            options.package = false;
        } else if arg == "--package-only" {
            // The package test alone (it needs the workspace's desktop
            // suite built, as a whole run leaves it).
            options.unit = false;
            options.conformance = false;
        } else if arg == "--conformance-only" {
            options.unit = false;
        } else if arg == "--" {
            options.cargo_args.extend(args.by_ref().cloned());
        } else {
            return Err(Failure::usage(format!(
                "unknown flag `{}` for `cargo xtask test`; pass cargo test's own flags after `--`",
                arg.to_string_lossy()
            )));
        }
    }
    Ok(options)
}

pub fn run(args: &[OsString]) -> Result<ExitCode> {
    let options = parse(args)?;
    setup::run()?;

    let unit = if options.unit {
        // The WordPress and Synapse snapshots the tests start from, made
        // while the crates compile.
        let seeding = crate::servers::seed_in_background()?;
        // The export suite extracts fresh archives for the viewer's tests.
        crate::viewer::clear_fixtures()?;
        // The shell embeds ui/dist: build it before the crates compile.
        let cargo = crate::ui::build().and_then(|()| {
            // Lints first, on a whole run; the tests run whatever they say.
            let lint = if options.cargo_args.is_empty() {
                clippy()
            } else {
                Ok(())
            };
            lint.and(workspace_tests(&options.cargo_args))
        });
        seeding.finish();
        // The UI's own tests run whatever the crates did, so both are seen.
        let ui = crate::ui::component_tests();
        let ui_browser = crate::ui::browser_tests();
        // The viewer's browser tests open the archives the workspace tests
        // made; a filtered run may not have made them, so they are required
        // only when every test ran.
        let viewer = crate::viewer::browser_tests(options.cargo_args.is_empty());
        // Sign-in in a real browser runs the CLI the workspace tests built;
        // a filtered run may not have built it, so it is required only when
        // every test ran.
        let signin = crate::signin::browser_tests(options.cargo_args.is_empty());
        // The packages, installed for real: only in a whole run (it builds
        // the release app) and where apt can install a .deb.
        let package = if options.package && options.cargo_args.is_empty() {
            package_test()
        } else {
            Ok(())
        };
        cargo
            .and(ui)
            .and(ui_browser)
            .and(viewer)
            .and(signin)
            .and(package)
    } else if options.package && !options.conformance {
        package_test()
    } else {
        Ok(())
    };
    let conformance = if options.conformance {
        // The README's first command, end to end (seed, export with the
        // CLI, verify), on the reference platform and on the real WordPress
        // and Synapse — then the contract conformance run.
        let demo = |args: &[&str]| {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            crate::demo::run(&args).map(|_| ())
        };
        Some(
            demo(&["--check"])
                .and_then(|()| demo(&["--platform", "wordpress", "--check"]))
                .and_then(|()| demo(&["--platform", "matrix", "--check"]))
                .and_then(|()| conformance()),
        )
    } else {
        None
    };

    let verdict = |r: &Result<()>| if r.is_ok() { "passed" } else { "FAILED" };
    let summary = match &conformance {
        Some(c) => format!(
            "workspace and UI tests {}, demo and contract conformance {}",
            verdict(&unit),
            verdict(c)
        ),
        None => format!(
            "workspace and UI tests {}, contract conformance skipped (--no-conformance)",
            verdict(&unit)
        ),
    };
    println!("\nxtask test summary: {summary}");

    match (unit, conformance) {
        (Ok(()), None | Some(Ok(()))) => Ok(ExitCode::SUCCESS),
        (Err(e), Some(Err(c))) => {
            // Both failed: say both, once.
            Err(
                Failure::new(format!("{e}; and the conformance run failed: {c}")).hint(
                    "fix the failing tests first: the conformance run builds on the same crates",
                ),
            )
        }
        (Err(e), _) | (Ok(()), Some(Err(e))) => Err(e),
    }
}

/// Clippy over every crate and target, warnings as errors: the workspace's
/// lints, and `clippy.toml`'s rule that every file-system call goes through
/// `fs-err`. Skipped, with a notice, where clippy is not installed.
fn clippy() -> Result<()> {
    let installed = util::output(util::cargo().args(["clippy", "--version"]))
        .is_ok_and(|(status, _)| status.success());
    if !installed {
        eprintln!(
            "xtask: clippy is not installed (`rustup component add clippy`); the lint step is skipped"
        );
        return Ok(());
    }
    let mut cmd = util::cargo();
    cmd.args(["clippy", "--workspace", "--all-targets"]);
    if util::repo_root().join("Cargo.lock").is_file() {
        cmd.arg("--locked");
    }
    util::run(cmd.args(["--", "-D", "warnings"]))
}

fn workspace_tests(extra: &[OsString]) -> Result<()> {
    let mut args: Vec<OsString> = vec!["test".into()];
    let picks_packages = extra.iter().any(|a| {
        let a = a.to_string_lossy();
        a == "-p" || a.starts_with("--package") || (a.starts_with("-p") && !a.starts_with("--"))
    });
    if !picks_packages {
        args.push("--workspace".into());
    }
    if util::repo_root().join("Cargo.lock").is_file() {
        args.push("--locked".into());
    }
    args.extend(extra.iter().cloned());

    let session = if cfg!(target_os = "linux") {
        // Setup installed these: a missing one here must fail the run, not
        // quietly skip the keyring tests and the real window's suite.
        require_linux_test_tools(&missing_linux_test_tools())?;
        KeyringSession::create()?
    } else {
        // macOS and Windows tests use the user's own keychain / Credential Manager.
        None
    };
    let mut cmd = match &session {
        Some(s) => s.command(&args),
        None => {
            let mut cmd = util::cargo();
            cmd.args(&args);
            cmd
        }
    };
    // The suites validate archives with unzip, Python's zipfile and the
    // bagit validator from the venv that setup made, and the desktop suite
    // opens the real window: here they must exist and run, rather than be
    // skipped as on a bare `cargo test`.
    cmd.env("KEEPSAKE_REQUIRE_TOOLS", "1");
    cmd.env(crate::viewer::FIXTURES_VAR, crate::viewer::fixtures_dir());
    println!("xtask test: {}", util::display(&cmd));
    let result = util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("{e}"))
            .hint("see the failing tests above; rerun one with `cargo test -p CRATE TEST_NAME -- --nocapture`")
    });
    if let Some(s) = session {
        s.remove()?;
    }
    result
}

/// What the Linux test run needs besides cargo: a private D-Bus session
/// with a throwaway keyring (the real OS keyring's tests), and a virtual
/// display with WebDriver (the desktop app's real-window suite).
fn missing_linux_test_tools() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !util::on_path("dbus-run-session") {
        missing.push("dbus-run-session (package dbus)");
    }
    if !util::on_path("gnome-keyring-daemon") {
        missing.push("gnome-keyring-daemon (package gnome-keyring)");
    }
    missing.extend(crate::ui::missing_display_tools());
    missing
}

fn require_linux_test_tools(missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "the tests of the OS keyring and of the desktop app's real window cannot run: {} {} missing",
        missing.join(", "),
        if missing.len() == 1 { "is" } else { "are" }
    ))
    .hint(
        "run `cargo xtask setup`, which installs them on Debian/Ubuntu (elsewhere, install them \
         with your package manager); a plain `cargo test` skips those suites instead",
    ))
}

/// A private D-Bus session with an unlocked, throwaway GNOME Keyring, so that
/// the keyring tests use a real Secret Service (never the developer's own
/// keyring) on desktops and headless CI alike.
pub(crate) struct KeyringSession {
    /// Scratch directory: the wrapper script and `XDG_DATA_HOME` (where
    /// gnome-keyring keeps its keyring files).
    dir: std::path::PathBuf,
    /// Run inside a virtual X display (`xvfb-run`), so that the desktop
    /// app's end-to-end suite (tests/desktop, WebDriver) runs too.
    display: bool,
}

/// Unlocks a fresh keyring in the session, then runs its arguments. They
/// arrive as separate argv entries and are passed on with `"$@"`, so no
/// argument is ever re-parsed by a shell. The password only protects a
/// keyring that is deleted after the run.
const KEYRING_SESSION_SCRIPT: &str = "\
# Written by `cargo xtask test`; runs inside `dbus-run-session`.
set -e
printf %s ci | gnome-keyring-daemon --unlock --components=secrets >/dev/null
exec \"$@\"
";

impl KeyringSession {
    /// `None` when `dbus-run-session` or `gnome-keyring-daemon` is missing.
    pub(crate) fn create() -> Result<Option<Self>> {
        if !(util::on_path("dbus-run-session") && util::on_path("gnome-keyring-daemon")) {
            return Ok(None);
        }
        let dir = util::xtask_dir().join(format!("keyring-{}", std::process::id()));
        util::remove_if_exists(&dir)?;
        let data = dir.join("data");
        fs_err::create_dir_all(&data).map_err(util::io_failure("create", &data))?;
        let script = dir.join("keyring-session.sh");
        fs_err::write(&script, KEYRING_SESSION_SCRIPT)
            .map_err(util::io_failure("write", &script))?;
        let display = crate::ui::desktop_e2e_available();
        if !display {
            println!(
                "xtask test: warning: the desktop app's WebDriver suite is skipped: it needs \
                 xvfb-run, WebKitWebDriver (webkit2gtk-driver) and tauri-driver (cargo xtask setup \
                 installs them on Debian/Ubuntu)"
            );
        }
        Ok(Some(Self { dir, display }))
    }

    /// `dbus-run-session -- sh SCRIPT CARGO ARGS…` with `XDG_DATA_HOME` in
    /// the scratch directory.
    pub(crate) fn command(&self, cargo_args: &[OsString]) -> Command {
        let plain = util::cargo();
        let mut cmd = if self.display {
            let mut xvfb = Command::new("xvfb-run");
            xvfb.args(["-a", "-s", "-screen 0 1280x800x24", "dbus-run-session"]);
            xvfb.env("KEEPSAKE_E2E", "1")
                .env("KEEPSAKE_TAURI_DRIVER", crate::ui::tauri_driver());
            xvfb
        } else {
            Command::new("dbus-run-session")
        };
        if let Some(dir) = plain.get_current_dir() {
            cmd.current_dir(dir);
        }
        for (name, value) in plain.get_envs() {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        cmd.env("XDG_DATA_HOME", self.dir.join("data"))
            .arg("--")
            .arg("sh")
            .arg(self.dir.join("keyring-session.sh"))
            .arg(plain.get_program())
            .args(cargo_args);
        cmd
    }

    pub(crate) fn remove(self) -> Result<()> {
        util::remove_if_exists(&self.dir)
    }
}

/// `package::installed_package_test` in a keyring session with a display,
/// on Debian-like systems (elsewhere it says why it is skipped).
fn package_test() -> Result<()> {
    if !(cfg!(target_os = "linux") && util::on_path("apt-get") && util::on_path("dpkg-deb")) {
        println!("xtask test: the package test is skipped: it installs the .deb with apt-get");
        return Ok(());
    }
    let session = KeyringSession::create()?.ok_or_else(|| {
        Failure::new("the package test needs dbus-run-session and gnome-keyring-daemon")
            .hint("run `cargo xtask setup`")
    })?;
    let result = crate::package::installed_package_test(&session);
    session.remove()?;
    result
}

fn conformance() -> Result<()> {
    println!("\nxtask test: contract conformance (schemathesis against keepsake-platform)");
    let venv = Venv::at_default();
    let bin = platform::build()?;

    let dir = util::xtask_dir().join(format!("conformance-{}", std::process::id()));
    util::remove_if_exists(&dir)?;
    fs_err::create_dir_all(&dir).map_err(util::io_failure("create", &dir))?;

    let result = conformance_in(&venv, &bin, &dir);
    match &result {
        // Nothing in it is worth keeping once the run passed.
        Ok(()) => util::remove_if_exists(&dir)?,
        Err(_) => println!(
            "xtask test: kept {} (database, server log) for a look",
            util::show(&dir)
        ),
    }
    result
}

fn conformance_in(venv: &Venv, bin: &Path, dir: &Path) -> Result<()> {
    let db = dir.join("platform.db");
    platform::seed(bin, &db, "demo")?;
    let token = platform::create_token(bin, &db, CONFORMANCE_USER, CONFORMANCE_SCOPE)?;

    let server_args: [&OsStr; 8] = [
        "--db".as_ref(),
        db.as_os_str(),
        "--addr".as_ref(),
        "127.0.0.1:0".as_ref(),
        // Generated requests open many export sessions in a row: lift the
        // per-user quota and the rate limit so answers depend on the request
        // alone.
        "--quota".as_ref(),
        "1000".as_ref(),
        "--rate-limit".as_ref(),
        "0".as_ref(),
    ];
    let server = Server::start(bin, &server_args, &dir.join("platform.log"), true)?;

    // The token reaches schemathesis only through its environment: the config
    // file holds a `${VAR}` placeholder that schemathesis substitutes when it
    // loads the file, so the token is in neither argv nor on disk.
    let config = dir.join("schemathesis.toml");
    let config_text = format!(
        "# Written by `cargo xtask test` for one conformance run.\n\
         headers = {{ Authorization = \"Bearer ${{{TOKEN_VAR}}}\" }}\n"
    );
    fs_err::write(&config, config_text).map_err(util::io_failure("write", &config))?;

    let url = &server.url;
    let mut cmd = Command::new(venv.bin("schemathesis"));
    // Run inside the scratch directory: Hypothesis keeps its example database
    // in `.hypothesis/` under the working directory.
    cmd.current_dir(dir)
        .env(TOKEN_VAR, &token)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{url}/openapi.yaml"))
        .args(["--url", url])
        .args(["--phases", PHASES])
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--exclude-path-regex", EXCLUDED_PATHS]);
    println!("xtask test: {}", util::display(&cmd));
    let status = util::status(&mut cmd)?;
    drop(server);
    if status.success() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "schemathesis found responses that break the contract ({status})"
        ))
        .hint(format!(
            "each failure above names the operation and a curl command to reproduce it;\n\
                 the server's log is {}",
            util::show(&dir.join("platform.log"))
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_and_pass_through() -> Result<()> {
        let plain = parse(&[])?;
        assert!(plain.conformance && plain.cargo_args.is_empty());

        let quick = parse(&args(&[
            "--no-conformance",
            "--",
            "-p",
            "xtask",
            "--no-conformance",
        ]))?;
        assert!(!quick.conformance);
        // Everything after `--` belongs to cargo test, even our own flag names.
        assert_eq!(quick.cargo_args, args(&["-p", "xtask", "--no-conformance"]));

        assert!(parse(&args(&["--nocapture"])).is_err());
        Ok(())
    }

    #[test]
    fn the_keyring_session_passes_cargo_arguments_untouched() {
        let session = KeyringSession {
            dir: std::path::PathBuf::from("/x/keyring-1"),
            display: false,
        };
        let cargo_args = args(&["test", "--", "name with spaces", "it's", "$HOME", ""]);
        let cmd = session.command(&cargo_args);
        assert_eq!(cmd.get_program(), "dbus-run-session");
        let argv: Vec<&OsStr> = cmd.get_args().collect();
        assert_eq!(
            argv[..3],
            ["--", "sh", "/x/keyring-1/keyring-session.sh"].map(OsStr::new)
        );
        assert_eq!(
            argv[4..],
            cargo_args
                .iter()
                .map(OsString::as_os_str)
                .collect::<Vec<_>>()[..]
        );
        let data = cmd
            .get_envs()
            .find(|(name, _)| *name == "XDG_DATA_HOME")
            .and_then(|(_, value)| value);
        assert_eq!(data, Some(OsStr::new("/x/keyring-1/data")));
    }

    #[test]
    fn missing_desktop_tools_fail_the_run_and_name_each_tool() {
        assert!(require_linux_test_tools(&[]).is_ok());
        let err = require_linux_test_tools(&[
            "xvfb-run (package xvfb)",
            "tauri-driver (cargo install tauri-driver)",
        ])
        .expect_err("missing tools fail the run");
        let text = format!("{err}");
        assert!(
            text.contains("xvfb-run (package xvfb), tauri-driver") && text.contains("are missing"),
            "{text}"
        );
    }

    #[test]
    fn the_keyring_session_script_execs_its_arguments() -> Result<()> {
        if !util::on_path("sh") {
            return Ok(());
        }
        // Everything after the unlock line, run as the script runs it.
        let tail = KEYRING_SESSION_SCRIPT
            .lines()
            .filter(|l| !l.contains("gnome-keyring-daemon"))
            .collect::<Vec<_>>()
            .join("\n");
        let out = util::capture(Command::new("sh").args([
            "-c", &tail, "sh", "printf", "[%s]", "a b", "it's", "$HOME", "",
        ]))?;
        assert_eq!(out, "[a b][it's][$HOME][]");
        Ok(())
    }
}
