//! Entry names that must not be in an archive, whatever its manifests say.
//!
//! Keepsake writes only names from [`super::names::NameAllocator`], but
//! `keepsake verify` is also run on archives someone else handed over. An
//! entry named `data/../../evil` or `C:\evil`, listed consistently in every
//! manifest, hashes correctly and yet unpacks outside the folder it is
//! unpacked into; [`super::verify`] reports such an archive damaged.

/// Why the entry name `name` (as the zip holds it, `/`-separated, a
/// directory ending in `/`) is unsafe to unpack, or `None` when it is safe:
/// absolute, a drive letter or any `:` (a hidden stream on Windows), a
/// backslash, a `..` (or `.`, or empty) segment, a control character.
pub(super) fn unsafe_reason(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.chars().any(char::is_control) {
        return Some("it holds a control character");
    }
    if name.contains('\\') {
        return Some("it holds a backslash, which Windows reads as a folder separator");
    }
    if name.starts_with('/') {
        return Some("it is an absolute path");
    }
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Some("it starts with a drive letter");
    }
    if name.contains(':') {
        return Some("it holds a ':', which Windows reads as a drive or a hidden stream");
    }
    let body = name.strip_suffix('/').unwrap_or(name);
    for segment in body.split('/') {
        match segment {
            ".." => {
                return Some(
                    "it has a '..' segment, which leads out of the folder it is unpacked into",
                );
            }
            "." | "" => {
                return Some("it has an empty or '.' segment, which tools resolve differently");
            }
            _ => {}
        }
    }
    None
}

