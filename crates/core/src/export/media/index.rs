//! The file index, `data/files.json`: one line per file the export met,
//! where the archive holds it and how it was checked, or why it is missing.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::super::Shared;
use super::super::staging::open_private;
use crate::connector::FileRef;
use crate::{Error, Result};

/// How a file was checked, in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(in crate::export) enum Check {
    /// Against the SHA-256 the platform declared (and its size).
    Sha256,
    /// Against the size the platform declared or sent (`Content-Length`);
    /// its SHA-256 is Keepsake's own.
    Size,
}

/// One line of the file index, `data/files.json`.
#[derive(Debug, Serialize)]
struct Indexed<'a> {
    key: &'a str,
    name: &'a str,
    content_type: &'a str,
    size: Option<u64>,
    /// The platform's SHA-256, or Keepsake's where it gave none.
    sha256: Option<String>,
    /// How it was checked; `None` when it is missing.
    check: Option<Check>,
    /// Where it is in the archive; `None` when it is missing.
    archive_path: Option<String>,
    /// Why it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<&'a str>,
}

/// The file index as it is written: one JSON line per file, in the
/// staging folder (`files.jsonl`), made afresh by every run (a resumed
/// run meets every file again).
pub(super) struct Index {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
}

impl Index {
    pub(super) fn create(shared: &Shared) -> Result<Self> {
        let path = shared.staging_file(super::super::FILES_INDEX_FILE);
        let file = open_private(&path, false)?;
        file.set_len(0).map_err(Error::io("truncate", &path))?;
        Ok(Self {
            out: std::io::BufWriter::new(file),
            path,
        })
    }

    fn line(&mut self, entry: &Indexed<'_>) -> Result<()> {
        serde_json::to_writer(&mut self.out, entry).map_err(|e| Error::Invalid(e.to_string()))?;
        self.out
            .write_all(b"\n")
            .map_err(Error::io("write", &self.path))
    }

    pub(super) fn archived(
        &mut self,
        file: &FileRef,
        check: Check,
        ours: Option<&[u8; 32]>,
        path: &str,
    ) -> Result<()> {
        self.line(&Indexed {
            key: &file.key,
            name: &file.name,
            content_type: &file.content_type,
            size: file.size,
            sha256: file.sha256.clone().or_else(|| ours.map(hex::encode)),
            check: Some(check),
            archive_path: Some(format!("data/{path}")),
            missing: None,
        })
    }

    pub(super) fn missing(&mut self, file: &FileRef, why: &str) -> Result<()> {
        self.line(&Indexed {
            key: &file.key,
            name: &file.name,
            content_type: &file.content_type,
            size: file.size,
            sha256: file.sha256.clone(),
            check: None,
            archive_path: None,
            missing: Some(why),
        })
    }

    /// Flushes the index, sorted by key: the downloads finish in no set
    /// order, and the same export should make the same archive.
    pub(super) fn finish(&mut self) -> Result<()> {
        self.out.flush().map_err(Error::io("write", &self.path))?;
        let text = fs_err::read_to_string(&self.path).map_err(Error::io("read", &self.path))?;
        let mut lines: Vec<(String, &str)> = text
            .lines()
            .map(|l| {
                let key = super::super::fetch::record_key(l, "/key").unwrap_or_default();
                (key, l)
            })
            .collect();
        lines.sort_unstable();
        let mut sorted = String::with_capacity(text.len());
        for (_, l) in lines {
            sorted.push_str(l);
            sorted.push('\n');
        }
        super::super::write_private(&self.path, sorted.as_bytes())
    }
}
