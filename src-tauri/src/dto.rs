//! What crosses IPC besides errors: camelCase for the UI, and mirrored in
//! TypeScript by ts-rs (`ui/src/lib/bindings/index.ts`, checked by the
//! `bindings_are_current` test). Nothing here ever holds a token.

use std::path::Path;

use keepsake_core::audit::{AuditRecord, ChainReport};
use keepsake_core::export::{self, ExportReport, Prepared};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

mod progress;
pub use progress::{ProgressEvent, now_ms};

/// Which platform the app talks to, and how one signs in to it.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PlatformInfo {
    /// The platform's base URL, when one is chosen.
    pub url: Option<String>,
    /// True when the app was started against the embedded demo platform
    /// (`KEEPSAKE_PLATFORM`).
    pub demo: bool,
    /// Its kind of API (`keepsake-export-api`, `wordpress`, `matrix`),
    /// when one is chosen.
    pub kind: Option<String>,
    /// What it is, for people ("WordPress"), when one is chosen.
    pub name: Option<String>,
    /// The ways to sign in it offers, the one to prefer first.
    pub offers: Vec<SignInOffer>,
    /// The categories it always has, in the order to show them (an export
    /// may find more, such as a Matrix account's rooms).
    pub categories: Vec<CategoryChoice>,
    /// Whether an export can be limited to a date range (Matrix rooms are
    /// taken whole).
    pub date_range: bool,
    /// Why it could not be asked what it is (unreachable), when it could
    /// not.
    pub problem: Option<String>,
}

/// A category to choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CategoryChoice {
    /// Its name (`posts`).
    pub name: String,
    /// What to call it ("Posts").
    pub label: String,
}

/// One way of signing in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SignInOffer {
    /// `browser`, `password` or `token`.
    pub flow: String,
    /// What to call it ("Sign in with your browser").
    pub label: String,
    /// For `password` and `token`: what the secret is called
    /// ("Application password").
    pub secret_label: Option<String>,
    /// For `password`: what the user name is called ("Matrix ID or user
    /// name").
    pub user_label: Option<String>,
    /// For `password` and `token`: the platform's page that makes the
    /// secret (WordPress's approval page), which `open_sign_in_page` opens.
    pub page: Option<String>,
}

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Platform id (`42`, `@alice:example.org`).
    pub id: String,
    /// Login name.
    pub login: String,
    /// Name to show.
    pub display_name: String,
    /// `user` or `support`.
    pub role: String,
    /// May export other accounts.
    pub support: bool,
    /// What support access is on this platform, in its terms.
    pub support_means: String,
    /// The platform signed in to.
    pub platform: String,
    /// What the platform is ("WordPress").
    pub platform_name: String,
    /// Whether the platform binds an export to a snapshot (records written
    /// during it neither appear nor shift it).
    pub snapshot: bool,
    /// Whether the platform keeps its own record of exports (else only the
    /// audit log on this computer does).
    pub platform_record: bool,
}

/// An account found by a support lookup.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// Platform id.
    pub id: String,
    /// Login name.
    pub login: String,
    /// Name to show.
    pub display_name: String,
}

/// What to export, and where (the same request prepares and runs it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    /// Someone else's account (support); `null` for one's own.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    /// Why (required with `subjectId`).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Categories; `null` for all.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// Only records from this date (`YYYY-MM-DD`).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only records before this date (`YYYY-MM-DD`).
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Destination folder.
    pub destination: String,
    /// CSV files beside the JSON (which is always there); left out for
    /// the default, on.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<bool>,
    /// The offline viewer (`index.html`); left out for the default, on.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<bool>,
    /// Split the archive into complete zips of at most this many bytes
    /// each; left out for one archive.
    #[ts(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_size: Option<u64>,
}

impl ExportRequest {
    /// Whether `other` is served by the same platform session as this one.
    /// Formats and the split only shape the archive Keepsake writes at the
    /// end, so changing them keeps a prepared (or interrupted) session
    /// rather than giving it up and opening another.
    pub fn same_session(&self, other: &Self) -> bool {
        // Spelled out field by field, so that a new field needs a decision.
        let Self {
            subject_id,
            reason,
            categories,
            since,
            until,
            destination,
            csv: _,
            viewer: _,
            split_size: _,
        } = self;
        (subject_id, reason, categories, since, until, destination)
            == (
                &other.subject_id,
                &other.reason,
                &other.categories,
                &other.since,
                &other.until,
                &other.destination,
            )
    }
}

/// One category of a prepared export.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CategoryEstimate {
    /// `posts`, `media`, …
    pub name: String,
    /// What to call it ("Posts", "Messages").
    pub label: String,
    /// The name of the room (or other container) it belongs to, if any.
    pub container: Option<String>,
    /// Records announced, where the platform announces them.
    pub records: Option<u64>,
    /// Estimated bytes.
    pub bytes: u64,
}

impl From<export::PreparedCategory> for CategoryEstimate {
    fn from(c: export::PreparedCategory) -> Self {
        Self {
            name: c.name,
            label: c.label,
            container: c.container,
            records: c.records,
            bytes: c.bytes,
        }
    }
}

/// An export session opened (or found interrupted) but not yet fetched.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Preparation {
    /// The platform's export id.
    pub export_id: String,
    /// Snapshot time.
    pub as_of: String,
    /// Login of the exported account.
    pub subject: String,
    /// Login of the signed-in account.
    pub actor: String,
    /// Per category.
    pub categories: Vec<CategoryEstimate>,
    /// Continues an interrupted export.
    pub resumed: bool,
    /// Disk space the export needs.
    pub needed_bytes: u64,
    /// Free space in the destination, when known.
    pub free_bytes: Option<u64>,
    /// The request it was prepared for.
    pub request: ExportRequest,
}

