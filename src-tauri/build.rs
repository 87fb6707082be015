//! Lists the app's commands for the capability ACL, and makes sure the UI
//! directory `generate_context!` embeds exists.
//!
//! `cargo xtask test` (and `cargo xtask demo`) build the real UI into
//! `ui/dist` first. On a bare `cargo build`/`cargo test` of a fresh clone
//! there is none yet, so a placeholder page is written that says how to
//! build it; a later `npm run build` replaces it.

use std::path::Path;

const COMMANDS: &[&str] = &[
    "get_platform",
    "set_platform",
    "sign_in_with_browser",
    "cancel_sign_in",
    "open_sign_in_page",
    "sign_in_with_token",
    "sign_in_with_password",
    "who_am_i",
    "sign_out",
    "find_customer",
    "default_destination",
    "choose_folder",
    "prepare_export",
    "discard_export",
    "pending_resume",
    "start_export",
    "cancel_export",
    "verify_archive",
    "show_in_folder",
    "audit_log",
    "export_audit_csv",
];

const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Keepsake</title></head>\
<body><p>The Keepsake UI is not built. Run <code>cargo xtask setup</code> and \
<code>npm run build</code> in <code>ui/</code>, then rebuild.</p></body></html>\n";

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    if !dist.join("index.html").is_file() {
        fs_err::create_dir_all(&dist).expect("create ui/dist");
        fs_err::write(dist.join("index.html"), PLACEHOLDER).expect("write ui/dist/index.html");
    }
    println!("cargo:rerun-if-changed=../ui/dist");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build");
}
