//! The names of a split archive's parts: `NAME.partKK-of-NN.zip`, read
//! and written, and the files in a folder that are parts of one archive.
//! (The names of the entries inside an archive are `names.rs`'s.)

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The file name of part `k` of `n` of the archive `{stem}.zip`.
pub fn part_file_name(stem: &str, k: usize, n: usize) -> String {
    let width = n.to_string().len().max(2);
    format!("{stem}.part{k:0width$}-of-{n:0width$}.zip")
}

/// Splits `NAME.partKK-of-NN.zip` into `(NAME, KK, NN)`.
pub fn parse_part_file_name(name: &str) -> Option<(&str, usize, usize)> {
    let rest = name.strip_suffix(".zip")?;
    let (stem, numbers) = rest.rsplit_once(".part")?;
    let (k, n) = numbers.split_once("-of-")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(k) || !digits(n) || k.len() != n.len() {
        return None;
    }
    let (k, n) = (k.parse().ok()?, n.parse().ok()?);
    (k >= 1 && k <= n).then_some((stem, k, n))
}

/// The folder of `final_path` and its name without `.zip`.
pub(super) fn dir_and_stem(final_path: &Path) -> Result<(PathBuf, String)> {
    let name = final_path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} is not a file name; choose a file such as keepsake-export.zip",
                final_path.display()
            ))
        })?;
    let stem = name.strip_suffix(".zip").unwrap_or(name).to_owned();
    let dir = match final_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((dir, stem))
}

/// Files in `dir` named like a part of `{stem}.zip`, finished or not.
pub(super) fn sibling_parts(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let Ok(rd) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let name = name.strip_suffix(".partial").unwrap_or(&name);
            parse_part_file_name(name).is_some_and(|(s, _, _)| s == stem)
        })
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_sort_and_parse_back() {
        assert_eq!(part_file_name("k", 3, 12), "k.part03-of-12.zip");
        assert_eq!(part_file_name("k", 7, 100), "k.part007-of-100.zip");
        assert_eq!(
            parse_part_file_name("k.x.part03-of-12.zip"),
            Some(("k.x", 3, 12))
        );
        for bad in [
            "k.zip",
            "k.part3-of-12.zip",
            "k.part13-of-12.zip",
            "k.part00-of-12.zip",
            "k.part01-of-02.zip.partial",
        ] {
            assert_eq!(parse_part_file_name(bad), None, "{bad}");
        }
        let mut names: Vec<String> = (1..=12).rev().map(|k| part_file_name("k", k, 12)).collect();
        names.sort();
        assert_eq!(names[0], "k.part01-of-12.zip");
        assert_eq!(names[11], "k.part12-of-12.zip");
    }
}
