//! Reading bodies a platform sends: never more than a cap, never slower than
//! a floor. A server that trickles one byte every few seconds keeps every
//! per-read timeout happy; counting the bytes of each window does not.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use url::Url;

use super::network;
use crate::error::display_url;
use crate::{Error, Result};

/// The window over which a body's pace is judged: a body that brings less
/// than [`MIN_BYTES_PER_WINDOW`] in one such window (nothing at all
/// included) is dropped as stalled, and retried like a broken connection.
/// It is also the longest a request waits for its answer to begin.
pub const STALL_WINDOW: Duration = Duration::from_secs(30);

/// The least a body must bring in each [`STALL_WINDOW`] (about 140 bytes a
/// second: a line far slower than this cannot carry an export anyway).
pub const MIN_BYTES_PER_WINDOW: u64 = 4 << 10;

/// The most of an error body that is read: enough for any problem document;
/// the rest is not waited for.
pub const MAX_ERROR_BODY: usize = 64 << 10;

/// How fast a body must arrive.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// See [`STALL_WINDOW`].
    pub window: Duration,
    /// See [`MIN_BYTES_PER_WINDOW`].
    pub min_bytes: u64,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            window: STALL_WINDOW,
            min_bytes: MIN_BYTES_PER_WINDOW,
        }
    }
}

/// A response body read chunk by chunk under a [`Pace`].
pub(crate) struct Paced {
    response: reqwest::Response,
    url: Url,
    pace: Pace,
    window_ends: Instant,
    in_window: u64,
}

impl Paced {
    pub(crate) fn new(response: reqwest::Response, url: &Url, pace: Pace) -> Self {
        Self {
            response,
            url: url.clone(),
            pace,
            window_ends: Instant::now() + pace.window,
            in_window: 0,
        }
    }

    /// The next piece of the body, `None` at its end; a stalled or broken
    /// body is a (retryable) network error.
    pub(crate) async fn chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            match tokio::time::timeout_at(self.window_ends, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    self.in_window += chunk.len() as u64;
                    if Instant::now() >= self.window_ends {
                        self.next_window()?;
                    }
                    return Ok(Some(chunk));
                }
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(e)) => return Err(network(&self.url, &e)),
                Err(_) => self.next_window()?,
            }
        }
    }

    fn next_window(&mut self) -> Result<()> {
        if self.in_window < self.pace.min_bytes {
            return Err(Error::Network {
                url: display_url(&self.url),
                detail: format!(
                    "the answer arrived too slowly ({} bytes in {} s; at least {} are expected)",
                    self.in_window,
                    self.pace.window.as_secs_f32(),
                    self.pace.min_bytes
                ),
            });
        }
        self.window_ends = Instant::now() + self.pace.window;
        self.in_window = 0;
        Ok(())
    }
}

/// Reads at most `cap` bytes of a body; `Ok(None)` when it is longer.
pub(crate) async fn read_capped(body: &mut Paced, cap: usize) -> Result<Option<Vec<u8>>> {
    let declared = body.response.content_length();
    if declared.is_some_and(|l| l > cap as u64) {
        return Ok(None);
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(8192).min(1 << 20) as usize);
    while let Some(chunk) = body.chunk().await? {
        if buf.len() + chunk.len() > cap {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf))
}

/// The first `cap` bytes of an error body, whatever its length: the rest is
/// never read (dropping the response closes the connection). A body that
/// breaks off or stalls yields what came.
pub(crate) async fn error_prefix(body: &mut Paced, cap: usize) -> Vec<u8> {
    let mut buf = Vec::new();
    while buf.len() < cap {
        match body.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - buf.len();
                buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    buf
}
