//! The window's checks of what is on disk: an archive (or a split set)
//! re-read against its checksums, and the audit log with its chain check
//! and CSV copy.

use super::*;

impl AppState {
    /// Re-reads an archive against its checksums; any part of a split
    /// archive checks every part and that the set is whole.
    pub async fn verify(&self, path: String) -> CmdResult<VerifyResult> {
        let p = PathBuf::from(&path);
        let is_part = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(archive::parse_part_file_name)
            .is_some();
        if is_part {
            let set = blocking(move || archive::verify_set(&p)).await?;
            return Ok(set_result(path, set));
        }
        let report = blocking(move || archive::verify(&p)).await?;
        Ok(VerifyResult {
            archive: path,
            ok: report.ok,
            parts: None,
            files_checked: report.files_checked,
            bytes_checked: report.bytes_checked,
            problems: report.problems.iter().map(ToString::to_string).collect(),
        })
    }

    /// The audit log, newest first, with its chain checked.
    pub async fn audit(&self) -> CmdResult<AuditView> {
        let dir = self.paths.audit.clone();
        let (rows, chain) = blocking(move || {
            let log = AuditLog::open(&dir)?;
            let rows: Vec<AuditRow> = log.list()?.into_iter().map(AuditRow::from).collect();
            Ok((rows, log.verify()?))
        })
        .await?;
        Ok(AuditView::new(rows, chain, &self.paths.audit))
    }

    /// Writes the audit log as CSV to `path`; returns how many records.
    pub async fn export_audit_csv(&self, path: PathBuf) -> CmdResult<u64> {
        let dir = self.paths.audit.clone();
        blocking(move || {
            use std::io::Write as _;
            let log = AuditLog::open(&dir)?;
            let file = fs_err::File::create(&path).map_err(Error::io("create", &path))?;
            let mut out = std::io::BufWriter::new(file);
            let n = log.export_csv(&mut out)?;
            out.flush().map_err(Error::io("write", &path))?;
            Ok(n)
        })
        .await
        .map_err(Into::into)
    }
}

/// A split archive's check as one result: every part's problems, named by
/// part, then the set's.
fn set_result(path: String, set: archive::SetReport) -> VerifyResult {
    let mut problems = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    for part in &set.parts {
        match &part.report {
            Ok(r) => {
                files += r.files_checked;
                bytes += r.bytes_checked;
                problems.extend(
                    r.problems
                        .iter()
                        .map(|x| format!("part {}: {x}", part.number)),
                );
            }
            Err(e) => problems.push(format!("part {} cannot be read: {e}", part.number)),
        }
    }
    problems.extend(set.problems.iter().map(ToString::to_string));
    VerifyResult {
        archive: path,
        ok: set.ok,
        parts: Some(set.expected_parts as u64),
        files_checked: files,
        bytes_checked: bytes,
        problems,
    }
}
