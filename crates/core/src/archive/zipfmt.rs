//! The zip records the archive writer emits (APPNOTE 6.3.10), written by
//! hand so that the writer never seeks: every entry is compressed before its
//! local header is written, so the header already holds the CRC and sizes.
//! That is what lets entries be compressed on other threads, the archive be
//! hashed as it is written, and an interrupted archive be continued from its
//! last complete entry. Reading stays with the `zip` crate.

use std::io::{self, Write};

/// A local file header without its name and extra field.
pub(super) const LOCAL_HEADER_LEN: u64 = 30;
/// A central directory record without its name and extra field.
pub(super) const CENTRAL_HEADER_LEN: u64 = 46;

/// Where a size or offset needs the ZIP64 extra field.
pub(super) const ZIP32_MAX: u64 = 0xFFFF_FFFF;
/// Where the entry count needs the ZIP64 end records.
const ENTRIES16_MAX: u64 = 0xFFFF;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EXTRA_ID: u16 = 0x0001;

/// Names are UTF-8 (general purpose flag bit 11).
const FLAG_UTF8: u16 = 1 << 11;
/// 2.0: DEFLATE; 4.5: ZIP64.
const VERSION_DEFLATE: u16 = 20;
const VERSION_ZIP64: u16 = 45;
/// Made by: Unix (3), so extractors apply the entry mode.
const MADE_BY_UNIX: u16 = 3 << 8;
/// A regular file, readable and writable by its owner only: entries are
/// personal data.
const EXTERNAL_ATTRS: u32 = (0o100_600) << 16;

/// How an entry's data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Self::Stored => 0,
            Self::Deflated => 8,
        }
    }
}

/// What the central directory needs to know of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub name: String,
    pub method: Method,
    pub crc32: u32,
    /// Uncompressed length.
    pub len: u64,
    /// Length of the data as stored.
    pub compressed_len: u64,
    /// Where its local header starts.
    pub offset: u64,
}

impl Entry {
    fn zip64_sizes(&self) -> bool {
        self.len >= ZIP32_MAX || self.compressed_len >= ZIP32_MAX
    }

    /// Bytes of the local header, before the data.
    pub fn local_header_len(&self) -> u64 {
        LOCAL_HEADER_LEN + self.name.len() as u64 + if self.zip64_sizes() { 20 } else { 0 }
    }
}

/// The MS-DOS time and date every entry carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DosTime {
    pub time: u16,
    pub date: u16,
}

impl DosTime {
    /// `t` in its own offset; 1980-01-01 00:00 when out of the zip range.
    pub fn from(t: time::OffsetDateTime) -> Self {
        let year = t.year();
        if !(1980..=2107).contains(&year) {
            return Self {
                time: 0,
                date: (1 << 5) | 1,
            };
        }
        Self {
            time: (u16::from(t.hour()) << 11)
                | (u16::from(t.minute()) << 5)
                | (u16::from(t.second()) / 2),
            date: (((year - 1980) as u16) << 9)
                | (u16::from(u8::from(t.month())) << 5)
                | u16::from(t.day()),
        }
    }
}

/// The local header of `e`.
pub(super) fn local_header(e: &Entry, when: DosTime) -> Vec<u8> {
    let zip64 = e.zip64_sizes();
    let mut h = Vec::with_capacity(e.local_header_len() as usize);
    put32(&mut h, LOCAL_SIG);
    put16(
        &mut h,
        if zip64 {
            VERSION_ZIP64
        } else {
            VERSION_DEFLATE
        },
    );
    put16(&mut h, FLAG_UTF8);
    put16(&mut h, e.method.code());
    put16(&mut h, when.time);
    put16(&mut h, when.date);
    put32(&mut h, e.crc32);
    if zip64 {
        put32(&mut h, u32::MAX);
        put32(&mut h, u32::MAX);
    } else {
        put32(&mut h, e.compressed_len as u32);
        put32(&mut h, e.len as u32);
    }
    put16(&mut h, e.name.len() as u16);
    put16(&mut h, if zip64 { 20 } else { 0 });
    h.extend_from_slice(e.name.as_bytes());
    if zip64 {
        put16(&mut h, ZIP64_EXTRA_ID);
        put16(&mut h, 16);
        put64(&mut h, e.len);
        put64(&mut h, e.compressed_len);
    }
    h
}

