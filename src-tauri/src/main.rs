// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Before any thread: the export runs in this process.
    keepsake_arenas::one_per_core();
    keepsake_desktop::run();
}
