//! `bench-platform`: how fast the reference platform seeds, pages and serves
//! media, measured end to end over loopback HTTP.
//!
//! `cargo xtask bench` runs it in release mode with `--out docs/benchmarks.md`;
//! the results replace the section between the `bench-platform` markers in
//! that file (and are printed as the same table). `--quick` shrinks every
//! size to smoke-test the benchmark itself; its numbers mean little.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use keepsake_platform::{
    Config, PlatformState, Store,
    seed::{self, Preset, SeedOptions},
};
use keepsake_tests::bench::thousands;
use serde_json::{Value, json};

#[path = "bench_platform/media.rs"]
mod media;

const START: &str = "<!-- bench-platform:start -->";
const END: &str = "<!-- bench-platform:end -->";
const USAGE: &str = "usage: bench-platform [--out PATH] [--quick]

  --out PATH   write the results into PATH, between the bench-platform markers
  --quick      small sizes, to check that the benchmark runs (numbers mean little)";

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

/// How much work each measurement does.
struct Sizes {
    /// Posts seeded for the seeding measurement.
    seed_posts: u64,
    /// Posts of the account whose pages are walked.
    page_posts: u64,
    /// Walks of that account, each in a new export session.
    walks: usize,
    /// Media files downloaded.
    media: u64,
    /// Timed download passes over them, per concurrency.
    media_passes: usize,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                seed_posts: 20_000,
                page_posts: 5_000,
                walks: 2,
                media: 6,
                media_passes: 2,
            }
        } else {
            Self {
                seed_posts: 1_000_000,
                page_posts: 100_000,
                walks: 5,
                media: 200,
                media_passes: 3,
            }
        }
    }
}

/// One line of the results table.
struct Row {
    measurement: String,
    result: String,
    target: String,
}

