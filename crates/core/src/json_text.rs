//! JSON text as a platform sent it, read without trusting it: how deeply it
//! nests, whether every value in it can be parsed, and a copy whose strings
//! are valid Unicode.
//!
//! JSON escapes UTF-16 code units one at a time, so valid JSON can spell
//! text that is not valid Unicode: a lone surrogate (`"\ud800"`). serde_json
//! lets it through when it only checks syntax (as pages are read, into
//! `RawValue`) and refuses it when it parses values (as the CSV needs), and
//! it likewise skips nesting depth and number range when it only checks
//! syntax. [`check`] does the whole of both at fetch time, so a record is
//! refused there, naming the platform, or accepted by every reader after it.
//!
//! The archive's JSON keeps a record byte for byte as sent, lone surrogates
//! included; the forms that need its values (CSV, the viewer, media records)
//! read [`lossy`]'s copy, in which each lone surrogate is U+FFFD.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The deepest a record may nest. serde_json parses values at most 127
/// levels deep, and every reader of the staged records parses them; social
/// data nests a handful of levels, so this leaves room and a margin.
pub(crate) const MAX_DEPTH: usize = 100;

/// Why a record cannot be archived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flaw {
    /// It nests deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A value in it cannot be read (a number out of range, say): what
    /// serde_json said.
    Unreadable(String),
}

/// Checks `record`, JSON text whose syntax is already known to be valid,
/// completely: its depth and every value in it. Gives the text its readers
/// parse ([`lossy`]): borrowed when the record's strings are all valid
/// Unicode, owned when a lone surrogate had to be replaced.
pub(crate) fn check(record: &str) -> Result<Cow<'_, str>, Flaw> {
    let text = lossy(record);
    let mut parser = serde_json::Deserializer::from_str(&text);
    match Within(MAX_DEPTH)
        .deserialize(&mut parser)
        .and_then(|()| parser.end())
    {
        Ok(()) => Ok(text),
        // Rare, so the depth is looked at only now, to say which it was.
        Err(_) if deeper_than(record, MAX_DEPTH) => Err(Flaw::TooDeep),
        Err(e) => Err(Flaw::Unreadable(e.to_string())),
    }
}

