//! Walking one category's cursor chain into its staging file.
//!
//! Nothing a platform sends is trusted to end the walk or to be what the
//! contract says:
//! - A record sent twice is recognised by its key among the keys of the
//!   current and the previous page (journaled, so a resume has them): memory
//!   stays bounded however large the account, and records whose ids go down
//!   are kept, not taken for repeats.
//! - A cursor that comes back unchanged is asked again a bounded number of
//!   times; one that leads back to a page already fetched (a cycle), a few
//!   pages in a row with nothing new, or far more records than the session
//!   announced ([`crate::connector::record_bound`]) end the walk as the platform's fault.
//! - Every record is checked whole ([`crate::json_text::check`]) before it
//!   is staged, so no reader after the fetch meets one it cannot read.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io::Write;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::connector::{Category, FileRef};

use super::assemble::growing::{Committer, Growth};
use super::progress::{ExportEvent, Reporter};
use super::staging::{CategoryState, Checkpoint, open_private};
use super::{Shared, Tally};
use crate::{Error, Result};

/// How long a category's pages may go unsynced, where the system names its
/// boot: what a power cut can make a resumed export fetch again.
const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

const MAX_CURSOR_REPEATS: u32 = 8;
/// Pages in a row bringing no record not already sent that end a walk: a
/// platform that keeps handing out fresh cursors to the same records.
const MAX_STALE_PAGES: u32 = 3;
/// The key of a record: the string or integer at `pointer` (decimal text
/// for an integer); `None` when there is none. A one-step pointer (`/id`,
/// `/event_id`: every connector's) is read without building the record,
/// as the walk does for every record it stores.
pub(super) fn record_key(record: &str, pointer: &str) -> Option<String> {
    // (A sequence would be taken as a struct: only objects have keys.)
    record.trim_start().starts_with('{').then_some(())?;
    match pointer.strip_prefix('/') {
        Some(field) if !field.contains(['/', '~']) => {
            use serde::de::DeserializeSeed;
            let mut de = serde_json::Deserializer::from_str(record);
            super::key_field::KeyField(field)
                .deserialize(&mut de)
                .ok()?
        }
        _ => crate::connector::text_at(&serde_json::from_str(record).ok()?, pointer),
    }
}

/// Fetches the rest of `cat` from `state`; sends the files its records
/// name to `files_tx`; tells `growth`, if given, what of the file is
/// written.
pub(super) async fn category(
    shared: Arc<Shared>,
    cat: Category,
    mut state: CategoryState,
    files_tx: Option<mpsc::Sender<FileRef>>,
    growth: Option<Growth>,
) -> Result<Tally> {
    let path = shared.staging_file(&cat.name);
    // Drop whatever was written after the last checkpoint.
    let file = open_private(&path, false)?;
    file.set_len(state.len)
        .map_err(Error::io("truncate", &path))?;
    drop(file);
    if let Some(g) = &growth {
        g.commit(state.len);
    }
    if let Some(tx) = &files_tx {
        // Records staged by an earlier run still need their files;
        // streamed, so a resume holds one record at a time.
        send_staged(&shared, &cat, &path, tx).await?;
    }
    let out = open_private(&path, true)?;
    let mut tally = Tally {
        expected: shared.expected(&cat.name),
        retrieved: state.count,
        odd_text: state.odd_text,
        marked: state.marked,
        ..Tally::default()
    };
    report(&*shared.reporter, &cat.name, &tally);
    if state.done {
        if let Some(g) = growth {
            g.complete();
        }
        return Ok(tally);
    }
    // A page is written, synced and journaled while the next one is
    // fetched: the next cursor is known, and the disk need not hold up the
    // chain. Pages still reach the file and the journal in order.
    let mut file = PageFile::Idle(out);
    let committer = growth.as_ref().map(Growth::committer);
    let walked = walk(
        &shared,
        (&cat, &path),
        &mut state,
        &mut tally,
        files_tx,
        &mut file,
        committer.as_ref(),
    )
    .await;
    // However the walk ended, the page being written is written first.
    let written = file.idle().await.map(drop);
    match walked {
        // The platform withholds the rest (a room the account left): what
        // arrived is kept, the rest is a shortfall that names it.
        Err(Error::Withheld { what, detail }) => tally.withheld = Some(format!("{what}: {detail}")),
        other => other?,
    }
    written?;
    if let Some(g) = growth {
        g.complete();
    }
    Ok(tally)
}

