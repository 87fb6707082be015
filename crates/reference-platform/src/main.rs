//! `keepsake-platform`: run, seed and administer the reference platform.
//! Glue over the library; all behaviour lives in `keepsake_platform`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use keepsake_platform::{Config, FaultPlan, PlatformState, Store, seed};

/// The Keepsake reference platform: a real HTTP server over SQLite that
/// implements the Export API contract (docs/api.md).
#[derive(Parser)]
#[command(name = "keepsake-platform", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Export API.
    Serve(Box<ServeArgs>),
    /// Fill a new database with a deterministic preset.
    Seed {
        /// The database file to create.
        #[arg(long)]
        db: PathBuf,
        /// demo, edge or large.
        #[arg(long, default_value = "demo")]
        preset: seed::Preset,
        /// Generator seed: the same seed gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Override the post count of the preset's biggest account.
        #[arg(long)]
        posts: Option<u64>,
        /// Override the media count of the preset's biggest account.
        #[arg(long)]
        media: Option<u64>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Add an account (the password is read from standard input).
    AddUser {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        login: String,
        #[arg(long, default_value = "user")]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Mark an account deleted; its exports in flight then answer 410.
    DeleteUser {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        user: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a personal access token and print it (once) on standard output.
    Create {
        #[arg(long)]
        db: PathBuf,
        /// The account's login.
        #[arg(long)]
        user: String,
        /// Space-separated scopes: export:self, export:any (support only).
        #[arg(long, default_value = "export:self")]
        scope: String,
        /// Expire after this many seconds (default: never).
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// The database file (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// Address to bind; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8765")]
    addr: SocketAddr,
    /// Show the demo accounts on the sign-in page.
    #[arg(long)]
    demo: bool,
    /// Base URL for absolute links (default: http://{Host header}).
    #[arg(long)]
    public_url: Option<url::Url>,
    /// Requests per minute per token; 0 disables the limit.
    #[arg(long, default_value_t = 6000)]
    rate_limit: u32,
    /// Exports an account may start per quota window; 0 disables the quota.
    #[arg(long, default_value_t = 1)]
    quota: u32,
    /// The quota window in seconds.
    #[arg(long, default_value_t = 3600)]
    quota_window_secs: u64,
    /// Lifetime of OAuth access tokens in seconds.
    #[arg(long, default_value_t = 3600)]
    access_token_ttl_secs: u64,
    /// Lifetime of signed media URLs in seconds.
    #[arg(long, default_value_t = 900)]
    media_url_ttl_secs: u64,
    #[command(flatten)]
    faults: FaultArgs,
}

/// Fault injection (all off by default); see docs/api.md.
#[derive(Args)]
struct FaultArgs {
    /// Seed of the deterministic fault sequence.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Added latency per request, in ms.
    #[arg(long, default_value_t = 0)]
    fault_latency_ms: u64,
    /// Fraction of requests answered 429.
    #[arg(long, default_value_t = 0.0)]
    fault_429: f64,
    /// Fraction answered 500.
    #[arg(long, default_value_t = 0.0)]
    fault_500: f64,
    /// Fraction answered 503.
    #[arg(long, default_value_t = 0.0)]
    fault_503: f64,
    /// Retry-After of injected 429/503, in seconds.
    #[arg(long, default_value_t = 1)]
    fault_retry_after_secs: u64,
    /// Fraction of connections reset mid-body.
    #[arg(long, default_value_t = 0.0)]
    fault_reset: f64,
    /// Fraction of JSON bodies truncated.
    #[arg(long, default_value_t = 0.0)]
    fault_truncate: f64,
    /// Fraction of bodies sent a byte at a time.
    #[arg(long, default_value_t = 0.0)]
    fault_slow: f64,
    /// Pause of a slow body after every 64 one-byte chunks, in ms.
    #[arg(long, default_value_t = 1)]
    fault_slow_delay_ms: u64,
    /// Fraction of pages whose cursor repeats.
    #[arg(long, default_value_t = 0.0)]
    fault_repeat_cursor: f64,
    /// Fraction of pages that repeat the previous page's last record.
    #[arg(long, default_value_t = 0.0)]
    fault_duplicate: f64,
    /// Fraction of media downloads with a flipped byte.
    #[arg(long, default_value_t = 0.0)]
    fault_corrupt_media: f64,
    /// OAuth access tokens expire after this many seconds.
    #[arg(long)]
    fault_token_ttl_secs: Option<u64>,
    /// Media URLs expire after this many seconds.
    #[arg(long)]
    fault_media_url_ttl_secs: Option<u64>,
}

impl FaultArgs {
    fn plan(&self) -> FaultPlan {
        FaultPlan {
            seed: self.fault_seed,
            latency_ms: self.fault_latency_ms,
            rate_429: self.fault_429,
            rate_500: self.fault_500,
            rate_503: self.fault_503,
            retry_after_secs: self.fault_retry_after_secs,
            reset_mid_body: self.fault_reset,
            truncate_json: self.fault_truncate,
            slow_body: self.fault_slow,
            slow_body_delay_ms: self.fault_slow_delay_ms,
            repeat_cursor: self.fault_repeat_cursor,
            duplicate_record: self.fault_duplicate,
            corrupt_media: self.fault_corrupt_media,
            token_ttl_secs: self.fault_token_ttl_secs,
            media_url_ttl_secs: self.fault_media_url_ttl_secs,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "keepsake_platform=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keepsake-platform: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args),
        Command::Seed {
            db,
            preset,
            seed,
            posts,
            media,
            force,
        } => {
            if force {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = db.clone().into_os_string();
                    p.push(suffix);
                    let _ = fs_err::remove_file(PathBuf::from(p));
                }
            }
            let started = Instant::now();
            let store = Store::open(&db)?;
            let r = seed::seed(
                &store,
                &seed::SeedOptions {
                    preset,
                    seed,
                    posts,
                    media,
                },
            )?;
            eprintln!(
                "seeded {} ({:?}, seed {seed}) in {:.1} s: {} users, {} posts, {} comments, {} likes, {} connections, {} media ({:.1} MB)",
                db.display(),
                preset,
                started.elapsed().as_secs_f64(),
                r.users,
                r.posts,
                r.comments,
                r.likes,
                r.connections,
                r.media,
                r.media_bytes as f64 / 1e6
            );
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    db,
                    user,
                    scope,
                    ttl_secs,
                },
        } => {
            let token = Store::open(&db)?.create_pat(&user, &scope, ttl_secs)?;
            // The token goes to stdout alone so scripts can capture it; it is
            // stored only as a hash and cannot be shown again.
            println!("{token}");
            Ok(())
        }
        Command::AddUser {
            db,
            login,
            role,
            display_name,
        } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(!password.is_empty(), "no password on standard input");
            let id = Store::open(&db)?.create_user(
                &login,
                display_name.as_deref().unwrap_or(&login),
                &role,
                Some(password),
            )?;
            eprintln!("added account {login} (id {id}, role {role})");
            Ok(())
        }
        Command::DeleteUser { db, user } => {
            Store::open(&db)?.delete_user(&user)?;
            eprintln!("account {user} is marked deleted; its exports now answer 410");
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let faults = args.faults.plan();
    faults.validate().map_err(anyhow::Error::msg)?;
    let config = Config {
        rate_limit_per_min: args.rate_limit,
        quota_per_window: args.quota,
        quota_window: Duration::from_secs(args.quota_window_secs),
        access_token_ttl: Duration::from_secs(args.access_token_ttl_secs),
        media_url_ttl: Duration::from_secs(args.media_url_ttl_secs),
        demo: args.demo,
        public_url: args.public_url,
        faults,
        ..Config::default()
    };
    let state = PlatformState::open(&args.db, config)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        let addr = listener.local_addr()?;
        // Scripts and tests wait for exactly this line.
        println!("keepsake-platform listening on http://{addr}");
        std::io::stdout().flush()?;
        keepsake_platform::serve(listener, state, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
