//! An export session on the local side: finding the interrupted export of
//! the same account in the destination folder and checking the platform
//! still holds it open, or opening a new session and staging it; what a
//! front end shows before anything is fetched ([`prepare`]); giving one up
//! ([`discard`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checked::archive_name;
use super::outcome;
use super::progress::{ExportEvent, Reporter, Silent};
use super::staging::{self, Staging};
use super::{ExportOptions, Formats, ResumeMode};
use crate::client::ApiClient;
use crate::connector::{
    Account, AccountId, Connector, Ending, Estimate, OpenRequest, Session, UserRef,
};
use crate::{Error, Result};

/// What the staging directory remembers about its export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StagedSession {
    pub(super) platform: String,
    pub(super) session: Session,
    pub(super) archive_name: String,
    /// The archive's form as chosen when the export started; a resumed run
    /// keeps it whatever it is asked for (a front end offering to resume
    /// may not know the first choice). Absent in sessions staged by older
    /// versions.
    #[serde(default)]
    pub(super) choices: Option<Choices>,
    /// The kind of the platform's API ([`Connector::kind`]); absent in
    /// sessions staged by older versions, which all spoke the Keepsake
    /// Export API.
    #[serde(default)]
    pub(super) connector: Option<String>,
}

impl StagedSession {
    /// The kind of the API the session was opened with.
    fn connector_kind(&self) -> &str {
        self.connector
            .as_deref()
            .unwrap_or(crate::connector::keepsake::KIND)
    }
}

/// What the archive is made of and how it is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Choices {
    pub(super) formats: Formats,
    pub(super) split_size: Option<u64>,
}

/// `path` on the platform as an error may show it.
pub(super) fn shown_url(client: &ApiClient, path: &str) -> String {
    client
        .url(path)
        .map(|u| crate::error::display_url(&u))
        .unwrap_or_else(|_| path.to_owned())
}

/// Finds an interrupted export of `subject_id` from `platform` in `out_dir`.
fn find_resumable(
    out_dir: &Path,
    (platform, connector): (&str, &dyn Connector),
    subject_id: &AccountId,
) -> Option<(PathBuf, StagedSession)> {
    staging::find_staged(out_dir).into_iter().find_map(|dir| {
        let raw = fs_err::read(dir.join("session.json")).ok()?;
        let s: StagedSession = serde_json::from_slice(&raw).ok()?;
        // The staged session names the folders removed when it ends; a
        // session of another API is not this one's to continue.
        (s.platform == platform
            && s.connector_kind() == connector.kind()
            && s.session.subject.id == *subject_id
            && s.is_trustworthy(&dir))
        .then_some((dir, s))
    })
}

/// The archive's form for this run: the one the export started with once
/// anything was fetched (a resumed export keeps it, whatever a front end
/// offering to resume asks for), and otherwise this run's, recorded for the
/// runs after it (a prepared session may be started with other choices).
pub(super) fn settle_choices(
    staging_dir: &Path,
    staged: &StagedSession,
    opts: &ExportOptions,
    nothing_fetched: bool,
) -> Result<Choices> {
    let asked = Choices {
        formats: opts.formats,
        split_size: opts.split_size,
    };
    match staged.choices {
        Some(first) if !nothing_fetched => {
            if first != asked {
                tracing::info!(
                    ?first,
                    "a resumed export keeps the formats and split size it started with"
                );
            }
            Ok(first)
        }
        Some(first) if first == asked => Ok(first),
        _ => {
            let updated = StagedSession {
                choices: Some(asked),
                ..staged.clone()
            };
            let json =
                serde_json::to_vec_pretty(&updated).map_err(|e| Error::Invalid(e.to_string()))?;
            write_private(&staging_dir.join("session.json"), &json)?;
            Ok(asked)
        }
    }
}

pub(super) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = staging::open_private(path, false)?;
    f.set_len(0).map_err(Error::io("truncate", path))?;
    f.write_all(bytes).map_err(Error::io("write", path))?;
    f.sync_all().map_err(Error::io("sync", path))
}

