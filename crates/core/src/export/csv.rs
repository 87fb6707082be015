//! CSV copies of the record categories, for spreadsheet programs: one
//! streaming adapter from the staged JSON Lines file to RFC 4180 text.
//!
//! The JSON stays the source of truth. A CSV file has a fixed set of columns
//! per category (the connector's [`crate::connector::Category::csv`]);
//! nested values are flattened (a post's
//! `media_ids` joined with `;`, a comment's `post_author.login` as
//! `post_author`), and fields the platform may add later appear in the JSON
//! only.
//!
//! Text is UTF-8 with a byte order mark, CRLF line ends and a header row.
//! The BOM is there because Excel reads a CSV file without one in the
//! system's legacy code page, which garbles every non-ASCII name; other
//! readers (LibreOffice, Numbers, Python's `utf-8-sig`, pandas) skip it.
//!
//! Cells a spreadsheet would run as a formula (text starting with `=`, `+`,
//! `-`, `@`, tab or CR) get a leading `'`, the usual neutraliser (OWASP,
//! "CSV injection"): spreadsheets show the text and do not evaluate it.
//! Numbers from the JSON are written as they are and never prefixed.

use serde_json::Value;

pub(crate) use crate::connector::Column;

/// The UTF-8 byte order mark (see the module documentation for why).
const BOM: &str = "\u{FEFF}";

/// Separates the elements of a list in one cell.
const LIST_SEPARATOR: &str = ";";

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Appends `value` as one cell: quoted when it holds a separator, a quote or
/// a line break (also the Unicode ones some readers break lines at).
fn push_cell(out: &mut String, value: &Value) {
    let text = match value {
        Value::Null => return,
        Value::Bool(b) => return out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
            return;
        }
        Value::String(s) => neutralise(s),
        Value::Array(items) => std::borrow::Cow::Owned(
            neutralise(
                &items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(LIST_SEPARATOR),
            )
            .into_owned(),
        ),
        Value::Object(_) => std::borrow::Cow::Owned(neutralise(&value.to_string()).into_owned()),
    };
    let needs_quotes = text.contains([',', '"', '\r', '\n', '\u{2028}', '\u{2029}', '\u{85}']);
    if needs_quotes {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&text);
    }
}

/// Text a spreadsheet would run as a formula, with a leading `'`.
fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_START) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// One record as a CSV row, CRLF included. A lone surrogate (kept as sent
/// in the JSON) is U+FFFD here: the record was parsed from its lossy text.
pub(crate) fn push_row(out: &mut String, record: &Value, columns: &[Column]) {
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, record.pointer(&c.pointer).unwrap_or(&Value::Null));
    }
    out.push_str("\r\n");
}

/// What a CSV file starts with: the BOM and the header row.
pub(crate) fn header(columns: &[Column]) -> String {
    let headers: Vec<&str> = columns.iter().map(|c| &*c.header).collect();
    format!("{BOM}{}\r\n", headers.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(category: &str, jsonl: &str) -> String {
        let cols = crate::connector::keepsake()
            .categories()
            .into_iter()
            .find(|d| d.name == category)
            .map(|d| d.csv)
            .filter(|c| !c.is_empty())
            .expect("a CSV category");
        let mut s = header(&cols);
        for line in jsonl.lines() {
            // As the forms are made: parsed from the lossy text.
            let record: Value =
                serde_json::from_str(&crate::json_text::lossy(line)).expect("a record");
            push_row(&mut s, &record, &cols);
        }
        s
    }

    #[test]
    fn an_empty_category_is_a_bom_and_a_header() {
        assert_eq!(
            csv("likes", ""),
            "\u{FEFF}id,created_at,post_id,post_author,post_author_id\r\n"
        );
    }

    #[test]
    fn nested_values_are_flattened() {
        let out = csv(
            "posts",
            "{\"id\":1,\"created_at\":\"2024-01-01T00:00:00Z\",\"body\":\"hi\",\"visibility\":\"public\",\"reply_to\":null,\"media_ids\":[3,4]}\n",
        );
        assert_eq!(
            out.lines().nth(1),
            Some("1,2024-01-01T00:00:00Z,hi,public,,3;4")
        );
        let out = csv(
            "comments",
            "{\"id\":2,\"created_at\":\"t\",\"post_id\":9,\"body\":\"b\",\"post_author\":{\"id\":5,\"login\":\"bob\"}}\n{\"id\":3,\"created_at\":\"t\",\"post_id\":9,\"body\":\"b\",\"post_author\":null}\n",
        );
        let rows: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(rows[1], "2,t,9,b,bob,5");
        assert_eq!(
            rows[2], "3,t,9,b,,",
            "a deleted author leaves the cells empty"
        );
        let out = csv(
            "connections",
            "{\"id\":7,\"created_at\":\"t\",\"direction\":\"follower\",\"user\":{\"id\":8,\"login\":\"z\",\"display_name\":\"Zoë, \\\"Z\\\"\"}}\n",
        );
        assert_eq!(
            out.split("\r\n").nth(1),
            Some("7,t,follower,8,z,\"Zoë, \"\"Z\"\"\"")
        );
    }

    #[test]
    fn separators_quotes_and_line_breaks_are_quoted() {
        for (body, cell) in [
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\r\nlines", "\"two\r\nlines\""),
            ("lf\nonly", "\"lf\nonly\""),
            ("u\u{2028}line", "\"u\u{2028}line\""),
            ("plain text", "plain text"),
        ] {
            let mut out = String::new();
            push_cell(&mut out, &Value::String(body.into()));
            assert_eq!(out, cell, "{body:?}");
        }
    }

    #[test]
    fn formula_cells_are_neutralised_and_numbers_are_not() {
        for (text, cell) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
            ("a=b", "a=b"),
        ] {
            let mut out = String::new();
            push_cell(&mut out, &Value::String(text.into()));
            assert_eq!(out, cell, "{text:?}");
        }
        let mut out = String::new();
        push_cell(&mut out, &serde_json::json!(-3));
        assert_eq!(out, "-3");
    }

    #[test]
    fn a_lone_surrogate_is_a_replacement_character() {
        // Bug pinned: "unexpected end of hex escape" failed the whole export.
        let out = csv("posts", "{\"id\":1,\"body\":\"a\\ud800b\"}\n");
        assert_eq!(out.split("\r\n").nth(1), Some("1,,a\u{FFFD}b,,,"));
    }
}
