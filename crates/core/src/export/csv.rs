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

/// The columns of a category's CSV copy, each pointer split into its
/// reference tokens once (RFC 6901: `~1` is `/`, `~0` is `~`).
/// `Value::pointer` splits and unescapes the pointer again for every cell,
/// two allocations a token, which for a million records showed in profiles.
#[derive(Clone)]
pub(crate) struct Layout {
    columns: std::borrow::Cow<'static, [Column]>,
    /// Per column: its tokens, or `None` for a pointer that names nothing
    /// (one not starting with `/`, as `Value::pointer` has it).
    paths: std::sync::Arc<[Option<Vec<String>>]>,
}

impl Layout {
    pub(crate) fn new(columns: std::borrow::Cow<'static, [Column]>) -> Self {
        let paths = columns.iter().map(|c| tokens(&c.pointer)).collect();
        Self { columns, paths }
    }

    /// What a CSV file starts with: the BOM and the header row.
    pub(crate) fn header(&self) -> String {
        let headers: Vec<&str> = self.columns.iter().map(|c| &*c.header).collect();
        format!("{BOM}{}\r\n", headers.join(","))
    }

    /// One record as a CSV row, CRLF included. A lone surrogate (kept as
    /// sent in the JSON) is U+FFFD here: the record was parsed from its
    /// lossy text.
    pub(crate) fn push_row(&self, out: &mut String, record: &Value) {
        for (i, path) in self.paths.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if let Some(value) = path.as_deref().and_then(|p| lookup(record, p)) {
                push_cell(out, value);
            }
        }
        out.push_str("\r\n");
    }
}

/// A JSON Pointer's reference tokens, unescaped; `None` if it names nothing.
fn tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// The value at `tokens` in `record`, as `Value::pointer` finds it.
fn lookup<'v>(record: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens
        .iter()
        .try_fold(record, |target, token| match target {
            Value::Object(map) => map.get(token.as_str()),
            Value::Array(list) => index(token).and_then(|i| list.get(i)),
            _ => None,
        })
}

/// An array index token: digits, no sign and no leading zero (RFC 6901).
fn index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

/// Appends `value` as one cell (see [`crate::csv_cell`]): numbers as they
/// are (never taken for a formula), lists joined, objects as JSON.
fn push_cell(out: &mut String, value: &Value) {
    let joined;
    let text: &str = match value {
        Value::Null => return,
        Value::Bool(b) => return out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            use std::fmt::Write;
            let _ = write!(out, "{n}");
            return;
        }
        Value::String(s) => s,
        Value::Array(items) => {
            let mut list = String::new();
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    list.push_str(LIST_SEPARATOR);
                }
                match v {
                    Value::String(s) => list.push_str(s),
                    other => list.push_str(&other.to_string()),
                }
            }
            joined = list;
            &joined
        }
        Value::Object(_) => {
            joined = value.to_string();
            &joined
        }
    };
    crate::csv_cell::push_text(out, text);
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
        let layout = Layout::new(cols);
        let mut s = layout.header();
        for line in jsonl.lines() {
            // As the forms are made: parsed from the lossy text.
            let record: Value =
                serde_json::from_str(&crate::json_text::lossy(line)).expect("a record");
            layout.push_row(&mut s, &record);
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
    fn pointers_find_what_value_pointer_finds() {
        let record = serde_json::json!({
            "a": {"b/c": [10, {"d~e": "deep"}], "": "empty key"},
            "list": ["x", "y"],
            "0": "zero"
        });
        for pointer in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/",
            "/list/1",
            "/list/01",
            "/list/+1",
            "/list/2",
            "/list/-",
            "/0",
            "/a/b~1c/0/x",
            "a",
            "/missing",
            "/a/b/c",
        ] {
            let path = tokens(pointer);
            assert_eq!(
                path.as_deref().and_then(|p| lookup(&record, p)),
                record.pointer(pointer),
                "{pointer:?}"
            );
        }
    }

    #[test]
    fn a_lone_surrogate_is_a_replacement_character() {
        // Bug pinned: "unexpected end of hex escape" failed the whole export.
        let out = csv("posts", "{\"id\":1,\"body\":\"a\\ud800b\"}\n");
        assert_eq!(out.split("\r\n").nth(1), Some("1,,a\u{FFFD}b,,,"));
    }
}
