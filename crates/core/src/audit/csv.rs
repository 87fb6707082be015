//! The log as RFC 4180 CSV, for spreadsheets and auditors.

use std::io::{BufWriter, Write};

use super::{AuditRecord, Records};
use crate::{Error, Result};

const HEADER: [&str; 20] = [
    "seq",
    "time",
    "actor",
    "subject",
    "reason",
    "platform",
    "categories",
    "since",
    "until",
    "export_id",
    "result",
    "error_code",
    "bytes",
    "archive_path",
    "archive_sha256",
    "duration_ms",
    "app_version",
    "counts",
    "hash",
    // Last, so the columns before it keep their places.
    "report",
];

pub(super) fn write(records: Records, out: &mut dyn Write) -> Result<u64> {
    let failed = |e| Error::io("write", "the CSV output")(e);
    let mut out = BufWriter::new(out);
    let mut line = String::new();
    push_row(&mut line, HEADER);
    out.write_all(line.as_bytes()).map_err(failed)?;
    let mut written = 0;
    for record in records {
        line.clear();
        push_row(&mut line, cells(&record?));
        out.write_all(line.as_bytes()).map_err(failed)?;
        written += 1;
    }
    out.flush().map_err(failed)?;
    Ok(written)
}

fn cells(r: &AuditRecord) -> [String; 20] {
    let e = &r.entry;
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let counts = e
        .counts
        .iter()
        .map(|(category, c)| {
            let expected = c.expected.map_or_else(|| "?".to_owned(), |n| n.to_string());
            format!("{category}={expected}/{}", c.retrieved)
        })
        .collect::<Vec<_>>()
        .join(";");
    [
        r.seq.to_string(),
        r.time.clone(),
        e.actor.clone(),
        e.subject.clone(),
        opt(&e.reason),
        e.platform.clone(),
        e.categories.join(";"),
        opt(&e.filters.since),
        opt(&e.filters.until),
        opt(&e.export_id),
        e.result.as_str().to_owned(),
        opt(&e.error_code),
        e.bytes.to_string(),
        opt(&e.archive_path),
        opt(&e.archive_sha256),
        e.duration_ms.to_string(),
        e.app_version.clone(),
        counts,
        r.hash.clone(),
        e.report.map(|x| x.as_str().to_owned()).unwrap_or_default(),
    ]
}

fn push_row<S: AsRef<str>>(line: &mut String, cells: impl IntoIterator<Item = S>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        crate::csv_cell::push_text(line, cell.as_ref());
    }
    line.push_str("\r\n");
}
