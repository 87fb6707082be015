//! `bench-export`: `keepsake export` of the `large` preset against the
//! reference platform over loopback, beside the lower bounds that fetching
//! alone and zipping alone set; its peak memory, how that memory scales with
//! the account, and how fast an interrupted export resumes.
//!
//! Both sides run as the release binaries next to this one
//! (`target/release/keepsake-platform`, `target/release/keepsake`), each its
//! own process, so that wall time, CPU and peak RSS are theirs alone. The
//! export, the two bounds and the resume are each measured in three rounds,
//! interleaved, and the medians compared: on this VM one run can be a tenth
//! off the next.
//! `cargo xtask bench` builds them and runs this with `--out
//! docs/benchmarks.md`: the results replace the section between the
//! `bench-export` markers (and are printed as the same table). `--quick`
//! shrinks every size to smoke-test the benchmark itself.

mod fetch;
mod split;
mod zip_bound;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use keepsake_tests::bench::{
    load_average, median, median_index, mib, render_table, row, runs, settle, thousands,
};
use keepsake_tests::procs::{
    Cli, CliRun, Server, dir_bytes, mint_token, seed, self_cpu, staging_dir,
};

const START: &str = "<!-- bench-export:start -->";
const END: &str = "<!-- bench-export:end -->";
const USAGE: &str = "usage: bench-export [--out PATH] [--quick]

  --out PATH   write the results into PATH, between the bench-export markers
  --quick      small sizes, to check that the benchmark runs (numbers mean little)

Needs target/release/keepsake-platform and target/release/keepsake beside this
binary: `cargo build --release -p keepsake-platform -p keepsake-cli` (cargo xtask bench does).";

struct Args {
    out: Option<PathBuf>,
    quick: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        out: None,
        quick: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => parsed.quick = true,
            "--out" => parsed.out = Some(args.next().ok_or("--out needs a path")?.into()),
            "-h" | "--help" => return Ok(None),
            other => match other.strip_prefix("--out=") {
                Some(path) if !path.is_empty() => parsed.out = Some(path.into()),
                _ => return Err(format!("unknown argument '{other}'")),
            },
        }
    }
    Ok(Some(parsed))
}

