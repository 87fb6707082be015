//! The zip side of an export: a thread that adds finished entries to the
//! archive while fetching goes on, so fetching and compressing overlap.
//! Whole and split archives go through the same pipeline: every entry is
//! prepared once (hashed, and deflated where it compresses) on other
//! threads. A split archive is laid out only when everything is fetched
//! (every part's manifest lists every part): until then its prepared
//! entries are set aside, their sizes known exactly (see [`PartedWriter`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::Sender;

use serde_json::Value;

mod forms;
pub(super) mod growing;
mod piped;
mod pipeline;
mod records;

use super::{CancelFlag, ExportEvent, Formats, Reporter};
use crate::archive::{
    ArchiveWriter, BagInfo, FinishedSet, IndexRequest, PartedWriter, SplitOptions,
    names::NameAllocator,
};
use crate::connector::Category;
use crate::fsx::Stop;
use crate::{Error, Result, viewer};
pub(super) use records::Rewrite;

/// Work for the zip thread.
pub(super) enum Job {
    /// `data/{name}.json` (with its CSV and viewer forms) from the staged
    /// `jsonl`.
    Category {
        /// What it is (its name, CSV columns, key, fields never archived).
        descriptor: Arc<Category>,
        jsonl: PathBuf,
        /// For a category of files: where each file retrieved is, so each
        /// record says where its file is.
        retrieved: Option<Arc<FilesOf>>,
        /// Sent as the category starts: its file is read as its pages
        /// arrive. `None`: it is complete.
        growing: Option<growing::Watch>,
    },
    /// A verified file.
    Media {
        key: String,
        body: MediaBody,
        filename: String,
        content_type: String,
    },
    /// `data/profile.json`.
    Bytes { name: String, bytes: Vec<u8> },
    /// Write `data/manifest.json` and the bag's tag files, then stop. When
    /// the archive is split, each part's manifest also gets `part` (its
    /// number) and `parts` (every part: name, files, bytes), and the
    /// layout's warnings.
    Finish { manifest: Value },
}

/// A media file as its download verified it: the declared SHA-256 it
/// matched and the CRC-32 of the bytes written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Verified {
    pub sha256: [u8; 32],
    pub crc32: u32,
    pub len: u64,
}

/// Where a downloaded media file is.
pub(super) enum MediaBody {
    /// In the staging folder; with what the download verified, when known.
    Staged {
        file: PathBuf,
        verified: Option<Verified>,
    },
    /// In memory, straight from its download. The lease is its share of
    /// the downloads' memory budget, given back once the entry is written.
    InMemory {
        bytes: Vec<u8>,
        verified: Verified,
        lease: Lease,
    },
}

/// A share of the memory that downloads held in memory may take.
pub(super) type Lease = tokio::sync::OwnedSemaphorePermit;

/// Where each file retrieved is in the archive (under `data/`), by key.
pub(super) type Retrieved = std::collections::HashMap<String, String>;

/// The key of the file a record names, if it names one.
pub(in crate::export) type KeyOf = Box<dyn Fn(&serde_json::Value) -> Option<String> + Send + Sync>;

/// Where the records of a category of files say their file went.
pub(in crate::export) struct FilesOf {
    /// Each file retrieved, by key.
    pub retrieved: Arc<Retrieved>,
    /// The key of the file a record names, as the connector made it from
    /// that record (not necessarily the record's own key: a Matrix upload
    /// and the events that show it name one file).
    pub key_of: KeyOf,
}

/// Where a file goes in the archive (under `data/`): its key keeps names
/// unique (also case-insensitively) without remembering every name.
pub fn media_archive_path(key: &str, filename: &str) -> String {
    let clean = NameAllocator::default().allocate(filename, "file");
    format!("media/{}-{clean}", super::staging::file_slug(key))
}

/// The read buffer of each form's reader of a staging file: a dozen read
/// at once, and fewer, larger reads cost less.
const LINES_BUFFER: usize = 64 << 10;

/// Compress what compresses; store what is already compressed.
pub(super) fn compressible(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("svg")
        || ct.contains("javascript")
}

/// The payload paths (under `data/`) an interrupted run left in the
/// archive, with their SHA-256.
pub(super) type Recovered = Arc<HashMap<String, [u8; 32]>>;

/// [`Recovered`], once the zip thread has checked it: `None` until then.
pub(super) type Archived = tokio::sync::watch::Receiver<Option<Recovered>>;

/// The zip thread, and what it found to continue.
pub(super) struct Started {
    pub jobs: Sender<Job>,
    pub thread: std::thread::JoinHandle<Result<FinishedSet>>,
    pub archived: Archived,
}

