//! `bench-connectors`: `keepsake export` from a real WordPress and a real
//! Synapse, each beside its lower bound measured in the same run (the same
//! requests, sent the same way, their bodies discarded: `replay`), with
//! peak memory; for Matrix also a room of over 10,000 events alone, and
//! the peak memory of a small room against a large one.
//!
//! The CLI is the release binary next to this one; the servers are the
//! project's harnesses (`tests/servers/`). Each figure is the median of
//! interleaved rounds. `cargo xtask bench` runs it with `--out
//! docs/benchmarks.md` (the section between the bench-connectors markers).

mod replay;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, ensure};
use keepsake_tests::bench::{
    Row, load_average, median, mib, render_table, row, runs, settle, thousands,
};
use keepsake_tests::procs::Cli;
use keepsake_tests::proxy::{Fault, FaultProxy, Trigger};
use keepsake_tests::synapse::{Preset, Synapse};
use keepsake_tests::wordpress::WordPress;
use replay::{Auth, Part, Requests};

const START: &str = "<!-- bench-connectors:start -->";
const END: &str = "<!-- bench-connectors:end -->";
const ROUNDS: usize = 3;
/// The targets of the issues: an export within 1.3 × its bound, in 64 MiB,
/// and as much memory for a room of 10,000 events as for one of 1,000.
const RATIO: f64 = 1.3;
const RSS_MIB: f64 = 64.0;
const FLAT: f64 = 1.3;

fn say(msg: impl AsRef<str>) {
    eprintln!("bench-connectors: {}", msg.as_ref());
}

fn main() -> ExitCode {
    let mut out = None;
    let mut quick = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().map(PathBuf::from),
            "--quick" => quick = true,
            other => {
                eprintln!(
                    "bench-connectors: unknown argument {other}; takes --out PATH and --quick"
                );
                return ExitCode::from(2);
            }
        }
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-connectors: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(out.as_deref(), quick)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-connectors: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// One measured export: its wall times and its bound's, its peak RSS.
struct Measured {
    what: String,
    exports: Vec<f64>,
    bounds: Vec<f64>,
    rss_kib: u64,
    records: u64,
}

