use super::*;
use crate::connector::Page;

fn staged(page: &str) -> Vec<String> {
    let page: Page = serde_json::from_str(page).expect("page");
    let mut buf = Vec::new();
    for item in &page.items {
        stage(item.get(), &mut buf);
    }
    String::from_utf8(buf)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn records_are_staged_as_sent_one_per_line() {
    // Escapes and number forms are kept byte for byte.
    let lines = staged(
        r#"{"items":[{"id":1,"body":"caf\u00e9 \u2028 </script>","n":1.50},{"id":2}],"next_cursor":null}"#,
    );
    assert_eq!(
        lines,
        [
            r#"{"id":1,"body":"caf\u00e9 \u2028 </script>","n":1.50}"#,
            r#"{"id":2}"#
        ]
    );
}

#[test]
fn a_pretty_printed_record_still_takes_one_line() {
    let lines =
        staged("{\"items\": [\n  {\n    \"id\": 7,\n    \"tags\": [\"a\",\n \"b\"]\n  }\n]}");
    assert_eq!(lines, [r#"{"id":7,"tags":["a","b"]}"#]);
    // Bug pinned: re-encoding refused a lone surrogate; it is kept.
    let lines = staged("{\"items\": [\n {\"id\": 8,\n \"b\": \"\\ud800 x\"}\n]}");
    assert_eq!(lines, [r#"{"id":8,"b":"\ud800 x"}"#]);
}

/// Feeds pages of keys through [`Recent`] as the walk does: which
/// records are stored.
fn stored(from: &CategoryState, pages: &[&[i64]]) -> Vec<i64> {
    let mut recent = Recent::from_state(from);
    let mut kept = Vec::new();
    for page in pages {
        kept.extend(page.iter().copied().filter(|&k| recent.note(k.to_string())));
        recent.turn();
    }
    kept
}

#[test]
fn records_whose_ids_go_down_are_kept() {
    // Bug pinned: `id <= last_id` dropped distinct records as repeats.
    let none = CategoryState::default();
    assert_eq!(stored(&none, &[&[9, 5, 7, 1]]), [9, 5, 7, 1]);
    assert_eq!(stored(&none, &[&[10, 11], &[3, 4]]), [10, 11, 3, 4]);
}

#[test]
fn records_sent_again_on_the_same_or_the_next_page_are_kept_once() {
    let none = CategoryState::default();
    assert_eq!(stored(&none, &[&[1, 2, 1]]), [1, 2]);
    assert_eq!(stored(&none, &[&[1, 2], &[2, 3], &[3, 4]]), [1, 2, 3, 4]);
    // Memory is bounded: a record from two pages back is not recognised
    // (the contract's pages do not go back; a cycle is caught by cursor).
    assert_eq!(stored(&none, &[&[1], &[2], &[1]]), [1, 2, 1]);
    // The same page over and over: nothing new after the first, even
    // though the repeats themselves are not stored.
    assert_eq!(stored(&none, &[&[1, 2], &[1, 2], &[1, 2], &[1, 2]]), [1, 2]);
    // After a resume, the journaled keys of the last two pages count.
    let resumed = CategoryState {
        keys: vec!["5".into(), "6".into()],
        earlier_keys: vec!["3".into(), "4".into()],
        ..CategoryState::default()
    };
    assert_eq!(stored(&resumed, &[&[4, 6, 7]]), [7]);
}

#[test]
fn a_cursor_asked_for_before_is_a_cycle() {
    // Bug pinned: only a cursor equal to the previous one was noticed.
    let mut asked = Asked::default();
    assert!(!asked.again(None));
    assert!(!asked.again(Some("A")));
    assert!(!asked.again(Some("B")));
    assert!(asked.again(Some("A")), "A → B → A");
    assert!(!asked.again(Some("a")));
}

#[test]
fn the_record_bound_is_twice_the_count_and_a_thousand() {
    use crate::connector::{UNCOUNTED_RECORD_BOUND, record_bound};
    assert_eq!(record_bound(Some(0)), 1000);
    assert_eq!(record_bound(Some(10)), 1020);
    assert_eq!(record_bound(Some(100_000)), 201_000);
    assert_eq!(record_bound(Some(u64::MAX)), u64::MAX);
    assert_eq!(record_bound(None), UNCOUNTED_RECORD_BOUND);
}

#[test]
fn a_record_needs_a_key() {
    for bad in [
        r#"{"id":7.5}"#,
        r#"{"name":"x"}"#,
        r#"{"id":null}"#,
        r#"{"id":{"a":1}}"#,
        "[7]",
        "7",
    ] {
        assert_eq!(record_key(bad, "/id"), None, "{bad}");
    }
    assert_eq!(
        record_key(r#"{"x":{"id":1},"id":9}"#, "/id").as_deref(),
        Some("9")
    );
    assert_eq!(record_key(r#"{"id":"7"}"#, "/id").as_deref(), Some("7"));
    assert_eq!(
        record_key(r#"{"event_id":"$a:b","n":[1,{"event_id":2}]}"#, "/event_id").as_deref(),
        Some("$a:b")
    );
    // Deeper pointers too (a room member's `state_key` inside `content`).
    assert_eq!(
        record_key(r#"{"c":{"k":"@u:x"}}"#, "/c/k").as_deref(),
        Some("@u:x")
    );
    // An escaped field name is read as its text.
    assert_eq!(record_key(r#"{"\u0069d":5}"#, "/id").as_deref(), Some("5"));
}
