//! File downloads: bounded parallelism; each file checked against the
//! SHA-256 and size the platform declares, or, where it declares none,
//! against its `Content-Length` and hashed by Keepsake; expired links
//! refreshed; interrupted transfers resumed with `Range` where the server
//! allows it. Every file ends in the index `data/files.json`: where it is
//! in the archive, or why it is missing.

mod body;
mod index;

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;

use tokio::sync::{Mutex, mpsc};

use super::Shared;
use super::assemble::{Job, Lease, MediaBody, Verified, media_archive_path};
use super::progress::ExportEvent;
use super::staging::Checkpoint;
use crate::connector::FileRef;
use crate::{Code, Error, Result};
use body::{Body, StagedBody};
pub(super) use index::Check;
use index::Index;

/// Attempts per file before it is reported missing.
const ATTEMPTS: u32 = 6;

/// Outcome of the downloads.
#[derive(Debug, Default)]
pub(super) struct MediaTally {
    /// Files the archive holds.
    pub downloaded: u64,
    /// Files checked against a SHA-256 the platform declared.
    pub by_checksum: u64,
    /// Files checked against their size only (and hashed by Keepsake).
    pub by_size: u64,
    /// Files that could not be downloaded: the file's key and name, and
    /// why (with its address).
    pub failed: Vec<(String, String, String)>,
    /// Where each file the archive holds is (under `data/`), by key.
    pub archived: super::assemble::Retrieved,
}

/// Files up to this size are downloaded into memory and go from there
/// straight into an archive written in one piece, or into a segment of a
/// split one's spool (compressed where they compress): no staged copy to
/// write, read back and delete. (A file held so is not kept by a killed
/// run until the archive or the spool's journal holds it; one they hold is
/// not downloaded again.)
const IN_MEMORY_MAX: u64 = 4 << 20;
/// The unit of the memory budget, in bytes.
const PERMIT_BYTES: u64 = 64 << 10;

/// Which downloads may be held in memory on their way into the archive.
pub(super) struct InMemory {
    /// Shared by the downloads held; when it is taken, downloads go to the
    /// staging folder.
    budget: Arc<tokio::sync::Semaphore>,
}

impl InMemory {
    /// A budget of `bytes` in all (see
    /// [`super::ExportOptions::media_memory`]); `None` for none.
    pub(super) fn new(bytes: u64) -> Option<Self> {
        let permits = usize::try_from(bytes / PERMIT_BYTES).ok()?;
        (permits > 0).then(|| Self {
            budget: Arc::new(tokio::sync::Semaphore::new(permits)),
        })
    }
}

/// Where a download went.
enum Got {
    /// The staging folder (now or in an interrupted run), with its SHA-256
    /// when it is known without reading it again, and all the archive needs
    /// not to read it twice when its CRC is known too.
    Staged {
        sha256: Option<[u8; 32]>,
        verified: Option<Verified>,
    },
    /// Memory.
    InMemory(Vec<u8>, Verified, Lease),
    /// Nowhere: the archive an interrupted run left holds it, with this
    /// SHA-256 (its journal's).
    InArchive([u8; 32]),
}

