//! The staging directory of one export and its checkpoint journal.
//!
//! Layout (`0700`, next to the destination so a rename stays on one disk):
//! ```text
//! .keepsake-{export_id}/
//!   session.json       what was asked and what the platform answered
//!   journal.jsonl      one fsync'd line per finished page or media file
//!   posts.jsonl …      records as they arrived, one per line
//!   profile.raw.json   a single record, as it came
//!   media/{slug}.part  a download in progress (resumed with Range)
//!   media/{slug}.bin   a verified file ([`file_slug`] of its key)
//! ```
//! A resumed run truncates each category file to the length its last
//! journal line records, so a page written but not journaled (a crash
//! between the two) is fetched again rather than duplicated.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Prefix of staging directories inside the destination folder.
pub const STAGING_PREFIX: &str = ".keepsake-";

/// One checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Checkpoint {
    /// A page of `cat` is safely in `{cat}.jsonl`.
    Page {
        /// Category.
        cat: String,
        /// The cursor for the next page; `None` when the category is complete.
        next: Option<String>,
        /// Length of `{cat}.jsonl` after this page.
        len: u64,
        /// Records stored so far.
        count: u64,
        /// The keys of every record on this page, stored or sent twice:
        /// with the page before's, what the next page is de-duplicated
        /// against after a resume. (Journals of older versions hold
        /// integers, read as their decimal text, or a `last_id` instead,
        /// which is ignored.)
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "keys_as_text"
        )]
        keys: Vec<String>,
        /// Records stored so far whose text is not valid Unicode (see
        /// `crate::json_text`), for the report's warning.
        #[serde(default, skip_serializing_if = "is_zero")]
        odd_text: u64,
        /// Records stored so far that the category's marker marks.
        #[serde(default, skip_serializing_if = "is_zero")]
        marked: u64,
        /// The boot it was written in, when neither the page nor this line
        /// was synced to disk (see [`Staging::replay`]). Absent: both were,
        /// with every page and line before them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        boot: Option<String>,
    },
    /// A file is verified and in `media/{slug}.bin`.
    Media {
        /// The file's key ([`crate::connector::FileRef::key`]); journals of
        /// older versions name it `id`, an integer.
        #[serde(alias = "id", deserialize_with = "key_as_text")]
        key: String,
        /// Its bytes.
        bytes: u64,
        /// Its CRC-32, taken while it downloaded (absent in journals of
        /// older versions): the archive copies the file as verified
        /// without hashing it again, and checks the copy by this CRC.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        crc32: Option<u32>,
        /// The boot it was written in, when it was not synced to disk: a
        /// killed process loses nothing the system holds, so within one
        /// boot the file is intact; after a reboot it is checked against
        /// its CRC before it is trusted. Absent: synced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        boot: Option<String>,
        /// Its SHA-256 as Keepsake computed it, lower-case hex (absent in
        /// journals of older versions): a resumed run indexes the file
        /// with it even when the platform declared none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
    },
}

impl Checkpoint {
    /// The checkpoint as a line of the journal.
    fn line(&self) -> Result<Vec<u8>> {
        let mut line = serde_json::to_vec(self).map_err(|e| Error::Invalid(e.to_string()))?;
        line.push(b'\n');
        Ok(line)
    }

    /// The boot it was written in, when it was not synced.
    fn boot(&self) -> Option<&str> {
        match self {
            Self::Page { boot, .. } | Self::Media { boot, .. } => boot.as_deref(),
        }
    }

