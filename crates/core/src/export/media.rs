//! Media downloads: bounded parallelism, size and SHA-256 verified, expired
//! signed URLs refreshed, interrupted transfers resumed with `Range`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc};

use super::Shared;
use super::assemble::{Job, Lease, MediaBody, Verified, media_archive_path};
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

/// Files up to this size are downloaded into memory and go from there
/// straight into an archive written in one piece: no staged copy to write,
/// read back and delete. (A file held so is not kept by a killed run; one
/// the archive holds is not downloaded again.)
const IN_MEMORY_MAX: u64 = 4 << 20;
/// The unit of the memory budget, in bytes.
const PERMIT_BYTES: u64 = 64 << 10;

/// The budget for downloads held in memory, of `bytes` in all (see
/// [`super::ExportOptions::media_memory`]); `None` for none. When it is
/// taken, downloads go to the staging folder.
pub(super) fn memory_budget(bytes: u64) -> Option<Arc<tokio::sync::Semaphore>> {
    let permits = usize::try_from(bytes / PERMIT_BYTES).ok()?;
    (permits > 0).then(|| Arc::new(tokio::sync::Semaphore::new(permits)))
}

/// Where a download went.
enum Got {
    /// The staging folder (now or in an interrupted run).
    Staged,
    /// Memory.
    InMemory(Vec<u8>, Verified, Lease),
    /// Nowhere: the archive an interrupted run left holds it.
    InArchive,
}