/// Finds the staged session of an interrupted export of the same account in
/// `out_dir` and checks the platform still holds it open, or opens a new
/// session and stages it. On failure, says who the actor was (if known) for
/// the audit record.
pub(super) async fn open_or_resume(
    client: &ApiClient,
    opts: &ExportOptions,
    reporter: &dyn Reporter,
) -> std::result::Result<(UserRef, PathBuf, StagedSession, bool), (Option<UserRef>, Error)> {
    let platform = client.base().to_string();
    let connector = &opts.connector;
    let account: Account = connector.whoami(client).await.map_err(|e| (None, e))?;
    let me = UserRef::from(account.clone());
    let fail = |e: Error| (Some(me.clone()), e);
    let subject_id = opts.subject_id.clone().unwrap_or_else(|| me.id.clone());
    // Someone else's data needs a reason, whatever the platform asks: it
    // goes into the audit log and the manifest (on a platform that keeps
    // no record of exports, the only record there is).
    if subject_id != me.id && opts.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(fail(Error::Invalid(
            "exporting someone else's account needs a reason; it is recorded in the audit log and the archive's manifest; nothing was exported".into(),
        )));
    }
    crate::fsx::create_private_dir(&opts.out_dir).map_err(fail)?;

    let mut resumed = false;
    let mut staged = None;
    if opts.resume != ResumeMode::Never
        && let Some((dir, s)) =
            find_resumable(&opts.out_dir, (&platform, &*opts.connector), &subject_id)
    {
        let path = connector.session_path(&s.session);
        let live = connector.live(client, &s.session).await.map_err(fail)?;
        let kept = format!(
            "nothing was written, and the interrupted export in {} is kept as it was",
            dir.display()
        );
        live.check_kept(&shown_url(client, &path), &kept)
            .map_err(fail)?;
        if live.status == "running" {
            resumed = true;
            staged = Some((dir, s));
        } else {
            reporter.report(ExportEvent::Warning {
                message: format!(
                    "an interrupted export ({}) was found but the platform has ended it ({}); starting a new one",
                    s.session.export_id, live.status
                ),
            });
            let _ = staging::remove_dir(&opts.out_dir, &dir);
            crate::archive::remove_partial(&opts.out_dir.join(&s.archive_name));
        }
    }
    if opts.resume == ResumeMode::Require && staged.is_none() {
        return Err(fail(Error::Invalid(format!(
            "there is no interrupted export of this account to resume in {}; start a new export instead",
            opts.out_dir.display()
        ))));
    }
    let (staging_dir, staged) = match staged {
        Some(x) => x,
        None => {
            let request = OpenRequest {
                reason: opts.reason.clone(),
                categories: opts.categories.clone(),
                since: opts.since.clone(),
                until: opts.until.clone(),
            };
            let (session, path) = connector
                .open(client, &account, &subject_id, &request)
                .await
                .map_err(fail)?;
            session.check(&shown_url(client, &path)).map_err(fail)?;
            let s = StagedSession {
                connector: Some(connector.kind().to_owned()),
                platform: platform.clone(),
                archive_name: archive_name(&session),
                session,
                choices: Some(Choices {
                    formats: opts.formats,
                    split_size: opts.split_size,
                }),
            };
            let dir = Staging::dir_for(&opts.out_dir, &s.session.export_id).map_err(fail)?;
            Staging::open(&dir).map_err(fail)?;
            let json =
                serde_json::to_vec_pretty(&s).map_err(|e| fail(Error::Invalid(e.to_string())))?;
            write_private(&dir.join("session.json"), &json).map_err(fail)?;
            (dir, s)
        }
    };
    Ok((me, staging_dir, staged, resumed))
}

/// Every category of `s`, as a front end shows it.
pub(super) fn described(
    connector: &(dyn Connector + 'static),
    s: &Session,
) -> Vec<PreparedCategory> {
    s.categories
        .iter()
        .map(|(name, e)| {
            let d = connector.category_in(s, name);
            PreparedCategory {
                name: name.clone(),
                label: d
                    .as_ref()
                    .map_or_else(|| name.clone(), |d| d.label.to_string()),
                container: d
                    .and_then(|d| d.container)
                    .and_then(|c| s.containers.iter().find(|k| k.name == c))
                    .map(|c| c.title.clone()),
                records: e.count,
                bytes: e.bytes,
            }
        })
        .collect()
}

/// One category of a prepared export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreparedCategory {
    /// Its name (`posts`, `room_0003_events`).
    pub name: String,
    /// What to call it ("Posts", "Messages").
    pub label: String,
    /// The title of the container it belongs to (a room's name, untrusted
    /// text), if it belongs to one.
    pub container: Option<String>,
    /// Records announced, where the platform announces them.
    pub records: Option<u64>,
    /// Estimated bytes.
    pub bytes: u64,
}

/// What an export session holds, known before anything is fetched.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    /// The platform's export id.
    pub export_id: String,
    /// The snapshot time.
    pub as_of: String,
    /// Login of the exported account.
    pub subject: String,
    /// Login of the signed-in account.
    pub actor: String,
    /// Each category: what it is, and what the platform announced.
    pub categories: Vec<PreparedCategory>,
    /// Whether this continues an interrupted export.
    pub resumed: bool,
    /// Estimated disk space the export needs (staging plus archive).
    pub needed_bytes: u64,
    /// Free space in the destination, when the system says.
    pub free_bytes: Option<u64>,
}

