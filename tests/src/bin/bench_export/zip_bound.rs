//! The zip-only lower bound: the archive's own content, unpacked to disk,
//! written again through `ArchiveWriter` with the engine's compression policy.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use keepsake_core::archive::{ArchiveWriter, BagInfo};
use serde_json::Value;

/// One file to put back into a bag.
pub struct Entry {
    /// The path inside `data/` for payload; the full name for a tag file.
    name: String,
    /// A tag file (outside `data/`, e.g. a viewer page) rather than payload.
    tag: bool,
    /// Where it was unpacked.
    path: PathBuf,
    /// DEFLATE rather than store (payload only; tag files are always compressed).
    compress: bool,
}

/// The engine's policy (`export/assemble.rs`, `compressible`): compress
/// what compresses, store what is already compressed.
fn compressible(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("svg")
        || ct.contains("javascript")
}

/// The bag's own tag files, which `ArchiveWriter` computes and writes itself.
fn bag_own(name: &str) -> bool {
    name == "bagit.txt"
        || name == "bag-info.txt"
        || ((name.starts_with("manifest-") || name.starts_with("tagmanifest-"))
            && name.ends_with(".txt"))
}

/// Unpacks every entry of `archive` but the bag's own tag files into `dest`.
pub fn unpack(archive: &Path, dest: &Path) -> Result<Vec<Entry>> {
    let file = fs_err::File::open(archive).context("opening the archive")?;
    let mut zip = zip::ZipArchive::new(file).context("reading the archive")?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).context("reading an archive entry")?;
        let name = entry.name().context("an entry name")?.into_owned();
        if entry.is_dir() || bag_own(&name) {
            continue;
        }
        let rel = entry.enclosed_name().context("an unsafe entry name")?;
        let path = dest.join(rel);
        fs_err::create_dir_all(path.parent().context("entry folder")?)?;
        let mut out = fs_err::File::create(&path).context("unpacking an entry")?;
        std::io::copy(&mut entry, &mut out).context("unpacking an entry")?;
        let (name, tag) = match name.strip_prefix("data/") {
            Some(inner) => (inner.to_owned(), false),
            None => (name, true),
        };
        entries.push(Entry {
            name,
            tag,
            path,
            compress: true,
        });
    }
    // Media files are compressed or stored by their content type.
    let types: HashMap<String, String> = match fs_err::read(dest.join("data/media.json")) {
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
    for e in entries.iter_mut().filter(|e| !e.tag) {
        e.compress = match types.get(&format!("data/{}", e.name)) {
            Some(ct) => compressible(ct),
            None => !e.name.starts_with("media/"),
        };
    }
    Ok(entries)
}

/// The zip-only lower bound: `entries` into a new bag; returns its size.
/// Payload entries are prepared (hashed, deflated) on one thread per core
/// and appended in order, as the export's zip thread does, so the bound is
/// what the machine can do rather than what one thread can.
pub fn zip_only(entries: &[Entry], out: &Path) -> Result<u64> {
    let info = BagInfo::new("bench-export", "exp_bench", time::OffsetDateTime::now_utc());
    let mut writer = ArchiveWriter::create(out, info).context("creating the archive")?;
    let spool = writer.spool_dir().to_owned();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let payload: Vec<&Entry> = entries.iter().filter(|e| !e.tag).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        // One slot per entry; each pool thread takes the next entry, so they
        // run ahead of the writer by at most a few entries each.
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        for _ in 0..cores {
            let (tx, next, payload, spool) = (tx.clone(), &next, &payload, &spool);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(e) = payload.get(i) else { break };
                    let prepared = keepsake_core::archive::prepare_file(&e.path, e.compress, spool);
                    if tx.send((i, prepared)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut waiting = std::collections::BTreeMap::new();
        let mut turn = 0;
        for (i, prepared) in rx {
            waiting.insert(i, prepared);
            while let Some(prepared) = waiting.remove(&turn) {
                let e = payload[turn];
                let name = e.name.strip_prefix("data/").unwrap_or(&e.name);
                let prepared = prepared.with_context(|| format!("preparing {}", e.name))?;
                writer
                    .add_prepared(name, prepared)
                    .with_context(|| format!("adding {}", e.name))?;
                turn += 1;
            }
        }
        Ok(())
    })?;
    for e in entries.iter().filter(|e| e.tag) {
        let bytes = fs_err::read(&e.path).context("reading a tag file")?;
        writer
            .add_tag_file(&e.name, &bytes)
            .with_context(|| format!("adding {}", e.name))?;
    }
    Ok(writer.finish().context("finishing the archive")?.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bags_own_tag_files_are_left_to_the_writer() {
        for own in [
            "bagit.txt",
            "bag-info.txt",
            "manifest-sha256.txt",
            "tagmanifest-sha256.txt",
        ] {
            assert!(bag_own(own), "{own}");
        }
        for kept in ["index.html", "data/manifest.json", "manifest.json"] {
            assert!(!bag_own(kept), "{kept}");
        }
        assert!(compressible("text/plain; charset=utf-8"));
        assert!(!compressible("image/png"));
    }
}
