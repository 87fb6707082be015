//! `cargo xtask bundle`: the desktop app's installable packages, built by
//! Tauri's bundler (the `@tauri-apps/cli` pinned in ui/package.json) from
//! the `desktop-release` profile, with no network needed: `.deb` and `.rpm`
//! are written in pure Rust; the AppImage only when its tools are already
//! in the bundler's cache (it would download them otherwise, and here that
//! fails). Windows (NSIS, MSI) and macOS (.app, .dmg) are configured in
//! src-tauri/tauri.conf.json and built by the same command on those systems.
//!
//! Also the package test that `cargo xtask test` runs: install the `.deb`
//! with apt, check what it put on the system, launch the installed app
//! under Xvfb through WebDriver, remove it and check nothing is left; list
//! the `.rpm` and check it carries the same files.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::apt;
use crate::util::{self, Failure, Result};

/// The cargo profile the packages ship (see the workspace Cargo.toml).
pub const PROFILE: &str = "desktop-release";

/// The installed program and desktop entry (the bundler names the entry
/// after the product).
pub const INSTALLED_BIN: &str = "/usr/bin/keepsake-desktop";
const DESKTOP_ENTRY: &str = "/usr/share/applications/Keepsake.desktop";
const METAINFO: &str = "/usr/share/metainfo/org.keepsake.desktop.metainfo.xml";

/// The files tauri-bundler's AppImage step downloads into its cache unless
/// they are there already (`~/.cache/tauri`).
const APPIMAGE_TOOLS: &[&str] = &[
    "AppRun-x86_64",
    "linuxdeploy-x86_64.AppImage",
    "linuxdeploy-plugin-gtk.sh",
    "linuxdeploy-plugin-gstreamer.sh",
];

/// What one bundle run produced.
pub struct Bundles {
    pub deb: PathBuf,
    pub rpm: PathBuf,
    pub appimage: Option<PathBuf>,
}

pub fn run(args: &[OsString]) -> Result<()> {
    util::no_args("bundle", args)?;
    crate::setup::run()?;
    let bundles = build()?;
    let doc = util::repo_root().join("docs").join("benchmarks.md");
    write_sizes(&bundles, &doc)?;
    println!(
        "\nbundle: packages of the desktop app ({PROFILE} profile), sizes in {}:",
        util::show(&doc)
    );
    for p in [
        Some(&bundles.deb),
        Some(&bundles.rpm),
        bundles.appimage.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        println!("  {}  ({})", util::show(p), human(size(p)));
    }
    println!(
        "install on Debian/Ubuntu: sudo apt-get install ./{}",
        util::show(&bundles.deb)
    );
    Ok(())
}

fn bundle_dir() -> PathBuf {
    util::target_dir().join(PROFILE).join("bundle")
}

/// The bundler's tool cache and the AppImage tools missing from it.
fn appimage_tools_missing() -> (PathBuf, Vec<&'static str>) {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default()
        .join("tauri");
    let missing = if cfg!(target_arch = "x86_64") {
        APPIMAGE_TOOLS
            .iter()
            .copied()
            .filter(|f| !cache.join(f).is_file())
            .collect()
    } else {
        vec!["(the AppImage tools for this architecture)"]
    };
    (cache, missing)
}

/// Builds the UI, then the app and its packages.
pub fn build() -> Result<Bundles> {
    if !cfg!(target_os = "linux") {
        return Err(Failure::new(
            "`cargo xtask bundle` builds the Linux packages",
        )
        .hint(
            "on Windows and macOS run `ui/node_modules/.bin/tauri build -- --profile desktop-release` \
             from the repository root: it builds the NSIS/MSI or .app/.dmg targets that \
             src-tauri/tauri.conf.json configures",
        ));
    }
    crate::ui::build()?;
    let (cache, missing) = appimage_tools_missing();
    let mut formats = vec!["deb", "rpm"];
    if missing.is_empty() {
        formats.push("appimage");
    } else {
        println!(
            "bundle: no AppImage: tauri-bundler would download its tools, and this machine \
             cannot. Missing from {}: {}. Copy them there (same names, executable) and rerun \
             to get an AppImage as well.",
            util::show(&cache),
            missing.join(", ")
        );
    }
    for f in &formats {
        util::remove_if_exists(&bundle_dir().join(f))?;
    }
    let node = crate::node::find()?;
    let mut cmd = node.command(crate::ui::bin("tauri"));
    // Run from the repository root: from ui/ the CLI does not find the
    // project (src-tauri). `--ci` never prompts.
    cmd.current_dir(util::repo_root())
        .args(["build", "--ci", "--bundles", &formats.join(",")])
        .args(["--", "--locked", "--profile", PROFILE]);
    // The CLI runs cargo itself; give it the same environment as util::cargo.
    for (name, value) in util::cargo().get_envs() {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    println!("bundle: {}", util::display(&cmd));
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("{e}"))
            .hint("see the bundler's output above (src-tauri/tauri.conf.json)")
    })?;
    Ok(Bundles {
        deb: only(&bundle_dir().join("deb"), "deb")?,
        rpm: only(&bundle_dir().join("rpm"), "rpm")?,
        appimage: if formats.contains(&"appimage") {
            Some(only(&bundle_dir().join("appimage"), "AppImage")?)
        } else {
            None
        },
    })
}

