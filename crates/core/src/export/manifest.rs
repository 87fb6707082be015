//! What an export adds up to once everything is fetched: the counts per
//! category against what the platform announced, why the archive is
//! incomplete if it is, what is worth a warning, and `manifest.json`, which
//! says all of it, and what the archive is, to any reader in years to come.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::media::MediaTally;
use super::{Counts, FILES_INDEX, FORMAT_VERSION, Formats, Outcome, Shared, StagedSession, Tally};
use crate::connector::{Category, Container};

/// The counts, shortfalls and warnings of a finished fetch.
pub(super) struct Reckoning {
    pub(super) counts: BTreeMap<String, Counts>,
    pub(super) shortfalls: Vec<String>,
    pub(super) warnings: Vec<String>,
    pub(super) outcome: Outcome,
    /// Per category, the records its marker marked, and what they are.
    pub(super) marked: serde_json::Map<String, Value>,
}

/// The name the count of files goes by (in the report, the audit log and
/// the manifest), for archives of every platform.
pub(super) const FILES_COUNT: &str = "media_files";

/// Adds up the tallies of every category and of the downloads. Where the
/// platform's counts are `exact`, fewer records than it announced is a
/// shortfall; where they are estimates (WordPress counts records the
/// account may not read, and records written during the export), a
/// difference is explained, not called missing.
pub(super) fn reckon(
    tallies: &BTreeMap<String, Tally>,
    files: Option<&MediaTally>,
    (descriptors, containers): (&[Arc<Category>], &[Container]),
    exact: bool,
) -> Reckoning {
    let mut counts = BTreeMap::new();
    let mut shortfalls = Vec::new();
    let mut warnings = Vec::new();
    let mut marked = serde_json::Map::new();
    let label = |cat: &str| -> String {
        let Some(d) = descriptors.iter().find(|d| d.name == cat) else {
            return cat.to_owned();
        };
        match &d.container {
            Some(c) => {
                // The container's title is the platform's text: quoted,
                // escaped where it is shown.
                let title = containers
                    .iter()
                    .find(|k| k.name == *c)
                    .map_or(c.as_str(), |k| k.title.as_str());
                format!("{cat} ({} of \u{201c}{title}\u{201d})", d.label)
            }
            None => cat.to_owned(),
        }
    };
    for (cat, t) in tallies {
        let c = Counts {
            expected: t.expected,
            retrieved: t.retrieved,
        };
        if let Some(why) = &t.withheld {
            shortfalls.push(format!(
                "{}: {} records arrived, then the platform withheld the rest: {why}",
                label(cat),
                c.retrieved
            ));
        } else if let Some(expected) = c.expected.filter(|e| c.retrieved < *e) {
            if exact {
                shortfalls.push(format!(
                    "{}: {} of {expected} records arrived",
                    label(cat),
                    c.retrieved
                ));
            } else {
                warnings.push(format!(
                    "{}: {} records arrived where the platform's count said {expected}; its counts \
                     are estimates (they may include records this account may not read, and \
                     records added or removed during the export), and every record it listed \
                     is in the archive",
                    label(cat),
                    c.retrieved
                ));
            }
        }
        if t.duplicates > 0 {
            warnings.push(format!(
                "{cat}: the platform sent {} records twice; each is kept once",
                t.duplicates
            ));
        }
        if t.cursor_repeats > 0 {
            warnings.push(format!(
                "{cat}: the platform repeated a page cursor {} times",
                t.cursor_repeats
            ));
        }
        if let Some(expected) = c.expected.filter(|e| exact && c.retrieved > *e) {
            warnings.push(format!(
                "{cat}: the platform sent {} records where it announced {expected}; all are kept",
                c.retrieved
            ));
        }
        if let Some(m) = descriptors
            .iter()
            .find(|d| d.name == *cat)
            .and_then(|d| d.marker.as_ref())
            .filter(|_| t.marked > 0)
        {
            let records = if t.marked == 1 { "record" } else { "records" };
            warnings.push(format!("{}: {} {records} {}", label(cat), t.marked, m.says));
            marked.insert(cat.clone(), json!({"records": t.marked, "says": m.says}));
        }
        if t.odd_text > 0 {
            warnings.push(format!(
                "{cat}: {} records hold text that is not valid Unicode (a lone surrogate); \
                 the JSON keeps it as sent, the CSV and the viewer show U+FFFD in its place",
                t.odd_text
            ));
        }
        counts.insert(cat.clone(), c);
    }
    if let Some(f) = files {
        counts.insert(
            FILES_COUNT.to_owned(),
            Counts {
                expected: Some(f.downloaded + f.failed.len() as u64),
                retrieved: f.downloaded,
            },
        );
        for (key, name, why) in &f.failed {
            let name = if name.is_empty() { key } else { name };
            shortfalls.push(format!("file {key} ({name}) is missing: {why}"));
        }
    }
    let outcome = if shortfalls.is_empty() {
        Outcome::Completed
    } else {
        Outcome::Incomplete
    };
    Reckoning {
        counts,
        shortfalls,
        warnings,
        outcome,
        marked,
    }
}

