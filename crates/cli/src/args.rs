//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use keepsake_core::export::Formats;

/// Take a complete, verifiable copy of your data home from an online platform.
///
/// Exit codes: 0 done; 1 failed; 2 usage error; 3 sign-in needed;
/// 4 archive written but incomplete; 5 archive failed verification;
/// 6 try later (export quota or an export already running); 130 cancelled.
/// Ctrl-C once the archive is written keeps its code (0 or 4): only the
/// report to the platform is left, for the next export or sign-in.
#[derive(Parser)]
#[command(name = "keepsake", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args)]
pub struct Global {
    /// The platform's base URL (https://…, or http:// on this computer).
    /// Defaults to KEEPSAKE_PLATFORM, then to the platform of the last login.
    #[arg(long, global = true, env = "KEEPSAKE_PLATFORM")]
    pub platform: Option<String>,
    /// The platform's kind of API: keepsake-export-api, wordpress or
    /// matrix. `keepsake login` asks the platform when it is not given, and
    /// the sign-in remembers it; with KEEPSAKE_TOKEN and no sign-in, the
    /// Keepsake Export API.
    #[arg(long, global = true, env = "KEEPSAKE_KIND", value_name = "KIND")]
    pub kind: Option<String>,
    /// Keep tokens in this plain-text file instead of the system keyring.
    /// Anyone who can read the file can use your account: only for machines
    /// without a keyring.
    #[arg(long, global = true, value_name = "PATH")]
    pub insecure_token_file: Option<PathBuf>,
    /// Machine-readable output: NDJSON progress events and a JSON result.
    #[arg(long, global = true)]
    pub json: bool,
    /// Stop retrying a request the platform keeps failing after this long
    /// (e.g. 30s, 10m, 1h). What an export fetched is kept; run it again
    /// later to continue. Default: 10m.
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_duration)]
    pub give_up_after: Option<std::time::Duration>,
    /// The window in which an answer must begin, and a body make progress,
    /// before the request counts as stalled and is retried (tests shorten
    /// it; the default is the engine's).
    #[arg(
        long,
        global = true,
        hide = true,
        env = "KEEPSAKE_HTTP_STALL_SECS",
        value_name = "SECS"
    )]
    pub http_stall_secs: Option<f64>,
}

