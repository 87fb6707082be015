//! Text from a platform on its way to a person.
//!
//! A login, a display name or a problem `detail` is chosen by the server, and
//! a terminal obeys what it is sent: an escape sequence can clear the screen,
//! move the cursor and overwrite lines, fake output or retitle the window,
//! and a bidi override can make text read differently from what it is. Every
//! front end passes what it shows through these functions at its output
//! boundary, so nothing depends on each call site remembering which value
//! came from where.
//!
//! The rule: every C0 control, DEL, every C1 control and the bidi embedding,
//! override and isolate characters are shown as a visible escape (`\x1b`,
//! `\u{202e}`) instead of being sent. Nothing else is changed.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or a notification as it is.
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

/// `s` with every unsafe character (see [`is_unsafe`]) written as a visible
/// escape: `\x1b` for C0, DEL and C1 controls, `\u{202e}` for bidi controls.
/// For one-line text (a name, a title, an error message): line ends are
/// escaped too, so a platform cannot fake a line of output either.
pub fn sanitize_for_terminal(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// Like [`sanitize_for_terminal`], but keeps line feeds: for the front end's
/// own multi-line text (a summary, a list). A carriage return, which lets
/// what follows overwrite the line, is still escaped.
pub fn sanitize_lines(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n')
}

/// JSON text (as serde_json writes it) with DEL, the C1 controls and the bidi
/// controls written as `\uXXXX` escapes. serde_json escapes only the C0
/// controls; the others are valid raw in JSON strings, and a terminal showing
/// `--json` output would obey them. The escaped text parses to the same
/// value: outside strings JSON is ASCII, so each such character is inside a
/// string, where `\uXXXX` means that same character.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        // The C0 controls cannot be here raw (serde_json escapes them); a raw
        // one would make the text invalid JSON anyway, so escaping it helps.
        if is_unsafe(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !is_unsafe(c) || keep(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reach_the_terminal_only_as_visible_text() {
        // Issue 14: a login "\x1b[2J…" cleared the screen of whoever ran
        // `keepsake whoami`.
        assert_eq!(sanitize_for_terminal("\u{1b}[2Jevil"), "\\x1b[2Jevil");
        assert_eq!(
            sanitize_for_terminal("a\u{7}b\u{7f}c\u{9b}31m"),
            "a\\x07b\\x7fc\\x9b31m"
        );
        assert_eq!(sanitize_for_terminal("x\ry\nz\t"), "x\\x0dy\\x0az\\x09");
        assert_eq!(
            sanitize_for_terminal("\u{202e}gpj.exe\u{2066}\u{2069}"),
            "\\u{202e}gpj.exe\\u{2066}\\u{2069}"
        );
    }

    #[test]
    fn ordinary_text_is_untouched_and_not_copied() {
        for s in [
            "alice",
            "Zoë — «quoted» 日本語 🎉",
            "path\\with\\backslashes",
            "",
        ] {
            assert!(matches!(sanitize_for_terminal(s), Cow::Borrowed(_)), "{s}");
            assert!(matches!(sanitize_lines(s), Cow::Borrowed(_)), "{s}");
            assert!(matches!(json_for_terminal(s), Cow::Borrowed(_)), "{s}");
        }
        // Left-to-right and right-to-left marks are not overrides.
        assert_eq!(
            sanitize_for_terminal("a\u{200e}b\u{200f}"),
            "a\u{200e}b\u{200f}"
        );
    }

    #[test]
    fn lines_keep_their_line_feeds_but_not_carriage_returns() {
        assert_eq!(
            sanitize_lines("one\ntwo\r\u{1b}[1Athree"),
            "one\ntwo\\x0d\\x1b[1Athree"
        );
    }

    #[test]
    fn json_stays_the_same_value_without_raw_controls() {
        let value = serde_json::json!({
            "login": "\u{1b}[2Jevil\u{9b}\u{7f}",
            "name": "\u{202e}olleh\u{2069}",
            "plain": "ok",
        });
        let text = serde_json::to_string(&value).unwrap();
        let safe = json_for_terminal(&text);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn every_unsafe_character_is_escaped_and_nothing_else() {
        for n in 0..=0x3000u32 {
            let Some(c) = char::from_u32(n) else { continue };
            let s = c.to_string();
            let out = sanitize_for_terminal(&s);
            assert!(!out.chars().any(is_unsafe), "U+{n:04X} came through");
            assert_eq!(is_unsafe(c), out != s, "U+{n:04X}");
        }
    }
}
