//! Deterministic seeding: the same preset and `--seed` always write the same
//! accounts, content and media bytes (only password salts and the signing
//! key differ between runs).
//!
//! Presets:
//! - `demo`: a few friendly accounts with known passwords (shown on the
//!   sign-in page in demo mode) and a modest amount of data;
//! - `edge`: an account with no data, one with 10,000 posts, one with Unicode
//!   in every field, one with hostile content and hostile media file names;
//! - `large`: 100,000 posts, 20,000 comments and 2,000 media (≈ 1 GB).

use std::ops::RangeInclusive;

use rusqlite::{Transaction, params};
use sha2::{Digest, Sha256};

use crate::store::{self, Store, StoreError};

mod presets;

/// A named data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Friendly demo accounts.
    Demo,
    /// Edge cases: empty, prolific, Unicode, hostile.
    Edge,
    /// A big account for benchmarks.
    Large,
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "demo" => Ok(Self::Demo),
            "edge" => Ok(Self::Edge),
            "large" => Ok(Self::Large),
            other => Err(format!(
                "unknown preset '{other}' (use demo, edge or large)"
            )),
        }
    }
}

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    /// The data set.
    pub preset: Preset,
    /// Seed of the generator.
    pub seed: u64,
    /// Override the post count of the preset's biggest account.
    pub posts: Option<u64>,
    /// Override the media count of the preset's biggest account.
    pub media: Option<u64>,
}

/// What was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Accounts.
    pub users: u64,
    /// Posts.
    pub posts: u64,
    /// Comments.
    pub comments: u64,
    /// Likes.
    pub likes: u64,
    /// Follow relations.
    pub connections: u64,
    /// Media items.
    pub media: u64,
    /// Total media bytes.
    pub media_bytes: u64,
}

/// Demo accounts and their passwords; the demo sign-in page shows them.
pub const DEMO_ACCOUNTS: [(&str, &str, &str, &str); 3] = [
    ("alice", "Alice Liddell", "user", "alice-demo-password"),
    ("bob", "Bob Tables", "user", "bob-demo-password"),
    ("carol", "Carol (Support)", "support", "carol-demo-password"),
];

/// Accounts of the edge preset; each has the password `{login}-edge-password`.
pub const EDGE_ACCOUNTS: [&str; 5] = ["empty", "prolific", "unicode", "hostile", "support"];

/// Post bodies of the `hostile` account: markup and script that a viewer
/// must show as text and never run.
pub const HOSTILE_BODIES: [&str; 10] = [
    "</script><script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click me</a>",
    "javascript:alert(document.cookie)",
    "line\u{2028}separator and paragraph\u{2029}separator",
    "<svg onload=alert(1)><circle r=10/></svg>",
    "{{constructor.constructor('alert(1)')()}} ${alert(1)}",
    "=HYPERLINK(\"http://attacker.invalid\",\"click\")",
    "\u{202E}txt.exe — right-to-left override",
    "nul\u{0}byte and control \u{1b}[31m escape",
];

/// Email of the edge preset's `unicode` account: a non-ASCII local part (in
/// NFD) and domain.
pub const UNICODE_EMAIL: &str = "zoe\u{308}.ünïcødé@bücher.example";

/// Comment bodies of the `unicode` account: emoji, right-to-left scripts,
/// NFD next to NFC, astral planes, invisible joiners and combining marks.
pub const UNICODE_COMMENTS: [&str; 10] = [
    "👍🏽 Love this! 👩‍👩‍👧‍👦🎉",
    "شكراً جزيلاً على المشاركة 🌹",
    "תודה רבה! זה מדהים",
    "Re\u{301}sume\u{301} (NFD) vs R\u{e9}sum\u{e9} (NFC)",
    "𝓣𝓱𝓪𝓷𝓴𝓼 — 𝄞🎶",
    "素晴らしい写真ですね！📷",
    "مرحبا mixed with English and עברית in one line",
    "Zero\u{200b}width and\u{00a0}no-break, \u{2066}isolated\u{2069}",
    "한국어 댓글입니다 🇰🇷",
    "Z\u{351}\u{36b}a\u{33e}l\u{346}g\u{30e}o\u{310} says hi 👋",
];

