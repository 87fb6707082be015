//! glibc's allocator gives a thread that finds the arenas busy an arena of
//! its own, up to eight per core, and memory freed in one arena is never
//! handed to another. An export reads its pages on whichever runtime or
//! blocking thread is free, so with more pages more arenas each keep a
//! page's worth of free memory: measured on a 2-core machine, exporting a
//! Matrix room of 12,000 events peaked at 1.30 × the RSS of a room of
//! 1,000; with one arena per core, 1.17 ×, at the same speed (see
//! docs/benchmarks.md). A fixed mmap threshold flattened memory further but
//! cost 15 % of a large export's time in page faults, so it is not used.
//!
//! Elsewhere (another C library, another system) this does nothing.

/// Limits the allocator to one arena per core (at least two). Call it
/// first thing in `main`: arenas made before it stay.
pub fn one_per_core() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: `mallopt` only sets a parameter of glibc's allocator, and
        // is thread-safe; M_ARENA_MAX bounds the arenas made from now on.
        // Its result (0 when glibc refuses the value) changes nothing here:
        // the allocator then keeps its default.
        #[allow(unsafe_code)]
        let _ = unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) };
    }
}
