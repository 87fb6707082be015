//! `cargo xtask setup`: installs what building and testing Keepsake needs and
//! Rust's toolchain does not bring — system packages, then the Python tools
//! in a venv under `target/`. Idempotent, and quick when all is present.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, Failure, Result};

/// Debian/Ubuntu packages the build and the tests need.
const DEBIAN_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "curl",
    "python3-venv",
    "unzip",
    // The OS keyring: libdbus for the Secret Service client, and a session
    // bus plus gnome-keyring so tests use the real store, headless.
    "libdbus-1-dev",
    "dbus",
    "dbus-x11",
    "gnome-keyring",
    "keyutils",
    // The desktop app (Tauri v2 over WebKitGTK 4.1).
    "libwebkit2gtk-4.1-dev",
    "libssl-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libsoup-3.0-dev",
    "file",
    // Its tests: a virtual display, WebKit's WebDriver, and Chromium for
    // the UI alone (Playwright drives Debian's build). Chromium also opens
    // the archives' offline viewer from file:// (tests/viewer).
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "chromium",
];

/// The Debian package that gives `python3` a working `venv`; optional when the
/// `python3` on PATH (e.g. from pyenv) already has one.
const PYTHON_VENV_PACKAGE: &str = "python3-venv";

/// Python tools, pinned: schemathesis drives the contract conformance run,
/// bagit checks archives against the BagIt spec.
pub const PYTHON_REQUIREMENTS: &[&str] = &["schemathesis==4.32.5", "bagit==1.9.0"];

/// Written into the venv after a successful install; holds the requirement
/// list so a changed pin triggers a reinstall.
const STAMP_FILE: &str = ".keepsake-stamp";

/// Runs the whole setup.
pub fn run() -> Result<()> {
    system_packages()?;
    let venv = python_tools()?;
    crate::ui::install()?;
    crate::ui::install_tauri_driver()?;
    crate::viewer::install()?;
    println!(
        "setup: ready (Python tools in {}, UI packages in {})",
        util::show(&venv.dir),
        util::show(&crate::ui::dir().join("node_modules"))
    );
    Ok(())
}

/// The Python venv xtask installs its tools into.
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    pub fn at_default() -> Self {
        Self {
            dir: util::xtask_dir().join("venv"),
        }
    }

    fn bin_dir(&self) -> PathBuf {
        if cfg!(windows) {
            self.dir.join("Scripts")
        } else {
            self.dir.join("bin")
        }
    }

    /// An executable installed into the venv (`python`, `schemathesis`, …).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir()
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    }
}

// ---------------------------------------------------------------------------
// System packages

