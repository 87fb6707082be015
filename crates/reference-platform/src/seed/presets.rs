//! The presets: what `demo`, `edge` and `large` hold.

use super::*;

pub(super) fn demo(s: &mut Seeder<'_>, opts: &SeedOptions) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    for (login, name, role, password) in DEMO_ACCOUNTS {
        ids.push(s.user(login, name, role, Some(password))?);
    }
    let (alice, bob, carol) = (ids[0], ids[1], ids[2]);
    s.set_profile(
        alice,
        "Curious about everything. Gardens, bicycles and old maps.",
        Some("Oxford"),
        Some("https://alice.example.org"),
    )?;
    s.set_profile(
        bob,
        "Database person. Please sanitise your inputs.",
        Some("Utrecht"),
        None,
    )?;
    let (friends, pool) = s.fillers("friend", 12, 15)?;
    let alice_posts = s.posts(alice, opts.posts.unwrap_or(150))?;
    let bob_posts = s.posts(bob, 40)?;
    s.posts(carol, 5)?;
    s.comments(alice, &pool, 60)?;
    s.comments(alice, &bob_posts, 20)?;
    s.comments(bob, &alice_posts, 25)?;
    s.likes(alice, &pool, 90)?;
    s.likes(bob, &alice_posts, 30)?;
    for (i, f) in friends.iter().enumerate() {
        if i % 2 == 0 {
            s.follow(alice, *f)?;
        }
        if i % 3 != 0 {
            s.follow(*f, alice)?;
        }
    }
    s.follow(alice, bob)?;
    s.follow(bob, alice)?;
    let media = opts.media.unwrap_or(12);
    for i in 0..media {
        let post = s.rng.in_range(&alice_posts);
        if i % 3 == 2 {
            let len = 2_000 + s.rng.below(6_000) as usize;
            let bytes = s.text_file(len);
            s.media(
                alice,
                Some(post),
                &format!("notes-{i:02}.txt"),
                "text/plain; charset=utf-8",
                &bytes,
                None,
            )?;
        } else {
            let bytes = s.png(320, 240, 4);
            s.media(
                alice,
                Some(post),
                &format!("photo-{i:02}.png"),
                "image/png",
                &bytes,
                Some("A colourful gradient photo"),
            )?;
        }
    }
    let bytes = s.png(128, 128, 3);
    let avatar = s.media(
        alice,
        None,
        "avatar.png",
        "image/png",
        &bytes,
        Some("Alice's avatar"),
    )?;
    s.tx.execute(
        "UPDATE users SET avatar_media_id = ?1 WHERE id = ?2",
        params![avatar, alice],
    )
    .map_err(|e| s.err(e))?;
    for i in 0..4 {
        let post = s.rng.in_range(&bob_posts);
        let bytes = s.png(200, 150, 5);
        s.media(
            bob,
            Some(post),
            &format!("bob-{i}.png"),
            "image/png",
            &bytes,
            None,
        )?;
    }
    let creds: Vec<(&str, &str)> = DEMO_ACCOUNTS.iter().map(|(l, _, _, p)| (*l, *p)).collect();
    s.tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('demo_credentials', ?1)",
        [serde_json::to_string(&creds).unwrap_or_default()],
    )
    .map_err(|e| s.err(e))?;
    Ok(())
}

