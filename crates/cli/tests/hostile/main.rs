//! The `keepsake` binary against a misbehaving platform
//! (`keepsake_tests::hostile`): every case of what a hostile or broken
//! server can do, one test per case. Each asserts the exit code and the
//! message, that nothing outside `--out` was touched, that no
//! finished-looking archive is left when the export fails, and that the
//! export is in the audit log.

// The runner: a private home, the CLI in it, canaries and audit reads.
mod common;
// The harness itself: the default script exports completely.
mod smoke;
// Ids, dates and logins that try to become paths; unsafe names in verify.
mod paths;
// Bodies that never end or trickle, Retry-After, give-up bounds, the token.
mod http;
// Cursors that never end or cycle, endless records, keys, bad Unicode.
mod walks;
// The outcome report that fails, Ctrl-C, escapes meant for the terminal.
mod outcome;
// Which API a platform speaks, asked at sign-in.
mod kinds;
