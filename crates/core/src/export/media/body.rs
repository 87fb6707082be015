//! Where a download's bytes go while it is checked: memory for a small
//! file, or a `.part` file in the staging folder that a later attempt (or
//! run) resumes from, its prefix hashed once.

use std::io::Write;
use std::path::PathBuf;

use crate::fsx::{Digests, read_each};

use super::super::staging::open_private;
use crate::{Error, Result};

/// Where a download's bytes go.
pub(super) trait Body: Send {
    /// What an earlier attempt kept, hashed, to resume from; a body as long
    /// as the whole file or longer (when its size is known) is started
    /// over.
    fn resume_from(&mut self, size: Option<u64>) -> Result<Digests>;
    fn put(&mut self, chunk: &[u8]) -> Result<()>;
    /// Makes what arrived so far last until the next attempt.
    fn keep(&mut self) -> Result<()>;
    /// Throws away what arrived.
    fn discard(&mut self) -> Result<()>;
}

/// A download held in memory, copied out of the connection's buffers so
/// it holds no more than its own size.
impl Body for Vec<u8> {
    fn resume_from(&mut self, size: Option<u64>) -> Result<Digests> {
        if size.is_some_and(|size| self.len() as u64 >= size) {
            self.clear();
        }
        let mut digests = Digests::default();
        digests.update(self);
        Ok(digests)
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

/// A download into `{slug}.part` in the staging folder.
pub(super) struct StagedBody {
    pub(super) part: PathBuf,
    pub(super) file: Option<std::io::BufWriter<std::fs::File>>,
}

impl Body for StagedBody {
    fn resume_from(&mut self, size: Option<u64>) -> Result<Digests> {
        self.file = None;
        let have = fs_err::metadata(&self.part).map(|m| m.len()).unwrap_or(0);
        if have > 0 && size.is_some_and(|size| have >= size) {
            fs_err::remove_file(&self.part).map_err(Error::io("remove", &self.part))?;
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
        match fs_err::remove_file(&self.part) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("remove", &self.part)(e))
            }
            _ => Ok(()),
        }
    }
}

fn hash_prefix(path: &std::path::Path) -> Result<Digests> {
    let mut digests = Digests::default();
    let mut f = match fs_err::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(digests),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    let mut buf = vec![0u8; 256 * 1024];
    read_each(&mut f, &mut buf, |piece| digests.update(piece)).map_err(Error::io("read", path))?;
    Ok(digests)
}