async fn run(out: Option<&Path>, quick: bool) -> Result<()> {
    let bins = std::env::current_exe()?
        .parent()
        .context("this binary's folder")?
        .to_path_buf();
    let cli_bin = bins.join("keepsake");
    ensure!(
        cli_bin.is_file(),
        "{} is missing: cargo build --release -p keepsake-cli (cargo xtask bench does)",
        cli_bin.display()
    );
    let rounds = if quick { 1 } else { ROUNDS };
    let load = load_average();
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    for d in ["data", "config"] {
        fs_err::create_dir_all(home.join(d))?;
    }
    let cli = |url: &str, token: String, env: Vec<(String, String)>| Cli {
        bin: cli_bin.clone(),
        url: url.to_owned(),
        token,
        home: home.clone(),
        logs: dir.path().to_path_buf(),
        env,
        args: Vec::new(),
    };
    let mut measured = Vec::new();

    say("WordPress: starting the seeded site…");
    let wp = tokio::task::spawn_blocking(WordPress::start)
        .await?
        .context("WordPress is not installed here (cargo xtask setup)")?;
    let password = wp.app_password("author");
    let c = cli(
        &wp.url,
        password.clone(),
        vec![
            ("KEEPSAKE_KIND".into(), "wordpress".into()),
            ("KEEPSAKE_USER".into(), "author".into()),
        ],
    );
    measured.push(
        measure(
            "WordPress: the seeded author's site",
            &c,
            &Auth::Basic("author".into(), password),
            wordpress_part,
            3,
            rounds,
            dir.path(),
        )
        .await?,
    );
    drop(wp);

    let preset = if quick {
        Preset::Default
    } else {
        Preset::Bench
    };
    say("Matrix: starting the seeded homeserver…");
    let mx = tokio::task::spawn_blocking(move || Synapse::start(preset))
        .await?
        .context("Synapse is not installed here (cargo xtask setup)")?;
    let token = mx.token("alice");
    let env = vec![("KEEPSAKE_KIND".to_owned(), "matrix".to_owned())];
    let c = cli(&mx.url, token.clone(), env.clone());
    measured.push(
        measure(
            "Matrix: alice's whole account",
            &c,
            &Auth::Bearer(token.clone()),
            matrix_part,
            4,
            rounds,
            dir.path(),
        )
        .await?,
    );
    // Rooms are numbered in the order of their ids (joined and left).
    let mut rooms: Vec<(String, String)> = mx.seed["rooms"]
        .as_object()
        .context("rooms")?
        .iter()
        .filter(|(_, r)| matches!(r["alice_membership"].as_str(), Some("join" | "leave")))
        .filter_map(|(k, r)| Some((r["room_id"].as_str()?.to_owned(), k.clone())))
        .collect();
    rooms.sort();
    let name_of = |key: &str| {
        rooms
            .iter()
            .position(|(_, k)| k == key)
            .map(|i| format!("room_{:04}_events", i + 1))
    };
    let big = if quick { "group" } else { "bench" };
    let big_name = name_of(big).context("the big room")?;
    let small_name = name_of("group").context("the group room")?;
    let one_room = |name: &str| Cli {
        args: vec!["--include".into(), name.to_owned()],
        ..c.clone()
    };
    let room = measure(
        &format!("Matrix: one room of {} events", mx.room(big)["events_sent"]),
        &one_room(&big_name),
        &Auth::Bearer(token.clone()),
        matrix_part,
        4,
        rounds,
        dir.path(),
    )
    .await?;
    // The same export of a room ten times smaller: its memory.
    let small = measure(
        "Matrix: the group room",
        &one_room(&small_name),
        &Auth::Bearer(token),
        matrix_part,
        4,
        1,
        dir.path(),
    )
    .await?;
    let flat = room.rss_kib as f64 / small.rss_kib.max(1) as f64;
    measured.push(room);

    let mut rows: Vec<Row> = Vec::new();
    for m in &measured {
        let (e, b) = (
            median(m.exports.iter().copied()),
            median(m.bounds.iter().copied()),
        );
        let ratio = e / b.max(1e-9);
        rows.push(row(
            format!(
                "{}: export ({} records) / its bound",
                m.what,
                thousands(m.records)
            ),
            format!(
                "{e:.2} s / {b:.2} s = **{ratio:.2} ×** (export {}; bound {})",
                runs(m.exports.iter().copied()),
                runs(m.bounds.iter().copied())
            ),
            format!("≤ {RATIO} ×"),
            Some(ratio <= RATIO),
        ));
        rows.push(row(
            format!("{}: peak RSS", m.what),
            format!("{:.1} MiB", mib(m.rss_kib)),
            format!("≤ {RSS_MIB} MiB"),
            Some(mib(m.rss_kib) <= RSS_MIB),
        ));
    }
    rows.push(row(
        "Matrix: peak RSS of the large room / of the group room (1,052 events)",
        format!(
            "{:.1} / {:.1} MiB = {flat:.2} ×",
            mib(measured.last().map_or(0, |m| m.rss_kib)),
            mib(small.rss_kib)
        ),
        format!("≤ {FLAT} ×"),
        Some(flat <= FLAT),
    ));
    let table = render_table(&rows);
    println!("{table}");
    if let Some(out) = out {
        let note = format!(
            "Measured on {} with {} cores, release build, {} interleaved rounds (medians); \
             WordPress 6.1 (Debian) on MariaDB under PHP's built-in server with 4 workers, \
             Synapse {} on SQLite, each on loopback, seeded by the project's harnesses. The \
             bound of an export is the very requests it made (recorded once through a \
             pass-through proxy), sent again as it sends them — as many walks at once as the \
             connector runs (WordPress 3, Matrix 4), each walk in order, files eight at once — \
             their bodies read and discarded. 1-minute load average {load} at the start, {} at \
             the end.{}",
            time::OffsetDateTime::now_utc().date(),
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            rounds,
            mx.seed["synapse_version"].as_str().unwrap_or("?"),
            load_average(),
            if quick {
                " **`--quick` run: one round, small rooms; not comparable with full runs.**"
            } else {
                ""
            }
        );
        let section = format!(
            "{START}\n## Exports from WordPress and Matrix (`bench-connectors`)\n\n{note}\n\n{table}{END}"
        );
        keepsake_tests::bench::write_section(out, &section, START, END)?;
        say(format!("results written to {}", out.display()));
    }
    Ok(())
}

