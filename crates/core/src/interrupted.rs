//! Interrupted exports left in a destination folder, listed the way a front
//! end needs them to offer resuming on launch: whose data, who started it,
//! from which platform. Read from each staging folder's `session.json`
//! only; this module never asks the platform, and never changes or deletes
//! anything (resuming and discarding are [`crate::export::run`] and
//! [`crate::export::discard`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::export::STAGING_PREFIX;

/// An account as a staged session names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Person {
    /// The platform's user id.
    pub id: crate::connector::AccountId,
    /// The login.
    pub login: String,
}

/// An interrupted export found in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// Its staging folder (`.keepsake-{export_id}` in the destination).
    pub staging_dir: PathBuf,
    /// The platform it came from, as the engine's client names it
    /// (`ApiClient::base`).
    pub platform: String,
    /// The platform's export session.
    pub export_id: String,
    /// The snapshot time the platform gave the session.
    pub as_of: String,
    /// Whose data it is.
    pub subject: Person,
    /// Who started it (support staff, for a customer's export).
    pub actor: Person,
    /// Why, for an export of someone else's account.
    pub reason: Option<String>,
}

/// The part of a staging folder's `session.json` read here; the engine
/// writes more.
#[derive(Deserialize)]
struct Staged {
    platform: String,
    session: Session,
}

#[derive(Deserialize)]
struct Session {
    export_id: String,
    #[serde(default)]
    as_of: String,
    subject: Person,
    actor: Person,
    #[serde(default)]
    reason: Option<String>,
}

/// The interrupted exports in `out_dir`, in the order of their staging
/// folders' names. A folder that cannot be read has none; a staging folder
/// whose `session.json` is missing or unreadable is left out (the engine
/// could not resume it either).
pub fn list(out_dir: &Path) -> Vec<Interrupted> {
    let Ok(entries) = fs_err::read_dir(out_dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(STAGING_PREFIX))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .filter_map(|dir| {
            let raw = fs_err::read(dir.join("session.json")).ok()?;
            let s: Staged = serde_json::from_slice(&raw).ok()?;
            // The engine resumes only sessions whose id is a plain name
            // (see `export::find_resumable`); offering others would fail.
            if !crate::export::is_plain_export_id(&s.session.export_id) {
                return None;
            }
            Some(Interrupted {
                staging_dir: dir,
                platform: s.platform,
                export_id: s.session.export_id,
                as_of: s.session.as_of,
                subject: s.session.subject,
                actor: s.session.actor,
                reason: s.session.reason.filter(|r| !r.trim().is_empty()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(out: &Path, id: &str, session: &str) {
        let dir = out.join(format!("{STAGING_PREFIX}{id}"));
        fs_err::create_dir_all(&dir).expect("staging dir");
        fs_err::write(dir.join("session.json"), session).expect("session.json");
    }

    fn session(id: &str, subject: (i64, &str), actor: (i64, &str), reason: &str) -> String {
        serde_json::json!({
            "platform": "http://127.0.0.1:8765/",
            "archive_name": format!("keepsake-{}-x.zip", subject.1),
            "session": {
                "export_id": id,
                "status": "running",
                "as_of": "2026-11-26T10:00:00Z",
                "subject": {"id": subject.0, "login": subject.1},
                "actor": {"id": actor.0, "login": actor.1},
                "reason": if reason.is_empty() { serde_json::Value::Null } else { reason.into() },
                "since": null,
                "until": null,
                "categories": {"posts": {"count": 3, "bytes": 900}},
            },
            "choices": {"formats": {"csv": true, "viewer": true}, "split_size": null},
        })
        .to_string()
    }

    #[test]
    fn lists_each_staged_export_with_whose_it_is_and_who_started_it() {
        let out = tempfile::tempdir().expect("tmp");
        stage(
            out.path(),
            "exp_b",
            &session("exp_b", (1, "alice"), (3, "carol"), "Ticket 4411"),
        );
        stage(
            out.path(),
            "exp_a",
            &session("exp_a", (1, "alice"), (1, "alice"), ""),
        );
        let found = list(out.path());
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].export_id, "exp_a");
        assert_eq!(found[0].staging_dir, out.path().join(".keepsake-exp_a"));
        assert_eq!(found[0].platform, "http://127.0.0.1:8765/");
        assert_eq!(found[0].actor, found[0].subject);
        assert_eq!(found[0].reason, None);
        assert_eq!(
            found[1].subject,
            Person {
                id: 1.into(),
                login: "alice".into()
            }
        );
        assert_eq!(found[1].actor.login, "carol");
        assert_eq!(found[1].reason.as_deref(), Some("Ticket 4411"));
        assert_eq!(found[1].as_of, "2026-11-26T10:00:00Z");
    }

    #[test]
    fn leaves_out_what_is_not_an_interrupted_export() {
        let out = tempfile::tempdir().expect("tmp");
        // Not a staging folder, a torn session, a staging folder without one.
        fs_err::create_dir_all(out.path().join("keepsake-exp_x")).expect("dir");
        fs_err::write(
            out.path().join("keepsake-exp_x/session.json"),
            session("exp_x", (1, "a"), (1, "a"), ""),
        )
        .expect("write");
        stage(
            out.path(),
            "exp_torn",
            "{\"platform\": \"http://x/\", \"sess",
        );
        fs_err::create_dir_all(out.path().join(".keepsake-exp_empty")).expect("dir");
        // An id the engine would refuse to resume (issue 14: it names a path).
        stage(
            out.path(),
            "exp_evil",
            &session("exp_1/../../victim", (1, "a"), (1, "a"), ""),
        );
        assert_eq!(list(out.path()), []);
        assert_eq!(list(&out.path().join("no such folder")), []);
    }
}