/// A category's staging file, or the write of a page into it (write, sync
/// and checkpoint, off the async threads), which gives the file back.
enum PageFile {
    Idle(std::fs::File),
    Writing(tokio::task::JoinHandle<Result<std::fs::File>>),
    /// A write failed.
    Gone,
}

impl PageFile {
    /// The file, once the page being written is written.
    async fn idle(&mut self) -> Result<std::fs::File> {
        match std::mem::replace(self, Self::Gone) {
            Self::Idle(f) => Ok(f),
            Self::Writing(w) => w
                .await
                .map_err(|e| Error::Invalid(format!("writing a page failed: {e}")))?,
            Self::Gone => Err(Error::Invalid(
                "internal error: a staging file whose write failed".into(),
            )),
        }
    }
}

/// The keys of the records on the last two pages: what a record is
/// checked against to tell whether it was sent before.
struct Recent {
    earlier: HashSet<String>,
    current: HashSet<String>,
}

impl Recent {
    fn from_state(state: &CategoryState) -> Self {
        Self {
            earlier: state
                .earlier_keys
                .iter()
                .chain(&state.keys)
                .cloned()
                .collect(),
            current: HashSet::new(),
        }
    }
    /// Notes `key` on the current page; whether it is new. A repeat is
    /// noted too: a page sent again and again stays recognised.
    fn note(&mut self, key: String) -> bool {
        let before = self.earlier.contains(&key);
        self.current.insert(key) && !before
    }
    /// Ends the current page: its keys, for the journal.
    fn turn(&mut self) -> Vec<String> {
        self.earlier = std::mem::take(&mut self.current);
        let mut keys: Vec<String> = self.earlier.iter().cloned().collect();
        keys.sort_unstable();
        keys
    }
}

/// The cursors a walk has asked for, remembered by hash: a platform's
/// cursor may be long, and a collision (a false cycle) is about as likely
/// as a cosmic ray.
#[derive(Default)]
struct Asked {
    hasher: std::hash::RandomState,
    seen: HashSet<u64>,
}

impl Asked {
    /// Notes `cursor` as asked for; whether it was already.
    fn again(&mut self, cursor: Option<&str>) -> bool {
        !self.seen.insert(self.hasher.hash_one(cursor))
    }
}

