//! The Keepsake desktop app.
//!
//! The Tauri v2 shell arrives with the desktop issue; until then this binary
//! says so instead of opening an empty window.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "keepsake-desktop {}: the desktop app is not built yet. Run `cargo xtask demo` to try the reference platform.",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
