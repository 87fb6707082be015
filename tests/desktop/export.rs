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

    // Everything but likes: the unticked category reaches neither the
    // platform nor the archive.
    let likes = app
        .wait("//label[span[normalize-space()='Likes']]/input[@type='checkbox']")
        .await;
    assert!(likes.is_selected().await.expect("ticked?"), "on by default");
    likes.click().await.expect("untick likes");
    assert!(!likes.is_selected().await.expect("ticked?"));

    // JSON only, in parts of at most 2 GB (which this archive fits): the
    // choices cross the real IPC and reach the manifest.
    app.wait("//summary[contains(., 'Formats and size')]")
        .await
        .click()
        .await
        .expect("unfold the formats and size");
    for format in ["Spreadsheets (CSV)", "Offline viewer"] {
        app.wait(&format!(
            "//label[span[normalize-space()='{format}']]/input[@type='checkbox']"
        ))
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("untick {format}: {e}"));
    }
    app.wait("//select[@id='split-size']")
        .await
        .select_by_label("2 GB")
        .await
        .expect("choose 2 GB parts");
    app.text("//p[@id='split-hint' and contains(., 'stays one file')]")
        .await;

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
    let manifest: serde_json::Value = serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&archive, "data/manifest.json")
            .expect("manifest"),
    )
    .expect("manifest JSON");
    assert_eq!(manifest["formats"], serde_json::json!(["json"]));
    assert_eq!(manifest["split_size"], 2_000_000_000u64);
    let categories = manifest["categories"]
        .as_array()
        .expect("a categories list")
        .iter()
        .map(|c| c.as_str().expect("a category name"))
        .collect::<Vec<_>>();
    assert!(categories.contains(&"posts"), "{categories:?}");
    assert!(!categories.contains(&"likes"), "{categories:?}");
    assert!(manifest["counts"].get("likes").is_none(), "{manifest:#}");
    assert_eq!(manifest["counts"]["posts"]["retrieved"], 150);
    let entry = |name: &str| keepsake_core::archive::read_entry_to_string(&archive, name);
    assert!(entry("data/posts.json").is_ok(), "posts are in the archive");
    assert!(entry("data/likes.json").is_err(), "no likes in the archive");
    // The completeness report on Done lists what was exported, not likes.
    let report = app.text("//table[contains(@class, 'report')]").await;
    assert!(
        report.contains("Posts") && !report.contains("Likes"),
        "{report}"
    );
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
