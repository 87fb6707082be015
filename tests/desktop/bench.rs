//! Measurements of the real app for docs/benchmarks.md (`cargo xtask bench
//! --desktop` runs this with the desktop-release binary): launch to interactive
//! under Xvfb, RSS idle and during the `large` export, and the binary's size.
//! Skipped unless `KEEPSAKE_BENCH_DESKTOP=1`.

use std::path::Path;
use std::time::{Duration, Instant};

use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;

use crate::app::{App, Home, SERIAL, app_binary, descendants};
use crate::require_e2e;

const RUNS: usize = 3;

/// Resident memory (KiB) of `pid`, and of it with all its descendants (the
/// WebKit web and network processes).
fn rss(pid: u32) -> (u64, u64) {
    let one = |p: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    };
    let own = one(pid);
    (
        own,
        own + descendants(pid).into_iter().map(one).sum::<u64>(),
    )
}

/// When `pid` started, in milliseconds since the Unix epoch.
fn started_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let ticks: f64 = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(19))
        .and_then(|v| v.parse().ok())
        .expect("starttime");
    let btime: f64 = std::fs::read_to_string("/proc/stat")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_the_app() {
    require_e2e!();
    if std::env::var_os("KEEPSAKE_BENCH_DESKTOP").is_none() {
        println!("skipped: set KEEPSAKE_BENCH_DESKTOP=1 (cargo xtask bench --desktop does)");
        return;
    }
    let _one = SERIAL.lock().await;
    let bin = app_binary();
    let size = std::fs::metadata(&bin).expect("binary").len();

    let seeding = Instant::now();
    let p = Platform::start(Preset::Large).await;
    println!("seeded large in {:.1?}", seeding.elapsed());

    // Launch to interactive, and RSS once idle.
    let mut launches = Vec::new();
    let mut idle = (0, 0);
    for run in 0..RUNS {
        let home = Home::new();
        let app = App::launch(&p.url, &home).await;
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
        if run == RUNS - 1 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            idle = rss(pid);
        }
        app.quit().await;
    }
    launches.sort_by(f64::total_cmp);

    // RSS during the large export, polled every 250 ms.
    let home = Home::new();
    let app = App::launch(&p.url, &home).await;
    let pid = app.app_pid().expect("the app's process");
    app.sign_in_with_token(&p.token("large", "export:self"))
        .await;
    app.screen("What should Keepsake export?").await;
    app.wait("//*[@data-testid='estimate-posts' and contains(., 'items')]")
        .await;
    app.click_button("Start export").await;
    let started = Instant::now();
    let mut peak = (0, 0);
    let done = "//h1[starts-with(normalize-space(), 'Your archive is ready')]";
    loop {
        let now = rss(pid);
        peak = (peak.0.max(now.0), peak.1.max(now.1));
        if app
            .client
            .find(fantoccini::Locator::XPath(done))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the export finishes"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let wall = started.elapsed();
    let archive = app.text("//*[@data-testid='archive-name']").await;
    let archive_size = std::fs::metadata(home.downloads().join(&archive))
        .map(|m| m.len())
        .unwrap_or(0);
    app.quit().await;

    let table = format!(
        "Measured on {} on {} / {} with the shipping build (`cargo build --profile desktop-release -p \
         keepsake-desktop --features custom-protocol`: opt-level s, full LTO, one codegen unit, stripped) under Xvfb (1280×800), WebKitGTK through tauri-driver, against \
         the reference platform in the same process as the driver. RSS is `VmRSS` from `/proc`: the \
         app's own process, and with its WebKit web and network processes.\n\n\
         | Measurement | Result | Target | Met? |\n| --- | --- | --- | --- |\n\
         | Release binary, stripped | {:.1} MB | ≤ 15 MB | {} |\n\
         | Launch to interactive (process start → first screen ready, `keepsake:interactive`) | median {:.0} ms (runs: {}) | — | — |\n\
         | RSS idle on the Sign in screen | {} app, {} with WebKit | — | — |\n\
         | Peak RSS during the `large` export (polled every 250 ms) | {} app, {} with WebKit | — | — |\n\
         | The `large` export through the window | {:.1} s, {:.0} MB archive | — | — |\n",
        today(),
        std::env::consts::OS,
        std::env::consts::ARCH,
        size as f64 / 1e6,
        if size <= 15_000_000 { "yes" } else { "**no**" },
        launches[launches.len() / 2],
        launches
            .iter()
            .map(|l| format!("{l:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        mib(idle.0),
        mib(idle.1),
        mib(peak.0),
        mib(peak.1),
        wall.as_secs_f64(),
        archive_size as f64 / 1e6,
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

/// Replaces the desktop section of docs/benchmarks.md (or appends it).
fn write_section(table: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let (start, end) = ("<!-- desktop:start -->", "<!-- desktop:end -->");
    let section = format!("{start}\n{table}{end}");
    let new = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if a < b => {
            format!("{}{}{}", &text[..a], section, &text[b + end.len()..])
        }
        _ => format!("{}\n## The desktop app\n\n{section}\n", text.trim_end()),
    };
    std::fs::write(&path, new).expect("write docs/benchmarks.md");
}
