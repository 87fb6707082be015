//! JavaScript data files: a category's records as `data/js/{category}.js`,
//! for the offline viewer.
//!
//! Browsers refuse `fetch` from `file://`, but they run classic scripts, so
//! the records reach the viewer as scripts that hand them over:
//!
//! ```text
//! window.__keepsake.push(["posts",JSON.parse('[{"id":1,…},{"id":2,…}]')]);
//! window.__keepsake.push(["posts",JSON.parse('[…]')]);
//! ```
//!
//! Each statement carries a chunk of about [`CHUNK_BYTES`] of JSON, so a
//! 100,000-post account is a few hundred statements rather than one giant
//! literal. The JSON travels inside a single-quoted JavaScript string and is
//! parsed with `JSON.parse`: V8 and SpiderMonkey parse JSON text faster than
//! the same data as an object literal, and `JSON.parse` gives a record whose
//! key is `__proto__` an own property instead of a new prototype.
//!
//! The string escaping ([`escape_into`]) makes the text inert whatever the
//! records hold: `\` and `'` cannot end the string, line terminators cannot
//! end the statement, and `<`, `>`, `&`, U+2028 and U+2029 never appear raw,
//! so no `</script>` or `<!--` can exist in the file even if it were inlined
//! into a page. Safety does not depend on the records being valid JSON.

use std::io::{self, BufRead, Read};

/// JSON bytes per `push` statement. Measured with the 100,000 posts of the
/// `large` preset (a 26 MB data file) in headless Chromium, load to `onload`,
/// median of 5: chunks of 64 KiB to 4 MiB all take 0.25–0.29 s; one
/// `JSON.parse` for the whole file 0.54 s; the same records as object
/// literals 0.49 s (one statement or 256 KiB chunks alike). 256 KiB keeps
/// each string small without adding statements.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The call every data file makes; the viewer defines it before it loads any.
const PUSH: &[u8] = b"window.__keepsake.push([\"";

/// Appends `text` to `out` as the inside of a single-quoted JavaScript
/// string literal: `\` and `'` escaped, CR and LF as `\r` `\n`, and `<`,
/// `>`, `&`, U+2028, U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`,
/// `\u2029`. The string's value is `text` unchanged.
pub fn escape_into(text: &[u8], out: &mut Vec<u8>) {
    out.reserve(text.len() + text.len() / 16);
    let mut i = 0;
    while i < text.len() {
        // Copy the run of bytes that need nothing at once: most of them.
        let run = text[i..]
            .iter()
            .position(|b| SPECIAL[usize::from(*b)])
            .unwrap_or(text.len() - i);
        out.extend_from_slice(&text[i..i + run]);
        i += run;
        let Some(&b) = text.get(i) else { break };
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            0xE2 if text.get(i + 1) == Some(&0x80)
                && matches!(text.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if text[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
}

/// The bytes [`escape_into`] may have to change.
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    let special = b"\\'\n\r<>&\xE2";
    while k < special.len() {
        t[special[k] as usize] = true;
        k += 1;
    }
    t
};

/// One data file holding a single JSON value (the profile, the manifest):
/// `window.__keepsake.push(["{name}",JSON.parse('…')]);`.
pub fn value_file(name: &str, json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len() + json.len() / 8 + 64);
    open_statement(name, &mut out);
    escape_into(json, &mut out);
    out.extend_from_slice(b"')]);\n");
    out
}

fn open_statement(name: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(PUSH);
    // Category names are Keepsake's own (`posts`, …), never the platform's;
    // escaping them anyway keeps this function safe on its own.
    escape_into(name.as_bytes(), out);
    out.extend_from_slice(b"\",JSON.parse('");
}

/// A category's data file made one record at a time: the records go into
/// statements of about [`CHUNK_BYTES`] of JSON each, so that no string
/// literal grows without bound.
#[derive(Debug)]
pub struct JsStatements {
    name: String,
    /// JSON bytes in the open statement; `None` when none is open.
    chunk: Option<usize>,
    statements: u64,
}

impl JsStatements {
    /// The statements of category `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            chunk: None,
            statements: 0,
        }
    }

    /// Appends one record, as archived (JSON), to `out`.
    pub fn record(&mut self, record: &[u8], out: &mut Vec<u8>) {
        let written = match self.chunk {
            None => {
                open_statement(&self.name, out);
                out.push(b'[');
                0
            }
            Some(n) => {
                out.push(b',');
                n
            }
        } + record.len();
        escape_into(record, out);
        self.chunk = Some(written);
        if written >= CHUNK_BYTES {
            self.close_statement(out);
        }
    }

    /// Appends what ends the file: an empty category still says so, in
    /// the same shape.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        if self.chunk.is_some() {
            self.close_statement(out);
        } else if self.statements == 0 {
            open_statement(&self.name, out);
            out.extend_from_slice(b"[");
            self.close_statement(out);
        }
    }

    fn close_statement(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"]')]);\n");
        self.chunk = None;
        self.statements += 1;
    }
}

