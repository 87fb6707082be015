//! The engine (`keepsake-core`) end to end against a real reference platform
//! on loopback: real HTTP, real SQLite, the engine's own code paths.

// Signing in through the browser (PKCE, loopback redirect), refresh rotation,
// revocation, single-flight refresh.
mod signin;
