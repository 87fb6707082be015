//! Entry names built from what the platform sent.
//!
//! Media file names come from other people's uploads and must be treated as
//! hostile: `../../etc/passwd`, `C:\x\evil.txt`, `CON`, names that differ only
//! in case or in Unicode normalisation, control characters, bidi overrides
//! that make `exe.txt` read as `txt.exe`. [`NameAllocator`] turns each into a
//! single path component that extracts to the same, distinct file on Linux,
//! macOS and Windows, and never escapes its folder.

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;

use super::bagit::{BAG_INFO_TXT, BAGIT_TXT};

/// The longest name [`NameAllocator::allocate`] returns, in UTF-8 bytes.
/// File systems allow 255; the margin leaves room for a tool that adds its
/// own suffix on extraction.
pub const MAX_NAME_BYTES: usize = 200;

/// Extensions up to this length survive truncation; a longer "extension" is
/// just part of the name.
const MAX_EXTENSION_BYTES: usize = 16;

/// What a name becomes when nothing usable is left of it and of the fallback.
const LAST_RESORT: &str = "file";

/// Hands out names for one folder of the archive: each is a safe single path
/// component and none equals an earlier one, even ignoring case.
///
/// The result depends only on the sequence of calls, so the same export
/// always produces the same names.
#[derive(Debug, Clone, Default)]
pub struct NameAllocator {
    /// Comparison keys ([`fold_key`]) of every name handed out or reserved.
    taken: HashSet<String>,
    /// For a name before de-duplication, the next " (n)" to try, so that many
    /// files with the same name do not cost quadratic time.
    next_suffix: HashMap<String, u64>,
}

impl NameAllocator {
    /// An allocator with no name taken.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `name` as taken (e.g. `manifest.json` next to the media), so that
    /// no allocated name collides with it, ignoring case. Returns `false` if
    /// it was already taken.
    pub fn reserve(&mut self, name: &str) -> bool {
        self.taken.insert(fold_key(name))
    }

    /// A safe, unused name for `raw`.
    ///
    /// The name is NFC-normalised; path separators, control and bidi
    /// characters, the characters Windows forbids (`<>:"|?*`) and `%` (which
    /// BagIt tools encode differently in manifests) become `_`;
    /// leading and trailing dots and spaces go; Windows device names (`CON`,
    /// `aux.jpg`, …) get a `_` prefix; it is cut to [`MAX_NAME_BYTES`]
    /// keeping a short extension; a name already taken (ignoring case) gets
    /// " (2)", " (3)", … before its extension. When nothing is left of `raw`
    /// (`""`, `".."`), `fallback_stem` is used instead, cleaned the same way.
    pub fn allocate(&mut self, raw: &str, fallback_stem: &str) -> String {
        let clean = clean(raw)
            .or_else(|| clean(fallback_stem))
            .unwrap_or_else(|| LAST_RESORT.to_owned());
        let (stem, ext) = split_extension(&clean);
        let base_key = fold_key(&fit(stem, "", ext));
        let mut n = self.next_suffix.get(&base_key).copied().unwrap_or(1);
        loop {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!(" ({n})")
            };
            let candidate = fit(stem, &suffix, ext);
            if self.taken.insert(fold_key(&candidate)) {
                self.next_suffix.insert(base_key, n + 1);
                return candidate;
            }
            n += 1;
        }
    }
}

/// The key under which two names count as the same file: NFC and
/// case-folded the way case-insensitive file systems compare (upper then
/// lower case, so that `ς`, `σ` and `Σ` all match).
pub fn fold_key(name: &str) -> String {
    let nfc: String = name.nfc().collect();
    nfc.to_uppercase().to_lowercase().nfc().collect()
}

/// Whether Windows treats `name` as a device rather than a file: `CON`,
/// `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9` (and their superscript
/// forms), `CONIN$`, `CONOUT$`, in any case and with any extension.
pub fn is_windows_device_name(name: &str) -> bool {
    const DEVICES: [&str; 6] = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
    let stem = name.split('.').next().unwrap_or("").trim_end_matches(' ');
    if DEVICES.iter().any(|d| stem.eq_ignore_ascii_case(d)) {
        return true;
    }
    let mut chars = stem.chars();
    let prefix: String = chars.by_ref().take(3).collect();
    let rest = chars.as_str();
    (prefix.eq_ignore_ascii_case("COM") || prefix.eq_ignore_ascii_case("LPT"))
        && matches!(
            rest,
            "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
        )
}