/// The cursor chain of `category` from `state` to its end.
async fn walk(
    shared: &Arc<Shared>,
    (category, path): (&Category, &std::path::Path),
    state: &mut CategoryState,
    tally: &mut Tally,
    files_tx: Option<mpsc::Sender<FileRef>>,
    page_file: &mut PageFile,
    growth: Option<&Committer>,
) -> Result<()> {
    let cat = &*category.name;
    let url = cat_url(shared, cat);
    let fault = |detail: String| Error::Protocol {
        url: url.clone(),
        detail,
    };
    let bound = shared.connector.record_bound(shared.expected(cat));
    let exact = shared.connector.features().exact_counts;
    let mut recent = Recent::from_state(state);
    let mut asked = Asked::default();
    // A walk the connector fixed the start of (a room's position when the
    // export began) starts there, however late it starts.
    if state.next.is_none() {
        state.next = shared
            .session
            .categories
            .get(cat)
            .and_then(|e| e.start.clone());
    }
    asked.again(state.next.as_deref());
    let (mut repeats, mut stale) = (0, 0);
    // Where the system names its boot, pages are synced to disk only now
    // and then and at the end: a killed process loses nothing the system
    // holds, and after a restart the journal goes back to the last synced
    // page (`Staging::replay`). On a slow disk, a sync per page would cost
    // more than the walk.
    let boot = shared.boot.clone();
    let mut synced_at = std::time::Instant::now();
    loop {
        shared.check_cancelled()?;
        let page = shared
            .connector
            .page(
                &shared.client,
                &shared.session,
                category,
                state.next.as_deref(),
            )
            .await?;
        if page.next_cursor.is_some() && page.next_cursor == state.next {
            repeats += 1;
            tally.cursor_repeats += 1;
            shared.reporter.report(ExportEvent::Warning {
                message: format!("the platform repeated a cursor in {cat}; asking again ({repeats}/{MAX_CURSOR_REPEATS})"),
            });
            if repeats >= MAX_CURSOR_REPEATS {
                return Err(fault(format!(
                    "the platform returned the same cursor {MAX_CURSOR_REPEATS} times; the export cannot move past it"
                )));
            }
            continue;
        }
        repeats = 0;
        if page.next_cursor.is_some() && asked.again(page.next_cursor.as_deref()) {
            return Err(fault(format!(
                "the platform's cursors in {cat} lead back to a page already fetched, so the walk would never end; \
                 the export was stopped and nothing was archived"
            )));
        }
        let mut buf = Vec::with_capacity(page.items.len() * 256);
        let mut fresh = 0u64;
        for item in page.items {
            let record = item.get();
            let readable = checked(record, cat, &url)?;
            let Some(key) = record_key(&readable, &category.key) else {
                return Err(fault(format!(
                    "a record in {cat} has no key (a string or an integer at {})",
                    category.key
                )));
            };
            if !recent.note(key) {
                tally.duplicates += 1;
                continue;
            }
            if tally.retrieved >= bound {
                let announced = tally
                    .expected
                    .map_or_else(|| "none".to_owned(), |e| e.to_string());
                return Err(fault(format!(
                    "the platform keeps sending records in {cat} ({} received, {announced} announced); \
                     the export was stopped and nothing was archived",
                    tally.retrieved + 1,
                )));
            }
            stage(record, &mut buf);
            tally.retrieved += 1;
            fresh += 1;
            // (A platform whose counts are estimates is not warned about.)
            if let Some(expected) = tally.expected.filter(|e| exact && tally.retrieved == e + 1) {
                shared.reporter.report(ExportEvent::Warning {
                    message: format!(
                        "the platform is sending more records in {cat} than the {expected} it announced; all are kept"
                    ),
                });
            }
            if matches!(readable, Cow::Owned(_)) {
                tally.odd_text += 1;
            }
            // Parsed whole only where the category asks for it.
            if files_tx.is_some() || category.marker.is_some() {
                let record = parse(&readable)?;
                if marks(category, &record) {
                    tally.marked += 1;
                }
                if let Some(tx) = &files_tx {
                    send_files(shared, category, &record, tx).await;
                }
            }
        }
        stale = if fresh == 0 { stale + 1 } else { 0 };
        if stale >= MAX_STALE_PAGES && page.next_cursor.is_some() {
            return Err(fault(format!(
                "the platform sent {MAX_STALE_PAGES} pages in a row in {cat} with no record it had not sent before, \
                 so the walk would never end; the export was stopped and nothing was archived"
            )));
        }
        state.len += buf.len() as u64;
        state.count = tally.retrieved;
        state.odd_text = tally.odd_text;
        state.marked = tally.marked;
        state.next = page.next_cursor;
        state.earlier_keys = std::mem::take(&mut state.keys);
        state.keys = recent.turn();
        shared.add_bytes(buf.len() as u64);
        let sync = boot.is_none() || state.next.is_none() || synced_at.elapsed() >= SYNC_EVERY;
        if sync {
            synced_at = std::time::Instant::now();
        }
        let checkpoint = Checkpoint::Page {
            cat: cat.to_owned(),
            next: state.next.clone(),
            len: state.len,
            count: state.count,
            keys: state.keys.clone(),
            odd_text: state.odd_text,
            marked: state.marked,
            boot: if sync { None } else { boot.clone() },
        };
        // Write, fsync and journal off the async threads: fsync blocks for
        // milliseconds, and the other categories and the downloads share them.
        let mut file = page_file.idle().await?;
        let (sh, file_path, len) = (shared.clone(), path.to_path_buf(), state.len);
        let growth = growth.cloned();
        *page_file = PageFile::Writing(tokio::task::spawn_blocking(move || {
            file.write_all(&buf)
                .map_err(Error::io("write", &file_path))?;
            if sync {
                file.sync_data().map_err(Error::io("sync", &file_path))?;
            }
            sh.checkpoint(&checkpoint)?;
            if let Some(g) = growth {
                g.commit(len);
            }
            Ok::<_, Error>(file)
        }));
        report(&*shared.reporter, cat, tally);
        if state.next.is_none() {
            return Ok(());
        }
    }
}

/// `record` of `cat` checked whole (see [`crate::json_text::check`]): the
/// text its readers parse, or the platform's fault.
fn checked<'a>(record: &'a str, cat: &str, url: &str) -> Result<Cow<'a, str>> {
    use crate::json_text::{Flaw, MAX_DEPTH, check};
    check(record).map_err(|flaw| Error::Protocol {
        url: url.to_owned(),
        detail: match flaw {
            Flaw::TooDeep => format!(
                "a record in {cat} is nested deeper than {MAX_DEPTH} levels; the export was stopped and nothing was archived"
            ),
            Flaw::Unreadable(why) => format!(
                "a record in {cat} cannot be read ({why}); the export was stopped and nothing was archived"
            ),
        },
    })
}

