//! `keepsake`: the headless front end over `keepsake-core`.
//!
//! Glue only: parse arguments, call the engine, render progress, map errors
//! to exit codes. The export commands arrive with the export-engine issue;
//! until then this binary says so instead of pretending.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version" | "-V") => {
            println!("keepsake {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "keepsake {}: the export commands (login, export, verify, audit) are not built yet.\n\
                 Nothing was changed. Run `cargo xtask demo` to try the reference platform.",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::from(2)
        }
    }
}