/// A category as the manifest describes it: what it is and how to show
/// it. (Which fields were never archived is the engine's instruction, not
/// the reader's concern.)
fn described(d: &Category) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("strip");
    }
    v
}

/// `manifest.json` of an archive.
pub(super) fn manifest(
    shared: &Shared,
    staged: &StagedSession,
    r: &Reckoning,
    files: Option<&MediaTally>,
    descriptors: &[Arc<Category>],
    (formats, split_size): (Formats, Option<u64>),
) -> Value {
    let session = &staged.session;
    let features = shared.connector.features();
    let mut manifest = json!({
        "format": "keepsake-archive",
        "format_version": FORMAT_VERSION,
        "status": r.outcome,
        "platform": staged.platform,
        // Which API the archive came through, so a reader knows what the
        // records are without knowing the platform.
        "connector": {
            "kind": shared.connector.kind(),
            "name": shared.connector.name(),
            "version": shared.connector.version(),
            "features": features,
        },
        "export_id": session.export_id,
        "as_of": session.as_of,
        "actor": session.actor,
        "subject": session.subject,
        "reason": session.reason,
        "categories": r.counts.keys().filter(|k| *k != FILES_COUNT).collect::<Vec<_>>(),
        // What each category is and how to show it, for a reader that does
        // not know its name.
        "descriptors": descriptors.iter().map(|d| described(d)).collect::<Vec<_>>(),
        "containers": session.containers,
        "formats": formats.names(),
        "split_size": split_size,
        "filters": {"since": session.since, "until": session.until},
        "counts": r.counts,
        "shortfalls": r.shortfalls,
        "warnings": r.warnings,
        "tool": format!("keepsake {}", crate::VERSION),
        "created_at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    });
    if !r.marked.is_empty() {
        manifest["marked"] = Value::Object(r.marked.clone());
    }
    if let Some(f) = files {
        manifest["files"] = json!({
            "index": format!("data/{FILES_INDEX}.json"),
            "archived": f.downloaded,
            "checked_against_platform_sha256": f.by_checksum,
            "checked_against_size_only": f.by_size,
            "missing": f.failed.len(),
        });
    }
    if !features.outcome_record {
        // Said plainly: an auditor must not look for a record on the
        // platform that was never made.
        manifest["platform_record"] = json!(
            "none: this platform keeps no record of exports; who exported this account, \
             and why, is recorded in this manifest and in the exporting computer's audit log"
        );
    }
    if !features.snapshot {
        manifest["snapshot"] = json!(format!(
            "none: {} has no snapshots; records are as they were when each page was read \
             after {}",
            shared.connector.name(),
            session.as_of
        ));
    }
    manifest
}
