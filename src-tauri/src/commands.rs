//! The commands the UI may invoke (and `capabilities/default.json` grants,
//! one by one). Each takes the state, calls the engine through it, and maps
//! the error; none returns a token.

use tauri::ipc::Channel;
use tauri::{AppHandle, Manager as _, Runtime, State};
use tauri_plugin_dialog::DialogExt as _;
use tauri_plugin_notification::NotificationExt as _;
use tauri_plugin_opener::OpenerExt as _;

use crate::dto::{
    Account, AuditView, Customer, ExportRequest, ExportSummary, PlatformInfo, Preparation,
    ProgressEvent, VerifyResult,
};
use crate::error::{CmdResult, ErrorCode, IpcError};
use crate::state::AppState;

/// The platform the app talks to, and the ways to sign in it offers.
#[tauri::command]
pub async fn get_platform(state: State<'_, AppState>) -> CmdResult<PlatformInfo> {
    state.platform_info().await
}

/// Finds which platform the address is, and remembers both.
#[tauri::command]
pub async fn set_platform(state: State<'_, AppState>, url: String) -> CmdResult<PlatformInfo> {
    state.set_platform(&url).await
}

/// Signs in through the system browser (OAuth + PKCE, WordPress's
/// application authorisation or Matrix single sign-on, to a loopback
/// redirect). `$BROWSER`, when set, names the browser, as it does for
/// other tools.
#[tauri::command]
pub async fn sign_in_with_browser<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    support: bool,
) -> CmdResult<Account> {
    state
        .sign_in_with_browser(support, system_browser(app))
        .await
}

/// Opens a page in the system browser, or in the one `$BROWSER` names.
fn system_browser<R: Runtime>(
    app: AppHandle<R>,
) -> impl FnOnce(&url::Url) -> std::io::Result<()> + Send + 'static {
    let browser = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    move |url| {
        app.opener()
            .open_url(url.as_str(), browser)
            .map_err(std::io::Error::other)
    }
}

/// Opens the platform's page that makes the secret the password form asks
/// for (WordPress's approval page) in the system browser; returns its
/// address, to show.
#[tauri::command]
pub async fn open_sign_in_page<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CmdResult<String> {
    state.open_sign_in_page(system_browser(app)).await
}

/// Stops a browser sign-in that is still waiting for the browser.
#[tauri::command]
pub fn cancel_sign_in(state: State<'_, AppState>) -> bool {
    state.cancel_sign_in()
}

/// Signs in with an access token (kept in the OS keyring).
#[tauri::command]
pub async fn sign_in_with_token(state: State<'_, AppState>, token: String) -> CmdResult<Account> {
    state.sign_in_with_token(token).await
}

/// Signs in with a user name and a password (Matrix) or an application
/// password (WordPress); only what the platform gives for it is kept.
#[tauri::command]
pub async fn sign_in_with_password(
    state: State<'_, AppState>,
    user: String,
    password: String,
) -> CmdResult<Account> {
    state.sign_in_with_password(user, password).await
}

/// Who is signed in, if anyone.
#[tauri::command]
pub async fn who_am_i(state: State<'_, AppState>) -> CmdResult<Option<Account>> {
    state.who_am_i().await
}

/// Revokes and forgets the sign-in.
#[tauri::command]
pub async fn sign_out(state: State<'_, AppState>) -> CmdResult<()> {
    state.sign_out().await
}

/// Looks a customer up by login (support staff).
#[tauri::command]
pub async fn find_customer(state: State<'_, AppState>, login: String) -> CmdResult<Customer> {
    state.find_customer(&login).await
}

/// Where exports go unless another folder is chosen.
#[tauri::command]
pub fn default_destination(state: State<'_, AppState>) -> String {
    state.default_destination()
}

/// Asks for a destination folder with the native dialog.
#[tauri::command]
pub async fn choose_folder<R: Runtime>(app: AppHandle<R>) -> CmdResult<Option<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Where should Keepsake save the archive?")
        .pick_folder(move |p| {
            let _ = tx.send(p.and_then(|p| p.into_path().ok()));
        });
    Ok(rx.await.ok().flatten().map(|p| p.display().to_string()))
}

/// Opens the export session and reports counts, size and free space.
#[tauri::command]
pub async fn prepare_export(
    state: State<'_, AppState>,
    request: ExportRequest,
) -> CmdResult<Preparation> {
    state.prepare(request).await
}

/// Gives up a prepared or interrupted export.
#[tauri::command]
pub async fn discard_export(state: State<'_, AppState>, request: ExportRequest) -> CmdResult<()> {
    state.discard(request).await
}

/// An interrupted export to offer for resuming.
#[tauri::command]
pub async fn pending_resume(state: State<'_, AppState>) -> CmdResult<Option<Preparation>> {
    state.pending_resume().await
}

/// Runs the export to the end, with progress on `on_event`; notifies when
/// it ends while the window is in the background.
#[tauri::command]
pub async fn start_export<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    request: ExportRequest,
    on_event: Channel<ProgressEvent>,
) -> CmdResult<ExportSummary> {
    let result = state
        .run_export(request, move |e| {
            let _ = on_event.send(e);
        })
        .await;
    notify_if_hidden(&app, &result);
    result
}

/// Stops the running export; `keep` keeps what was fetched for resuming.
#[tauri::command]
pub fn cancel_export(state: State<'_, AppState>, keep: bool) -> bool {
    state.cancel(keep)
}

/// Re-reads an archive against its checksums.
#[tauri::command]
pub async fn verify_archive(state: State<'_, AppState>, path: String) -> CmdResult<VerifyResult> {
    state.verify(path).await
}

/// Shows a file in the system's file manager.
#[tauri::command]
pub fn show_in_folder<R: Runtime>(app: AppHandle<R>, path: String) -> CmdResult<()> {
    app.opener()
        .reveal_item_in_dir(&path)
        .map_err(|e| IpcError::new(ErrorCode::File, format!("could not show {path}: {e}")))
}

/// The audit log with its chain checked.
#[tauri::command]
pub async fn audit_log(state: State<'_, AppState>) -> CmdResult<AuditView> {
    state.audit().await
}

/// Saves the audit log as CSV where the user chooses; `None` if they
/// cancelled the dialog, else the number of records.
#[tauri::command]
pub async fn export_audit_csv<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> CmdResult<Option<u64>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Save the audit log as CSV")
        .set_file_name("keepsake-audit.csv")
        .add_filter("CSV", &["csv"])
        .save_file(move |p| {
            let _ = tx.send(p.and_then(|p| p.into_path().ok()));
        });
    match rx.await.ok().flatten() {
        Some(path) => state.export_audit_csv(path).await.map(Some),
        None => Ok(None),
    }
}

fn notify_if_hidden<R: Runtime>(app: &AppHandle<R>, result: &CmdResult<ExportSummary>) {
    let focused = app
        .get_webview_window("main")
        .and_then(|w| w.is_focused().ok())
        .unwrap_or(true);
    if focused {
        return;
    }
    let (title, body) = match result {
        Ok(s) => ("Your Keepsake archive is ready", s.file_name.clone()),
        Err(e) if e.code == ErrorCode::Cancelled => return,
        Err(e) => ("The export stopped", e.message.clone()),
    };
    // The body may carry a platform's words (a problem detail, a login in
    // the file name): no control or bidi characters reach the desktop.
    let body = keepsake_core::text::sanitize_for_terminal(&body).into_owned();
    let _ = app.notification().builder().title(title).body(body).show();
}
