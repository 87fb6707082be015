use keepsake_platform::FaultPlan;
use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;

use crate::app::{App, Home, SERIAL};
use crate::require_e2e;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeping_what_was_fetched_then_resume_on_the_next_launch() {
    require_e2e!();
    let _one = SERIAL.lock().await;
    let p = Platform::start(Preset::Demo).await;
    // Slow enough for the cancel to land mid-way.
    p.state.set_faults(FaultPlan {
        latency_ms: 150,
        ..FaultPlan::default()
    });
    let home = Home::new();
    let app = App::launch(&p.url, &home).await;
    app.sign_in_with_token(&p.token("alice", "export:self"))
        .await;
    app.screen("What should Keepsake export?").await;
    app.wait("//*[@data-testid='estimate-posts' and contains(., 'items')]")
        .await;
    app.click_button("Start export").await;
    app.screen("Exporting").await;
    app.click_button("Cancel…").await;
    app.wait("//*[@role='group']//h2[normalize-space()='Stop the export?']")
        .await;
    app.click_button("Stop and keep for later").await;
    let notice = app
        .text("//p[@role='status' and contains(., 'What was downloaded is kept')]")
        .await;
    assert!(notice.contains("resume"), "{notice}");
    app.quit().await;

    // Something was kept for resuming.
    let staged = fs_err::read_dir(home.downloads())
        .expect("downloads")
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().starts_with(".keepsake-"));
    assert!(staged, "the interrupted export is staged");

    p.state.set_faults(FaultPlan::default());
    let app = App::launch(&p.url, &home).await;
    app.screen("Continue where you left off?").await;
    app.screenshot("resume").await;
    app.click_button("Continue the export").await;
    app.screen("Your archive is ready").await;
    let name = app.text("//*[@data-testid='archive-name']").await;
    let report = keepsake_core::archive::verify(&home.downloads().join(&name)).expect("archive");
    assert!(report.ok, "{:?}", report.problems);
    app.quit().await;
}