/// The seeds: `large` with these overrides, and the two accounts of the
/// memory-scaling measurement (posts only, no media).
struct Sizes {
    posts: Option<u64>,
    media: Option<u64>,
    small_posts: u64,
    big_posts: u64,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                posts: Some(10_000),
                media: Some(200),
                small_posts: 1_000,
                big_posts: 100_000,
            }
        } else {
            Self {
                posts: None,
                media: None,
                small_posts: 1_000,
                big_posts: 1_000_000,
            }
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench-export: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-export: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn say(msg: impl AsRef<str>) {
    eprintln!("bench-export: {}", msg.as_ref());
}

fn run(args: &Args) -> Result<()> {
    let bins = std::env::current_exe()
        .context("finding this binary")?
        .parent()
        .context("this binary has no folder")?
        .to_path_buf();
    let platform_bin = bins.join("keepsake-platform");
    let cli_bin = bins.join("keepsake");
    for bin in [&platform_bin, &cli_bin] {
        ensure!(
            bin.is_file(),
            "{} is missing; run `cargo build --release -p keepsake-platform -p keepsake-cli` first (`cargo xtask bench` does)",
            bin.display()
        );
    }
    if cfg!(debug_assertions) {
        say("warning: this is a debug build; run with --release for meaningful numbers");
    }
    let sizes = Sizes::new(args.quick);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load_at_start = load_average();
    // Dropped last: every server (declared below) is stopped before its
    // database is removed.
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let home = dir.path().join("home");
    for d in ["data", "config"] {
        fs_err::create_dir_all(home.join(d)).context("creating the CLI's home")?;
    }

    // Setup: seed, mint a token, serve.
    let db = dir.path().join("large.db");
    seed(&platform_bin, &db, sizes.posts, sizes.media)?;
    let token = mint_token(&platform_bin, &db)?;
    let server = Server::start(&platform_bin, &db, &dir.path().join("server.log"))?;
    let cli = Cli {
        bin: cli_bin,
        url: server.url.clone(),
        token: token.clone(),
        home: home.clone(),
        logs: dir.path().to_path_buf(),
        env: Vec::new(),
        args: Vec::new(),
    };

    // (1)–(3) The export and its two bounds, in interleaved rounds: this
    // VM's CPU and disk vary by a tenth from minute to minute, so each
    // figure is the median of its rounds, all taken under the same spells.
    let rounds = if args.quick { 1 } else { ROUNDS };
    let mut exports: Vec<(CliRun, f64, u64)> = Vec::new();
    let mut fetches: Vec<(f64, f64, f64, u64)> = Vec::new();
    let mut zips: Vec<(f64, f64, u64)> = Vec::new();
    let unpacked = dir.path().join("unpacked");
    let mut entries = None;
    for round in 1..=rounds {
        say(format!(
            "(1) exporting with the CLI (round {round} of {rounds})…"
        ));
        let out1 = dir.path().join("out-full");
        let server_cpu0 = server.cpu()?;
        settle();
        let full = cli.export(&out1, false, false, &format!("full-{round}"))?;
        let server_cpu = server.cpu()? - server_cpu0;
        let (archive, archive_bytes) = full.completed("the export")?;
        say(format!(
            "    {:.2} s, peak RSS {:.1} MiB, CPU {:.2} s client + {server_cpu:.2} s server",
            full.wall,
            mib(full.peak_rss_kib),
            full.cpu,
        ));
        if entries.is_none() {
            entries = Some(zip_bound::unpack(&archive, &unpacked)?);
        }
        fs_err::remove_dir_all(&out1).context("removing the archive")?;
        exports.push((full, server_cpu, archive_bytes));

        say("(2) fetching only (bodies discarded)…");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        settle();
        let (server_cpu0, self_cpu0) = (server.cpu()?, self_cpu()?);
        let started = Instant::now();
        let fetched = rt.block_on(fetch::fetch_only(&server.url, &token))?;
        let wall = started.elapsed().as_secs_f64();
        let (client_cpu, server_cpu) = (self_cpu()? - self_cpu0, server.cpu()? - server_cpu0);
        drop(rt);
        say(format!(
            "    {wall:.2} s, {:.0} MB, CPU {client_cpu:.2} s client + {server_cpu:.2} s server",
            fetched as f64 / 1e6
        ));
        fetches.push((wall, client_cpu, server_cpu, fetched));

        say("(3) zipping only (the archive's content, from disk)…");
        let entries = entries.as_deref().context("the unpacked archive")?;
        let zip_out = dir.path().join("zip-only").join("bench.zip");
        fs_err::create_dir_all(zip_out.parent().context("zip-only folder")?)?;
        settle();
        let cpu0 = self_cpu()?;
        let started = Instant::now();
        let zipped = zip_bound::zip_only(entries, &zip_out)?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = self_cpu()? - cpu0;
        say(format!(
            "    {wall:.2} s, CPU {cpu:.2} s, {} entries",
            entries.len()
        ));
        fs_err::remove_dir_all(zip_out.parent().context("zip-only folder")?)?;
        zips.push((wall, cpu, zipped));
    }
    fs_err::remove_dir_all(&unpacked).context("removing the unpacked payload")?;

    // (6) Resume: kill -9 half way, then time the resumed run.
    let mut resumes = Vec::new();
    for round in 1..=rounds {
        say(format!(
            "(6) interrupting an export half way, then resuming it (round {round} of {rounds})…"
        ));
        let out6 = dir.path().join("out-resume");
        settle();
        let killed = cli.export(&out6, false, true, &format!("killed-{round}"))?;
        // A kill that came as the export was finishing interrupted nothing.
        if let Some((done, total)) = killed.killed_at.filter(|_| !killed.status.success()) {
            let staged = dir_bytes(
                &staging_dir(&out6).context("the killed export left no staging directory")?,
            );
            settle();
            let resumed = cli.export(&out6, true, false, &format!("resume-{round}"))?;
            resumed.completed("the resumed export")?;
            say(format!("    resumed in {:.2} s", resumed.wall));
            resumes.push((
                resumed.wall,
                done as f64 / total.max(1) as f64,
                staged,
                total,
            ));
        }
        fs_err::remove_dir_all(&out6).context("removing the resumed archive")?;
    }

    // (7) Split archives: exported, and killed and resumed, into parts.
    let mut splits = Vec::new();
    for round in 1..=rounds {
        say(format!(
            "(7) exporting into {} parts, then interrupting and resuming that (round {round} of {rounds})…",
            split::PART_SIZE
        ));
        let r = split::round(&cli, dir.path(), round)?;
        say(format!(
            "    {:.2} s, peak disk {:.0} MB for {:.0} MB{}",
            r.wall,
            r.peak_disk as f64 / 1e6,
            r.bytes as f64 / 1e6,
            r.resumed
                .map_or(String::new(), |(w, _)| format!("; resumed in {w:.2} s"))
        ));
        splits.push(r);
    }
    drop(server);

    // (5) RSS scaling: the same preset with few and many posts, no media.
    let mut rss = Vec::new();
    for posts in [sizes.small_posts, sizes.big_posts] {
        say(format!(
            "(5) exporting {} posts, no media…",
            thousands(posts)
        ));
        let db = dir.path().join(format!("scale-{posts}.db"));
        seed(&platform_bin, &db, Some(posts), Some(0))?;
        let token = mint_token(&platform_bin, &db)?;
        let server = Server::start(&platform_bin, &db, &dir.path().join("scale-server.log"))?;
        let scale_cli = Cli {
            url: server.url.clone(),
            token,
            ..cli.clone()
        };
        let out = dir.path().join(format!("out-{posts}"));
        settle();
        let r = scale_cli.export(&out, false, false, &format!("scale-{posts}"))?;
        r.completed("the scaling export")?;
        say(format!(
            "    {:.2} s, peak RSS {:.1} MiB",
            r.wall,
            mib(r.peak_rss_kib)
        ));
        rss.push((r.peak_rss_kib, r.wall));
        drop(server);
        fs_err::remove_dir_all(&out).context("removing a scaling archive")?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = fs_err::remove_file(format!("{}{suffix}", db.display()));
        }
    }

    // The table: medians of the rounds.
    let (full, export_server_cpu, archive_bytes) = {
        let i = median_index(&exports.iter().map(|e| e.0.wall).collect::<Vec<_>>());
        let (run, cpu, bytes) = exports.get(i).context("no export was measured")?;
        (run, *cpu, *bytes)
    };
    let export_walls = runs(exports.iter().map(|e| e.0.wall));
    let peak_rss_kib = exports.iter().map(|e| e.0.peak_rss_kib).max().unwrap_or(0);
    let fetch_wall = median(fetches.iter().map(|f| f.0));
    let fetch_client_cpu = median(fetches.iter().map(|f| f.1));
    let fetch_server_cpu = median(fetches.iter().map(|f| f.2));
    let fetched = fetches.first().map_or(0, |f| f.3);
    let zip_wall = median(zips.iter().map(|z| z.0));
    let zip_cpu = median(zips.iter().map(|z| z.1));
    let zipped = zips.first().map_or(0, |z| z.2);
    let fetch_cpu = fetch_client_cpu + fetch_server_cpu;
    let by_cpu = (fetch_cpu + zip_cpu) / cores as f64;
    let bound = fetch_wall.max(zip_wall).max(by_cpu);
    let bound_by = if bound == fetch_wall {
        "fetch wall"
    } else if bound == zip_wall {
        "zip wall"
    } else {
        "CPU / cores"
    };
    let export_ratio = full.wall / bound;
    let payload: u64 = full.preflight.iter().map(|(_, _, b)| b).sum();
    let resume_row = if resumes.is_empty() {
        row(
            "Resume after `kill -9` at 50 % of the bytes",
            "not measured: the export finished before it could be interrupted",
            "≤ 0.55 × the full export",
            None,
        )
    } else {
        let i = median_index(&resumes.iter().map(|r| r.0).collect::<Vec<_>>());
        let (wall, at, staged, total) = resumes[i];
        let ratio = wall / full.wall;
        row(
            "Resume after `kill -9` at 50 % of the bytes",
            format!(
                "{wall:.2} s = {ratio:.2} × the full export (median of {} (runs: {}); that one was killed at {:.0} % of the estimated bytes, with {:.0} of {:.0} MB staged on disk after the kill)",
                resumes.len(),
                runs(resumes.iter().map(|r| r.0)),
                100.0 * at,
                staged as f64 / 1e6,
                total as f64 / 1e6
            ),
            "≤ 0.55 × the full export",
            Some(ratio <= 0.55),
        )
    };
    let [(rss_small, wall_small), (rss_big, wall_big)] = rss[..] else {
        bail!("the scaling measurement needs two exports");
    };
    let rss_ratio = rss_big as f64 / rss_small.max(1) as f64;
    let mut rows = vec![
        row(
            "Export wall time (`keepsake export`)",
            format!(
                "{:.2} s = {export_ratio:.2} × the lower bound (median of {} (runs: {export_walls}); {:.0} MB archive, CPU {:.2} s client + {:.2} s server)",
                full.wall,
                exports.len(),
                archive_bytes as f64 / 1e6,
                full.cpu,
                export_server_cpu
            ),
            format!("≤ 1.2 × lower bound = {:.2} s", 1.2 * bound),
            Some(full.wall <= 1.2 * bound),
        ),
        row(
            format!(
                "Fetch only: the same requests, bodies discarded ({} media downloads at a time)",
                fetch::MEDIA_WORKERS
            ),
            format!(
                "{fetch_wall:.2} s, {:.0} MB; CPU {fetch_client_cpu:.2} s client + {fetch_server_cpu:.2} s server",
                fetched as f64 / 1e6
            ),
            "—",
            None,
        ),
        row(
            "Zip only: the archive's content from disk through `ArchiveWriter`, entries prepared on one thread per core as the export does (text deflated, PNG stored)",
            format!(
                "{zip_wall:.2} s, CPU {zip_cpu:.2} s ({} MB archive)",
                zipped / 1_000_000
            ),
            "—",
            None,
        ),
        row(
            "Lower bound = max(fetch wall, zip wall, (fetch CPU incl. server + zip CPU) / cores)",
            format!("{bound:.2} s (set by {bound_by}; CPU term {by_cpu:.2} s on {cores} cores)"),
            "—",
            None,
        ),
        row(
            "Peak RSS of the export (VmHWM, the highest of the rounds)",
            format!("{:.1} MiB", mib(peak_rss_kib)),
            "≤ 64 MiB",
            Some(peak_rss_kib <= 64 * 1024),
        ),
        row(
            format!(
                "Peak RSS scaling: {} vs {} posts (no media)",
                thousands(sizes.small_posts),
                thousands(sizes.big_posts)
            ),
            format!(
                "{:.1} MiB vs {:.1} MiB = {rss_ratio:.2} × (the exports took {wall_small:.2} s and {wall_big:.2} s)",
                mib(rss_small),
                mib(rss_big)
            ),
            "≤ 1.3 ×",
            Some(rss_ratio <= 1.3),
        ),
        resume_row,
    ];
    rows.extend(split::rows(
        &splits,
        full.wall,
        (full.peak_disk, archive_bytes),
    ));
    let table = render_table(&rows);
    println!("{table}");
    if let Some(out) = &args.out {
        let section = format!(
            "{START}\n{}\n\n{table}{END}",
            machine_note(
                args.quick,
                exports.len(),
                cores,
                (&load_at_start, &load_average()),
                &full.preflight,
                payload
            )
        );
        write_section(out, &section).with_context(|| format!("writing {}", out.display()))?;
        say(format!("results written to {}", out.display()));
    }
    Ok(())
}

