//! The life of an archive's `.partial` file: where it is, its lock against
//! a second writer, removing a stale one, and publishing it under its final
//! name (never over a file that took that name) with its folder synced.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::writer::FinishedArchive;
use crate::{Error, Result};

/// Where the archive for `final_path` is written until it is complete:
/// `final_path` with `.partial` appended.
pub fn partial_path_for(final_path: &Path) -> PathBuf {
    let mut name = OsString::from(final_path.as_os_str());
    name.push(".partial");
    PathBuf::from(name)
}

/// A `.partial` file another live writer holds (its lock is taken).
pub(super) fn busy(partial: &Path) -> Error {
    Error::Invalid(format!(
        "{} is being written by another Keepsake export right now; wait for it to finish, or choose another output file",
        partial.display()
    ))
}

/// Locks the `.partial` file against a second writer, where the file
/// system can.
pub(super) fn lock(file: &fs_err::File, partial_path: &Path) -> Result<()> {
    match file.file().try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(busy(partial_path)),
        // A file system without locks: carry on unprotected.
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::debug!(path = %partial_path.display(), error = %e, "cannot lock the partial archive");
            Ok(())
        }
    }
}

/// A bag complete and on disk under its `.partial` name; see
/// [`ArchiveWriter::seal`].
#[derive(Debug)]
pub struct SealedArchive {
    /// Open (and locked) until published or closed.
    pub(super) file: Option<fs_err::File>,
    pub(super) partial: PathBuf,
    pub(super) archive: FinishedArchive,
}

impl SealedArchive {
    /// What the archive will be once published.
    pub fn archive(&self) -> &FinishedArchive {
        &self.archive
    }

    /// Closes the file (ending its lock against a second writer) before it
    /// is published: for callers that hold many sealed archives at once.
    pub fn close(&mut self) {
        self.file = None;
    }

    /// Gives the archive its final name without ever replacing a file that
    /// took that name meanwhile, and syncs the folder.
    pub fn publish(self) -> Result<FinishedArchive> {
        publish(&self.partial, &self.archive.path)?;
        drop(self.file);
        sync_parent(&self.archive.path);
        Ok(self.archive)
    }
}

/// Removes a `.partial` file left by an earlier run, unless a live writer
/// holds it.
pub(super) fn remove_stale_partial(partial: &Path) -> Result<()> {
    match fs_err::File::open(partial) {
        Ok(stale) => {
            if let Err(std::fs::TryLockError::WouldBlock) = stale.try_lock() {
                return Err(busy(partial));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        // Unreadable: try to remove it all the same.
        Err(_) => {}
    }
    super::journal::Journal::remove(partial);
    match fs_err::remove_file(partial) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove the unfinished archive", partial)(e)),
    }
}

/// Removes the unfinished archive that would become `final_path` and its
/// journal, unless a live writer holds it; for when its export is given up.
pub fn remove_partial(final_path: &Path) {
    if let Err(e) = remove_stale_partial(&partial_path_for(final_path)) {
        tracing::warn!(error = %e, "could not remove an unfinished archive");
    }
}

/// A new file readable and writable by its owner only.
pub(super) fn create_private(path: &Path) -> Result<fs_err::File> {
    crate::fsx::private_file()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(Error::io("create", path))
}

/// Gives the finished archive its final name without ever replacing a file
/// that took that name meanwhile.
fn publish(partial: &Path, final_path: &Path) -> Result<()> {
    let taken = || {
        Error::Invalid(format!(
            "{} appeared while the archive was being written and Keepsake never overwrites an archive; the new archive is complete in {}: rename it yourself",
            final_path.display(),
            partial.display()
        ))
    };
    // A hard link fails when the target exists, where a rename would replace it.
    match fs_err::hard_link(partial, final_path) {
        Ok(()) => {
            if let Err(e) = fs_err::remove_file(partial) {
                // The archive is complete under its final name; the next
                // export to it removes the leftover.
                tracing::warn!(path = %partial.display(), error = %e, "could not remove the partial archive");
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(taken()),
        // A file system without hard links (FAT, some network shares).
        Err(_) => {
            match fs_err::symlink_metadata(final_path) {
                Ok(_) => return Err(taken()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("check", final_path)(e)),
            }
            fs_err::rename(partial, final_path).map_err(Error::io("rename", partial))
        }
    }
}

/// Makes the rename durable. A failure is only logged: the archive is
/// complete and synced; only its name might not survive a power cut.
fn sync_parent(path: &Path) {
    if let Err(e) = crate::fsx::sync_dir(crate::fsx::parent_of(path)) {
        tracing::warn!(error = %e, "could not sync the archive's folder");
    }
}
