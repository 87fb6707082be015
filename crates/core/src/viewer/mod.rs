//! The offline viewer: `index.html` at the archive's root and the data files
//! `data/js/{category}.js` it reads, so that a person can unzip an archive,
//! double-click `index.html` and browse their data with no network, no
//! server and no Keepsake.
//!
//! The page is static: [`index_html`] is the same for every archive of this
//! build. Everything about the account comes from the data files
//! ([`js_data`]), which the viewer renders as text (`textContent`), never as
//! HTML. No archive data is ever templated into the HTML.
//!
//! # Content Security Policy
//!
//! The page carries its policy in a `<meta http-equiv>` tag, since a file
//! opened from disk has no response headers:
//!
//! - `default-src 'none'`, `connect-src 'none'`, `base-uri 'none'`,
//!   `form-action 'none'`: nothing is fetched, framed, posted or embedded.
//! - Scripts: the viewer's JavaScript is inline and allowed by the SHA-256
//!   of its exact text, computed here when the page is rendered, together
//!   with `'strict-dynamic'`. The viewer then loads the data files by
//!   inserting `<script src="data/js/….js">` elements itself; under
//!   `'strict-dynamic'` a hashed script may do that, and nothing else may
//!   load a script. We rely on neither `'self'` nor `file:` for scripts:
//!   hashes apply only to inline scripts, and what `'self'` means for a page
//!   opened from `file://` differs between browsers (Chromium matches any
//!   `file:` URL, the spec treats the origin as opaque). Verified in headless
//!   Chromium from `file://` (tests/viewer): the data scripts run and no
//!   violation is reported. Firefox does not apply CSP to `file:`
//!   subresources at all, so the same page works there. `'self'` is also
//!   listed for browsers without `'strict-dynamic'` (CSP 2), which ignore
//!   the keyword; browsers that support it ignore `'self'`.
//!   The script is the viewer's files (`assets/viewer/*.js`, [`SCRIPTS`])
//!   concatenated in a fixed order inside one strict-mode function, so that
//!   they share their declarations and define no globals; the hash is of
//!   that exact text.
//! - Styles: the stylesheet is inline, allowed by its hash. The viewer
//!   positions rows through the CSSOM (`element.style.top`), which CSP does
//!   not restrict; no `style` attribute is ever written.
//! - Images: `img-src 'self'`, the only way to name "files next to this
//!   page" from `file://` (paths relative to the page cannot be expressed).
//!   The viewer itself only ever points an image at `data/media/{name}`,
//!   and only for PNG, JPEG, GIF and WebP.
//!
//! # Platform HTML
//!
//! WordPress bodies and Matrix `formatted_body` are HTML written by others.
//! The viewer parses them with `DOMParser` (an inert document: scripting off,
//! nothing loaded) and builds new elements from a whitelist, never inserting
//! a parsed node (`sanitise.js`; the tests below keep `DOMParser` there).
//! The policy above needs no `'unsafe-inline'` for that: nothing is written
//! as markup, and no `style` attribute is ever set.

pub mod js_data;

use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub use js_data::{JsData, JsStatements, escape_into, value_file};

/// The page: markup with three slots (`{{csp}}`, `{{style}}`, `{{script}}`).
const TEMPLATE: &str = include_str!("../../assets/viewer/index.html");
/// The stylesheet, inlined into `<style>`.
const STYLE: &str = include_str!("../../assets/viewer/viewer.css");
/// The viewer's files, in the order they are concatenated into the inline
/// `<script>` (each may use what the ones before it declare; only the last
/// runs anything at load time). `tests/viewer/page.mjs` builds the same page
/// for the browser tests and checks it against fresh fixtures.
const SCRIPTS: [(&str, &str); 9] = [
    ("core.js", include_str!("../../assets/viewer/core.js")),
    (
        "sanitise.js",
        include_str!("../../assets/viewer/sanitise.js"),
    ),
    ("list.js", include_str!("../../assets/viewer/list.js")),
    (
        "keepsake.js",
        include_str!("../../assets/viewer/keepsake.js"),
    ),
    ("entries.js", include_str!("../../assets/viewer/entries.js")),
    ("chat.js", include_str!("../../assets/viewer/chat.js")),
    (
        "chat-view.js",
        include_str!("../../assets/viewer/chat-view.js"),
    ),
    ("about.js", include_str!("../../assets/viewer/about.js")),
    ("app.js", include_str!("../../assets/viewer/app.js")),
];

/// Opens and closes the one function scope the files share.
const SCRIPT_OPEN: &str = "(function () {\n'use strict';\n";
const SCRIPT_CLOSE: &str = "})();\n";

/// The page's name at the archive root (a BagIt tag file).
pub const INDEX_NAME: &str = "index.html";

/// The folder of the data files, inside `data/`.
pub const DATA_DIR: &str = "js";

/// The data file of `category`, as a path inside `data/`.
pub fn data_file(category: &str) -> String {
    format!("{DATA_DIR}/{category}.js")
}

/// `'sha256-…'` of `text` as CSP spells it.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The inline texts exactly as they go between the tags (and are hashed).
fn inline_style() -> String {
    format!("\n{STYLE}")
}

