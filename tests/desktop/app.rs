//! Launching the app through tauri-driver, and finding things in its window.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// The desktop suite runs one app at a time: the app is single-instance per
/// D-Bus session, and WebKitWebDriver wants the display to itself.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Why the suite cannot run here, if it cannot.
pub fn skip_reason() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("the WebDriver suite runs on Linux (WebKitWebDriver)".into());
    }
    if std::env::var_os("KEEPSAKE_E2E").is_none() {
        return Some("set KEEPSAKE_E2E=1 under a display (cargo xtask test does)".into());
    }
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        return Some("no display (run under xvfb-run)".into());
    }
    if !tauri_driver().is_file() && !on_path("tauri-driver") {
        return Some("tauri-driver is not installed (cargo install tauri-driver)".into());
    }
    if !on_path("WebKitWebDriver") {
        return Some("WebKitWebDriver is not on PATH (package webkit2gtk-driver)".into());
    }
    None
}

/// Under `cargo xtask test` (which sets `KEEPSAKE_REQUIRE_TOOLS`, after its
/// setup installed the tools) the suite must run on Linux: a skip there
/// would pass without the real window ever opening.
pub fn must_run() -> bool {
    cfg!(target_os = "linux") && std::env::var_os("KEEPSAKE_REQUIRE_TOOLS").is_some()
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Skips the test (returns) when the suite cannot run here; fails it
/// instead when it must run ([`must_run`]).
#[macro_export]
macro_rules! require_e2e {
    () => {
        if let Some(why) = $crate::app::skip_reason() {
            if $crate::app::must_run() {
                panic!("the real-window suite must run under `cargo xtask test`, but: {why}");
            }
            println!("skipped: {why}");
            return;
        }
    };
}

fn target_dir() -> PathBuf {
    // target/debug/deps/desktop-HASH → target/debug
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// The app's debug binary, built by `cargo test --workspace` (the shell's
/// integration tests make cargo build it) or `cargo build -p keepsake-desktop`.
pub fn app_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KEEPSAKE_DESKTOP_BIN") {
        return PathBuf::from(p);
    }
    let bin = target_dir().join(format!("keepsake-desktop{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p keepsake-desktop` first",
        bin.display()
    );
    bin
}

fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("KEEPSAKE_TAURI_DRIVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let installed = home.join("bin").join("tauri-driver");
    if installed.is_file() {
        installed
    } else {
        PathBuf::from("tauri-driver")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The app's home: settings, audit log, Downloads, all in a temporary
/// directory that outlives relaunches within one test.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp home"),
        }
    }
    pub fn downloads(&self) -> PathBuf {
        self.dir.path().join("Downloads").join("Keepsake")
    }
}

/// One running app and its WebDriver session.
pub struct App {
    pub client: Client,
    driver: Child,
}

impl App {
    /// Starts tauri-driver (which starts WebKitWebDriver, which starts the
    /// app) with the app's environment: its platform and home.
    pub async fn launch(platform: &str, home: &Home) -> Self {
        Self::launch_with(platform, home, &[]).await
    }