/// Media file names of the `hostile` account, as uploaded.
pub fn hostile_filenames() -> Vec<String> {
    let mut v: Vec<String> = [
        "../../etc/passwd",
        "/abs/path.txt",
        "C:\\x\\evil.txt",
        "CON",
        "con.txt",
        "aux.jpg",
        "COM1.txt",
        "Photo.png",
        "photo.png",
        "PHOTO.PNG",
        "caf\u{e9}.txt",
        "cafe\u{301}.txt",
        "",
        ".",
        "..",
        "trailing dot.",
        "trailing space ",
        "tab\there\nnewline.txt",
        "nul\u{0}byte.txt",
        "\u{fc}/\u{f6}\\\u{e4}.txt",
        "evil.svg",
        "page.html",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    v.push(format!("{}.txt", "a".repeat(996)));
    v.push(format!("{}.txt", "\u{e9}".repeat(500)));
    v
}

/// A small, fast, stable generator (splitmix64): stable across crate
/// versions, so a seed means the same data forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn in_range(&mut self, r: &RangeInclusive<i64>) -> i64 {
        r.start() + self.below((r.end() - r.start() + 1).max(1) as u64) as i64
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

const WORDS: &[&str] = &[
    "garden", "river", "coffee", "morning", "bicycle", "library", "sunset", "tomato", "harbour",
    "violin", "mountain", "letter", "window", "breeze", "market", "kitten", "lantern", "orchard",
    "pebble", "meadow", "thunder", "biscuit", "compass", "festival", "journey", "notebook",
    "puzzle", "quartz", "saffron", "tulip", "umbrella", "velvet", "walnut", "yarn", "zephyr",
    "today", "finally", "really", "little", "bright", "quiet", "lovely", "strange", "early",
    "late", "walked", "found", "baked", "painted", "planted", "wrote", "heard", "watched", "fixed",
    "learned", "the", "a", "my", "our", "with", "under", "over", "near", "after", "before", "and",
    "but", "so",
];

/// 2019-01-01T00:00:00Z: seeded content is dated from here on.
const EPOCH: i64 = 1_546_300_800;
/// Seeded content spans about five years.
const SPAN: i64 = 5 * 365 * 86_400;

struct Seeder<'a> {
    tx: &'a Transaction<'a>,
    rng: Rng,
    report: SeedReport,
    store: &'a Store,
}

fn sentence(rng: &mut Rng, min: u64, max: u64) -> String {
    let n = min + rng.below(max - min + 1);
    let mut s = String::with_capacity(n as usize * 8);
    for i in 0..n {
        if i > 0 {
            s.push(' ');
        }
        let word: &&str = rng.pick(WORDS);
        s.push_str(word);
    }
    if let Some(first) = s.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    s.push('.');
    s
}

