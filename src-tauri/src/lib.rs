//! The Keepsake desktop app: a Tauri v2 shell over `keepsake-core`.
//!
//! Glue only: the builder and its plugins here, the commands in
//! [`commands`], the state they share in [`state`], the IPC shapes in
//! [`dto`] and [`error`]. All behaviour is the engine's. This crate must
//! never hand a token to the webview, log one, or open anything from the
//! webview that Rust did not decide to open.

pub mod commands;
pub mod dto;
pub mod error;
pub mod state;

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod contract;

use tauri::{Manager as _, Runtime};

/// The builder with every plugin and command, over any runtime (the mock
/// runtime in tests).
pub fn app_builder<R: Runtime>(state: state::AppState) -> tauri::Builder<R> {
    // Registered first, as the plugin asks: a second launch exits at once.
    with_plugins(
        tauri::Builder::<R>::new().plugin(tauri_plugin_single_instance::init(
            |app, _argv, _cwd| {
                // A second launch focuses the first window instead.
                if let Some(w) = app.get_webview_window("main") {
                    let _ = w.unminimize();
                    let _ = w.show();
                    let _ = w.set_focus();
                }
            },
        )),
    )
    .manage(state)
}

/// The other plugins and the commands.
fn with_plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(
            tauri_plugin_log::Builder::new()
                .level(log::LevelFilter::Info)
                .build(),
        )
        .plugin(tauri_plugin_window_state::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            commands::get_platform,
            commands::set_platform,
            commands::sign_in_with_browser,
            commands::cancel_sign_in,
            commands::open_sign_in_page,
            commands::sign_in_with_token,
            commands::sign_in_with_password,
            commands::who_am_i,
            commands::sign_out,
            commands::find_customer,
            commands::default_destination,
            commands::choose_folder,
            commands::prepare_export,
            commands::discard_export,
            commands::pending_resume,
            commands::start_export,
            commands::cancel_export,
            commands::verify_archive,
            commands::show_in_folder,
            commands::audit_log,
            commands::export_audit_csv,
        ])
}

/// Builds and runs `builder` with `context` (the mock runtime's in tests).
pub fn run_app<R: Runtime>(builder: tauri::Builder<R>, context: tauri::Context<R>) {
    if let Err(e) = builder.run(context) {
        eprintln!("keepsake-desktop: could not start: {e:#}");
        std::process::exit(1);
    }
}

/// Runs the app. `main` calls it first, before any thread exists.
pub fn run() {
    #[cfg(target_os = "linux")]
    prefer_shared_memory_renderer();
    run_app(
        app_builder::<tauri::Wry>(state::AppState::new()),
        tauri::generate_context!(),
    );
}

/// WebKitGTK's DMA-BUF renderer has the UI process set up EGL before it
/// starts the web process, on the path to the first screen of every launch,
/// and has the web process draw every frame through GL: with Mesa's software
/// driver that cost about a tenth of a second at launch and 1.5 s of CPU
/// during the `large` export, taken from the export on two cores
/// (docs/benchmarks.md). A window of forms loses nothing by sharing its
/// frames through shared memory instead (also the usual cure for blank
/// windows on some GPU drivers). A value the user set wins. Only before any
/// thread exists: setenv is not thread-safe.
#[cfg(target_os = "linux")]
fn prefer_shared_memory_renderer() {
    const VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";
    if std::env::var_os(VAR).is_none() && glib::setenv(VAR, "1", false).is_err() {
        eprintln!("keepsake-desktop: could not set {VAR}; starting with WebKit's defaults");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    /// Every `log` record, as tauri-plugin-log would receive it.
    struct Capture(Mutex<Vec<(log::Level, String, String)>>);

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let mut seen = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            seen.push((
                record.level(),
                record.target().to_owned(),
                record.args().to_string(),
            ));
        }
        fn flush(&self) {}
    }

    static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

    // The engine's `tracing` events never reached the log plugin: tracing
    // was built without its `log` feature.
    #[test]
    fn the_engines_tracing_events_reach_the_log_plugin() {
        log::set_logger(&CAPTURE).expect("the only logger in this test binary");
        log::set_max_level(log::LevelFilter::Info);
        tracing::warn!(
            target: "keepsake_core::export",
            id = 7,
            "a staged media file was damaged by a restart"
        );
        tracing::debug!(target: "keepsake_core::export", "below the level: left out");
        let seen = CAPTURE.0.lock().expect("records");
        assert_eq!(seen.len(), 1, "{seen:?}");
        let (level, target, message) = &seen[0];
        assert_eq!(*level, log::Level::Warn);
        assert_eq!(target, "keepsake_core::export");
        assert!(
            message.contains("a staged media file was damaged by a restart"),
            "{message}"
        );
    }
}
