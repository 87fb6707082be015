//! The zip-only lower bound: the archive's own payload, unpacked to disk,
//! written again through `ArchiveWriter` with the engine's compression policy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use keepsake_core::archive::{ArchiveWriter, BagInfo};
use serde_json::Value;

/// The engine's policy (`export/assemble.rs`, `compressible`): compress
/// what compresses, store what is already compressed.
pub fn compressible(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("svg")
        || ct.contains("javascript")
}

/// Unpacks the payload (`data/…`) of `archive` into `dest`; returns each
/// entry's path inside `data/`, its file, and whether the engine compresses it.
pub fn unpack(archive: &Path, dest: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let file = std::fs::File::open(archive).context("opening the archive")?;
    let mut zip = zip::ZipArchive::new(file).context("reading the archive")?;
    let mut files = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).context("reading an archive entry")?;
        let name = entry.name().context("an entry name")?.into_owned();
        // The tag files are ArchiveWriter's own: it writes them again.
        let Some(inner) = name.strip_prefix("data/") else {
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        let rel = entry.enclosed_name().context("an unsafe entry name")?;
        let path = dest.join(rel);
        std::fs::create_dir_all(path.parent().context("entry folder")?)?;
        let mut out = std::fs::File::create(&path).context("unpacking an entry")?;
        std::io::copy(&mut entry, &mut out).context("unpacking an entry")?;
        files.push((inner.to_owned(), path));
    }
    // Media files are compressed or stored by their content type.
    let types: HashMap<String, String> = match std::fs::read(dest.join("data/media.json")) {
        Ok(raw) => serde_json::from_slice::<Vec<Value>>(&raw)
            .context("data/media.json")?
            .into_iter()
            .filter_map(|m| {
                Some((
                    m["archive_path"].as_str()?.to_owned(),
                    m["content_type"].as_str()?.to_owned(),
                ))
            })
            .collect(),
        Err(_) => HashMap::new(),
    };
    Ok(files
        .into_iter()
        .map(|(inner, path)| {
            let compress = match types.get(&format!("data/{inner}")) {
                Some(ct) => compressible(ct),
                None => !inner.starts_with("media/"),
            };
            (inner, path, compress)
        })
        .collect())
}

/// The zip-only lower bound: `entries` into a new bag; returns its size.
pub fn zip_only(entries: &[(String, PathBuf, bool)], out: &Path) -> Result<u64> {
    let info = BagInfo::new("bench-export", "exp_bench", time::OffsetDateTime::now_utc());
    let mut writer = ArchiveWriter::create(out, info).context("creating the archive")?;
    for (inner, path, compress) in entries {
        writer
            .add_payload_file(inner, path, *compress)
            .with_context(|| format!("adding {inner}"))?;
    }
    Ok(writer.finish().context("finishing the archive")?.bytes)
}
