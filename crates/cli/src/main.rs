//! `keepsake`: the headless front end over `keepsake-core`, for support
//! staff, scripts and offline archive creation.
//!
//! Glue only: parse arguments, call the engine, render progress, map errors
//! to exit codes. Tokens never appear in arguments or output.

mod args;
mod auth;
mod render;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use keepsake_core::client::{ApiClient, Pace, RetryPolicy, Wait};
use keepsake_core::export::{
    self, CancelFlag, ExportEvent, ExportOptions, Outcome, ResumeMode, Throttled,
};
use keepsake_core::text::{json_for_terminal, sanitize_for_terminal, sanitize_lines};
use keepsake_core::{Class, Error, Result, audit};
use serde_json::{Value, json};

use args::{AuditCommand, Cli, Command, ExportArgs, Global};

/// Prints a line to stdout; a closed pipe (`keepsake audit list | head`)
/// is not an error worth a panic. The text may hold what a platform sent
/// (logins, names, problem details): its control characters are shown as
/// escapes, never sent to the terminal.
macro_rules! out {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stdout().lock(), "{}", sanitize_lines(&line));
    }};
}

/// Prints a JSON value as one line to stdout. serde_json escapes the C0
/// controls; DEL, C1 and bidi controls are escaped too, for whoever reads
/// `--json` output on a terminal.
macro_rules! out_json {
    ($value:expr) => {{
        let line = serde_json::to_string($value).unwrap_or_default();
        let _ = writeln!(std::io::stdout().lock(), "{}", json_for_terminal(&line));
    }};
}

/// Prints a line to stderr, control characters escaped (see `out!`).
macro_rules! err {
    ($($arg:tt)*) => {{
        let line = format!($($arg)*);
        let _ = writeln!(std::io::stderr().lock(), "{}", sanitize_lines(&line));
    }};
}

/// Exit codes, as documented in `keepsake --help`.
mod code {
    pub const FAILED: u8 = 1;
    pub const SIGN_IN: u8 = 3;
    pub const INCOMPLETE: u8 = 4;
    pub const DAMAGED: u8 = 5;
    pub const LATER: u8 = 6;
    pub const CANCELLED: u8 = 130;
}

// After the output macros, which they use.
mod login;
mod verify;

fn main() -> ExitCode {
    keepsake_arenas::one_per_core();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keepsake: could not start: {e}");
            return ExitCode::from(code::FAILED);
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line each: a line end in a platform's message is escaped.
            err!("keepsake: {}", sanitize_for_terminal(&e.to_string()));
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                err!("  caused by: {}", sanitize_for_terminal(&s.to_string()));
                source = s.source();
            }
            // What to do next, as this front end does it.
            if let Some(hint) = e.hint() {
                err!("  {}", hint_text(hint));
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

/// An error's next step, in the command line's terms.
fn hint_text(hint: keepsake_core::Hint) -> &'static str {
    use keepsake_core::Hint;
    match hint {
        Hint::SignIn => "to sign in: keepsake login --platform URL (see keepsake login --help)",
        Hint::Resume => {
            "to continue: run the same command again with the same --out folder (or add --resume)"
        }
        Hint::OtherFolder => "to write elsewhere: --out FOLDER",
        Hint::FreeSpace => {
            "what was fetched is kept: free some space, then run the same command again with the same --out folder to continue"
        }
        Hint::NoKeyring => {
            "on a machine with no keyring at all: --insecure-token-file PATH keeps the token in a plain file you choose"
        }
        Hint::NameKind => {
            "if it is one of them behind another address, name its kind: --kind keepsake-export-api|wordpress|matrix"
        }
    }
}

fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Cancelled => code::CANCELLED,
        Error::TryLater { .. } => code::LATER,
        _ if e.class() == Class::NeedsSignIn => code::SIGN_IN,
        _ => code::FAILED,
    }
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    match cli.command {
        Command::Login(a) => login::login(g, a).await,
        Command::Logout => login::logout(g).await,
        Command::Whoami => login::whoami(g).await,
        Command::Export(a) => export(g, a).await,
        Command::Verify { archive, set } => verify::verify(g, &archive, set),
        Command::Audit { command } => audit_cmd(g, command),
    }
}

pub(crate) async fn client(g: &Global) -> Result<ApiClient> {
    let platform = auth::platform(g)?;
    let mut client = ApiClient::new(&platform, auth::tokens(g, &platform).await?)?;
    if let Some(give_up_after) = g.give_up_after {
        let retry = RetryPolicy {
            give_up_after,
            ..client.retry_policy().clone()
        };
        client = client.with_retry(retry);
    }
    if let Some(secs) = g.http_stall_secs.filter(|s| s.is_finite() && *s > 0.0) {
        client = client.with_pace(Pace {
            window: Duration::from_secs_f64(secs),
            ..Pace::default()
        });
    }
    Ok(client)
}

