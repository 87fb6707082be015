//! An entry made ready for the zip: read once, hashed (SHA-256 for the
//! manifest, CRC-32 for the zip) and compressed, before the archive writer
//! sees it. Preparing is the expensive part of writing an entry and needs no
//! access to the archive, so any number of threads can prepare entries while
//! one writer appends them ([`super::ArchiveWriter::add_prepared`]).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::CHUNK;
use super::segments::{Data, Placed, Segment, Segments};
use super::zipfmt::Method;
use crate::fsx::{Digests, Stop, pump};
use crate::{Error, Result};
use flate2::Compression;
use flate2::write::DeflateEncoder;

/// Deflate level for text. Level 3 keeps most of level 6's ratio on JSON
/// and text at well under half its CPU time, and compression is the
/// critical path of an export (docs/benchmarks.md).
pub(crate) const DEFLATE_LEVEL: u32 = 3;

/// Compressed data up to this size stays in memory; more goes to an
/// unnamed temporary file, so memory stays flat whatever the entry's size.
/// Small, as an export prepares a dozen text entries at once while their
/// categories arrive.
const MEMORY_SPOOL: usize = 256 << 10;

/// An entry ready to be appended to an archive.
#[derive(Debug)]
pub struct Prepared {
    pub(super) method: Method,
    pub(super) sha256: [u8; 32],
    pub(super) crc32: u32,
    /// Uncompressed length.
    pub(super) len: u64,
    /// Length of the data as it goes into the zip.
    pub(super) compressed_len: u64,
    pub(super) data: Spool,
}

impl Prepared {
    /// SHA-256 of the content.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Length of the content.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// A file to be stored as it is, whose length, SHA-256 and CRC-32 are
    /// already known (a download verified as it arrived): nothing is read
    /// now, and the copy into the archive is checked against `crc32` and
    /// `len`, so a file that changed since is left out rather than
    /// archived under a wrong hash.
    pub fn verified_file(src: PathBuf, len: u64, sha256: [u8; 32], crc32: u32) -> Self {
        Self {
            method: Method::Stored,
            sha256,
            crc32,
            len,
            compressed_len: len,
            data: Spool::Source(src),
        }
    }

    /// Bytes in memory to be stored as they are, whose SHA-256 and CRC-32
    /// are already known (a download verified as it arrived, never written
    /// to disk on its way into the archive).
    pub fn verified_bytes(bytes: Vec<u8>, sha256: [u8; 32], crc32: u32) -> Self {
        let len = bytes.len() as u64;
        Self {
            method: Method::Stored,
            sha256,
            crc32,
            len,
            compressed_len: len,
            data: Spool::Memory(bytes),
        }
    }

    /// The file the entry's data is read from when it is written, where
    /// that is its source as it is (a stored download); `None` where the
    /// data was copied (compressed, spooled or in memory).
    pub fn source_file(&self) -> Option<&Path> {
        match &self.data {
            Spool::Source(src) => Some(src),
            Spool::Memory(_) | Spool::Temp(_) | Spool::Range(..) => None,
        }
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry with its data in a file, to be written later and as often
    /// as needed (a split archive's entries wait for the parts to be laid
    /// out): a stored entry's own source file as it is, other data
    /// appended to a spool segment (with the CRC-32 of the data as written
    /// there).
    pub(super) fn kept_in(
        self,
        segments: &mut Segments,
        label: &str,
    ) -> Result<(Kept, Option<u32>)> {
        let in_segment = |p: Placed| {
            let file = p.segment.path().to_owned();
            (file, p.offset, Some(p.segment), Some(p.stored_crc32))
        };
        let len = self.compressed_len;
        let (file, offset, segment, stored_crc32) = match self.data {
            Spool::Source(src) => (src, 0, None, None),
            Spool::Range(..) => {
                return Err(Error::Invalid(format!(
                    "internal error: {label} was set aside twice"
                )));
            }
            Spool::Memory(bytes) => in_segment(segments.append(Data::Bytes(&bytes), len, label)?),
            Spool::Temp(mut temp) => {
                in_segment(segments.append(Data::Reader(&mut temp), len, label)?)
            }
        };
        let kept = Kept {
            method: self.method,
            sha256: self.sha256,
            crc32: self.crc32,
            len: self.len,
            compressed_len: self.compressed_len,
            file,
            offset,
            segment,
            disposable: false,
        };
        Ok((kept, stored_crc32))
    }
}

/// A prepared entry whose data is in a file (see [`Prepared::kept_in`]):
/// its size in the zip is known exactly.
#[derive(Debug, Clone)]
pub(super) struct Kept {
    pub(super) method: Method,
    pub(super) sha256: [u8; 32],
    pub(super) crc32: u32,
    pub(super) len: u64,
    pub(super) compressed_len: u64,
    pub(super) file: PathBuf,
    /// Where the data starts in `file`.
    pub(super) offset: u64,
    /// The spool segment `file` is, shared with other entries; `None` for
    /// a file of the entry's own.
    pub(super) segment: Option<Arc<Segment>>,
    /// The file of its own may be removed once the entry is written for
    /// good (a segment is released instead).
    pub(super) disposable: bool,
}

impl Kept {
    /// The entry, ready to be written: its data read from the file again
    /// and checked against its length (and a stored one's CRC).
    pub(super) fn prepared(&self) -> Prepared {
        let data = match &self.segment {
            Some(_) => Spool::Range(self.file.clone(), self.offset),
            None => Spool::Source(self.file.clone()),
        };
        Prepared {
            method: self.method,
            sha256: self.sha256,
            crc32: self.crc32,
            len: self.len,
            compressed_len: self.compressed_len,
            data,
        }
    }

