//! A writer on a thread of its own: what is written to a [`Piped`] is
//! handed, a piece at a time, to the writer it wraps on another thread.
//!
//! A category's forms (its JSON, CSV and viewer files) are made in one
//! reading of its records, and each is deflated as it is made. Deflating
//! the three one after another on the reading thread left that thread
//! alone on one core at the end of a split export, while the other core
//! waited for it (0.2 s of the `large` bench). Piped, the three compress
//! at once.

use std::io::{self, Write};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, bounded};

/// Pieces waiting for the writer, at most (each up to the caller's
/// buffer, 64 KiB for the forms): memory stays bounded when the writer is
/// slower than what feeds it.
const QUEUE: usize = 4;

/// Writes into `W` on a thread of its own (see the module documentation).
/// Dropped unfinished (a failure elsewhere), its channel closes and the
/// thread ends by itself; its result is not needed.
pub(super) struct Piped<W> {
    pieces: Option<Sender<Vec<u8>>>,
    writer: Option<JoinHandle<io::Result<W>>>,
}

impl<W: Write + Send + 'static> Piped<W> {
    /// Starts the thread (named `name`) that writes into `inner`.
    pub(super) fn spawn(name: &str, mut inner: W) -> io::Result<Self> {
        let (tx, rx) = bounded::<Vec<u8>>(QUEUE);
        let writer = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for piece in rx {
                    inner.write_all(&piece)?;
                }
                Ok(inner)
            })?;
        Ok(Self {
            pieces: Some(tx),
            writer: Some(writer),
        })
    }

    /// Waits until everything written is in `W`, and gives it back; or the
    /// error `W` gave.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.end()
    }

    fn end(&mut self) -> io::Result<W> {
        drop(self.pieces.take());
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("a writing thread stopped unexpectedly")),
            None => Err(io::Error::other("already finished")),
        }
    }
}

impl<W: Write + Send + 'static> Write for Piped<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let sent = match &self.pieces {
            Some(tx) => tx.send(buf.to_vec()).is_ok(),
            None => false,
        };
        if sent {
            return Ok(buf.len());
        }
        // The writer stopped: its error says why.
        Err(self
            .end()
            .err()
            .unwrap_or_else(|| io::Error::other("a writing thread stopped")))
    }

    /// Pieces are handed on as written; `W` is flushed by `finish`'s
    /// caller.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_arrives_in_order() {
        let mut piped = Piped::spawn("test-piped", Vec::new()).expect("spawn");
        for i in 0..1000u32 {
            piped.write_all(&i.to_le_bytes()).expect("write");
        }
        let got = piped.finish().expect("finish");
        let want: Vec<u8> = (0..1000u32).flat_map(u32::to_le_bytes).collect();
        assert_eq!(got, want);
    }

    /// Accepts `room` bytes, then fails.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if buf.len() > self.room {
                return Err(io::Error::other("no room"));
            }
            self.room -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_writers_error_comes_back_to_the_caller() {
        let mut piped = Piped::spawn("test-piped", Full { room: 10 }).expect("spawn");
        let mut failed = None;
        for _ in 0..100 {
            if let Err(e) = piped.write_all(&[0u8; 8]) {
                failed = Some(e);
                break;
            }
        }
        let e = match failed {
            Some(e) => e,
            None => piped.finish().err().expect("the error"),
        };
        assert!(e.to_string().contains("no room"), "{e}");
    }
}