/// Runs `workers` download workers until `rx` closes.
pub(super) async fn download_all(
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Value>,
    workers: usize,
    zip: std::sync::mpsc::Sender<Job>,
    text_done: tokio::sync::watch::Receiver<bool>,
) -> Result<MediaTally> {
    let rx = Arc::new(Mutex::new(rx));
    let tally = Arc::new(Mutex::new(MediaTally::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers.max(1) {
        let (shared, rx, tally, zip) = (shared.clone(), rx.clone(), tally.clone(), zip.clone());
        let mut text_done = text_done.clone();
        tasks.spawn(async move {
            // The second half starts once the record categories are in.
            if worker > 0 && worker >= workers / 2 {
                let _ = text_done.wait_for(|done| *done).await;
            }
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
                let got = match get(&shared, &meta).await {
                    Ok(got) => got,
                    Err(e) if matches!(e, Error::Cancelled) => return Err(e),
                    Err(e)
                        if e.code() == "account_deleted"
                            || e.code() == "signed_out"
                            // The client gave up, or the platform named a
                            // time far off: every other file would wait the
                            // same. What was fetched is kept to resume.
                            || matches!(e, Error::TryLater { .. })
                            || matches!(e, Error::WriterStopped) =>
                    {
                        return Err(e);
                    }
                    Err(e) => {
                        shared.reporter.report(ExportEvent::Warning {
                            message: format!("media {} could not be downloaded: {e}", meta.id),
                        });
                        tally.lock().await.failed.push((meta.id, e.to_string()));
                        continue;
                    }
                };
                tally.lock().await.downloaded += 1;
                let body = match got {
                    Got::InArchive => {
                        shared.note_archived(meta.id);
                        continue;
                    }
                    Got::InMemory(bytes, verified, lease) => {
                        shared.note_archived(meta.id);
                        MediaBody::InMemory {
                            bytes,
                            verified,
                            lease,
                        }
                    }
                    Got::Staged => MediaBody::Staged {
                        file: shared.media_paths(meta.id).1,
                        // Verified against the declared SHA-256 as it
                        // arrived: the archive need not hash it again.
                        verified: shared.media_done(meta.id).and_then(|f| {
                            Some(Verified {
                                sha256: parse_sha256(&meta.sha256)?,
                                crc32: f.crc32?,
                                len: f.bytes,
                            })
                        }),
                    },
                };
                let job = Job::Media {
                    id: meta.id,
                    body,
                    filename: meta.filename,
                    content_type: meta.content_type,
                };
                if zip.send(job).is_err() {
                    return Err(archive_stopped());
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

fn archive_stopped() -> Error {
    Error::WriterStopped
}

/// Gets one file: staged by an interrupted run, in the archive it left,
/// or downloaded now, into memory when it is small and memory allows.
async fn get(shared: &Arc<Shared>, meta: &MediaMeta) -> Result<Got> {
    if shared.media_done(meta.id).is_some() {
        return Ok(Got::Staged);
    }
    let path = media_archive_path(meta.id, &meta.filename);
    if in_archive(shared, &path).await? {
        return Ok(Got::InArchive);
    }
    if let Some(lease) = lease(shared, meta) {
        let mut body = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        let (len, sha256, crc32) = one(shared, meta, &mut body).await?;
        return Ok(Got::InMemory(body, Verified { sha256, crc32, len }, lease));
    }
    let (part, done) = shared.media_paths(meta.id);
    let mut body = StagedBody { part, file: None };
    let (len, _, crc32) = one(shared, meta, &mut body).await?;
    let file = body.file.take();
    let (sh, from, id) = (shared.clone(), body.part, meta.id);
    // The journal's fsync stays off the async threads.
    tokio::task::spawn_blocking(move || {
        // Where the system names its boot, the file is not synced: within
        // the boot nothing written is lost, and most staged files are
        // archived and deleted before they would ever reach the disk; after
        // a reboot the journaled CRC is checked first
        // (`recheck_after_reboot`).
        let boot = super::staging::boot_id();
        if let Some(mut f) = file {
            f.flush().map_err(Error::io("write", &from))?;
            if boot.is_none() {
                f.get_ref().sync_data().map_err(Error::io("sync", &from))?;
            }
        }
        std::fs::rename(&from, &done).map_err(Error::io("rename", &from))?;
        sh.checkpoint(&Checkpoint::Media {
            id,
            bytes: len,
            crc32: Some(crc32),
            boot,
        })
    })
    .await
    .map_err(|e| Error::Invalid(format!("recording a download failed: {e}")))??;
    Ok(Got::Staged)
}

/// Whether the archive an interrupted run left holds `path` (waiting for
/// the zip thread to have checked it).
async fn in_archive(shared: &Shared, path: &str) -> Result<bool> {
    let mut archived = shared.archived.clone();
    let found = archived
        .wait_for(Option::is_some)
        .await
        .map_err(|_| archive_stopped())?;
    Ok(found.as_ref().is_some_and(|set| set.contains(path)))
}

/// A share of the memory budget for `meta`'s file, when it may be held in
/// memory: small, and memory to spare.
fn lease(shared: &Shared, meta: &MediaMeta) -> Option<Lease> {
    let budget = shared.in_memory.as_ref()?;
    if meta.size > IN_MEMORY_MAX {
        return None;
    }
    let permits = u32::try_from(meta.size.div_ceil(PERMIT_BYTES).max(1)).ok()?;
    Arc::clone(budget).try_acquire_many_owned(permits).ok()
}

/// Where a download's bytes go.
trait Body: Send {
    /// What an earlier attempt kept, hashed, to resume from; a body as long
    /// as the whole file or longer is started over.
    fn resume_from(&mut self, size: u64) -> Result<(Sha256, crc32fast::Hasher, u64)>;
    fn put(&mut self, chunk: &[u8]) -> Result<()>;
    /// Makes what arrived so far last until the next attempt.
    fn keep(&mut self) -> Result<()>;
    /// Throws away what arrived.
    fn discard(&mut self) -> Result<()>;
}

/// A download held in memory, copied out of the connection's buffers so
/// it holds no more than its own size.
impl Body for Vec<u8> {
    fn resume_from(&mut self, size: u64) -> Result<(Sha256, crc32fast::Hasher, u64)> {
        if self.len() as u64 >= size {
            self.clear();
        }
        let (mut sha, mut crc) = (Sha256::new(), crc32fast::Hasher::new());
        sha.update(&self[..]);
        crc.update(self);
        Ok((sha, crc, self.len() as u64))
    }
    fn put(&mut self, chunk: &[u8]) -> Result<()> {
        self.extend_from_slice(chunk);
        Ok(())
    }
    fn keep(&mut self) -> Result<()> {
        Ok(())
    }
    fn discard(&mut self) -> Result<()> {
        self.clear();
        Ok(())
    }
}

/// A download into `{id}.part` in the staging folder.
struct StagedBody {
    part: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Body for StagedBody {
    fn resume_from(&mut self, size: u64) -> Result<(Sha256, crc32fast::Hasher, u64)> {
        self.file = None;
        let have = std::fs::metadata(&self.part).map(|m| m.len()).unwrap_or(0);
        if have >= size && have > 0 {
            std::fs::remove_file(&self.part).map_err(Error::io("remove", &self.part))?;
        }
        // Hash the prefix already there, so a verified file is read once,
        // not twice. Bodies arrive in pieces of a few kilobytes: buffered,
        // they reach the disk in fewer, larger writes.
        let hashed = hash_prefix(&self.part)?;
        self.file = Some(std::io::BufWriter::with_capacity(
            256 * 1024,
            open_private(&self.part, true)?,
        ));
        Ok(hashed)
    }
    fn put(&mut self, chunk: &[u8]) -> Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(chunk).map_err(Error::io("write", &self.part)),
            None => Err(Error::Invalid(
                "internal error: a download with no file".into(),
            )),
        }
    }
    fn keep(&mut self) -> Result<()> {
        if let Some(f) = &mut self.file {
            f.flush().map_err(Error::io("write", &self.part))?;
            f.get_ref()
                .sync_data()
                .map_err(Error::io("sync", &self.part))?;
        }
        Ok(())
    }
    fn discard(&mut self) -> Result<()> {
        self.file = None;
        match std::fs::remove_file(&self.part) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("remove", &self.part)(e))
            }
            _ => Ok(()),
        }
    }
}

/// Downloads and verifies one file into `body`: its length, SHA-256 and
/// CRC-32 once it matches what the record declares.
async fn one(
    shared: &Arc<Shared>,
    meta: &MediaMeta,
    body: &mut impl Body,
) -> Result<(u64, [u8; 32], u32)> {
    let declared = parse_sha256(&meta.sha256);
    let mut url = meta.download_url.clone();
    let mut last_err = None;
    for attempt in 0..ATTEMPTS {
        shared.check_cancelled()?;
        let (len, sha, crc32) = match transfer(shared, &url, body, meta.size).await {
            Ok(done) => done,
            Err(Failed::Request(e))
                if e.problem().is_some_and(|p| p.slug() == "media-url-expired") =>
            {
                url = fresh_url(shared, meta.id).await?;
                last_err = Some(e);
                continue;
            }
            Err(Failed::Request(e)) => return Err(e),
            Err(Failed::Body(e, kept)) if e.class() == crate::Class::Retryable => {
                // Keep what came: the next attempt resumes with Range.
                last_err = Some(match e {
                    Error::Network { url, detail } => Error::Network {
                        url,
                        detail: format!("{detail}; kept {kept} bytes to resume from"),
                    },
                    e => e,
                });
                continue;
            }
            Err(Failed::Body(e, _)) => return Err(e),
        };
        if len == meta.size && declared == Some(sha) {
            return Ok((len, sha, crc32));
        }
        // Wrong bytes: start this file over (a later attempt may get a good copy).
        body.discard()?;
        let got = hex::encode(sha);
        shared.reporter.report(ExportEvent::Warning {
            message: format!(
                "media {} arrived damaged ({len} bytes, SHA-256 {}… instead of {} bytes, {}…); fetching it again (attempt {}/{ATTEMPTS})",
                meta.id,
                &got[..12],
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
    let record = shared
        .connector
        .media_record(&shared.client, &shared.session, id)
        .await?;
    let m: MediaMeta = serde_json::from_value(record).map_err(|e| Error::Protocol {
        url: format!("media {id}"),
        detail: format!("its record is not what a media record holds: {e}"),
    })?;
    Ok(m.download_url)
}

/// Streams the body into `body`, from where an earlier attempt stopped.
/// Hashes as the bytes arrive; stops reading once more than `size` came.
async fn transfer(
    shared: &Shared,
    url: &str,
    body: &mut impl Body,
    size: u64,
) -> Result<(u64, [u8; 32], u32), Failed> {
    let (mut hasher, mut crc, mut len) = body.resume_from(size).map_err(Failed::Request)?;
    // The connector says whether the token goes along (the Export API's
    // signed URLs never get it). The client has retried the request itself
    // already: a failure here is not retried again.
    let mut dl = shared
        .client
        .download(url, len, shared.connector.media_auth())
        .await
        .map_err(Failed::Request)?;
    loop {
        shared.check_cancelled().map_err(Failed::Request)?;
        match dl.chunk().await {
            Ok(Some(chunk)) => {
                body.put(&chunk).map_err(Failed::Request)?;
                hasher.update(&chunk);
                crc.update(&chunk);
                len += chunk.len() as u64;
                shared.add_bytes(chunk.len() as u64);
                if len > size {
                    break; // damaged: the caller starts over
                }
            }
            Ok(None) => break,
            Err(e) => {
                body.keep().map_err(Failed::Request)?;
                return Err(Failed::Body(e, len));
            }
        }
    }
    Ok((len, hasher.finalize().into(), crc.finalize()))
}

/// How a transfer failed: the request (already retried by the client, or
/// a local error), or its body midway (worth resuming with `Range`).
enum Failed {
    Request(Error),
    /// The error and the bytes kept.
    Body(Error, u64),
}

/// A SHA-256 in hex as bytes.
fn parse_sha256(hex_digest: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).ok()?;
    Some(out)
}

fn hash_prefix(path: &std::path::Path) -> Result<(Sha256, crc32fast::Hasher, u64)> {
    let mut h = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((h, crc, 0)),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
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
