//! `cargo xtask synapse install|seed|start|stop|status`: the real Matrix
//! homeserver (Synapse, pinned, from PyPI) that the Matrix connector's
//! tests, benchmarks and demo run against.
//!
//! All the work is in `tests/servers/synapse/harness.py` (standard-library
//! Python, so a Rust test can drive it too); this is the glue that puts its
//! venv and snapshots under the cargo target directory and names one
//! instance for a developer to poke at by hand.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use crate::util::{self, Failure, Result};

/// The port of the hand-run instance (Synapse's own default). Tests pass
/// their own ports, or 0 for any free one.
const DEFAULT_PORT: &str = "8008";

/// The environment variable through which the harness finds the venv; set
/// explicitly so both sides agree whatever CARGO_TARGET_DIR says.
pub const VENV_VAR: &str = "KEEPSAKE_SYNAPSE_VENV";

fn harness() -> PathBuf {
    util::repo_root()
        .join("tests")
        .join("servers")
        .join("synapse")
        .join("harness.py")
}

fn root() -> PathBuf {
    util::target_dir().join("servers").join("synapse")
}

/// The venv that holds Synapse (`matrix-synapse==1.163.2`).
pub fn venv_dir() -> PathBuf {
    root().join("venv")
}

/// Where `seed` keeps the snapshot of a preset (`default` or `bench`).
pub fn snapshot_dir(preset: &str) -> PathBuf {
    root().join(format!("seed-{preset}"))
}

/// The hand-run instance of `cargo xtask synapse start`.
fn instance_dir() -> PathBuf {
    root().join("instance")
}

/// `python harness.py ARGS`: the system's python3 before the venv exists
/// (only `install` runs then), the venv's afterwards.
pub(crate) fn harness_cmd(python: impl Into<OsString>) -> Command {
    let mut cmd = Command::new(python.into());
    cmd.arg(harness())
        .env(VENV_VAR, venv_dir())
        .current_dir(util::repo_root());
    cmd
}

pub(crate) fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

/// Installs Synapse into its venv; quick when the venv's stamp names the
/// pinned version. `cargo xtask setup` calls it.
pub fn install() -> Result<()> {
    if cfg!(windows) {
        // Synapse does not run on Windows; the Matrix tests skip there.
        println!("setup: skipping the Synapse test server (Synapse does not run on Windows)");
        return Ok(());
    }
    util::run(harness_cmd("python3").arg("install")).map_err(|e| {
        Failure::new(format!("could not install the Synapse test server: {e}")).hint(format!(
            "it needs Python 3.10+ with venv (python3-venv on Debian/Ubuntu) and PyPI; \
             see the messages above; to start over, delete {}",
            util::show(&venv_dir())
        ))
    })
}

/// Seeds the snapshot of `preset` unless its stamp says it is up to date.
pub fn seed(preset: &str, force: bool) -> Result<PathBuf> {
    install()?;
    let dir = snapshot_dir(preset);
    let mut cmd = harness_cmd(venv_python());
    cmd.arg("seed").arg(&dir).args(["--preset", preset]);
    if force {
        cmd.arg("--force");
    }
    // Its JSON summary is for programs; the progress on stderr is for us.
    cmd.stdout(std::process::Stdio::null());
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("seeding the Synapse {preset} snapshot failed: {e}")).hint(format!(
            "see the messages above and {}/.{}.tmp-*/homeserver.log if it is left",
            util::show(&root()),
            dir.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ))
    })?;
    Ok(dir)
}

pub fn run(args: &[OsString]) -> Result<()> {
    let Some(sub) = args.first().and_then(|a| a.to_str()) else {
        return Err(Failure::usage(
            "`cargo xtask synapse` needs a command: install, seed, start, stop or status",
        ));
    };
    let flags = Flags::parse(sub, &args[1..])?;
    match sub {
        "install" => install(),
        "seed" => {
            let dir = seed(&flags.preset, flags.force)?;
            println!(
                "synapse: the {} snapshot is in {} (ids, tokens and counts in seed.json)",
                flags.preset,
                util::show(&dir)
            );
            Ok(())
        }
        "start" => start(&flags),
        "stop" => util::run(
            harness_cmd(harness_python())
                .arg("stop")
                .arg(instance_dir()),
        ),
        "status" => {
            // Exits 3 when the instance does not answer, which is an answer.
            util::status(
                harness_cmd(harness_python())
                    .arg("status")
                    .arg(instance_dir()),
            )
            .map(|_| ())
        }
        other => Err(Failure::usage(format!(
            "unknown `cargo xtask synapse` command `{other}`"
        ))),
    }
}

