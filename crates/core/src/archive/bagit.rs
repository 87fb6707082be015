//! The BagIt side of the archive (RFC 8493): tag file names and contents,
//! manifest lines, and parsing them back.

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::{Error, Result};

/// The bag declaration.
pub(super) const BAGIT_TXT: &str = "bagit.txt";
/// Metadata about the bag.
pub(super) const BAG_INFO_TXT: &str = "bag-info.txt";
/// Checksums of the payload.
pub(super) const MANIFEST: &str = "manifest-sha256.txt";
/// Checksums of the tag files.
pub(super) const TAG_MANIFEST: &str = "tagmanifest-sha256.txt";
/// Where the payload lives.
pub(super) const DATA_PREFIX: &str = "data/";

/// The whole of `bagit.txt`.
pub(super) const BAGIT_TXT_CONTENT: &str =
    "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// The labels [`bag_info_text`] writes itself.
const OWN_LABELS: [&str; 5] = [
    "Source-Organization",
    "External-Identifier",
    "Bagging-Date",
    "Payload-Oxum",
    "Bag-Software-Agent",
];

/// What goes into `bag-info.txt` besides what the writer computes
/// (`Payload-Oxum`, `Bag-Software-Agent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagInfo {
    /// `Source-Organization`: the platform the data comes from.
    pub source_organization: String,
    /// `External-Identifier`: the export id.
    pub external_identifier: String,
    /// When the bag was made: `Bagging-Date` (its date, `YYYY-MM-DD`, in its
    /// own offset) and the modification time of every zip entry, so the same
    /// input always gives the same archive. Zip times run from 1980 to 2107;
    /// outside that range entries carry 1980-01-01.
    pub bagging_date: OffsetDateTime,
    /// More `Label: value` lines, in this order (e.g. `Keepsake-Subject`,
    /// `Keepsake-Actor`, `Keepsake-As-Of`, `Keepsake-Status`). Labels must
    /// not contain `:` or line breaks; line breaks in values become spaces.
    pub extra: Vec<(String, String)>,
}

impl BagInfo {
    /// Bag metadata with no extra lines.
    pub fn new(
        source_organization: impl Into<String>,
        external_identifier: impl Into<String>,
        bagging_date: OffsetDateTime,
    ) -> Self {
        Self {
            source_organization: source_organization.into(),
            external_identifier: external_identifier.into(),
            bagging_date,
            extra: Vec::new(),
        }
    }

    /// Refuses extra labels that would break `bag-info.txt` or repeat one the
    /// writer sets.
    pub(super) fn check(&self) -> Result<()> {
        for (label, _) in &self.extra {
            let bad = label.is_empty()
                || label.trim() != label
                || label.contains(':')
                || label.chars().any(char::is_control);
            if bad {
                return Err(Error::Invalid(format!(
                    "the bag-info label {label:?} is not valid: labels must be non-empty, without ':', line breaks or surrounding spaces"
                )));
            }
            if OWN_LABELS.iter().any(|own| own.eq_ignore_ascii_case(label)) {
                return Err(Error::Invalid(format!(
                    "the bag-info label {label:?} is set by the archive writer itself; leave it out of the extra lines"
                )));
            }
        }
        Ok(())
    }
}

