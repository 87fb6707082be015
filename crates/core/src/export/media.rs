//! Media downloads: bounded parallelism, size and SHA-256 verified, expired
//! signed URLs refreshed, interrupted transfers resumed with `Range`.

use std::io::{Read, Write};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc};

use super::Shared;
use super::assemble::Job;
use super::progress::ExportEvent;
use super::staging::{Checkpoint, open_private};
use crate::{Error, Result};

/// Attempts per file before it is reported missing.
const ATTEMPTS: u32 = 6;

/// What the media records say about a file.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct MediaMeta {
    pub id: i64,
    pub size: u64,
    pub sha256: String,
    pub download_url: String,
    #[serde(default)]
    pub filename: String,
    #[serde(default)]
    pub content_type: String,
}

/// Outcome of the media downloads.
#[derive(Debug, Default)]
pub(super) struct MediaTally {
    pub downloaded: u64,
    pub failed: Vec<(i64, String)>,
}

/// Runs `workers` download workers until `rx` closes.
pub(super) async fn download_all(
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Value>,
    workers: usize,
    zip: std::sync::mpsc::Sender<Job>,
) -> Result<MediaTally> {
    let rx = Arc::new(Mutex::new(rx));
    let tally = Arc::new(Mutex::new(MediaTally::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let (shared, rx, tally, zip) = (shared.clone(), rx.clone(), tally.clone(), zip.clone());
        tasks.spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some(v) = next else {
                    return Ok::<(), Error>(());
                };
                let meta: MediaMeta = match serde_json::from_value(v) {
                    Ok(m) => m,
                    Err(e) => {
                        shared.reporter.report(ExportEvent::Warning {
                            message: format!("a media record is malformed and was skipped: {e}"),
                        });
                        continue;
                    }
                };
                let done = shared.media_done(meta.id).is_some()
                    || match one(&shared, &meta).await {
                        Ok(()) => true,
                        Err(e) if matches!(e, Error::Cancelled) => return Err(e),
                        Err(e) if e.code() == "account_deleted" || e.code() == "signed_out" => {
                            return Err(e);
                        }
                        Err(e) => {
                            shared.reporter.report(ExportEvent::Warning {
                                message: format!("media {} could not be downloaded: {e}", meta.id),
                            });
                            tally.lock().await.failed.push((meta.id, e.to_string()));
                            false
                        }
                    };
                if done {
                    tally.lock().await.downloaded += 1;
                    let file = shared.media_paths(meta.id).1;
                    // Verified against the declared SHA-256 as it arrived:
                    // the archive need not hash it again.
                    let verified = shared.media_done(meta.id).and_then(|f| {
                        Some(super::assemble::Verified {
                            sha256: parse_sha256(&meta.sha256)?,
                            crc32: f.crc32?,
                            len: f.bytes,
                        })
                    });
                    let job = Job::Media {
                        id: meta.id,
                        file,
                        filename: meta.filename,
                        content_type: meta.content_type,
                        verified,
                    };
                    if zip.send(job).is_err() {
                        return Err(Error::Invalid("the archive writer stopped".into()));
                    }
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| Error::Invalid(format!("a download worker failed: {e}")))??;
    }
    let t = std::mem::take(&mut *tally.lock().await);
    Ok(t)
}

/// Downloads, verifies and journals one file.
async fn one(shared: &Arc<Shared>, meta: &MediaMeta) -> Result<()> {
    let (part, done) = shared.media_paths(meta.id);
    let mut url = meta.download_url.clone();
    let mut last_err = None;
    for attempt in 0..ATTEMPTS {
        shared.check_cancelled()?;
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        let offset = if have >= meta.size { 0 } else { have };
        if offset == 0 && have > 0 {
            std::fs::remove_file(&part).map_err(Error::io("remove", &part))?;
        }
        let (len, sha, crc32, boot) = match transfer(shared, &url, &part, offset).await {
            Ok(done) => done,
            Err(e) if e.problem().is_some_and(|p| p.slug() == "media-url-expired") => {
                url = fresh_url(shared, meta.id).await?;
                last_err = Some(e);
                continue;
            }
            Err(e) if e.class() == crate::Class::Retryable => {
                // Keep the partial file: the next attempt resumes with Range.
                last_err = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        if len == meta.size && sha.eq_ignore_ascii_case(&meta.sha256) {
            let (sh, from, to, id) = (shared.clone(), part.clone(), done.clone(), meta.id);
            // The journal's fsync stays off the async threads.
            return tokio::task::spawn_blocking(move || {
                std::fs::rename(&from, &to).map_err(Error::io("rename", &from))?;
                sh.checkpoint(&Checkpoint::Media {
                    id,
                    bytes: len,
                    crc32: Some(crc32),
                    boot,
                })
            })
            .await
            .map_err(|e| Error::Invalid(format!("recording a download failed: {e}")))?;
        }
        // Wrong bytes: start this file over (a later attempt may get a good copy).
        std::fs::remove_file(&part).map_err(Error::io("remove", &part))?;
        shared.reporter.report(ExportEvent::Warning {
            message: format!(
                "media {} arrived damaged ({len} bytes, SHA-256 {}… instead of {} bytes, {}…); fetching it again (attempt {}/{ATTEMPTS})",
                meta.id,
                &sha[..12],
                meta.size,
                meta.sha256.get(..12).unwrap_or(""),
                attempt + 1
            ),
        });
        last_err = Some(Error::Protocol {
            url: format!("media {}", meta.id),
            detail: "the bytes do not match the declared SHA-256".into(),
        });
        if attempt > 0 {
            url = fresh_url(shared, meta.id).await?;
        }
    }
    Err(last_err.unwrap_or(Error::Invalid("download failed".into())))
}

async fn fresh_url(shared: &Shared, id: i64) -> Result<String> {
    let m: MediaMeta = shared
        .client
        .get_json(&format!("{}/media/{id}", shared.session_path))
        .await?;
    Ok(m.download_url)
}

/// Streams the body into `part` from `offset`.
async fn transfer(
    shared: &Shared,
    url: &str,
    part: &std::path::Path,
    offset: u64,
) -> Result<(u64, String, u32, Option<String>)> {
    // Hash as the bytes arrive, so a verified file is read once, not twice;
    // a resumed transfer first hashes the prefix it already has.
    let (mut hasher, mut crc, mut len) = if offset > 0 {
        let prefix = part.to_path_buf();
        tokio::task::spawn_blocking(move || hash_prefix(&prefix))
            .await
            .map_err(|e| Error::Invalid(format!("hashing failed: {e}")))??
    } else {
        (Sha256::new(), crc32fast::Hasher::new(), 0)
    };
    let mut dl = shared.client.download(url, offset).await?;
    // Bodies arrive in pieces of a few kilobytes: buffered, they reach the
    // disk in fewer, larger writes.
    let mut file = std::io::BufWriter::with_capacity(256 * 1024, open_private(part, true)?);
    loop {
        shared.check_cancelled()?;
        match dl.response.chunk().await {
            Ok(Some(chunk)) => {
                file.write_all(&chunk).map_err(Error::io("write", part))?;
                hasher.update(&chunk);
                crc.update(&chunk);
                len += chunk.len() as u64;
                shared.add_bytes(chunk.len() as u64);
            }
            Ok(None) => break,
            Err(e) => {
                file.flush().map_err(Error::io("write", part))?;
                file.get_ref()
                    .sync_data()
                    .map_err(Error::io("sync", part))?;
                return Err(Error::Network {
                    url: format!("media download (kept {len} bytes to resume from)"),
                    detail: e.to_string(),
                });
            }
        }
    }
    file.flush().map_err(Error::io("write", part))?;
    // Where the system names its boot, the file is not synced: within the
    // boot nothing written is lost, and most staged files are archived and
    // deleted before they would ever reach the disk; after a reboot the
    // journaled CRC is checked first (`recheck_after_reboot`).
    let boot = super::staging::boot_id();
    if boot.is_none() {
        let synced = part.to_path_buf();
        tokio::task::spawn_blocking(move || {
            file.get_ref()
                .sync_data()
                .map_err(Error::io("sync", &synced))
        })
        .await
        .map_err(|e| Error::Invalid(format!("saving a download failed: {e}")))??;
    }
    Ok((len, hex::encode(hasher.finalize()), crc.finalize(), boot))
}

/// A SHA-256 in hex as bytes.
fn parse_sha256(hex_digest: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).ok()?;
    Some(out)
}

fn hash_prefix(path: &std::path::Path) -> Result<(Sha256, crc32fast::Hasher, u64)> {
    let mut f = std::fs::File::open(path).map_err(Error::io("read", path))?;
    let mut h = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(Error::io("read", path))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        crc.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h, crc, n))
}