async fn export(g: &Global, a: ExportArgs) -> Result<ExitCode> {
    let connector = auth::connector(g, &auth::platform(g)?).await?;
    let base: Arc<dyn export::Reporter> = Arc::from(render::reporter(g.json));
    let reporter: Arc<dyn export::Reporter> = Arc::new(Throttled::new(
        ArcReporter(base),
        Duration::from_millis(250),
    ));
    let waits = reporter.clone();
    let client = client(g).await?.on_wait(Arc::new(move |w: &Wait<'_>| {
        let (d, e) = (w.delay, w.error);
        let until = time::OffsetDateTime::now_utc() + d;
        let clock = |t: time::OffsetDateTime| {
            format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second())
        };
        let reason = match e.code() {
            keepsake_core::Code::RateLimited => "rate limited by the platform",
            keepsake_core::Code::Network => "connection problem",
            _ => "the platform is busy",
        };
        waits.report(ExportEvent::Waiting {
            reason: reason.into(),
            until: clock(until),
            secs: d.as_secs().max(1),
            giving_up_at: clock(w.give_up_at.into()),
        });
    }));
    let subject_id = match (&a.user, &a.login) {
        (Some(id), _) => Some(keepsake_core::connector::AccountId::from(id.as_str())),
        (None, Some(login)) => {
            let found = connector.find_account(&client, login).await?;
            Some(found.map(|a| a.id).ok_or_else(|| {
                Error::Invalid(format!("no account with login '{login}' on this platform"))
            })?)
        }
        (None, None) => None,
    };
    if subject_id.is_some() && a.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(Error::Invalid("exporting someone else's account needs --reason \"…\" (it is recorded in both audit trails)".into()));
    }
    let opts = ExportOptions {
        connector: connector.clone(),
        subject_id,
        reason: a.reason.clone(),
        categories: a.include.clone(),
        since: a.since.clone(),
        until: a.until.clone(),
        out_dir: a.out.clone(),
        resume: if a.resume {
            ResumeMode::Require
        } else if a.no_resume {
            ResumeMode::Never
        } else {
            ResumeMode::Auto
        },
        media_workers: a.parallel as usize,
        media_memory: keepsake_core::export::DEFAULT_MEDIA_MEMORY,
        undeclared_file_max: keepsake_core::export::DEFAULT_UNDECLARED_FILE_MAX,
        formats: a.formats,
        split_size: a.split_size,
    };
    let log = audit::AuditLog::open(&audit::AuditLog::default_dir()?)?;
    let cancel = CancelFlag::default();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        // The first Ctrl-C stops the export in good order (the archive and
        // the audit record intact, the outcome report kept for later); the
        // second quits at once, whatever is still running.
        let mut asked = false;
        while tokio::signal::ctrl_c().await.is_ok() {
            if asked {
                err!("\nquitting now");
                std::process::exit(i32::from(code::CANCELLED));
            }
            asked = true;
            err!(
                "\nstopping… what was fetched is kept; run the same command again (or with --resume) to continue. Press Ctrl-C again to quit at once."
            );
            on_signal.cancel(true);
        }
    });
    let report = export::run(&client, &opts, reporter, cancel, Some(&log)).await?;
    let summary = serde_json::to_value(&report).unwrap_or(Value::Null);
    print_result(g, &summary, || {
        let mut s = format!(
            "{} archive: {}\n  size {}  sha256 {}\n  {} of {}, snapshot {}{}\n",
            if report.outcome == Outcome::Completed {
                "complete"
            } else {
                "INCOMPLETE"
            },
            report.archive.display(),
            render::human_bytes(report.bytes),
            report.sha256,
            sanitize_for_terminal(&report.subject),
            sanitize_for_terminal(&report.export_id),
            sanitize_for_terminal(&report.as_of),
            date_range(report.since.as_deref(), report.until.as_deref()),
        );
        if report.archive_kept_bytes > 0 {
            s.push_str(&format!(
                "  continued an interrupted run: {} of the archive were already written\n",
                render::human_bytes(report.archive_kept_bytes)
            ));
        }
        if !report.parts.is_empty() {
            s.push_str(&format!(
                "  in {} parts (check them with keepsake verify --set):\n",
                report.parts.len()
            ));
            for p in &report.parts {
                s.push_str(&format!(
                    "    {}  {}  sha256 {}\n",
                    p.path.display(),
                    render::human_bytes(p.bytes),
                    p.sha256
                ));
            }
        }
        for (cat, c) in &report.counts {
            let mark = if c.expected.is_some_and(|e| c.retrieved < e) {
                "  ← short"
            } else {
                ""
            };
            let of = c
                .expected
                .map_or_else(|| "(not announced)".to_owned(), |e| format!("of {e:>8}"));
            s.push_str(&format!(
                "  {:<12} {:>8} {of}{mark}\n",
                sanitize_for_terminal(cat),
                c.retrieved,
            ));
        }
        for w in &report.warnings {
            s.push_str(&format!("  warning: {}\n", sanitize_for_terminal(w)));
        }
        for r in &report.shortfalls {
            s.push_str(&format!("  missing: {}\n", sanitize_for_terminal(r)));
        }
        s
    });
    Ok(if report.outcome == Outcome::Completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code::INCOMPLETE)
    })
}