    /// What to do once the entry is in a part on disk: release its
    /// segment, or remove its own file if that is the entry's alone.
    pub(super) fn disposal(&self) -> Option<Disposal> {
        match &self.segment {
            Some(segment) => Some(Disposal::Release(
                Arc::clone(segment),
                self.offset,
                self.compressed_len,
            )),
            None if self.disposable => Some(Disposal::Remove(self.file.clone())),
            None => None,
        }
    }
}

/// Data kept for an entry that is needed no more once the entry is in a
/// part on disk.
#[derive(Debug)]
pub(super) enum Disposal {
    /// A file of its own.
    Remove(PathBuf),
    /// Its range of a segment: offset and length.
    Release(Arc<Segment>, u64, u64),
}

impl Disposal {
    pub(super) fn run(&self) {
        match self {
            Self::Remove(file) => crate::fsx::remove_or_log(file, "a file already in a part"),
            Self::Release(segment, offset, len) => segment.release(*offset, *len),
        }
    }
}

/// Where the data of a prepared entry is until it is written.
#[derive(Debug)]
pub(super) enum Spool {
    Memory(Vec<u8>),
    /// An unnamed temporary file, gone when closed.
    Temp(File),
    /// A stored entry's source file, read again when written (and checked
    /// against the CRC taken when prepared).
    Source(PathBuf),
    /// Data in a spool segment from this offset, read again when written
    /// (and checked against its length, and a stored entry's CRC).
    Range(PathBuf, u64),
}

/// Prepares `reader`'s content: deflated (level [`DEFLATE_LEVEL`]) when
/// `compress`, stored otherwise. With `expected_len`, a source of another
/// length is an error. Large data is spooled to an unnamed file in
/// `spool_dir`; `label` names the entry in errors.
pub fn prepare_reader(
    reader: &mut dyn Read,
    expected_len: Option<u64>,
    compress: bool,
    spool_dir: &Path,
    label: &str,
) -> Result<Prepared> {
    let spool = SpoolWriter::new(spool_dir);
    let mut summer = Summer::new(expected_len, label);
    let (spool, method) = if compress {
        let mut enc = DeflateEncoder::new(spool, Compression::new(DEFLATE_LEVEL));
        summer.pump(reader, &mut enc)?;
        let spool = enc.finish().map_err(spool_error(spool_dir))?;
        (spool, Method::Deflated)
    } else {
        let mut spool = spool;
        summer.pump(reader, &mut spool)?;
        (spool, Method::Stored)
    };
    let (data, compressed_len) = spool.finish().map_err(spool_error(spool_dir))?;
    Ok(summer.done(method, data, compressed_len))
}

/// An entry prepared as its content is written to it, deflated: for
/// content made a piece at a time, such as the forms of a category, all
/// made from one reading of its records.
pub struct Deflating {
    digests: Digests,
    enc: DeflateEncoder<SpoolWriter>,
}

impl Deflating {
    /// Large data is spooled to an unnamed file in `spool_dir`.
    pub fn new(spool_dir: &Path) -> Self {
        Self {
            digests: Digests::default(),
            enc: DeflateEncoder::new(SpoolWriter::new(spool_dir), Compression::new(DEFLATE_LEVEL)),
        }
    }

