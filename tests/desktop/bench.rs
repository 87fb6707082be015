//! Measurements of the real app for docs/benchmarks.md (`cargo xtask bench
//! --desktop` runs this with the desktop-release binary): launch to
//! interactive under Xvfb, RSS idle and during the `large` export, and the
//! `large` export through the window beside the same export through the CLI,
//! in the same run against the same platform. Skipped unless
//! `KEEPSAKE_BENCH_DESKTOP=1`.
//!
//! The reference platform and the CLI are the release binaries
//! (`KEEPSAKE_PLATFORM_BIN`, `KEEPSAKE_CLI_BIN`, else `target/release`), each
//! its own process, as `bench-export` runs them: the platform is not in this
//! debug-built process, and both front ends export from the same server.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keepsake_tests::procs::{Cli, Server, mint_token, seed};

use crate::app::{App, Home, SERIAL, app_binary, descendants};
use crate::require_e2e;

/// Launches measured (the median is reported).
const LAUNCHES: usize = 7;
/// Export rounds, the CLI's and the window's interleaved.
const ROUNDS: usize = 5;

/// What `/proc/PID/status` says about resident memory, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    total: u64,
    anon: u64,
    file: u64,
    shmem: u64,
}

impl Rss {
    fn of(pid: u32) -> Self {
        let text = fs_err::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| -> u64 {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Self {
            total: field("VmRSS:"),
            anon: field("RssAnon:"),
            file: field("RssFile:"),
            shmem: field("RssShmem:"),
        }
    }

    /// The app's own process and, separately, it with every descendant (the
    /// WebKit web and network processes).
    fn with_webkit(pid: u32) -> (Self, u64) {
        let own = Self::of(pid);
        let all = own.total
            + descendants(pid)
                .into_iter()
                .map(|p| Self::of(p).total)
                .sum::<u64>();
        (own, all)
    }
}

/// The largest resident figures seen so far (each its own maximum).
#[derive(Debug, Clone, Copy, Default)]
struct Peak {
    own: Rss,
    all: u64,
}

impl Peak {
    fn see(&mut self, pid: u32) {
        let (own, all) = Rss::with_webkit(pid);
        if own.total > self.own.total {
            self.own = own;
        }
        self.all = self.all.max(all);
    }
}

/// When `pid` started, in milliseconds since the Unix epoch.
fn started_ms(pid: u32) -> f64 {
    let stat = fs_err::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let ticks: f64 = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|v| v.parse().ok())
        .expect("starttime");
    let btime: f64 = fs_err::read_to_string("/proc/stat")
        .expect("/proc/stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse().ok()))
        .expect("btime");
    let hz: f64 = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    (btime + ticks / hz) * 1000.0
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn runs(values: &[f64], unit: &str, digits: usize) -> String {
    let list = values
        .iter()
        .map(|v| format!("{v:.digits$}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("runs: {list}{unit}")
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// A release binary: `var` if set, else `target/release/NAME` (this test
/// runs from target/debug/deps).
fn release_bin(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/debug/deps/THIS")
        .to_path_buf();
    let bin = target.join("release").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: `cargo build --release -p keepsake-platform -p keepsake-cli` (cargo xtask bench --desktop does)",
        bin.display()
    );
    bin
}

/// Writes dirty pages back, so that no run pays for the writes of the one
/// before (as bench-export does).
fn settle() {
    let _ = std::process::Command::new("sync").status();
}

fn load_average() -> String {
    fs_err::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Removes every file in `dir` (the archives of the previous round).
fn empty(dir: &Path) {
    for entry in fs_err::read_dir(dir).into_iter().flatten().flatten() {
        let _ = fs_err::remove_file(entry.path());
    }
}

/// Clicks Start export and resolves, in the page, once the Done screen (or
/// an error) is shown: the time between them by the page's own clock, so
/// that no WebDriver polling competes with the export for the two cores.
const EXPORT_IN_PAGE: &str = r#"
const finish = arguments[arguments.length - 1];
const button = [...document.querySelectorAll('button')]
  .find((b) => b.textContent.trim() === 'Start export' && !b.disabled);
if (!button) { finish({ error: 'no Start export button' }); return; }
const state = () => {
  if ([...document.querySelectorAll('h1')]
    .some((h) => h.textContent.trim().startsWith('Your archive is ready'))) return 'done';
  const alert = document.querySelector('[role=alert]');
  return alert ? 'error: ' + alert.textContent.trim() : null;
};
const t0 = performance.now();
const watch = new MutationObserver(() => {
  const s = state();
  if (!s) return;
  watch.disconnect();
  finish(s === 'done' ? { ms: performance.now() - t0 } : { error: s });
});
watch.observe(document.body, { childList: true, subtree: true, characterData: true });
button.click();
"#;

/// CPU seconds (utime + stime) of `pid` and of its descendants.
fn cpu(pid: u32) -> (f64, f64) {
    static HZ: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let hz = *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    });
    let one = |p: u32| -> f64 {
        fs_err::read_to_string(format!("/proc/{p}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.rsplit_once(')')?.1.to_owned();
                let f: Vec<&str> = rest.split_whitespace().collect();
                Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
            })
            .unwrap_or(0.0)
            / hz
    };
    (one(pid), descendants(pid).into_iter().map(one).sum::<f64>())
}

/// One export through the window, from the Choose screen: its wall time,
/// the archive's size, and the CPU seconds of the app and of its WebKit
/// processes meanwhile.
async fn export_in_window(app: &App, pid: u32, home: &Home, peak: &mut Peak) -> WindowRun {
    app.screen("What should Keepsake export?").await;
    app.wait("//*[@data-testid='estimate-posts' and contains(., 'items')]")
        .await;
    app.wait("//button[normalize-space()='Start export' and not(@disabled)]")
        .await;
    settle();
    // Memory sampled on the side, every 100 ms, until the export ends.
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let mut seen = *peak;
        tokio::spawn(async move {
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                seen.see(pid);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        })
    };
    let cpu0 = cpu(pid);
    let outcome = app
        .client
        .execute_async(EXPORT_IN_PAGE, vec![])
        .await
        .expect("the export script");
    let cpu1 = cpu(pid);
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    *peak = sampler.await.expect("the memory sampler");
    let ms = outcome["ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("the export through the window did not finish: {outcome}"));
    let archive = app.text("//*[@data-testid='archive-name']").await;
    let bytes = fs_err::metadata(home.downloads().join(&archive))
        .map(|m| m.len())
        .unwrap_or(0);
    WindowRun {
        wall: ms / 1000.0,
        bytes,
        app_cpu: cpu1.0 - cpu0.0,
        webkit_cpu: cpu1.1 - cpu0.1,
    }
}

struct WindowRun {
    wall: f64,
    bytes: u64,
    app_cpu: f64,
    webkit_cpu: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_the_app() {
    require_e2e!();
    if std::env::var_os("KEEPSAKE_BENCH_DESKTOP").is_none() {
        println!("skipped: set KEEPSAKE_BENCH_DESKTOP=1 (cargo xtask bench --desktop does)");
        return;
    }
    let _one = SERIAL.lock().await;
    let bin = app_binary();
    let size = fs_err::metadata(&bin).expect("binary").len();
    let platform_bin = release_bin("KEEPSAKE_PLATFORM_BIN", "keepsake-platform");
    let cli_bin = release_bin("KEEPSAKE_CLI_BIN", "keepsake");
    let load_at_start = load_average();

    // The platform as its own release process, as bench-export runs it.
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("large.db");
    let seeding = Instant::now();
    seed(&platform_bin, &db, None, None).expect("seed large");
    println!("seeded large in {:.1?}", seeding.elapsed());
    let token = mint_token(&platform_bin, &db).expect("a token for large");
    let server = Server::start(&platform_bin, &db, &dir.path().join("server.log"))
        .expect("the platform serves");
    let cli_home = dir.path().join("cli-home");
    for d in ["data", "config"] {
        fs_err::create_dir_all(cli_home.join(d)).expect("the CLI's home");
    }
    let cli = Cli {
        bin: cli_bin,
        url: server.url.clone(),
        token: token.clone(),
        home: cli_home,
        logs: dir.path().to_path_buf(),
        env: Vec::new(),
        args: Vec::new(),
    };

    // Launch to interactive, and RSS once idle.
    let mut launches = Vec::new();
    let mut idle = (Rss::default(), 0);
    for run in 0..LAUNCHES {
        let home = Home::new();
        let app = App::launch(&server.url, &home).await;
        app.screen("Take your data home").await;
        let interactive: f64 = app
            .client
            .execute(
                "const m = performance.getEntriesByName('keepsake:interactive')[0]; \
                 return m ? performance.timeOrigin + m.startTime : null;",
                vec![],
            )
            .await
            .expect("script")
            .as_f64()
            .expect("the interactive mark");
        let pid = app.app_pid().expect("the app's process");
        launches.push(interactive - started_ms(pid));
        if run == LAUNCHES - 1 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            idle = Rss::with_webkit(pid);
        }
        app.quit().await;
    }
    let launch = median(&launches);

    // The `large` export, the CLI's and the window's in interleaved rounds.
    let home = Home::new();
    let app = App::launch(&server.url, &home).await;
    let pid = app.app_pid().expect("the app's process");
    app.client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(900)),
            None,
            None,
        ))
        .await
        .expect("a script timeout long enough for the export");
    let mut peak = Peak::default();
    let (mut cli_walls, mut app_walls, mut cli_rss) = (Vec::new(), Vec::new(), 0u64);
    let (mut cli_cpus, mut app_cpus, mut webkit_cpus) = (Vec::new(), Vec::new(), Vec::new());
    let mut archive_size = 0;
    let cli_out = dir.path().join("cli-out");
    for round in 1..=ROUNDS {
        settle();
        let run = cli
            .export(&cli_out, false, false, &format!("round-{round}"))
            .expect("the CLI runs");
        run.completed("the CLI's export").expect("it completes");
        cli_rss = cli_rss.max(run.peak_rss_kib);
        cli_walls.push(run.wall);
        cli_cpus.push(run.cpu);
        empty(&cli_out);

        // Only now: signing in opens the window's session (the Choose
        // screen's estimate), which must not overlap the CLI's.
        if round == 1 {
            app.sign_in_with_token(&token).await;
        } else {
            app.click_button("New export").await;
        }
        let w = export_in_window(&app, pid, &home, &mut peak).await;
        println!(
            "round {round}: CLI {:.2} s (CPU {:.2} s), window {:.2} s (CPU {:.2} s app + {:.2} s WebKit)",
            run.wall, run.cpu, w.wall, w.app_cpu, w.webkit_cpu
        );
        app_walls.push(w.wall);
        app_cpus.push(w.app_cpu);
        webkit_cpus.push(w.webkit_cpu);
        archive_size = w.bytes;
        empty(&home.downloads());
    }
    app.quit().await;
    drop(server);

