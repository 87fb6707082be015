//! The zip side of an export: a thread that adds finished entries to the
//! archive while fetching goes on, so fetching and compressing overlap.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::mpsc;

use serde_json::Value;

use crate::archive::{ArchiveWriter, BagInfo, FinishedArchive, names::NameAllocator};
use crate::{Error, Result};

/// Work for the zip thread.
pub(super) enum Job {
    /// `data/{name}.json` from the staged `{name}.jsonl`.
    Category {
        name: String,
        jsonl: PathBuf,
        media_dir: Option<PathBuf>,
    },
    /// A verified media file.
    Media {
        id: i64,
        file: PathBuf,
        filename: String,
        content_type: String,
    },
    /// `data/profile.json`.
    Bytes { name: String, bytes: Vec<u8> },
    /// Write `data/manifest.json` and the bag's tag files, then stop.
    Finish { manifest: Vec<u8> },
}

/// Where a media file goes in the archive: the id keeps names unique (also
/// case-insensitively) without remembering every name.
pub fn media_archive_path(id: i64, filename: &str) -> String {
    let clean = NameAllocator::default().allocate(filename, "file");
    format!("media/{id}-{clean}")
}

/// Compress what compresses; store what is already compressed.
fn compressible(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("svg")
        || ct.contains("javascript")
}

/// Starts the zip thread writing `final_path`.
pub(super) fn start(
    final_path: PathBuf,
    info: BagInfo,
) -> Result<(
    mpsc::Sender<Job>,
    std::thread::JoinHandle<Result<FinishedArchive>>,
)> {
    let mut writer = ArchiveWriter::create(&final_path, info)?;
    let (tx, rx) = mpsc::channel::<Job>();
    let handle = std::thread::Builder::new()
        .name("keepsake-zip".into())
        .spawn(move || {
            for job in rx {
                match job {
                    Job::Category {
                        name,
                        jsonl,
                        media_dir,
                    } => {
                        let file =
                            std::fs::File::open(&jsonl).map_err(Error::io("read", &jsonl))?;
                        let mut reader = JsonArray::new(BufReader::new(file), media_dir);
                        writer.add_payload_reader(
                            &format!("{name}.json"),
                            &mut reader,
                            None,
                            true,
                        )?;
                        if let Some(e) = reader.error.take() {
                            return Err(e);
                        }
                    }
                    Job::Media {
                        id,
                        file,
                        filename,
                        content_type,
                    } => {
                        writer.add_payload_file(
                            &media_archive_path(id, &filename),
                            &file,
                            compressible(&content_type),
                        )?;
                    }
                    Job::Bytes { name, bytes } => {
                        writer.add_payload_bytes(&name, &bytes, true)?;
                    }
                    Job::Finish { manifest } => {
                        writer.add_payload_bytes("manifest.json", &manifest, true)?;
                        return writer.finish();
                    }
                }
            }
            Err(Error::Invalid(
                "the export stopped before the archive was finished".into(),
            ))
        })
        .map_err(|e| Error::Invalid(format!("could not start the archive writer: {e}")))?;
    Ok((tx, handle))
}

/// Turns a JSON Lines file into a JSON array, streaming. For media records,
/// drops the signed URL (a credential that must not be archived) and adds
/// where the file is in the archive.
struct JsonArray<R> {
    lines: R,
    media_dir: Option<PathBuf>,
    out: Vec<u8>,
    pos: usize,
    started: bool,
    first: bool,
    ended: bool,
    error: Option<Error>,
}

impl<R: BufRead> JsonArray<R> {
    fn new(lines: R, media_dir: Option<PathBuf>) -> Self {
        Self {
            lines,
            media_dir,
            out: Vec::new(),
            pos: 0,
            started: false,
            first: true,
            ended: false,
            error: None,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        self.out.clear();
        self.pos = 0;
        if !self.started {
            self.started = true;
            self.out.extend_from_slice(b"[");
            return Ok(());
        }
        let mut line = String::new();
        if self.lines.read_line(&mut line)? == 0 {
            if !self.ended {
                self.ended = true;
                self.out.extend_from_slice(if self.first {
                    b"]\n" as &[u8]
                } else {
                    b"\n]\n"
                });
            }
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(());
        }
        self.out
            .extend_from_slice(if self.first { b"\n" as &[u8] } else { b",\n" });
        self.first = false;
        match &self.media_dir {
            None => self.out.extend_from_slice(line.as_bytes()),
            Some(dir) => {
                let mut v: Value = serde_json::from_str(line).map_err(std::io::Error::other)?;
                if let Value::Object(m) = &mut v {
                    m.remove("download_url");
                    m.remove("url_expires_at");
                    let id = m.get("id").and_then(Value::as_i64).unwrap_or_default();
                    let name = m
                        .get("filename")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                    let present = dir.join(format!("{id}.bin")).is_file();
                    m.insert(
                        "archive_path".into(),
                        if present {
                            Value::String(format!("data/{}", media_archive_path(id, &name)))
                        } else {
                            Value::Null
                        },
                    );
                }
                serde_json::to_writer(&mut self.out, &v).map_err(std::io::Error::other)?;
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Read for JsonArray<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.out.len() {
            if self.ended && self.pos >= self.out.len() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = (self.out.len() - self.pos).min(buf.len());
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn array(input: &str, media: Option<PathBuf>) -> Value {
        let mut r = JsonArray::new(std::io::Cursor::new(input.to_owned()), media);
        let mut s = String::new();
        r.read_to_string(&mut s).expect("read");
        serde_json::from_str(&s).expect("valid JSON array")
    }

    #[test]
    fn json_lines_become_a_json_array() {
        assert_eq!(array("", None), serde_json::json!([]));
        assert_eq!(
            array("{\"id\":1}\n{\"id\":2}\n", None),
            serde_json::json!([{"id":1},{"id":2}])
        );
    }

    #[test]
    fn media_records_lose_their_signed_url() {
        let v = array(
            "{\"id\":3,\"filename\":\"../x.png\",\"download_url\":\"https://h/m?sig=s\",\"url_expires_at\":\"t\"}\n",
            Some(PathBuf::from("/nonexistent")),
        );
        assert!(v[0].get("download_url").is_none());
        assert!(v[0].get("url_expires_at").is_none());
        assert_eq!(v[0]["archive_path"], Value::Null, "not downloaded");
    }
}