impl Row {
    fn new(
        measurement: impl Into<String>,
        result: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Self {
            measurement: measurement.into(),
            result: result.into(),
            target: target.into(),
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
            eprintln!("bench-platform: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-platform: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if cfg!(debug_assertions) && !args.quick {
        eprintln!(
            "bench-platform: warning: this is a debug build; run with --release for meaningful numbers"
        );
    }
    let sizes = Sizes::new(args.quick);
    let dir = tempfile::tempdir().context("creating a temporary directory for the databases")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let mut rows = bench_seed(dir.path(), &sizes)?;
    rows.extend(rt.block_on(bench_pages(dir.path(), &sizes))?);
    rows.extend(rt.block_on(media::bench_media(dir.path(), &sizes))?);

    let table = render_table(&rows);
    println!("{table}");
    if let Some(out) = &args.out {
        let section = format!("{START}\n{}\n\n{table}{END}", machine_note(args.quick));
        keepsake_tests::bench::write_section(out, &section, START, END)
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!("bench-platform: results written to {}", out.display());
    }
    Ok(())
}

/// Seeds a store at `path`, returning it and how long seeding took.
fn seed_into(path: &Path, opts: &SeedOptions) -> Result<(Store, seed::SeedReport, Duration)> {
    let store = Store::open(path).with_context(|| format!("opening {}", path.display()))?;
    let started = Instant::now();
    let report = seed::seed(&store, opts).context("seeding")?;
    Ok((store, report, started.elapsed()))
}

fn large(posts: u64, media: u64) -> SeedOptions {
    SeedOptions {
        preset: Preset::Large,
        seed: 1,
        posts: Some(posts),
        media: Some(media),
    }
}

/// (a) Seeding: the large preset with `seed_posts` posts and no media.
fn bench_seed(dir: &Path, sizes: &Sizes) -> Result<Vec<Row>> {
    eprintln!(
        "bench-platform: seeding {} posts…",
        thousands(sizes.seed_posts)
    );
    let db = dir.join("seed.db");
    let (_store, report, took) = seed_into(&db, &large(sizes.seed_posts, 0))?;
    // The preset's 200 follower accounts write two posts each besides the big account's.
    ensure!(
        report.posts >= sizes.seed_posts,
        "the seed wrote {} posts, not {}",
        report.posts,
        sizes.seed_posts
    );
    let db_bytes = fs_err::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let rate = report.posts as f64 / took.as_secs_f64();
    Ok(vec![Row::new(
        format!(
            "Seed `large` with {} posts (+ {} comments, {} likes; no media)",
            thousands(sizes.seed_posts),
            thousands(report.comments),
            thousands(report.likes)
        ),
        format!(
            "{:.1} s ({} posts/s, {:.0} MB database)",
            took.as_secs_f64(),
            thousands(rate as u64),
            db_bytes as f64 / 1e6
        ),
        if sizes.seed_posts >= 1_000_000 {
            "< 60 s"
        } else {
            "< 60 s for 1,000,000"
        },
    )])
}

/// A platform serving one seeded database on `127.0.0.1:0`, with rate
/// limits and export quotas off so they do not pace the measurement.
struct Server {
    url: String,
    state: PlatformState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    async fn start(store: Store) -> Result<Self> {
        let config = Config {
            rate_limit_per_min: 0,
            quota_per_window: 0,
            ..Config::default()
        };
        let state = PlatformState::new(store, config).context("preparing the platform")?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let url = format!(
            "http://{}",
            listener.local_addr().context("the bound address")?
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            if let Err(e) = keepsake_platform::serve(listener, serving, async {
                let _ = rx.await;
            })
            .await
            {
                eprintln!("bench-platform: the platform stopped: {e}");
            }
        });
        Ok(Self {
            url,
            state,
            shutdown: Some(tx),
        })
    }

    /// A client for the `large` account: its id and a fresh personal access token.
    fn large_account(&self) -> Result<(i64, String)> {
        let store = self.state.store();
        Ok((
            store.user_id("large")?,
            store.create_pat("large", "export:self", None)?,
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn http() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .context("building the HTTP client")
}

/// Opens an export of `categories` for `user`; returns its id.
async fn open_export(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    user: i64,
    categories: &[&str],
) -> Result<String> {
    let resp = http
        .post(format!("{}/api/v1/users/{user}/exports", server.url))
        .bearer_auth(token)
        .json(&json!({ "categories": categories }))
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await.context("the export session is JSON")?;
    ensure!(
        status.as_u16() == 201,
        "opening an export answered {status}: {body}"
    );
    Ok(body["export_id"]
        .as_str()
        .context("the session has an export_id")?
        .to_owned())
}

/// Ends a session so the next one may open (only one runs per account).
async fn cancel_export(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    user: i64,
    export: &str,
) -> Result<()> {
    let resp = http
        .patch(format!(
            "{}/api/v1/users/{user}/exports/{export}",
            server.url
        ))
        .bearer_auth(token)
        .json(&json!({ "status": "cancelled", "error": "benchmark walk finished" }))
        .send()
        .await?;
    ensure!(
        resp.status().is_success(),
        "ending the export answered {}",
        resp.status()
    );
    Ok(())
}

/// Walks a collection as a client would (request, parse, follow the
/// cursor); returns the items and the number of pages.
async fn walk(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    collection: &str,
) -> Result<(Vec<Value>, usize)> {
    let mut items = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/{collection}?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let resp = http.get(&url).bearer_auth(token).send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        ensure!(
            status.is_success(),
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let mut page: Value =
            serde_json::from_slice(&bytes).with_context(|| format!("{url} is not JSON"))?;
        pages += 1;
        if let Some(list) = page["items"].as_array_mut() {
            items.append(list);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok((items, pages)),
        }
    }
}

/// (b) Paging: walks of the posts of an account with `page_posts` posts.
async fn bench_pages(dir: &Path, sizes: &Sizes) -> Result<Vec<Row>> {
    eprintln!(
        "bench-platform: seeding {} posts to page through…",
        thousands(sizes.page_posts)
    );
    let db = dir.join("pages.db");
    let (store, _, _) =
        tokio::task::block_in_place(|| seed_into(&db, &large(sizes.page_posts, 0)))?;
    let server = Server::start(store).await?;
    let (user, token) = server.large_account()?;
    let http = http()?;
    let mut posts_per_sec = Vec::new();
    let mut pages_per_sec = Vec::new();
    for i in 1..=sizes.walks {
        let export = open_export(&http, &server, &token, user, &["posts"]).await?;
        let base = format!("{}/api/v1/users/{user}/exports/{export}", server.url);
        let started = Instant::now();
        let (items, pages) = walk(&http, &base, &token, "posts").await?;
        let took = started.elapsed().as_secs_f64();
        cancel_export(&http, &server, &token, user, &export).await?;
        let ids: Vec<i64> = items.iter().filter_map(|p| p["id"].as_i64()).collect();
        ensure!(
            ids.len() as u64 == sizes.page_posts,
            "walk {i} returned {} posts, not {}",
            ids.len(),
            sizes.page_posts
        );
        ensure!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "walk {i} returned posts out of order or twice"
        );
        eprintln!(
            "bench-platform: walk {i}: {} posts in {pages} pages, {took:.2} s",
            thousands(ids.len() as u64)
        );
        posts_per_sec.push(ids.len() as f64 / took);
        pages_per_sec.push(pages as f64 / took);
    }
    let what = format!(
        "{} posts at limit=500, {} walks, each a new export session",
        thousands(sizes.page_posts),
        sizes.walks
    );
    Ok(vec![
        Row::new(
            format!("Page walk: posts/s ({what})"),
            format!(
                "best {}, median {}",
                thousands(max(&posts_per_sec) as u64),
                thousands(median(&posts_per_sec) as u64)
            ),
            "—",
        ),
        Row::new(
            "Page walk: pages/s (500 posts a page)",
            format!(
                "best {:.1}, median {:.1}",
                max(&pages_per_sec),
                median(&pages_per_sec)
            ),
            "—",
        ),
    ])
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

fn render_table(rows: &[Row]) -> String {
    let mut t = String::from("| Measurement | Result | Target |\n| --- | --- | --- |\n");
    for r in rows {
        t.push_str(&format!(
            "| {} | {} | {} |\n",
            r.measurement, r.result, r.target
        ));
    }
    t
}

fn machine_note(quick: bool) -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "an unknown number of".into());
    let date = time::OffsetDateTime::now_utc().date();
    let mut note = format!(
        "Measured on {date} on {} / {} with {cores} cores (`available_parallelism`), {} build, client and server in one process over loopback.",
        std::env::consts::OS,
        std::env::consts::ARCH,
        if cfg!(debug_assertions) {
            "**debug**"
        } else {
            "release"
        }
    );
    if quick {
        note.push_str(" **`--quick` run: reduced sizes, not comparable with full runs.**");
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

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