    pub async fn launch_with(platform: &str, home: &Home, extra: &[(&str, String)]) -> Self {
        let port = free_port();
        let native = free_port();
        let h = home.dir.path();
        let mut cmd = Command::new(tauri_driver());
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .env("KEEPSAKE_PLATFORM", platform)
        .env("HOME", h)
        .env("XDG_CONFIG_HOME", h.join(".config"))
        .env("XDG_DATA_HOME", h.join(".local/share"))
        .env("XDG_CACHE_HOME", h.join(".cache"))
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        if std::env::var_os("KEEPSAKE_SCREENSHOTS").is_some() {
            // With the shared-memory renderer the app chooses (src-tauri
            // run()), a WebDriver screenshot leaves the window unable to be
            // closed through WebDriver: the session's end then waits
            // forever (seen with WebKitGTK 2.50). Screenshot runs keep
            // WebKit's default renderer; the pixels are the same.
            cmd.env("WEBKIT_DISABLE_DMABUF_RENDERER", "0");
        }
        let driver = cmd
            .spawn()
            .expect("tauri-driver starts (cargo xtask setup installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let http = keepsake_tests::client();
        for _ in 0..100 {
            if http.get(format!("{url}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert(
            "tauri:options".into(),
            json!({ "application": app_binary().display().to_string() }),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(caps);
        let connect = builder.connect(&url);
        let client = tokio::time::timeout(Duration::from_secs(60), connect)
            .await
            .expect("the app starts within a minute")
            .expect("a WebDriver session with the app");
        Self { client, driver }
    }

    /// Waits for an element.
    pub async fn wait(&self, xpath: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("{xpath} did not appear: {e}"))
    }

    /// Waits for the screen whose `<h1>` says `title`.
    pub async fn screen(&self, title: &str) {
        self.wait(&format!("//h1[normalize-space()=\"{title}\"]"))
            .await;
    }

    pub async fn click_button(&self, label: &str) {
        self.wait(&format!(
            "//button[normalize-space()=\"{label}\" and not(@disabled)]"
        ))
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {label}: {e}"));
    }

    pub async fn text(&self, xpath: &str) -> String {
        self.wait(xpath).await.text().await.expect("text")
    }

    /// Saves the window's content as docs/screenshots/NAME.png when
    /// `KEEPSAKE_SCREENSHOTS=1`.
    pub async fn screenshot(&self, name: &str) {
        // Let transitions settle.
        if std::env::var_os("KEEPSAKE_SCREENSHOTS").is_some() {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        self.screenshot_now(name).await;
    }

    /// The same, at once (a screen that will not stay long).
    pub async fn screenshot_now(&self, name: &str) {
        if std::env::var_os("KEEPSAKE_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        fs_err::create_dir_all(&dir).expect("screenshots dir");
        fs_err::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Signs in with an access token from the Sign in screen.
    pub async fn sign_in_with_token(&self, token: &str) {
        self.screen("Take your data home").await;
        // The platform's own words for it ("Use a personal access token").
        self.wait("//button[contains(normalize-space(), 'access token') and not(@disabled)]")
            .await
            .click()
            .await
            .expect("choose the access token");
        self.wait("//input[@id='access-token']")
            .await
            .send_keys(token)
            .await
            .expect("type token");
        self.click_button("Sign in with token").await;
    }

    /// Signs in with a user name and a password (or application password)
    /// from the Sign in screen's password form.
    pub async fn sign_in_with_password(&self, user: &str, password: &str) {
        self.screen("Take your data home").await;
        self.wait("//input[starts-with(@id, 'password-user-')]")
            .await
            .send_keys(user)
            .await
            .expect("type the user name");
        self.wait("//input[starts-with(@id, 'password-secret-')]")
            .await
            .send_keys(password)
            .await
            .expect("type the password");
        self.wait("//form[.//input[starts-with(@id, 'password-secret-')]]//button[@type='submit' and not(@disabled)]")
            .await
            .click()
            .await
            .expect("sign in");
    }

    /// The app's own process (WebKitWebDriver's child, running the binary).
    pub fn app_pid(&self) -> Option<u32> {
        let bin = fs_err::canonicalize(app_binary()).ok()?;
        descendants(self.driver.id())
            .into_iter()
            .find(|pid| fs_err::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == bin))
    }

    /// Ends the session, which ends the app.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
        drop(self);
        // The app leaves its single-instance name on the bus as it exits.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl Drop for App {
    fn drop(&mut self) {
        // The app is WebKitWebDriver's child, which is tauri-driver's: end
        // the whole tree, the app first, even when a test failed half-way (a
        // leftover app would make the next launch a second instance).
        let mut tree = descendants(self.driver.id());
        tree.reverse();
        for pid in tree {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Every process below `root`, parents before children (from /proc).
pub fn descendants(root: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = fs_err::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = fs_err::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut out = Vec::new();
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        for &(child, parent) in &parents {
            if parent == p {
                out.push(child);
                queue.push(child);
            }
        }
    }
    out
}
