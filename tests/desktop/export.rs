use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;

use crate::app::{App, Home, SERIAL};
use crate::require_e2e;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_a_token_export_and_the_archive_verifies() {
    require_e2e!();
    let _one = SERIAL.lock().await;
    let p = Platform::start(Preset::Demo).await;
    // A little latency, so that the Progress screen can be seen.
    p.state.set_faults(keepsake_platform::FaultPlan {
        latency_ms: 300,
        ..Default::default()
    });
    let home = Home::new();
    let app = App::launch(&p.url, &home).await;

    app.screen("Take your data home").await;
    app.screenshot("sign-in").await;
    app.sign_in_with_token(&p.token("alice", "export:self"))
        .await;

    app.screen("What should Keepsake export?").await;
    let posts = app
        .text("//*[@data-testid='estimate-posts' and contains(., 'items')]")
        .await;
    assert!(posts.contains("150 items"), "{posts}");
    let space = app.text("//p[@id='space' and contains(., 'free')]").await;
    assert!(space.contains("needs about"), "{space}");
    app.screenshot("choose").await;

    app.click_button("Start export").await;
    app.screen("Exporting").await;
    let bar = app
        .wait("//div[@role='progressbar' and @aria-labelledby='cat-posts-label']")
        .await;
    assert_eq!(
        bar.attr("aria-valuemax").await.expect("attr").as_deref(),
        Some("150")
    );
    // A short settle (screenshot() waits for the frame to be painted): the
    // export, slowed down above, is still running.
    app.screenshot("progress").await;

    app.screen("Your archive is ready").await;
    let name = app.text("//*[@data-testid='archive-name']").await;
    let archive = home.downloads().join(&name);
    assert!(archive.is_file(), "{} is on disk", archive.display());
    let report = keepsake_core::archive::verify(&archive).expect("readable archive");
    assert!(report.ok, "{:?}", report.problems);
    let sha = app.text("//*[@data-testid='sha256']").await;
    assert_eq!(sha.len(), 64);

    app.click_button("Verify").await;
    let verified = app
        .text("//*[@data-testid='verify-result' and contains(., 'Verified')]")
        .await;
    assert!(
        verified.contains("files match their checksums"),
        "{verified}"
    );
    app.screenshot("done").await;

    app.click_button("History").await;
    let chain = app
        .text("//*[@data-testid='chain-status' and contains(., 'intact')]")
        .await;
    assert!(chain.contains("1 record"), "{chain}");
    app.screenshot("history").await;
    app.quit().await;
}
