//! Progress for people and for programs: indicatif bars on a terminal,
//! plain lines otherwise, NDJSON with `--json`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use keepsake_core::export::{ExportEvent, Phase, Reporter};
use keepsake_core::text::{json_for_terminal, sanitize_for_terminal};

/// Picks the renderer for this run.
pub fn reporter(json: bool) -> Box<dyn Reporter> {
    if json {
        Box::new(Ndjson)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines)
    }
}

/// One JSON object per line on stdout.
struct Ndjson;

impl Reporter for Ndjson {
    fn report(&self, event: ExportEvent) {
        if let Ok(line) = serde_json::to_string(&event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", json_for_terminal(&line));
        }
    }
}

/// Plain lines on stderr (logs, CI, pipes).
struct Lines;

impl Reporter for Lines {
    fn report(&self, event: ExportEvent) {
        if let Some(line) = describe(&event) {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

/// One line about `event`, safe for a terminal: category names, export ids
/// and warnings come from the platform, so their control characters are
/// shown as escapes.
fn describe(event: &ExportEvent) -> Option<String> {
    describe_raw(event).map(|line| sanitize_for_terminal(&line).into_owned())
}

fn describe_raw(event: &ExportEvent) -> Option<String> {
    Some(match event {
        ExportEvent::Phase { phase } => match phase {
            Phase::Opening => "opening the export session…".into(),
            Phase::Preflight => return None,
            Phase::Fetching => "fetching…".into(),
            Phase::Finishing => "writing checksums and finishing the archive…".into(),
            Phase::Done => return None,
        },
        ExportEvent::Preflight {
            export_id,
            as_of,
            categories,
            resumed,
        } => {
            let list: Vec<String> = categories
                .iter()
                .map(|c| match c.records {
                    Some(n) => format!("{} {n}", c.name),
                    None => c.name.clone(),
                })
                .collect();
            let est = categories
                .iter()
                .fold(0u64, |sum, c| sum.saturating_add(c.bytes));
            format!(
                "{} export {export_id} (snapshot {as_of}): {} — about {}",
                if *resumed { "resuming" } else { "opened" },
                list.join(", "),
                human_bytes(est)
            )
        }
        ExportEvent::Category {
            name,
            fetched,
            expected,
        } => match expected {
            Some(expected) => format!("{name}: {fetched}/{expected}"),
            None => format!("{name}: {fetched}"),
        },
        ExportEvent::Bytes { .. } => return None,
        ExportEvent::WritingParts {
            written,
            parts,
            done,
            total,
        } => format!(
            "writing the parts: {written} of {parts} complete, {} of {}",
            human_bytes(*done),
            human_bytes(*total)
        ),
        ExportEvent::Waiting {
            reason,
            until,
            secs,
            giving_up_at,
        } => format!("waiting {secs} s ({reason}) until {until}; giving up at {giving_up_at}"),
        ExportEvent::Warning { message } => format!("warning: {message}"),
    })
}

/// A bar per category plus one for bytes.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4)),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, key: &str, len: u64, bytes: bool) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(key.to_owned())
            .or_insert_with(|| {
                let style = if bytes {
                    "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
                } else {
                    "{prefix:>12} [{bar:30}] {pos}/{len}"
                };
                let pb = self.multi.add(ProgressBar::new(len));
                pb.set_style(
                    ProgressStyle::with_template(style)
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                // A category name is the platform's.
                pb.set_prefix(sanitize_for_terminal(key).into_owned());
                pb
            })
            .clone()
    }
}

impl Reporter for Bars {
    fn report(&self, event: ExportEvent) {
        match &event {
            ExportEvent::Category {
                name,
                fetched,
                expected,
            } => {
                // Without an announced count the bar is as long as what
                // came so far.
                let len = expected.unwrap_or(*fetched).max(*fetched);
                let pb = self.bar(name, len, false);
                pb.set_length(len);
                pb.set_position(*fetched);
            }
            ExportEvent::Bytes { done, total, .. } => {
                let pb = self.bar("downloaded", *total, true);
                pb.set_length(*total);
                pb.set_position(*done);
            }
            ExportEvent::WritingParts { done, total, .. } => {
                let pb = self.bar("parts", *total, true);
                pb.set_length(*total);
                pb.set_position(*done);
            }
            ExportEvent::Phase { phase: Phase::Done } => {
                for pb in self.bars.lock().unwrap_or_else(|e| e.into_inner()).values() {
                    pb.finish();
                }
            }
            other => {
                if let Some(line) = describe(other) {
                    let _ = self.multi.println(line);
                }
            }
        }
    }
}

/// `1.2 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