/// The one file with extension `ext` in `dir`.
fn only(dir: &Path, ext: &str) -> Result<PathBuf> {
    let found: Vec<PathBuf> = fs_err::read_dir(dir)
        .map_err(util::io_failure("list", dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(Failure::new(format!(
            "expected one .{ext} in {}, found {}",
            util::show(dir),
            found.len()
        ))),
    }
}

fn size(p: &Path) -> u64 {
    fs_err::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn human(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Writes the binary's and the packages' sizes into `doc`'s packages
/// section (between `<!-- packages:start -->` and `<!-- packages:end -->`,
/// appended when missing).
pub fn write_sizes(bundles: &Bundles, doc: &Path) -> Result<()> {
    let bin = util::target_dir()
        .join(PROFILE)
        .join(format!("keepsake-desktop{}", std::env::consts::EXE_SUFFIX));
    let mb = |p: &Path| size(p) as f64 / 1e6;
    let mut table = format!(
        "Built by `cargo xtask bundle` (Tauri CLI {}, `{PROFILE}` profile, stripped).\n\n\
         | File | Size | Target | Met? |\n| --- | --- | --- | --- |\n\
         | Release binary `keepsake-desktop` | {:.1} MB | ≤ 15 MB | {} |\n\
         | `.deb` ({}) | {:.1} MB | — | — |\n\
         | `.rpm` ({}) | {:.1} MB | — | — |\n",
        tauri_cli_version(),
        mb(&bin),
        if size(&bin) <= 15_000_000 {
            "yes"
        } else {
            "**no**"
        },
        name(&bundles.deb),
        mb(&bundles.deb),
        name(&bundles.rpm),
        mb(&bundles.rpm),
    );
    match &bundles.appimage {
        Some(a) => table.push_str(&format!(
            "| AppImage ({}) | {:.1} MB | — | — |\n",
            name(a),
            mb(a)
        )),
        None => table.push_str(
            "| AppImage | not built: its tools are not in the bundler's cache | — | — |\n",
        ),
    }
    let text = fs_err::read_to_string(doc).map_err(util::io_failure("read", doc))?;
    let (start, end) = ("<!-- packages:start -->", "<!-- packages:end -->");
    let section = format!("{start}\n{table}{end}");
    let new = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if a < b => format!("{}{section}{}", &text[..a], &text[b + end.len()..]),
        _ => format!(
            "{}\n\n## The desktop packages\n\n{section}\n",
            text.trim_end()
        ),
    };
    fs_err::write(doc, new).map_err(util::io_failure("write", doc))
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The pinned `@tauri-apps/cli` version (ui/package.json).
fn tauri_cli_version() -> String {
    let manifest = crate::ui::dir().join("package.json");
    fs_err::read_to_string(&manifest)
        .ok()
        .and_then(|t| {
            let at = t.find("\"@tauri-apps/cli\"")?;
            let rest = &t[at..];
            let v = rest.split('"').nth(3)?;
            Some(v.to_owned())
        })
        .unwrap_or_else(|| "?".into())
}

/// The regular files a package installs (directories left out: the
/// system shares `/usr/share/icons/hicolor/…` with other packages).
fn files(listing: &str) -> BTreeSet<String> {
    listing
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with('/'))
        .map(str::to_owned)
        .collect()
}

/// The package test: build, install, check, launch, remove.
pub fn installed_package_test(session: &crate::test::KeyringSession) -> Result<()> {
    println!("\nxtask test: the desktop packages (build, install the .deb, launch it, remove it)");
    let bundles = build()?;
    let check = |ok: bool, what: String| -> Result<()> {
        if ok {
            println!("package test: ok: {what}");
            Ok(())
        } else {
            Err(Failure::new(format!("package test: {what}")))
        }
    };
    // The same files in both packages.
    let rpm_list = util::capture(Command::new("rpm").args(["-qlp"]).arg(&bundles.rpm))?;
    let rpm_info = util::capture(Command::new("rpm").args(["-qip"]).arg(&bundles.rpm))?;
    let deb_list = util::capture(
        Command::new("sh")
            .arg("-c")
            // Regular files only (`ls -l` style: the mode starts with `-`).
            .arg("dpkg-deb -c \"$1\" | awk '$1 ~ /^-/ {print $6}' | sed -e 's|^\\./||' -e 's|^|/|'")
            .arg("sh")
            .arg(&bundles.deb),
    )?;
    let (rpm_files, deb_files) = (files(&rpm_list), files(&deb_list));
    check(
        rpm_files == deb_files,
        format!(
            "the .rpm and the .deb carry the same {} files (only in .deb: {:?}; only in .rpm: {:?})",
            deb_files.len(),
            deb_files.difference(&rpm_files).collect::<Vec<_>>(),
            rpm_files.difference(&deb_files).collect::<Vec<_>>()
        ),
    )?;
    let version = env!("CARGO_PKG_VERSION");
    check(
        rpm_info.contains(&format!("Version     : {version}"))
            && rpm_info.contains("License     : MIT OR Apache-2.0"),
        format!("the .rpm says version {version} and the workspace's license"),
    )?;
    let control = util::capture(Command::new("dpkg-deb").arg("-f").arg(&bundles.deb))?;
    check(
        control.contains(&format!("Version: {version}"))
            && control.contains("libwebkit2gtk-4.1-0")
            && control.contains("libgtk-3-0"),
        format!("the .deb says version {version} and depends on WebKitGTK 4.1 and GTK 3"),
    )?;

    // Install it as a user would.
    let deb = fs_err::canonicalize(&bundles.deb).map_err(util::io_failure("find", &bundles.deb))?;
    util::run(apt(&["install", "-y", "--no-install-recommends"]).arg(&deb))?;
    let result = check_installed(session, &check);
    // Remove it whatever happened, then check nothing it installed is left.
    let installed =
        util::capture(Command::new("dpkg").args(["-L", "keepsake"])).unwrap_or_default();
    let removed = util::run(&mut apt(&["remove", "-y", "keepsake"]));
    result?;
    removed?;
    let left: Vec<String> = files(&installed)
        .into_iter()
        .filter(|f| Path::new(f).is_file())
        .collect();
    check(
        left.is_empty() && !Path::new(INSTALLED_BIN).exists(),
        format!("apt-get remove left no installed file behind (left: {left:?})"),
    )
}

fn check_installed(
    session: &crate::test::KeyringSession,
    check: &dyn Fn(bool, String) -> Result<()>,
) -> Result<()> {
    let on_path = util::capture(Command::new("sh").args(["-c", "command -v keepsake-desktop"]))
        .unwrap_or_default();
    check(
        on_path.trim() == INSTALLED_BIN,
        format!("keepsake-desktop is on PATH at {INSTALLED_BIN}"),
    )?;
    check(
        util::succeeds(Command::new("desktop-file-validate").arg(DESKTOP_ENTRY)),
        format!("{DESKTOP_ENTRY} passes desktop-file-validate"),
    )?;
    check(
        util::succeeds(
            Command::new("appstreamcli")
                .args(["validate", "--no-net"])
                .arg(METAINFO),
        ),
        format!("{METAINFO} passes appstreamcli validate"),
    )?;
    check(
        Path::new("/usr/share/doc/keepsake/copyright").is_file(),
        "the license is in /usr/share/doc/keepsake".into(),
    )?;
    for size in ["32x32", "64x64", "128x128", "256x256", "512x512"] {
        let icon = format!("/usr/share/icons/hicolor/{size}/apps/keepsake-desktop.png");
        check(
            Path::new(&icon).is_file(),
            format!("the {size} icon is at {icon}"),
        )?;
    }
    // The installed build in a real window, through WebDriver.
    let mut cmd = session.command(&[
        "test".into(),
        "--locked".into(),
        "-p".into(),
        "keepsake-tests".into(),
        "--test".into(),
        "desktop".into(),
        "installed::".into(),
    ]);
    cmd.env("KEEPSAKE_REQUIRE_TOOLS", "1")
        .env("KEEPSAKE_DESKTOP_BIN", INSTALLED_BIN)
        .env("KEEPSAKE_INSTALLED_APP", "1");
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!(
            "the installed app did not reach its sign-in screen: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_keep_files_only() {
        let l = "/usr/bin/keepsake-desktop\n  /usr/share/applications/Keepsake.desktop\n(contains no files)\n";
        let f = files(l);
        assert_eq!(f.len(), 2);
        assert!(f.contains("/usr/share/applications/Keepsake.desktop"));
    }
}
