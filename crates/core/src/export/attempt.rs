//! What an export attempt leaves in the audit log: who, whose account,
//! why, what was asked, and how it ended, known piece by piece as the
//! attempt goes.

use std::collections::BTreeMap;
use std::time::Instant;

use super::report::ExportReport;
use super::{ExportOptions, Outcome, outcome};
use crate::client::ApiClient;
use crate::connector::UserRef;
use crate::{Error, Result};

/// What is known about an export attempt so far, for its audit record.
#[derive(Default)]
pub(super) struct Attempt {
    pub(super) actor: Option<UserRef>,
    pub(super) subject: Option<UserRef>,
    pub(super) export_id: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) categories: Vec<String>,
    /// The outcome to report to the platform, once the audit record is
    /// written.
    pub(super) due: Option<outcome::Due>,
}

/// The audit record of an attempt, whatever its result.
pub(super) fn audit_entry(
    client: &ApiClient,
    opts: &ExportOptions,
    a: &Attempt,
    result: &Result<ExportReport>,
    started: Instant,
) -> crate::audit::AuditEntry {
    use crate::audit::{AuditEntry, CategoryCount, Filters};
    let (outcome, code, message) = match result {
        Ok(r) => (r.outcome, None, None),
        Err(Error::Cancelled) => (Outcome::Cancelled, Some("cancelled".to_owned()), None),
        Err(e) => (
            Outcome::Failed,
            Some(e.code().as_str().to_owned()),
            Some(e.to_string()),
        ),
    };
    let counts = match result {
        Ok(r) => r
            .counts
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    CategoryCount {
                        expected: c.expected,
                        retrieved: c.retrieved,
                    },
                )
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    };
    AuditEntry {
        actor: a
            .actor
            .as_ref()
            .map(|u| u.login.clone())
            .unwrap_or_default(),
        actor_id: a.actor.as_ref().map(|u| u.id.clone()),
        subject: a
            .subject
            .as_ref()
            .map(|u| u.login.clone())
            .unwrap_or_default(),
        subject_id: a
            .subject
            .as_ref()
            .map(|u| u.id.clone())
            .or_else(|| opts.subject_id.clone()),
        reason: a.reason.clone().or_else(|| opts.reason.clone()),
        platform: crate::error::display_url(client.base()),
        categories: if a.categories.is_empty() {
            opts.categories.clone().unwrap_or_default()
        } else {
            a.categories.clone()
        },
        filters: Filters {
            since: opts.since.clone(),
            until: opts.until.clone(),
        },
        export_id: a.export_id.clone(),
        result: outcome,
        error_code: code,
        error_message: message,
        counts,
        bytes: result.as_ref().map(|r| r.bytes).unwrap_or(0),
        archive_path: result
            .as_ref()
            .ok()
            .map(|r| r.archive.display().to_string()),
        archive_sha256: result.as_ref().ok().map(|r| r.sha256.clone()),
        duration_ms: started.elapsed().as_millis() as u64,
        app_version: crate::VERSION.to_owned(),
        report: None,
    }
}
