//! `keepsake verify`: an archive, or a split archive's whole set, checked
//! against its own checksums and manifests, with no network.

use std::io::Write as _;
use std::process::ExitCode;

use keepsake_core::{Result, archive};
use serde_json::json;

use crate::args::Global;
use crate::{code, print_result, render, sanitize_lines};

pub(crate) fn verify(g: &Global, path: &std::path::Path, set: bool) -> Result<ExitCode> {
    if set {
        return verify_set(g, path);
    }
    let report = archive::verify(path)?;
    let summary = json!({
        "ok": report.ok,
        "files_checked": report.files_checked,
        "bytes_checked": report.bytes_checked,
        "problems": report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    });
    let part = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(archive::parse_part_file_name)
        .map(|(_, k, n)| {
            format!("\n  this is part {k} of {n}; keepsake verify --set checks every part")
        })
        .unwrap_or_default();
    print_result(g, &summary, || {
        if report.ok {
            format!(
                "{}: intact — {} files, {} checked against their SHA-256{part}",
                path.display(),
                report.files_checked,
                render::human_bytes(report.bytes_checked)
            )
        } else {
            let mut s = format!(
                "{}: DAMAGED — {} problem(s):\n",
                path.display(),
                report.problems.len()
            );
            for p in &report.problems {
                s.push_str(&format!("  {p}\n"));
            }
            s
        }
    });
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code::DAMAGED)
    })
}

/// `keepsake verify --set`: every part, then the set as a whole. Each
/// part's line is printed as soon as it is checked: a large set takes
/// minutes.
fn verify_set(g: &Global, any_part: &std::path::Path) -> Result<ExitCode> {
    let n = any_part
        .file_name()
        .and_then(|f| f.to_str())
        .and_then(archive::parse_part_file_name)
        .map_or(0, |(_, _, n)| n);
    let mut tell = |p: &archive::PartReport| {
        if !g.json {
            out!("{}", part_line(p, n).trim_end());
        }
    };
    let report = archive::verify_set_telling(any_part, &mut tell)?;
    let summary = json!({
        "ok": report.ok,
        "expected_parts": report.expected_parts,
        "parts": report.parts.iter().map(|p| match &p.report {
            Ok(r) => json!({
                "number": p.number,
                "path": p.path,
                "ok": r.ok,
                "files_checked": r.files_checked,
                "bytes_checked": r.bytes_checked,
                "problems": r.problems.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
            }),
            Err(e) => json!({"number": p.number, "path": p.path, "ok": false, "problems": [e]}),
        }).collect::<Vec<_>>(),
        "problems": report.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
    });
    print_result(g, &summary, || {
        let mut s = String::new();
        for p in &report.problems {
            s.push_str(&format!("set: {p}\n"));
        }
        s.push_str(&if report.ok {
            format!(
                "the set is complete and intact: all {} parts",
                report.expected_parts
            )
        } else {
            format!(
                "the set is INCOMPLETE or DAMAGED ({} of {} parts intact)",
                report.parts.iter().filter(|p| p.ok()).count(),
                report.expected_parts
            )
        });
        s
    });
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(code::DAMAGED)
    })
}

/// What checking part `p` of `n` found, in a line (and one per problem).
fn part_line(p: &archive::PartReport, n: usize) -> String {
    let head = format!("part {} of {n}: {}", p.number, p.path.display());
    match &p.report {
        Ok(r) if r.ok => format!(
            "{head}: intact — {} files, {} checked",
            r.files_checked,
            render::human_bytes(r.bytes_checked)
        ),
        Ok(r) => {
            let mut s = format!("{head}: DAMAGED — {} problem(s):", r.problems.len());
            for x in &r.problems {
                s.push_str(&format!("\n  {x}"));
            }
            s
        }
        Err(e) => format!("{head}: UNREADABLE — {e}"),
    }
}
