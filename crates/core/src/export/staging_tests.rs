//! Tests of the staging journal: replay, torn lines, reboots.

use super::*;

#[test]
fn the_journal_replays_the_last_state_and_ignores_a_torn_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join(".keepsake-exp_1");
    let mut s = Staging::open(&dir).expect("open");
    s.record(&Checkpoint::Page {
        cat: "posts".into(),
        next: Some("c1".into()),
        len: 10,
        count: 2,
        keys: vec!["5".into(), "4".into()],
        odd_text: 0,
        marked: 0,
        boot: None,
    })
    .expect("rec");
    s.record(&Checkpoint::Page {
        cat: "posts".into(),
        next: None,
        len: 20,
        count: 4,
        keys: vec!["9".into(), "$b:x".into()],
        odd_text: 1,
        marked: 2,
        boot: None,
    })
    .expect("rec");
    s.record(&Checkpoint::Media {
        key: "3".into(),
        bytes: 77,
        crc32: Some(9),
        boot: Some("b1".into()),
        sha256: None,
    })
    .expect("rec");
    let mut raw = open_private(&dir.join("journal.jsonl"), true).expect("raw");
    raw.write_all(b"{\"t\":\"page\",\"cat\":\"li")
        .expect("torn");
    let (cats, media) = s.replay(None).expect("replay");
    s.record(&Checkpoint::Media {
        key: "4".into(),
        bytes: 1,
        crc32: None,
        boot: None,
        sha256: Some("ab".repeat(32)),
    })
    .expect("after torn");
    let (_, media2) = s.replay(None).expect("replay again");
    assert_eq!(
        media2.get("4").map(|m| m.bytes),
        Some(1),
        "a checkpoint after a torn line is not lost"
    );
    assert_eq!(
        media2.get("4").and_then(|m| m.sha256),
        Some([0xab; 32]),
        "a file's own SHA-256 comes back from the journal"
    );
    assert_eq!(
        cats["posts"],
        CategoryState {
            next: None,
            len: 20,
            count: 4,
            keys: vec!["9".into(), "$b:x".into()],
            earlier_keys: vec!["5".into(), "4".into()],
            odd_text: 1,
            marked: 2,
            done: true
        }
    );
    assert_eq!(
        media.get("3"),
        Some(&MediaFile {
            bytes: 77,
            crc32: Some(9),
            boot: Some("b1".into()),
            sha256: None,
        })
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs_err::metadata(&dir).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}

#[test]
fn a_journal_of_an_older_version_still_replays() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join(".keepsake-exp_1");
    let mut s = Staging::open(&dir).expect("open");
    fs_err::write(
        dir.join("journal.jsonl"),
        "{\"t\":\"page\",\"cat\":\"posts\",\"next\":\"c1\",\"len\":10,\"count\":2,\"last_id\":5}\n\
         {\"t\":\"page\",\"cat\":\"likes\",\"next\":\"c2\",\"len\":4,\"count\":1,\"keys\":[7,8]}\n\
         {\"t\":\"media\",\"id\":12,\"bytes\":3}\n",
    )
    .expect("write");
    let (cats, media) = s.replay(None).expect("replay");
    assert_eq!(
        cats["posts"],
        CategoryState {
            next: Some("c1".into()),
            len: 10,
            count: 2,
            ..CategoryState::default()
        }
    );
    // Integer keys and media ids (before keys were text) read as text.
    assert_eq!(cats["likes"].keys, ["7", "8"]);
    assert_eq!(media.get("12").map(|m| m.bytes), Some(3));
}

