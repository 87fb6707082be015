//! `cargo xtask demo --platform wordpress|matrix [--check]`: the main job on
//! a real third-party server the project runs itself — a seeded WordPress
//! (Debian's, on MariaDB) or a seeded Synapse — and then, as with the
//! reference platform: with a display, the desktop app opens on it; without
//! one, the `keepsake` CLI exports the seeded account and verifies the
//! archive, and the server keeps running until Ctrl-C. `--check` stops
//! after the CLI's export.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use crate::util::{self, Failure, Result};

/// Which server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Which {
    WordPress,
    Matrix,
}

/// A running demo server, stopped when dropped.
struct Running {
    which: Which,
    url: String,
    dir: PathBuf,
    /// The seed's `seed.json`: who is who, and their secrets.
    seed: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut cmd = match self.which {
            Which::WordPress => {
                let mut c = Command::new("bash");
                c.arg(crate::wordpress::script()).arg("stop");
                c
            }
            Which::Matrix => {
                let mut c = crate::synapse::harness_cmd(crate::synapse::venv_python());
                c.arg("stop");
                c
            }
        };
        let _ = cmd.arg(&self.dir).status();
    }
}

/// A value of the seed's `seed.json` (`users.author.app_password`).
fn fact(seed: &Path, pointer: &str) -> Result<String> {
    // std only: the values wanted are plain JSON strings; ask Python, which
    // every machine that runs the servers has.
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys; v=json.load(open(sys.argv[1])); \
             [v:=v[k] for k in sys.argv[2].strip('/').split('/')]; print(v)",
        ])
        .arg(seed)
        .arg(pointer)
        .output();
    out.ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Failure::new(format!("{} has no {pointer}", util::show(seed))).hint(
                "seed the server again: `cargo xtask wordpress seed` or `cargo xtask synapse seed`",
            )
        })
}

fn start(which: Which, dir: &Path) -> Result<Running> {
    match which {
        Which::WordPress => {
            // wp.sh exits 3 when another process took the port meanwhile.
            let mut tries = 0;
            let url = loop {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .map(|a| a.port())
                    .map_err(|e| Failure::new(format!("no free port: {e}")))?;
                let mut cmd = Command::new("bash");
                cmd.arg(crate::wordpress::script())
                    .arg("start")
                    .arg(crate::wordpress::snapshot_dir())
                    .arg(dir)
                    .arg(port.to_string())
                    // Stopped by its watchdog once this process is gone,
                    // Ctrl-C included (no Drop runs then).
                    .env("KEEPSAKE_WP_OWNER_PID", std::process::id().to_string());
                let (status, out) = util::output(&mut cmd)?;
                match status.code() {
                    Some(0) => break out.trim().to_owned(),
                    Some(3) if tries < 4 => tries += 1,
                    _ => return Err(util::status_failure(&cmd, status)),
                }
            };
            Ok(Running {
                which,
                url,
                seed: dir.join("seed.json"),
                dir: dir.to_owned(),
            })
        }
        Which::Matrix => {
            let snapshot = crate::synapse::seed("default", false)?;
            let mut cmd = crate::synapse::harness_cmd(crate::synapse::venv_python());
            cmd.arg("start")
                .arg(snapshot)
                .arg(dir)
                .args(["0", "--cas-port", "0"])
                // Stopped by the harness once this process is gone, Ctrl-C
                // included (no Drop runs then).
                .args(["--watch-pid", &std::process::id().to_string()]);
            let json = util::capture(&mut cmd)?;
            let field = |name: &str| {
                crate::synapse::json_string(&json, name).ok_or_else(|| {
                    Failure::new(format!("Synapse's harness did not say its {name}: {json}"))
                })
            };
            Ok(Running {
                which,
                url: field("base_url")?,
                seed: PathBuf::from(field("seed_json")?),
                dir: dir.to_owned(),
            })
        }
    }
}

