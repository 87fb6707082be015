//! One CSV cell of text, as every CSV file Keepsake writes has it (the
//! category copies in an archive, the audit log's export): RFC 4180
//! quoting, and a guard against spreadsheets running the text as a formula.

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Appends `text` as one cell. Text a spreadsheet would run as a formula
/// gets a leading `'`, the usual neutraliser (OWASP, "CSV injection"):
/// spreadsheets show it and do not evaluate it. The cell is quoted when it
/// holds a separator, a quote or a line break (also the Unicode ones some
/// readers break lines at).
pub(crate) fn push_text(out: &mut String, text: &str) {
    let prefix = if text.starts_with(FORMULA_START) {
        "'"
    } else {
        ""
    };
    if !needs_quotes(text) {
        out.push_str(prefix);
        out.push_str(text);
        return;
    }
    out.push('"');
    out.push_str(prefix);
    for (i, piece) in text.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(piece);
    }
    out.push('"');
}

/// Whether a cell holds a separator, a quote or a line break (also U+2028,
/// U+2029 and U+0085). Scanned for bytes first: the lead bytes of those
/// three (E2, C2) are rare in text.
fn needs_quotes(text: &str) -> bool {
    let b = text.as_bytes();
    memchr::memchr3(b',', b'"', b'\r', b).is_some()
        || memchr::memchr3(b'\n', 0xE2, 0xC2, b).is_some()
            && text.contains(['\n', '\u{2028}', '\u{2029}', '\u{85}'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(text: &str) -> String {
        let mut out = String::new();
        push_text(&mut out, text);
        out
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        for (text, want) in [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\r\nlines", "\"two\r\nlines\""),
            ("lf\nonly", "\"lf\nonly\""),
            ("u\u{2028}line", "\"u\u{2028}line\""),
            ("u\u{2029}para", "\"u\u{2029}para\""),
            ("nel\u{85}", "\"nel\u{85}\""),
            // Same lead bytes (C2, E2), no line break: left as they are.
            ("£5 … ok", "£5 … ok"),
        ] {
            assert_eq!(cell(text), want, "{text:?}");
        }
    }

    #[test]
    fn formula_cells_are_neutralised() {
        for (text, want) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("=A1,\"x\"", "\"'=A1,\"\"x\"\"\""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(cell(text), want, "{text:?}");
        }
    }
}
