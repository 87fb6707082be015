//! Sealing records into the chain and checking it: canonical JSON, hashes,
//! the sequence, the head, and scrubbing secrets out of free text.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::snapshot::{Head, HeadState, Snapshot};
use super::{AuditEntry, AuditRecord, ChainReport};
use crate::{Error, Result};

/// `prev_hash` of the first record.
pub(super) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Whether `s` looks like one of our hashes.
pub(super) fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Computes the entry's place in the chain and its hash.
pub(super) fn seal(
    seq: u64,
    time: String,
    entry: AuditEntry,
    prev_hash: String,
) -> Result<AuditRecord> {
    let mut record = AuditRecord {
        seq,
        time,
        entry,
        prev_hash,
        hash: String::new(),
    };
    let value = serde_json::to_value(&record)
        .map_err(|e| Error::Invalid(format!("cannot encode the audit record ({e})")))?;
    record.hash = hash_of(&value);
    Ok(record)
}

/// SHA-256 (hex) of a record's canonical JSON without its `hash` member.
///
/// The record is hashed as parsed from its line, not as re-encoded from
/// [`AuditRecord`], so a member this build does not know is still covered.
pub(super) fn hash_of(record: &Value) -> String {
    let mut canonical = String::new();
    match record {
        Value::Object(map) => write_object(map, Some("hash"), &mut canonical),
        other => write_value(other, &mut canonical),
    }
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Canonical JSON does not depend on serde_json's `preserve_order` feature,
/// which another crate in a build could switch on: keys are sorted here.
fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, None, out),
    }
}

fn write_object(map: &Map<String, Value>, skip: Option<&str>, out: &mut String) {
    // Byte order of UTF-8 is code point order, as Python's `sort_keys` uses.
    let mut keys: Vec<&String> = map.keys().filter(|k| Some(k.as_str()) != skip).collect();
    keys.sort();
    out.push('{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(key, out);
        out.push(':');
        write_value(&map[key], out);
    }
    out.push('}');
}

