//! The parts of an export session that become file names, checked the
//! moment the platform's answer is parsed.
//!
//! The export id names the staging folder and part of the archive, the
//! snapshot date and the subject's login name the archive, and category
//! names name files in both. A platform that sends `exp_1/../../victim` or
//! `/tmp/x` as its export id must not choose where Keepsake writes or what
//! it deletes, so each of these is held to a strict pattern (or, for
//! logins, passed through [`crate::archive::names::NameAllocator`]) before
//! any of them is joined to a path. A violation is the platform breaking
//! the contract ([`Error::Protocol`]), reported before anything is written.

use std::path::{Component, Path};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Session, StagedSession};
use crate::archive::names::NameAllocator;
use crate::{Error, Result};

/// The longest export id accepted: ids are opaque tokens, and a staging
/// folder name must stay far below the 255 bytes file systems allow.
const MAX_EXPORT_ID: usize = 64;

/// The longest category name accepted.
const MAX_CATEGORY: usize = 32;

/// The most of the subject's login an archive name holds, in UTF-8 bytes:
/// with the rest of the name, a split archive's `.partNN-of-NN` and a
/// `.partial` while it is written, the name stays well under the 255 bytes
/// file systems allow.
const MAX_LOGIN_IN_NAME: usize = 64;

/// How much of a rejected value an error message quotes: enough to
/// recognise it, never a screenful a hostile server chose.
const QUOTE_CHARS: usize = 80;

/// Whether `id` is a plain export id: an ASCII letter or digit, then up to
/// 63 letters, digits, `-` or `_`. Such an id is one normal path component
/// on every system, so `.keepsake-{id}` can only ever be a direct child of
/// the output folder.
pub(crate) fn is_plain_export_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id.len() <= MAX_EXPORT_ID
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `name` is a plain category name: a lower-case ASCII letter, then
/// up to 31 lower-case letters, digits or `_` (`posts`, `media`, …), and
/// not one of the names the archive gives its own files (`manifest`,
/// `files`).
pub(crate) fn is_plain_category(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= MAX_CATEGORY
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !RESERVED.contains(&name)
}

/// Names of the archive's own files under `data/`, which no category may
/// take.
const RESERVED: [&str; 2] = ["manifest", super::FILES_INDEX];

/// The date (as the platform's own offset has it) of an RFC 3339 snapshot
/// time, or `None` when `as_of` is not one.
pub(crate) fn snapshot_date(as_of: &str) -> Option<time::Date> {
    OffsetDateTime::parse(as_of, &Rfc3339)
        .ok()
        .map(|t| t.date())
}

/// Whether `name` is a single normal path component: not empty, no
/// separator of any system, no `.` or `..`, no drive prefix, no control
/// character. What passes can be joined to a folder and stays inside it.
pub(crate) fn is_single_component(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(components.next(), Some(Component::Normal(_)))
        && components.next().is_none()
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control)
}

/// Whether `name` is a file name Keepsake gives an archive: one plain
/// component, `keepsake-….zip`. A staged session of an older version (or
/// one edited by hand) with anything else is not used.
fn is_archive_name(name: &str) -> bool {
    is_single_component(name) && name.starts_with("keepsake-") && name.ends_with(".zip")
}

