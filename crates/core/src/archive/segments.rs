//! Spool segments: the data a split archive sets aside, many entries to a
//! file, one after another, instead of a file for each.
//!
//! Creating and removing thousands of small files is what a split export
//! spent most of its system time on: on ext4 without a journal, each new
//! file searches past every inode freed in the last minutes (perf showed a
//! quarter of a split run's samples there when runs followed each other),
//! and every file system pays a create, an unlink and their metadata for
//! each. A segment is filled up to [`SEGMENT_BYTES`] and the next begun.
//! Once an entry is written into a part on disk its range is freed (a hole
//! punched, on Linux) and the segment removed with its last entry (see
//! [`Segment::release`]), so the disk holds little of the archive twice:
//! a segment's entries may go into different parts, written at different
//! times.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::CHUNK;
use super::partial::create_private;
use crate::fsx::{Stop, pump, read_each};
use crate::{Error, Result};

/// A segment takes entries until it holds this much; an entry larger than
/// that fills one alone. Small enough that a segment whose entries go into
/// different parts is not kept long; large enough that the `large` bench's
/// 2,000 files make some 120 segments.
pub(super) const SEGMENT_BYTES: u64 = 8 << 20;

/// A spool file holding the data of several entries: removed once the last
/// of them is released.
#[derive(Debug)]
pub(super) struct Segment {
    path: PathBuf,
    /// Entries whose data is here and not yet released.
    live: AtomicUsize,
}

