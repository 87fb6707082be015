//! A full export of the account, compared record by record and file by
//! file with what the server holds.

use std::time::Duration;

use serde_json::Value;

use crate::common::archives;
use crate::expect;
use crate::{Holdings, Target};

/// Every record of every category, each once with the server's fields,
/// and every file byte for byte; one archive, which every validator
/// accepts.
pub async fn a_full_export_holds_exactly_what_the_server_holds(t: &Target) {
    let held = t.server.holdings().await;
    assert!(
        held.entries
            .values()
            .any(|e| e.as_array().is_some_and(|a| !a.is_empty())),
        "the seeded account holds records"
    );
    assert!(!held.files.is_empty(), "the seeded account holds files");
    let home = crate::home(&t.url, t);
    let run = home.export(&[], Duration::from_secs(120));
    let archive = expect::completed(t, &run);
    assert_eq!(archives(&home.out()), vec![archive.clone()], "one archive");
    expect::holds_exactly(t, &archive, &held);
    expect::valid(&home, &archive);
    // The comparison itself can fail: a record changed, one lost, a file
    // unknown to the archive.
    for spoil in [changed_field, lost_record, unknown_file] {
        let mut wrong = held.clone();
        spoil(&mut wrong);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            expect::holds_exactly(t, &archive, &wrong)
        }));
        assert!(
            caught.is_err(),
            "an archive matched holdings it does not hold"
        );
    }
    // The server still holds the same: the export changed nothing.
    let after = t.server.holdings().await;
    assert_eq!(
        after.entries, held.entries,
        "the export changed the account"
    );
}

fn first_array(h: &mut Holdings) -> &mut Vec<Value> {
    h.entries
        .values_mut()
        .filter_map(Value::as_array_mut)
        .find(|a| !a.is_empty())
        .expect("records")
}

fn changed_field(h: &mut Holdings) {
    let r = first_array(h)[0].as_object_mut().expect("a record");
    let (field, _) = r
        .iter()
        .find(|(_, v)| v.is_string())
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("a text field");
    r.insert(field, Value::String("not what the server holds".into()));
}

fn lost_record(h: &mut Holdings) {
    first_array(h).remove(0);
}

fn unknown_file(h: &mut Holdings) {
    h.files[0].sha256 = "0".repeat(64);
}
