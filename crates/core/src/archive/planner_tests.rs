//! Tests of the planner's layout, with no file written or read: entries
//! are only names and sizes here.

use super::*;
use crate::archive::tests::info;

/// A stored payload entry of `len` bytes.
fn stored(name: &str, len: u64) -> Pending {
    Pending {
        name: format!("data/{name}"),
        tag: false,
        source: Source::Bytes(Vec::new()),
        len,
        compress: false,
        measured: None,
    }
}

fn planner(limit: u64, entries: Vec<Pending>) -> Planner {
    Planner {
        final_path: PathBuf::from("never-written.zip"),
        info: info(),
        limit,
        // Removed when the planner is dropped: a folder that never exists.
        spool_dir: PathBuf::from("never-written.spool"),
        entries,
        names: NameSet::default(),
        progress: None,
        stop: None,
        journal: None,
        segments: Segments::new(Path::new("never-written.spool"), 0),
        recovered: Default::default(),
    }
}

#[test]
fn parts_fill_in_order_within_the_limit_and_a_file_too_large_stands_alone() {
    const KIB: u64 = 1024;
    let mut entries: Vec<Pending> = (0..10)
        .map(|i| stored(&format!("f{i}"), 10 * KIB))
        .collect();
    entries.insert(4, stored("big", 200 * KIB));
    let p = planner(64 * KIB, entries);
    let order: Vec<usize> = (0..p.entries.len()).collect();
    let index = Reserve::default();
    let parts = p.lay_out(&order, &index).expect("laid out");

    let laid: Vec<usize> = parts.iter().flat_map(|(l, _)| l.entries.clone()).collect();
    assert_eq!(laid, order, "every entry once, in order");
    let bag_info = p.bag_info_bound();
    for (l, over) in &parts {
        let bound = Planner::bound(l.sums(), &index, bag_info);
        if *over {
            assert_eq!(l.entries.len(), 1, "a part over the limit holds one file");
            assert_eq!(p.entries[l.entries[0]].name, "data/big");
        } else {
            assert!(bound <= 64 * KIB, "{bound} bytes at most");
        }
    }
    // Each part is as full as it can be: the next entry would not fit.
    for pair in parts.windows(2) {
        let ((l, _), (next, _)) = (&pair[0], &pair[1]);
        let with_next = l.sums_with(&p.entries[next.entries[0]]);
        assert!(Planner::bound(with_next, &index, bag_info) > 64 * KIB);
    }
    assert_eq!(parts.iter().filter(|(_, over)| *over).count(), 1);
    // 10 KiB files, a 64 KiB limit less the tag files: five or fewer a part.
    assert!(parts.iter().all(|(l, _)| l.entries.len() <= 6));
    assert!(parts.len() >= 3, "{} parts", parts.len());
}

#[test]
fn a_limit_below_a_parts_own_files_is_refused_with_a_size_that_works() {
    let p = planner(1024, vec![stored("a", 10)]);
    let err = p.lay_out(&[0], &Reserve::default()).expect_err("too small");
    assert!(
        err.to_string()
            .contains("cannot hold even a part's tag files"),
        "{err}"
    );
}
