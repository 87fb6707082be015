//! Split archives side by side with whole ones (issue 13's targets): the
//! same account exported into 200 MB parts, its peak disk use, and a split
//! export killed half way and resumed.

use anyhow::{Context, Result};
use keepsake_tests::bench::{Row, median, median_index, row, runs, settle};
use keepsake_tests::procs::Cli;

/// The size of the parts.
pub const PART_SIZE: &str = "200MB";

/// One round of a split export and of a split export killed and resumed.
pub struct Round {
    /// The split export: wall time, peak disk, archive bytes (all parts).
    pub wall: f64,
    pub peak_disk: u64,
    pub bytes: u64,
    /// The resumed run after a kill at half, when the kill came in time:
    /// its wall time and how far the killed run got.
    pub resumed: Option<(f64, f64)>,
}

/// Runs one round in `dir` (removed between runs).
pub fn round(cli: &Cli, dir: &std::path::Path, round: usize) -> Result<Round> {
    let split = Cli {
        args: vec!["--split-size".into(), PART_SIZE.into()],
        ..cli.clone()
    };
    let out = dir.join("out-split");
    settle();
    let full = split.export(&out, false, false, &format!("split-{round}"))?;
    let (_, bytes) = full.completed("the split export")?;
    fs_err::remove_dir_all(&out).context("removing the split archive")?;

    settle();
    let killed = split.export(&out, false, true, &format!("split-killed-{round}"))?;
    let mut resumed = None;
    if let Some((done, total)) = killed.killed_at.filter(|_| !killed.status.success()) {
        settle();
        let again = split.export(&out, true, false, &format!("split-resume-{round}"))?;
        again.completed("the resumed split export")?;
        resumed = Some((again.wall, done as f64 / total.max(1) as f64));
    }
    fs_err::remove_dir_all(&out).context("removing the resumed split archive")?;
    Ok(Round {
        wall: full.wall,
        peak_disk: full.peak_disk,
        bytes,
        resumed,
    })
}

/// The table's rows: the split export against the whole one
/// (`whole_wall`, median), peak disk against the archive's size for both,
/// and the split resume against the split export.
pub fn rows(rounds: &[Round], whole_wall: f64, whole_disk: (u64, u64)) -> Vec<Row> {
    let wall = median(rounds.iter().map(|r| r.wall));
    let ratio = wall / whole_wall;
    let i = median_index(&rounds.iter().map(|r| r.wall).collect::<Vec<_>>());
    let (disk, bytes) = rounds.get(i).map_or((0, 0), |r| (r.peak_disk, r.bytes));
    let disk_ratio = disk as f64 / bytes.max(1) as f64;
    let (whole_peak, whole_bytes) = whole_disk;
    let mut out = vec![
        row(
            format!("Split export into {PART_SIZE} parts / the whole-archive export"),
            format!(
                "{wall:.2} s / {whole_wall:.2} s = **{ratio:.2} ×** (split runs: {})",
                runs(rounds.iter().map(|r| r.wall))
            ),
            "≤ 1.15 ×",
            Some(ratio <= 1.15),
        ),
        row(
            "Peak disk during the split export / the archive's size",
            format!(
                "{:.0} MB / {:.0} MB = {disk_ratio:.2} × (the whole-archive export: {:.0} MB / {:.0} MB = {:.2} ×)",
                disk as f64 / 1e6,
                bytes as f64 / 1e6,
                whole_peak as f64 / 1e6,
                whole_bytes as f64 / 1e6,
                whole_peak as f64 / whole_bytes.max(1) as f64
            ),
            "≤ 1.1 ×",
            Some(disk_ratio <= 1.1),
        ),
    ];
    let resumes: Vec<(f64, f64)> = rounds.iter().filter_map(|r| r.resumed).collect();
    out.push(if resumes.is_empty() {
        row(
            "Split resume after `kill -9` at 50 %",
            "not measured: the export finished before it could be interrupted",
            "≤ 0.55 × the full split export",
            None,
        )
    } else {
        let i = median_index(&resumes.iter().map(|r| r.0).collect::<Vec<_>>());
        let (resumed, at) = resumes[i];
        let ratio = resumed / wall;
        row(
            "Split resume after `kill -9` at 50 %",
            format!(
                "{resumed:.2} s = {ratio:.2} × the full split export (runs: {}; that one was killed at {:.0} % of the estimated bytes)",
                runs(resumes.iter().map(|r| r.0)),
                100.0 * at
            ),
            "≤ 0.55 × the full split export",
            Some(ratio <= 0.55),
        )
    });
    out
}