/// A JSON string as serde_json and Python write it: only `"`, `\` and
/// control characters escaped.
fn write_str(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let b = c as usize;
                out.push_str("\\u00");
                out.push(HEX[b >> 4] as char);
                out.push(HEX[b & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one line into a record and says whether its hash matches its
/// content; the error completes "line N is …".
pub(super) fn parse_line(bytes: &[u8]) -> Result<(AuditRecord, bool), String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    if !value.is_object() {
        return Err("not a JSON object".into());
    }
    let hash = hash_of(&value);
    let record: AuditRecord =
        serde_json::from_value(value).map_err(|e| format!("not an audit record ({e})"))?;
    let intact = record.hash == hash;
    Ok((record, intact))
}

/// Whether the last record of the log is the one the head names.
///
/// A head one record behind, with that record chained to it, is what a crash
/// between writing a record and its head leaves; it is accepted, and the next
/// append moves the head on. Anyone able to append a well-chained record can
/// rewrite the head too, so this weakens nothing.
pub(super) fn head_matches(head: &Head, last: &AuditRecord) -> Result<(), String> {
    if last.seq == head.seq && last.hash == head.hash {
        return Ok(());
    }
    if head.seq.checked_add(1) == Some(last.seq) && last.prev_hash == head.hash {
        return Ok(());
    }
    if last.seq < head.seq {
        let cut = head.seq - last.seq;
        return Err(format!(
            "the log ends at record {} but its head says it ends at record {}: {cut} record{} {} cut off the end",
            last.seq,
            head.seq,
            if cut == 1 { "" } else { "s" },
            if cut == 1 { "was" } else { "were" },
        ));
    }
    Err(format!(
        "the last record (record {}) is not the one the head names (record {}, hash {}…): the log or its head was replaced or edited",
        last.seq,
        head.seq,
        head.hash.get(..12).unwrap_or(&head.hash),
    ))
}

/// Checks every line of a snapshot; see [`super::AuditLog::verify`].
pub(super) fn verify(snapshot: Snapshot) -> Result<ChainReport> {
    let Snapshot {
        head_path,
        head,
        log_exists,
        records,
    } = snapshot;
    let mut problems = Vec::new();
    let mut count = 0u64;
    let mut lines = 0u64;
    // The last record read; the next one must follow it.
    let mut last: Option<AuditRecord> = None;
    // Set after an unreadable line, which is reported once: the record after
    // it is not also blamed for not following its predecessor.
    let mut resync = false;

    for raw in records.into_raw() {
        let raw = raw?;
        lines += 1;
        let n = raw.number;
        if !raw.complete {
            problems.push(format!(
                "line {n} is incomplete (it has no line end): writing it was interrupted or the file was cut"
            ));
            resync = true;
            continue;
        }
        let (record, intact) = match parse_line(&raw.bytes) {
            Ok(parsed) => parsed,
            Err(what) => {
                problems.push(format!("line {n} is {what}"));
                resync = true;
                continue;
            }
        };
        count += 1;
        let seq = record.seq;
        if !intact {
            problems.push(format!(
                "record {seq} (line {n}) was altered: its content no longer matches its hash"
            ));
        }
        if !resync {
            let (want_seq, want_prev) = match &last {
                Some(prev) => (prev.seq + 1, prev.hash.as_str()),
                None => (1, GENESIS),
            };
            if seq > want_seq {
                let missing = if seq - want_seq == 1 {
                    format!("record {want_seq} is")
                } else {
                    format!("records {want_seq} to {} are", seq - 1)
                };
                problems.push(format!("{missing} missing before record {seq} (line {n})"));
            } else if seq < want_seq {
                problems.push(match &last {
                    Some(prev) => format!(
                        "record {seq} (line {n}) is out of order: it comes after record {}",
                        prev.seq
                    ),
                    None => format!(
                        "record {seq} (line {n}) has an invalid number: records count from 1"
                    ),
                });
            } else if record.prev_hash != want_prev {
                problems.push(format!(
                    "record {seq} (line {n}) does not chain to the record before it: a record was replaced, removed or reordered"
                ));
            }
        }
        resync = false;
        last = Some(record);
    }

    match head {
        HeadState::Malformed(e) => problems.push(format!(
            "the head file {} is unreadable ({e}), so the end of the log cannot be checked",
            head_path.display()
        )),
        HeadState::Missing if lines > 0 => problems.push(format!(
            "the head file {} is missing although the log has {lines} line{}: it was deleted, or the log was copied without it",
            head_path.display(),
            if lines == 1 { "" } else { "s" },
        )),
        HeadState::Missing => {}
        HeadState::Present(head) => match &last {
            Some(last) => {
                if let Err(problem) = head_matches(&head, last) {
                    problems.push(problem);
                }
            }
            None if !log_exists => problems.push(format!(
                "the log file is missing but its head says it ends at record {}: the log was deleted",
                head.seq
            )),
            None => problems.push(format!(
                "the log has no readable record but its head says it ends at record {}: the log was emptied or truncated",
                head.seq
            )),
        },
    }

    Ok(ChainReport {
        ok: problems.is_empty(),
        records: count,
        problems,
    })
}

/// Prefixes of the reference platform's tokens (personal, access, refresh).
const TOKEN_PREFIXES: [&str; 3] = ["ksp_", "ksa_", "ksr_"];

/// Removes anything token-like from the entry's free text before it is
/// sealed; the structure already has no place for a secret.
pub(super) fn scrub(mut entry: AuditEntry) -> AuditEntry {
    entry.reason = entry.reason.map(|r| redact(&r));
    entry.error_message = entry.error_message.map(|m| redact(&m));
    if let Ok(url) = url::Url::parse(&entry.platform) {
        // Rewritten only when there is something to strip, so that the URL
        // stays as the caller spelled it otherwise.
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            entry.platform = crate::error::display_url(&url);
        }
    }
    entry
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

/// Replaces words that start with a token prefix, and whatever follows
/// `Bearer `, with `[redacted]`.
pub(crate) fn redact(text: &str) -> String {
    let token_len = |s: &str| s.find(|c| !is_token_char(c)).unwrap_or(s.len());
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut in_word = false;
    while let Some(c) = rest.chars().next() {
        if !in_word {
            if TOKEN_PREFIXES.iter().any(|p| rest.starts_with(p)) {
                out.push_str("[redacted]");
                rest = &rest[token_len(rest)..];
                in_word = false;
                continue;
            }
            if let Some(word) = rest.get(..7).filter(|w| w.eq_ignore_ascii_case("bearer "))
                && token_len(&rest[7..]) > 0
            {
                out.push_str(word);
                out.push_str("[redacted]");
                rest = &rest[7 + token_len(&rest[7..])..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
        in_word = is_token_char(c);
    }
    out
}
