//! The desktop app against a real WordPress and a real Synapse: it finds
//! out what the address is, signs in with the platform's own password
//! form (a WordPress application password, a Matrix password), shows the
//! platform's categories, exports, and the archive verifies.

use keepsake_tests::synapse::{Preset, Synapse};
use keepsake_tests::wordpress::WordPress;

use crate::app::{App, Home, SERIAL};
use crate::require_e2e;

/// The archive the Done screen names, verified, and its manifest.
async fn finished(app: &App, home: &Home) -> serde_json::Value {
    app.screen("Your archive is ready").await;
    let name = app.text("//*[@data-testid='archive-name']").await;
    let archive = home.downloads().join(&name);
    let report = keepsake_core::archive::verify(&archive).expect("a readable archive");
    assert!(report.ok, "{:?}", report.problems);
    serde_json::from_str(
        &keepsake_core::archive::read_entry_to_string(&archive, "data/manifest.json")
            .expect("manifest"),
    )
    .expect("manifest JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_signs_in_to_wordpress_and_exports_an_authors_site() {
    require_e2e!();
    let _one = SERIAL.lock().await;
    let Some(wp) = tokio::task::spawn_blocking(WordPress::start)
        .await
        .expect("start")
    else {
        return;
    };
    let home = Home::new();
    let app = App::launch(&wp.url, &home).await;
    // The address was asked what it is.
    let found = app
        .text("//*[@data-testid='platform-found' and contains(., 'WordPress')]")
        .await;
    assert!(found.contains(&wp.url), "{found}");
    // WordPress has no support rights to ask for at sign-in.
    assert!(
        app.client
            .find(fantoccini::Locator::XPath(
                "//label[contains(., 'I am support staff')]"
            ))
            .await
            .is_err()
    );
    app.sign_in_with_password("author", &wp.app_password("author"))
        .await;
    app.screen("What should Keepsake export?").await;
    for label in ["Posts", "Pages", "Comments", "Media", "Revisions", "Tags"] {
        app.wait(&format!(
            "//label[span[normalize-space()='{label}']]/input[@type='checkbox']"
        ))
        .await;
    }
    // WordPress's count, once the export is prepared.
    app.text("//*[@data-testid='estimate-posts' and contains(., '1,248')]")
        .await;
    app.click_button("Start export").await;
    let manifest = finished(&app, &home).await;
    assert_eq!(manifest["connector"]["kind"], "wordpress");
    assert_eq!(manifest["counts"]["posts"]["retrieved"], 1248);
    assert_eq!(manifest["status"], "completed");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_signs_in_to_matrix_and_exports_every_room() {
    require_e2e!();
    let _one = SERIAL.lock().await;
    let Some(mx) = tokio::task::spawn_blocking(|| Synapse::start(Preset::Default))
        .await
        .expect("start")
    else {
        return;
    };
    let home = Home::new();
    let app = App::launch(&mx.url, &home).await;
    app.text("//*[@data-testid='platform-found' and contains(., 'Matrix')]")
        .await;
    let password = mx.user("alice")["password"]
        .as_str()
        .expect("a password")
        .to_owned();
    app.sign_in_with_password("alice", &password).await;
    app.screen("What should Keepsake export?").await;
    // The rooms are found as the export opens, named as Matrix clients
    // name them.
    let group = mx.room("group")["name"]
        .as_str()
        .expect("a name")
        .to_owned();
    app.wait(&format!("//*[contains(normalize-space(), \"{group}\")]"))
        .await;
    app.click_button("Start export").await;
    let manifest = finished(&app, &home).await;
    assert_eq!(manifest["connector"]["kind"], "matrix");
    assert_eq!(manifest["status"], "completed");
    assert!(
        manifest["marked"]
            .as_object()
            .is_some_and(|m| !m.is_empty()),
        "the encrypted room's events are counted: {manifest:#}"
    );
    // The window says so too.
    app.text("//*[contains(., 'cannot be read without the room')]")
        .await;
    app.quit().await;
}
