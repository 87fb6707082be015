//! The real desktop app (the debug binary), driven through WebDriver
//! (`tauri-driver` + `WebKitWebDriver`) under a virtual display, against a
//! real reference platform on loopback, with tokens in the real OS keyring.
//!
//! `cargo xtask test` runs it inside Xvfb and a private D-Bus session with an
//! unlocked throwaway keyring, and sets `KEEPSAKE_E2E=1`; there a missing
//! tool fails the run. A bare `cargo test` skips it. `KEEPSAKE_SCREENSHOTS=1` also saves each screen to
//! docs/screenshots/.

mod app;

// Sign in with an access token, choose (JSON only, a split size), export,
// progress to done, the archive on disk verifies; the History screen.
mod export;
// Cancel keeping what was fetched, relaunch, resume.
mod resume;
// The quota message; the browser sign-in through the platform's page.
mod refusals;
// Size, launch time and memory of the release app (KEEPSAKE_BENCH_DESKTOP=1).
mod bench;
// The app as the .deb installs it (the package test of `cargo xtask test`).
mod installed;
// A real WordPress and a real Synapse: sign in with their password forms,
// export.
mod platforms;
