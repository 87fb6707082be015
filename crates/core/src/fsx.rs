//! File-system habits shared across the engine.

use std::path::Path;

use crate::{Error, Result};

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