/// Starts the zip thread writing `final_path` (or its parts, with `split`),
/// with the forms of the data `formats` asks for. An archive in one piece
/// continues what an interrupted run of the same export left; a split one
/// keeps the entries it set aside. A split archive's parts are written at
/// the end: `reporter` hears how far, and `cancel` stops them.
pub(super) fn start(
    final_path: PathBuf,
    info: BagInfo,
    formats: Formats,
    split: Option<SplitOptions>,
    sync_every: u64,
    (reporter, cancel): (Arc<dyn Reporter>, CancelFlag),
) -> Result<Started> {
    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
    let (archived_tx, archived) = tokio::sync::watch::channel(None);
    let spawned = if split.is_some() {
        // A split archive keeps the entries an interrupted run set aside.
        let mut writer = PartedWriter::resume(&final_path, info, split)?;
        writer.on_progress(move |p| {
            reporter.report(ExportEvent::WritingParts {
                written: p.written,
                parts: p.parts,
                done: p.done,
                total: p.total,
            })
        });
        writer.stop_when(move || cancel.state() != super::RUNNING);
        std::thread::Builder::new()
            .name("keepsake-zip".into())
            .spawn(move || pipeline::run(writer, rx, formats, sync_every, &archived_tx))
    } else {
        // Checking what an interrupted run left reads it all (CRCs, and the
        // SHA-256 to go on with): done on the zip thread while fetching
        // starts, after the quick refusals here.
        ArchiveWriter::check_target(&final_path, &info)?;
        std::thread::Builder::new()
            .name("keepsake-zip".into())
            .spawn(move || {
                let writer = PartedWriter::resume(&final_path, info, None)?;
                pipeline::run(writer, rx, formats, sync_every, &archived_tx)
            })
    };
    let thread =
        spawned.map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;
    Ok(Started {
        jobs: tx,
        thread,
        archived,
    })
}

/// Adds the viewer's page and the index files, and completes the archive.
fn finish(mut writer: PartedWriter, manifest: &Value, formats: Formats) -> Result<FinishedSet> {
    if let Some(w) = writer.whole_mut() {
        // What follows depends on the whole run: a resumed run writes it again.
        w.stop_journal();
    }
    if formats.viewer {
        add_viewer_page(&mut writer)?;
    }
    writer.finish(&mut |layout| index_files(manifest, layout, formats))
}

fn stopped_early() -> Error {
    Error::Invalid("the export stopped before the archive was finished".into())
}

/// One entry a job adds to the archive, and where its content comes from.
pub(super) struct Unit {
    /// Path under `data/`.
    pub path: String,
    pub source: UnitSource,
    /// A staged file that is only kept for this entry (a media file): once
    /// the entry is safely in an archive being written in one piece, it can
    /// go.
    pub staged: Option<PathBuf>,
    /// The share of the memory budget its content holds, given back once
    /// the entry is written.
    pub lease: Option<Lease>,
}

impl Unit {
    fn new(path: String, source: UnitSource) -> Self {
        Self {
            path,
            source,
            staged: None,
            lease: None,
        }
    }
}

/// A category's forms and where its records are.
pub(super) struct CategoryForms {
    forms: forms::Forms,
    /// Its staged JSON Lines.
    jsonl: PathBuf,
    /// Sent as the category starts: its file is read as its pages arrive
    /// (on a thread of its own, which waits for pages). `None`: complete.
    growing: Option<growing::Watch>,
}

impl CategoryForms {
    /// Keeps only the forms `keep` says still have to be made.
    fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.forms.forms.retain(|(path, _)| keep(path));
    }

    /// How many entries it makes.
    fn len(&self) -> usize {
        self.forms.forms.len()
    }

    /// Reads the records once, writing each form into its sink (entries
    /// being prepared, spooling into `spool_dir`).
    fn write<W: std::io::Write>(
        &self,
        sinks: Vec<W>,
        spool_dir: &std::path::Path,
    ) -> Result<Vec<W>> {
        let mut lines: Box<dyn BufRead> = match &self.growing {
            Some(watch) => Box::new(BufReader::with_capacity(
                LINES_BUFFER,
                watch.follow(self.jsonl.clone()),
            )),
            None => {
                let f = fs_err::File::open(&self.jsonl).map_err(Error::io("read", &self.jsonl))?;
                Box::new(BufReader::with_capacity(LINES_BUFFER, f))
            }
        };
        self.forms
            .write(&mut lines, sinks)
            .map_err(|stop| match stop {
                Stop::Read(e) => Error::io("read", &self.jsonl)(e),
                Stop::Sink(e) => Error::io("write a temporary file in", spool_dir)(e),
            })
    }
}

pub(super) enum UnitSource {
    /// The forms of a category (several entries), made from one reading
    /// of its staged records, deflated.
    Forms(CategoryForms),
    /// A staged file.
    File { path: PathBuf, compress: bool },
    /// A downloaded media file, stored, whose hashes are known.
    Verified { path: PathBuf, v: Verified },
    /// Bytes at hand, deflated.
    Bytes(Vec<u8>),
    /// A downloaded media file held in memory, whose hashes are known:
    /// deflated when `compress`, stored otherwise.
    Memory {
        bytes: Vec<u8>,
        v: Verified,
        compress: bool,
    },
}

