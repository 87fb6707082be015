//! What the benchmark binaries share: their results table, medians of
//! interleaved rounds, and rewriting their own section of
//! `docs/benchmarks.md`.

use std::path::Path;

use anyhow::{Result, bail};

/// One line of a results table.
pub struct Row {
    pub measurement: String,
    pub result: String,
    pub target: String,
    pub met: Option<bool>,
}

/// A row: what was measured, the result, the target, and whether it is met
/// (`None`: no target).
pub fn row(
    m: impl Into<String>,
    r: impl Into<String>,
    t: impl Into<String>,
    met: Option<bool>,
) -> Row {
    Row {
        measurement: m.into(),
        result: r.into(),
        target: t.into(),
        met,
    }
}

/// The table, as Markdown.
pub fn render_table(rows: &[Row]) -> String {
    let mut t =
        String::from("| Measurement | Result | Target | Met? |\n| --- | --- | --- | --- |\n");
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "—",
        };
        t.push_str(&format!(
            "| {} | {} | {} | {met} |\n",
            r.measurement, r.result, r.target
        ));
    }
    t
}

/// Where the median of `values` is (the lower middle of an even count).
pub fn median_index(values: &[f64]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    order
        .get(values.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

/// The median of `values` (0 for none).
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = values.collect();
    v.get(median_index(&v)).copied().unwrap_or(0.0)
}

/// `3.91, 3.84, 4.02 s`.
pub fn runs(values: impl Iterator<Item = f64>) -> String {
    let v: Vec<String> = values.map(|x| format!("{x:.2}")).collect();
    format!("{} s", v.join(", "))
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Writes the page cache back to disk, so that a timed run does not pay
/// for the writes of the one before it.
pub fn settle() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("bench: warning: could not run sync: {e}");
    }
}

/// The 1-minute load average: other work competing for the cores.
pub fn load_average() -> String {
    fs_err::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Replaces the section of `path` between the markers `start` and `end`
/// (appending it when there is none), creating the file if needed.
pub fn write_section(path: &Path, section: &str, start: &str, end: &str) -> Result<()> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::from(
            "# Benchmarks\n\nMeasured by `cargo xtask bench`; each section is rewritten by its own benchmark.\n",
        ),
        Err(e) => return Err(e.into()),
    };
    let updated = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if a < b => format!("{}{section}{}", &text[..a], &text[b + end.len()..]),
        (None, None) => format!("{}\n\n{section}\n", text.trim_end()),
        _ => bail!(
            "the file's {start} markers are broken (one is missing or they are out of order); fix them by hand"
        ),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent)?;
    }
    // Write beside and rename, so an interrupted run leaves the old file whole.
    let tmp = path.with_extension("md.bench.tmp");
    fs_err::write(&tmp, updated)?;
    fs_err::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_are_of_the_middle_run() {
        assert_eq!(median([4.2, 3.8, 5.0].into_iter()), 4.2);
        assert_eq!(median_index(&[4.2, 3.8, 5.0]), 0);
        assert_eq!(median_index(&[3.0, 1.0]), 1, "the lower middle of two");
        assert_eq!(median(std::iter::empty()), 0.0);
        assert_eq!(runs([3.914, 3.8].into_iter()), "3.91, 3.80 s");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!((thousands(0), thousands(999)), ("0".into(), "999".into()));
    }

    #[test]
    fn only_the_marked_section_is_replaced() {
        const START: &str = "<!-- x:start -->";
        const END: &str = "<!-- x:end -->";
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("docs").join("benchmarks.md");
        write_section(&path, &format!("{START}\none\n{END}"), START, END).expect("create");
        let created = fs_err::read_to_string(&path).expect("read");
        assert!(created.starts_with("# Benchmarks\n"), "{created}");
        fs_err::write(
            &path,
            format!("# Mine\n\nkept\n\n{START}\nold\n{END}\n\nalso kept\n"),
        )
        .expect("write");
        write_section(&path, &format!("{START}\nnew\n{END}"), START, END).expect("update");
        assert_eq!(
            fs_err::read_to_string(&path).expect("read"),
            format!("# Mine\n\nkept\n\n{START}\nnew\n{END}\n\nalso kept\n")
        );
        fs_err::write(&path, format!("{START}\nno end\n")).expect("write");
        assert!(
            write_section(&path, "x", START, END).is_err(),
            "a broken section is not overwritten"
        );
    }
}
