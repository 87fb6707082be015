//! A mock-runtime app over a fresh state, and a channel that collects what
//! the shell sends.

use std::sync::{Arc, Mutex};

use keepsake_core::credentials::InsecureFileStore;
use keepsake_desktop::dto::{ExportRequest, ProgressEvent};
use keepsake_desktop::state::{AppState, Paths};
use keepsake_tests::Platform;
use serde_json::Value;
use tauri::Manager as _;
use tauri::ipc::{Channel, InvokeResponseBody};
use tauri::test::{MockRuntime, mock_builder, mock_context, noop_assets};
use tempfile::TempDir;

/// An app whose state points at `platform`, with its files in `dir`.
pub struct TestApp {
    pub app: tauri::App<MockRuntime>,
    pub dir: TempDir,
}

impl TestApp {
    pub fn new(platform: &Platform) -> Self {
        Self::with_url(Some(platform.url.clone()))
    }

    pub fn with_url(url: Option<String>) -> Self {
        Self::in_dir(tempfile::tempdir().expect("temp dir"), url)
    }

    /// The app quit and opened again: a fresh state over the same files
    /// (settings, audit log, remembered folders, tokens).
    pub fn relaunch(self) -> Self {
        let url = self.state().chosen_url();
        let Self { app, dir } = self;
        drop(app);
        Self::in_dir(dir, url)
    }

    fn in_dir(dir: TempDir, url: Option<String>) -> Self {
        let paths = Paths {
            settings: dir.path().join("config/settings.json"),
            audit: dir.path().join("data/keepsake"),
            destination: dir.path().join("Downloads/Keepsake"),
            destinations: dir.path().join("data/keepsake/destinations.json"),
        };
        let store = Arc::new(InsecureFileStore::new(dir.path().join("tokens.json")));
        let state = AppState::with(paths, url, Some(store));
        let app = mock_builder()
            .manage(state)
            .build(mock_context(noop_assets()))
            .expect("mock app");
        Self { app, dir }
    }

    pub fn state(&self) -> tauri::State<'_, AppState> {
        self.app.state::<AppState>()
    }

    pub fn handle(&self) -> tauri::AppHandle<MockRuntime> {
        self.app.handle().clone()
    }

    /// A request for one's own account into the default destination.
    pub fn request(&self) -> ExportRequest {
        ExportRequest {
            destination: self
                .dir
                .path()
                .join("Downloads/Keepsake")
                .display()
                .to_string(),
            ..ExportRequest::default()
        }
    }
}

/// A channel that keeps every event as JSON, in order.
pub fn collecting_channel() -> (Channel<ProgressEvent>, Arc<Mutex<Vec<Value>>>) {
    collecting_channel_with(|_| {})
}

/// The same, also calling `each` on every event.
pub fn collecting_channel_with(
    each: impl Fn(&Value) + Send + Sync + 'static,
) -> (Channel<ProgressEvent>, Arc<Mutex<Vec<Value>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let channel = Channel::new(move |body| {
        let value: Value = match body {
            InvokeResponseBody::Json(s) => serde_json::from_str(&s).expect("event JSON"),
            InvokeResponseBody::Raw(b) => serde_json::from_slice(&b).expect("event JSON"),
        };
        each(&value);
        sink.lock().expect("events").push(value);
        Ok(())
    });
    (channel, events)
}
