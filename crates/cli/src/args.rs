//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Take a complete, verifiable copy of your data home from an online platform.
///
/// Exit codes: 0 done; 1 failed; 2 usage error; 3 sign-in needed;
/// 4 archive written but incomplete; 5 archive failed verification;
/// 6 try later (export quota or an export already running); 130 cancelled.
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
    /// Keep tokens in this plain-text file instead of the system keyring.
    /// Anyone who can read the file can use your account: only for machines
    /// without a keyring.
    #[arg(long, global = true, value_name = "PATH")]
    pub insecure_token_file: Option<PathBuf>,
    /// Machine-readable output: NDJSON progress events and a JSON result.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Sign in: with your browser (default), or a personal access token.
    Login {
        /// Read a personal access token from standard input (never pass tokens
        /// as arguments: they end up in shell history and process lists).
        #[arg(long)]
        token_stdin: bool,
        /// Also ask for support-staff access (export:any).
        #[arg(long)]
        support: bool,
        /// Do not try to open a browser; print the sign-in URL only.
        #[arg(long)]
        no_browser: bool,
    },
    /// Sign out: revoke the token at the platform and forget it here.
    Logout,
    /// Show who you are signed in as.
    Whoami,
    /// Export an account into a verifiable zip archive.
    Export(ExportArgs),
    /// Check an archive: every checksum and the bag's completeness.
    Verify {
        /// The archive (.zip).
        archive: PathBuf,
    },
    /// The local audit log of exports.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Args)]
pub struct ExportArgs {
    /// Export this account (by id) on behalf of its owner; needs support
    /// access (export:any) and --reason.
    #[arg(long, value_name = "ID", conflicts_with = "login")]
    pub user: Option<i64>,
    /// Export this account (by login) on behalf of its owner.
    #[arg(long, value_name = "LOGIN")]
    pub login: Option<String>,
    /// Why you export someone else's data (recorded in both audit trails).
    #[arg(long)]
    pub reason: Option<String>,
    /// Categories to include, comma-separated: profile, posts, comments,
    /// likes, connections, media (default: all).
    #[arg(long, value_delimiter = ',')]
    pub include: Option<Vec<String>>,
    /// Only records created on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only records created before this date (YYYY-MM-DD or RFC 3339).
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
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub parallel: u16,
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
