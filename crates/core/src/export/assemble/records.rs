//! A category's records as they are archived: each re-encoded where fields
//! must go (a signed link is a credential) or a file's place in the archive
//! must be added, and otherwise as staged.

use std::sync::Arc;

use serde_json::Value;

use super::FilesOf;
use crate::connector::Category;

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

    /// Whether a record is parsed and written again (rather than archived
    /// as staged).
    pub(super) fn reencodes(&self) -> bool {
        !self.strip.is_empty() || self.files.is_some()
    }

    /// Writes the archived form of a record parsed from its staged text
    /// (where [`Self::reencodes`]; any other record is archived as staged).
    /// A lone surrogate, which a value cannot hold, is U+FFFD.
    pub(super) fn value(&self, mut v: Value, out: &mut Vec<u8>) -> std::io::Result<()> {
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