#[test]
fn after_a_reboot_unsynced_files_are_checked_before_they_are_trusted() {
    let dir = tempfile::tempdir().expect("dir");
    fs_err::create_dir_all(dir.path().join("media")).expect("media dir");
    let file = |id: u8, bytes: &[u8]| {
        fs_err::write(dir.path().join("media").join(format!("{id}.bin")), bytes).expect("write");
    };
    let good = b"intact content".to_vec();
    let entry = |boot: Option<&str>| MediaFile {
        bytes: good.len() as u64,
        crc32: Some(crc32fast::hash(&good)),
        boot: boot.map(str::to_owned),
        sha256: None,
    };
    file(1, &good);
    file(2, b"intact contenT");
    file(4, b"intact contenT");
    let mut done: HashMap<String, MediaFile> = [
        ("1".into(), entry(Some("an-earlier-boot"))),
        ("2".into(), entry(Some("an-earlier-boot"))),
        // Gone: archived and removed; the archive's journal vouches.
        ("3".into(), entry(Some("an-earlier-boot"))),
        // Synced when written: trusted as it is.
        ("4".into(), entry(None)),
    ]
    .into();
    recheck_after_reboot(dir.path(), &mut done, Some("this-boot"));
    let mut kept: Vec<String> = done.keys().cloned().collect();
    kept.sort_unstable();
    assert_eq!(
        kept,
        ["1", "3", "4"],
        "the damaged file is downloaded again"
    );
    assert!(
        !dir.path().join("media/2.bin").exists(),
        "and its copy removed"
    );
}

#[test]
fn a_file_key_names_a_file_only_when_it_is_plain() {
    assert_eq!(file_slug("12"), "12");
    assert_eq!(file_slug("abc_DEF-9"), "abc_DEF-9");
    for odd in ["example.org/AbC", "../x", "", "a b", &"x".repeat(65)] {
        let slug = file_slug(odd);
        assert_eq!(slug.len(), 32, "{odd:?}");
        assert!(slug.bytes().all(|b| b.is_ascii_hexdigit()), "{odd:?}");
    }
    assert_ne!(file_slug("a/b"), file_slug("a/c"));
}

#[test]
fn a_staging_folder_is_only_ever_a_direct_child_of_the_destination() {
    let out = tempfile::tempdir().expect("tmp");
    let dir = Staging::dir_for(out.path(), "exp_abcdef01").expect("plain id");
    assert_eq!(dir, out.path().join(".keepsake-exp_abcdef01"));
    // Issue 14: these ids made the staging folder one outside --out.
    for id in ["exp_abcdef01/../../victim", "/tmp/victim", "..", ""] {
        let e = Staging::dir_for(out.path(), id).expect_err("refused");
        assert!(e.to_string().contains("nothing was written"), "{e}");
    }
}

#[test]
fn only_a_staging_folder_is_ever_removed() {
    let root = tempfile::tempdir().expect("tmp");
    let out = root.path().join("out");
    let victim = root.path().join("victim");
    fs_err::create_dir_all(victim.join("deep")).expect("victim");
    fs_err::write(victim.join("deep/keep.txt"), b"mine").expect("canary");
    let staged = out.join(".keepsake-exp_1");
    fs_err::create_dir_all(staged.join("media")).expect("staged");
    for not_staging in [
        victim.clone(),
        out.join(".keepsake-exp_1/../../victim"),
        out.join("victim"),
        root.path().join(".keepsake-exp_1"),
        out.join(".keepsake-exp_1/media"),
    ] {
        assert!(remove_dir(&out, &not_staging).is_err(), "{not_staging:?}");
    }
    #[cfg(unix)]
    {
        let link = out.join(".keepsake-exp_link");
        fs_err::os::unix::fs::symlink(&victim, &link).expect("symlink");
        assert!(remove_dir(&out, &link).is_err(), "a link is not followed");
    }
    assert!(
        victim.join("deep/keep.txt").is_file(),
        "nothing else was removed"
    );
    remove_dir(&out, &staged).expect("the staging folder goes");
    assert!(!staged.exists());
    remove_dir(&out, &staged).expect("and a second time is no error");
}

