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
//! - Styles: the stylesheet is inline, allowed by its hash. The viewer
//!   positions rows through the CSSOM (`element.style.top`), which CSP does
//!   not restrict; no `style` attribute is ever written.
//! - Images: `img-src 'self'`, the only way to name "files next to this
//!   page" from `file://` (paths relative to the page cannot be expressed).
//!   The viewer itself only ever points an image at `data/media/{name}`,
//!   and only for PNG, JPEG, GIF and WebP.

pub mod js_data;

use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub use js_data::{JsData, escape_into, value_file};

/// The page: markup with three slots (`{{csp}}`, `{{style}}`, `{{script}}`).
const TEMPLATE: &str = include_str!("../../assets/viewer/index.html");
/// The stylesheet, inlined into `<style>`.
const STYLE: &str = include_str!("../../assets/viewer/viewer.css");
/// The viewer, inlined into `<script>`.
const SCRIPT: &str = include_str!("../../assets/viewer/viewer.js");

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
    format!("\n{SCRIPT}")
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
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!SCRIPT.contains("<!--"));
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
        ] {
            assert!(!SCRIPT.contains(api), "viewer.js uses {api}");
        }
    }

    #[test]
    fn data_files_live_under_data_js() {
        assert_eq!(data_file("posts"), "js/posts.js");
    }
}
