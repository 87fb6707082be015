//! The desktop shell's commands, called as plain async functions against a
//! real reference platform on loopback (real HTTP, real SQLite, the engine's
//! own code), with the state's files in a temporary directory and tokens in
//! a throwaway file store instead of the developer's keyring.

mod support;

// Platform choice, token sign-in, who is signed in, sign-out, the browser
// sign-in against the platform's authorize page.
mod signin;
// Prepare, export with progress over a channel, verify, audit; quota;
// cancel and resume; support exports.
mod export;
// The app through `run_app` in the mock runtime: IPC round trips, then exit
// (the mock context has no capabilities: the ACL is checked by the
// contract tests in src/contract.rs and enforced in tests/desktop).
mod smoke;