/// A value on one line: BagIt values may be folded over several lines, but
/// many readers get that wrong, so line breaks become spaces.
fn one_line(value: &str) -> Cow<'_, str> {
    let breaks = |c: char| {
        matches!(
            c,
            '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    };
    if value.contains(breaks) {
        Cow::Owned(value.replace(breaks, " "))
    } else {
        Cow::Borrowed(value)
    }
}

/// The whole of `bag-info.txt`.
pub(super) fn bag_info_text(info: &BagInfo, payload_bytes: u64, payload_files: u64) -> String {
    let date = info.bagging_date.date();
    let mut lines = vec![
        (
            "Source-Organization".to_owned(),
            info.source_organization.clone(),
        ),
        (
            "External-Identifier".to_owned(),
            info.external_identifier.clone(),
        ),
        (
            "Bagging-Date".to_owned(),
            format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
        ),
        (
            "Payload-Oxum".to_owned(),
            format!("{payload_bytes}.{payload_files}"),
        ),
        (
            "Bag-Software-Agent".to_owned(),
            format!("keepsake {}", crate::VERSION),
        ),
    ];
    lines.extend(info.extra.iter().cloned());
    let mut text = String::new();
    for (label, value) in &lines {
        text.push_str(label);
        text.push_str(": ");
        text.push_str(&one_line(value));
        text.push('\n');
    }
    text
}

/// A manifest line: the hash, two spaces, the path with CR, LF and `%`
/// percent-encoded as RFC 8493 §2.1.3 requires.
pub(super) fn manifest_line(sha256: &str, path: &str) -> String {
    let mut line = String::with_capacity(sha256.len() + path.len() + 4);
    line.push_str(sha256);
    line.push_str("  ");
    for c in path.chars() {
        match c {
            '%' => line.push_str("%25"),
            '\r' => line.push_str("%0D"),
            '\n' => line.push_str("%0A"),
            c => line.push(c),
        }
    }
    line.push('\n');
    line
}

/// A manifest path as written, decoded. Only the three encodings BagIt
/// defines are undone; any other `%` stays as it is.
fn decode_path(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3).map(str::to_ascii_uppercase);
        match code.as_deref() {
            Some("25") => out.push('%'),
            Some("0D") => out.push('\r'),
            Some("0A") => out.push('\n'),
            _ => {
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// A manifest line (without its line break) as the hash in lower case, the
/// path decoded, and the path as written.
///
/// The path as written matters because few BagIt tools follow RFC 8493 on
/// `%` (bagit-python 1.9 writes and reads it unencoded, see
/// LibraryOfCongress/bagit-python#157): a `%25` in their manifests may mean
/// a literal `%25` in the file name.
pub(super) fn parse_manifest_line(
    line: &str,
) -> std::result::Result<(String, String, String), String> {
    let (hash, path) = line
        .split_once([' ', '\t'])
        .ok_or_else(|| "expected a checksum, spaces and a path".to_owned())?;
    let path = path.trim_start_matches([' ', '\t']);
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{hash:?} is not a SHA-256 checksum"));
    }
    if path.is_empty() {
        return Err("the path is missing".to_owned());
    }
    Ok((
        hash.to_ascii_lowercase(),
        decode_path(path),
        path.to_owned(),
    ))
}

/// The `Label: value` pairs of a tag file such as `bag-info.txt`, with
/// continuation lines (starting with a space or tab) joined to their value.
pub(super) fn parse_tag_lines(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            match pairs.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Err(format!("line {} continues nothing", n + 1)),
            }
            continue;
        }
        let (label, value) = line
            .split_once(':')
            .ok_or_else(|| format!("line {} is not \"Label: value\"", n + 1))?;
        pairs.push((label.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> BagInfo {
        let mut info = BagInfo::new(
            "Example Platform",
            "exp_123",
            time::macros::datetime!(2025-03-04 23:30:00 -05:00),
        );
        info.extra.push((
            "Keepsake-Subject".into(),
            "user 42\r\nInjected-Label: x".into(),
        ));
        info
    }

    #[test]
    fn bag_info_has_every_label_on_one_line() {
        let text = bag_info_text(&info(), 1234, 5);
        assert_eq!(
            text,
            format!(
                "Source-Organization: Example Platform\n\
                 External-Identifier: exp_123\n\
                 Bagging-Date: 2025-03-04\n\
                 Payload-Oxum: 1234.5\n\
                 Bag-Software-Agent: keepsake {}\n\
                 Keepsake-Subject: user 42  Injected-Label: x\n",
                crate::VERSION
            )
        );
        let pairs = parse_tag_lines(&text).expect("parses");
        assert_eq!(pairs.len(), 6);
        assert_eq!(pairs[3], ("Payload-Oxum".into(), "1234.5".into()));
    }

    #[test]
    fn bad_or_duplicate_labels_are_refused() {
        for label in ["", " Lead", "A:B", "Line\nBreak", "payload-oxum"] {
            let mut i = info();
            i.extra.push((label.into(), "v".into()));
            assert!(matches!(i.check(), Err(Error::Invalid(_))), "{label:?}");
        }
        assert!(info().check().is_ok());
    }

    #[test]
    fn manifest_paths_round_trip_through_percent_encoding() {
        let hash = "ab".repeat(32);
        for path in [
            "data/a.txt",
            "data/100%.txt",
            "data/line\nbreak\r.txt",
            "data/%0A literal",
            "data/50% off",
        ] {
            let line = manifest_line(&hash, path);
            assert_eq!(line.matches('\n').count(), 1, "{line:?}");
            let (h, p, _) = parse_manifest_line(line.trim_end_matches('\n')).expect("parses");
            assert_eq!((h.as_str(), p.as_str()), (hash.as_str(), path));
        }
        assert_eq!(
            manifest_line(&hash, "data/100%\n"),
            format!("{hash}  data/100%25%0A\n")
        );
        assert_eq!(decode_path("data/%2"), "data/%2");
        assert_eq!(decode_path("data/%0a%0d%41"), "data/\n\r%41");
    }

    #[test]
    fn malformed_manifest_lines_are_refused() {
        assert!(parse_manifest_line("nothing").is_err());
        assert!(parse_manifest_line("abc  data/x").is_err());
        assert!(parse_manifest_line(&format!("{}  ", "0".repeat(64))).is_err());
        let upper = format!("{}\tdata/x", "AB".repeat(32));
        assert_eq!(
            parse_manifest_line(&upper).expect("tab works"),
            ("ab".repeat(32), "data/x".into(), "data/x".into())
        );
    }

    #[test]
    fn continuation_lines_join_their_value() {
        let pairs = parse_tag_lines("A: one\n  two\nB:three\n").expect("parses");
        assert_eq!(
            pairs,
            vec![("A".into(), "one two".into()), ("B".into(), "three".into())]
        );
        assert!(parse_tag_lines(" orphan\n").is_err());
        assert!(parse_tag_lines("no colon\n").is_err());
    }
}