    /// The entry, once all its content was written.
    pub fn finish(self) -> Result<Prepared> {
        let dir = self.enc.get_ref().dir.clone();
        let (data, compressed_len) = self
            .enc
            .finish()
            .and_then(SpoolWriter::finish)
            .map_err(spool_error(&dir))?;
        let (sha256, crc32, len) = self.digests.finish();
        Ok(Prepared {
            method: Method::Deflated,
            sha256,
            crc32,
            len,
            compressed_len,
            data,
        })
    }
}

impl Write for Deflating {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.enc.write_all(buf)?;
        self.digests.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Prepares bytes in memory whose SHA-256 and CRC-32 are already known (a
/// text file verified as it downloaded), deflated: they are not hashed
/// again.
pub fn prepare_verified_text(
    bytes: &[u8],
    sha256: [u8; 32],
    crc32: u32,
    spool_dir: &Path,
) -> Result<Prepared> {
    let mut enc = DeflateEncoder::new(SpoolWriter::new(spool_dir), Compression::new(DEFLATE_LEVEL));
    enc.write_all(bytes).map_err(spool_error(spool_dir))?;
    let (data, compressed_len) = enc
        .finish()
        .and_then(SpoolWriter::finish)
        .map_err(spool_error(spool_dir))?;
    Ok(Prepared {
        method: Method::Deflated,
        sha256,
        crc32,
        len: bytes.len() as u64,
        compressed_len,
        data,
    })
}

/// Prepares the file `src`: deflated when `compress`; stored ones are not
/// copied but read again from `src` when written.
pub fn prepare_file(src: &Path, compress: bool, spool_dir: &Path) -> Result<Prepared> {
    let mut file = fs_err::File::open(src).map_err(Error::io("open", src))?;
    let len = file.metadata().map_err(Error::io("read", src))?.len();
    let label = src.display().to_string();
    if compress {
        return prepare_reader(&mut file, Some(len), true, spool_dir, &label);
    }
    let mut summer = Summer::new(Some(len), &label);
    summer.pump(&mut file, &mut io::sink())?;
    Ok(summer.done(Method::Stored, Spool::Source(src.to_owned()), len))
}

fn spool_error(dir: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io("write a temporary file in", dir)(e)
}

/// Hashes, counts and checks the length of what passes through.
struct Summer<'a> {
    digests: Digests,
    expected: Option<u64>,
    label: &'a str,
}

impl<'a> Summer<'a> {
    fn new(expected: Option<u64>, label: &'a str) -> Self {
        Self {
            digests: Digests::default(),
            expected,
            label,
        }
    }

    fn pump(&mut self, reader: &mut dyn Read, out: &mut dyn Write) -> Result<()> {
        let mut buf = vec![0; CHUNK];
        let (digests, expected, label) = (&mut self.digests, self.expected, self.label);
        pump(reader, &mut buf, |piece| {
            let len = digests.len() + piece.len() as u64;
            if expected.is_some_and(|expected| len > expected) {
                return Err(Err(len));
            }
            digests.update(piece);
            out.write_all(piece).map_err(Ok)
        })
        .map_err(|stop| match stop {
            Stop::Read(e) => Error::io("read", Path::new(label))(e),
            Stop::Sink(Ok(e)) => Error::io("write a temporary file for", Path::new(label))(e),
            // The source gave more than expected: `len` so far.
            Stop::Sink(Err(len)) => self.wrong_length(format!("more than {len}")),
        })?;
        if let Some(len) = self.expected
            && len != self.digests.len()
        {
            return Err(self.wrong_length(self.digests.len().to_string()));
        }
        Ok(())
    }

    fn wrong_length(&self, got: String) -> Error {
        Error::Archive {
            path: PathBuf::from(self.label),
            detail: format!(
                "{} was left out: its source gave {got} bytes where {} were expected (did it change while being archived?)",
                self.label,
                self.expected.unwrap_or_default()
            ),
        }
    }

