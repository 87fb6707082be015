//! Outcome reports the platform has not received yet.
//!
//! An export's outcome is reported with `PATCH …/exports/{export_id}` after
//! its archive is final and its audit record written. A platform that does
//! not answer must not keep the user waiting, so a report that could not be
//! delivered in a few tries is kept here and sent again by the next export
//! or sign-in to the same platform.
//!
//! `pending-reports.json` (`0600`) sits beside the log and holds, per
//! report, only the platform's base URL, the API path and the outcome body
//! (plus how many runs have tried): no token, nothing the audit record does
//! not already say. It is rewritten whole (temporary file, fsync, rename)
//! under the log's lock, so the CLI and the desktop app never lose each
//! other's reports.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AuditLog;
use super::store::lock;
use crate::{Error, Result};

const PENDING_FILE: &str = "pending-reports.json";

/// At most this many reports are kept; the oldest go first. A platform down
/// for that many exports has long closed the sessions as abandoned.
const MAX_KEPT: usize = 64;

/// One report to send again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingReport {
    /// The platform's base URL, as the audit log records it (without user
    /// info or query).
    pub platform: String,
    /// The API path of the export session (`/api/v1/users/{id}/exports/{export_id}`).
    pub path: String,
    /// The `PATCH` body: the outcome as the contract spells it.
    pub outcome: Value,
    /// How many runs have tried to send it so far.
    #[serde(default)]
    pub tries: u32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PendingFile {
    reports: Vec<PendingReport>,
}

impl AuditLog {
    /// The file of reports still to send, `pending-reports.json`.
    pub fn pending_reports_path(&self) -> PathBuf {
        self.dir().join(PENDING_FILE)
    }

    /// Keeps `report` for a later run, in the place of one kept for the same
    /// session (so the oldest stay first).
    pub fn keep_report(&self, report: PendingReport) -> Result<()> {
        self.update_pending(|reports| {
            match reports
                .iter_mut()
                .find(|r| r.platform == report.platform && r.path == report.path)
            {
                Some(same) => *same = report,
                None => reports.push(report),
            }
            if reports.len() > MAX_KEPT {
                let excess = reports.len() - MAX_KEPT;
                reports.drain(..excess);
            }
        })
    }

    /// The reports kept for `platform`, oldest first.
    pub fn pending_reports(&self, platform: &str) -> Result<Vec<PendingReport>> {
        let _lock = lock(self, false)?;
        Ok(read(&self.pending_reports_path())?
            .reports
            .into_iter()
            .filter(|r| r.platform == platform)
            .collect())
    }

    /// Forgets the report kept for one session (delivered, or given up).
    pub fn forget_report(&self, platform: &str, path: &str) -> Result<()> {
        self.update_pending(|reports| {
            reports.retain(|r| !(r.platform == platform && r.path == path));
        })
    }

    fn update_pending(&self, change: impl FnOnce(&mut Vec<PendingReport>)) -> Result<()> {
        let _lock = lock(self, true)?;
        let path = self.pending_reports_path();
        let mut file = read(&path)?;
        let before = file.reports.clone();
        change(&mut file.reports);
        if file.reports == before {
            return Ok(());
        }
        if file.reports.is_empty() {
            return match fs_err::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io("remove", &path)(e)),
            };
        }
        let body = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::Invalid(format!("cannot encode the pending reports ({e})")))?;
        let tmp = self.dir().join(format!("{PENDING_FILE}.tmp"));
        crate::fsx::replace_private(&path, &tmp, &body)
    }
}

/// The file as found: missing is empty. A damaged file is set aside rather
/// than blocking every export after it: it only ever holds reports the
/// audit log already records.
fn read(path: &std::path::Path) -> Result<PendingFile> {
    let bytes = match fs_err::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PendingFile::default()),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    match serde_json::from_slice(&bytes) {
        Ok(file) => Ok(file),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "the pending outcome reports are unreadable; setting them aside");
            let aside = path.with_extension("json.damaged");
            let _ = fs_err::rename(path, &aside);
            Ok(PendingFile::default())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(platform: &str, id: &str, tries: u32) -> PendingReport {
        PendingReport {
            platform: platform.into(),
            path: format!("/api/v1/users/1/exports/{id}"),
            outcome: json!({"status": "completed", "archive_sha256": "ab".repeat(32)}),
            tries,
        }
    }

    #[test]
    fn reports_are_kept_per_platform_replaced_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        assert!(
            log.pending_reports("https://a.example/")
                .unwrap()
                .is_empty()
        );
        log.keep_report(report("https://a.example/", "exp_1", 0))
            .unwrap();
        log.keep_report(report("https://b.example/", "exp_2", 0))
            .unwrap();
        log.keep_report(report("https://a.example/", "exp_1", 1))
            .unwrap();
        log.keep_report(report("https://a.example/", "exp_3", 0))
            .unwrap();
        let a = log.pending_reports("https://a.example/").unwrap();
        assert_eq!(
            a,
            vec![
                report("https://a.example/", "exp_1", 1),
                report("https://a.example/", "exp_3", 0)
            ]
        );
        log.forget_report("https://a.example/", &a[1].path).unwrap();
        log.forget_report("https://a.example/", &a[0].path).unwrap();
        assert!(
            log.pending_reports("https://a.example/")
                .unwrap()
                .is_empty()
        );
        assert_eq!(log.pending_reports("https://b.example/").unwrap().len(), 1);
        log.forget_report("https://b.example/", "/api/v1/users/1/exports/exp_2")
            .unwrap();
        // Nothing left: no file left either.
        assert!(!log.pending_reports_path().exists());
    }

    #[test]
    fn the_file_is_private_and_holds_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        log.keep_report(report("https://a.example/", "exp_1", 0))
            .unwrap();
        let text = fs_err::read_to_string(log.pending_reports_path()).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = value["reports"][0].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        for k in ["platform", "path", "outcome", "tries"] {
            assert!(value["reports"][0].get(k).is_some(), "{k}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(log.pending_reports_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_the_oldest_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        fs_err::write(log.pending_reports_path(), b"{not json").unwrap();
        assert!(
            log.pending_reports("https://a.example/")
                .unwrap()
                .is_empty()
        );
        for i in 0..(MAX_KEPT + 3) {
            log.keep_report(report("https://a.example/", &format!("exp_{i}"), 0))
                .unwrap();
        }
        let kept = log.pending_reports("https://a.example/").unwrap();
        assert_eq!(kept.len(), MAX_KEPT);
        assert!(kept[0].path.ends_with("/exp_3"));
        assert!(dir.path().join("pending-reports.json.damaged").exists());
    }
}