pub fn run(which: Which, check: bool) -> Result<ExitCode> {
    crate::setup::run()?;
    let dir = util::target_dir().join("demo").join(match which {
        Which::WordPress => "wordpress",
        Which::Matrix => "matrix",
    });
    util::remove_if_exists(&dir)?;
    let data = dir.join("keepsake");
    fs_err::create_dir_all(&data).map_err(util::io_failure("create", &data))?;
    let server = start(which, &dir.join("server"))?;
    let (login, secret, kind) = match which {
        Which::WordPress => (
            "author",
            fact(&server.seed, "/users/author/app_password")?,
            "wordpress",
        ),
        Which::Matrix => (
            "alice",
            fact(&server.seed, "/users/alice/password")?,
            "matrix",
        ),
    };
    let desktop = if check { None } else { crate::demo::display() };
    if desktop.is_some() {
        let app = crate::demo::build_desktop()?;
        welcome(&server, login, &secret);
        let mut cmd = Command::new(app);
        cmd.env("KEEPSAKE_PLATFORM", &server.url)
            .env("KEEPSAKE_KIND", kind)
            .env("XDG_DATA_HOME", data.join("data"))
            .env("XDG_CONFIG_HOME", data.join("config"));
        let status = util::status(&mut cmd)?;
        println!("demo: the app closed; stopping the server");
        return Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let cli = crate::demo::build_cli()?;
    // The token (a WordPress application password; for Matrix the seeded
    // access token) travels in the environment, never in argv.
    let token = match which {
        Which::WordPress => secret.clone(),
        Which::Matrix => fact(&server.seed, "/users/alice/access_token")?,
    };
    let out = data.join("out");
    let run = |args: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(&cli);
        cmd.args(args)
            .env("KEEPSAKE_PLATFORM", &server.url)
            .env("KEEPSAKE_KIND", kind)
            .env("KEEPSAKE_TOKEN", &token)
            .env("XDG_DATA_HOME", data.join("data"))
            .env("XDG_CONFIG_HOME", data.join("config"));
        if which == Which::WordPress {
            cmd.env("KEEPSAKE_USER", login);
        }
        cmd
    };
    println!("\ndemo: exporting {login}'s account with `keepsake export`\n");
    util::run(&mut run(&[
        "export".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]))?;
    let archive = fs_err::read_dir(&out)
        .map_err(util::io_failure("read", &out))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "zip"))
        .ok_or_else(|| Failure::new("the export reported success but wrote no archive"))?;
    util::run(&mut run(&["verify".as_ref(), archive.as_os_str()]))?;
    welcome(&server, login, &secret);
    println!("  {login}'s archive: {}", util::show(&archive));
    if check {
        println!("demo --check: ok");
        return Ok(ExitCode::SUCCESS);
    }
    println!("\nPress Ctrl-C to stop the server.");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

fn welcome(server: &Running, login: &str, secret: &str) {
    println!();
    match server.which {
        Which::WordPress => {
            println!("Keepsake demo: a real WordPress 6.1 (Debian's) on MariaDB is running.");
            println!("  site         {}", server.url);
            println!(
                "  sign in      in the browser as {login} / author-password-1 (WordPress asks you to approve Keepsake),"
            );
            println!(
                "               or with the user name {login} and the application password at"
            );
            println!("               users.author.app_password in the users file below");
            println!("  support      admin / admin-password-1 is the site's administrator");
        }
        Which::Matrix => {
            println!("Keepsake demo: a real Synapse homeserver is running.");
            println!("  homeserver   {}", server.url);
            println!(
                "  sign in      as {login} with the password {secret}, or single sign-on in the browser"
            );
            println!(
                "               (the demo's identity provider signs you in as the user name you give it)"
            );
            println!("  support      admin (password in the seed) is a server admin");
        }
    }
    println!("  users        {}", util::show(&server.seed));
    println!();
}
