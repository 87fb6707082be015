//! The connection between client and server spoiled through the fault
//! proxy: reset half-way through a body, a body cut short but framed as
//! whole, a body that stalls half-way, a request never answered. Each on
//! a page of records and on a file download: the export still completes,
//! and the archive is exactly what the server holds.

use std::time::Duration;

use keepsake_tests::proxy::{Fault, FaultProxy, Trigger};

use crate::Target;
use crate::common::archives;
use crate::expect;

/// The stall window the runs use (the engine's default is longer).
const STALL_SECS: &str = "1";

/// Spoils the first page of the paged collection, then the second file
/// download, each in a run of its own; both runs must complete exactly.
async fn survives(t: &Target, fault: Fault) {
    let held = t.server.holdings().await;
    for (what, path, skip) in [("page", t.page_path, 0), ("file", t.file_path, 1)] {
        let trigger = Trigger {
            path_contains: path.to_owned(),
            skip,
            times: 1,
        };
        let proxy = FaultProxy::start(&t.url, fault, trigger).await;
        let home = crate::home(&proxy.url, t);
        let run = home.export(&["--http-stall-secs", STALL_SECS], Duration::from_secs(90));
        assert_eq!(
            proxy.spoiled(),
            1,
            "{fault:?} on a {what}: spoiled once: {:?}",
            proxy.seen()
        );
        let archive = expect::completed(t, &run);
        assert!(
            run.took < Duration::from_secs(45),
            "{fault:?} on a {what} held the export {:?}",
            run.took
        );
        let asked = proxy.seen().iter().filter(|p| p.contains(path)).count();
        assert!(
            asked > skip + 1,
            "{fault:?} on a {what}: the spoiled request was asked again: {:?}",
            proxy.seen()
        );
        assert_eq!(archives(&home.out()), vec![archive.clone()], "one archive");
        expect::holds_exactly(t, &archive, &held);
        expect::valid(&home, &archive);
    }
}

/// Half the body, then the connection torn down.
pub async fn a_connection_reset_mid_body_is_retried(t: &Target) {
    survives(t, Fault::ResetMidBody).await;
}

/// Half the body, framed as the whole of it.
pub async fn a_cut_body_is_detected_and_retried(t: &Target) {
    survives(t, Fault::CutBody).await;
}

/// Half the body, then nothing on an open connection.
pub async fn a_stalled_body_is_given_up_and_retried(t: &Target) {
    survives(t, Fault::Stall).await;
}

/// No answer at all on an open connection.
pub async fn a_request_never_answered_is_given_up_and_retried(t: &Target) {
    survives(t, Fault::NoAnswer).await;
}
