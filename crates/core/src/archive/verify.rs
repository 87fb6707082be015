//! Checking a finished archive: every byte read back and compared with the
//! bag's manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::CHUNK;
use super::bagit::{
    BAG_INFO_TXT, BAGIT_TXT, DATA_PREFIX, MANIFEST, TAG_MANIFEST, parse_manifest_line,
    parse_tag_lines,
};
use super::unsafe_names::{SYMLINK, unsafe_reason};
use crate::fsx::read_each;
use crate::{Error, Result};

/// `bagit.txt` and `bag-info.txt` are read whole; they are a few hundred
/// bytes, and a hostile archive must not make them gigabytes.
const MAX_TAG_TEXT: u64 = 1 << 20;

/// A manifest line longer than this is not one.
const MAX_MANIFEST_LINE: u64 = 64 * 1024;

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// No problem found: every file is there, intact and accounted for.
    pub ok: bool,
    /// Entries read and hashed.
    pub files_checked: u64,
    /// Bytes read and hashed, uncompressed.
    pub bytes_checked: u64,
    /// Everything wrong, in a stable order.
    pub problems: Vec<VerifyProblem>,
}

/// One thing wrong with an archive. Paths are entry names in the zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyProblem {
    /// A manifest lists this file but the archive does not hold it.
    Missing(String),
    /// The file's content is not what the manifest says.
    Mismatch {
        /// The entry.
        path: String,
        /// SHA-256 in the manifest.
        expected: String,
        /// SHA-256 of the content.
        actual: String,
    },
    /// A file that no manifest lists.
    Unlisted(String),
    /// An entry that cannot be read back (damaged data, unsupported
    /// compression, encryption).
    Unreadable {
        /// The entry.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A tag file (`bagit.txt`, `bag-info.txt`, a manifest) is missing or
    /// malformed.
    BadTagFile {
        /// The tag file.
        name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// `Payload-Oxum` in `bag-info.txt` does not match the payload.
    OxumMismatch {
        /// Payload bytes it states.
        expected_bytes: u64,
        /// Payload files it states.
        expected_files: u64,
        /// Payload bytes found.
        actual_bytes: u64,
        /// Payload files found.
        actual_files: u64,
    },
    /// The zip itself is inconsistent (duplicate names, local headers that
    /// disagree with the central directory, overlapping entries): different
    /// tools could show different contents.
    ZipStructure(String),
    /// An entry (a file or a directory) whose name or kind could put what
    /// it holds outside the folder the archive is unpacked into: absolute,
    /// `..`, a drive letter, a backslash, a control character, a link.
    UnsafeName {
        /// The entry, as the zip names it.
        path: String,
        /// Why it is unsafe.
        reason: &'static str,
    },
}

/// An entry name as a message may show it: as it is when it is printable,
/// escaped (`"a\u{1b}b"`) when it holds a control character, which must
/// never reach a terminal from an archive someone else made.
fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().any(char::is_control) {
        format!("{name:?}").into()
    } else {
        name.into()
    }
}

impl fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(path) => write!(
                f,
                "{} is listed in the manifest but missing from the archive",
                shown(path)
            ),
            Self::Mismatch {
                path,
                expected,
                actual,
            } => write!(
                f,
                "{} is damaged or was changed: its SHA-256 is {actual}, the manifest says {expected}",
                shown(path)
            ),
            Self::Unlisted(path) => {
                write!(f, "{} is in the archive but in no manifest", shown(path))
            }
            Self::Unreadable { path, detail } => {
                write!(f, "{} cannot be read: {detail}", shown(path))
            }
            Self::BadTagFile { name, detail } => write!(f, "{name}: {detail}"),
            Self::OxumMismatch {
                expected_bytes,
                expected_files,
                actual_bytes,
                actual_files,
            } => write!(
                f,
                "bag-info.txt promises {expected_files} payload files of {expected_bytes} bytes in all; the archive holds {actual_files} files of {actual_bytes} bytes"
            ),
            Self::ZipStructure(detail) => write!(f, "the zip structure is inconsistent: {detail}"),
            Self::UnsafeName { path, reason } => write!(
                f,
                "the entry {path:?} is unsafe to unpack: {reason}; an archive Keepsake wrote never has one, so this one was made or changed by something else"
            ),
        }
    }
}

