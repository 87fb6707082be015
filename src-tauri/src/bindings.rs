//! The TypeScript types of the IPC, generated from the Rust ones with ts-rs.
//! `bindings_are_current` fails when `ui/src/lib/bindings/index.ts` differs
//! from what the Rust types generate; `UPDATE_BINDINGS=1 cargo test -p
//! keepsake-desktop bindings` rewrites it.

use std::path::Path;

use ts_rs::{Config, TS};

use crate::dto::*;
use crate::error::{ErrorCode, IpcError};

fn generate() -> String {
    // Counts and sizes stay well below 2^53: plain numbers, not bigint.
    let cfg = Config::new().with_large_int("number");
    let decls = [
        PlatformInfo::decl(&cfg),
        SignInOffer::decl(&cfg),
        CategoryChoice::decl(&cfg),
        Account::decl(&cfg),
        Customer::decl(&cfg),
        ExportRequest::decl(&cfg),
        CategoryEstimate::decl(&cfg),
        Preparation::decl(&cfg),
        ProgressEvent::decl(&cfg),
        CategoryCount::decl(&cfg),
        ArchivePart::decl(&cfg),
        ExportSummary::decl(&cfg),
        VerifyResult::decl(&cfg),
        AuditRow::decl(&cfg),
        AuditView::decl(&cfg),
        ErrorCode::decl(&cfg),
        IpcError::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from src-tauri/src/{dto,error}.rs by ts-rs; do not edit.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p keepsake-desktop bindings\n",
    );
    for d in decls {
        out.push('\n');
        out.push_str("export ");
        out.push_str(d.trim());
        out.push('\n');
    }
    out
}

#[test]
fn bindings_are_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings/index.ts");
    let want = generate();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        fs_err::create_dir_all(path.parent().expect("parent")).expect("create bindings dir");
        fs_err::write(&path, &want).expect("write bindings");
        return;
    }
    let have = fs_err::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "ui/src/lib/bindings/index.ts is out of date with the Rust IPC types; \
         run `UPDATE_BINDINGS=1 cargo test -p keepsake-desktop bindings` and commit the result"
    );
}