/// `value` quoted for a message: escaped (a control character shows as
/// `\u{1b}`, never reaches the terminal) and cut short.
fn quote(value: &str) -> String {
    let mut cut: String = value.chars().take(QUOTE_CHARS).collect();
    if cut.len() < value.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

impl Session {
    /// Checks every field that reaches a path, as the platform sent it in
    /// answer to `url` (already shown without query or credentials).
    pub(super) fn check(&self, url: &str) -> Result<()> {
        self.check_kept(url, "nothing was written")
    }

    /// [`Session::check`], saying in `kept` what a refusal leaves as it was.
    pub(super) fn check_kept(&self, url: &str, kept: &str) -> Result<()> {
        let refuse = |detail: String| Error::Protocol {
            url: url.to_owned(),
            detail: format!(
                "{detail}; {kept}. Keepsake cannot export from this platform until it sends what the Export API specifies: tell whoever runs it"
            ),
        };
        if !is_plain_export_id(&self.export_id) {
            return Err(refuse(format!(
                "the export id {} is not a plain name (1 to {MAX_EXPORT_ID} letters, digits, '-' or '_')",
                quote(&self.export_id)
            )));
        }
        if snapshot_date(&self.as_of).is_none() {
            return Err(refuse(format!(
                "the snapshot time (as_of) {} is not an RFC 3339 date and time",
                quote(&self.as_of)
            )));
        }
        if let Some(bad) = self.categories.keys().find(|c| !is_plain_category(c)) {
            return Err(refuse(format!(
                "the category name {} is not a plain name (lower-case letters, digits and '_')",
                quote(bad)
            )));
        }
        // What the connector made as the session opened names files too.
        if let Some(bad) = self.found.iter().find(|c| !is_plain_category(&c.name)) {
            return Err(refuse(format!(
                "the category name {} is not a plain name (lower-case letters, digits and '_')",
                quote(&bad.name)
            )));
        }
        if let Some(bad) = self.containers.iter().find(|c| !is_plain_category(&c.name)) {
            return Err(refuse(format!(
                "the name {} of a {} is not a plain name (lower-case letters, digits and '_')",
                quote(&bad.name),
                bad.kind
            )));
        }
        Ok(())
    }
}

impl StagedSession {
    /// Whether a staged `session.json` read back from `dir` may be resumed
    /// or discarded: the session passes [`Session::check`], `dir` is the
    /// staging folder its export id names, and its archive name is one
    /// Keepsake gives. Anything else (an older version's, a hand-edited
    /// file) is left alone rather than trusted with paths.
    pub(super) fn is_trustworthy(&self, dir: &Path) -> bool {
        self.session.check("").is_ok()
            && dir.file_name().and_then(|n| n.to_str())
                == Some(&format!(
                    "{}{}",
                    super::STAGING_PREFIX,
                    self.session.export_id
                ))
            && is_archive_name(&self.archive_name)
    }
}

/// The user-facing name of an archive, from checked pieces only: the
/// subject's login through the name sanitiser, the date parsed from the
/// snapshot time, the start of the export id.
pub(super) fn archive_name(session: &Session) -> String {
    let mut login = NameAllocator::default().allocate(&session.subject.login, "account");
    let mut cut = login.len().min(MAX_LOGIN_IN_NAME);
    while !login.is_char_boundary(cut) {
        cut -= 1;
    }
    login.truncate(cut);
    let date = snapshot_date(&session.as_of)
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|| "undated".to_owned());
    let id = session.export_id.trim_start_matches("exp_");
    // Plain ids are ASCII, so any cut is on a character boundary; anything
    // else (never passed [`Session::check`]) does not name the archive.
    let short = if is_plain_export_id(id) {
        &id[..id.len().min(8)]
    } else {
        "export"
    };
    format!("keepsake-{login}-{date}-{short}.zip")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(export_id: &str, as_of: &str, login: &str) -> Session {
        serde_json::from_value(serde_json::json!({
            "export_id": export_id,
            "status": "running",
            "as_of": as_of,
            "subject": {"id": 1, "login": login},
            "actor": {"id": 1, "login": login},
            "reason": null,
            "since": null,
            "until": null,
            "categories": {"posts": {"count": 1, "bytes": 10}},
        }))
        .expect("session")
    }

    #[test]
    fn export_ids_are_plain_names_only() {
        for ok in ["exp_abcdef01", "a", "0-_x", &"x".repeat(64)] {
            assert!(is_plain_export_id(ok), "{ok}");
        }
        for bad in [
            "",
            "exp_abcdef01/../../victim",
            "/tmp/victim",
            "..",
            ".hidden",
            "-flag",
            "_x",
            "a\\b",
            "C:x",
            "a b",
            "a\u{1b}[2J",
            "caf\u{e9}",
            &"x".repeat(65),
        ] {
            assert!(!is_plain_export_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_snapshot_date_is_parsed_not_sliced() {
        let d = snapshot_date("2026-11-26T23:30:00-05:00").expect("valid");
        assert_eq!(d.to_string(), "2026-11-26", "the platform's own date");
        for bad in [
            "/../../..",
            "2026-11-26",
            "2026-11-26/../../x",
            "2026-13-01T00:00:00Z",
            "",
        ] {
            assert_eq!(snapshot_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn single_components_stay_in_their_folder() {
        for ok in [
            ".keepsake-exp_1",
            "keepsake-alice-2026-11-26-abc.zip",
            "a.b",
        ] {
            assert!(is_single_component(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "a/b", "/abs", "a\\b", "C:", "C:x", "a\nb", "../x",
        ] {
            assert!(!is_single_component(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_session_with_a_hostile_field_is_refused_naming_the_field() {
        let url = "http://127.0.0.1:1/api/v1/users/1/exports";
        let good = session("exp_abcdef01", "2026-11-26T10:00:00Z", "alice");
        good.check(url).expect("a normal session passes");
        for (s, field) in [
            (
                session("exp_abcdef01/../../victim", "2026-11-26T10:00:00Z", "a"),
                "export id",
            ),
            (
                session("/tmp/victim", "2026-11-26T10:00:00Z", "a"),
                "export id",
            ),
            (session("exp_abcdef01", "/../../..", "a"), "as_of"),
        ] {
            let e = s.check(url).expect_err("refused");
            let text = e.to_string();
            assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
            assert!(text.contains(field) && text.contains(url), "{text}");
            assert!(text.contains("nothing was written"), "{text}");
        }
        let mut s = good.clone();
        s.categories =
            serde_json::from_value(serde_json::json!({"../posts": {"count": 1, "bytes": 1}}))
                .expect("categories");
        assert!(
            s.check(url)
                .expect_err("refused")
                .to_string()
                .contains("category")
        );
        // Escaped: the terminal never receives what the platform chose.
        let e = session("a\u{1b}[2J", "2026-11-26T10:00:00Z", "a")
            .check(url)
            .expect_err("refused");
        assert!(!e.to_string().contains('\u{1b}'), "{e}");
    }

    #[test]
    fn archive_names_come_from_checked_pieces() {
        let s = session("exp_abcdef0123", "2026-11-26T10:00:00Z", "alice");
        assert_eq!(archive_name(&s), "keepsake-alice-2026-11-26-abcdef01.zip");
        let s = session("exp_ab", "2026-11-26T10:00:00+02:00", "../../al\u{1b}ice");
        let name = archive_name(&s);
        assert!(is_archive_name(&name), "{name:?}");
        assert!(name.ends_with("-2026-11-26-ab.zip"), "{name}");
        // Never checked, still one component.
        let s = session("exp_abcdef01/../keepsake-alice-", "/../../../x", "a");
        let name = archive_name(&s);
        assert_eq!(name, "keepsake-a-undated-export.zip");
        // A long login (here 2-byte characters) is cut on a character boundary.
        let s = session(
            "exp_abcdef01",
            "2026-11-26T10:00:00Z",
            &"\u{e9}".repeat(300),
        );
        let name = archive_name(&s);
        assert_eq!(
            name,
            format!("keepsake-{}-2026-11-26-abcdef01.zip", "\u{e9}".repeat(32))
        );
    }

    #[test]
    fn a_staged_session_is_trusted_only_when_it_names_its_own_folder_and_a_plain_archive() {
        let staged = |id: &str, archive: &str| StagedSession {
            platform: "http://127.0.0.1:1/".into(),
            session: session(id, "2026-11-26T10:00:00Z", "alice"),
            archive_name: archive.into(),
            choices: None,
            connector: None,
        };
        let out = Path::new("/home/a/out");
        let dir = out.join(".keepsake-exp_abcdef01");
        assert!(
            staged("exp_abcdef01", "keepsake-alice-2026-11-26-abcdef01.zip").is_trustworthy(&dir)
        );
        for (id, archive) in [
            ("exp_abcdef01", "../victim/keep.txt"),
            ("exp_abcdef01", "/tmp/keepsake-x.zip"),
            ("exp_abcdef01", "keepsake-x.zip/../../y.zip"),
            ("exp_abcdef01", "other.zip"),
            ("exp_other", "keepsake-alice-2026-11-26-abcdef01.zip"),
            ("exp_abcdef01/../../victim", "keepsake-a.zip"),
        ] {
            assert!(!staged(id, archive).is_trustworthy(&dir), "{id} {archive}");
        }
    }
}