fn system_packages() -> Result<()> {
    match os() {
        Os::Debian => debian_packages(),
        other => {
            check_tools(other)?;
            Ok(())
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Os {
    Debian,
    Fedora,
    Arch,
    OtherLinux,
    Mac,
    Windows,
    Other,
}

fn os() -> Os {
    if cfg!(target_os = "macos") {
        return Os::Mac;
    }
    if cfg!(windows) {
        return Os::Windows;
    }
    if !cfg!(target_os = "linux") {
        return Os::Other;
    }
    match std::fs::read_to_string("/etc/os-release") {
        Ok(text) => linux_os(&text),
        Err(_) => Os::OtherLinux,
    }
}

/// Which Linux family an `/etc/os-release` describes (`ID` and `ID_LIKE`).
fn linux_os(os_release: &str) -> Os {
    let mut ids = Vec::new();
    for line in os_release.lines() {
        if let Some((key, value)) = line.split_once('=')
            && (key == "ID" || key == "ID_LIKE")
        {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            ids.extend(value.split_whitespace().map(str::to_ascii_lowercase));
        }
    }
    let has = |name: &str| ids.iter().any(|id| id == name);
    if has("debian") || has("ubuntu") {
        Os::Debian
    } else if has("fedora") || has("rhel") {
        Os::Fedora
    } else if has("arch") {
        Os::Arch
    } else {
        Os::OtherLinux
    }
}

fn debian_packages() -> Result<()> {
    let mut wanted: Vec<&str> = DEBIAN_PACKAGES.to_vec();
    if python_has_venv() {
        wanted.retain(|p| *p != PYTHON_VENV_PACKAGE);
    }
    let missing = missing_debian_packages(&wanted);
    if missing.is_empty() {
        return Ok(());
    }
    println!(
        "setup: installing missing Debian packages: {}",
        missing.join(" ")
    );

    let root = util::capture(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| -> Command {
        // `env` rather than a plain variable: sudo drops the environment.
        let mut cmd = if root {
            Command::new("env")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("env");
            sudo
        };
        cmd.arg("DEBIAN_FRONTEND=noninteractive")
            .arg("apt-get")
            .args(args);
        cmd
    };
    let hint = format!(
        "install them yourself as root, then rerun `cargo xtask setup`:\n\
         apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    util::run(&mut apt(&["update"]))
        .map_err(|e| Failure::new(format!("{e}")).hint(hint.clone()))?;
    let mut install = apt(&["install", "-y", "--no-install-recommends"]);
    install.args(&missing);
    util::run(&mut install).map_err(|e| Failure::new(format!("{e}")).hint(hint))?;
    Ok(())
}

/// Packages from `wanted` that dpkg does not report as installed.
fn missing_debian_packages<'a>(wanted: &[&'a str]) -> Vec<&'a str> {
    // One dpkg-query for all of them; it exits non-zero when one is unknown
    // but still reports the others, so read its output whatever the status.
    let output = Command::new("dpkg-query")
        .args(["-W", "-f=${Package} ${Status}\n"])
        .args(wanted)
        .stderr(std::process::Stdio::null())
        .output();
    let text = output
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    not_installed(wanted, &text)
}

/// Packages from `wanted` without an `install ok installed` line in the
/// output of `dpkg-query -W -f='${Package} ${Status}\n'`.
fn not_installed<'a>(wanted: &[&'a str], dpkg_output: &str) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|pkg| {
            !dpkg_output.lines().any(|line| {
                line.split_once(' ').is_some_and(|(name, status)| {
                    // Multi-arch packages may report as `name:arch`.
                    name.split(':').next() == Some(*pkg) && status.contains("install ok installed")
                })
            })
        })
        .collect()
}

/// Whether `python3 -m venv` can make a venv with pip in it.
///
/// `python3 -m venv --help` alone is not enough on Debian: its stock python3
/// has the `venv` module but not `ensurepip` (that is in python3-venv), and
/// creating a venv then fails. So ask for both modules.
fn python_has_venv() -> bool {
    util::succeeds(Command::new(python()).args(["-c", "import venv, ensurepip"]))
}

fn python() -> &'static str {
    if cfg!(windows) { "python" } else { "python3" }
}

fn check_tools(os: Os) -> Result<()> {
    let cc = if cfg!(windows) { None } else { Some("cc") };
    let mut tools: Vec<(&str, &[&str])> =
        vec![("curl", &["--version"]), (python(), &["--version"])];
    if let Some(cc) = cc {
        tools.push((cc, &["--version"]));
    }
    if os != Os::Windows {
        tools.push(("unzip", &["-v"]));
    }
    if matches!(os, Os::Fedora | Os::Arch | Os::OtherLinux) {
        tools.push(("pkg-config", &["--version"]));
    }
    let mut missing: Vec<&str> = tools
        .iter()
        .filter(|(tool, args)| !util::succeeds(Command::new(tool).args(*args)))
        .map(|(t, _)| *t)
        .collect();
    if !missing.contains(&python()) && !python_has_venv() {
        missing.push("python venv support");
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!("missing tools: {}", missing.join(", "))).hint(instructions(os)))
}