/// What the first pass learnt about one entry. Kept small: there is one
/// per file in the archive.
struct Seen {
    /// SHA-256, or why the entry could not be read.
    sha256: std::result::Result<[u8; 32], String>,
    /// Bytes read (or declared, when unreadable).
    bytes: u64,
    /// The content was read whole but disagrees with the zip's CRC-32.
    crc_failed: bool,
    /// A manifest lists it.
    listed: bool,
}

/// Reads the whole archive back and checks it against its manifests.
///
/// Each entry is streamed through SHA-256 once and manifests are read line
/// by line, so memory stays flat whatever the size of the files (it grows
/// only with their number). Problems with the content are reported in the
/// [`VerifyReport`]; an archive that cannot be opened as a zip at all is an
/// [`Error::Archive`].
pub fn verify(path: &Path) -> Result<VerifyReport> {
    let mut zip = open(path)?;
    let mut problems = Vec::new();

    if zip.has_duplicate_names() {
        problems.push(VerifyProblem::ZipStructure(
            "some names appear more than once, so tools disagree about which copy is the file"
                .to_owned(),
        ));
    } else if let Err(e) = zip.validate_header_consistency() {
        problems.push(VerifyProblem::ZipStructure(e.to_string()));
    }

    // Pass 1: every entry through SHA-256, in the order they are stored.
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut files_checked = 0u64;
    let mut bytes_checked = 0u64;
    let mut buf = vec![0u8; CHUNK];
    for index in 0..zip.len() {
        let name = zip
            .name_for_index(index)
            .and_then(|n| n.ok())
            .map(|n| n.into_owned())
            .unwrap_or_else(|| format!("entry #{index}"));
        // Directory entries too: `../evil/` creates a folder where it lands.
        if let Some(reason) = unsafe_reason(&name) {
            problems.push(VerifyProblem::UnsafeName {
                path: name.clone(),
                reason,
            });
        }
        let seen_entry = match zip.by_index(index) {
            Ok(mut entry) => {
                if entry.is_symlink() {
                    problems.push(VerifyProblem::UnsafeName {
                        path: name.clone(),
                        reason: SYMLINK,
                    });
                }
                if entry.is_dir() {
                    continue;
                }
                let declared = entry.size();
                let (sha256, bytes, crc_failed) = hash_entry(&mut entry, declared, &mut buf);
                files_checked += 1;
                bytes_checked += bytes;
                Seen {
                    bytes: if sha256.is_ok() { bytes } else { declared },
                    sha256,
                    crc_failed,
                    listed: false,
                }
            }
            Err(e) => Seen {
                sha256: Err(e.to_string()),
                bytes: 0,
                crc_failed: false,
                listed: false,
            },
        };
        seen.insert(name, seen_entry);
    }
    for (name, entry) in &seen {
        if let Err(detail) = &entry.sha256 {
            problems.push(VerifyProblem::Unreadable {
                path: name.clone(),
                detail: detail.clone(),
            });
        }
    }

    check_bagit_txt(&mut zip, &seen, &mut problems);

    // Pass 2: the manifests against what was read.
    if let Some(tag_manifest) = seen.get_mut(TAG_MANIFEST) {
        tag_manifest.listed = true;
    }
    for (manifest, payload) in [(MANIFEST, true), (TAG_MANIFEST, false)] {
        let mut missing = BTreeSet::new();
        let result = for_each_manifest_line(&mut zip, manifest, |line| {
            if line.path.starts_with(DATA_PREFIX) != payload || line.path == TAG_MANIFEST {
                let what = if payload {
                    "is not under data/"
                } else {
                    "is not a tag file"
                };
                return Err(format!("lists {}, which {what}", line.path));
            }
            // Bags from tools that leave '%' unencoded name the file as written.
            let path = if !seen.contains_key(&line.path) && seen.contains_key(&line.raw_path) {
                line.raw_path
            } else {
                line.path
            };
            let Some(entry) = seen.get_mut(&path) else {
                if !missing.insert(path.clone()) {
                    return Err(format!("lists {path} twice"));
                }
                problems.push(VerifyProblem::Missing(path));
                return Ok(());
            };
            if std::mem::replace(&mut entry.listed, true) {
                return Err(format!("lists {path} twice"));
            }
            match &entry.sha256 {
                // Already reported as unreadable.
                Err(_) => {}
                Ok(actual) if !hash_is(actual, &line.sha256) => problems.push(VerifyProblem::Mismatch {
                    path,
                    expected: line.sha256,
                    actual: hex::encode(actual),
                }),
                Ok(_) if entry.crc_failed => problems.push(VerifyProblem::Unreadable {
                    path,
                    detail: "its content matches the manifest but not the zip's own CRC-32, so other zip tools will call it damaged".to_owned(),
                }),
                Ok(_) => {}
            }
            Ok(())
        });
        if let Err(detail) = result {
            problems.push(VerifyProblem::BadTagFile {
                name: manifest.to_owned(),
                detail,
            });
        }
    }
    for (name, entry) in &seen {
        if !entry.listed {
            problems.push(VerifyProblem::Unlisted(name.clone()));
        }
    }

    check_oxum(&mut zip, &seen, &mut problems);

    Ok(VerifyReport {
        ok: problems.is_empty(),
        files_checked,
        bytes_checked,
        problems,
    })
}

