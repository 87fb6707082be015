//! Telling the platform how an export ended, without holding the user, the
//! archive or the audit record hostage.
//!
//! By the time the outcome is reported (`PATCH …/exports/{export_id}`) the
//! archive is final and the export's audit record is written. The report is
//! then tried a few times within a short overall bound, independent of the
//! page retry policy, and gives up at once when the user cancels. A report
//! that does not get through is kept beside the audit log
//! ([`crate::audit::PendingReport`]) before the first try, so that even a
//! process killed mid-report leaves it for the next run, and a follow-up
//! audit record says so. The next export or sign-in to the same platform
//! sends kept reports again, a bounded number of times.

use crate::connector::AccountId;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::progress::{ExportEvent, Reporter};
use super::{CancelFlag, Outcome};
use crate::Error;
use crate::audit::{AuditEntry, AuditLog, PendingReport, Report};
use crate::client::{ApiClient, RetryPolicy};

/// Tries for this run's own report.
const TRIES: u32 = 3;
/// The first pause between them (then longer, up to four times this).
const PAUSE: Duration = Duration::from_millis(500);
/// All of the reporting at the end of a run, kept reports included: a
/// platform that does not answer costs the user this much at most.
const BOUND: Duration = Duration::from_secs(20);
/// Kept reports sent again per run; the rest wait for the next.
const KEPT_PER_RUN: usize = 8;
/// A kept report is given up after this many runs have tried it. By then the
/// platform has long closed the session as abandoned (after 24 hours).
const MAX_RUNS: u32 = 10;
/// How often a wait looks at the cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// An outcome this run has to report.
#[derive(Debug, Clone)]
pub(super) struct Due {
    /// The API path the connector names (`PATCH`ed).
    pub(super) path: String,
    /// The `PATCH` body.
    pub(super) body: Value,
}

impl From<crate::connector::Report> for Due {
    fn from(r: crate::connector::Report) -> Self {
        Due {
            path: r.path,
            body: r.body,
        }
    }
}

/// How sending one report ended.
enum Sent {
    Delivered,
    /// The platform will never take it (it is not a valid outcome, or the
    /// session ended with another one).
    Refused(Error),
    /// Not now; worth another run.
    Failed(Error),
    /// The user cancelled.
    Stopped,
}

/// Who and what the follow-up records are about.
pub(super) struct Context<'a> {
    pub(super) client: &'a ApiClient,
    pub(super) audit: Option<&'a AuditLog>,
    pub(super) reporter: &'a dyn Reporter,
    pub(super) cancel: &'a CancelFlag,
    /// Cancel requests already made when reporting began. An export that
    /// was cancelled still reports that; a further request stops it. For an
    /// export that completed, any request does.
    pub(super) baseline: u32,
}

impl Context<'_> {
    fn stopped(&self) -> bool {
        self.cancel.requests() > self.baseline
    }

    fn platform(&self) -> String {
        crate::error::display_url(self.client.base())
    }

    fn warn(&self, message: String) {
        self.reporter.report(ExportEvent::Warning { message });
    }

    fn record(&self, entry: AuditEntry) {
        if let Some(log) = self.audit
            && let Err(e) = log.append(entry)
        {
            self.warn(format!(
                "the outcome report could not be noted in the audit log: {e}"
            ));
        }
    }
}

