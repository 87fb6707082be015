//! A credential the platform will not take — mistyped, expired, revoked
//! before the export, revoked while it walks: exit 3 ("sign in again"),
//! never an archive that looks finished, never the token in what is
//! printed or written. After signing in again, the interrupted export
//! continues to an exact archive.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keepsake_tests::proxy::{Fault, FaultProxy, Hook, Trigger};

use crate::common::{Home, Run, assert_no_finished_archive, watch};
use crate::{Target, expect};

/// Exit 3 and its words, nothing finished-looking, the token nowhere.
#[track_caller]
fn signed_out(what: &str, home: &Home, run: &Run, token: &str) {
    assert!(
        !run.killed,
        "{what}: the export had to be killed: {}",
        run.text()
    );
    assert_eq!(
        run.code(),
        3,
        "{what}: exit 3 is \"sign in again\": {}",
        run.text()
    );
    let text = run.text();
    let lower = text.to_lowercase();
    assert!(
        lower.contains("sign in") || lower.contains("keepsake login"),
        "{what}: says to sign in again: {text}"
    );
    assert!(
        !text.contains(token),
        "{what}: the token was printed: {text}"
    );
    assert!(
        run.took < Duration::from_secs(30),
        "{what}: a refused credential is not retried ({:?})",
        run.took
    );
    assert_no_finished_archive(&home.out());
    expect::no_token_in_files(&[&home.path("")], token);
}

/// A mistyped token, an expired one, a revoked one: refused before any
/// data, exit 3.
pub async fn a_wrong_expired_or_revoked_token_says_sign_in_again(t: &Target) {
    // The account's own token with its last character mistyped.
    let mut wrong = t.token.clone();
    let last = wrong.pop().expect("a token");
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let revoked = t.server.fresh_token().await;
    t.server.revoke(revoked.clone()).await;
    let mut tokens = vec![("wrong", wrong), ("revoked", revoked)];
    // (A platform whose credentials never expire has no expired one.)
    if let Some(expired) = t.server.expired_token().await {
        tokens.push(("expired", expired));
    }
    for (what, token) in tokens {
        let home = Home::with_env(&t.url, &token, t.env.clone());
        let run = home.export(&[], Duration::from_secs(60));
        signed_out(what, &home, &run, &token);
    }
}

/// The token revoked while the export walks (before the third page of the
/// paged collection): exit 3, and what was fetched is kept; with a new
/// token the export continues and the archive is exact.
pub async fn a_token_revoked_during_the_walk_leaves_no_finished_archive(t: &Target) {
    let held = t.server.holdings().await;
    let token = t.server.fresh_token().await;
    let pages = Arc::new(AtomicUsize::new(0));
    let hook: Hook = {
        let (pages, server, token, page_path) =
            (pages.clone(), t.server.clone(), token.clone(), t.page_path);
        Arc::new(move |method: &str, path: &str| {
            let is_page = method == "GET" && path.contains(page_path);
            let (pages, server, token) = (pages.clone(), server.clone(), token.clone());
            Box::pin(async move {
                if is_page && pages.fetch_add(1, Ordering::SeqCst) == 2 {
                    server.revoke(token).await;
                }
            })
        })
    };
    let none = Trigger {
        path_contains: String::new(),
        skip: 0,
        times: 0,
    };
    let proxy = FaultProxy::start_hooked(&t.url, Fault::None, none, Some(hook)).await;
    let home = Home::with_env(&proxy.url, &token, t.env.clone());
    let run = home.export(&[], Duration::from_secs(60));
    assert!(
        pages.load(Ordering::SeqCst) >= 3,
        "the account must span several pages of {}: {:?}",
        t.page_path,
        proxy.seen()
    );
    signed_out("revoked during the walk", &home, &run, &token);

    // Signed in again: the same export continues.
    let again = t.server.fresh_token().await;
    let args = home.export_args(&["--resume"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = home
        .cmd(&args)
        .env("KEEPSAKE_TOKEN", &again)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("keepsake starts");
    let run = watch(child, Duration::from_secs(120));
    let archive = expect::completed(t, &run);
    assert_eq!(
        run.result().expect("result")["resumed"],
        true,
        "{}",
        run.text()
    );
    expect::holds_exactly(t, &archive, &held);
    expect::valid(&home, &archive);
    expect::no_token_in_files(&[&home.path("")], &token);
    expect::no_token_in_files(&[&home.path("")], &again);
}
