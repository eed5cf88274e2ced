//! `process` keeps the service's log away from the user: without `-v` the whole log goes to
//! `<data dir>/process.log` and stdout/stderr carry only the table and the summary; with
//! `-v` the log goes to stderr (JSON when stderr is not a terminal) and stdout stays the
//! report's. The binary runs as a user runs it; no model, so the moderator warns.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");

fn process(dir: &Path, verbose: bool) -> Output {
    let photo = dir.join("photo.jpg");
    std::fs::write(&photo, crate::helpers::jpeg(320, 240)).unwrap();
    let mut command = Command::new(BIN);
    command.arg("process");
    if verbose {
        command.arg("-v");
    }
    command
        .arg(&photo)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_LOCAL__DATA_DIR", dir.join("data"))
        .env("PIPELINE_MODERATION__MODEL_DIR", dir.join("no-model"))
        .output()
        .unwrap()
}

/// Lines that are JSON objects (log lines; the report is a table).
fn json_lines(text: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(serde_json::Value::is_object)
        .collect()
}

#[test]
fn without_verbose_the_log_goes_to_the_data_dir_and_the_terminal_shows_only_the_report() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();

    // Act
    let output = process(dir.path(), false);

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout {stdout}\nstderr {stderr}");
    assert!(stdout.starts_with("FILE "), "the table first: {stdout}");
    assert!(
        stdout.contains("processed 1, flagged 0, failed 0"),
        "{stdout}"
    );
    assert!(
        json_lines(&output.stdout).is_empty(),
        "log on stdout: {stdout}"
    );
    assert!(
        json_lines(&output.stderr).is_empty(),
        "log on stderr: {stderr}"
    );
    let log = std::fs::read(dir.path().join("data/process.log")).unwrap();
    let lines = json_lines(&log);
    assert!(
        lines.iter().any(|l| l["severity"] == "WARNING"),
        "the moderator's warning is in process.log: {}",
        String::from_utf8_lossy(&log)
    );
    assert_eq!(lines.len(), String::from_utf8_lossy(&log).lines().count());
}

#[test]
fn with_verbose_the_log_goes_to_stderr_and_stdout_stays_the_report() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();

    // Act
    let output = process(dir.path(), true);

    // Assert
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stdout {stdout}\nstderr {stderr}");
    assert!(
        json_lines(&output.stdout).is_empty(),
        "log on stdout: {stdout}"
    );
    let log = json_lines(&output.stderr);
    assert!(
        log.iter().any(|l| l["severity"] == "WARNING"),
        "the log on stderr: {stderr}"
    );
    assert!(!dir.path().join("data/process.log").exists());
}