/// Whether `c` must not appear in an entry name.
fn forbidden(c: char) -> bool {
    // '%' is legal everywhere, but BagIt tools disagree on how manifests
    // encode it (RFC 8493 says "%25", bagit-python writes and reads "%"):
    // without it, every validator finds every file.
    matches!(
        c,
        '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*' | '%'
    ) || c.is_control()
        || matches!(
            c,
            // Bidi marks, embeddings, overrides and isolates: they make a name
            // display differently from what it is.
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators: line breaks in listings and manifests.
            | '\u{2028}' | '\u{2029}'
            // Byte order mark and noncharacters: invisible or refused by some file systems.
            | '\u{FEFF}' | '\u{FDD0}'..='\u{FDEF}'
        )
        || (c as u32) & 0xFFFE == 0xFFFE
}

/// `raw` made safe, or `None` when nothing is left of it.
fn clean(raw: &str) -> Option<String> {
    let replaced: String = raw
        .nfc()
        .map(|c| if forbidden(c) { '_' } else { c })
        .collect();
    // Windows drops trailing dots and spaces; leading dots hide files (and
    // "." and ".." are not names at all).
    let trimmed = replaced.trim_matches(['.', ' ']);
    if trimmed.is_empty() {
        return None;
    }
    let named = if is_windows_device_name(trimmed) {
        format!("_{trimmed}")
    } else {
        trimmed.to_owned()
    };
    // Trimming can leave a combining mark first; normalise the result again.
    Some(named.nfc().collect())
}

/// `name` as stem and extension (with its dot); the extension is empty when
/// there is none or it is too long to be one.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= MAX_EXTENSION_BYTES => name.split_at(dot),
        _ => (name, ""),
    }
}

/// `stem + suffix + ext`, with the stem cut (at a character boundary) so the
/// whole fits in [`MAX_NAME_BYTES`].
fn fit(stem: &str, suffix: &str, ext: &str) -> String {
    let budget = MAX_NAME_BYTES.saturating_sub(suffix.len() + ext.len());
    let mut end = stem.len().min(budget);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = &stem[..end];
    if end < stem.len() {
        // A cut can end the name in a dot or space, which Windows drops.
        cut = cut.trim_end_matches(['.', ' ']);
    }
    format!("{cut}{suffix}{ext}")
}

/// Longest entry path accepted, in bytes: beyond this no file system can
/// extract it.
const MAX_PATH_BYTES: usize = 4096;

/// The names in an archive, compared as extraction would see them: ignoring
/// case and Unicode normalisation ([`fold_key`]), files and folders apart.
#[derive(Debug, Default, Clone)]
pub(super) struct NameSet {
    /// [`fold_key`]s of every file name written or set aside.
    files: HashSet<String>,
    /// [`fold_key`]s of every folder implied by a file name.
    dirs: HashSet<String>,
}

impl NameSet {
    /// Why `name` cannot be added, if it cannot: malformed, or clashing with
    /// a name already taken.
    pub(super) fn check(&self, name: &str) -> std::result::Result<(), String> {
        check_entry_path(name).map_err(|why| format!("the entry name {name:?} {why}"))?;
        let key = fold_key(name);
        if self.files.contains(&key) {
            return Err(format!(
                "the entry name {name:?} is already in the archive (names are compared ignoring case)"
            ));
        }
        if self.dirs.contains(&key) {
            return Err(format!(
                "the entry name {name:?} is already a folder in the archive"
            ));
        }
        // Folding keeps every '/', so the n-th '/' of the key is the n-th of the name.
        for ((k, _), (n, _)) in key.match_indices('/').zip(name.match_indices('/')) {
            if self.files.contains(&key[..k]) {
                return Err(format!(
                    "the entry name {name:?} would be inside {:?}, which is a file in the archive",
                    &name[..n]
                ));
            }
        }
        Ok(())
    }

    /// Records `name` as taken, with its folders.
    pub(super) fn claim(&mut self, name: &str) {
        let key = fold_key(name);
        for (i, _) in key.match_indices('/') {
            self.dirs.insert(key[..i].to_owned());
        }
        self.files.insert(key);
    }
}

/// Why `name` cannot be a tag file, if it cannot: tag files live outside
/// `data/` and may not be, or look like, one of the bag's own.
pub(super) fn check_tag_name(name: &str) -> std::result::Result<(), String> {
    let key = fold_key(name);
    let first = key.split('/').next().unwrap_or("");
    let own = key == BAGIT_TXT
        || key == BAG_INFO_TXT
        || ((key.starts_with("manifest-") || key.starts_with("tagmanifest-"))
            && key.ends_with(".txt"));
    if first == "data" || own {
        return Err(format!(
            "{name:?} cannot be a tag file: the name belongs to the payload or to the bag's own tag files"
        ));
    }
    Ok(())
}

