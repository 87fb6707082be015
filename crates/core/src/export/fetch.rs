//! Walking one category's cursor chain into its staging file.
//!
//! Pages arrive in id order (the contract's keyset pagination), so a record
//! seen twice is recognised by its id alone (`id <= last_id`): memory stays
//! constant however large the account. A cursor that comes back unchanged is
//! detected, reported, and asked again a bounded number of times.

use std::io::Write;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::assemble::growing::{Committer, Growth};
use super::progress::{ExportEvent, Reporter};
use super::staging::{CategoryState, Checkpoint, open_private};
use super::{Shared, Tally};
use crate::{Error, Result};

/// Records per page: the contract's maximum.
pub const PAGE_LIMIT: u32 = 500;
const MAX_CURSOR_REPEATS: u32 = 8;

/// A page. Records are kept as the platform sent them (checked to be JSON,
/// not re-encoded): a large export spends its CPU on compressing, not on
/// building and writing out every record again.
#[derive(Deserialize)]
struct Page {
    items: Vec<Box<RawValue>>,
    next_cursor: Option<String>,
}

/// What the walk needs of a record.
#[derive(Deserialize)]
struct Keyed {
    id: i64,
}

/// The id of a record: an object whose `id` is an integer.
fn record_id(record: &str) -> Option<i64> {
    // (A struct would also take `[7]`, as a sequence.)
    record.starts_with('{').then_some(())?;
    serde_json::from_str::<Keyed>(record).ok().map(|k| k.id)
}

/// Fetches the rest of `cat` from `state`; sends media records to
/// `media_tx`; tells `growth`, if given, what of the file is written.
pub(super) async fn category(
    shared: Arc<Shared>,
    cat: String,
    mut state: CategoryState,
    media_tx: Option<mpsc::Sender<Value>>,
    growth: Option<Growth>,
) -> Result<Tally> {
    let path = shared.staging_file(&cat);
    // Drop whatever was written after the last checkpoint.
    let file = open_private(&path, false)?;
    file.set_len(state.len)
        .map_err(Error::io("truncate", &path))?;
    drop(file);
    if let Some(g) = &growth {
        g.commit(state.len);
    }
    if let Some(tx) = &media_tx {
        // Media records staged by an earlier run still need their files;
        // streamed, so a resume holds one record at a time.
        send_staged(&path, tx).await?;
    }
    let out = open_private(&path, true)?;
    let mut tally = Tally {
        expected: shared.expected(&cat),
        retrieved: state.count,
        ..Tally::default()
    };
    report(&*shared.reporter, &cat, &tally);
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
        media_tx,
        &mut file,
        committer.as_ref(),
    )
    .await;
    // However the walk ended, the page being written is written first.
    let written = file.idle().await.map(drop);
    walked?;
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