/// Runs `workers` download workers until `rx` closes. A file named twice
/// (a Matrix image sent in two rooms) is downloaded once.
pub(super) async fn download_all(
    shared: Arc<Shared>,
    rx: mpsc::Receiver<FileRef>,
    workers: usize,
    zip: crossbeam_channel::Sender<Job>,
    text_done: tokio::sync::watch::Receiver<bool>,
) -> Result<MediaTally> {
    let rx = Arc::new(Mutex::new(rx));
    let tally = Arc::new(Mutex::new(MediaTally::default()));
    let taken = Arc::new(Mutex::new(HashSet::new()));
    let index = Arc::new(std::sync::Mutex::new(Index::create(&shared)?));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers.max(1) {
        let (shared, rx, tally, zip) = (shared.clone(), rx.clone(), tally.clone(), zip.clone());
        let (taken, index) = (taken.clone(), index.clone());
        let mut text_done = text_done.clone();
        tasks.spawn(async move {
            // The second half starts once the record categories are in.
            if worker > 0 && worker >= workers / 2 {
                let _ = text_done.wait_for(|done| *done).await;
            }
            loop {
                let next = rx.lock().await.recv().await;
                let Some(file) = next else {
                    return Ok::<(), Error>(());
                };
                if !taken.lock().await.insert(file.key.clone()) {
                    continue;
                }
                let got = match get(&shared, &file).await {
                    Ok(got) => got,
                    Err(e) if matches!(e, Error::Cancelled) => return Err(e),
                    Err(e)
                        if matches!(e.code(), Code::AccountDeleted | Code::SignedOut)
                            // The client gave up, or the platform named a
                            // time far off: every other file would wait the
                            // same. What was fetched is kept to resume.
                            || matches!(e, Error::TryLater { .. })
                            || matches!(e, Error::WriterStopped) =>
                    {
                        return Err(e);
                    }
                    Err(e) => {
                        let why = e.to_string();
                        shared.reporter.report(ExportEvent::Warning {
                            message: format!(
                                "file {} could not be downloaded: {why}",
                                shown_name(&file)
                            ),
                        });
                        index.lock().map_err(poisoned)?.missing(&file, &why)?;
                        tally
                            .lock()
                            .await
                            .failed
                            .push((file.key.clone(), file.name.clone(), why));
                        continue;
                    }
                };
                let check = if file.sha256.is_some() {
                    Check::Sha256
                } else {
                    Check::Size
                };
                let path = media_archive_path(&file.key, &file.name);
                {
                    let mut t = tally.lock().await;
                    t.downloaded += 1;
                    match check {
                        Check::Sha256 => t.by_checksum += 1,
                        Check::Size => t.by_size += 1,
                    }
                    t.archived.insert(file.key.clone(), path.clone());
                }
                let body = match got {
                    Got::InArchive(sha256) => {
                        index.lock().map_err(poisoned)?.archived(
                            &file,
                            check,
                            Some(&sha256),
                            &path,
                        )?;
                        continue;
                    }
                    Got::InMemory(bytes, verified, lease) => {
                        index.lock().map_err(poisoned)?.archived(
                            &file,
                            check,
                            Some(&verified.sha256),
                            &path,
                        )?;
                        MediaBody::InMemory {
                            bytes,
                            verified,
                            lease,
                        }
                    }
                    Got::Staged { sha256, verified } => {
                        index.lock().map_err(poisoned)?.archived(
                            &file,
                            check,
                            sha256.as_ref(),
                            &path,
                        )?;
                        MediaBody::Staged {
                            file: shared.media_paths(&file.key).1,
                            // Verified as it arrived: the archive need not
                            // hash it again.
                            verified,
                        }
                    }
                };
                let job = Job::Media {
                    key: file.key,
                    body,
                    filename: file.name,
                    content_type: file.content_type,
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
    index.lock().map_err(poisoned)?.finish()?;
    let t = std::mem::take(&mut *tally.lock().await);
    Ok(t)
}

fn poisoned<T>(_: T) -> Error {
    Error::Invalid("internal error: the file index's lock was poisoned".into())
}

/// A file's name as a message may show it: its name, else its key.
fn shown_name(file: &FileRef) -> String {
    let name = if file.name.is_empty() {
        &file.key
    } else {
        &file.name
    };
    crate::text::sanitize_for_terminal(name).into_owned()
}

fn archive_stopped() -> Error {
    Error::WriterStopped
}

/// Gets one file: staged by an interrupted run, in the archive it left,
/// or downloaded now, into memory when it is small and memory allows.
async fn get(shared: &Arc<Shared>, file: &FileRef) -> Result<Got> {
    // A staged copy is gone once it was in the archive: then the archive
    // holds it, or, where that archive could not be continued (damaged,
    // its journal lost), it is downloaded again.
    if let Some(staged) = shared.staged_file(&file.key)
        && shared.media_paths(&file.key).1.exists()
    {
        let sha256 = file
            .sha256
            .as_deref()
            .and_then(parse_sha256)
            .or(staged.sha256);
        let verified = sha256.zip(staged.crc32).map(|(sha256, crc32)| Verified {
            sha256,
            crc32,
            len: staged.bytes,
        });
        return Ok(Got::Staged { sha256, verified });
    }
    let path = media_archive_path(&file.key, &file.name);
    if let Some(sha256) = in_archive(shared, &path).await? {
        return Ok(Got::InArchive(sha256));
    }
    if let Some(lease) = lease(shared, file) {
        let capacity = file.size.and_then(|s| usize::try_from(s).ok()).unwrap_or(0);
        let mut body = Vec::with_capacity(capacity);
        let (len, sha256, crc32) = one(shared, file, &mut body).await?;
        return Ok(Got::InMemory(body, Verified { sha256, crc32, len }, lease));
    }
    let (part, done) = shared.media_paths(&file.key);
    let mut body = StagedBody { part, file: None };
    let (len, sha256, crc32) = one(shared, file, &mut body).await?;
    let staged = body.file.take();
    let (sh, from, key) = (shared.clone(), body.part, file.key.clone());
    // The journal's fsync stays off the async threads.
    tokio::task::spawn_blocking(move || {
        // Where the system names its boot, the file is not synced: within
        // the boot nothing written is lost, and most staged files are
        // archived and deleted before they would ever reach the disk; after
        // a reboot the journaled CRC is checked first
        // (`recheck_after_reboot`).
        let boot = sh.boot.clone();
        if let Some(mut f) = staged {
            f.flush().map_err(Error::io("write", &from))?;
            if boot.is_none() {
                f.get_ref().sync_data().map_err(Error::io("sync", &from))?;
            }
        }
        fs_err::rename(&from, &done).map_err(Error::io("rename", &from))?;
        sh.checkpoint(&Checkpoint::Media {
            key,
            bytes: len,
            crc32: Some(crc32),
            boot,
            sha256: Some(hex::encode(sha256)),
        })
    })
    .await
    .map_err(|e| Error::Invalid(format!("recording a download failed: {e}")))??;
    Ok(Got::Staged {
        sha256: Some(sha256),
        verified: Some(Verified { sha256, crc32, len }),
    })
}

/// The SHA-256 of `path` in the archive an interrupted run left, if it
/// holds it (waiting for the zip thread to have checked it).
async fn in_archive(shared: &Shared, path: &str) -> Result<Option<[u8; 32]>> {
    let mut archived = shared.archived.clone();
    let found = archived
        .wait_for(Option::is_some)
        .await
        .map_err(|_| archive_stopped())?;
    Ok(found.as_ref().and_then(|set| set.get(path).copied()))
}

/// A share of the memory budget for `file`, when it may be held in
/// memory: small (and its size known beforehand), and memory to spare.
fn lease(shared: &Shared, file: &FileRef) -> Option<Lease> {
    let memory = shared.in_memory.as_ref()?;
    let size = file.size?;
    if size > IN_MEMORY_MAX {
        return None;
    }
    let permits = u32::try_from(size.div_ceil(PERMIT_BYTES).max(1)).ok()?;
    Arc::clone(&memory.budget)
        .try_acquire_many_owned(permits)
        .ok()
}

/// Downloads and verifies one file into `body`: its length, SHA-256 and
/// CRC-32 once it matches what the platform declares (its SHA-256 and
/// size, or its size and `Content-Length`).
async fn one(
    shared: &Arc<Shared>,
    file: &FileRef,
    body: &mut impl Body,
) -> Result<(u64, [u8; 32], u32)> {
    let declared = file.sha256.as_deref().map(parse_sha256);
    let mut file = file.clone();
    let mut last_err = None;
    // What the last complete attempt brought, when it did not match.
    let mut previous: Option<(u64, [u8; 32])> = None;
    for attempt in 0..ATTEMPTS {
        shared.check_cancelled()?;
        let (len, sha, crc32, sent) = match transfer(shared, &file, body).await {
            Ok(done) => done,
            Err(Failed::Request(e)) => {
                match shared
                    .connector
                    .refresh_file(&shared.client, &shared.session, &file, &e)
                    .await?
                {
                    // An expired link: the next attempt uses a fresh one.
                    Some(fresh) => {
                        file.url = fresh.url;
                        last_err = Some(e);
                        continue;
                    }
                    None => return Err(e),
                }
            }
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
        let size_ok = file.size.is_none_or(|size| len == size) && sent.is_none_or(|n| len == n);
        let sha_ok = match declared {
            Some(d) => d == Some(sha),
            None => true,
        };
        // Nothing vouches for a file the platform declares neither a size
        // nor a checksum of (a Matrix avatar): a copy cut short by the way
        // would pass as whole. It is taken when two downloads agree.
        let unvouched = file.size.is_none() && declared.is_none();
        if size_ok && sha_ok && (!unvouched || previous == Some((len, sha))) {
            return Ok((len, sha, crc32));
        }
        if unvouched && size_ok {
            previous = Some((len, sha));
            body.discard()?;
            continue;
        }
        // Without a checksum, the declared size may be what is wrong (a
        // Matrix client's word): the same bytes twice are taken as the
        // file, with a warning; a cut copy would not come twice alike.
        if declared.is_none() && sent.is_none_or(|n| len == n) && previous == Some((len, sha)) {
            shared.reporter.report(ExportEvent::Warning {
                message: format!(
                    "file {} was declared as {} bytes, but the platform sent the same {len} bytes twice; it is kept as sent",
                    shown_name(&file),
                    file.size.unwrap_or(0)
                ),
            });
            return Ok((len, sha, crc32));
        }
        previous = Some((len, sha));
        // Wrong bytes: start this file over (a later attempt may get a good copy).
        body.discard()?;
        let expected = match (&file.size, &file.sha256, sent) {
            (Some(size), Some(sha), _) => {
                format!("{size} bytes, SHA-256 {}…", sha.get(..12).unwrap_or(""))
            }
            (Some(size), None, _) => format!("{size} bytes"),
            (None, _, Some(n)) => format!("{n} bytes, as the server announced"),
            (None, _, None) => "what was declared".to_owned(),
        };
        let got = hex::encode(sha);
        shared.reporter.report(ExportEvent::Warning {
            message: format!(
                "file {} arrived damaged ({len} bytes, SHA-256 {}… instead of {expected}); fetching it again (attempt {}/{ATTEMPTS})",
                shown_name(&file),
                &got[..12],
                attempt + 1
            ),
        });
        last_err = Some(Error::Protocol {
            url: format!("file {}", shown_name(&file)),
            detail: if sha_ok {
                format!("{len} bytes arrived where {expected} were declared")
            } else {
                "the bytes do not match the declared SHA-256".into()
            },
        });
    }
    Err(last_err.unwrap_or(Error::Invalid("download failed".into())))
}

/// Streams the body into `body`, from where an earlier attempt stopped
/// (from the start when the server ignores `Range`). Hashes as the bytes
/// arrive; stops reading once more than the declared size came. Also the
/// file's whole length as the server announced it, when it did.
async fn transfer(
    shared: &Shared,
    file: &FileRef,
    body: &mut impl Body,
) -> Result<(u64, [u8; 32], u32, Option<u64>), Failed> {
    let mut digests = body.resume_from(file.size).map_err(Failed::Request)?;
    // The connector says whether the sign-in goes along (the Export API's
    // signed URLs never get it, Matrix's authenticated media always). The
    // client has retried the request itself already: a failure here is not
    // retried again.
    let mut dl = shared
        .client
        .download(&file.url, digests.len(), file.auth)
        .await
        .map_err(Failed::Request)?;
    if digests.len() > 0 && dl.status == 200 {
        // The server sent the whole file again: start over.
        body.discard().map_err(Failed::Request)?;
        digests = body.resume_from(file.size).map_err(Failed::Request)?;
    }
    // (The server's number: added without overflowing, whatever it is.)
    let announced = dl.content_length.map(|n| n.saturating_add(digests.len()));
    let limit = file.size.or(announced);
    loop {
        shared.check_cancelled().map_err(Failed::Request)?;
        match dl.chunk().await {
            Ok(Some(chunk)) => {
                body.put(&chunk).map_err(Failed::Request)?;
                digests.update(&chunk);
                shared.add_bytes(chunk.len() as u64);
                if limit.is_some_and(|limit| digests.len() > limit) {
                    break; // damaged: the caller starts over
                }
                // Nobody said how large it is: not an endless stream.
                if limit.is_none() && digests.len() > shared.undeclared_file_max {
                    body.discard().map_err(Failed::Request)?;
                    return Err(Failed::Request(Error::Protocol {
                        url: format!("file {}", shown_name(file)),
                        detail: format!(
                            "more than {} bytes arrived and neither the file's record nor the \
                             server said how large it is; Keepsake stopped the download",
                            shared.undeclared_file_max
                        ),
                    }));
                }
            }
            Ok(None) => break,
            Err(e) => {
                body.keep().map_err(Failed::Request)?;
                return Err(Failed::Body(e, digests.len()));
            }
        }
    }
    let (sha256, crc32, len) = digests.finish();
    Ok((len, sha256, crc32, announced))
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
