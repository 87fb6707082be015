//! Export sessions and their snapshot-bound, keyset-paged collections.

use base64::Engine as _;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{auth::Actor, clock, media::Signer, problem::Problem, store, wire::UserRow};

/// The data categories of an export.
pub(crate) const CATEGORIES: [&str; 6] = [
    "profile",
    "posts",
    "comments",
    "likes",
    "connections",
    "media",
];

/// The body of `POST …/exports`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportRequest {
    pub reason: Option<String>,
    pub categories: Option<Vec<String>>,
    pub since: Option<String>,
    pub until: Option<String>,
}

/// The body of `PATCH …/exports/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Outcome {
    pub status: String,
    pub counts: Option<serde_json::Map<String, Value>>,
    pub bytes: Option<serde_json::Number>,
    pub archive_sha256: Option<String>,
    pub error: Option<String>,
}

/// A stored export session.
#[derive(Debug, Clone)]
pub(crate) struct ExportRow {
    pub id: String,
    pub subject_id: i64,
    pub actor_id: i64,
    pub reason: Option<String>,
    pub status: String,
    pub as_of: i64,
    pub snapshot_rev: i64,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub categories: Vec<String>,
    pub estimates: Value,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: Option<Value>,
}

impl ExportRow {
    pub fn load(c: &Connection, id: &str, abandon_after: i64) -> rusqlite::Result<Option<Self>> {
        let now = clock::now();
        // A session nobody has touched for a long time was abandoned: close it
        // so it no longer blocks new exports.
        c.execute(
            "UPDATE exports SET status = 'failed', finished_at = ?2, \
             outcome = json_object('status', 'failed', 'counts', NULL, 'bytes', NULL, 'archive_sha256', NULL, 'error', 'abandoned') \
             WHERE id = ?1 AND status = 'running' AND last_seen_at < ?2 - ?3",
            params![id, now, abandon_after],
        )?;
        c.query_row(
            "SELECT id, subject_id, actor_id, reason, status, as_of, snapshot_rev, since, until, categories, \
             estimates, created_at, finished_at, outcome FROM exports WHERE id = ?1",
            [id],
            |r| {
                Ok(ExportRow {
                    id: r.get(0)?,
                    subject_id: r.get(1)?,
                    actor_id: r.get(2)?,
                    reason: r.get(3)?,
                    status: r.get(4)?,
                    as_of: r.get(5)?,
                    snapshot_rev: r.get(6)?,
                    since: r.get(7)?,
                    until: r.get(8)?,
                    categories: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or_default(),
                    estimates: serde_json::from_str(&r.get::<_, String>(10)?).unwrap_or(Value::Null),
                    created_at: r.get(11)?,
                    finished_at: r.get(12)?,
                    outcome: r.get::<_, Option<String>>(13)?.and_then(|s| serde_json::from_str(&s).ok()),
                })
            },
        )
        .optional()
    }

    pub fn json(&self, c: &Connection) -> rusqlite::Result<Value> {
        let user = |id| UserRow::by_id(c, id).map(|u| u.map(|u| u.json()).unwrap_or(Value::Null));
        Ok(json!({
            "export_id": self.id,
            "subject": user(self.subject_id)?,
            "actor": user(self.actor_id)?,
            "reason": self.reason,
            "status": self.status,
            "as_of": clock::rfc3339(self.as_of),
            "created_at": clock::rfc3339(self.created_at),
            "finished_at": self.finished_at.map(clock::rfc3339),
            "since": self.since.map(clock::rfc3339),
            "until": self.until.map(clock::rfc3339),
            "categories": self.estimates,
            "outcome": self.outcome,
        }))
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            subject_id: self.subject_id,
            rev: self.snapshot_rev,
            since: self.since.unwrap_or(i64::MIN),
            until: self.until.unwrap_or(i64::MAX),
        }
    }
}

/// What an export session sees: one account, at one revision, in one range.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    subject_id: i64,
    rev: i64,
    since: i64,
    until: i64,
}