/// `90`, `90s`, `10m`, `2h`: seconds unless a unit is given.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text} is not a duration; use e.g. 30s, 10m or 1h"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text} is not a duration; use e.g. 30s, 10m or 1h")),
    };
    if secs == 0 {
        return Err("the give-up time must be at least one second".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

#[derive(Subcommand)]
pub enum Command {
    /// Sign in: the way the platform offers first (the browser, where it
    /// can), a user name and password (--user), or an access token
    /// (--token-stdin). Says which platform the address is.
    Login(LoginArgs),
    /// Sign out: end the sign-in on the platform (revoke the token, the
    /// application password or the device Keepsake made) and forget it here.
    Logout,
    /// Show who you are signed in as.
    Whoami,
    /// Export an account into a verifiable zip archive.
    Export(ExportArgs),
    /// Check an archive: every checksum and the bag's completeness.
    ///
    /// A part of a split archive (NAME.part02-of-03.zip) is a complete bag on
    /// its own and is checked alone; with --set, every part of its set is
    /// checked, and the set must be complete (all parts present, from the
    /// same export).
    Verify {
        /// The archive (.zip), or any part of a split archive.
        archive: PathBuf,
        /// Check every part of the split archive ARCHIVE belongs to (the
        /// parts are looked for next to it).
        #[arg(long)]
        set: bool,
    },
    /// The local audit log of exports.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Args)]
pub struct LoginArgs {
    /// Read an access token from standard input (never pass tokens as
    /// arguments: they end up in shell history and process lists).
    #[arg(long, conflicts_with_all = ["user", "password_stdin"])]
    pub token_stdin: bool,
    /// Sign in as NAME with a password (Matrix) or an application password
    /// (WordPress), asked for at the terminal without echo.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Read the password from standard input instead of the terminal.
    #[arg(long)]
    pub password_stdin: bool,
    /// Also ask for support-staff access, where the platform grants it at
    /// sign-in (the Keepsake Export API's export:any).
    #[arg(long)]
    pub support: bool,
    /// Do not try to open a browser; print the sign-in URL only.
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Export this account (by its id on the platform: 42, @bob:example.org)
    /// on behalf of its owner; needs support access and --reason.
    #[arg(long, value_name = "ID", conflicts_with = "login")]
    pub user: Option<String>,
    /// Export this account (by login) on behalf of its owner.
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,
    /// Why you export someone else's data (recorded in the local audit log
    /// and the archive's manifest, and by the Keepsake Export API in its own
    /// log; WordPress and Matrix keep no record of exports).
    #[arg(long)]
    pub reason: Option<String>,
    /// Categories to include, comma-separated, as the platform names them
    /// (the Keepsake Export API: profile, posts, comments, likes,
    /// connections, media; WordPress: profile, posts, pages, comments,
    /// media, revisions, tags, categories; Matrix: profile, account_data,
    /// state and events (of every room) or one room's, such as
    /// room_0003_events; default: all).
    #[arg(long, value_delimiter = ',')]
    pub include: Option<Vec<String>>,
    /// Only records created on or after this date (YYYY-MM-DD or RFC 3339;
    /// on WordPress, in the site's own time, without a zone; Matrix takes
    /// whole rooms and no range).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records created before this date (as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Destination folder.
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// Continue an interrupted export (it is also picked up automatically
    /// from the same --out folder); fail if there is none.
    #[arg(long, conflicts_with = "no_resume")]
    pub resume: bool,
    /// Start afresh even if an interrupted export is staged.
    #[arg(long)]
    pub no_resume: bool,
    /// Parallel media downloads.
    #[arg(long, default_value_t = keepsake_core::export::DEFAULT_MEDIA_WORKERS as u16, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,
    /// What the archive carries, comma-separated: json (always, the source
    /// of truth), csv (spreadsheet copies of the categories that have
    /// columns, and of the file index), viewer (an offline index.html).
    /// E.g. --formats json,csv
    /// leaves the viewer out; --formats json gives JSON only.
    #[arg(long, default_value = "json,csv,viewer", value_name = "LIST", value_parser = parse_formats)]
    pub formats: Formats,
    /// Split the archive into parts of at most SIZE each (e.g. 100MB, 2GB,
    /// 4GB, 10GB, 50GB, 500KiB; KB/MB/GB are powers of 1000, KiB/MiB/GiB of
    /// 1024; at least 64KiB). Every part is a complete zip and BagIt bag on its own, named
    /// NAME.part01-of-03.zip …; a single file larger than SIZE gets a part of
    /// its own (with a warning). Check a whole set with `keepsake verify
    /// --set`.
    #[arg(long, value_name = "SIZE", value_parser = parse_split_size)]
    pub split_size: Option<u64>,
}

/// Sizes smaller than this cannot hold a part's own tag files and index.
const MIN_SPLIT_SIZE: u64 = 64 * 1024;

fn parse_formats(text: &str) -> Result<Formats, String> {
    let names: Vec<&str> = text.split(',').filter(|n| !n.trim().is_empty()).collect();
    Formats::from_names(&names).map_err(|e| e.to_string())
}

fn parse_split_size(text: &str) -> Result<u64, String> {
    let bytes = keepsake_core::export::parse_size(text).map_err(|e| e.to_string())?;
    if bytes < MIN_SPLIT_SIZE {
        return Err(format!(
            "{text} is too small for a part: each part carries its own checksums and index; use at least 64KiB"
        ));
    }
    Ok(bytes)
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// List recorded exports.
    List,
    /// Check the log's hash chain (edits, deletions, truncation).
    Verify,
    /// Write the log as CSV.
    Export {
        /// CSV output (the only format for now).
        #[arg(long, required = true)]
        csv: bool,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}