/// The date range of an export, for its summary: empty when it has none.
fn date_range(since: Option<&str>, until: Option<&str>) -> String {
    match (since, until) {
        (None, None) => String::new(),
        (Some(s), None) => format!(", records created from {s}"),
        (None, Some(u)) => format!(", records created before {u}"),
        (Some(s), Some(u)) => format!(", records created from {s} until before {u}"),
    }
}

/// Lets a shared reporter sit inside `Throttled`.
struct ArcReporter(Arc<dyn export::Reporter>);
impl export::Reporter for ArcReporter {
    fn report(&self, e: ExportEvent) {
        self.0.report(e);
    }
}

fn audit_cmd(g: &Global, command: AuditCommand) -> Result<ExitCode> {
    let log = audit::AuditLog::open(&audit::AuditLog::default_dir()?)?;
    match command {
        AuditCommand::List => {
            let records = log.list()?;
            if g.json {
                for r in &records {
                    out_json!(r);
                }
            } else if records.is_empty() {
                out!("no exports recorded yet ({})", log.dir().display());
            } else {
                for r in &records {
                    let e = &r.entry;
                    // Logins are the platform's, the reason and the path
                    // may hold anything: each is one line, escaped whole
                    // (a line feed in one would fake a record below it).
                    let one = |s: &str| sanitize_for_terminal(s).into_owned();
                    let who = if e.actor == e.subject {
                        one(&e.subject)
                    } else {
                        format!("{} for {}", one(&e.actor), one(&e.subject))
                    };
                    // A follow-up about the outcome report, not an export.
                    let result = match e.report {
                        Some(report) => format!("report {}", report.as_str()),
                        None => e.result.as_str().to_owned(),
                    };
                    out!(
                        "#{:<4} {}  {:<10} {}{}  {}",
                        r.seq,
                        r.time,
                        result,
                        who,
                        e.reason
                            .as_deref()
                            .map(|r| format!(" (reason: {})", one(r)))
                            .unwrap_or_default(),
                        one(e.archive_path.as_deref().unwrap_or("-"))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let report = log.verify()?;
            print_result(
                g,
                &serde_json::to_value(&report).unwrap_or(Value::Null),
                || {
                    if report.ok {
                        format!(
                            "audit log intact: {} records, chain and head verified",
                            report.records
                        )
                    } else {
                        format!("audit log BROKEN:\n  {}", report.problems.join("\n  "))
                    }
                },
            );
            Ok(if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(code::DAMAGED)
            })
        }
        AuditCommand::Export { csv: _, output } => {
            let n = match output {
                Some(path) => {
                    let mut f =
                        std::io::BufWriter::new(fs_err::File::create(&path).map_err(|e| {
                            Error::Io {
                                action: "create",
                                path: path.clone(),
                                source: e,
                            }
                        })?);
                    let n = log.export_csv(&mut f)?;
                    f.flush().map_err(Error::io("write", &path))?;
                    n
                }
                None => {
                    use std::io::IsTerminal;
                    let mut stdout = std::io::stdout().lock();
                    if stdout.is_terminal() {
                        // Shown, not saved: the logins in it are the
                        // platform's, so its control characters are escaped
                        // (line feeds kept, CRLF shown as one).
                        let mut csv = Vec::new();
                        let n = log.export_csv(&mut csv)?;
                        let text = String::from_utf8_lossy(&csv).replace("\r\n", "\n");
                        let shown = sanitize_lines(&text);
                        let _ = stdout.write_all(shown.as_bytes());
                        n
                    } else {
                        log.export_csv(&mut stdout)?
                    }
                }
            };
            err!("{n} records exported");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a result as JSON (`--json`) or as text.
pub(crate) fn print_result(g: &Global, value: &Value, text: impl FnOnce() -> String) {
    if g.json {
        out_json!(&json!({"result": value}));
    } else {
        out!("{}", text().trim_end());
    }
}