/// Turns a JSON Lines file into a data file, streaming: one line is read at
/// a time and memory holds at most one record plus the bytes not yet taken.
///
/// `archived` writes the archived form of a staged record (the same function
/// that writes `data/{category}.json`, so both files hold the same records).
pub struct JsData<R, F> {
    lines: R,
    statements: JsStatements,
    archived: F,
    line: String,
    record: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl<R, F> JsData<R, F>
where
    R: BufRead,
    F: FnMut(&str, &mut Vec<u8>) -> io::Result<()>,
{
    /// A data file for category `name` from the JSON Lines in `lines`.
    pub fn new(lines: R, name: &str, archived: F) -> Self {
        Self {
            lines,
            statements: JsStatements::new(name),
            archived,
            line: String::new(),
            record: Vec::new(),
            out: Vec::new(),
            pos: 0,
            ended: false,
        }
    }

    /// Puts the next piece of output in `out`: a record, or the end.
    fn refill(&mut self) -> io::Result<()> {
        self.out.clear();
        self.pos = 0;
        self.line.clear();
        if self.lines.read_line(&mut self.line)? == 0 {
            self.statements.end(&mut self.out);
            self.ended = true;
            return Ok(());
        }
        let line = self.line.trim_end();
        if line.is_empty() {
            return Ok(());
        }
        self.record.clear();
        // A lone surrogate, which `JSON.parse` would keep, is U+FFFD here as
        // in the CSV: the viewer shows text, and such text is not.
        (self.archived)(&crate::json_text::lossy(line), &mut self.record)?;
        self.statements.record(&self.record, &mut self.out);
        Ok(())
    }
}

impl<R, F> Read for JsData<R, F>
where
    R: BufRead,
    F: FnMut(&str, &mut Vec<u8>) -> io::Result<()>,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::pieces::read(self, buf)
    }
}

