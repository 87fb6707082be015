//! `cargo xtask setup`: installs what building and testing Keepsake needs and
//! Rust's toolchain does not bring — system packages (on other systems than
//! Debian/Ubuntu: checks them and prints the exact commands), the Python tools
//! in a venv under `target/`, Node.js 20 when the system's is older, and the
//! npm packages. Idempotent, and quick when all is present.

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
    // The package test: validators for the .desktop entry and AppStream
    // metainfo, and rpm to list the .rpm.
    "desktop-file-utils",
    "appstream",
    "rpm",
    // Glyphs for the seed data's CJK, Arabic, Hebrew and emoji in the real
    // window and its screenshots (WebKitGTK and Chromium find them through
    // fontconfig); without them every such character is an empty box.
    "fonts-noto-core",
    "fonts-noto-cjk",
    "fonts-noto-color-emoji",
    // A real WordPress 6.1 for the connector's tests (tests/servers/wordpress):
    // Debian's package (whose apache2 dependency setup keeps from starting,
    // see HELD_SERVICES), its default theme for the pages a browser shows,
    // MariaDB's server binary alone (the -core package has no service to
    // start), and PHP's CLI with MySQL and GD (GD makes the image sub-sizes
    // and the `-scaled` copy of large images).
    "wordpress",
    "wordpress-theme-twentytwentythree",
    "mariadb-server-core",
    "mariadb-client",
    "php-cli",
    "php-mysql",
    "php-gd",
];

/// Services that Debian's package scripts would start on install, and that
/// setup forbids them to: `wordpress` depends on apache2, which would listen
/// on port 80 of every interface. The test servers start their own, on
/// loopback. (On a systemd machine apache2 is still enabled for the next
/// boot; `systemctl disable apache2` if that matters.)
const HELD_SERVICES: &[&str] = &["apache2", "apache-htcacheclean", "mariadb", "mysql"];

/// The file invoke-rc.d and deb-systemd-invoke ask before they start a
/// service (exit 101: not now).
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

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
    crate::node::ensure()?;
    crate::ui::install()?;
    crate::ui::install_tauri_driver()?;
    crate::viewer::install()?;
    crate::signin::install()?;
    crate::synapse::install()?;
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Os {
    Debian,
    Fedora,
    Arch,
    OpenSuse,
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
    match fs_err::read_to_string("/etc/os-release") {
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
    } else if has("suse") || has("opensuse") || ids.iter().any(|id| id.starts_with("opensuse")) {
        Os::OpenSuse
    } else {
        Os::OtherLinux
    }
}

/// `apt-get ARGS` as root, or through sudo, never asking questions.
pub fn apt(args: &[&str]) -> Command {
    // `env` rather than a plain variable: sudo drops the environment.
    let mut cmd = as_root("env");
    cmd.arg("DEBIAN_FRONTEND=noninteractive")
        .arg("apt-get")
        .args(args);
    cmd
}