/// Rounds of the export and of each bound (see `main`).
const ROUNDS: usize = 3;

fn machine_note(
    quick: bool,
    rounds: usize,
    cores: usize,
    load: (&str, &str),
    preflight: &[(String, u64, u64)],
    bytes: u64,
) -> String {
    let date = time::OffsetDateTime::now_utc().date();
    // In the contract's order.
    let sizes: Vec<String> = keepsake_core::export::CATEGORIES
        .iter()
        .filter_map(|c| preflight.iter().find(|(cat, _, _)| cat == c))
        .map(|(cat, n, _)| format!("{} {cat}", thousands(*n)))
        .collect();
    let mut note = format!(
        "Measured on {date} on {} / {} with {cores} cores (`available_parallelism`), {} build: \
         `keepsake export` and `keepsake-platform serve` as separate processes over loopback \
         (quota and rate limit off). Account: the `large` preset, {} (≈ {:.0} MB as the session \
         estimates it). The export and each bound ran in {rounds} interleaved rounds; times are \
         medians. Before each timed run the page cache is written back (`sync`), so no run \
         pays for the writes of the one before. Peak RSS is `VmHWM` polled every 20 ms; CPU is \
         utime + stime from `/proc`; peak disk is the free space of the output's file system at \
         the start less the least seen, polled with RSS (unnamed temporary files count). \
         1-minute load average {} at the start, {} at the end.",
        std::env::consts::OS,
        std::env::consts::ARCH,
        if cfg!(debug_assertions) {
            "**debug**"
        } else {
            "release"
        },
        sizes.join(", "),
        bytes as f64 / 1e6,
        load.0,
        load.1
    );
    if quick {
        note.push_str(" **`--quick` run: reduced sizes, not comparable with full runs.**");
    }
    note
}

