//! What `process` prints: one outcome per file, as a table (file, status, variants, thumbnail,
//! verdict, time, detail) or as JSON lines (the record itself; a small object for a file that
//! has none). Pure formatting: it reads no files and talks to no backend.

use crate::domain::ImageRecord;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// A file's outcome, as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Processed,
    Flagged,
    /// Not an image: the pipeline kept no record.
    Skipped,
    Failed,
    /// Some stage never reported (a dead letter, or the wait timed out).
    Incomplete,
    /// Refused before upload (directory, missing, unreadable, empty).
    BadInput,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Flagged => "flagged",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Incomplete => "incomplete",
            Self::BadInput => "bad input",
        }
    }

    /// Whether this file makes the command exit non-zero (nothing usable was made).
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Processed | Self::Flagged)
    }
}

/// One file's outcome.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub file: String,
    pub status: Status,
    pub detail: Option<String>,
    pub record: Option<ImageRecord>,
    pub elapsed: Option<Duration>,
}

impl FileOutcome {
    pub(crate) fn new(path: &Path) -> Self {
        Self {
            file: path.display().to_string(),
            status: Status::Incomplete,
            detail: None,
            record: None,
            elapsed: None,
        }
    }

    pub(crate) fn set(&mut self, status: Status, detail: String) {
        self.status = status;
        self.detail = Some(detail);
    }

    /// The outcome from the file's record once the pipeline went quiet (or timed out).
    pub(crate) fn apply_record(
        &mut self,
        record: Option<ImageRecord>,
        idle: bool,
        elapsed: Duration,
    ) {
        self.elapsed = Some(elapsed);
        match record {
            None if idle => self.set(Status::Skipped, "not an image".to_owned()),
            None => self.set(Status::Incomplete, "timed out before any record".to_owned()),
            Some(record) => {
                self.status = super::record_status(&record);
                self.detail = match self.status {
                    Status::Failed => record.error.clone(),
                    Status::Incomplete if idle => Some(
                        "a stage never reported; see data/dead-letter/ and the logs".to_owned(),
                    ),
                    Status::Incomplete => Some("timed out while stages were running".to_owned()),
                    _ => None,
                };
                self.record = Some(record);
            }
        }
    }
}

/// `large 1920x1280, medium 800x533`, in the record's order.
pub(crate) fn variants_text(record: &ImageRecord) -> String {
    record
        .variants
        .iter()
        .map(|v| format!("{} {}x{}", v.size, v.width, v.height))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(outcome: &FileOutcome) -> [String; 6] {
    let record = outcome.record.as_ref();
    let dash = || "-".to_owned();
    let variants = record
        .map(variants_text)
        .filter(|v| !v.is_empty())
        .unwrap_or_else(dash);
    let thumbnail = record
        .and_then(|r| r.thumbnail.as_ref())
        .map(|t| format!("{}x{} {}", t.width, t.height, t.name))
        .unwrap_or_else(dash);
    let verdict = record
        .and_then(|r| r.moderation.as_ref())
        .map(|m| m.verdict.as_str().to_owned())
        .unwrap_or_else(dash);
    let time = outcome
        .elapsed
        .map(|d| format!("{:.1}s", d.as_secs_f64()))
        .unwrap_or_else(dash);
    let status = match &outcome.detail {
        Some(detail) => format!("{}: {detail}", outcome.status.as_str()),
        None => outcome.status.as_str().to_owned(),
    };
    [
        outcome.file.clone(),
        status,
        variants,
        thumbnail,
        verdict,
        time,
    ]
}

/// The table, with a header line; columns padded to their widest cell.
pub fn write_table(out: &mut dyn Write, outcomes: &[FileOutcome]) -> std::io::Result<()> {
    let header = ["FILE", "STATUS", "VARIANTS", "THUMBNAIL", "VERDICT", "TIME"];
    let rows: Vec<[String; 6]> = outcomes.iter().map(row).collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line(r.each_ref().map(String::as_str)))?;
    }
    Ok(())
}

/// One JSON object per line: the record, or `{file, status, error}` when there is none.
pub fn write_json(out: &mut dyn Write, outcomes: &[FileOutcome]) -> std::io::Result<()> {
    for outcome in outcomes {
        let value = match &outcome.record {
            Some(record) => serde_json::to_value(record).unwrap_or_default(),
            None => serde_json::json!({
                "file": outcome.file,
                "status": outcome.status.as_str(),
                "error": outcome.detail,
            }),
        };
        writeln!(out, "{value}")?;
    }
    Ok(())
}

/// The last line: `processed 3, flagged 1, failed 0 (skipped 1) in 4.2s`. Failed counts
/// every file that made nothing usable (failed, incomplete, bad input).
pub fn summary(outcomes: &[FileOutcome], elapsed: Duration) -> String {
    let count = |status: Status| outcomes.iter().filter(|o| o.status == status).count();
    let failed = outcomes
        .iter()
        .filter(|o| o.status.is_failure() && o.status != Status::Skipped)
        .count();
    let skipped = count(Status::Skipped);
    let skipped = match skipped {
        0 => String::new(),
        n => format!(" (skipped {n}: not images)"),
    };
    format!(
        "processed {}, flagged {}, failed {}{skipped} in {:.1}s",
        count(Status::Processed),
        count(Status::Flagged),
        failed,
        elapsed.as_secs_f64()
    )
}
