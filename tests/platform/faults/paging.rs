//! Paging faults: a repeated cursor, a duplicated record.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeat_cursor_hands_back_the_cursor_it_was_given() {
    let (platform, api, alice) = demo().await;
    let (export, first) = first_page(&api, alice, "posts", 10).await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("alice has more than 10 posts")
        .to_owned();
    let honest = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    assert_ne!(
        honest.body["next_cursor"],
        json!(cursor),
        "without the fault the cursor moves on"
    );

    platform.state.set_faults(FaultPlan {
        repeat_cursor: 1.0,
        ..FaultPlan::default()
    });
    let stuck = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    assert_eq!(
        stuck.body["next_cursor"],
        json!(cursor),
        "next_cursor is the cursor sent"
    );
    assert_eq!(
        stuck.body["items"], honest.body["items"],
        "the page itself is the right one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_record_starts_a_page_with_the_previous_pages_last_record() {
    let (platform, api, alice) = demo().await;
    let (export, first) = first_page(&api, alice, "posts", 10).await;
    let items = first.body["items"].as_array().expect("items").clone();
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("alice has more than 10 posts")
        .to_owned();
    let honest = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    let honest_items = honest.body["items"].as_array().expect("items").clone();

    platform.state.set_faults(FaultPlan {
        duplicate_record: 1.0,
        ..FaultPlan::default()
    });
    let dup = api
        .get(&page_path(alice, &export, "posts", 10, Some(&cursor)))
        .await
        .expect(200);
    let dup_items = dup.body["items"].as_array().expect("items").clone();
    assert_eq!(
        dup_items.first(),
        items.last(),
        "the page repeats the previous page's last record first"
    );
    assert_eq!(
        dup_items[1..],
        honest_items[..dup_items.len() - 1],
        "then it goes on as the honest page does"
    );
    assert_eq!(ids(&dup_items).len(), 10, "the limit still holds");
    // Only pages after a cursor repeat anything: a first page has no previous record.
    let again = api
        .get(&page_path(alice, &export, "posts", 10, None))
        .await
        .expect(200);
    assert_eq!(again.body["items"], first.body["items"]);
}
