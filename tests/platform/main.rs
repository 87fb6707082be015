//! The reference platform end to end: real HTTP on loopback, real SQLite.

// OAuth 2.0 for native apps: PKCE, redirect checks, code and refresh reuse.
mod oauth;
// Export sessions: quota, 409, scopes and reasons, deletion mid-export.
mod exports;
// Keyset paging over a snapshot while the account changes underneath.
mod paging;
// Signed media URLs, expiry and Range.
mod media;
// Every fault-injection knob does what it says.
mod faults;
// Seeding is deterministic and the presets hold what they promise.
mod seeding;
// Problem details, rate-limit headers and the served contract.
mod protocol;