/// Reports this run's outcome, then kept ones for the same platform, within
/// [`BOUND`]; `export` is the export's audit record (already written), which
/// a follow-up record repeats. Returns whether this run's report got through.
pub(super) async fn settle(cx: &Context<'_>, due: Option<Due>, export: &AuditEntry) -> bool {
    let started = Instant::now();
    let deadline = started + BOUND;
    let platform = cx.platform();
    let mut delivered = false;
    let recorded = match export.result {
        Outcome::Completed | Outcome::Incomplete => "The archive and its audit record are complete",
        Outcome::Failed | Outcome::Cancelled => "The export is recorded in the audit log",
    };
    let kept = if cx.audit.is_some() {
        format!("the report is kept and sent with the next export or sign-in to {platform}")
    } else {
        "the report is not kept (there is no audit log)".to_owned()
    };
    if let Some(due) = due {
        // Kept first: a process killed while reporting leaves it behind.
        if let Some(log) = cx.audit
            && let Err(e) = log.keep_report(PendingReport {
                platform: platform.clone(),
                path: due.path.clone(),
                outcome: due.body.clone(),
                tries: 1,
            })
        {
            cx.warn(format!(
                "the outcome report could not be kept for a later run: {e}"
            ));
        }
        let sent = if cx.stopped() {
            Sent::Stopped
        } else {
            send(cx, &due, TRIES, deadline).await
        };
        let follow_up = |report: Report, code: &str, message: String| {
            let mut e = export.clone();
            e.report = Some(report);
            e.error_code = Some(code.to_owned());
            e.error_message = Some(message);
            e.duration_ms = started.elapsed().as_millis() as u64;
            e
        };
        match sent {
            Sent::Delivered => {
                delivered = true;
                forget(cx, &platform, &due.path);
            }
            Sent::Refused(e) => {
                forget(cx, &platform, &due.path);
                cx.warn(format!(
                    "the platform refused the report of how the export ended: {e}. {recorded}."
                ));
                cx.record(follow_up(
                    Report::Abandoned,
                    e.code().as_str(),
                    format!("the platform refused the outcome report: {e}"),
                ));
            }
            Sent::Failed(e) => {
                cx.warn(format!(
                    "the platform could not be told how the export ended ({e}). {recorded}; {kept}."
                ));
                cx.record(follow_up(
                    Report::Pending,
                    e.code().as_str(),
                    format!("the platform could not be told how the export ended: {e}; the report is kept for the next run"),
                ));
            }
            Sent::Stopped => {
                cx.warn(format!(
                    "stopped before the platform was told how the export ended. {recorded}; {kept}."
                ));
                cx.record(follow_up(
                    Report::Pending,
                    "cancelled",
                    "stopped by the user before the outcome was reported; the report is kept for the next run".to_owned(),
                ));
            }
        }
    }
    // Only a platform that just took a report is asked to take kept ones:
    // one that did not would cost the user the rest of the bound for nothing.
    if delivered && !cx.stopped() {
        resend_kept(cx, &export.actor, export.actor_id.clone(), deadline).await;
    }
    delivered
}

/// Sends the outcome reports that earlier runs kept for `client`'s platform
/// (after a sign-in, say), within a short bound: one try each, stopping at
/// the first that does not get through. `actor` is who is signed in, for the
/// follow-up audit records.
pub async fn send_kept_reports(
    client: &ApiClient,
    audit: &AuditLog,
    cancel: &CancelFlag,
    actor: &str,
    actor_id: Option<AccountId>,
) {
    let cx = Context {
        client,
        audit: Some(audit),
        reporter: &super::Silent,
        cancel,
        baseline: cancel.requests(),
    };
    resend_kept(&cx, actor, actor_id, Instant::now() + BOUND).await;
}

