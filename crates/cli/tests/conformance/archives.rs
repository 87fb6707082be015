//! Every archive, whole or split into parts, through tools that share no
//! code with Keepsake: `unzip -t`, Python's `zipfile`, the Library of
//! Congress `bagit` validator; and `keepsake verify` (with `--set` for a
//! split one). Each tool must also reject a damaged copy, so that a pass
//! means something.

use std::path::Path;
use std::time::Duration;

use crate::Target;
use crate::common::archives;
use crate::expect;

/// A whole archive and every part of a split one pass every validator; the
/// parts together hold what the whole one does; a copy with one byte
/// flipped in a stored file is rejected by each tool.
pub async fn every_archive_passes_every_validator(t: &Target) {
    let home = crate::home(&t.url, t);
    let whole = expect::completed(t, &home.export(&[], Duration::from_secs(120)));
    expect::valid(&home, &whole);

    let split_home = crate::home(&t.url, t);
    let run = split_home.export(&["--split-size", "256KiB"], Duration::from_secs(120));
    let first = expect::completed(t, &run);
    let parts = archives(&split_home.out());
    assert!(parts.len() >= 3, "split into parts: {parts:?}");
    assert!(parts.contains(&first), "{first:?} in {parts:?}");
    let mut files = 0;
    for part in &parts {
        expect::valid(&split_home, part);
        files += payload(part);
    }
    assert_eq!(
        files,
        payload(&whole),
        "the parts hold as many files as the whole archive"
    );
    let o = split_home.run(&["verify", "--set", first.to_str().expect("utf-8 path")]);
    assert!(
        o.status.success(),
        "verify --set: {}",
        crate::common::text(&o)
    );

    // One byte flipped inside the largest stored (uncompressed) entry.
    let damaged = home.path("damaged.zip");
    let mut bytes = fs_err::read(&whole).expect("read");
    let at = largest_stored_entry(&whole);
    bytes[at] ^= 0x20;
    fs_err::write(&damaged, &bytes).expect("write");
    let bad = expect::rejections(&home, &damaged);
    assert!(
        !bad.iter().any(|b| b.contains("could not be extracted")),
        "bagit saw the damaged bytes: {bad:?}"
    );
    for tool in ["unzip -t", "zipfile", "bagit", "keepsake verify"] {
        if tool == "bagit" && !bad.iter().any(|b| b.starts_with("bagit")) && no_bagit() {
            continue;
        }
        assert!(
            bad.iter().any(|b| b.starts_with(tool)),
            "{tool} accepted a damaged archive: {bad:?}"
        );
    }
}

fn no_bagit() -> bool {
    keepsake_tests::venv_python().is_none() && std::env::var_os("KEEPSAKE_REQUIRE_TOOLS").is_none()
}

/// How many payload files (`data/…`) the bag's manifest lists, tag files
/// of each part aside, counting only those under `data/` that are not
/// per-part (the manifest, the index and the viewer's copies).
fn payload(archive: &Path) -> usize {
    let manifest = String::from_utf8(
        expect::entry_bytes(archive, "manifest-sha256.txt").expect("payload manifest"),
    )
    .expect("text");
    manifest
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace).map(|(_, p)| p.trim()))
        .filter(|p| p.starts_with("data/media/"))
        .count()
}

/// The offset of a byte in the middle of the largest stored entry's data.
fn largest_stored_entry(archive: &Path) -> usize {
    let mut zip = zip::ZipArchive::new(fs_err::File::open(archive).expect("open")).expect("zip");
    let mut best: Option<(u64, u64)> = None;
    for i in 0..zip.len() {
        let e = zip.by_index(i).expect("entry");
        if e.compression() == zip::CompressionMethod::Stored
            && best.is_none_or(|(size, _)| e.size() > size)
        {
            best = Some((e.size(), e.data_start().expect("data offset")));
        }
    }
    let (size, start) = best.expect("a stored entry (media are stored as they are)");
    assert!(size > 64, "a stored entry large enough to damage");
    (start + size / 2) as usize
}
