//! File-system habits shared across the engine: what only the account's
//! owner may read (staging, archives being written, the audit log,
//! credentials kept in a file), making a rename durable, and copying while
//! hashing (every read loop: downloads, archive entries, verification).

use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Open options for a file only its owner may read or write (`0600` on
/// Unix, when the file is created); how it opens is the caller's.
pub(crate) fn private_file() -> fs_err::OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut options = fs_err::OpenOptions::new();
    #[cfg(unix)]
    fs_err::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates `path` and any missing parents, each only its owner may enter
/// (`0700` on Unix).
pub(crate) fn create_private_dir(path: &Path) -> Result<()> {
    // fs-err has no DirBuilder; the error below names the folder.
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    #[allow(clippy::disallowed_methods)]
    b.create(path).map_err(Error::io("create folder", path))
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the
/// new one: written to `tmp` beside it (private) and synced, renamed over
/// it, the folder synced. A `tmp` left by a failure is removed.
pub(crate) fn replace_private(path: &Path, tmp: &Path, bytes: &[u8]) -> Result<()> {
    let written = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(Error::io("create", tmp))
        .and_then(|mut out| {
            out.write_all(bytes)
                .and_then(|()| out.sync_all())
                .map_err(Error::io("write", tmp))
        })
        .and_then(|()| fs_err::rename(tmp, path).map_err(Error::io("replace", path)));
    if written.is_err() {
        let _ = fs_err::remove_file(tmp);
    }
    written?;
    sync_dir(parent_of(path))
}

/// Removes the file at `path`, if it is there, when nothing depends on its
/// going: one that cannot be removed is only logged as `what` (it stays
/// until its folder goes).
pub(crate) fn remove_or_log(path: &Path, what: &str) {
    match fs_err::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %crate::error::os_error(e), "could not remove {what}");
        }
    }
}

/// The folder `path` is in (`.` for a bare name).
pub(crate) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes a new or renamed directory entry in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs_err::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("sync the directory", dir))?;
    // Windows cannot open a directory as a file; NTFS journals renames.
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The SHA-256, CRC-32 and length of bytes as they pass, taken in the pass
/// that copies them: what an archive entry and a checked download need.
#[derive(Clone, Default)]
pub(crate) struct Digests {
    sha: Sha256,
    crc: crc32fast::Hasher,
    len: u64,
}

impl Digests {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes passed so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The SHA-256, the CRC-32 and the length.
    pub(crate) fn finish(self) -> ([u8; 32], u32, u64) {
        (self.sha.finalize().into(), self.crc.finalize(), self.len)
    }
}

/// Why [`pump`] stopped before the end.
#[derive(Debug)]
pub(crate) enum Stop<E> {
    /// The source could not be read.
    Read(io::Error),
    /// The sink refused a piece.
    Sink(E),
}

/// Reads `reader` to its end through `buf`, handing each piece to `sink`
/// (a read that was interrupted is tried again); the bytes read.
pub(crate) fn pump<R: Read + ?Sized, E>(
    reader: &mut R,
    buf: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> std::result::Result<(), E>,
) -> std::result::Result<u64, Stop<E>> {
    let mut total = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Read(e)),
        };
        sink(&buf[..n]).map_err(Stop::Sink)?;
        total += n as u64;
    }
}

/// Reads `reader` to its end through `buf`, handing each piece to `each`
/// (to hash it); the bytes read.
pub(crate) fn read_each<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> io::Result<u64> {
    pump(reader, buf, |piece| {
        each(piece);
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|stop| match stop {
        Stop::Read(e) => e,
        Stop::Sink(never) => match never {},
    })
}

/// Copies `reader` into `out` in pieces of `chunk` bytes; the bytes
/// copied. Errors name what was read (`from`) or written (`to`).
pub(crate) fn copy<R: Read + ?Sized, W: Write + ?Sized>(
    reader: &mut R,
    out: &mut W,
    chunk: usize,
    from: &Path,
    to: &Path,
) -> Result<u64> {
    let mut buf = vec![0; chunk];
    pump(reader, &mut buf, |piece| out.write_all(piece)).map_err(|stop| match stop {
        Stop::Read(e) => Error::io("read", from)(e),
        Stop::Sink(e) => Error::io("write", to)(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that is interrupted before every piece, then fails or ends.
    struct Flaky {
        data: Vec<u8>,
        pos: usize,
        interrupt: bool,
        fail_at_end: bool,
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.pos == self.data.len() {
                return if self.fail_at_end {
                    Err(io::Error::other("cut"))
                } else {
                    Ok(0)
                };
            }
            let n = buf.len().min(3).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn flaky(fail_at_end: bool) -> Flaky {
        Flaky {
            data: b"keep every byte".to_vec(),
            pos: 0,
            interrupt: false,
            fail_at_end,
        }
    }

    #[test]
    fn a_copy_retries_interrupted_reads_and_hashes_what_it_copied() {
        let mut out = Vec::new();
        let mut digests = Digests::default();
        let mut buf = [0u8; 8];
        let n = pump(&mut flaky(false), &mut buf, |piece| {
            digests.update(piece);
            out.write_all(piece)
        })
        .expect("copied");
        assert_eq!(out, b"keep every byte");
        assert_eq!(n, 15);
        let (sha, crc, len) = digests.finish();
        assert_eq!(sha, <[u8; 32]>::from(Sha256::digest(b"keep every byte")));
        assert_eq!(crc, crc32fast::hash(b"keep every byte"));
        assert_eq!(len, 15);
    }

    #[test]
    fn a_copy_says_which_side_failed() {
        let mut buf = [0u8; 8];
        let read = pump(&mut flaky(true), &mut buf, |_| Ok::<(), ()>(()));
        assert!(matches!(read, Err(Stop::Read(e)) if e.to_string() == "cut"));
        let mut pieces = 0;
        let refused = pump(&mut flaky(false), &mut buf, |_| {
            pieces += 1;
            if pieces == 2 { Err("full") } else { Ok(()) }
        });
        assert!(matches!(refused, Err(Stop::Sink("full"))));
        assert_eq!(pieces, 2, "nothing is read after the sink refuses");

        let mut out = Vec::new();
        let e = copy(
            &mut flaky(true),
            &mut out,
            8,
            Path::new("in.bin"),
            Path::new("out.zip"),
        )
        .expect_err("cut");
        assert_eq!(e.to_string(), "read in.bin: cut");
        assert_eq!(
            out, b"keep every byte",
            "what was read before the cut is kept"
        );
    }
}