/// Writes the central directory of `entries`, starting at `offset`, and the
/// end records (ZIP64 ones when the count, size or offset need them).
pub(super) fn central_directory(
    out: &mut dyn Write,
    entries: &[Entry],
    offset: u64,
    when: DosTime,
) -> io::Result<()> {
    let mut size = 0u64;
    let mut h = Vec::with_capacity(256);
    for e in entries {
        h.clear();
        let mut extra = Vec::new();
        let big_len = e.len >= ZIP32_MAX;
        let big_clen = e.compressed_len >= ZIP32_MAX;
        let big_offset = e.offset >= ZIP32_MAX;
        if big_len {
            put64(&mut extra, e.len);
        }
        if big_clen {
            put64(&mut extra, e.compressed_len);
        }
        if big_offset {
            put64(&mut extra, e.offset);
        }
        let zip64 = !extra.is_empty();
        let version = if zip64 {
            VERSION_ZIP64
        } else {
            VERSION_DEFLATE
        };
        put32(&mut h, CENTRAL_SIG);
        put16(&mut h, MADE_BY_UNIX | VERSION_ZIP64);
        put16(&mut h, version);
        put16(&mut h, FLAG_UTF8);
        put16(&mut h, e.method.code());
        put16(&mut h, when.time);
        put16(&mut h, when.date);
        put32(&mut h, e.crc32);
        put32(&mut h, saturate32(e.compressed_len));
        put32(&mut h, saturate32(e.len));
        put16(&mut h, e.name.len() as u16);
        put16(&mut h, if zip64 { 4 + extra.len() as u16 } else { 0 });
        put16(&mut h, 0); // comment
        put16(&mut h, 0); // disk
        put16(&mut h, 0); // internal attributes
        put32(&mut h, EXTERNAL_ATTRS);
        put32(&mut h, saturate32(e.offset));
        h.extend_from_slice(e.name.as_bytes());
        if zip64 {
            put16(&mut h, ZIP64_EXTRA_ID);
            put16(&mut h, extra.len() as u16);
            h.extend_from_slice(&extra);
        }
        out.write_all(&h)?;
        size += h.len() as u64;
    }
    let count = entries.len() as u64;
    let end_offset = offset + size;
    h.clear();
    if count >= ENTRIES16_MAX || size >= ZIP32_MAX || offset >= ZIP32_MAX {
        put32(&mut h, ZIP64_EOCD_SIG);
        put64(&mut h, 44);
        put16(&mut h, MADE_BY_UNIX | VERSION_ZIP64);
        put16(&mut h, VERSION_ZIP64);
        put32(&mut h, 0);
        put32(&mut h, 0);
        put64(&mut h, count);
        put64(&mut h, count);
        put64(&mut h, size);
        put64(&mut h, offset);
        put32(&mut h, ZIP64_LOCATOR_SIG);
        put32(&mut h, 0);
        put64(&mut h, end_offset);
        put32(&mut h, 1);
    }
    put32(&mut h, EOCD_SIG);
    put16(&mut h, 0);
    put16(&mut h, 0);
    put16(&mut h, count.min(ENTRIES16_MAX) as u16);
    put16(&mut h, count.min(ENTRIES16_MAX) as u16);
    put32(&mut h, saturate32(size));
    put32(&mut h, saturate32(offset));
    put16(&mut h, 0);
    out.write_all(&h)
}

fn saturate32(n: u64) -> u32 {
    n.min(ZIP32_MAX) as u32
}

fn put16(v: &mut Vec<u8>, n: u16) {
    v.extend_from_slice(&n.to_le_bytes());
}

fn put32(v: &mut Vec<u8>, n: u32) {
    v.extend_from_slice(&n.to_le_bytes());
}

fn put64(v: &mut Vec<u8>, n: u64) {
    v.extend_from_slice(&n.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times_pack_the_fields() {
        let t = time::macros::datetime!(2026-11-26 13:45:31 UTC);
        let d = DosTime::from(t);
        assert_eq!(d.time, (13 << 11) | (45 << 5) | 15);
        assert_eq!(d.date, (46 << 9) | (11 << 5) | 26);
        let old = DosTime::from(time::macros::datetime!(1970-01-01 0:00 UTC));
        assert_eq!((old.time, old.date), (0, 33));
    }

    #[test]
    fn large_sizes_move_to_the_zip64_extra_field() {
        let e = Entry {
            name: "data/big".into(),
            method: Method::Stored,
            crc32: 7,
            len: 5 << 30,
            compressed_len: 5 << 30,
            offset: 0,
        };
        let h = local_header(&e, DosTime { time: 0, date: 33 });
        assert_eq!(h.len() as u64, e.local_header_len());
        assert_eq!(&h[18..26], &[0xFF; 8], "sizes saturated");
        assert_eq!(
            u64::from_le_bytes(
                h[h.len() - 16..h.len() - 8]
                    .try_into()
                    .expect("eight bytes")
            ),
            5 << 30
        );
    }
}