/// Whether the hex `expected` spells `hash`.
fn hash_is(hash: &[u8; 32], expected: &str) -> bool {
    let mut decoded = [0u8; 32];
    hex::decode_to_slice(expected, &mut decoded).is_ok() && &decoded == hash
}

/// The whole of the entry `name` as text (e.g. `data/manifest.json`).
pub fn read_entry_to_string(path: &Path, name: &str) -> Result<String> {
    let mut zip = open(path)?;
    let archive_error = |detail: String| Error::Archive {
        path: path.to_owned(),
        detail,
    };
    let mut entry = zip.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => archive_error(format!("has no entry {name}")),
        e => archive_error(format!("cannot read {name}: {e}")),
    })?;
    let mut text = String::new();
    entry
        .read_to_string(&mut text)
        .map_err(|e| archive_error(format!("cannot read {name}: {e}")))?;
    Ok(text)
}

fn open(path: &Path) -> Result<ZipArchive<BufReader<fs_err::File>>> {
    let file = fs_err::File::open(path).map_err(Error::io("open", path))?;
    ZipArchive::new(BufReader::with_capacity(CHUNK, file)).map_err(|e| Error::Archive {
        path: path.to_owned(),
        detail: format!(
            "cannot be read as a zip file ({e}); it may be incomplete or not an archive"
        ),
    })
}

/// SHA-256 and length of an entry's content, and whether its CRC-32 failed.
/// The zip library checks the CRC-32 only after the last byte (its final
/// read fails instead of returning 0), so a damaged entry still gets the
/// hash of all its content: a changed file shows as a mismatch with the
/// manifest, not merely as unreadable.
fn hash_entry(
    entry: &mut impl Read,
    declared: u64,
    buf: &mut [u8],
) -> (std::result::Result<[u8; 32], String>, u64, bool) {
    let mut sha = Sha256::new();
    let mut bytes = 0u64;
    let failure = read_each(entry, buf, |piece| {
        sha.update(piece);
        bytes += piece.len() as u64;
    })
    .err();
    let sha256: [u8; 32] = sha.finalize().into();
    match failure {
        None => (Ok(sha256), bytes, false),
        Some(e) if e.kind() == io::ErrorKind::InvalidData && bytes == declared => {
            (Ok(sha256), bytes, true)
        }
        Some(e) => (Err(e.to_string()), bytes, false),
    }
}

/// A small tag file as text, or why it cannot be had.
fn read_tag_text<R: Read + io::Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
) -> std::result::Result<String, String> {
    let entry = zip.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => "missing".to_owned(),
        e => e.to_string(),
    })?;
    let mut bytes = Vec::new();
    entry
        .take(MAX_TAG_TEXT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_TAG_TEXT {
        return Err("larger than 1 MiB, which no tag file of this kind is".to_owned());
    }
    String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_owned())
}