/// Exact per-OS install instructions for the tools Debian gets from apt.
fn instructions(os: Os) -> String {
    let text = match os {
        Os::Mac => {
            "install the Xcode Command Line Tools (cc, curl, unzip): xcode-select --install\n\
             install Python 3.11 or newer with venv: brew install python@3.12 (or python.org's installer)"
        }
        Os::Fedora => "sudo dnf install -y gcc gcc-c++ make pkgconf-pkg-config curl python3 unzip",
        Os::Arch => "sudo pacman -S --needed base-devel pkgconf curl python unzip",
        Os::Windows => {
            "install Visual Studio Build Tools with the \"Desktop development with C++\" workload\n\
             install Python 3.11 or newer from python.org (tick \"Add python.exe to PATH\"); curl ships with Windows 10+"
        }
        Os::Debian | Os::OtherLinux | Os::Other => {
            "install a C compiler (cc), pkg-config, curl, unzip and Python 3.11+ with venv using your package manager"
        }
    };
    format!("{text}\nthen rerun `cargo xtask setup`")
}

// ---------------------------------------------------------------------------
// Python tools

fn python_tools() -> Result<Venv> {
    let venv = Venv::at_default();
    let stamp = venv.dir.join(STAMP_FILE);
    let wanted = PYTHON_REQUIREMENTS.join("\n");

    if venv.bin("python").is_file()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == wanted)
    {
        return Ok(venv);
    }

    if !venv.bin("python").is_file() {
        // A half-made venv (interrupted, or its Python was removed) is
        // cheaper to rebuild than to diagnose.
        util::remove_if_exists(&venv.dir)?;
        if let Some(parent) = venv.dir.parent() {
            std::fs::create_dir_all(parent).map_err(util::io_failure("create", parent))?;
        }
        println!("setup: creating the Python venv {}", util::show(&venv.dir));
        util::run(Command::new(python()).args(["-m", "venv"]).arg(&venv.dir)).map_err(|e| {
            Failure::new(format!("{e}")).hint(format!(
                "`{} -m venv` must work: on Debian/Ubuntu install {PYTHON_VENV_PACKAGE} \
                 (or python3.X-venv for your Python), elsewhere a Python 3.11+ with venv; \
                 then rerun `cargo xtask setup`",
                python()
            ))
        })?;
    }

    println!("setup: installing {}", PYTHON_REQUIREMENTS.join(" "));
    // Forget the old stamp first so an interrupted install is retried.
    util::remove_if_exists(&stamp)?;
    let mut pip = Command::new(venv.bin("python"));
    pip.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
    ])
    .args(PYTHON_REQUIREMENTS);
    util::run(&mut pip).map_err(|e| {
        Failure::new(format!("{e}")).hint(
            "check the network access to PyPI and the messages above, then rerun `cargo xtask setup`; \
             to start over, delete target/xtask/venv",
        )
    })?;
    write_stamp(&stamp, &wanted)?;
    Ok(venv)
}

fn write_stamp(stamp: &Path, wanted: &str) -> Result<()> {
    std::fs::write(stamp, format!("{wanted}\n")).map_err(util::io_failure("write", stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_families() {
        let ubuntu = "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n";
        assert!(linux_os(ubuntu) == Os::Debian);
        assert!(linux_os("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n") == Os::Debian);
        assert!(linux_os("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n") == Os::Fedora);
        assert!(linux_os("ID=arch\n") == Os::Arch);
        assert!(linux_os("ID=alpine\n") == Os::OtherLinux);
        // `VERSION_ID=debian` must not count: only ID and ID_LIKE do.
        assert!(linux_os("ID=nixos\nVERSION_ID=debian\n") == Os::OtherLinux);
    }

    #[test]
    fn dpkg_status_lines() {
        let out = "curl install ok installed\nunzip deinstall ok config-files\npkg-config:amd64 install ok installed\n";
        assert_eq!(
            not_installed(&["curl", "unzip", "pkg-config", "python3-venv"], out),
            ["unzip", "python3-venv"]
        );
    }
}