/// The cursor chain of `cat` from `state` to its end.
async fn walk(
    shared: &Arc<Shared>,
    (cat, path): (&str, &std::path::Path),
    state: &mut CategoryState,
    tally: &mut Tally,
    media_tx: Option<mpsc::Sender<Value>>,
    page_file: &mut PageFile,
    growth: Option<&Committer>,
) -> Result<()> {
    let mut repeats = 0;
    loop {
        shared.check_cancelled()?;
        let mut path_q = format!("{}/{cat}?limit={PAGE_LIMIT}", shared.session_path);
        if let Some(c) = &state.next {
            path_q.push_str("&cursor=");
            path_q.push_str(&url_escape(c));
        }
        let page: Page = shared.client.get_json(&path_q).await?;
        if page.next_cursor.is_some() && page.next_cursor == state.next {
            repeats += 1;
            tally.cursor_repeats += 1;
            shared.reporter.report(ExportEvent::Warning {
                message: format!("the platform repeated a cursor in {cat}; asking again ({repeats}/{MAX_CURSOR_REPEATS})"),
            });
            if repeats >= MAX_CURSOR_REPEATS {
                return Err(Error::Protocol {
                    url: format!(
                        "{}{}/{cat}",
                        shared.client.base(),
                        shared.session_path.trim_start_matches('/')
                    ),
                    detail: format!(
                        "the platform returned the same cursor {MAX_CURSOR_REPEATS} times; the export cannot move past it"
                    ),
                });
            }
            continue;
        }
        repeats = 0;
        let mut buf = Vec::with_capacity(page.items.len() * 256);
        for item in page.items {
            let record = item.get();
            let Some(id) = record_id(record) else {
                return Err(Error::Protocol {
                    url: path_q.clone(),
                    detail: format!("a record in {cat} is not an object with an integer id"),
                });
            };
            if id <= state.last_id {
                tally.duplicates += 1;
                continue;
            }
            state.last_id = id;
            stage(record, &mut buf)?;
            tally.retrieved += 1;
            if let Some(tx) = &media_tx {
                let _ = tx.send(parse(record)?).await;
            }
        }
        state.len += buf.len() as u64;
        state.count = tally.retrieved;
        state.next = page.next_cursor;
        shared.add_bytes(buf.len() as u64);
        let checkpoint = Checkpoint::Page {
            cat: cat.to_owned(),
            next: state.next.clone(),
            len: state.len,
            count: state.count,
            last_id: state.last_id,
        };
        // Write, fsync and journal off the async threads: fsync blocks for
        // milliseconds, and the other categories and the downloads share them.
        let mut file = page_file.idle().await?;
        let (sh, file_path, len) = (shared.clone(), path.to_path_buf(), state.len);
        let growth = growth.cloned();
        *page_file = PageFile::Writing(tokio::task::spawn_blocking(move || {
            file.write_all(&buf)
                .map_err(Error::io("write", &file_path))?;
            file.sync_data().map_err(Error::io("sync", &file_path))?;
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

/// Appends a record to a staging file's lines: as the platform sent it, or,
/// spread over lines (a platform that pretty-prints), re-encoded on one.
fn stage(record: &str, buf: &mut Vec<u8>) -> Result<()> {
    if record.contains('\n') {
        serde_json::to_writer(&mut *buf, &parse(record)?)
            .map_err(|e| Error::Invalid(e.to_string()))?;
    } else {
        buf.extend_from_slice(record.as_bytes());
    }
    buf.push(b'\n');
    Ok(())
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

/// Percent-encodes a cursor for a query string.
fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Sends the records already staged in a category file, one at a time.
async fn send_staged(path: &std::path::Path, tx: &mpsc::Sender<Value>) -> Result<()> {
    use std::io::BufRead;
    let Ok(f) = std::fs::File::open(path) else {
        return Ok(());
    };
    for line in std::io::BufReader::new(f).lines() {
        let line = line.map_err(Error::io("read", path))?;
        if let Ok(val) = serde_json::from_str(&line)
            && tx.send(val).await.is_err()
        {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(page: &str) -> Vec<String> {
        let page: Page = serde_json::from_str(page).expect("page");
        let mut buf = Vec::new();
        for item in &page.items {
            stage(item.get(), &mut buf).expect("stage");
        }
        String::from_utf8(buf)
            .expect("utf-8")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn records_are_staged_as_sent_one_per_line() {
        // Escapes and number forms are kept byte for byte.
        let lines = staged(
            r#"{"items":[{"id":1,"body":"caf\u00e9 \u2028 </script>","n":1.50},{"id":2}],"next_cursor":null}"#,
        );
        assert_eq!(
            lines,
            [
                r#"{"id":1,"body":"caf\u00e9 \u2028 </script>","n":1.50}"#,
                r#"{"id":2}"#
            ]
        );
    }

    #[test]
    fn a_pretty_printed_record_still_takes_one_line() {
        let lines =
            staged("{\"items\": [\n  {\n    \"id\": 7,\n    \"tags\": [\"a\",\n \"b\"]\n  }\n]}");
        assert_eq!(lines, [r#"{"id":7,"tags":["a","b"]}"#]);
    }

    #[test]
    fn a_record_needs_an_integer_id() {
        for bad in [
            r#"{"id":"7"}"#,
            r#"{"id":7.5}"#,
            r#"{"name":"x"}"#,
            "[7]",
            "7",
        ] {
            assert_eq!(record_id(bad), None, "{bad}");
        }
        assert_eq!(record_id(r#"{"x":{"id":1},"id":9}"#), Some(9));
    }
}