fn inline_script() -> String {
    let mut text = format!("\n{SCRIPT_OPEN}");
    for (_, part) in SCRIPTS {
        text.push_str(part);
        if !part.ends_with('\n') {
            text.push('\n');
        }
    }
    text.push_str(SCRIPT_CLOSE);
    text
}

/// The page's Content Security Policy.
pub fn csp() -> String {
    format!(
        "default-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'; \
         img-src 'self'; style-src {}; script-src {} 'strict-dynamic' 'self'",
        csp_hash(&inline_style()),
        csp_hash(&inline_script()),
    )
}

/// `index.html` for an archive: static markup, the policy, the inline
/// stylesheet and script. The same for every archive of this build.
pub fn index_html() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        // Safe to place verbatim: none of them can close its element or
        // attribute (checked by the tests below).
        TEMPLATE
            .replacen("{{csp}}", &csp(), 1)
            .replacen("{{style}}", &inline_style(), 1)
            .replacen("{{script}}", &inline_script(), 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_a_strict_policy() {
        let page = index_html();
        let meta = format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
            csp()
        );
        assert!(page.contains(&meta), "the CSP meta tag is in the page");
        let policy = csp();
        for part in [
            "default-src 'none'",
            "connect-src 'none'",
            "img-src 'self'",
            "'strict-dynamic'",
        ] {
            assert!(policy.contains(part), "{part} in {policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        // The policy must come before anything it governs.
        let at = page.find("Content-Security-Policy").expect("meta");
        assert!(at < page.find("<style>").expect("style"));
        assert!(at < page.find("<script>").expect("script"));
    }

    #[test]
    fn the_hashes_are_of_the_exact_inline_text() {
        let page = index_html();
        let between = |open: &str, close: &str| -> String {
            let start = page.find(open).expect("open") + open.len();
            let end = start + page[start..].find(close).expect("close");
            page[start..end].to_owned()
        };
        let script = between("<script>", "</script>");
        let style = between("<style>", "</style>");
        assert!(csp().contains(&csp_hash(&script)));
        assert!(csp().contains(&csp_hash(&style)));
        // One inline script, one stylesheet: nothing else to allow.
        assert_eq!(page.matches("<script").count(), 1);
        assert_eq!(page.matches("<style").count(), 1);
    }

    #[test]
    fn the_inline_texts_cannot_break_out_of_their_elements() {
        let script = inline_script();
        assert!(!script.to_ascii_lowercase().contains("</script"));
        assert!(!script.contains("<!--"));
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        assert!(!csp().contains('"') && !csp().contains('&') && !csp().contains('<'));
        for slot in ["{{csp}}", "{{style}}", "{{script}}"] {
            assert_eq!(TEMPLATE.matches(slot).count(), 1, "{slot}");
            assert!(!index_html().contains(slot));
        }
    }

    #[test]
    fn the_viewer_never_writes_html() {
        // Strings from the archive are rendered as text; these APIs would
        // parse them as markup or code.
        for api in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setAttribute('style'",
            "createContextualFragment",
            "srcdoc",
            // A node of a parsed document must never enter the page.
            "importNode",
            "adoptNode",
        ] {
            for (name, part) in SCRIPTS {
                assert!(!part.contains(api), "{name} uses {api}");
            }
        }
    }

    #[test]
    fn no_two_files_declare_the_same_name() {
        // They share one scope: a second declaration would silently
        // replace the first.
        let mut seen = std::collections::HashMap::new();
        for (name, part) in SCRIPTS {
            for line in part.lines() {
                let Some(rest) = line
                    .strip_prefix("function ")
                    .or_else(|| line.strip_prefix("var "))
                else {
                    continue;
                };
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '$')
                    .collect();
                if let Some(first) = seen.insert(ident.clone(), name) {
                    panic!("{ident} is declared in {first} and in {name}");
                }
            }
        }
    }

    #[test]
    fn platform_html_is_parsed_only_by_the_sanitiser() {
        for (name, part) in SCRIPTS {
            let parses = part.contains("DOMParser") || part.contains("parseFromString");
            assert_eq!(parses, name == "sanitise.js", "{name}");
        }
    }

    #[test]
    fn the_script_is_its_files_in_order_in_one_strict_scope() {
        let script = inline_script();
        assert!(script.starts_with("\n(function () {\n'use strict';\n"));
        assert!(script.ends_with("})();\n"));
        let mut at = 0;
        for (name, part) in SCRIPTS {
            let found = script[at..].find(part).map(|i| i + at);
            assert!(
                found.is_some(),
                "{name} is in the script, after the files before it"
            );
            at = found.unwrap_or(at) + part.len();
        }
        // Only the last file starts the viewer; each file is small enough to read.
        for (name, part) in SCRIPTS {
            assert_eq!(part.contains("start();"), name == "app.js", "{name}");
            assert!(
                part.lines().count() < 600,
                "{name} has {} lines",
                part.lines().count()
            );
        }
    }

    #[test]
    fn data_files_live_under_data_js() {
        assert_eq!(data_file("posts"), "js/posts.js");
    }
}