/// Rows alive at the snapshot revision and inside the date filter.
/// Parameters: ?1 subject, ?2 revision, ?3 cursor id, ?4 since, ?5 until.
fn alive(alias: &str) -> String {
    format!(
        "{alias}.created_rev <= ?2 AND ({alias}.deleted_rev IS NULL OR {alias}.deleted_rev > ?2) \
         AND {alias}.created_at >= ?4 AND {alias}.created_at < ?5"
    )
}

/// `(count, estimated bytes)` of a category in a snapshot.
fn estimate(c: &Connection, category: &str, s: Snapshot) -> rusqlite::Result<(i64, i64)> {
    let sql = match category {
        "profile" => return Ok((1, 600)),
        "posts" => format!(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(p.body AS BLOB))), 0) + COUNT(*) * 130 FROM posts p WHERE p.author_id = ?1 AND ?3 = 0 AND {}",
            alive("p")
        ),
        "comments" => format!(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(c.body AS BLOB))), 0) + COUNT(*) * 150 FROM comments c WHERE c.author_id = ?1 AND ?3 = 0 AND {}",
            alive("c")
        ),
        "likes" => format!(
            "SELECT COUNT(*), COUNT(*) * 120 FROM likes l WHERE l.user_id = ?1 AND ?3 = 0 AND {}",
            alive("l")
        ),
        "connections" => format!(
            "SELECT COUNT(*), COUNT(*) * 170 FROM connections k WHERE (k.follower_id = ?1 OR k.followee_id = ?1) AND ?3 = 0 AND {}",
            alive("k")
        ),
        "media" => format!(
            "SELECT COUNT(*), COALESCE(SUM(m.size), 0) FROM media m WHERE m.owner_id = ?1 AND ?3 = 0 AND {}",
            alive("m")
        ),
        other => unreachable!("unknown category {other}"),
    };
    c.query_row(
        &sql,
        params![s.subject_id, s.rev, 0, s.since, s.until],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Opens an export session after every check the contract names, in one
/// write transaction so two clients cannot both pass the 409 and quota checks.
pub(crate) fn open(
    c: &mut Connection,
    actor: &Actor,
    subject_id: i64,
    req: ExportRequest,
    quota: (u32, i64),
    abandon_after: i64,
) -> rusqlite::Result<Result<Value, Problem>> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let Some(subject) = UserRow::by_id(&tx, subject_id)? else {
        return Ok(Err(Problem::not_found(format!(
            "no account with id {subject_id}"
        ))));
    };
    if subject.deleted_at.is_some() {
        return Ok(Err(Problem::account_deleted(subject_id)));
    }
    let reason = req
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if subject_id != actor.user_id && reason.is_none() {
        return Ok(Err(Problem::reason_required()));
    }
    let categories = match req.categories {
        None => CATEGORIES.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        Some(list) if list.is_empty() => {
            return Ok(Err(Problem::bad_request("categories must not be empty")));
        }
        Some(list) => {
            if let Some(bad) = list.iter().find(|c| !CATEGORIES.contains(&c.as_str())) {
                return Ok(Err(Problem::bad_request(format!(
                    "unknown category '{bad}' (known: {})",
                    CATEGORIES.join(", ")
                ))));
            }
            // Keep the contract's order, whatever order the client sent.
            CATEGORIES
                .iter()
                .filter(|k| list.iter().any(|c| c == *k))
                .map(|s| s.to_string())
                .collect()
        }
    };
    let bound = |text: Option<String>, name: &str| match text {
        None => Ok(None),
        Some(t) => clock::parse_bound(&t).map(Some).ok_or_else(|| {
            Problem::bad_request(format!(
                "{name} must be a date (YYYY-MM-DD) or an RFC 3339 date-time, not '{t}'"
            ))
        }),
    };
    let (since, until) = match (bound(req.since, "since"), bound(req.until, "until")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(p), _) | (_, Err(p)) => return Ok(Err(p)),
    };
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Ok(Err(Problem::bad_request(
            "since must be earlier than until",
        )));
    }

    let now = clock::now();
    tx.execute(
        "UPDATE exports SET status = 'failed', finished_at = ?2, \
         outcome = json_object('status', 'failed', 'counts', NULL, 'bytes', NULL, 'archive_sha256', NULL, 'error', 'abandoned') \
         WHERE subject_id = ?1 AND status = 'running' AND last_seen_at < ?2 - ?3",
        params![subject_id, now, abandon_after],
    )?;
    let running: Option<String> = tx
        .query_row(
            "SELECT id FROM exports WHERE subject_id = ?1 AND status = 'running' LIMIT 1",
            [subject_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = running {
        return Ok(Err(Problem::export_running(&id)));
    }
    let (per_window, window) = quota;
    let mut stmt = tx.prepare(
        "SELECT created_at FROM exports WHERE subject_id = ?1 AND created_at > ?2 \
         AND status NOT IN ('failed', 'cancelled') ORDER BY created_at",
    )?;
    let recent: Vec<i64> = stmt
        .query_map(params![subject_id, now - window], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    drop(stmt);
    if per_window > 0 && recent.len() >= per_window as usize {
        let idx = recent.len() - per_window as usize;
        let next = recent.get(idx).copied().unwrap_or(now) + window;
        let wait = (next - now).max(1) as u64;
        return Ok(Err(Problem::export_quota(wait, &clock::rfc3339(next))));
    }

    let rev = store::current_rev(&tx)?;
    let snap = Snapshot {
        subject_id,
        rev,
        since: since.unwrap_or(i64::MIN),
        until: until.unwrap_or(i64::MAX),
    };
    let mut estimates = serde_json::Map::new();
    for cat in &categories {
        let (count, bytes) = estimate(&tx, cat, snap)?;
        estimates.insert(cat.clone(), json!({ "count": count, "bytes": bytes }));
    }
    let id = {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).expect("the OS random generator is available");
        format!("exp_{}", hex::encode(raw))
    };
    tx.execute(
        "INSERT INTO exports (id, subject_id, actor_id, reason, status, as_of, snapshot_rev, since, until, \
         categories, estimates, created_at, last_seen_at) \
         VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8, ?9, ?10, ?5, ?5)",
        params![
            id,
            subject_id,
            actor.user_id,
            reason,
            now,
            rev,
            since,
            until,
            serde_json::to_string(&categories).unwrap_or_default(),
            Value::Object(estimates).to_string(),
        ],
    )?;
    let row = ExportRow::load(&tx, &id, abandon_after)?.expect("the export was just inserted");
    let body = row.json(&tx)?;
    tx.commit()?;
    Ok(Ok(body))
}

/// Records the outcome the client reports.
pub(crate) fn finish(
    c: &Connection,
    row: &ExportRow,
    outcome: Outcome,
) -> rusqlite::Result<Result<Value, Problem>> {
    const STATUSES: [&str; 4] = ["completed", "failed", "cancelled", "incomplete"];
    if !STATUSES.contains(&outcome.status.as_str()) {
        return Ok(Err(Problem::invalid_outcome(format!(
            "status must be one of {}, not '{}'",
            STATUSES.join(", "),
            outcome.status
        ))));
    }
    let sha_ok = |s: &String| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    match &outcome.archive_sha256 {
        Some(s) if !sha_ok(s) => {
            return Ok(Err(Problem::invalid_outcome(
                "archive_sha256 must be 64 hex digits",
            )));
        }
        None if matches!(outcome.status.as_str(), "completed" | "incomplete") => {
            return Ok(Err(Problem::invalid_outcome(
                "archive_sha256 is required for a completed or incomplete export",
            )));
        }
        _ => {}
    }
    // JSON has one number type: 1234.0 is the integer 1234.
    let bytes = match &outcome.bytes {
        None => None,
        Some(n) => match n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f < 9e15)
                .map(|f| f as i64)
        }) {
            Some(b) if b >= 0 => Some(b),
            _ => {
                return Ok(Err(Problem::invalid_outcome(
                    "bytes must be a non-negative integer",
                )));
            }
        },
    };
    if let Some(counts) = &outcome.counts
        && counts.iter().any(|(k, v)| {
            !CATEGORIES.contains(&k.as_str())
                || !v.as_f64().is_some_and(|n| n >= 0.0 && n.fract() == 0.0)
        })
    {
        return Ok(Err(Problem::invalid_outcome(
            "counts must map known categories to non-negative integers",
        )));
    }
    let now = clock::now();
    let stored = json!({
        "status": outcome.status,
        "counts": outcome.counts,
        "bytes": bytes,
        "archive_sha256": outcome.archive_sha256.map(|s| s.to_ascii_lowercase()),
        "error": outcome.error,
    });
    let changed = c.execute(
        "UPDATE exports SET status = ?2, finished_at = ?3, outcome = ?4 WHERE id = ?1 AND status = 'running'",
        params![row.id, stored["status"].as_str(), now, stored.to_string()],
    )?;
    if changed == 0 {
        return Ok(Err(Problem::export_finished(&row.id, &row.status)));
    }
    let row = ExportRow::load(c, &row.id, i64::MAX)?.expect("the export exists");
    Ok(Ok(row.json(c)?))
}

