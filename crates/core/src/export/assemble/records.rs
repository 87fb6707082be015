//! A category's records as they are archived: its staged JSON Lines turned
//! into a JSON array as the zip reads it, each record re-encoded where
//! fields must go (a signed link is a credential) or a file's place in the
//! archive must be added.

use std::io::{BufRead, Read};
use std::sync::Arc;

use serde_json::Value;

use super::{CheckedRead, FilesOf};
use crate::connector::Category;
use crate::{Error, Result};

/// Turns a JSON Lines file into a JSON array, streaming, each record as
/// [`Rewrite`] archives it.
pub(super) struct JsonArray<R> {
    lines: R,
    rewrite: Arc<Rewrite>,
    out: Vec<u8>,
    pos: usize,
    started: bool,
    first: bool,
    ended: bool,
    error: Option<Error>,
}

impl<R: BufRead> JsonArray<R> {
    pub(super) fn new(lines: R, rewrite: Arc<Rewrite>) -> Self {
        Self {
            lines,
            rewrite,
            out: Vec::new(),
            pos: 0,
            started: false,
            first: true,
            ended: false,
            error: None,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.out.clear();
        self.pos = 0;
        if !self.started {
            self.started = true;
            self.out.extend_from_slice(b"[");
            return Ok(());
        }
        let mut line = String::new();
        if self.lines.read_line(&mut line)? == 0 {
            if !self.ended {
                self.ended = true;
                self.out.extend_from_slice(if self.first {
                    b"]\n" as &[u8]
                } else {
                    b"\n]\n"
                });
            }
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(());
        }
        self.out
            .extend_from_slice(if self.first { b"\n" as &[u8] } else { b",\n" });
        self.first = false;
        self.rewrite.record(line, &mut self.out)
    }
}

/// How the records of a category are archived: as staged, or, for a
/// category whose records name files or hold fields never to archive (a
/// signed link is a credential), re-encoded without those fields and, for
/// files, with `archive_path`, where the file is in the archive (`null`
/// when it was not retrieved). Every file made from the records (`.json`,
/// the viewer's `.js`) goes through here.
pub(in crate::export) struct Rewrite {
    /// The fields to drop (top-level members, by JSON Pointer).
    strip: Vec<String>,
    /// For files: where each file retrieved is, and which a record names.
    files: Option<Arc<FilesOf>>,
}

impl Rewrite {
    pub(in crate::export) fn new(descriptor: &Category, files: Option<Arc<FilesOf>>) -> Self {
        Self {
            strip: descriptor
                .strip
                .iter()
                .map(|p| p.trim_start_matches('/').to_owned())
                .collect(),
            files,
        }
    }

    /// Writes the archived form of one staged record to `out`.
    pub(super) fn record(&self, line: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
        if self.strip.is_empty() && self.files.is_none() {
            out.extend_from_slice(line.as_bytes());
            return Ok(());
        }
        // Re-encoded, so a lone surrogate (which a value cannot hold)
        // becomes U+FFFD here; records of other categories are archived as
        // sent.
        let mut v: Value =
            serde_json::from_str(&crate::json_text::lossy(line)).map_err(std::io::Error::other)?;
        // Before any field goes: the file may be named by one (a signed link).
        let path = self.files.as_ref().map(|files| {
            (files.key_of)(&v)
                .and_then(|key| files.retrieved.get(&key))
                .map_or(Value::Null, |path| Value::String(format!("data/{path}")))
        });
        if let Value::Object(m) = &mut v {
            for field in &self.strip {
                m.remove(field);
            }
            if let Some(path) = path {
                m.insert("archive_path".into(), path);
            }
        }
        serde_json::to_writer(out, &v).map_err(std::io::Error::other)
    }
}

impl<R: BufRead> Read for JsonArray<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        crate::pieces::read(self, buf)
    }
}

impl<R: BufRead> crate::pieces::Pieces for JsonArray<R> {
    fn piece(&mut self) -> (&[u8], &mut usize) {
        (&self.out, &mut self.pos)
    }
    fn ended(&self) -> bool {
        self.ended
    }
    fn next_piece(&mut self) -> std::io::Result<()> {
        self.refill()
    }
}

impl<R: BufRead + Send> CheckedRead for JsonArray<R> {
    fn check(&mut self) -> Result<()> {
        self.error.take().map_or(Ok(()), Err)
    }
}