impl Segment {
    /// A segment at `path` holding `live` entries.
    pub(super) fn new(path: PathBuf, live: usize) -> Arc<Self> {
        Arc::new(Self {
            path,
            live: AtomicUsize::new(live),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// One entry more.
    fn hold(&self) {
        self.live.fetch_add(1, Ordering::AcqRel);
    }

    /// The data of one entry, `len` bytes from `offset`, is needed no more
    /// (it is in a part on disk, or its entry is dropped): its space is
    /// given back where the system can, and the file goes with the last.
    pub(super) fn release(&self, offset: u64, len: u64) {
        self.release_all(vec![(offset, len)]);
    }

    /// [`Self::release`] for several entries at once, their ranges given
    /// back together: adjacent ones (entries set aside one after another,
    /// written into a part one after another) in one call, which counts
    /// where the segment's blocks are already on disk (a resumed run's
    /// spool) and freeing each costs the file system a change of its
    /// extents.
    pub(super) fn release_all(&self, mut ranges: Ranges) {
        if ranges.is_empty() {
            return;
        }
        if self.live.fetch_sub(ranges.len(), Ordering::AcqRel) == ranges.len() {
            crate::fsx::remove_or_log(&self.path, "a spool segment");
            return;
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (offset, len) in ranges {
            match merged.last_mut() {
                Some((start, l)) if *start + *l == offset => *l += len,
                _ => merged.push((offset, len)),
            }
        }
        if let Err(e) = free_ranges(&self.path, &merged) {
            // Only the disk's use until the segment goes.
            tracing::debug!(error = %e, path = %self.path.display(), "could not free a spooled range");
        }
    }
}

/// Gives back the space of `ranges` of the file at `path`, which then read
/// as zeros (its length unchanged).
#[cfg(target_os = "linux")]
fn free_ranges(path: &Path, ranges: &[(u64, u64)]) -> io::Result<()> {
    use rustix::fs::{FallocateFlags, fallocate};
    let file = fs_err::OpenOptions::new().write(true).open(path)?;
    for &(offset, len) in ranges.iter().filter(|(_, len)| *len > 0) {
        fallocate(
            &file,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            offset,
            len,
        )?;
    }
    Ok(())
}

/// Elsewhere a segment's space comes back when its last entry goes.
#[cfg(not(target_os = "linux"))]
fn free_ranges(_path: &Path, _ranges: &[(u64, u64)]) -> io::Result<()> {
    Ok(())
}

/// Ranges of a segment: offset and length of each.
pub(super) type Ranges = Vec<(u64, u64)>;

/// An entry's data, to be appended to a segment.
pub(super) enum Data<'a> {
    /// In memory.
    Bytes(&'a [u8]),
    /// To be read to its end (a temporary file).
    Reader(&'a mut dyn Read),
}

/// Where an entry's data went: its segment, where it starts, and the CRC-32
/// of the data as written (compressed or not).
pub(super) struct Placed {
    pub(super) segment: Arc<Segment>,
    pub(super) offset: u64,
    pub(super) stored_crc32: u32,
}

/// The segment being filled, and the numbers the next ones take.
#[derive(Debug)]
pub(super) struct Segments {
    dir: PathBuf,
    /// The number of the next file in the spool folder.
    next: usize,
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    file: fs_err::File,
    segment: Arc<Segment>,
    len: u64,
}

impl Segments {
    /// Segments in `dir`, numbered from `next` (past every file an old
    /// journal line names).
    pub(super) fn new(dir: &Path, next: usize) -> Self {
        Self {
            dir: dir.to_owned(),
            next,
            current: None,
        }
    }

    /// A path for a file of its own in the spool folder, numbered like the
    /// segments.
    pub(super) fn own_file(&mut self) -> PathBuf {
        let path = self.dir.join(format!("{:08}", self.next));
        self.next += 1;
        path
    }

    /// Appends `len` bytes of `data` to the segment being filled (begun
    /// when none is, or when the last is full). A failure leaves the
    /// segment as it was for the entries before.
    pub(super) fn append(&mut self, data: Data<'_>, len: u64, label: &str) -> Result<Placed> {
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.len >= SEGMENT_BYTES)
        {
            self.current = None;
        }
        if self.current.is_none() {
            let path = self.own_file();
            let file = create_private(&path)?;
            self.current = Some(Current {
                file,
                segment: Segment::new(path, 0),
                len: 0,
            });
        }
        let current = self.current.as_mut().expect("begun above");
        let offset = current.len;
        let path = current.segment.path().to_owned();
        let mut crc = crc32fast::Hasher::new();
        let written = match data {
            // Written as it is: no copy through a buffer.
            Data::Bytes(bytes) => {
                crc.update(bytes);
                current
                    .file
                    .write_all(bytes)
                    .map(|()| bytes.len() as u64)
                    .map_err(Stop::Sink)
            }
            Data::Reader(reader) => {
                let mut buf = vec![0; CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)).max(1)];
                pump(reader, &mut buf, |piece| {
                    crc.update(piece);
                    current.file.write_all(piece)
                })
            }
        };
        let failed = match written {
            Ok(n) if n == len => None,
            Ok(n) => Some(Error::Archive {
                path: PathBuf::from(label),
                detail: format!(
                    "{label} was left out: its data gave {n} bytes where {len} were expected"
                ),
            }),
            Err(Stop::Read(e)) => Some(Error::io("read", Path::new(label))(e)),
            Err(Stop::Sink(e)) => Some(Error::io("write", &path)(e)),
        };
        if let Some(e) = failed {
            // Later entries go to a new segment; this one's tail is junk
            // no line names.
            self.current = None;
            return Err(e);
        }
        current.len += len;
        current.segment.hold();
        Ok(Placed {
            segment: Arc::clone(&current.segment),
            offset,
            stored_crc32: crc.finalize(),
        })
    }
}

/// Reads `len` bytes of `path` from `offset`, through `each`.
pub(super) fn read_range(
    path: &Path,
    offset: u64,
    len: u64,
    mut each: impl FnMut(&[u8]),
) -> io::Result<u64> {
    let mut file = fs_err::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    read_each(&mut file.take(len), &mut vec![0; CHUNK], &mut each)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_share_a_segment_until_it_is_full_and_it_goes_with_the_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut segments = Segments::new(dir.path(), 3);
        let small = vec![7u8; 1000];
        let a = segments.append(Data::Bytes(&small), 1000, "a").expect("a");
        let b = segments
            .append(Data::Reader(&mut &small[..]), 1000, "b")
            .expect("b");
        assert_eq!(a.segment.path(), dir.path().join("00000003"));
        assert!(Arc::ptr_eq(&a.segment, &b.segment));
        assert_eq!((a.offset, b.offset), (0, 1000));
        assert_eq!(a.stored_crc32, crc32fast::hash(&small));
        let big = vec![1u8; SEGMENT_BYTES as usize];
        let c = segments
            .append(Data::Bytes(&big), SEGMENT_BYTES, "c")
            .expect("c");
        assert!(Arc::ptr_eq(&a.segment, &c.segment), "not full before it");
        let d = segments.append(Data::Bytes(&small), 1000, "d").expect("d");
        assert_eq!(d.segment.path(), dir.path().join("00000004"));
        assert_eq!(segments.own_file(), dir.path().join("00000005"));

        let mut got = Vec::new();
        let n =
            read_range(a.segment.path(), 1000, 1000, |p| got.extend_from_slice(p)).expect("read");
        assert_eq!((n, got), (1000, small.clone()));

        // Given back together, out of order: one range, 0..2000.
        a.segment
            .release_all(vec![(b.offset, 1000), (a.offset, 1000)]);
        assert!(a.segment.path().exists(), "c is still in it");
        #[cfg(target_os = "linux")]
        {
            let mut freed = Vec::new();
            read_range(a.segment.path(), 0, 2000, |p| freed.extend_from_slice(p)).expect("read");
            assert_eq!(freed, vec![0u8; 2000], "a's and b's space given back");
            let mut kept = Vec::new();
            read_range(a.segment.path(), c.offset, 4096, |p| {
                kept.extend_from_slice(p)
            })
            .expect("read");
            assert_eq!(kept, vec![1u8; 4096], "c's data as it was");
        }
        c.segment.release_all(vec![(c.offset, SEGMENT_BYTES)]);
        assert!(!a.segment.path().exists(), "gone with its last entry");
        assert!(d.segment.path().exists());
        d.segment.release(d.offset, 1000);
        assert!(!d.segment.path().exists(), "one entry alone, released");
    }

    #[test]
    fn data_shorter_than_said_is_refused_and_the_next_entry_starts_afresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut segments = Segments::new(dir.path(), 0);
        let a = segments
            .append(Data::Bytes(&[1u8; 10]), 10, "a")
            .expect("a");
        let err = segments
            .append(Data::Reader(&mut &[2u8; 5][..]), 10, "short")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("5 bytes where 10"), "{err}");
        let b = segments
            .append(Data::Bytes(&[3u8; 10]), 10, "b")
            .expect("b");
        assert!(!Arc::ptr_eq(&a.segment, &b.segment));
        assert_eq!(b.offset, 0);
    }
}