/// Whether JSON text `text` nests arrays and objects more than `limit` deep.
pub(crate) fn deeper_than(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut strings = Strings::default();
    for &b in text.as_bytes() {
        if strings.inside(b) {
            continue;
        }
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// JSON text `text` with every escaped lone surrogate (`\ud800` with no
/// `\udc00`–`\udfff` right after it, or a trailing one on its own) written
/// as `\ufffd`, U+FFFD: text a strict parser accepts, the same length, and
/// borrowed when there is nothing to replace.
pub(crate) fn lossy(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut lone = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // Backslashes appear in JSON only inside strings, where each one
        // starts an escape: no need to track where strings begin and end.
        let Some(at) = memchr::memchr(b'\\', &b[i..]) else {
            break;
        };
        i += at;
        let Some(unit) = escaped_unit(b, i) else {
            i += 2;
            continue;
        };
        match unit {
            0xD800..=0xDBFF if escaped_unit(b, i + 6).is_some_and(is_trailing) => i += 12,
            0xD800..=0xDFFF => {
                lone.push(i);
                i += 6;
            }
            _ => i += 6,
        }
    }
    if lone.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for at in lone {
        out.push_str(&text[from..at]);
        out.push_str("\\ufffd");
        from = at + 6;
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

fn is_trailing(unit: u16) -> bool {
    (0xDC00..=0xDFFF).contains(&unit)
}

/// The code unit of the `\uXXXX` escape at `b[at..]`, if there is one.
fn escaped_unit(b: &[u8], at: usize) -> Option<u16> {
    let esc = b.get(at..at + 6)?;
    if esc[0] != b'\\' || esc[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&esc[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

/// Appends JSON text `text` to `out` without the whitespace between its
/// tokens: a record a platform pretty-printed, on one line and otherwise
/// byte for byte as sent (strings cannot hold a raw line break).
pub(crate) fn compact_into(text: &str, out: &mut Vec<u8>) {
    let mut strings = Strings::default();
    out.reserve(text.len());
    for &b in text.as_bytes() {
        if strings.inside(b) || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.push(b);
        }
    }
}

/// Where a byte-by-byte walk through JSON text is: in a string or not.
#[derive(Default)]
struct Strings {
    open: bool,
    escaped: bool,
}

impl Strings {
    /// Takes the next byte; whether it belongs to a string (quotes included).
    fn inside(&mut self, b: u8) -> bool {
        if self.open {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.open = false;
            }
            true
        } else if b == b'"' {
            self.open = true;
            true
        } else {
            false
        }
    }
}

/// Any JSON value at most this many levels deep, read through to its end
/// and thrown away: every number converted and every string unescaped, as
/// a parse into a value would, without building one. The depth is counted
/// in the same pass, so a record is read once.
struct Within(usize);

impl<'de> DeserializeSeed<'de> for Within {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Within {
    /// The levels left inside an array or object opened here.
    fn inner<E: de::Error>(&self) -> Result<Within, E> {
        self.0
            .checked_sub(1)
            .map(Within)
            .ok_or_else(|| E::custom("nested too deep"))
    }
}

impl<'de> Visitor<'de> for Within {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while a.next_element_seed(Within(inner.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while a.next_key_seed(Within(inner.0))?.is_some() {
            a.next_value_seed(Within(inner.0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_become_the_replacement_character_and_pairs_stay() {
        for (sent, read) in [
            (r#"{"b":"\ud800"}"#, r#"{"b":"\ufffd"}"#),
            (r#"{"b":"x\udc00y"}"#, r#"{"b":"x\ufffdy"}"#),
            (r#"{"b":"\ud800\ud800"}"#, r#"{"b":"\ufffd\ufffd"}"#),
            (r#"{"b":"\ud800\u0041"}"#, r#"{"b":"\ufffd\u0041"}"#),
            (r#"{"b":"\uDBFF"}"#, r#"{"b":"\ufffd"}"#),
        ] {
            assert_eq!(lossy(sent), read, "{sent}");
            let v: serde_json::Value = serde_json::from_str(&lossy(sent)).expect("parses");
            assert!(v["b"].as_str().expect("text").contains('\u{FFFD}'));
        }
        for fine in [
            r#"{"b":"\ud83d\ude00 caf\u00e9"}"#,
            // An escaped backslash, then the letters "ud800": no escape.
            r#"{"b":"\\ud800"}"#,
            r#"{"b":"\\\ud83d\ude00"}"#,
            r#"{"b":"plain"}"#,
        ] {
            assert!(matches!(lossy(fine), Cow::Borrowed(_)), "{fine}");
        }
    }

    #[test]
    fn a_record_is_checked_whole() {
        // Bug pinned: these passed the page's syntax check, then failed the
        // whole export while its CSV was written.
        assert_eq!(
            check(r#"{"id":1,"b":1e400}"#),
            Err(Flaw::Unreadable(
                "number out of range at line 1 column 17".into()
            ))
        );
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(check(&deep), Err(Flaw::TooDeep));
        let lone = check(r#"{"id":1,"b":"\ud800"}"#).expect("a lone surrogate is kept");
        assert!(matches!(lone, Cow::Owned(_)));
        assert!(matches!(
            check(r#"{"id":1,"b":"ok"}"#),
            Ok(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!deeper_than(&nested(MAX_DEPTH), MAX_DEPTH));
        assert!(deeper_than(&nested(MAX_DEPTH + 1), MAX_DEPTH));
        let in_text = format!(r#"{{"b":"{}\"[{{"}}"#, "[".repeat(500));
        assert!(!deeper_than(&in_text, 1));
        assert!(check(&in_text).is_ok());
        // The check counts depth while it parses: exactly the limit passes.
        assert!(check(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(check(&nested(MAX_DEPTH + 1)), Err(Flaw::TooDeep));
        let in_objects = format!(
            "{}1{}",
            r#"{"a":"#.repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(check(&in_objects), Err(Flaw::TooDeep));
        // The deepest record allowed still parses into a value.
        let deepest = nested(MAX_DEPTH);
        assert!(serde_json::from_str::<serde_json::Value>(&deepest).is_ok());
    }

    #[test]
    fn compacting_removes_only_the_space_between_tokens() {
        let mut out = Vec::new();
        compact_into(
            "{\n  \"a b\": [1,\t2],\r\n  \"c\": \"x \\\" y\"\n}",
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"a b":[1,2],"c":"x \" y"}"#
        );
    }
}