fn check_bagit_txt<R: Read + io::Seek>(
    zip: &mut ZipArchive<R>,
    seen: &BTreeMap<String, Seen>,
    problems: &mut Vec<VerifyProblem>,
) {
    let bad = |detail: String| VerifyProblem::BadTagFile {
        name: BAGIT_TXT.to_owned(),
        detail,
    };
    if !seen.contains_key(BAGIT_TXT) {
        problems.push(bad("missing: this archive is not a BagIt bag".to_owned()));
        return;
    }
    let pairs = match read_tag_text(zip, BAGIT_TXT).and_then(|text| parse_tag_lines(&text)) {
        Ok(pairs) => pairs,
        Err(detail) => return problems.push(bad(detail)),
    };
    let value = |label: &str| {
        pairs
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
    };
    match value("BagIt-Version") {
        Some("1.0" | "0.97") => {}
        Some(other) => problems.push(bad(format!(
            "BagIt-Version {other} is not one this tool reads (1.0)"
        ))),
        None => problems.push(bad("no BagIt-Version".to_owned())),
    }
    match value("Tag-File-Character-Encoding") {
        Some(enc) if enc.eq_ignore_ascii_case("UTF-8") => {}
        Some(other) => problems.push(bad(format!("tag files are declared as {other}, not UTF-8"))),
        None => problems.push(bad("no Tag-File-Character-Encoding".to_owned())),
    }
}

/// One line of a manifest.
struct ManifestLine {
    /// The path, decoded as RFC 8493 says.
    path: String,
    /// The path as written.
    raw_path: String,
    /// The SHA-256, lower case.
    sha256: String,
}

/// Calls `each` with every line of a manifest, in order; stops at the first
/// error, the manifest's or `each`'s.
fn for_each_manifest_line<R: Read + io::Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
    mut each: impl FnMut(ManifestLine) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let entry = zip.by_name(name).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => "missing".to_owned(),
        e => e.to_string(),
    })?;
    let mut reader = BufReader::with_capacity(CHUNK, entry);
    let mut line = String::new();
    for number in 1.. {
        line.clear();
        let n = (&mut reader)
            .take(MAX_MANIFEST_LINE)
            .read_line(&mut line)
            .map_err(|e| format!("line {number}: {e}"))?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') && n as u64 == MAX_MANIFEST_LINE {
            return Err(format!("line {number} is longer than 64 KiB"));
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.is_empty() {
            continue;
        }
        let (sha256, path, raw_path) =
            parse_manifest_line(text).map_err(|e| format!("line {number}: {e}"))?;
        each(ManifestLine {
            path,
            raw_path,
            sha256,
        })
        .map_err(|e| format!("line {number}: {e}"))?;
    }
    Ok(())
}

fn check_oxum<R: Read + io::Seek>(
    zip: &mut ZipArchive<R>,
    seen: &BTreeMap<String, Seen>,
    problems: &mut Vec<VerifyProblem>,
) {
    let bad = |detail: String| VerifyProblem::BadTagFile {
        name: BAG_INFO_TXT.to_owned(),
        detail,
    };
    let pairs = match read_tag_text(zip, BAG_INFO_TXT).and_then(|text| parse_tag_lines(&text)) {
        Ok(pairs) => pairs,
        Err(detail) => return problems.push(bad(detail)),
    };
    let Some((_, oxum)) = pairs
        .iter()
        .find(|(l, _)| l.eq_ignore_ascii_case("Payload-Oxum"))
    else {
        return problems.push(bad("no Payload-Oxum".to_owned()));
    };
    let parsed = oxum
        .split_once('.')
        .and_then(|(b, f)| Some((b.parse::<u64>().ok()?, f.parse::<u64>().ok()?)));
    let Some((expected_bytes, expected_files)) = parsed else {
        return problems.push(bad(format!(
            "Payload-Oxum {oxum:?} is not \"octets.count\""
        )));
    };
    let payload = seen
        .iter()
        .filter(|(name, _)| name.starts_with(DATA_PREFIX));
    let (actual_bytes, actual_files) =
        payload.fold((0u64, 0u64), |(b, f), (_, e)| (b + e.bytes, f + 1));
    if (expected_bytes, expected_files) != (actual_bytes, actual_files) {
        problems.push(VerifyProblem::OxumMismatch {
            expected_bytes,
            expected_files,
            actual_bytes,
            actual_files,
        });
    }
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