    fn done(self, method: Method, data: Spool, compressed_len: u64) -> Prepared {
        let (sha256, crc32, len) = self.digests.finish();
        Prepared {
            method,
            sha256,
            crc32,
            len,
            compressed_len,
            data,
        }
    }
}

/// Collects compressed data in memory, moving to a temporary file past
/// [`MEMORY_SPOOL`].
struct SpoolWriter {
    dir: PathBuf,
    mem: Vec<u8>,
    file: Option<io::BufWriter<File>>,
    len: u64,
}

impl SpoolWriter {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            mem: Vec::new(),
            file: None,
            len: 0,
        }
    }

    fn finish(self) -> io::Result<(Spool, u64)> {
        match self.file {
            None => Ok((Spool::Memory(self.mem), self.len)),
            Some(w) => {
                let mut file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
                file.seek(SeekFrom::Start(0))?;
                Ok((Spool::Temp(file), self.len))
            }
        }
    }
}

impl Write for SpoolWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.file.is_none() && self.mem.len() + buf.len() > MEMORY_SPOOL {
            let mut file = io::BufWriter::with_capacity(CHUNK, tempfile::tempfile_in(&self.dir)?);
            file.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.file = Some(file);
        }
        match &mut self.file {
            Some(f) => f.write_all(buf)?,
            None => self.mem.extend_from_slice(buf),
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn large_output_moves_to_a_temporary_file() {
        let dir = tempfile::tempdir().expect("dir");
        let text: Vec<u8> = (0..3_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let p = prepare_reader(
            &mut &text[..],
            Some(text.len() as u64),
            false,
            dir.path(),
            "t",
        )
        .expect("prepare");
        assert!(matches!(p.data, Spool::Temp(_)));
        assert_eq!(p.compressed_len, text.len() as u64);
        assert_eq!(p.crc32, crc32fast::hash(&text));
        assert_eq!(
            fs_err::read_dir(dir.path()).expect("list").count(),
            0,
            "unnamed"
        );
    }

    #[test]
    fn content_written_piece_by_piece_is_prepared_as_if_read_whole() {
        let dir = tempfile::tempdir().expect("dir");
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{{\"id\":{i}}}\n").into_bytes())
            .collect();
        let whole = prepare_reader(&mut &text[..], None, true, dir.path(), "t").expect("read");
        let mut deflating = Deflating::new(dir.path());
        for piece in text.chunks(333) {
            deflating.write_all(piece).expect("write");
        }
        let pieces = deflating.finish().expect("finish");
        assert_eq!(
            (pieces.sha256, pieces.crc32, pieces.len, pieces.method),
            (whole.sha256, whole.crc32, whole.len, whole.method)
        );
        assert!(
            matches!(pieces.data, Spool::Temp(_)),
            "large: spooled to a file"
        );
        let mut inflated = Vec::new();
        let mut data = Vec::new();
        let Spool::Temp(mut f) = pieces.data else {
            unreachable!()
        };
        f.read_to_end(&mut data).expect("spool");
        assert_eq!(data.len() as u64, pieces.compressed_len);
        flate2::read::DeflateDecoder::new(&data[..])
            .read_to_end(&mut inflated)
            .expect("inflate");
        assert!(inflated == text, "the same content back");
    }

    #[test]
    fn a_wrong_length_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        for expected in [3, 10] {
            let err = prepare_reader(&mut &b"hello"[..], Some(expected), true, dir.path(), "x")
                .expect_err("wrong length");
            assert!(err.to_string().contains("left out"), "{err}");
        }
    }

    #[test]
    fn verified_text_is_deflated_with_the_hashes_it_came_with() {
        let dir = tempfile::tempdir().expect("dir");
        let text = "a line of plain text that repeats\n".repeat(4000);
        let (sha, crc) = (
            Sha256::digest(text.as_bytes()).into(),
            crc32fast::hash(text.as_bytes()),
        );
        let known = prepare_verified_text(text.as_bytes(), sha, crc, dir.path()).expect("prepare");
        let measured =
            prepare_reader(&mut text.as_bytes(), None, true, dir.path(), "t").expect("prepare");
        assert_eq!(
            (known.sha256, known.crc32, known.len),
            (measured.sha256, measured.crc32, measured.len)
        );
        assert_eq!(known.compressed_len, measured.compressed_len);
        assert!(known.compressed_len < known.len / 10, "deflated");
        let Spool::Memory(deflated) = known.data else {
            panic!("small output stays in memory");
        };
        let mut back = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut back)
            .expect("inflate");
        assert_eq!(back, text);
    }
}
