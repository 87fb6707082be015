//! Round trips through the mock runtime: the real builder (plugins and
//! handler) answering IPC requests from the main window. The mock context
//! carries no capabilities; the ACL is exercised in the real app (WebDriver).

use keepsake_core::credentials::InsecureFileStore;
use keepsake_desktop::state::{AppState, Paths};
use tauri::test::{get_ipc_response, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{WebviewUrl, WebviewWindowBuilder};

fn request(key: &str, cmd: &str, body: serde_json::Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: tauri::ipc::InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: key.to_string(),
    }
}

#[test]
fn the_builder_answers_ipc_in_the_mock_runtime() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = AppState::with(
        Paths {
            settings: dir.path().join("settings.json"),
            audit: dir.path().join("audit"),
            destination: dir.path().join("out"),
        },
        Some("http://127.0.0.1:4000".into()),
        Some(std::sync::Arc::new(InsecureFileStore::new(
            dir.path().join("t.json"),
        ))),
    );
    let mut context = mock_context(noop_assets());
    // The mock's identifier is not a valid D-Bus name (single-instance uses it).
    context.config_mut().identifier = "org.keepsake.desktop.smoke".into();
    let app = keepsake_desktop::app_builder::<tauri::test::MockRuntime>(state)
        .build(context)
        .expect("app");
    // The real builder makes its own invoke key (the mock builder's is fixed).
    let key = app.invoke_key().to_owned();
    let window = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
        .build()
        .expect("window");

    let got = get_ipc_response(
        &window,
        request(&key, "get_platform", serde_json::json!({})),
    )
    .map(|b| b.deserialize::<serde_json::Value>().expect("json"))
    .expect("answered");
    assert_eq!(
        got,
        serde_json::json!({"url": "http://127.0.0.1:4000", "demo": true})
    );

    let dest = get_ipc_response(
        &window,
        request(&key, "default_destination", serde_json::json!({})),
    )
    .map(|b| b.deserialize::<String>().expect("json"))
    .expect("answered");
    assert!(dest.ends_with("out"), "{dest}");

    // An error crosses as `{ code, message }`.
    let err = get_ipc_response(
        &window,
        request(&key, "set_platform", serde_json::json!({"url": "ftp://x"})),
    )
    .expect_err("refused");
    assert_eq!(err["code"], "invalid", "{err}");
}
