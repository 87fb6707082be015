//! `cargo xtask bench`: the reference platform's benchmarks, written to
//! docs/benchmarks.md. The benchmark itself lives in keepsake-tests.

use std::ffi::OsString;

use crate::util::{self, Failure, Result};

/// Where the results go, relative to the repository root.
const OUT: &str = "docs/benchmarks.md";

pub fn run(args: &[OsString]) -> Result<()> {
    util::no_args("bench", args)?;
    let mut cmd = util::cargo();
    cmd.args([
        "run",
        "--release",
        "--package",
        "keepsake-tests",
        "--bin",
        "bench-platform",
        "--",
        "--out",
        OUT,
    ]);
    util::run(&mut cmd).map_err(|e| {
        Failure::new(format!("{e}"))
            .hint("see the benchmark's own message above; the results file was not updated")
    })?;
    println!("bench: results written to {OUT}");
    Ok(())
}