fn debian_packages() -> Result<()> {
    let mut wanted: Vec<&str> = DEBIAN_PACKAGES.to_vec();
    if python_has_venv() {
        wanted.retain(|p| *p != PYTHON_VENV_PACKAGE);
    }
    let mut missing = missing_debian_packages(&wanted);
    // Not in the list above: a node from elsewhere (NodeSource, nvm) counts,
    // and one that is merely old gets a newer one beside it later.
    missing.extend(crate::node::missing_debian_packages());
    if missing.is_empty() {
        return Ok(());
    }
    println!(
        "setup: installing missing Debian packages: {}",
        missing.join(" ")
    );

    let hint = format!(
        "install them yourself as root, then rerun `cargo xtask setup`:\n\
         apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    util::run(&mut apt(&["update"]))
        .map_err(|e| Failure::new(format!("{e}")).hint(hint.clone()))?;
    let mut install = apt(&["install", "-y", "--no-install-recommends"]);
    install.args(&missing);
    let guard = hold_services()?;
    let installed = util::run(&mut install).map_err(|e| Failure::new(format!("{e}")).hint(hint));
    if guard {
        util::run(as_root("rm").args(["-f", POLICY_RC_D]))?;
    }
    installed
}

fn is_root() -> bool {
    util::capture(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// `program` as root, through sudo when setup is not.
fn as_root(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    }
}

/// The policy-rc.d that forbids starting [`HELD_SERVICES`] and allows the rest.
fn policy_rc_d() -> String {
    format!(
        "#!/bin/sh\n\
         # Written by `cargo xtask setup` for the length of one apt-get install.\n\
         case \"$1\" in {}) exit 101 ;; esac\n\
         exit 0\n",
        HELD_SERVICES.join("|")
    )
}

/// Puts [`policy_rc_d`] in place unless a policy-rc.d is there already (a
/// Docker image's forbids every service, and a machine's own is its
/// owner's); true when setup must remove it after the install.
fn hold_services() -> Result<bool> {
    if Path::new(POLICY_RC_D).exists() {
        return Ok(false);
    }
    let dir = util::xtask_dir();
    fs_err::create_dir_all(&dir).map_err(util::io_failure("create", &dir))?;
    let script = dir.join("policy-rc.d");
    fs_err::write(&script, policy_rc_d()).map_err(util::io_failure("write", &script))?;
    util::run(
        as_root("install")
            .args(["-m", "0755"])
            .arg(&script)
            .arg(POLICY_RC_D),
    )?;
    Ok(true)
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

/// Something the build or the tests need that setup cannot install on this
/// system, and how to tell that it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// A program that runs with these arguments.
    Tool(&'static str, &'static [&'static str]),
    /// A library pkg-config knows (`pkg-config --exists`), under any of
    /// these names.
    Library(&'static [&'static str]),
    /// `python3 -m venv` with pip.
    PythonVenv,
}

/// The desktop app's system libraries on Linux (Tauri v2 over WebKitGTK
/// 4.1), by their pkg-config names; the OS keyring's libdbus too.
const LINUX_LIBRARIES: &[&[&str]] = &[
    &["webkit2gtk-4.1"],
    &["javascriptcoregtk-4.1"],
    &["libsoup-3.0"],
    &["librsvg-2.0"],
    &["ayatana-appindicator3-0.1", "appindicator3-0.1"],
    &["openssl"],
    &["dbus-1"],
];

/// What setup checks for on `os` (everything but Debian/Ubuntu, where it
/// installs instead).
fn probes(os: Os) -> Vec<Probe> {
    let mut probes = vec![
        Probe::Tool("curl", &["--version"]),
        Probe::Tool(python(), &["--version"]),
        Probe::PythonVenv,
        Probe::Tool("node", &["--version"]),
        Probe::Tool("npm", &["--version"]),
    ];
    if os != Os::Windows {
        probes.push(Probe::Tool("cc", &["--version"]));
        probes.push(Probe::Tool("unzip", &["-v"]));
    }
    if matches!(os, Os::Fedora | Os::Arch | Os::OpenSuse | Os::OtherLinux) {
        probes.push(Probe::Tool("pkg-config", &["--version"]));
        probes.extend(LINUX_LIBRARIES.iter().map(|names| Probe::Library(names)));
    }
    probes
}

/// How a missing probe is named in the message.
fn probe_name(probe: &Probe) -> String {
    match probe {
        Probe::Tool(tool, _) => (*tool).to_owned(),
        Probe::Library(names) => format!("{} (pkg-config)", names.join(" or ")),
        Probe::PythonVenv => "python venv support".to_owned(),
    }
}

/// The probes of `os` that `works` says fail, by name. A library is not
/// asked about when pkg-config itself is missing (it is reported instead),
/// nor venv support when Python is.
fn missing_on(os: Os, works: &mut dyn FnMut(&Probe) -> bool) -> Vec<String> {
    let mut missing = Vec::new();
    let mut failed_tools = Vec::new();
    for probe in probes(os) {
        let skip = match probe {
            Probe::Library(_) => failed_tools.contains(&"pkg-config"),
            Probe::PythonVenv => failed_tools.contains(&python()),
            Probe::Tool(..) => false,
        };
        if skip || works(&probe) {
            continue;
        }
        if let Probe::Tool(tool, _) = probe {
            failed_tools.push(tool);
        }
        missing.push(probe_name(&probe));
    }
    missing
}

fn probe_works(probe: &Probe) -> bool {
    match probe {
        Probe::Tool(tool, args) => util::succeeds(Command::new(tool).args(*args)),
        Probe::Library(names) => names
            .iter()
            .any(|name| util::succeeds(Command::new("pkg-config").args(["--exists", name]))),
        Probe::PythonVenv => python_has_venv(),
    }
}

fn check_tools(os: Os) -> Result<()> {
    let missing = missing_on(os, &mut probe_works);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(format!("missing: {}", missing.join(", "))).hint(instructions(os)))
}

/// Exact per-OS commands that install what Debian gets from apt: the C
/// toolchain and tools, Python with venv, Node.js with npm and the desktop
/// app's libraries. Node.js 20 or newer is best; an older one works too,
/// as setup then adds Node 20 from the npm registry.
fn instructions(os: Os) -> String {
    let text = match os {
        Os::Mac => {
            "# the Xcode Command Line Tools (cc, curl, unzip; the app uses the system's WebKit)\n\
             xcode-select --install\n\
             # with Homebrew (https://brew.sh): Python 3.11+ with venv, Node.js with npm\n\
             brew install python@3.12 node"
        }
        Os::Fedora => {
            "sudo dnf install -y gcc gcc-c++ make pkgconf-pkg-config curl unzip file python3 nodejs npm \\\n\
             \x20 webkit2gtk4.1-devel javascriptcoregtk4.1-devel libsoup3-devel librsvg2-devel \\\n\
             \x20 libappindicator-gtk3-devel openssl-devel dbus-devel libxdo-devel"
        }
        Os::Arch => {
            "sudo pacman -S --needed base-devel pkgconf curl unzip file python nodejs npm \\\n\
             \x20 webkit2gtk-4.1 libsoup3 librsvg libappindicator-gtk3 openssl dbus xdotool"
        }
        Os::OpenSuse => {
            "sudo zypper install -y -t pattern devel_basis\n\
             sudo zypper install -y pkg-config curl unzip file python3 nodejs20 npm20 \\\n\
             \x20 'pkgconfig(webkit2gtk-4.1)' 'pkgconfig(javascriptcoregtk-4.1)' 'pkgconfig(libsoup-3.0)' \\\n\
             \x20 'pkgconfig(librsvg-2.0)' 'pkgconfig(ayatana-appindicator3-0.1)' 'pkgconfig(openssl)' \\\n\
             \x20 'pkgconfig(dbus-1)'"
        }
        Os::Windows => {
            "# the MSVC C/C++ build tools\n\
             winget install --id Microsoft.VisualStudio.2022.BuildTools --override \"--wait --passive --add Microsoft.VisualStudio.Workload.VCTools --includeRecommended\"\n\
             # WebView2, the app's web view (Windows 11 has it already)\n\
             winget install --id Microsoft.EdgeWebView2Runtime\n\
             # Python 3.11+ with venv and Node.js with npm (curl ships with Windows 10 and newer)\n\
             winget install --id Python.Python.3.12\n\
             winget install --id OpenJS.NodeJS.LTS\n\
             # then open a new terminal, so that PATH has them"
        }
        Os::Debian | Os::OtherLinux | Os::Other => {
            "with your package manager, install a C compiler (cc), pkg-config, curl, unzip, \
             Python 3.11+ with venv, Node.js 20+ with npm, and the development packages of these \
             pkg-config modules: webkit2gtk-4.1, javascriptcoregtk-4.1, libsoup-3.0, librsvg-2.0, \
             ayatana-appindicator3-0.1 (or appindicator3-0.1), openssl and dbus-1"
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
        && fs_err::read_to_string(&stamp).is_ok_and(|s| s.trim() == wanted)
    {
        return Ok(venv);
    }

    if !venv.bin("python").is_file() {
        // A half-made venv (interrupted, or its Python was removed) is
        // cheaper to rebuild than to diagnose.
        util::remove_if_exists(&venv.dir)?;
        if let Some(parent) = venv.dir.parent() {
            fs_err::create_dir_all(parent).map_err(util::io_failure("create", parent))?;
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
    fs_err::write(stamp, format!("{wanted}\n")).map_err(util::io_failure("write", stamp))
}

#[cfg(test)]
mod tests;