/// stop and status need only the standard library: they work before the
/// venv exists (and say there is nothing to stop).
fn harness_python() -> OsString {
    if venv_python().is_file() {
        venv_python().into()
    } else {
        "python3".into()
    }
}

fn start(flags: &Flags) -> Result<()> {
    let snapshot = seed(&flags.preset, false)?;
    let instance = instance_dir();
    let mut cmd = harness_cmd(venv_python());
    cmd.arg("start")
        .arg(&snapshot)
        .arg(&instance)
        .arg(&flags.port);
    if let Some(cas) = &flags.cas_port {
        cmd.args(["--cas-port", cas]);
    }
    if let Some(extra) = &flags.extra_config {
        cmd.arg("--extra-config").arg(extra);
    }
    cmd.stdout(std::process::Stdio::null());
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("could not start Synapse: {e}")).hint(format!(
            "if one is running already, `cargo xtask synapse stop`; its logs are in {}",
            util::show(&instance)
        ))
    })?;
    let info = instance.join("instance.json");
    let text = fs_err::read_to_string(&info).map_err(util::io_failure("read", &info))?;
    let field = |key: &str| json_string(&text, key).unwrap_or_else(|| "?".into());
    let cas = json_string(&text, "cas_url").map_or_else(String::new, |url| {
        format!("\n  SSO through the fake CAS at {url} (?user=NAME picks the user)")
    });
    println!(
        "synapse: {} (server name {}) runs until `cargo xtask synapse stop`\n\
         \x20 users alice, bob, carol, dave, admin: passwords and access tokens in {}{cas}",
        field("base_url"),
        field("server_name"),
        util::show(&instance.join("seed.json"))
    );
    Ok(())
}

/// The string value of `"key": "..."` in the harness's flat instance.json
/// (xtask is std-only: no JSON parser for one file we write ourselves).
pub(crate) fn json_string(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(&format!("\"{key}\": \""))? + key.len() + 5..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The flags of `cargo xtask synapse`, each allowed only where it means
/// something.
struct Flags {
    preset: String,
    force: bool,
    port: String,
    cas_port: Option<String>,
    extra_config: Option<PathBuf>,
}

impl Flags {
    fn parse(sub: &str, args: &[OsString]) -> Result<Self> {
        let mut flags = Self {
            preset: "default".into(),
            force: false,
            port: DEFAULT_PORT.into(),
            cas_port: None,
            extra_config: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let arg = arg.to_string_lossy();
            let allowed = match arg.as_ref() {
                "--preset" => matches!(sub, "seed" | "start"),
                "--force" => sub == "seed",
                "--port" | "--cas-port" | "--extra-config" => sub == "start",
                _ => false,
            };
            if !allowed {
                return Err(Failure::usage(format!(
                    "`cargo xtask synapse {sub}` does not take `{arg}`"
                )));
            }
            if arg == "--force" {
                flags.force = true;
                continue;
            }
            let value = it
                .next()
                .ok_or_else(|| Failure::usage(format!("`{arg}` needs a value")))?;
            let text = value.to_string_lossy().into_owned();
            match arg.as_ref() {
                "--preset" => flags.preset = text,
                "--port" => flags.port = number(&arg, text)?,
                "--cas-port" => flags.cas_port = Some(number(&arg, text)?),
                _ => flags.extra_config = Some(PathBuf::from(value)),
            }
        }
        Ok(flags)
    }
}

fn number(flag: &str, text: String) -> Result<String> {
    if text.parse::<u16>().is_ok() {
        Ok(text)
    } else {
        Err(Failure::usage(format!(
            "`{flag}` takes a port number (0: any free port), got `{text}`"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sub: &str, args: &[&str]) -> Result<Flags> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        Flags::parse(sub, &args)
    }

    #[test]
    fn flags_belong_to_their_commands() {
        let f = parse(
            "start",
            &["--port", "0", "--cas-port", "18090", "--preset", "bench"],
        )
        .expect("valid start flags");
        assert_eq!(
            (f.port.as_str(), f.cas_port.as_deref(), f.preset.as_str()),
            ("0", Some("18090"), "bench")
        );
        assert!(parse("seed", &["--force"]).expect("valid seed flags").force);
        assert!(parse("seed", &["--port", "1"]).is_err());
        assert!(parse("stop", &["--preset", "bench"]).is_err());
        assert!(parse("start", &["--port", "http"]).is_err());
        assert!(parse("start", &["--port"]).is_err());
    }

    #[test]
    fn instance_json_strings() {
        let text = "{\n \"base_url\": \"http://127.0.0.1:8008\",\n \"cas_url\": null\n}";
        assert_eq!(
            json_string(text, "base_url").as_deref(),
            Some("http://127.0.0.1:8008")
        );
        assert_eq!(json_string(text, "cas_url"), None);
    }
}
