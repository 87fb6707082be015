//! The files behind the log: locking, the head, durable appends, and reading
//! lines back from a consistent snapshot.

use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::snapshot::{Head, HeadState, RawLines, Records, Snapshot};
use super::{AuditEntry, AuditLog, AuditRecord, LOCK_FILE, chain};
use crate::fsx::sync_dir;
use crate::{Error, Result};

/// How long a writer waits for another Keepsake process to finish before
/// giving up.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// How far back [`read_tail`] reads at a time.
const TAIL_CHUNK: u64 = 8 * 1024;

/// Takes the log's shared lock just long enough to read the head and fix the
/// length of the log, so that a concurrent append is seen whole or not at all.
pub(super) fn snapshot(log: &AuditLog) -> Result<Snapshot> {
    let log_path = log.log_path();
    let head_path = log.head_path();
    let _lock = lock(log, false)?;
    let head = read_head(&head_path)?;
    let reader = match fs_err::File::open(&log_path) {
        Ok(file) => {
            let len = file
                .metadata()
                .map_err(Error::io("read the size of", &log_path))?
                .len();
            Some(BufReader::new(file).take(len))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("open", &log_path)(e)),
    };
    Ok(Snapshot {
        head_path,
        head,
        log_exists: reader.is_some(),
        records: Records {
            raw: RawLines {
                reader,
                path: log_path,
                number: 0,
            },
        },
    })
}

pub(super) fn append(log: &AuditLog, entry: AuditEntry) -> Result<AuditRecord> {
    let log_path = log.log_path();
    let head_path = log.head_path();
    let _lock = lock(log, true)?;
    let refuse = |what: String| Error::Audit {
        path: log_path.clone(),
        detail: format!(
            "{what}. The log may have been tampered with or truncated, so nothing was added to it; \
             run `keepsake audit verify` to see what is wrong"
        ),
    };

    let head = read_head(&head_path)?;
    let tail = read_tail(&log_path)?;
    let (seq, prev_hash) = match (head, tail) {
        (HeadState::Malformed(e), _) => {
            return Err(refuse(format!(
                "the head file {} is unreadable ({e})",
                head_path.display()
            )));
        }
        (_, Tail::Torn) => return Err(refuse("the last line of the log is incomplete".into())),
        (HeadState::Missing, Tail::Empty) => (1, chain::GENESIS.to_owned()),
        (HeadState::Missing, Tail::Line(_)) => {
            return Err(refuse(format!(
                "the head file {} is missing although the log has records",
                head_path.display()
            )));
        }
        (HeadState::Present(head), Tail::Empty) => {
            return Err(refuse(format!(
                "the log is missing or empty but its head says it ends at record {}",
                head.seq
            )));
        }
        (HeadState::Present(head), Tail::Line(bytes)) => {
            let (last, intact) = chain::parse_line(&bytes)
                .map_err(|what| refuse(format!("the last line of the log is {what}")))?;
            if !intact {
                return Err(refuse(format!(
                    "the last record (record {}) no longer matches its hash",
                    last.seq
                )));
            }
            chain::head_matches(&head, &last).map_err(refuse)?;
            (last.seq + 1, last.hash)
        }
    };

    let record = chain::seal(seq, now()?, entry, prev_hash)?;
    let mut line = serde_json::to_vec(&record).map_err(|e| Error::Audit {
        path: log_path.clone(),
        detail: format!("could not encode the record ({e})"),
    })?;
    line.push(b'\n');
    append_line(log.dir(), &log_path, &line)?;
    write_head(
        log,
        &Head {
            seq: record.seq,
            hash: record.hash.clone(),
        },
    )?;
    Ok(record)
}

/// The time a record is written: RFC 3339, UTC, fixed millisecond precision.
fn now() -> Result<String> {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .map_err(|e| Error::Invalid(format!("cannot format the current time ({e})")))
}

/// Held while the lock file is open; the OS releases the lock when the file
/// is closed or the process dies.
pub(super) struct LogLock {
    _file: Option<fs_err::File>,
}

