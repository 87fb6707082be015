//! Readers that make their output a piece at a time (a JSON record, a CSV
//! row, a viewer statement) and hand out as much of it per `read` as the
//! caller's buffer holds: one piece a call would give the compressor a few
//! hundred bytes at a time.

use std::io;

/// A reader's pieces: the one made so far, how much of it was read, and how
/// to make the next.
pub(crate) trait Pieces {
    /// The current piece, and how far it was read.
    fn piece(&mut self) -> (&[u8], &mut usize);
    /// Whether the last piece was made.
    fn ended(&self) -> bool;
    /// Replaces the current piece with the next (possibly empty) one.
    fn next_piece(&mut self) -> io::Result<()>;
}

/// `Read::read` over pieces: fills `buf` until it is full or the pieces end.
pub(crate) fn read(p: &mut impl Pieces, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let (piece, pos) = p.piece();
        if *pos >= piece.len() {
            if p.ended() {
                break;
            }
            p.next_piece()?;
            continue;
        }
        let k = (piece.len() - *pos).min(buf.len() - n);
        buf[n..n + k].copy_from_slice(&piece[*pos..*pos + k]);
        *pos += k;
        n += k;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Pieces from a list (empty ones included), read through `Read`.
    struct List {
        rest: std::vec::IntoIter<&'static str>,
        out: Vec<u8>,
        pos: usize,
        ended: bool,
    }

    impl Pieces for List {
        fn piece(&mut self) -> (&[u8], &mut usize) {
            (&self.out, &mut self.pos)
        }
        fn ended(&self) -> bool {
            self.ended
        }
        fn next_piece(&mut self) -> io::Result<()> {
            self.out.clear();
            self.pos = 0;
            match self.rest.next() {
                Some(p) => self.out.extend_from_slice(p.as_bytes()),
                None => self.ended = true,
            }
            Ok(())
        }
    }

    impl Read for List {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            read(self, buf)
        }
    }

    #[test]
    fn reads_fill_the_buffer_across_pieces_and_end_once() {
        let list = || List {
            rest: vec!["ab", "", "cde", "f", "", "ghij"].into_iter(),
            out: Vec::new(),
            pos: 0,
            ended: false,
        };
        let mut l = list();
        let mut buf = [0u8; 4];
        assert_eq!(l.read(&mut buf).expect("read"), 4);
        assert_eq!(&buf, b"abcd", "one call spans pieces, empty ones too");
        let mut all = String::from("abcd");
        l.read_to_string(&mut all).expect("rest");
        assert_eq!(all, "abcdefghij");
        assert_eq!(l.read(&mut buf).expect("end"), 0);
        let mut one = String::new();
        list().read_to_string(&mut one).expect("all");
        assert_eq!(one, "abcdefghij");
    }
}
