//! The harness itself: a well-behaved script exports completely.

use std::time::Duration;

use keepsake_tests::hostile::{Hostile, Script};

use crate::common::{Home, archives, assert_audited, entry};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_script_exports_a_complete_archive() {
    let h = Hostile::start(Script::default()).await;
    let home = Home::new(&h.url);
    let canaries = home.canaries(&[]);
    let run = home.export(&[], Duration::from_secs(60));
    assert_eq!(run.code(), 0, "{}", run.text());
    let zips = archives(&home.out());
    assert_eq!(zips.len(), 1, "{}", run.text());
    let posts: serde_json::Value =
        serde_json::from_str(&entry(&zips[0], "data/posts.json")).expect("posts.json");
    assert_eq!(posts.as_array().map(Vec::len), Some(3), "{posts}");
    assert_audited(&home, "completed");
    canaries.assert_intact();
    // Pages carried the token; the PATCH reported the outcome.
    let seen = h.seen();
    assert!(seen.iter().any(|s| s.method == "PATCH"), "{seen:?}");
    assert!(
        seen.iter()
            .filter(|s| s.path.ends_with("/posts"))
            .all(|s| s.authorized)
    );
}