/// Records the export's requests once (through a pass-through proxy), then
/// times the export and the replay of its requests in `rounds`
/// interleaved rounds, straight at the server.
async fn measure(
    what: &str,
    cli: &Cli,
    auth: &Auth,
    part: fn(&str) -> Part,
    walks: usize,
    rounds: usize,
    tmp: &Path,
) -> Result<Measured> {
    say(format!("{what}: recording its requests…"));
    let every = Trigger {
        path_contains: String::new(),
        skip: 0,
        times: 0,
    };
    let proxy = FaultProxy::start(&cli.url, Fault::None, every).await;
    let through = Cli {
        url: proxy.url.clone(),
        ..cli.clone()
    };
    let out = tmp.join("out-record");
    let run = {
        let through = through.clone();
        let out = out.clone();
        tokio::task::spawn_blocking(move || through.export(&out, false, false, "record")).await??
    };
    run.completed("the recorded export")?;
    let requests: Requests = replay::chains(&proxy.exchanges(), part);
    drop(proxy);
    fs_err::remove_dir_all(&out).ok();
    let mut m = Measured {
        what: what.to_owned(),
        exports: Vec::new(),
        bounds: Vec::new(),
        rss_kib: 0,
        records: 0,
    };
    for round in 1..=rounds {
        say(format!("{what}: round {round} of {rounds}…"));
        settle();
        let out = tmp.join(format!("out-{round}"));
        let (c, o) = (cli.clone(), out.clone());
        let r = tokio::task::spawn_blocking(move || c.export(&o, false, false, "timed")).await??;
        r.completed("the export")?;
        m.exports.push(r.wall);
        m.rss_kib = m.rss_kib.max(r.peak_rss_kib);
        m.records = r
            .result
            .as_ref()
            .and_then(|v| v["counts"].as_object())
            .map(|c| {
                c.iter()
                    .filter(|(k, _)| *k != "media_files")
                    .filter_map(|(_, v)| v["retrieved"].as_u64())
                    .sum()
            })
            .unwrap_or(0);
        fs_err::remove_dir_all(&out).ok();
        settle();
        m.bounds
            .push(replay::replay(&cli.url, auth, &requests, walks).await?);
    }
    Ok(m)
}

/// WordPress's requests: a collection's walk (by its route; the revisions
/// of posts and pages are one walk), an upload, or the rest.
fn wordpress_part(path: &str) -> Part {
    if path.starts_with("/wp-content/uploads/") {
        return Part::File;
    }
    let Some(route) = path
        .split("rest_route=")
        .nth(1)
        .map(|r| r.split('&').next().unwrap_or(r))
    else {
        return Part::Setup;
    };
    if !path.contains("per_page=100") {
        return Part::Setup;
    }
    if route.ends_with("/revisions") || path.contains("_fields=id%2Cdate%2C_links") {
        return Part::Walk("revisions".into());
    }
    Part::Walk(route.to_owned())
}

/// Matrix's requests: a room's history or state (a walk each), a file, or
/// the rest.
fn matrix_part(path: &str) -> Part {
    if path.contains("/media/download/") {
        return Part::File;
    }
    let route = path.split('?').next().unwrap_or(path);
    if route.ends_with("/messages") || route.ends_with("/state") {
        return Part::Walk(route.to_owned());
    }
    Part::Setup
}