/// Sends reports kept by earlier runs for this platform, one try each, until
/// one fails or `deadline`.
pub(super) async fn resend_kept(
    cx: &Context<'_>,
    actor: &str,
    actor_id: Option<AccountId>,
    deadline: Instant,
) {
    let Some(log) = cx.audit else { return };
    let platform = cx.platform();
    let kept = match log.pending_reports(&platform) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the kept outcome reports");
            return;
        }
    };
    for kept in kept.into_iter().take(KEPT_PER_RUN) {
        if cx.stopped() || Instant::now() >= deadline {
            return;
        }
        let started = Instant::now();
        let due = Due {
            path: kept.path.clone(),
            body: kept.outcome.clone(),
        };
        let note = |report: Report, error: Option<(&str, String)>| {
            let mut e = kept_entry(&platform, &kept, actor, actor_id.clone());
            e.report = Some(report);
            if let Some((code, message)) = error {
                e.error_code = Some(code.to_owned());
                e.error_message = Some(message);
            }
            e.duration_ms = started.elapsed().as_millis() as u64;
            e
        };
        match send(cx, &due, 1, deadline).await {
            Sent::Delivered => {
                forget(cx, &platform, &kept.path);
                cx.record(note(Report::Delivered, None));
            }
            Sent::Refused(e) => {
                forget(cx, &platform, &kept.path);
                cx.record(note(
                    Report::Abandoned,
                    Some((
                        e.code().as_str(),
                        format!("the platform refused the kept outcome report: {e}"),
                    )),
                ));
            }
            Sent::Failed(e) if kept.tries + 1 >= MAX_RUNS => {
                forget(cx, &platform, &kept.path);
                cx.record(note(
                    Report::Abandoned,
                    Some((
                        e.code().as_str(),
                        format!(
                            "the kept outcome report did not get through in {MAX_RUNS} runs and was given up: {e}"
                        ),
                    )),
                ));
            }
            Sent::Failed(_) => {
                let _ = log.keep_report(PendingReport {
                    tries: kept.tries + 1,
                    ..kept
                });
                // The platform is not taking reports now; the others wait.
                return;
            }
            Sent::Stopped => return,
        }
    }
}

fn forget(cx: &Context<'_>, platform: &str, path: &str) {
    if let Some(log) = cx.audit
        && let Err(e) = log.forget_report(platform, path)
    {
        tracing::warn!(error = %e, "could not forget a delivered outcome report");
    }
}

/// The follow-up record of a kept report, from what the report says.
fn kept_entry(
    platform: &str,
    kept: &PendingReport,
    actor: &str,
    actor_id: Option<AccountId>,
) -> AuditEntry {
    // `/api/v1/users/{id}/exports/{export_id}`
    let mut segments = kept.path.trim_matches('/').rsplit('/');
    let export_id = segments.next().map(str::to_owned);
    let subject_id = segments
        .nth(1)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .map(AccountId::from);
    let result = match kept.outcome["status"].as_str() {
        Some("completed") => Outcome::Completed,
        Some("incomplete") => Outcome::Incomplete,
        Some("cancelled") => Outcome::Cancelled,
        _ => Outcome::Failed,
    };
    AuditEntry {
        actor: actor.to_owned(),
        actor_id,
        subject: String::new(),
        subject_id,
        reason: None,
        platform: platform.to_owned(),
        categories: Vec::new(),
        filters: Default::default(),
        export_id,
        result,
        error_code: None,
        error_message: None,
        counts: Default::default(),
        bytes: kept.outcome["bytes"].as_u64().unwrap_or(0),
        archive_path: None,
        archive_sha256: kept.outcome["archive_sha256"].as_str().map(str::to_owned),
        duration_ms: 0,
        app_version: crate::VERSION.to_owned(),
        report: None,
    }
}

/// Reports `due` within the same bounds, keeping nothing: for a discarded
/// export, which has no audit record to follow. The error, if it did not
/// get through.
pub(super) async fn report_now(client: &ApiClient, due: Due) -> Option<Error> {
    let cancel = CancelFlag::default();
    let cx = Context {
        client,
        audit: None,
        reporter: &super::Silent,
        cancel: &cancel,
        baseline: 0,
    };
    match send(&cx, &due, TRIES, Instant::now() + BOUND).await {
        Sent::Delivered | Sent::Stopped => None,
        Sent::Refused(e) | Sent::Failed(e) => Some(e),
    }
}