/// What a job adds to the archive, in order.
pub(super) fn units(job: Job, formats: Formats) -> Vec<Unit> {
    match job {
        Job::Category {
            descriptor,
            jsonl,
            retrieved,
            growing,
        } => {
            let rewrite = Arc::new(Rewrite::new(&descriptor, retrieved));
            let forms = forms::forms_of(&descriptor.name, descriptor.csv.clone(), rewrite, formats);
            let path = forms.paths().next().unwrap_or_default().to_owned();
            vec![Unit::new(
                path,
                UnitSource::Forms(CategoryForms {
                    forms,
                    jsonl,
                    growing,
                }),
            )]
        }
        Job::Media {
            key,
            body,
            filename,
            content_type,
        } => {
            let path = media_archive_path(&key, &filename);
            let compress = compressible(&content_type);
            let (file, verified) = match body {
                MediaBody::InMemory {
                    bytes,
                    verified,
                    lease,
                } => {
                    let source = UnitSource::Memory {
                        bytes,
                        v: verified,
                        compress,
                    };
                    let mut unit = Unit::new(path, source);
                    unit.lease = Some(lease);
                    return vec![unit];
                }
                MediaBody::Staged { file, verified } => (file, verified),
            };
            let staged = file.clone();
            let source = match verified {
                // Stored as downloaded: copied as verified, checked by CRC.
                Some(v) if !compress => UnitSource::Verified { path: file, v },
                _ => UnitSource::File {
                    path: file,
                    compress,
                },
            };
            vec![Unit {
                path,
                source,
                staged: Some(staged),
                lease: None,
            }]
        }
        Job::Bytes { name, bytes } => {
            let mut v = Vec::new();
            if formats.viewer {
                let stem = name.trim_end_matches(".json");
                v.push(Unit {
                    path: viewer::data_file(stem),
                    // A lone surrogate is U+FFFD in the viewer, as in
                    // the records' data files.
                    source: UnitSource::Bytes(viewer::value_file(
                        stem,
                        crate::json_text::lossy(&String::from_utf8_lossy(&bytes)).as_bytes(),
                    )),
                    staged: None,
                    lease: None,
                });
            }
            v.insert(0, Unit::new(name, UnitSource::Bytes(bytes)));
            v
        }
        Job::Finish { .. } => Vec::new(),
    }
}

/// The archive's path, SHA-256 and size for the report, and its parts when
/// split (see [`super::ExportReport::sha256`] for a set's SHA-256).
pub(super) fn summary(set: &FinishedSet) -> (PathBuf, String, u64, Vec<super::ArchivePart>) {
    use sha2::{Digest, Sha256};
    let first = set.parts.first();
    let path = first.map(|p| p.path.clone()).unwrap_or_default();
    if let [only] = &set.parts[..] {
        return (path, only.sha256.clone(), only.bytes, Vec::new());
    }
    let mut listing = Sha256::new();
    for p in &set.parts {
        let name = p.path.file_name().unwrap_or_default().to_string_lossy();
        listing.update(format!("{}  {name}\n", p.sha256));
    }
    let parts = set
        .parts
        .iter()
        .map(|p| super::ArchivePart {
            path: p.path.clone(),
            sha256: p.sha256.clone(),
            bytes: p.bytes,
        })
        .collect();
    let bytes = set.parts.iter().map(|p| p.bytes).sum();
    (path, hex::encode(listing.finalize()), bytes, parts)
}

/// The files that describe the archive, which differ from part to part of a
/// split archive: `data/manifest.json` (with the parts and this part's
/// number when split) and, with the viewer, its copy for the page.
fn index_files(
    manifest: &Value,
    layout: Option<IndexRequest<'_>>,
    formats: Formats,
) -> Result<Vec<(String, Vec<u8>)>> {
    let mut manifest = manifest.clone();
    if let (Some(l), Value::Object(m)) = (layout, &mut manifest) {
        m.insert("part".into(), l.this_part.into());
        m.insert(
            "parts".into(),
            serde_json::to_value(l.parts).map_err(|e| Error::Invalid(e.to_string()))?,
        );
        if let Some(Value::Array(w)) = m.get_mut("warnings") {
            w.extend(l.warnings.iter().cloned().map(Value::String));
        }
    }
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut files = Vec::new();
    if formats.viewer {
        files.push((
            viewer::data_file("manifest"),
            viewer::value_file("manifest", &bytes),
        ));
    }
    files.insert(0, ("manifest.json".to_owned(), bytes));
    Ok(files)
}

// The offline viewer (crate::viewer): `index.html` at the root and the data
// files `data/js/{category}.js`, written from the same records as the JSON.

/// The viewer's page, a tag file at the archive root.
fn add_viewer_page(writer: &mut PartedWriter) -> Result<()> {
    writer.add_tag_file(viewer::INDEX_NAME, viewer::index_html().as_bytes())?;
    Ok(())
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