impl<R, F> crate::pieces::Pieces for JsData<R, F>
where
    R: BufRead,
    F: FnMut(&str, &mut Vec<u8>) -> io::Result<()>,
{
    fn piece(&mut self) -> (&[u8], &mut usize) {
        (&self.out, &mut self.pos)
    }
    fn ended(&self) -> bool {
        self.ended
    }
    fn next_piece(&mut self) -> io::Result<()> {
        self.refill()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn verbatim(line: &str, out: &mut Vec<u8>) -> io::Result<()> {
        out.extend_from_slice(line.as_bytes());
        Ok(())
    }

    fn data_file(input: &str) -> String {
        let mut s = String::new();
        JsData::new(io::Cursor::new(input.to_owned()), "posts", verbatim)
            .read_to_string(&mut s)
            .expect("read");
        s
    }

    /// The value of a single-quoted JS string literal body, for the escapes
    /// `escape_into` writes (and nothing else: anything else fails the test).
    fn unescape(s: &str) -> String {
        let mut out = String::new();
        let mut it = s.chars();
        while let Some(c) = it.next() {
            if c != '\\' {
                assert!(c != '\'' && c != '\n' && c != '\r', "raw {c:?} in a string");
                out.push(c);
                continue;
            }
            match it.next().expect("escape") {
                '\\' => out.push('\\'),
                '\'' => out.push('\''),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = it.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).expect("hex");
                    out.push(char::from_u32(code).expect("char"));
                }
                other => panic!("unexpected escape \\{other}"),
            }
        }
        out
    }

    /// What the viewer receives: every statement's records, in order.
    fn pushed(js: &str) -> Vec<(String, Value)> {
        js.lines()
            .map(|stmt| {
                let rest = stmt
                    .strip_prefix("window.__keepsake.push([\"")
                    .expect("a push");
                let (name, rest) = rest.split_once("\",JSON.parse('").expect("JSON.parse");
                let body = rest.strip_suffix("')]);").expect("statement end");
                (
                    name.to_owned(),
                    serde_json::from_str(&unescape(body)).expect("JSON"),
                )
            })
            .collect()
    }

    #[test]
    fn hostile_strings_cannot_end_the_script_or_start_markup() {
        let hostile = [
            "</script><script>alert(1)</script>",
            "<!-- <script>",
            "a\u{2028}b\u{2029}c",
            "it's a \\ backslash & an <img src=x onerror=alert(1)>",
            "']);alert(1);//",
            "\u{0}\u{1b}[31m",
        ];
        let input: String = hostile
            .iter()
            .enumerate()
            .map(|(i, b)| json!({"id": i, "body": b}).to_string() + "\n")
            .collect();
        let js = data_file(&input);
        for bad in ["</script", "<!--", "<", ">", "&", "\u{2028}", "\u{2029}"] {
            assert!(!js.contains(bad), "{bad:?} in {js}");
        }
        assert!(js.contains("\\u003c/script\\u003e"));
        assert!(js.contains("\\u2028") && js.contains("\\u2029"));
        let records: Vec<Value> = pushed(&js)
            .into_iter()
            .flat_map(|(name, v)| {
                assert_eq!(name, "posts");
                v.as_array().expect("array").clone()
            })
            .collect();
        let bodies: Vec<&str> = records
            .iter()
            .map(|r| r["body"].as_str().expect("body"))
            .collect();
        assert_eq!(bodies, hostile, "the values survive unchanged");
    }

    #[test]
    fn an_empty_category_is_one_empty_push() {
        assert_eq!(
            data_file(""),
            "window.__keepsake.push([\"posts\",JSON.parse('[]')]);\n"
        );
        assert_eq!(pushed(&data_file("\n\n")), [("posts".into(), json!([]))]);
    }

    #[test]
    fn big_categories_are_cut_into_statements() {
        let body = "x".repeat(1000);
        let n = 3 * CHUNK_BYTES / 1000;
        let input: String = (0..n)
            .map(|i| json!({"id": i, "body": body}).to_string() + "\n")
            .collect();
        let stmts = pushed(&data_file(&input));
        assert!(stmts.len() >= 3, "{} statements", stmts.len());
        let ids: Vec<u64> = stmts
            .iter()
            .flat_map(|(_, v)| v.as_array().expect("array").clone())
            .map(|r| r["id"].as_u64().expect("id"))
            .collect();
        assert_eq!(ids, (0..n as u64).collect::<Vec<_>>());
    }

    #[test]
    fn escaping_in_runs_matches_byte_by_byte() {
        // The plain definition, one byte at a time.
        fn reference(text: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < text.len() {
                match text[i] {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\'' => out.extend_from_slice(b"\\'"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    b'<' => out.extend_from_slice(b"\\u003c"),
                    b'>' => out.extend_from_slice(b"\\u003e"),
                    b'&' => out.extend_from_slice(b"\\u0026"),
                    0xE2 if text[i + 1..].starts_with(&[0x80, 0xA8]) => {
                        out.extend_from_slice(b"\\u2028");
                        i += 2;
                    }
                    0xE2 if text[i + 1..].starts_with(&[0x80, 0xA9]) => {
                        out.extend_from_slice(b"\\u2029");
                        i += 2;
                    }
                    b => out.push(b),
                }
                i += 1;
            }
            out
        }
        let pieces: [&str; 10] = [
            "a",
            "\\",
            "'",
            "\n",
            "\r",
            "<>",
            "&",
            "\u{2028}",
            "\u{2029}",
            "\u{2026}é",
        ];
        let mut seed = 7u64;
        for _ in 0..500 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let mut out = Vec::new();
            escape_into(text.as_bytes(), &mut out);
            assert_eq!(out, reference(text.as_bytes()), "{text:?}");
        }
    }

    #[test]
    fn a_lone_surrogate_reaches_the_viewer_as_a_replacement_character() {
        // Bug pinned: the text a lone surrogate spells is not valid Unicode.
        let js = data_file("{\"id\":1,\"body\":\"a\\ud800b\"}\n");
        assert_eq!(pushed(&js)[0].1, json!([{"id": 1, "body": "a\u{FFFD}b"}]));
    }

    #[test]
    fn single_values_are_escaped_too() {
        let js = String::from_utf8(value_file(
            "profile",
            br#"{"bio":"<b>bold</b><script>alert('bio')</script>","location":"\u2028"}"#,
        ))
        .expect("utf-8");
        assert!(!js.contains('<') && !js.contains("alert('"));
        let (name, v) = pushed(&js).remove(0);
        assert_eq!(name, "profile");
        assert_eq!(v["bio"], "<b>bold</b><script>alert('bio')</script>");
    }

    /// A JSON Lines source of `lines` records, made up as it is read, that
    /// counts the bytes handed out.
    struct Generated {
        next: u64,
        lines: u64,
        buf: Vec<u8>,
        pos: usize,
        served: std::rc::Rc<std::cell::Cell<u64>>,
    }

    impl Read for Generated {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.buf.len() {
                if self.next == self.lines {
                    return Ok(0);
                }
                self.buf = format!(
                    "{{\"id\":{},\"body\":\"post number {} </script>\"}}\n",
                    self.next, self.next
                )
                .into_bytes();
                self.pos = 0;
                self.next += 1;
            }
            let n = (self.buf.len() - self.pos).min(out.len());
            out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            self.served.set(self.served.get() + n as u64);
            Ok(n)
        }
    }

    #[test]
    fn the_adapter_streams() {
        let served = std::rc::Rc::new(std::cell::Cell::new(0));
        let lines = 2_000_000; // ≈ 100 MB of input
        let source = Generated {
            next: 0,
            lines,
            buf: Vec::new(),
            pos: 0,
            served: served.clone(),
        };
        let mut js = JsData::new(io::BufReader::new(source), "posts", verbatim);
        let mut first = vec![0u8; 64 * 1024];
        js.read_exact(&mut first).expect("read");
        assert!(
            served.get() < 256 * 1024,
            "{} bytes read to give the first 64 KiB",
            served.get()
        );
        // The rest streams through a small buffer, and all of it arrives.
        let (mut total, mut buf) = (first.len() as u64, vec![0u8; 8192]);
        let mut tail = Vec::new();
        loop {
            let n = js.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            total += n as u64;
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 64 * 1024 {
                tail.drain(..tail.len() - 4096);
            }
        }
        assert!(total > 100_000_000, "{total} bytes");
        assert!(String::from_utf8_lossy(&tail).ends_with("]')]);\n"));
        assert!(
            String::from_utf8_lossy(&tail).contains(&format!("\"id\":{}", lines - 1)),
            "the last record is there"
        );
    }
}