pub(super) fn lock(log: &AuditLog, exclusive: bool) -> Result<LogLock> {
    let path = log.dir.join(LOCK_FILE);
    let mut options = crate::fsx::private_file();
    options.read(true).write(true).create(true).truncate(false);
    let file = match options.open(&path) {
        Ok(file) => file,
        // Reading a log on a read-only medium (an archived copy) needs no
        // lock: nobody can be appending to it.
        Err(e)
            if !exclusive
                && matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
        {
            return Ok(LogLock { _file: None });
        }
        Err(e) => return Err(Error::io("open", &path)(e)),
    };
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_millis(2);
    loop {
        let attempt = if exclusive {
            file.try_lock()
        } else {
            file.try_lock_shared()
        };
        match attempt {
            Ok(()) => return Ok(LogLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Audit {
                    path,
                    detail: format!(
                        "another Keepsake process has been using the audit log for over {} s; \
                         close other Keepsake windows or commands and try again",
                        LOCK_WAIT.as_secs()
                    ),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io("lock", &path)(e)),
        }
    }
}

pub(super) fn read_head(path: &Path) -> Result<HeadState> {
    let bytes = match fs_err::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HeadState::Missing),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    Ok(match serde_json::from_slice::<Head>(&bytes) {
        Ok(head) if chain::is_hash(&head.hash) => HeadState::Present(head),
        Ok(_) => HeadState::Malformed("its hash is not 64 hex digits".into()),
        Err(e) => HeadState::Malformed(e.to_string()),
    })
}

/// Replaces the head atomically: a crash leaves the old head or the new one.
fn write_head(log: &AuditLog, head: &Head) -> Result<()> {
    let path = log.head_path();
    let tmp = log.dir.join("audit.head.tmp");
    let mut body = serde_json::to_vec(head).map_err(|e| Error::Audit {
        path: path.clone(),
        detail: format!("could not encode the head ({e})"),
    })?;
    body.push(b'\n');
    crate::fsx::replace_private(&path, &tmp, &body)
}

/// Appends one whole line and makes it durable.
fn append_line(dir: &Path, path: &Path, line: &[u8]) -> Result<()> {
    let existed = path.exists();
    let mut file = crate::fsx::private_file()
        .append(true)
        .create(true)
        .open(path)
        .map_err(Error::io("open", path))?;
    let len = file
        .metadata()
        .map_err(Error::io("read the size of", path))?
        .len();
    if let Err(e) = file.write_all(line).and_then(|()| file.sync_data()) {
        // A full disk is likely here (exports fill disks): cut the partial
        // line off again so the log stays a chain of whole records.
        let _ = file.set_len(len).and_then(|()| file.sync_data());
        return Err(Error::io("write", path)(e));
    }
    if !existed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The end of the log.
pub(super) enum Tail {
    /// No log, or an empty one.
    Empty,
    /// The last line has no line end.
    Torn,
    /// The last line, without its line end.
    Line(Vec<u8>),
}

/// Reads the last line without reading the whole log.
pub(super) fn read_tail(path: &Path) -> Result<Tail> {
    let mut file = match fs_err::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Tail::Empty),
        Err(e) => return Err(Error::io("open", path)(e)),
    };
    let len = file
        .metadata()
        .map_err(Error::io("read the size of", path))?
        .len();
    if len == 0 {
        return Ok(Tail::Empty);
    }
    let read = |file: &mut fs_err::File, from: u64, to: u64| -> Result<Vec<u8>> {
        let mut buf = vec![0; (to - from) as usize];
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(Error::io("read", path))?;
        Ok(buf)
    };
    if read(&mut file, len - 1, len)? != b"\n" {
        return Ok(Tail::Torn);
    }
    let end = len - 1;
    let mut start = end;
    let line_start = loop {
        if start == 0 {
            break 0;
        }
        let from = start.saturating_sub(TAIL_CHUNK);
        let chunk = read(&mut file, from, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            break from + i as u64 + 1;
        }
        start = from;
    };
    Ok(Tail::Line(read(&mut file, line_start, end)?))
}
