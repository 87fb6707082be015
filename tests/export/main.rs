//! The export engine (keepsake-core) end to end against a real reference
//! platform on loopback: archives, completeness, refusals, faults, resume.

// Shared helpers: run an export, read an archive back, validate it with
// independent tools (unzip, Python's zipfile, the Library of Congress bagit).
mod support;
// Whole exports of the edge preset: empty, prolific, Unicode, hostile.
mod full;
// What the platform refuses, and how the engine says so.
mod refusals;
// Every fault knob on: every record exactly once, or a clean failure.
mod faults;
// A file of no declared size from a server that never stops sending.
mod undeclared;
// Cancel, then resume: nothing fetched twice, the same records.
mod resume;
// A disk that fills up mid-export: what was fetched is kept, and the export
// continues once there is room (a tmpfs mounted as root).
mod disk_full;
// CSV copies read back by Python's csv module, equal to the JSON cell by cell.
mod csv;
// Split archives: every part a valid zip and bag within the size; together
// every record and file exactly once.
mod split;
// The offline viewer in real archives; extracts them as fixtures for the
// browser tests in tests/viewer (node --test, headless Chromium).
mod viewer;
// Exports from a real WordPress and a real Synapse: support staff, rooms
// left, encrypted events, writes during the walk, rate limits; their
// viewer fixtures.
mod platforms;