impl Preparation {
    /// The engine's preparation, for the UI.
    pub fn new(p: Prepared, request: ExportRequest) -> Self {
        Self {
            export_id: p.export_id,
            as_of: p.as_of,
            subject: p.subject,
            actor: p.actor,
            categories: p
                .categories
                .into_iter()
                .map(CategoryEstimate::from)
                .collect(),
            resumed: p.resumed,
            needed_bytes: p.needed_bytes,
            free_bytes: p.free_bytes,
            request,
        }
    }
}

/// Expected versus retrieved for one category.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CategoryCount {
    /// The category (`media_files` counts downloaded files).
    pub name: String,
    /// What to call it ("Posts", "Messages", "Downloaded files").
    pub label: String,
    /// The room (or other container) it belongs to, if any.
    pub container: Option<String>,
    /// Announced, where the platform announces counts.
    pub expected: Option<u64>,
    /// In the archive.
    pub retrieved: u64,
}

/// A finished export.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    /// `completed` or `incomplete`.
    pub outcome: String,
    /// The platform's export id.
    pub export_id: String,
    /// Full path of the archive.
    pub archive: String,
    /// Its file name.
    pub file_name: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size (of every part together, when split).
    pub bytes: u64,
    /// The files of a split archive, in order; empty for one file. Then
    /// `archive` is the first part and `sha256` that of the parts'
    /// `sha256sum` listing.
    pub parts: Vec<ArchivePart>,
    /// Per category.
    pub counts: Vec<CategoryCount>,
    /// Why it is incomplete, if it is.
    pub shortfalls: Vec<String>,
    /// Worth knowing.
    pub warnings: Vec<String>,
    /// Continued an interrupted run.
    pub resumed: bool,
    /// Exported account.
    pub subject: String,
    /// Signed-in account.
    pub actor: String,
    /// Snapshot time.
    pub as_of: String,
}

impl From<ExportReport> for ExportSummary {
    fn from(r: ExportReport) -> Self {
        Self {
            outcome: r.outcome.as_str().into(),
            export_id: r.export_id,
            file_name: file_name(&r.archive),
            archive: r.archive.display().to_string(),
            sha256: r.sha256,
            bytes: r.bytes,
            parts: r.parts.into_iter().map(ArchivePart::from).collect(),
            counts: r
                .counts
                .into_iter()
                .map(|(name, c)| {
                    let d = r.categories.iter().find(|d| d.name == name);
                    CategoryCount {
                        label: match d {
                            Some(d) => d.label.clone(),
                            None if name == "media_files" => "Downloaded files".into(),
                            None => name.clone(),
                        },
                        container: d.and_then(|d| d.container.clone()),
                        name,
                        expected: c.expected,
                        retrieved: c.retrieved,
                    }
                })
                .collect(),
            shortfalls: r.shortfalls,
            warnings: r.warnings,
            resumed: r.resumed,
            subject: r.subject,
            actor: r.actor,
            as_of: r.as_of,
        }
    }
}

/// One file of a split archive.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ArchivePart {
    /// Full path.
    pub path: String,
    /// Its file name (`NAME.part01-of-03.zip`).
    pub file_name: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

impl From<export::ArchivePart> for ArchivePart {
    fn from(p: export::ArchivePart) -> Self {
        Self {
            file_name: file_name(&p.path),
            path: p.path.display().to_string(),
            sha256: p.sha256,
            bytes: p.bytes,
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The result of checking an archive.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResult {
    /// The archive checked (any part of a split archive).
    pub archive: String,
    /// Every entry matched its checksum (and, when split, every part is
    /// there and from the same export).
    pub ok: bool,
    /// For a split archive, how many parts it has; every one is checked.
    pub parts: Option<u64>,
    /// Entries checked (in every part).
    pub files_checked: u64,
    /// Bytes checked (in every part).
    pub bytes_checked: u64,
    /// What is wrong, one sentence each.
    pub problems: Vec<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    /// Position in the log.
    pub seq: u64,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// Who ran it.
    pub actor: String,
    /// Whose data.
    pub subject: String,
    /// Why (support exports).
    pub reason: Option<String>,
    /// Categories requested.
    pub categories: Vec<String>,
    /// `completed`, `incomplete`, `failed`, `cancelled`.
    pub result: String,
    /// What ended it, if it failed.
    pub error_message: Option<String>,
    /// Archive size.
    pub bytes: u64,
    /// The archive, if one was written.
    pub archive_path: Option<String>,
    /// Its SHA-256.
    pub archive_sha256: Option<String>,
}

impl From<AuditRecord> for AuditRow {
    fn from(r: AuditRecord) -> Self {
        let e = r.entry;
        Self {
            seq: r.seq,
            time: r.time,
            actor: e.actor,
            subject: e.subject,
            reason: e.reason,
            categories: e.categories,
            result: e.result.as_str().into(),
            error_message: e.error_message,
            bytes: e.bytes,
            archive_path: e.archive_path,
            archive_sha256: e.archive_sha256,
        }
    }
}

/// The audit log and its chain check.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Newest first.
    pub rows: Vec<AuditRow>,
    /// The chain and head are intact.
    pub ok: bool,
    /// What is wrong with the chain.
    pub problems: Vec<String>,
    /// Where the log lives.
    pub location: String,
}

impl AuditView {
    /// Rows and a chain report.
    pub fn new(mut rows: Vec<AuditRow>, chain: ChainReport, location: &Path) -> Self {
        rows.reverse();
        Self {
            rows,
            ok: chain.ok,
            problems: chain.problems,
            location: location.display().to_string(),
        }
    }
}