/// Why a symbolic link is unsafe: once unpacked it may point anywhere, and
/// the files written through it land there. Keepsake never writes one.
pub(super) const SYMLINK: &str = "it is a symbolic link, which may point anywhere once unpacked";

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use sha2::{Digest, Sha256};
    use zip::write::SimpleFileOptions;

    use super::super::tests::small_bag;
    use super::super::{VerifyProblem, verify};
    use super::*;

    #[test]
    fn unsafe_names_are_named_and_safe_ones_pass() {
        for safe in [
            "bagit.txt",
            "data/posts.json",
            "data/media/",
            "data/media/1-caf\u{e9} (2).jpg",
            "data/..hidden",
            "data/a..b",
        ] {
            assert_eq!(unsafe_reason(safe), None, "{safe:?}");
        }
        for name in [
            "",
            "/etc/passwd",
            "data/../../evil",
            "../evil/",
            "data/./x",
            "data//x",
            "..",
            "C:evil",
            "c:/evil",
            "data/x:stream",
            "data\\..\\evil",
            "data/a\u{1b}[2Jb",
            "data/a\nb",
        ] {
            assert!(unsafe_reason(name).is_some(), "{name:?}");
        }
    }

    /// `src` with `entries` added, each listed in the payload manifest (or
    /// the tag manifest, outside `data/`) with its true SHA-256 and counted
    /// in `Payload-Oxum`: consistent in everything but its names.
    fn with_hostile_entries(src: &Path, dst: &Path, entries: &[(&str, &[u8])], dirs: &[&str]) {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(fs_err::File::open(src).expect("open")).expect("zip");
        let mut originals = Vec::new();
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).expect("entry");
            let name = entry.name().expect("name").into_owned();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).expect("read");
            originals.push((name, bytes));
        }
        let line =
            |bytes: &[u8], name: &str| format!("{}  {name}\n", hex::encode(Sha256::digest(bytes)));
        let get = |name: &str| -> Vec<u8> {
            originals
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
                .expect("tag file")
        };
        let mut manifest = String::from_utf8(get("manifest-sha256.txt")).expect("utf-8");
        let (mut add_bytes, mut add_files) = (0u64, 0u64);
        for (name, bytes) in entries {
            if name.starts_with("data/") {
                manifest.push_str(&line(bytes, name));
                add_bytes += bytes.len() as u64;
                add_files += 1;
            }
        }
        let bag_info = String::from_utf8(get("bag-info.txt")).expect("utf-8");
        let bag_info: String = bag_info
            .lines()
            .map(|l| match l.strip_prefix("Payload-Oxum: ") {
                Some(oxum) => {
                    let (b, f) = oxum.split_once('.').expect("oxum");
                    let b: u64 = b.parse().expect("bytes");
                    let f: u64 = f.parse().expect("files");
                    format!("Payload-Oxum: {}.{}\n", b + add_bytes, f + add_files)
                }
                None => format!("{l}\n"),
            })
            .collect();
        let mut tag_manifest = String::new();
        for (name, bytes) in &originals {
            let bytes = match name.as_str() {
                "manifest-sha256.txt" => manifest.as_bytes(),
                "bag-info.txt" => bag_info.as_bytes(),
                _ => bytes,
            };
            if !name.starts_with("data/") && name != "tagmanifest-sha256.txt" {
                tag_manifest.push_str(&line(bytes, name));
            }
        }
        for (name, bytes) in entries {
            if !name.starts_with("data/") {
                tag_manifest.push_str(&line(bytes, name));
            }
        }
        let mut out = zip::ZipWriter::new(fs_err::File::create(dst).expect("create"));
        for (name, bytes) in &originals {
            let bytes = match name.as_str() {
                "manifest-sha256.txt" => manifest.as_bytes(),
                "bag-info.txt" => bag_info.as_bytes(),
                "tagmanifest-sha256.txt" => tag_manifest.as_bytes(),
                _ => bytes,
            };
            out.start_file(name.as_str(), SimpleFileOptions::DEFAULT)
                .expect("start");
            out.write_all(bytes).expect("write");
        }
        for (name, bytes) in entries {
            out.start_file(*name, SimpleFileOptions::DEFAULT)
                .expect("start");
            out.write_all(bytes).expect("write");
        }
        for dir in dirs {
            out.add_directory(*dir, SimpleFileOptions::DEFAULT)
                .expect("dir");
        }
        out.finish().expect("finish");
    }

    fn unsafe_names(problems: &[VerifyProblem]) -> Vec<&str> {
        problems
            .iter()
            .filter_map(|p| match p {
                VerifyProblem::UnsafeName { path, .. } => Some(path.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_consistent_bag_with_an_escaping_name_is_damaged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        // The helper itself keeps a bag intact when the names are safe.
        let control = dir.path().join("control.zip");
        with_hostile_entries(&done.path, &control, &[("data/extra.txt", b"x")], &[]);
        let report = verify(&control).expect("verify");
        assert!(report.ok, "{:?}", report.problems);

        // Issue 14: an entry data/../../evil, listed consistently, was reported intact.
        let out = dir.path().join("escaping.zip");
        with_hostile_entries(&done.path, &out, &[("data/../../evil", b"pwned")], &[]);
        let report = verify(&out).expect("verify");
        assert!(!report.ok);
        assert_eq!(
            report.problems.len(),
            1,
            "nothing but the name is wrong: {:?}",
            report.problems
        );
        assert_eq!(unsafe_names(&report.problems), ["data/../../evil"]);
        let text = report.problems[0].to_string();
        assert!(
            text.contains("data/../../evil") && text.contains("'..'"),
            "{text}"
        );
    }

    #[test]
    fn directory_entries_and_every_kind_of_unsafe_name_are_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let done = small_bag(dir.path(), "e.zip");
        // Issue 14: a ../evil/ directory entry was reported intact.
        let out = dir.path().join("dir.zip");
        with_hostile_entries(&done.path, &out, &[], &["../evil/"]);
        let report = verify(&out).expect("verify");
        assert!(!report.ok);
        assert_eq!(
            unsafe_names(&report.problems),
            ["../evil/"],
            "{:?}",
            report.problems
        );

        let out = dir.path().join("many.zip");
        let names = [
            "/tmp/evil",
            "C:/evil",
            "data\\..\\evil",
            "data/x:stream",
            "data/bell\u{7}",
        ];
        let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, &b"x"[..])).collect();
        with_hostile_entries(&done.path, &out, &entries, &["data/./sub/"]);
        let report = verify(&out).expect("verify");
        let mut found = unsafe_names(&report.problems);
        found.sort_unstable();
        let mut expected = names.to_vec();
        expected.push("data/./sub/");
        expected.sort_unstable();
        assert_eq!(found, expected, "{:?}", report.problems);
        // A control character in a name never reaches the terminal as is.
        assert!(
            report
                .problems
                .iter()
                .all(|p| !p.to_string().contains('\u{7}')),
            "{:?}",
            report.problems
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_unsafe() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("link.zip");
        {
            let mut out = zip::ZipWriter::new(fs_err::File::create(&out).expect("create"));
            out.add_symlink("data/link", "/etc", SimpleFileOptions::DEFAULT)
                .expect("link");
            out.finish().expect("finish");
        }
        let report = verify(&out).expect("verify");
        assert_eq!(
            unsafe_names(&report.problems),
            ["data/link"],
            "{:?}",
            report.problems
        );
    }
}