/// Replaces this benchmark's section of `path`.
fn write_section(path: &Path, section: &str) -> Result<()> {
    keepsake_tests::bench::write_section(path, section, START, END)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_marked_section_is_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("docs").join("benchmarks.md");
        write_section(&path, &format!("{START}\none\n{END}")).expect("create");
        let created = fs_err::read_to_string(&path).expect("read");
        assert!(created.starts_with("# Benchmarks\n"), "{created}");
        let other = "<!-- bench-platform:start -->\np\n<!-- bench-platform:end -->";
        fs_err::write(&path, format!("# B\n\n{other}\n")).expect("write");
        write_section(&path, &format!("{START}\nnew\n{END}")).expect("append");
        write_section(&path, &format!("{START}\nnewer\n{END}")).expect("update");
        assert_eq!(
            fs_err::read_to_string(&path).expect("read"),
            format!("# B\n\n{other}\n\n{START}\nnewer\n{END}\n")
        );
        fs_err::write(&path, format!("{END}\n{START}\n")).expect("write");
        assert!(
            write_section(&path, "x").is_err(),
            "broken markers are left alone"
        );
    }

    #[test]
    fn arguments_are_parsed_with_std_only() {
        let parse = |a: &[&str]| parse_args(a.iter().map(|s| s.to_string()));
        let args = parse(&["--out", "x.md", "--quick"])
            .expect("valid")
            .expect("not help");
        assert_eq!((args.out, args.quick), (Some(PathBuf::from("x.md")), true));
        assert!(parse(&["--out"]).is_err());
        assert!(parse(&["--fast"]).is_err());
        assert!(parse(&["--help"]).expect("valid").is_none());
    }
}
