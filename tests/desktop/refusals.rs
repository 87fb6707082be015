use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;
use serde_json::json;

use crate::app::{App, Home, SERIAL};
use crate::require_e2e;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_says_when_the_next_export_is_possible() {
    require_e2e!();
    let _one = SERIAL.lock().await;
    let p = Platform::start(Preset::Demo).await;
    // Bob exported a moment ago (elsewhere): his hourly export is used up.
    let token = p.token("bob", "export:self");
    let bob = p.user_id("bob");
    let api = p.api(&token);
    let opened = api.open_export(bob, json!({})).await.expect(201);
    let id = opened.body["export_id"]
        .as_str()
        .expect("export id")
        .to_owned();
    api.finish(
        bob,
        &id,
        json!({"status": "completed", "counts": {}, "bytes": 0, "archive_sha256": "0".repeat(64)}),
    )
    .await;

    let home = Home::new();
    let app = App::launch(&p.url, &home).await;
    app.sign_in_with_token(&token).await;
    let alert = app
        .text("//*[@role='alert' and contains(., 'export limit')]")
        .await;
    assert!(alert.contains("The next export is possible at"), "{alert}");
    app.screenshot("quota").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_the_browser() {
    require_e2e!();
    let _one = SERIAL.lock().await;
    let p = Platform::start(Preset::Demo).await;
    let home = Home::new();
    // xdg-open hands the sign-in address to $BROWSER: a stand-in that signs
    // in as alice on the platform's page and approves.
    let app = App::launch_with(
        &p.url,
        &home,
        &[("BROWSER", env!("CARGO_BIN_EXE_fake-browser").to_owned())],
    )
    .await;
    app.screen("Take your data home").await;
    app.click_button("Sign in with your browser").await;
    app.screen("What should Keepsake export?").await;
    let who = app.text("//div[@class='who']/strong").await;
    assert_eq!(who, "Alice Liddell");
    app.quit().await;
}
