//! `image-pipeline process [--json] [-v] PATH...`: the service's log (to
//! `<data dir>/process.log`, or stderr with `-v`), the job (`crate::process`), and the
//! report on stdout: a table and a summary line, or one JSON object per file.

use super::{CommandResult, Ending};
use crate::config::{LogFormat, Settings};
use crate::process::report;
use crate::startup::Interrupt;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

/// The service's log inside the data dir (without `-v`).
const LOG_FILE: &str = "process.log";

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Args {
    pub json: bool,
    pub verbose: bool,
    /// Keep serving the console after the report, until Ctrl-C.
    pub open: bool,
    pub files: Vec<PathBuf>,
}

/// Runs the job and prints its report; `SomeFailed` if any file failed.
pub async fn run(settings: Settings, args: Args, interrupt: &Interrupt) -> CommandResult {
    install_log(&settings, args.verbose)?;
    let started = Instant::now();
    let (outcomes, running) = crate::process::run_files(settings, &args.files, interrupt).await?;
    let printed = print_report(&outcomes, args.json, started.elapsed());
    let all_ok = outcomes.iter().all(|o| !o.status.is_failure());
    let ending = Ending::of(all_ok, interrupt.is_raised());
    if let Some(running) = running {
        if args.open && ending != Ending::Interrupted && printed.is_ok() {
            // Ctrl-C is how an open console ends: the run itself was not interrupted.
            eprintln!(
                "image-pipeline: the console is at {}{} (Ctrl-C stops the server)",
                running.url,
                crate::console::CONSOLE_PATH
            );
            interrupt.raised().await;
        }
        crate::process::stop(running).await;
    }
    printed?;
    Ok(ending)
}

/// The report on stdout: a table and a summary line, or one JSON line per file (the
/// summary then on stderr).
fn print_report(
    outcomes: &[crate::process::FileOutcome],
    json: bool,
    elapsed: std::time::Duration,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let summary = report::summary(outcomes, elapsed);
    let printed = if json {
        eprintln!("image-pipeline: {summary}");
        report::write_json(&mut out, outcomes)
    } else {
        report::write_table(&mut out, outcomes).and_then(|()| writeln!(out, "{summary}"))
    };
    printed
        .and_then(|()| out.flush())
        .context("could not write the report")
}

/// The service's log: the whole of it in `<data dir>/process.log` (appended, JSON), or on
/// stderr with `-v`. Stdout is the report's alone.
fn install_log(settings: &Settings, verbose: bool) -> anyhow::Result<()> {
    let level = settings.log_level.as_str();
    let subscriber = if verbose {
        let format = match settings.log_format {
            LogFormat::Auto if std::io::stderr().is_terminal() => LogFormat::Pretty,
            other => other,
        };
        crate::telemetry::subscriber(format, level, &settings.gcp.project_id, std::io::stderr)
    } else {
        let dir = &settings.local.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create the data dir {}", dir.display()))?;
        let path = dir.join(LOG_FILE);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("could not open the log {}", path.display()))?;
        let writer = std::sync::Mutex::new(file);
        crate::telemetry::subscriber(LogFormat::Json, level, &settings.gcp.project_id, writer)
    };
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}