/// A page of `cat` whose keys are `keys`, written unsynced in `boot`.
fn page(cat: &str, n: u64, keys: &[&str], boot: Option<&str>) -> Checkpoint {
    Checkpoint::Page {
        cat: cat.into(),
        next: Some(format!("c{n}")),
        len: n * 10,
        count: n,
        keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        odd_text: 0,
        marked: 0,
        boot: boot.map(str::to_owned),
    }
}

#[test]
fn after_a_restart_a_category_goes_back_to_its_last_synced_page() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join(".keepsake-exp_1");
    let mut s = Staging::open(&dir).expect("open");
    for c in [
        page("posts", 1, &["a"], None),
        page("posts", 2, &["b"], None),
        page("likes", 1, &["x"], Some("old")),
        page("posts", 3, &["c"], Some("old")),
        page("comments", 1, &["y"], Some("now")),
        page("posts", 4, &["d"], Some("old")),
        Checkpoint::Media {
            key: "m".into(),
            bytes: 5,
            crc32: Some(1),
            boot: Some("old".into()),
            sha256: Some("cd".repeat(32)),
        },
    ] {
        s.record(&c).expect("record");
    }
    let journal = fs_err::read(dir.join("journal.jsonl")).expect("journal");
    fs_err::write(tmp.path().join("copy.jsonl"), &journal).expect("copy");

    // In the same boot nothing was lost: the last pages stand.
    let (cats, _) = s.replay(Some("old")).expect("replay");
    assert_eq!(
        (cats["posts"].count, &cats["posts"].keys[..]),
        (4, &["d".to_owned()][..])
    );
    assert_eq!(cats["likes"].count, 1);

    // After a restart: posts go back to page 2 (keys b, before them a),
    // likes start over, comments were written in this boot.
    fs_err::write(dir.join("journal.jsonl"), &journal).expect("restore");
    let mut s = Staging::open(&dir).expect("reopen");
    let expected_posts = CategoryState {
        next: Some("c2".into()),
        len: 20,
        count: 2,
        keys: vec!["b".into()],
        earlier_keys: vec!["a".into()],
        ..CategoryState::default()
    };
    let (cats, media) = s.replay(Some("now")).expect("replay after restart");
    assert_eq!(cats["posts"], expected_posts);
    assert!(!cats.contains_key("likes"), "starts over");
    assert_eq!(cats["comments"].count, 1);
    assert_eq!(
        media["m"].sha256,
        Some([0xcd; 32]),
        "files are kept (checked by CRC)"
    );

    // The journal now says just that, synced, and goes on from there.
    let (again, media_again) = s.replay(Some("now")).expect("replay compacted");
    assert_eq!(again["posts"], expected_posts);
    assert_eq!(again.len(), 2);
    assert_eq!(media_again, media);
    s.record(&page("posts", 3, &["e"], None)).expect("go on");
    let (on, _) = s.replay(Some("later")).expect("replay");
    assert_eq!(on["posts"].earlier_keys, vec!["b".to_owned()]);
    assert_eq!(on["posts"].keys, vec!["e".to_owned()]);
    assert_eq!(
        on["comments"].count, 1,
        "the rewrite synced what this boot had staged, so it stands"
    );
}

#[test]
fn a_restart_goes_back_to_the_latest_synced_page_not_an_earlier_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join(".keepsake-exp_1");
    let mut s = Staging::open(&dir).expect("open");
    for c in [
        page("posts", 1, &["a"], None),
        page("posts", 2, &["b"], Some("old")),
        page("posts", 3, &["c"], None),
        page("posts", 4, &["d"], Some("old")),
        page("posts", 5, &["e"], Some("old")),
    ] {
        s.record(&c).expect("record");
    }
    let (cats, _) = s.replay(Some("now")).expect("replay");
    assert_eq!(cats["posts"].count, 3);
    assert_eq!(cats["posts"].keys, vec!["c".to_owned()]);
    assert_eq!(cats["posts"].earlier_keys, vec!["b".to_owned()]);
}