/// A single-record category as `{name}.json` holds it, and whether its
/// text is not valid Unicode: pretty-printed, or, when it holds a lone
/// surrogate (which a parsed value cannot), byte for byte as the platform
/// sent it. The files it names go to `files_tx`.
pub(super) async fn single(
    shared: &Shared,
    category: &Category,
    files_tx: Option<&mpsc::Sender<FileRef>>,
) -> Result<(Vec<u8>, bool)> {
    // Staged as it came, so a resumed run reads it instead of asking again:
    // a resume fetches nothing twice. Written whole, then renamed, so a
    // staged copy is never a torn one.
    let staged = shared
        .staging_dir
        .join(format!("{}.raw.json", category.name));
    let raw = match fs_err::read_to_string(&staged) {
        Ok(text) => text,
        Err(_) => {
            let raw = shared
                .connector
                .single(&shared.client, &shared.session, category)
                .await?;
            let part = staged.with_extension("part");
            super::write_private(&part, raw.get().as_bytes())?;
            fs_err::rename(&part, &staged).map_err(Error::io("rename", &part))?;
            raw.get().to_owned()
        }
    };
    let readable = checked(&raw, &category.name, &cat_url(shared, &category.name))?;
    if let Some(tx) = files_tx {
        send_files(shared, category, &parse(&readable)?, tx).await;
    }
    match readable {
        Cow::Borrowed(text) => {
            let v = parse(text)?;
            let pretty =
                serde_json::to_vec_pretty(&v).map_err(|e| Error::Invalid(e.to_string()))?;
            Ok((pretty, false))
        }
        Cow::Owned(_) => Ok((raw.into_bytes(), true)),
    }
}

/// Whether `category`'s marker marks `record`.
fn marks(category: &Category, record: &Value) -> bool {
    category
        .marker
        .as_ref()
        .is_some_and(|m| record.pointer(&m.pointer).and_then(Value::as_str) == Some(&*m.equals))
}

/// Sends the files `record` of `category` names to the downloads.
async fn send_files(
    shared: &Shared,
    category: &Category,
    record: &Value,
    tx: &mpsc::Sender<FileRef>,
) {
    for file in shared.connector.files(&shared.session, category, record) {
        if tx.send(file).await.is_err() {
            break;
        }
    }
}

/// A category's pages on the platform, as an error may show them (no
/// query, so no cursor).
fn cat_url(shared: &Shared, cat: &str) -> String {
    format!(
        "{}{}/{cat}",
        crate::error::display_url(shared.client.base()),
        shared
            .connector
            .session_path(&shared.session)
            .trim_start_matches('/')
    )
}

/// Appends a record to a staging file's lines: as the platform sent it, or,
/// spread over lines (a platform that pretty-prints), on one line without
/// the space between its tokens (byte for byte otherwise, so a string that
/// is not valid Unicode is kept as sent).
fn stage(record: &str, buf: &mut Vec<u8>) {
    if memchr::memchr2(b'\n', b'\r', record.as_bytes()).is_some() {
        crate::json_text::compact_into(record, buf);
    } else {
        buf.extend_from_slice(record.as_bytes());
    }
    buf.push(b'\n');
}

fn parse(record: &str) -> Result<Value> {
    serde_json::from_str(record).map_err(|e| Error::Invalid(e.to_string()))
}

fn report(r: &dyn Reporter, cat: &str, t: &Tally) {
    r.report(ExportEvent::Category {
        name: cat.to_owned(),
        fetched: t.retrieved,
        expected: t.expected,
    });
}

/// Sends the files named by the records already staged in a category
/// file, one record at a time.
async fn send_staged(
    shared: &Shared,
    category: &Category,
    path: &std::path::Path,
    tx: &mpsc::Sender<FileRef>,
) -> Result<()> {
    use std::io::BufRead;
    let Ok(f) = fs_err::File::open(path) else {
        return Ok(());
    };
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(Error::io("read", path))?;
        if let Ok(val) = serde_json::from_str(&crate::json_text::lossy(&line)) {
            send_files(shared, category, &val, tx).await;
            if tx.is_closed() {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