/// Opaque keyset cursors: the last id a page returned.
pub(crate) fn encode_cursor(after_id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("k1:{after_id}"))
}

pub(crate) fn decode_cursor(cursor: &str) -> Option<i64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.strip_prefix("k1:")?
        .parse()
        .ok()
        .filter(|id: &i64| *id >= 0)
}

/// One page request, after validation.
pub(crate) struct PageRequest {
    pub category: String,
    pub after_id: i64,
    pub limit: i64,
    /// Fault: start at the previous page's last record again.
    pub include_cursor_record: bool,
}

/// Reads one page: `(items, last id, more after it)`.
pub(crate) fn page(
    c: &Connection,
    row: &ExportRow,
    req: &PageRequest,
    signer: &Signer,
) -> rusqlite::Result<(Vec<Value>, Option<i64>, bool)> {
    let s = row.snapshot();
    let cmp = if req.include_cursor_record { ">=" } else { ">" };
    let sql = match req.category.as_str() {
        "posts" => format!(
            "SELECT p.id, p.created_at, p.body, p.visibility, p.reply_to, \
             (SELECT group_concat(m.id) FROM media m WHERE m.post_id = p.id AND {}) \
             FROM posts p WHERE p.author_id = ?1 AND p.id {cmp} ?3 AND {} ORDER BY p.id LIMIT ?6",
            alive("m").replace(" AND m.created_at >= ?4 AND m.created_at < ?5", ""),
            alive("p")
        ),
        "comments" => format!(
            "SELECT c.id, c.created_at, c.post_id, c.body, u.id, u.login FROM comments c \
             LEFT JOIN posts p ON p.id = c.post_id LEFT JOIN users u ON u.id = p.author_id \
             WHERE c.author_id = ?1 AND c.id {cmp} ?3 AND {} ORDER BY c.id LIMIT ?6",
            alive("c")
        ),
        "likes" => format!(
            "SELECT l.id, l.created_at, l.post_id, u.id, u.login FROM likes l \
             LEFT JOIN posts p ON p.id = l.post_id LEFT JOIN users u ON u.id = p.author_id \
             WHERE l.user_id = ?1 AND l.id {cmp} ?3 AND {} ORDER BY l.id LIMIT ?6",
            alive("l")
        ),
        "connections" => format!(
            "SELECT k.id, k.created_at, k.follower_id = ?1, u.id, u.login, u.display_name FROM connections k \
             JOIN users u ON u.id = CASE WHEN k.follower_id = ?1 THEN k.followee_id ELSE k.follower_id END \
             WHERE (k.follower_id = ?1 OR k.followee_id = ?1) AND k.id {cmp} ?3 AND {} ORDER BY k.id LIMIT ?6",
            alive("k")
        ),
        "media" => format!(
            "SELECT {MEDIA_COLUMNS} FROM media m WHERE m.owner_id = ?1 AND m.id {cmp} ?3 AND {} ORDER BY m.id LIMIT ?6",
            alive("m")
        ),
        other => unreachable!("unknown collection {other}"),
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![
        s.subject_id,
        s.rev,
        req.after_id,
        s.since,
        s.until,
        req.limit + 1
    ])?;
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    while let Some(r) = rows.next()? {
        if items.len() as i64 == req.limit {
            more = true;
            break;
        }
        let id: i64 = r.get(0)?;
        let created_at = clock::rfc3339(r.get(1)?);
        let item = match req.category.as_str() {
            "posts" => {
                let mut media_ids: Vec<i64> = r
                    .get::<_, Option<String>>(5)?
                    .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or_default();
                media_ids.sort_unstable();
                json!({"id": id, "created_at": created_at, "body": r.get::<_, String>(2)?,
                       "visibility": r.get::<_, String>(3)?, "reply_to": r.get::<_, Option<i64>>(4)?,
                       "media_ids": media_ids})
            }
            "comments" => {
                json!({"id": id, "created_at": created_at, "post_id": r.get::<_, i64>(2)?,
                "body": r.get::<_, String>(3)?,
                "post_author": author(r.get(4)?, r.get(5)?)})
            }
            "likes" => json!({"id": id, "created_at": created_at, "post_id": r.get::<_, i64>(2)?,
                "post_author": author(r.get(3)?, r.get(4)?)}),
            "connections" => json!({"id": id, "created_at": created_at,
                "direction": if r.get::<_, bool>(2)? { "following" } else { "follower" },
                "user": {"id": r.get::<_, i64>(3)?, "login": r.get::<_, String>(4)?, "display_name": r.get::<_, String>(5)?}}),
            _ => media_json(signer, MediaRow::from_row(r)?),
        };
        last = Some(id);
        items.push(item);
    }
    Ok((items, last, more))
}

