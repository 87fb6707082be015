//! Checking every part of a split archive, and that the set is whole.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::bagit::{BAG_INFO_TXT, parse_tag_lines};
use super::part_names::{parse_part_file_name, part_file_name};
use super::verify::{VerifyReport, read_entry_to_string, verify};
use crate::{Error, Result};

/// What [`verify_set`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetReport {
    /// Every part is there, intact, and from the same export.
    pub ok: bool,
    /// How many parts the set has (the `N` of `partNN-of-N`).
    pub expected_parts: usize,
    /// Every part that is there, in order, with what checking it found.
    pub parts: Vec<PartReport>,
    /// What is wrong with the set as a whole.
    pub problems: Vec<SetProblem>,
}

/// One part of a set, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartReport {
    /// 1-based.
    pub number: usize,
    /// The part's file.
    pub path: PathBuf,
    /// What [`verify`] found, or why the part could not be read at all.
    pub report: std::result::Result<VerifyReport, String>,
}

impl PartReport {
    /// Whether the part is intact.
    pub fn ok(&self) -> bool {
        self.report.as_ref().is_ok_and(|r| r.ok)
    }
}

/// Something wrong with a set of parts as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetProblem {
    /// A part is not there.
    MissingPart {
        /// Its number.
        number: usize,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A part's `bag-info.txt` does not say what its name says, or names
    /// another export.
    Mismatch {
        /// Its number.
        number: usize,
        /// What is wrong.
        detail: String,
    },
    /// The index (`data/manifest.json`, `parts`) lists a file that its part
    /// does not hold.
    NotWhereListed {
        /// The part the index puts it in.
        number: usize,
        /// The file.
        file: String,
    },
}

impl fmt::Display for SetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingPart { number, path } => {
                write!(
                    f,
                    "part {number} is missing: {} is not there",
                    path.display()
                )
            }
            Self::Mismatch { number, detail } => write!(f, "part {number}: {detail}"),
            Self::NotWhereListed { number, file } => write!(
                f,
                "the index says part {number} holds {file}, but it does not"
            ),
        }
    }
}

/// Checks every part of the split archive `any_part` belongs to: each part
/// as [`verify`] does, then the set: every part `1..=N` present next to
/// `any_part`, each `bag-info.txt` saying `Bag-Count: n of N` and the same
/// `Bag-Group-Identifier`, and each file the index lists in the part that
/// the index says holds it.
///
/// Fails when `any_part` is not named like a part (`NAME.partNN-of-NN.zip`).
pub fn verify_set(any_part: &Path) -> Result<SetReport> {
    verify_set_telling(any_part, &mut |_| {})
}

/// [`verify_set`], telling `each` of every part as soon as it is checked:
/// a large set takes minutes, part by part.
pub fn verify_set_telling(any_part: &Path, each: &mut dyn FnMut(&PartReport)) -> Result<SetReport> {
    let name = any_part
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let Some((stem, _, n)) = parse_part_file_name(name) else {
        return Err(Error::Invalid(format!(
            "{} is not a part of a split archive (those are named NAME.part01-of-03.zip); check it without --set",
            any_part.display()
        )));
    };
    // Relative to the same folder as `any_part`, so paths print as given.
    let dir = any_part.parent().unwrap_or(Path::new("")).to_owned();
    let mut parts = Vec::new();
    let mut problems = Vec::new();
    let mut group: Option<String> = None;
    let mut index: Option<Vec<Value>> = None;
    for k in 1..=n {
        let path = dir.join(part_file_name(stem, k, n));
        if !path.is_file() {
            problems.push(SetProblem::MissingPart { number: k, path });
            continue;
        }
        let report = verify(&path).map_err(|e| e.to_string());
        if report.is_ok() {
            check_bag_info(&path, k, n, &mut group, &mut problems);
            if index.is_none() {
                index = read_index(&path);
            }
        }
        let part = PartReport {
            number: k,
            path,
            report,
        };
        each(&part);
        parts.push(part);
    }
    if let Some(index) = &index {
        for part in parts.iter().filter(|p| p.report.is_ok()) {
            let listed = index
                .iter()
                .find(|p| p["number"].as_u64() == Some(part.number as u64));
            let files = listed
                .and_then(|p| p["files"].as_array())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let held = entries(&part.path);
            for f in files.iter().filter_map(Value::as_str) {
                if !held.contains(f) {
                    problems.push(SetProblem::NotWhereListed {
                        number: part.number,
                        file: f.to_owned(),
                    });
                }
            }
        }
    }
    let ok = problems.is_empty() && parts.iter().all(PartReport::ok);
    Ok(SetReport {
        ok,
        expected_parts: n,
        parts,
        problems,
    })
}

/// Checks `Bag-Count` and `Bag-Group-Identifier` of part `k` of `n`.
fn check_bag_info(
    path: &Path,
    k: usize,
    n: usize,
    group: &mut Option<String>,
    problems: &mut Vec<SetProblem>,
) {
    let mismatch = |detail: String| SetProblem::Mismatch { number: k, detail };
    let pairs = match read_entry_to_string(path, BAG_INFO_TXT)
        .map_err(|e| e.to_string())
        .and_then(|t| parse_tag_lines(&t))
    {
        Ok(p) => p,
        Err(e) => return problems.push(mismatch(format!("bag-info.txt cannot be read: {e}"))),
    };
    let value = |label: &str| {
        pairs
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
            .map(|(_, v)| v.trim().to_owned())
    };
    let count = value("Bag-Count");
    let expected = format!("{k} of {n}");
    if count.as_deref() != Some(expected.as_str()) {
        problems.push(mismatch(format!(
            "its bag-info.txt says Bag-Count {}, its name says {expected}",
            count.as_deref().unwrap_or("(none)")
        )));
    }
    match (value("Bag-Group-Identifier"), group.as_ref()) {
        (None, _) => problems.push(mismatch(
            "its bag-info.txt has no Bag-Group-Identifier".into(),
        )),
        (Some(id), None) => *group = Some(id),
        (Some(id), Some(first)) if &id != first => problems.push(mismatch(format!(
            "it belongs to another export (Bag-Group-Identifier {id}, not {first})"
        ))),
        _ => {}
    }
}

/// The `parts` of a part's `data/manifest.json`.
fn read_index(path: &Path) -> Option<Vec<Value>> {
    let text = read_entry_to_string(path, "data/manifest.json").ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("parts")?.as_array().cloned()
}

/// The names of the entries in a zip.
fn entries(path: &Path) -> BTreeSet<String> {
    let Ok(file) = fs_err::File::open(path) else {
        return BTreeSet::new();
    };
    let Ok(zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return BTreeSet::new();
    };
    zip.file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect()
}
