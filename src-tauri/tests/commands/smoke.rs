//! The app as `run()` runs it, over the mock runtime: `run_app` with the
//! real builder (plugins and handler), answering IPC requests from the main
//! window once the app is Ready, then exiting when that window closes. The
//! mock context carries no capabilities, so the ACL is not checked here:
//! `contract.rs` checks the capability file, the real app (WebDriver)
//! enforces it.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

use keepsake_core::credentials::InsecureFileStore;
use keepsake_desktop::state::{AppState, Paths};
use tauri::test::{MockRuntime, get_ipc_response, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

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

/// What the window asks once the app runs.
fn round_trips(window: &WebviewWindow<MockRuntime>, key: &str) {
    let got = get_ipc_response(window, request(key, "get_platform", serde_json::json!({})))
        .map(|b| b.deserialize::<serde_json::Value>().expect("json"))
        .expect("answered");
    // Nothing answers there: the platform is still the chosen one, and
    // the window is told why it cannot offer a sign-in yet.
    assert_eq!(
        (&got["url"], &got["demo"], &got["offers"]),
        (
            &serde_json::json!("http://127.0.0.1:4000"),
            &serde_json::json!(true),
            &serde_json::json!([])
        ),
        "{got}"
    );
    assert!(
        got["problem"]
            .as_str()
            .is_some_and(|p| p.contains("could not reach")),
        "{got}"
    );

    let dest = get_ipc_response(
        window,
        request(key, "default_destination", serde_json::json!({})),
    )
    .map(|b| b.deserialize::<String>().expect("json"))
    .expect("answered");
    assert!(dest.ends_with("out"), "{dest}");

    // An async command, answered from the app's async runtime.
    let who = get_ipc_response(window, request(key, "who_am_i", serde_json::json!({})))
        .map(|b| b.deserialize::<serde_json::Value>().expect("json"))
        .expect("answered");
    assert_eq!(who, serde_json::Value::Null, "nobody is signed in");

    // An error crosses as `{ code, message }`.
    let err = get_ipc_response(
        window,
        request(key, "set_platform", serde_json::json!({"url": "ftp://x"})),
    )
    .expect_err("refused");
    assert_eq!(err["code"], "invalid", "{err}");

    // A key the command does not take is an error, not a silent default.
    let err = get_ipc_response(window, request(key, "cancel_export", serde_json::json!({})))
        .expect_err("refused");
    assert!(err.to_string().contains("keep"), "{err}");
}

#[test]
fn run_app_answers_ipc_in_the_mock_runtime_and_exits_when_the_window_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = AppState::with(
        Paths {
            settings: dir.path().join("settings.json"),
            audit: dir.path().join("audit"),
            destination: dir.path().join("out"),
            destinations: dir.path().join("destinations.json"),
        },
        Some("http://127.0.0.1:4000".into()),
        Some(std::sync::Arc::new(InsecureFileStore::new(
            dir.path().join("t.json"),
        ))),
    );
    let mut context = mock_context(noop_assets());
    // The mock's identifier is not a valid D-Bus name (single-instance uses it).
    context.config_mut().identifier = "org.keepsake.desktop.smoke".into();

    // On Ready: open the main window and ask it things from another thread
    // (as the webview would), then close it, which ends the mock's event
    // loop. The outcome comes back over `done`; a panic closes the window too.
    let (done, outcome) = mpsc::channel();
    let driver = tauri::plugin::Builder::<MockRuntime>::new("smoke")
        .on_event(move |app, event| {
            if !matches!(event, RunEvent::Ready) {
                return;
            }
            // The real builder makes its own invoke key (the mock builder's is fixed).
            let key = app.invoke_key().to_owned();
            let app = app.clone();
            let done = done.clone();
            // Off the event loop: creating a window waits for the loop.
            std::thread::spawn(move || {
                let window = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
                    .build()
                    .expect("window");
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    round_trips(&window, &key);
                }));
                let _ = done.send(result.is_ok());
                window.destroy().expect("close the window");
            });
        })
        .build();

    // A hung round trip would keep run_app from returning: fail instead.
    let (finished, watchdog) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(120)) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("run_app did not return within two minutes");
            std::process::exit(101);
        }
    });

    let builder = keepsake_desktop::app_builder::<MockRuntime>(state).plugin(driver);
    keepsake_desktop::run_app(builder, context);
    let _ = finished.send(());

    assert_eq!(
        outcome.try_recv(),
        Ok(true),
        "the round trips passed (their panic is printed above)"
    );
}