/// Opens (or finds the interrupted) export session and stages it in
/// `opts.out_dir`, without fetching anything: a front end shows the counts,
/// estimated size and free space, then calls [`run`] with the same options
/// (which continues this session) or [`discard`].
pub async fn prepare(client: &ApiClient, opts: &ExportOptions) -> Result<Prepared> {
    let (_, _, staged, resumed) = open_or_resume(client, opts, &Silent)
        .await
        .map_err(|(_, e)| e)?;
    let s = &staged.session;
    Ok(Prepared {
        export_id: s.export_id.clone(),
        as_of: s.as_of.clone(),
        subject: s.subject.login.clone(),
        actor: s.actor.login.clone(),
        categories: described(&*opts.connector, s),
        resumed,
        needed_bytes: needed_space(
            &s.categories,
            files_of(&*opts.connector, s),
            opts.split_size.is_some(),
        ),
        free_bytes: fs4::available_space(&opts.out_dir).ok(),
    })
}

/// Gives up a prepared or interrupted export of this account in
/// `opts.out_dir`: tells the platform it was cancelled (so it does not count
/// against the quota) and removes what was staged.
pub async fn discard(client: &ApiClient, opts: &ExportOptions) -> Result<()> {
    let me = opts.connector.whoami(client).await?;
    let subject_id = opts.subject_id.clone().unwrap_or(me.id);
    let platform = client.base().to_string();
    if let Some((dir, s)) =
        find_resumable(&opts.out_dir, (&platform, &*opts.connector), &subject_id)
    {
        let ending = Ending {
            status: "cancelled",
            counts: BTreeMap::new(),
            archive: None,
            error: Some("discarded before it started"),
        };
        if let Some(report) = opts.connector.report(&s.session, &ending)
            && let Some(e) = outcome::report_now(client, report.into()).await
            && !matches!(
                e.code(),
                crate::Code::ExportRunning | crate::Code::ExportFinished
            )
        {
            // Already ended (409) is fine; anything else is worth saying.
            tracing::warn!(error = %e, "could not tell the platform the export was cancelled");
        }
        staging::remove_dir(&opts.out_dir, &dir)?;
        crate::archive::remove_partial(&opts.out_dir.join(&s.archive_name));
    }
    Ok(())
}

/// Which categories of `session` hold files, for [`needed_space`].
pub(super) fn files_of<'a>(
    connector: &'a (dyn Connector + 'static),
    session: &'a Session,
) -> impl Fn(&str) -> bool + 'a {
    move |name| {
        connector
            .category_in(session, name)
            .is_some_and(|c| c.kind == crate::connector::CategoryKind::Files)
    }
}

/// The bytes the platform estimates for these categories, added without
/// overflowing (the figures are the platform's, and may be anything).
pub(super) fn estimated_bytes<'a>(estimates: impl IntoIterator<Item = &'a Estimate>) -> u64 {
    estimates
        .into_iter()
        .fold(0, |sum, e| sum.saturating_add(e.bytes))
}

/// Free space an export needs, with a margin for the file system. An
/// archive in one piece takes its own size, plus the staged records (kept
/// until the end) and the media staged since the last sync (at most an
/// eighth of the export, 128 MiB); a split archive is laid out from staged
/// data at the end, so needs twice the estimate.
/// `is_files` says which categories' bytes are files (not staged records).
pub(super) fn needed_space(
    categories: &BTreeMap<String, Estimate>,
    is_files: impl Fn(&str) -> bool,
    split: bool,
) -> u64 {
    let total = estimated_bytes(categories.values());
    let margin = 64 << 20;
    if split {
        return total.saturating_mul(2).saturating_add(margin);
    }
    let records = estimated_bytes(
        categories
            .iter()
            .filter(|(name, _)| !is_files(name))
            .map(|(_, e)| e),
    );
    total
        .saturating_add(records)
        .saturating_add(super::sync_interval(total))
        .saturating_add(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_in_one_piece_needs_about_its_size_a_split_one_twice() {
        const MIB: u64 = 1 << 20;
        let estimate = |bytes: u64| Estimate {
            count: Some(1),
            bytes,
            start: None,
        };
        let cats: BTreeMap<String, Estimate> = [
            ("posts".to_owned(), estimate(100 * MIB)),
            ("media".to_owned(), estimate(10_000 * MIB)),
        ]
        .into();
        let is_files = |name: &str| name == "media";
        let whole = needed_space(&cats, is_files, false);
        // The archive, the staged records, one sync interval, the margin.
        assert_eq!(whole, (10_100 + 100 + 128 + 64) * MIB);
        assert_eq!(needed_space(&cats, is_files, true), (2 * 10_100 + 64) * MIB);
        assert!(whole < needed_space(&cats, is_files, true));
    }

    #[test]
    fn estimates_past_any_disk_ask_for_all_of_it_without_overflowing() {
        let estimate = |bytes: u64| Estimate {
            count: None,
            bytes,
            start: None,
        };
        let cats: BTreeMap<String, Estimate> = [
            ("posts".to_owned(), estimate(u64::MAX / 2 + 1)),
            ("pages".to_owned(), estimate(u64::MAX / 2 + 1)),
        ]
        .into();
        assert_eq!(needed_space(&cats, |_| false, false), u64::MAX);
        assert_eq!(needed_space(&cats, |_| false, true), u64::MAX);
    }
}