    let (cli_wall, app_wall) = (median(&cli_walls), median(&app_walls));
    // Each round's window against the CLI just before it: the load on this
    // VM drifts from minute to minute, and a pair shares its minute.
    let ratios: Vec<f64> = app_walls
        .iter()
        .zip(&cli_walls)
        .map(|(w, c)| w / c)
        .collect();
    let ratio = median(&ratios);
    let own = peak.own;
    let table = format!(
        "Measured on {} on {} / {} with the shipping build (`cargo build --profile desktop-release -p \
         keepsake-desktop --features custom-protocol`, what the packages carry) under Xvfb (1280×800), \
         WebKitGTK through tauri-driver. The reference platform (`keepsake-platform serve`, quota and \
         rate limit off) and the CLI (`keepsake export`) are release builds, each its own process; \
         the CLI and the window export the same `large` account from the same server in {ROUNDS} \
         interleaved rounds (the CLI, then the window), and the ratio is the median of the \
         rounds' ratios. The window's export is timed in the page, from the \
         click on Start export to the Done screen (a `MutationObserver`, no WebDriver polling \
         meanwhile); the CLI's from process start to exit. RSS is `VmRSS` from `/proc`, sampled every 100 ms: the app's own process (split into anonymous memory, \
         mapped files and shared memory), and with its WebKit web and network processes. \
         1-minute load average {load_at_start} at the start, {} at the end.\n\n\
         | Measurement | Result | Target | Met? |\n| --- | --- | --- | --- |\n\
         | Release binary, stripped | {:.1} MB | ≤ 15 MB | {} |\n\
         | Launch to interactive (process start → first screen ready, `keepsake:interactive`) | median {:.0} ms ({}) | ≤ 1000 ms | {} |\n\
         | The `large` export: window vs CLI, same run | **{ratio:.2} ×** (rounds: {}; medians: window {app_wall:.2} s, CLI {cli_wall:.2} s; window {}; CLI {}; {:.0} MB archive) | ≤ 1.15 × | {} |\n\
         | Peak RSS of the app process during the export | **{}** ({} anonymous, {} mapped files, {} shared; {} with WebKit) vs the CLI's {} (VmHWM) | ≤ 100 MiB | {} |\n\
         | CPU during the export (median) | window: {:.2} s app + {:.2} s WebKit; CLI: {:.2} s | — | — |\n\
         | RSS idle on the Sign in screen | {} app ({} anonymous, {} mapped files, {} shared), {} with WebKit | — | — |\n",
        today(),
        std::env::consts::OS,
        std::env::consts::ARCH,
        load_average(),
        size as f64 / 1e6,
        met(size <= 15_000_000),
        launch,
        runs(&launches, " ms", 0),
        met(launch <= 1000.0),
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        runs(&app_walls, " s", 2),
        runs(&cli_walls, " s", 2),
        archive_size as f64 / 1e6,
        met(ratio <= 1.15),
        mib(own.total),
        mib(own.anon),
        mib(own.file),
        mib(own.shmem),
        mib(peak.all),
        mib(cli_rss),
        met(own.total <= 100 * 1024),
        median(&app_cpus),
        median(&webkit_cpus),
        median(&cli_cpus),
        mib(idle.0.total),
        mib(idle.0.anon),
        mib(idle.0.file),
        mib(idle.0.shmem),
        mib(idle.1),
    );
    println!("{table}");
    write_section(&table);
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// Replaces the measured table of docs/benchmarks.md's desktop section (or
/// appends the section); the prose after the end marker is kept.
fn write_section(table: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    let text = fs_err::read_to_string(&path).unwrap_or_default();
    let (start, end) = ("<!-- desktop:start -->", "<!-- desktop:end -->");
    let section = format!("{start}\n{table}{end}");
    let new = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{}{}", &text[..a], section, &text[b + end.len()..])
        }
        _ => format!("{}\n## The desktop app\n\n{section}\n", text.trim_end()),
    };
    fs_err::write(&path, new).expect("write docs/benchmarks.md");
}