    /// The file a `Media` checkpoint records, with its key.
    pub fn media_file(&self) -> Option<(&str, MediaFile)> {
        let Self::Media {
            key,
            bytes,
            crc32,
            boot,
            sha256,
        } = self
        else {
            return None;
        };
        let mut digest = [0u8; 32];
        let sha256 = sha256
            .as_deref()
            .and_then(|h| hex::decode_to_slice(h, &mut digest).ok())
            .map(|()| digest);
        Some((
            key,
            MediaFile {
                bytes: *bytes,
                crc32: *crc32,
                boot: boot.clone(),
                sha256,
            },
        ))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A key as the journal holds it: text, or an integer (older versions).
#[derive(Deserialize)]
#[serde(untagged)]
enum Key {
    Text(String),
    Int(i64),
}

impl From<Key> for String {
    fn from(k: Key) -> Self {
        match k {
            Key::Text(s) => s,
            Key::Int(n) => n.to_string(),
        }
    }
}

fn key_as_text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Key::deserialize(d)?.into())
}

fn keys_as_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Vec::<Key>::deserialize(d)?
        .into_iter()
        .map(String::from)
        .collect())
}

/// The longest key used as it is in a file name.
const MAX_PLAIN_KEY: usize = 64;

/// A file's key as a name in the staging folder and the archive: the key
/// itself when it is a plain name (the Export API's and WordPress's ids,
/// so their archives keep the names they always had), else the first 32
/// hex digits of its SHA-256 (a platform's key may hold anything).
pub(crate) fn file_slug(key: &str) -> String {
    let plain = !key.is_empty()
        && key.len() <= MAX_PLAIN_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        return key.to_owned();
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    hex::encode(&digest[..16])
}

/// A verified media file, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Its bytes.
    pub bytes: u64,
    /// Its CRC-32, when the journal has it.
    pub crc32: Option<u32>,
    /// The boot it was written in, when it was not synced.
    pub boot: Option<String>,
    /// Its SHA-256, when the journal has it.
    pub sha256: Option<[u8; 32]>,
}

/// This boot of the system, where the system says (Linux); `None`
/// elsewhere, where downloads are synced one by one instead.
pub fn boot_id() -> Option<String> {
    fs_err::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl MediaFile {
    /// Whether the staged file may be damaged: written unsynced in another
    /// boot (a power cut may have taken part of it).
    pub fn written_in_another_boot(&self, now: Option<&str>) -> bool {
        self.boot.as_deref().is_some_and(|b| Some(b) != now)
    }
}

/// Drops from `done` the media files written unsynced in another boot whose
/// staged copy no longer matches its CRC (a power cut took part of it), so
/// they are downloaded again. A file that is gone was removed once it was
/// in the archive, which the archive's own journal checks.
pub fn recheck_after_reboot(
    staging_dir: &Path,
    done: &mut HashMap<String, MediaFile>,
    now: Option<&str>,
) {
    done.retain(|key, f| {
        if !f.written_in_another_boot(now) {
            return true;
        }
        let path = staging_dir
            .join("media")
            .join(format!("{}.bin", file_slug(key)));
        // Read a piece at a time: a staged file can be larger than memory.
        let mut crc = crc32fast::Hasher::new();
        let Ok(len) = fs_err::File::open(&path).and_then(|mut file| {
            crate::fsx::read_each(&mut file, &mut [0; 64 << 10], |p| crc.update(p))
        }) else {
            return true;
        };
        let intact = len == f.bytes && Some(crc.finalize()) == f.crc32;
        if !intact {
            tracing::warn!(
                key,
                "a staged file was damaged by a restart; downloading it again"
            );
            let _ = fs_err::remove_file(&path);
        }
        intact
    });
}

/// Where a category stands, from the journal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CategoryState {
    /// Cursor to continue from (`None` with `done` false: start).
    pub next: Option<String>,
    /// Bytes of `{cat}.jsonl` that are journaled.
    pub len: u64,
    /// Records stored.
    pub count: u64,
    /// The keys of the records on the last journaled page.
    pub keys: Vec<String>,
    /// The keys of the records on the page before it.
    pub earlier_keys: Vec<String>,
    /// Records stored whose text is not valid Unicode.
    pub odd_text: u64,
    /// Records stored that the category's marker marks.
    pub marked: u64,
    /// Every page arrived.
    pub done: bool,
}

/// An open staging directory.
pub struct Staging {
    dir: PathBuf,
    journal: std::fs::File,
}

