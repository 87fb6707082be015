//! File-system habits shared across the engine: what only the account's
//! owner may read (staging, archives being written, the audit log,
//! credentials kept in a file), and making a rename durable.

use std::io::Write as _;
use std::path::Path;

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
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path).map_err(Error::io("create folder", path))
}

/// Replaces `path` with `bytes` so that a crash leaves the old file or the
/// new one: written to `tmp` beside it (private) and synced, renamed over
/// it, the folder synced.
pub(crate) fn replace_private(path: &Path, tmp: &Path, bytes: &[u8]) -> Result<()> {
    let mut out = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(Error::io("create", tmp))?;
    out.write_all(bytes)
        .and_then(|()| out.sync_all())
        .map_err(Error::io("write", tmp))?;
    drop(out);
    fs_err::rename(tmp, path).map_err(Error::io("replace", path))?;
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
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
