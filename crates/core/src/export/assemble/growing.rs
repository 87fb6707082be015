//! A staging file read while it is still being written: a category's
//! records are compressed as their pages arrive, so compressing a large
//! category does not wait for its last page (and then hold up the end of
//! the export).
//!
//! The fetch side says how much of the file is final ([`Growth::commit`],
//! after each page is written and journaled) and when the category is
//! complete; readers ([`Follow`]) read no further than that, waiting for
//! more. A fetch that stops before it finishes the category (an error, a
//! cancel) makes every reader fail rather than end early, so no entry is
//! ever made from part of a category.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Debug, Default)]
struct State {
    /// Bytes of the file that are final; `None` until the fetch has cut
    /// the file back to its last checkpoint.
    committed: Option<u64>,
    end: End,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum End {
    #[default]
    Growing,
    Complete,
    Abandoned,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut s) = self.state.lock() {
            f(&mut s);
        }
        self.changed.notify_all();
    }
}

/// The fetch side of a growing file. Dropped before [`Growth::complete`],
/// it abandons the file.
#[derive(Debug)]
pub(in crate::export) struct Growth(Arc<Shared>);

/// Commits what is written of a growing file (see [`Growth::commit`]).
#[derive(Debug, Clone)]
pub(in crate::export) struct Committer(Arc<Shared>);

impl Committer {
    pub fn commit(&self, len: u64) {
        self.0.update(|s| s.committed = Some(len));
    }
}

/// Where readers of a growing file learn how far they may read.
#[derive(Debug, Clone)]
pub(in crate::export) struct Watch(Arc<Shared>);

impl Growth {
    pub fn new() -> (Self, Watch) {
        let shared = Arc::new(Shared::default());
        (Self(Arc::clone(&shared)), Watch(shared))
    }

    /// The first `len` bytes of the file are final.
    pub fn commit(&self, len: u64) {
        self.committer().commit(len);
    }

    /// A handle that can only commit, for the thread that writes pages.
    pub fn committer(&self) -> Committer {
        Committer(Arc::clone(&self.0))
    }

    /// Everything committed is the whole file.
    pub fn complete(self) {
        self.0.update(|s| s.end = End::Complete);
    }
}

impl Drop for Growth {
    fn drop(&mut self) {
        self.0.update(|s| {
            if s.end == End::Growing {
                s.end = End::Abandoned;
            }
        });
    }
}

impl Watch {
    /// A reader of `path` from its start.
    pub fn follow(&self, path: PathBuf) -> Follow {
        Follow {
            watch: self.clone(),
            path,
            file: None,
            pos: 0,
        }
    }

    /// Whether the fetch stopped before the file was complete.
    pub fn abandoned(&self) -> bool {
        self.0.state.lock().is_ok_and(|s| s.end == End::Abandoned)
    }

    /// Blocks until more than `pos` bytes are final or the file's end is
    /// known: how many bytes are final, and whether that is all.
    fn wait_beyond(&self, pos: u64) -> io::Result<(u64, bool)> {
        let shared = &self.0;
        let mut s = shared
            .state
            .lock()
            .map_err(|_| io::Error::other("a staging file's state was poisoned"))?;
        loop {
            match (s.committed, s.end) {
                (_, End::Abandoned) => {
                    return Err(io::Error::other(
                        "the category's fetch stopped before its last page",
                    ));
                }
                (Some(c), End::Complete) => return Ok((c, true)),
                (Some(c), End::Growing) if c > pos => return Ok((c, false)),
                _ => {}
            }
            s = shared
                .changed
                .wait(s)
                .map_err(|_| io::Error::other("a staging file's state was poisoned"))?;
        }
    }
}

/// Reads a growing file up to what is final, waiting for more until the
/// file is complete.
pub(in crate::export) struct Follow {
    watch: Watch,
    path: PathBuf,
    file: Option<fs_err::File>,
    pos: u64,
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (committed, complete) = self.watch.wait_beyond(self.pos)?;
        if self.pos >= committed {
            debug_assert!(complete);
            return Ok(0);
        }
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(fs_err::File::open(&self.path)?),
        };
        let room = usize::try_from(committed - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} is shorter than its journal says ({} of {committed} bytes)",
                    self.path.display(),
                    self.pos
                ),
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_reader_gets_what_was_committed_and_waits_for_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("posts.jsonl");
        let mut file = fs_err::File::create(&path).expect("create");
        let (growth, watch) = Growth::new();
        let mut reader = watch.follow(path.clone());
        let read = std::thread::spawn(move || {
            let mut all = String::new();
            reader.read_to_string(&mut all).map(|_| all)
        });
        // Bytes written but not committed are not read: the reader must
        // not see this line before the commit below covers it.
        file.write_all(b"{\"id\":1}\n").expect("write");
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!read.is_finished(), "nothing committed yet");
        growth.commit(9);
        file.write_all(b"{\"id\":2}\n{\"id\":3").expect("write");
        growth.commit(18);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!read.is_finished(), "not complete yet");
        growth.complete();
        let all = read.join().expect("thread").expect("read");
        assert_eq!(all, "{\"id\":1}\n{\"id\":2}\n", "only what was committed");
    }

    #[test]
    fn a_fetch_that_stops_fails_its_readers() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("likes.jsonl");
        fs_err::write(&path, b"{\"id\":1}\n").expect("write");
        let (growth, watch) = Growth::new();
        growth.commit(9);
        let mut reader = watch.follow(path);
        let mut first = [0u8; 9];
        reader.read_exact(&mut first).expect("the committed part");
        drop(growth);
        let err = reader.read(&mut [0u8; 8]).expect_err("abandoned");
        assert!(
            err.to_string().contains("stopped before its last page"),
            "{err}"
        );
    }

    #[test]
    fn a_file_shorter_than_committed_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("comments.jsonl");
        fs_err::write(&path, b"{\"id\":1}\n").expect("write");
        let (growth, watch) = Growth::new();
        growth.commit(100);
        growth.complete();
        let mut all = Vec::new();
        let err = watch.follow(path).read_to_end(&mut all).expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