pub(super) fn edge(s: &mut Seeder<'_>, opts: &SeedOptions) -> Result<(), StoreError> {
    let mut ids = Vec::new();
    for login in EDGE_ACCOUNTS {
        let role = if login == "support" {
            "support"
        } else {
            "user"
        };
        let password = format!("{login}-edge-password");
        ids.push(s.user(login, login, role, Some(&password))?);
    }
    let (_empty, prolific, unicode, hostile) = (ids[0], ids[1], ids[2], ids[3]);
    let (friends, pool) = s.fillers("peer", 5, 10)?;

    s.posts(prolific, opts.posts.unwrap_or(10_000))?;
    s.comments(prolific, &pool, 50)?;
    s.likes(prolific, &pool, 50)?;

    // Unicode in every field: emoji with ZWJ, RTL scripts, NFD, astral
    // planes. The login stays ASCII: it is what tests and people type to
    // sign in. The email has a Unicode local part and domain (RFC 6531).
    s.tx.execute(
        "UPDATE users SET email = ?6, display_name = ?2, bio = ?3, location = ?4, website = ?5 WHERE id = ?1",
        params![
            unicode,
            "Zoe\u{0308} 👩‍👩‍👧 مرحبا",
            "שלום עולם — 你好，世界 — 𝕳𝖊𝖑𝖑𝖔 — cafe\u{301} vs caf\u{e9}",
            "Zürich 🇨🇭",
            "https://bücher.example/ñandú",
            UNICODE_EMAIL
        ],
    )
    .map_err(|e| s.err(e))?;
    let unicode_bodies = [
        "Emoji: 👩‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 👍🏽",
        "العربية من اليمين إلى اليسار مع English في الوسط",
        "עברית עם מספרים 123 ו-English",
        "NFD: e\u{301}te\u{301} — NFC: \u{e9}t\u{e9}",
        "Astral: 𝄞 𝕬 🀄 𐍈",
        "Zero\u{200b}width\u{200d}joiners and\u{00a0}no-break spaces",
        "CJK: 日本語のテキスト、中文文本、한국어 텍스트",
        "Combining: Z\u{351}\u{36b}\u{343}a\u{33e}\u{35b}l\u{346}g\u{30e}o\u{310}",
    ];
    let posts = s.posts_with(unicode, 40, |_, i| {
        unicode_bodies[i as usize % unicode_bodies.len()].to_owned()
    })?;
    s.comments_with(unicode, &posts, UNICODE_COMMENTS.len() as u64, |_, i| {
        UNICODE_COMMENTS[i as usize].to_owned()
    })?;
    for (i, name) in [
        "ファイル.txt",
        "caf\u{e9}.png",
        "cafe\u{301}.png",
        "😀.txt",
        "مرحبا.txt",
    ]
    .iter()
    .enumerate()
    {
        let bytes = if name.ends_with(".png") {
            s.png(64, 64, 8)
        } else {
            s.text_file(500)
        };
        let ct = if name.ends_with(".png") {
            "image/png"
        } else {
            "text/plain; charset=utf-8"
        };
        s.media(
            unicode,
            Some(*posts.start() + i as i64),
            name,
            ct,
            &bytes,
            Some("صورة — 画像 — 👀"),
        )?;
    }

    let hposts = s.posts_with(hostile, HOSTILE_BODIES.len() as u64 * 2, |_, i| {
        HOSTILE_BODIES[i as usize % HOSTILE_BODIES.len()].to_owned()
    })?;
    s.comments(hostile, &hposts, 10)?;
    s.set_profile(
        hostile,
        "<b>bold</b><script>alert('bio')</script>",
        Some("\u{2028}"),
        Some("javascript:alert(1)"),
    )?;
    for (i, name) in hostile_filenames().iter().enumerate() {
        let (ct, bytes): (&str, Vec<u8>) = if name == "evil.svg" {
            ("image/svg+xml", b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script></svg>".to_vec())
        } else if name == "page.html" {
            (
                "text/html",
                b"<!doctype html><html><body><script>alert('page')</script></body></html>".to_vec(),
            )
        } else if name.to_ascii_lowercase().ends_with(".png") {
            ("image/png", s.png(32, 32, 8))
        } else {
            (
                "application/octet-stream",
                format!("hostile file {i}\n").into_bytes(),
            )
        };
        let alt = "<img src=x onerror=alert('alt')>";
        s.media(
            hostile,
            Some(*hposts.start() + (i as i64 % HOSTILE_BODIES.len() as i64)),
            name,
            ct,
            &bytes,
            Some(alt),
        )?;
    }
    for f in &friends {
        s.follow(*f, hostile)?;
        s.follow(unicode, *f)?;
        s.follow(prolific, *f)?;
    }
    Ok(())
}

pub(super) fn large(s: &mut Seeder<'_>, opts: &SeedOptions) -> Result<(), StoreError> {
    let user = s.user("large", "Large Account", "user", Some("large-password"))?;
    s.user("support", "Support", "support", Some("support-password"))?;
    let (friends, pool) = s.fillers("fan", 200, 2)?;
    let posts = s.posts(user, opts.posts.unwrap_or(100_000))?;
    s.comments(user, &pool, 20_000)?;
    s.likes(user, &pool, 20_000)?;
    for (i, f) in friends.iter().enumerate() {
        s.follow(*f, user)?;
        if i % 2 == 0 {
            s.follow(user, *f)?;
        }
    }
    // ≈ 1 GB: 70 % incompressible PNGs of ≈ 600 KB, 30 % text of ≈ 200 KB.
    let media = opts.media.unwrap_or(2_000);
    for i in 0..media {
        let post = if posts.is_empty() {
            None
        } else {
            Some(s.rng.in_range(&posts))
        };
        if i % 10 < 7 {
            let side = 400 + s.rng.below(100) as u32;
            let bytes = s.png(side, side, 8);
            s.media(
                user,
                post,
                &format!("IMG_{i:05}.png"),
                "image/png",
                &bytes,
                None,
            )?;
        } else {
            let len = 150_000 + s.rng.below(100_000) as usize;
            let bytes = s.text_file(len);
            s.media(
                user,
                post,
                &format!("notes_{i:05}.txt"),
                "text/plain; charset=utf-8",
                &bytes,
                None,
            )?;
        }
    }
    Ok(())
}