/// Why `path` is not a valid entry path, if it is not.
fn check_entry_path(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err("is longer than 4096 bytes");
    }
    if path.starts_with('/') {
        return Err("starts with '/'");
    }
    if path.contains('\\') {
        return Err("contains a backslash");
    }
    if path.contains('\0') {
        return Err("contains a NUL character");
    }
    for part in path.split('/') {
        if part.is_empty() {
            return Err("has an empty component");
        }
        if part == "." || part == ".." {
            return Err("has a '.' or '..' component");
        }
        if part.starts_with(char::is_whitespace) || part.ends_with(char::is_whitespace) {
            return Err("has a component that starts or ends with white space");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::is_nfc;

    fn hostile() -> Vec<String> {
        let mut names: Vec<String> = [
            "../../etc/passwd",
            "/abs",
            "C:\\x\\evil.txt",
            "CON",
            "con.txt",
            "aux.jpg",
            "COM1.txt",
            "lpt9",
            "nul.tar.gz",
            "COM¹.txt",
            "Photo.png",
            "photo.png",
            "PHOTO.PNG",
            "caf\u{e9}.txt",
            "cafe\u{301}.txt",
            "",
            ".",
            "..",
            "...",
            " . ",
            "trailing dot.",
            "trailing space ",
            ".hidden",
            "tab\there\nnewline.txt",
            "cr\rhere.txt",
            "nul\0byte.txt",
            "\u{fc}/\u{f6}\\\u{e4}.txt",
            "evil\u{202E}gnp.exe",
            "line\u{2028}sep.txt",
            "bom\u{FEFF}.txt",
            "a<b>c:d\"e|f?g*h.txt",
            "100% real.txt",
            "\u{3c2}.txt",
            "\u{3a3}.txt",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.push("x".repeat(1000));
        names.push(format!("{}.jpeg", "y".repeat(996)));
        names.push("\u{e9}".repeat(500));
        names.push(format!("{}.txt", "e\u{301}".repeat(500)));
        names.push(format!("{}.{}", "z".repeat(300), "e".repeat(40)));
        names
    }

    fn assert_safe(name: &str) {
        assert!(!name.is_empty());
        assert!(
            name.len() <= MAX_NAME_BYTES,
            "{name:?} is {} bytes",
            name.len()
        );
        assert!(is_nfc(name), "{name:?} is not NFC");
        assert!(
            !name.chars().any(forbidden),
            "{name:?} has a forbidden character"
        );
        assert!(!name.starts_with(['.', ' ']), "{name:?}");
        assert!(!name.ends_with(['.', ' ']), "{name:?}");
        assert!(!is_windows_device_name(name), "{name:?} is a device name");
        assert_ne!(name, "..");
    }

    #[test]
    fn hostile_names_become_safe_distinct_components() {
        let mut alloc = NameAllocator::new();
        let out: Vec<String> = hostile()
            .iter()
            .map(|raw| alloc.allocate(raw, "media"))
            .collect();
        let mut keys = HashSet::new();
        for (raw, name) in hostile().iter().zip(&out) {
            assert_safe(name);
            assert!(keys.insert(fold_key(name)), "{raw:?} → {name:?} collides");
        }
        let by_raw = |raw: &str| {
            let i = hostile()
                .iter()
                .position(|h| h == raw)
                .expect("in the list");
            out[i].clone()
        };
        assert_eq!(by_raw("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(by_raw("/abs"), "_abs");
        assert_eq!(by_raw("C:\\x\\evil.txt"), "C__x_evil.txt");
        assert_eq!(by_raw("CON"), "_CON");
        assert_eq!(by_raw("con.txt"), "_con.txt");
        assert_eq!(by_raw("aux.jpg"), "_aux.jpg");
        assert_eq!(by_raw("COM1.txt"), "_COM1.txt");
        assert_eq!(by_raw("nul.tar.gz"), "_nul.tar.gz");
        assert_eq!(by_raw("COM¹.txt"), "_COM¹.txt");
        assert_eq!(by_raw("Photo.png"), "Photo.png");
        assert_eq!(by_raw("photo.png"), "photo (2).png");
        assert_eq!(by_raw("PHOTO.PNG"), "PHOTO (3).PNG");
        assert_eq!(by_raw("caf\u{e9}.txt"), "caf\u{e9}.txt");
        assert_eq!(
            by_raw("cafe\u{301}.txt"),
            "caf\u{e9} (2).txt",
            "NFD is the same name"
        );
        assert_eq!(by_raw(""), "media");
        assert_eq!(by_raw("."), "media (2)");
        assert_eq!(by_raw(".."), "media (3)");
        assert_eq!(by_raw("trailing dot."), "trailing dot");
        assert_eq!(by_raw("trailing space "), "trailing space");
        assert_eq!(by_raw(".hidden"), "hidden");
        assert_eq!(by_raw("tab\there\nnewline.txt"), "tab_here_newline.txt");
        assert_eq!(by_raw("nul\0byte.txt"), "nul_byte.txt");
        assert_eq!(
            by_raw("\u{fc}/\u{f6}\\\u{e4}.txt"),
            "\u{fc}_\u{f6}_\u{e4}.txt"
        );
        assert_eq!(by_raw("evil\u{202E}gnp.exe"), "evil_gnp.exe");
        assert_eq!(by_raw("a<b>c:d\"e|f?g*h.txt"), "a_b_c_d_e_f_g_h.txt");
        assert_eq!(by_raw("100% real.txt"), "100_ real.txt");
        assert_eq!(
            by_raw("\u{3a3}.txt"),
            "\u{3a3} (2).txt",
            "final sigma and sigma fold together"
        );
        assert_eq!(by_raw(&"x".repeat(1000)), "x".repeat(200));
        assert_eq!(
            by_raw(&format!("{}.jpeg", "y".repeat(996))),
            format!("{}.jpeg", "y".repeat(195))
        );
        assert_eq!(by_raw(&"\u{e9}".repeat(500)), "\u{e9}".repeat(100));
        assert_eq!(
            by_raw(&format!("{}.txt", "e\u{301}".repeat(500))),
            format!("{}.txt", "\u{e9}".repeat(98))
        );
        assert_eq!(
            by_raw(&format!("{}.{}", "z".repeat(300), "e".repeat(40))).len(),
            200
        );
    }

    #[test]
    fn allocation_is_deterministic() {
        let run = || {
            let mut alloc = NameAllocator::default();
            hostile()
                .iter()
                .map(|raw| alloc.allocate(raw, "file"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn duplicates_of_long_names_stay_within_the_limit() {
        let mut alloc = NameAllocator::new();
        let raw = format!("{}.jpg", "\u{e9}".repeat(300));
        let names: Vec<String> = (0..12).map(|_| alloc.allocate(&raw, "file")).collect();
        for name in &names {
            assert_safe(name);
            assert!(name.ends_with(".jpg"));
        }
        assert!(names[11].ends_with(" (12).jpg"), "{}", names[11]);
        let keys: HashSet<String> = names.iter().map(|n| fold_key(n)).collect();
        assert_eq!(keys.len(), names.len());
    }

    #[test]
    fn many_equal_names_are_numbered_in_order() {
        let mut alloc = NameAllocator::new();
        for i in 1..=2000u64 {
            let name = alloc.allocate("IMG.JPG", "file");
            if i == 1 {
                assert_eq!(name, "IMG.JPG");
            } else {
                assert_eq!(name, format!("IMG ({i}).JPG"));
            }
        }
        // A raw name that looks like a generated one is itself de-duplicated.
        assert_eq!(alloc.allocate("img (2).jpg", "file"), "img (2) (2).jpg");
    }

    #[test]
    fn reserved_names_are_never_handed_out() {
        let mut alloc = NameAllocator::new();
        assert!(alloc.reserve("manifest.json"));
        assert!(!alloc.reserve("Manifest.JSON"));
        assert_eq!(alloc.allocate("MANIFEST.json", "file"), "MANIFEST (2).json");
    }

    #[test]
    fn unusable_fallbacks_still_give_a_name() {
        let mut alloc = NameAllocator::new();
        assert_eq!(alloc.allocate("..", ".."), "file");
        assert_eq!(alloc.allocate("", "con"), "_con");
    }

    #[test]
    fn device_names_are_recognised() {
        for name in [
            "CON",
            "con",
            "Con.txt",
            "AUX.tar.gz",
            "com9",
            "LPT1.x",
            "nul ",
            "CONIN$",
            "lpt³.a",
        ] {
            assert!(is_windows_device_name(name), "{name}");
        }
        for name in [
            "CONSOLE",
            "com10",
            "lpt",
            "xcon",
            "_con.txt",
            "COMa",
            "nul_byte.txt",
        ] {
            assert!(!is_windows_device_name(name), "{name}");
        }
    }
}