impl Seeder<'_> {
    fn err(&self, e: rusqlite::Error) -> StoreError {
        self.store.err(e)
    }

    fn when(&mut self, i: u64, n: u64) -> i64 {
        EPOCH + (SPAN as f64 * (i as f64 / n.max(1) as f64)) as i64 + self.rng.below(3600) as i64
    }

    fn user(
        &mut self,
        login: &str,
        display: &str,
        role: &str,
        password: Option<&str>,
    ) -> Result<i64, StoreError> {
        let hash = password.map(store::hash_password).transpose()?;
        let created = EPOCH - 86_400 * (1 + self.rng.below(900) as i64);
        self.tx
            .execute(
                "INSERT INTO users (login, email, display_name, bio, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![login, format!("{login}@example.invalid"), display, sentence(&mut self.rng, 4, 12), role, hash, created],
            )
            .map_err(|e| self.err(e))?;
        self.report.users += 1;
        Ok(self.tx.last_insert_rowid())
    }

    fn set_profile(
        &mut self,
        id: i64,
        bio: &str,
        location: Option<&str>,
        website: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE users SET bio = ?2, location = ?3, website = ?4 WHERE id = ?1",
                params![id, bio, location, website],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// `n` generated posts; returns their id range.
    fn posts(&mut self, author: i64, n: u64) -> Result<RangeInclusive<i64>, StoreError> {
        self.posts_with(author, n, |rng, _| sentence(rng, 5, 40))
    }

    fn posts_with(
        &mut self,
        author: i64,
        n: u64,
        mut body: impl FnMut(&mut Rng, u64) -> String,
    ) -> Result<RangeInclusive<i64>, StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("INSERT INTO posts (author_id, body, visibility, created_at, created_rev) VALUES (?1, ?2, ?3, ?4, 1)")
            .map_err(|e| self.store.err(e))?;
        let mut first = 0;
        for i in 0..n {
            let text = body(&mut self.rng, i);
            let vis = if self.rng.below(10) == 0 {
                "followers"
            } else {
                "public"
            };
            let at = self.when(i, n);
            stmt.execute(params![author, text, vis, at])
                .map_err(|e| self.store.err(e))?;
            if i == 0 {
                first = self.tx.last_insert_rowid();
            }
        }
        self.report.posts += n;
        Ok(first..=first + n as i64 - 1)
    }

    fn comments(
        &mut self,
        author: i64,
        on: &RangeInclusive<i64>,
        n: u64,
    ) -> Result<(), StoreError> {
        self.comments_with(author, on, n, |rng, _| sentence(rng, 3, 20))
    }

    fn comments_with(
        &mut self,
        author: i64,
        on: &RangeInclusive<i64>,
        n: u64,
        mut body: impl FnMut(&mut Rng, u64) -> String,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("INSERT INTO comments (author_id, post_id, body, created_at, created_rev) VALUES (?1, ?2, ?3, ?4, 1)")
            .map_err(|e| self.store.err(e))?;
        for i in 0..n {
            let post = self.rng.in_range(on);
            let text = body(&mut self.rng, i);
            let at = self.when(i, n);
            stmt.execute(params![author, post, text, at])
                .map_err(|e| self.store.err(e))?;
        }
        self.report.comments += n;
        Ok(())
    }

    fn likes(&mut self, user: i64, on: &RangeInclusive<i64>, n: u64) -> Result<(), StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached("INSERT INTO likes (user_id, post_id, created_at, created_rev) VALUES (?1, ?2, ?3, 1)")
            .map_err(|e| self.store.err(e))?;
        for i in 0..n {
            let post = self.rng.in_range(on);
            let at = self.when(i, n);
            stmt.execute(params![user, post, at])
                .map_err(|e| self.store.err(e))?;
        }
        self.report.likes += n;
        Ok(())
    }

    fn follow(&mut self, follower: i64, followee: i64) -> Result<(), StoreError> {
        let i = self.rng.below(1000);
        let at = self.when(i, 1000);
        self.tx
            .execute(
                "INSERT INTO connections (follower_id, followee_id, created_at, created_rev) VALUES (?1, ?2, ?3, 1)",
                params![follower, followee, at],
            )
            .map_err(|e| self.err(e))?;
        self.report.connections += 1;
        Ok(())
    }

    fn media(
        &mut self,
        owner: i64,
        post: Option<i64>,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
        alt: Option<&str>,
    ) -> Result<i64, StoreError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let i = self.rng.below(1000);
        let at = self.when(i, 1000);
        self.tx
            .execute(
                "INSERT INTO media (owner_id, post_id, filename, content_type, size, sha256, alt_text, created_at, created_rev) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)",
                params![owner, post, filename, content_type, bytes.len() as i64, sha, alt, at],
            )
            .map_err(|e| self.err(e))?;
        let id = self.tx.last_insert_rowid();
        self.tx
            .execute(
                "INSERT INTO media_blobs (media_id, data) VALUES (?1, ?2)",
                params![id, bytes],
            )
            .map_err(|e| self.err(e))?;
        self.report.media += 1;
        self.report.media_bytes += bytes.len() as u64;
        Ok(id)
    }

    /// A real PNG: a colour gradient with `noise` bits of noise per channel
    /// (8 makes it incompressible, like a photo).
    fn png(&mut self, w: u32, h: u32, noise: u32) -> Vec<u8> {
        let mut raw = vec![0u8; (w * h * 3) as usize];
        self.rng.fill(&mut raw);
        let mask = if noise >= 8 { 0xFF } else { (1u8 << noise) - 1 };
        let (r0, g0, b0) = (
            self.rng.below(256) as u32,
            self.rng.below(256) as u32,
            self.rng.below(256) as u32,
        );
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 3) as usize;
                let base = [
                    (r0 + x * 255 / w) % 256,
                    (g0 + y * 255 / h) % 256,
                    (b0 + (x + y) * 128 / (w + h)) % 256,
                ];
                for c in 0..3 {
                    raw[i + c] = (base[c] as u8).wrapping_add(raw[i + c] & mask);
                }
            }
        }
        let mut out = Vec::with_capacity(raw.len() + 1024);
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_compression(png::Compression::Fast);
            let mut writer = enc.write_header().expect("PNG header into memory");
            writer.write_image_data(&raw).expect("PNG data into memory");
        }
        out
    }

    fn text_file(&mut self, approx: usize) -> Vec<u8> {
        let mut s = String::with_capacity(approx + 200);
        while s.len() < approx {
            s.push_str(&sentence(&mut self.rng, 8, 30));
            s.push(if self.rng.below(5) == 0 { '\n' } else { ' ' });
        }
        s.into_bytes()
    }

    fn fillers(
        &mut self,
        prefix: &str,
        n: u64,
        posts_each: u64,
    ) -> Result<(Vec<i64>, RangeInclusive<i64>), StoreError> {
        let mut ids = Vec::new();
        let mut first = None;
        let mut last = 0;
        for i in 1..=n {
            let id = self.user(
                &format!("{prefix}{i:04}"),
                &format!("Friend {i}"),
                "user",
                None,
            )?;
            let r = self.posts(id, posts_each)?;
            first.get_or_insert(*r.start());
            last = *r.end();
            ids.push(id);
        }
        Ok((ids, first.unwrap_or(1)..=last))
    }
}

/// Writes a preset into an empty store.
pub fn seed(store: &Store, opts: &SeedOptions) -> Result<SeedReport, StoreError> {
    let mut conn = store.conn()?;
    let existing: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .map_err(|e| store.err(e))?;
    if existing > 0 {
        return Err(StoreError::Invalid(format!(
            "{} already holds {existing} accounts; seed a new database file (or pass --force to replace it)",
            store.path().display()
        )));
    }
    // Bulk load: durability of each row does not matter until commit.
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -65536;")
        .map_err(|e| store.err(e))?;
    let tx = conn.transaction().map_err(|e| store.err(e))?;
    let mut s = Seeder {
        tx: &tx,
        rng: Rng(opts.seed ^ 0x6B65_6570_7361_6B65),
        report: SeedReport::default(),
        store,
    };
    match opts.preset {
        Preset::Demo => presets::demo(&mut s, opts)?,
        Preset::Edge => presets::edge(&mut s, opts)?,
        Preset::Large => presets::large(&mut s, opts)?,
    }
    let report = s.report.clone();
    tx.commit().map_err(|e| store.err(e))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; ANALYZE;")
        .map_err(|e| store.err(e))?;
    Ok(report)
}