use crate::fsx::create_private_dir;

/// Opens (creating if needed) a file readable by the owner only.
pub fn open_private(path: &Path, append: bool) -> Result<std::fs::File> {
    let mut o = crate::fsx::private_file();
    o.create(true).read(true);
    if append {
        o.append(true);
    } else {
        o.write(true);
    }
    o.open(path)
        .map(fs_err::File::into_file)
        .map_err(Error::io("open", path))
}

impl Staging {
    /// The staging directory for `export_id` inside `out_dir`. Refuses an
    /// id that is not a plain name: the session is checked when it is
    /// parsed, and this is the last line before a platform's value becomes
    /// a folder Keepsake writes to and later deletes.
    pub fn dir_for(out_dir: &Path, export_id: &str) -> Result<PathBuf> {
        if !super::checked::is_plain_export_id(export_id) {
            return Err(Error::Invalid(format!(
                "refusing to stage export {export_id:?} in {}: its id is not a plain name; nothing was written",
                out_dir.display()
            )));
        }
        Ok(out_dir.join(format!("{STAGING_PREFIX}{export_id}")))
    }

    /// Opens or creates the staging directory.
    pub fn open(dir: &Path) -> Result<Self> {
        create_private_dir(dir)?;
        create_private_dir(&dir.join("media"))?;
        let journal = open_private(&dir.join("journal.jsonl"), true)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            journal,
        })
    }

    /// Appends one checkpoint, and fsyncs the journal unless the checkpoint
    /// says it was not synced (what it records is not on disk yet either).
    pub fn record(&mut self, c: &Checkpoint) -> Result<()> {
        let path = self.dir.join("journal.jsonl");
        self.journal
            .write_all(&c.line()?)
            .map_err(Error::io("write", &path))?;
        if c.boot().is_some() {
            return Ok(());
        }
        self.journal.sync_data().map_err(Error::io("sync", &path))
    }

    /// Replays the journal: the state of each category and the finished
    /// media ids. A torn last line (a crash mid-write) is cut off, so the
    /// next checkpoint starts on a line of its own.
    ///
    /// Pages are synced to disk only now and then (a killed process loses
    /// nothing the system holds). After a restart of the system, a
    /// category whose last pages were not synced goes back to its last
    /// synced page (or its start): a power cut may have taken what came
    /// after.
    ///
    /// `now` is this boot ([`boot_id`]).
    pub fn replay(
        &mut self,
        now: Option<&str>,
    ) -> Result<(HashMap<String, CategoryState>, HashMap<String, MediaFile>)> {
        let path = self.dir.join("journal.jsonl");
        let file = fs_err::File::open(&path).map_err(Error::io("read", &path))?;
        let mut cats: HashMap<String, CategoryState> = HashMap::new();
        // For a category whose last pages were not synced: the boot they
        // were written in, and its state before them (its last synced).
        let mut synced: HashMap<String, CategoryState> = HashMap::new();
        let mut unsynced_in: HashMap<String, String> = HashMap::new();
        let mut media = HashMap::new();
        let mut valid: u64 = 0;
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .map_err(Error::io("read", &path))?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            match serde_json::from_str::<Checkpoint>(line.trim_end()) {
                Ok(Checkpoint::Page {
                    cat,
                    next,
                    len,
                    count,
                    keys,
                    odd_text,
                    marked,
                    boot,
                }) => {
                    let done = next.is_none();
                    let previous = cats.remove(&cat);
                    if boot.is_some() && !unsynced_in.contains_key(&cat) {
                        // The first unsynced page after a synced one (or
                        // the start): where a restart goes back to.
                        match &previous {
                            Some(s) => synced.insert(cat.clone(), s.clone()),
                            None => synced.remove(&cat),
                        };
                    }
                    let earlier_keys = previous.map(|s| s.keys).unwrap_or_default();
                    let state = CategoryState {
                        next,
                        len,
                        count,
                        keys,
                        earlier_keys,
                        odd_text,
                        marked,
                        done,
                    };
                    match boot {
                        Some(b) => unsynced_in.insert(cat.clone(), b),
                        None => unsynced_in.remove(&cat),
                    };
                    cats.insert(cat, state);
                }
                Ok(c @ Checkpoint::Media { .. }) => {
                    if let Some((key, file)) = c.media_file() {
                        media.insert(key.to_owned(), file);
                    }
                }
                Err(_) => break,
            }
            valid += n as u64;
        }
        self.journal
            .set_len(valid)
            .map_err(Error::io("truncate", &path))?;
        let mut rolled_back = false;
        for (cat, boot) in unsynced_in {
            if Some(boot.as_str()) != now {
                tracing::warn!(
                    cat,
                    "the system restarted since the last pages were staged; fetching them again"
                );
                match synced.remove(&cat) {
                    Some(state) => cats.insert(cat, state),
                    None => cats.remove(&cat),
                };
                rolled_back = true;
            }
        }
        if rolled_back {
            // The lines after a category's last synced page no longer say
            // where it stands: the journal is rewritten to what does.
            self.compact(&cats, &media)?;
        }
        Ok((cats, media))
    }

    /// Replaces the journal with one that replays to `cats` and `media`,
    /// synced: two lines per category (the page before its last, whose
    /// keys the replay takes as the earlier ones, then its last), one per
    /// file.
    fn compact(
        &mut self,
        cats: &HashMap<String, CategoryState>,
        media: &HashMap<String, MediaFile>,
    ) -> Result<()> {
        let mut lines = Vec::new();
        for (cat, st) in cats {
            // Its pages of this boot may not be on disk yet: they are now.
            let staged = self.dir.join(format!("{cat}.jsonl"));
            if let Ok(f) = fs_err::File::open(&staged) {
                f.sync_data().map_err(Error::io("sync", &staged))?;
            }
            let page = |keys: &[String]| Checkpoint::Page {
                cat: cat.clone(),
                next: st.next.clone(),
                len: st.len,
                count: st.count,
                keys: keys.to_vec(),
                odd_text: st.odd_text,
                marked: st.marked,
                boot: None,
            };
            lines.push(page(&st.earlier_keys));
            lines.push(page(&st.keys));
        }
        for (key, f) in media {
            lines.push(Checkpoint::Media {
                key: key.clone(),
                bytes: f.bytes,
                crc32: f.crc32,
                boot: f.boot.clone(),
                sha256: f.sha256.map(hex::encode),
            });
        }
        let mut text = Vec::new();
        for c in &lines {
            text.extend(c.line()?);
        }
        let path = self.dir.join("journal.jsonl");
        crate::fsx::replace_private(&path, &self.dir.join("journal.jsonl.new"), &text)?;
        self.journal = open_private(&path, true)?;
        Ok(())
    }
}

/// Removes the staging directory `dir` with everything in it, but only if
/// it is one: a direct child of `out_dir` named `.keepsake-…`, and a real
/// folder rather than a link. Whatever a staged file or a platform said,
/// nothing else is ever deleted recursively.
pub fn remove_dir(out_dir: &Path, dir: &Path) -> Result<()> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let named_so = dir.parent() == Some(out_dir)
        && name.starts_with(STAGING_PREFIX)
        && super::checked::is_single_component(name);
    let refuse = || {
        Err(Error::Invalid(format!(
            "refusing to delete {}: it is not a staging folder directly in {}; it was left as it is",
            dir.display(),
            out_dir.display()
        )))
    };
    if !named_so {
        return refuse();
    }
    match fs_err::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Ok(m) if m.is_dir() => fs_err::remove_dir_all(dir).map_err(Error::io("remove", dir)),
        _ => refuse(),
    }
}

/// Staging directories in `out_dir` (for automatic resume).
pub fn find_staged(out_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs_err::read_dir(out_dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(STAGING_PREFIX))
        .map(|e| e.path())
        .filter(|p| p.join("session.json").is_file())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
#[path = "staging_tests.rs"]
mod tests;
