//! Checking a finished archive: every byte read back and compared with the
//! bag's manifests.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::bagit::{
    BAG_INFO_TXT, BAGIT_TXT, DATA_PREFIX, MANIFEST, TAG_MANIFEST, parse_manifest_line,
    parse_tag_lines,
};
use super::unsafe_names::{SYMLINK, unsafe_reason};
use super::{CHUNK, io_error};
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
    let file = fs_err::File::open(path).map_err(io_error("open", path))?;
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
    let mut failure = None;
    loop {
        match entry.read(buf) {
            Ok(0) => break,
            Ok(n) => {
                sha.update(&buf[..n]);
                bytes += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
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
mod tests {
    use super::*;
    use crate::archive::tests::{info, rewrite, small_bag};
    use crate::archive::{ArchiveWriter, bagit::manifest_line};

    #[test]
    fn a_written_bag_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let report = verify(&done.path).expect("verify");
        assert_eq!(report.problems, []);
        assert!(report.ok);
        assert_eq!(report.files_checked, 7);
        assert!(report.bytes_checked > done.payload_bytes);
    }

    #[test]
    fn a_flipped_byte_is_a_mismatch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let mut bytes = fs_err::read(&done.path).expect("read");
        let at = bytes
            .windows(12)
            .position(|w| w == b"STORED-PHOTO")
            .expect("stored content is in the file");
        bytes[at] ^= 0x20;
        let tampered = dir.path().join("tampered.zip");
        fs_err::write(&tampered, &bytes).expect("write");

        let report = verify(&tampered).expect("verify");
        assert!(!report.ok);
        let [
            VerifyProblem::Mismatch {
                path,
                expected,
                actual,
            },
        ] = &report.problems[..]
        else {
            panic!("expected one mismatch: {:?}", report.problems);
        };
        assert_eq!(path, "data/media/1-photo.jpg");
        assert_ne!(expected, actual);
        assert_eq!(
            actual,
            &hex::encode(Sha256::digest(b"sTORED-PHOTO-CONTENT-0123456789"))
        );
        assert!(
            report.problems[0]
                .to_string()
                .contains("damaged or was changed")
        );
    }

    #[test]
    fn a_damaged_crc_alone_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let mut bytes = fs_err::read(&done.path).expect("read");
        // The CRC-32 in the central directory entry of the stored photo.
        let name = b"data/media/1-photo.jpg";
        let central = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| *w == b"PK\x01\x02")
            .map(|(i, _)| i)
            .find(|&i| bytes[i + 46..].starts_with(name))
            .expect("central entry");
        bytes[central + 16] ^= 0xFF;
        let tampered = dir.path().join("crc.zip");
        fs_err::write(&tampered, &bytes).expect("write");
        let report = verify(&tampered).expect("verify");
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, VerifyProblem::Unreadable { path, .. } if path == "data/media/1-photo.jpg")),
            "{:?}",
            report.problems
        );
        // The local header still has the right CRC-32: the zip disagrees with itself.
        assert!(
            report.problems.iter().all(|p| matches!(
                p,
                VerifyProblem::Unreadable { .. } | VerifyProblem::ZipStructure(_)
            )),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn a_removed_entry_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let out = dir.path().join("removed.zip");
        rewrite(
            &done.path,
            &out,
            |name, b| (name != "data/posts.json").then_some(b),
            &[],
        );
        let report = verify(&out).expect("verify");
        assert!(!report.ok);
        assert!(
            report
                .problems
                .contains(&VerifyProblem::Missing("data/posts.json".into())),
            "{:?}",
            report.problems
        );
        assert!(
            report.problems.iter().any(|p| matches!(
                p,
                VerifyProblem::OxumMismatch {
                    expected_files: 2,
                    actual_files: 1,
                    ..
                }
            )),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn an_added_entry_is_unlisted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let out = dir.path().join("added.zip");
        rewrite(
            &done.path,
            &out,
            |_, b| Some(b),
            &[("data/extra.txt", b"x"), ("evil.html", b"<script>")],
        );
        let report = verify(&out).expect("verify");
        assert!(
            report
                .problems
                .contains(&VerifyProblem::Unlisted("data/extra.txt".into()))
        );
        assert!(
            report
                .problems
                .contains(&VerifyProblem::Unlisted("evil.html".into()))
        );
        assert!(
            report
                .problems
                .iter()
                .any(|p| matches!(p, VerifyProblem::OxumMismatch { .. }))
        );
    }

    #[test]
    fn changed_tag_files_are_caught_by_the_tag_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let out = dir.path().join("retagged.zip");
        rewrite(
            &done.path,
            &out,
            |name, b| {
                if name == "bag-info.txt" {
                    Some(
                        String::from_utf8(b)
                            .expect("utf-8")
                            .replace("exp_0123", "exp_9999")
                            .into_bytes(),
                    )
                } else {
                    Some(b)
                }
            },
            &[],
        );
        let report = verify(&out).expect("verify");
        assert!(
            matches!(&report.problems[..], [VerifyProblem::Mismatch { path, .. }] if path == "bag-info.txt"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn missing_or_broken_tag_files_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        let out = dir.path().join("untagged.zip");
        rewrite(
            &done.path,
            &out,
            |name, b| (name != "tagmanifest-sha256.txt").then_some(b),
            &[],
        );
        let report = verify(&out).expect("verify");
        assert!(report.problems.contains(&VerifyProblem::BadTagFile {
            name: "tagmanifest-sha256.txt".into(),
            detail: "missing".into()
        }));
        // Unprotected tag files are named too.
        assert!(
            report
                .problems
                .contains(&VerifyProblem::Unlisted("bag-info.txt".into()))
        );

        let out = dir.path().join("notabag.zip");
        rewrite(
            &done.path,
            &out,
            |name, b| match name {
                "bagit.txt" => None,
                "manifest-sha256.txt" => Some(b"not a manifest\n".to_vec()),
                _ => Some(b),
            },
            &[],
        );
        let report = verify(&out).expect("verify");
        let bad: Vec<&str> = report
            .problems
            .iter()
            .filter_map(|p| match p {
                VerifyProblem::BadTagFile { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            bad,
            ["bagit.txt", "manifest-sha256.txt"],
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn percent_signs_follow_the_rfc_and_other_tools() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Written by Keepsake: "%25" in the manifest, as RFC 8493 says.
        let path = dir.path().join("rfc.zip");
        let mut w = ArchiveWriter::create(&path, info()).expect("create");
        w.add_payload_bytes("100%.json", b"[]", true).expect("add");
        w.add_payload_bytes("a%0Ab.json", b"[]", true).expect("add");
        let done = w.finish().expect("finish");
        let manifest = read_entry_to_string(&done.path, "manifest-sha256.txt").expect("manifest");
        assert!(manifest.contains("  data/100%25.json\n"), "{manifest}");
        assert!(manifest.contains("  data/a%250Ab.json\n"), "{manifest}");
        let report = verify(&done.path).expect("verify");
        assert!(report.ok, "{:?}", report.problems);

        // Written by a tool that leaves '%' as it is (bagit-python 1.9).
        let out = dir.path().join("legacy.zip");
        let sha = hex::encode(Sha256::digest(b"[]"));
        let legacy = manifest_line(&sha, "data/100%.json").replace("%25", "%")
            + &manifest_line(&sha, "data/a%0Ab.json").replace("%25", "%");
        rewrite(
            &done.path,
            &out,
            |name, b| match name {
                "manifest-sha256.txt" => Some(legacy.clone().into_bytes()),
                "tagmanifest-sha256.txt" => None,
                _ => Some(b),
            },
            &[],
        );
        let report = verify(&out).expect("verify");
        let content_problems: Vec<_> = report
            .problems
            .iter()
            .filter(|p| {
                !matches!(
                    p,
                    VerifyProblem::BadTagFile { .. } | VerifyProblem::Unlisted(_)
                )
            })
            .collect();
        assert_eq!(content_problems, Vec::<&VerifyProblem>::new());
        assert!(
            !report
                .problems
                .contains(&VerifyProblem::Unlisted("data/100%.json".into()))
        );
    }

    #[test]
    fn what_is_not_a_zip_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.zip");
        fs_err::write(&path, b"this is not a zip file").expect("write");
        assert!(matches!(verify(&path), Err(Error::Archive { .. })));
        assert!(matches!(
            verify(&dir.path().join("absent.zip")),
            Err(Error::Io { .. })
        ));
        // An unfinished archive cannot be opened either.
        let w = ArchiveWriter::create(&dir.path().join("u.zip"), info()).expect("create");
        let partial = w.abandon();
        let err = verify(&partial).expect_err("unfinished");
        assert!(err.to_string().contains("may be incomplete"), "{err}");
    }

    #[test]
    fn entries_read_back_as_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        assert_eq!(
            read_entry_to_string(&done.path, "data/posts.json").expect("read"),
            "[{\"id\":1,\"body\":\"hello\"}]\n"
        );
        let err = read_entry_to_string(&done.path, "data/manifest.json").expect_err("absent");
        assert!(
            matches!(&err, Error::Archive { detail, .. } if detail == "has no entry data/manifest.json"),
            "{err}"
        );
    }
}