fn author(id: Option<i64>, login: Option<String>) -> Value {
    match (id, login) {
        (Some(id), Some(login)) => json!({"id": id, "login": login}),
        _ => Value::Null,
    }
}

pub(crate) struct MediaRow {
    pub id: i64,
    pub created_at: i64,
    pub post_id: Option<i64>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub alt_text: Option<String>,
}

/// Columns of every media query, in the order [`MediaRow::from_row`] reads.
const MEDIA_COLUMNS: &str =
    "m.id, m.created_at, m.post_id, m.filename, m.content_type, m.size, m.sha256, m.alt_text";

impl MediaRow {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(MediaRow {
            id: r.get(0)?,
            created_at: r.get(1)?,
            post_id: r.get(2)?,
            filename: r.get(3)?,
            content_type: r.get(4)?,
            size: r.get(5)?,
            sha256: r.get(6)?,
            alt_text: r.get(7)?,
        })
    }
}

pub(crate) fn media_json(signer: &Signer, m: MediaRow) -> Value {
    let (url, expires) = signer.url(m.id);
    json!({"id": m.id, "created_at": clock::rfc3339(m.created_at), "post_id": m.post_id,
           "filename": m.filename, "content_type": m.content_type, "size": m.size, "sha256": m.sha256,
           "alt_text": m.alt_text, "download_url": url, "url_expires_at": clock::rfc3339(expires)})
}

/// One media item of the export's subject, alive in its snapshot.
pub(crate) fn media_item(
    c: &Connection,
    row: &ExportRow,
    media_id: i64,
) -> rusqlite::Result<Option<MediaRow>> {
    let s = row.snapshot();
    let sql = format!(
        "SELECT {MEDIA_COLUMNS} FROM media m WHERE m.owner_id = ?1 AND m.id = ?3 AND {}",
        alive("m")
    );
    c.query_row(
        &sql,
        params![s.subject_id, s.rev, media_id, s.since, s.until],
        MediaRow::from_row,
    )
    .optional()
}

/// Notes that the session is in use (so it is not taken for abandoned).
pub(crate) fn touch(c: &Connection, id: &str) -> rusqlite::Result<()> {
    let now = clock::now();
    c.execute(
        "UPDATE exports SET last_seen_at = ?2 WHERE id = ?1 AND last_seen_at < ?2 - 30",
        params![id, now],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(12345)), Some(12345));
        assert_eq!(decode_cursor("not-a-cursor"), None);
        assert_eq!(
            decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("k1:-5")),
            None
        );
    }
}