/// At most `tries` tries before `deadline`, with a retry policy of their
/// own (short pauses, no long `Retry-After` waits) whatever the client's is
/// for pages, stopping as soon as the user cancels.
async fn send(cx: &Context<'_>, due: &Due, tries: u32, deadline: Instant) -> Sent {
    let left = || deadline.saturating_duration_since(Instant::now());
    if left().is_zero() {
        return Sent::Failed(timed_out(cx.client, &due.path));
    }
    // Fields the policy may gain later keep their defaults.
    #[allow(clippy::needless_update)]
    let policy = RetryPolicy {
        max_retries: tries.saturating_sub(1) as usize,
        min_delay: PAUSE,
        max_delay: PAUSE * 4,
        max_retry_after: PAUSE * 10,
        give_up_after: left(),
        ..RetryPolicy::default()
    };
    let client = cx.client.clone().with_retry(policy);
    let e = match bounded(cx, left(), client.patch_json::<Value>(&due.path, &due.body)).await {
        Bounded::Stopped => return Sent::Stopped,
        Bounded::TimedOut => return Sent::Failed(timed_out(cx.client, &due.path)),
        Bounded::Done(Ok(_)) => return Sent::Delivered,
        Bounded::Done(Err(e)) => e,
    };
    match e.problem().map(|p| p.slug().to_owned()).as_deref() {
        // Ended already: an earlier try got through but its answer was
        // lost, or the session ended some other way (docs/api.md §4.6).
        Some("export-finished") => {
            match bounded(cx, left(), client.get_json::<Value>(&due.path)).await {
                Bounded::Done(Ok(session)) if same_outcome(&session["outcome"], &due.body) => {
                    Sent::Delivered
                }
                Bounded::Done(Ok(_)) => Sent::Refused(e),
                Bounded::Stopped => Sent::Stopped,
                _ => Sent::Failed(e),
            }
        }
        Some("invalid-outcome") => Sent::Refused(e),
        // Down, signed out, not this account's session…: not this run.
        _ => Sent::Failed(e),
    }
}

fn timed_out(client: &ApiClient, path: &str) -> Error {
    Error::Network {
        url: client
            .url(path)
            .map(|u| crate::error::display_url(&u))
            .unwrap_or_else(|_| path.to_owned()),
        detail: format!(
            "no answer within {} s to the outcome report",
            BOUND.as_secs()
        ),
    }
}

/// Whether the session's recorded `outcome` is the one `sent`.
fn same_outcome(recorded: &Value, sent: &Value) -> bool {
    let lower = |v: &Value| v.as_str().map(str::to_ascii_lowercase);
    recorded["status"] == sent["status"]
        && lower(&recorded["archive_sha256"]) == lower(&sent["archive_sha256"])
}

enum Bounded<T> {
    Done(T),
    TimedOut,
    Stopped,
}

async fn bounded<T>(
    cx: &Context<'_>,
    limit: Duration,
    work: impl Future<Output = T>,
) -> Bounded<T> {
    tokio::select! {
        r = tokio::time::timeout(limit, work) => match r {
            Ok(v) => Bounded::Done(v),
            Err(_) => Bounded::TimedOut,
        },
        () = until_stopped(cx) => Bounded::Stopped,
    }
}

async fn until_stopped(cx: &Context<'_>) {
    while !cx.stopped() {
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_kept_report_names_its_session() {
        let kept = PendingReport {
            platform: "https://p.example/".into(),
            path: "/api/v1/users/42/exports/exp_0123456789abcdef".into(),
            outcome: json!({"status": "incomplete", "bytes": 77, "archive_sha256": "ab".repeat(32)}),
            tries: 2,
        };
        let e = kept_entry("https://p.example/", &kept, "alice", Some(1.into()));
        assert_eq!(e.export_id.as_deref(), Some("exp_0123456789abcdef"));
        assert_eq!(e.subject_id, Some(42.into()));
        assert_eq!(e.result, Outcome::Incomplete);
        assert_eq!(e.bytes, 77);
        assert_eq!(e.archive_sha256, Some("ab".repeat(32)));
    }

    #[test]
    fn a_lost_answer_is_recognised_by_the_recorded_outcome() {
        let sent = json!({"status": "completed", "archive_sha256": "AB".repeat(32)});
        let recorded = json!({"status": "completed", "archive_sha256": "ab".repeat(32)});
        assert!(same_outcome(&recorded, &sent));
        assert!(!same_outcome(&json!({"status": "failed"}), &sent));
        assert!(!same_outcome(&Value::Null, &sent));
    }
}
