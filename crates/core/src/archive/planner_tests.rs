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

#[test]
fn parts_fill_in_order_within_the_limit_and_a_file_too_large_stands_alone() {
    const KIB: u64 = 1024;
    let mut entries: Vec<Pending> = (0..10)
        .map(|i| stored(&format!("f{i}"), 10 * KIB))
        .collect();
    entries.insert(4, stored("big", 200 * KIB));
    let order: Vec<usize> = (0..entries.len()).collect();
    let index = Reserve::default();
    let bag_info = bag_info_bound(&info());
    let parts = lay_out(&entries, &order, &index, bag_info, 64 * KIB).expect("laid out");

    let laid: Vec<usize> = parts.iter().flat_map(|(l, _)| l.entries.clone()).collect();
    assert_eq!(laid, order, "every entry once, in order");
    for (l, over) in &parts {
        let bound = bound(l.sums(), &index, bag_info);
        if *over {
            assert_eq!(l.entries.len(), 1, "a part over the limit holds one file");
            assert_eq!(entries[l.entries[0]].name, "data/big");
        } else {
            assert!(bound <= 64 * KIB, "{bound} bytes at most");
        }
    }
    // Each part is as full as it can be: the next entry would not fit.
    for pair in parts.windows(2) {
        let ((l, _), (next, _)) = (&pair[0], &pair[1]);
        let with_next = l.sums_with(&entries[next.entries[0]]);
        assert!(bound(with_next, &index, bag_info) > 64 * KIB);
    }
    assert_eq!(parts.iter().filter(|(_, over)| *over).count(), 1);
    // 10 KiB files, a 64 KiB limit less the tag files: five or fewer a part.
    assert!(parts.iter().all(|(l, _)| l.entries.len() <= 6));
    assert!(parts.len() >= 3, "{} parts", parts.len());
}

#[test]
fn a_limit_below_a_parts_own_files_is_refused_with_a_size_that_works() {
    let bag_info = bag_info_bound(&info());
    let err = lay_out(
        &[stored("a", 10)],
        &[0],
        &Reserve::default(),
        bag_info,
        1024,
    )
    .expect_err("too small");
    assert!(
        err.to_string()
            .contains("cannot hold even a part's tag files"),
        "{err}"
    );
}
