//! The app as a package installs it (`cargo xtask test` installs the
//! `.deb`, sets `KEEPSAKE_INSTALLED_APP=1` and points `KEEPSAKE_DESKTOP_BIN`
//! at `/usr/bin/keepsake-desktop`): it opens its window, reaches the
//! sign-in screen and signs in to a real reference platform.

use keepsake_platform::seed::Preset;
use keepsake_tests::Platform;

use crate::app::{App, Home, SERIAL};
use crate::require_e2e;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installed_app_reaches_sign_in_and_signs_in() {
    if std::env::var_os("KEEPSAKE_INSTALLED_APP").is_none() {
        println!("skipped: the package test (cargo xtask test) runs this on the installed app");
        return;
    }
    require_e2e!();
    let _one = SERIAL.lock().await;
    let bin = crate::app::app_binary();
    assert!(
        bin.starts_with("/usr/bin"),
        "this test is for the installed app, not {}",
        bin.display()
    );
    let p = Platform::start(Preset::Demo).await;
    let home = Home::new();
    let app = App::launch(&p.url, &home).await;
    app.screen("Take your data home").await;
    let title = app.client.title().await.expect("window title");
    assert_eq!(title, "Keepsake");
    // The installed build embeds its UI and reaches the engine over IPC.
    app.sign_in_with_token(&p.token("alice", "export:self"))
        .await;
    app.screen("What should Keepsake export?").await;
    app.quit().await;
}
