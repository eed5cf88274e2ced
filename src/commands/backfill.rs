//! `image-pipeline backfill`: starts the pipeline (locally with event delivery, so
//! follow-up events flow), prints the dry run or drives the run (`crate::backfill`) with a
//! progress bar on a terminal and JSON lines otherwise, and removes the cursor when a run
//! has done all there was to do.

use super::{CommandResult, Ending};
use crate::backfill::{self as job, Options, Summary, VISION_PRICING_URL, vision_cost_usd};
use crate::config::Settings;
use crate::startup::{InProcess, Interrupt};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Runs the command; `SomeFailed` when an object failed.
pub async fn run(settings: Settings, options: Options, interrupt: &Interrupt) -> CommandResult {
    let summary = backfill_until(settings, options, interrupt).await?;
    Ok(Ending::of(summary.failed == 0, interrupt.is_raised()))
}

/// The whole job; its summary (also printed).
pub async fn backfill(settings: Settings, options: Options) -> anyhow::Result<Summary> {
    backfill_until(settings, options, &Interrupt::never()).await
}

/// [`backfill`], starting no new object once `interrupt` is raised.
pub async fn backfill_until(
    settings: Settings,
    options: Options,
    interrupt: &Interrupt,
) -> anyhow::Result<Summary> {
    let cursor_file = job::cursor_path(&settings, &options);
    let running = InProcess::start(settings.clone()).await?;
    let state = running.state.clone();
    let local = state.local.clone();

    let objects = job::snapshot(&state, &options).await?;
    let cursor = job::read_cursor(&cursor_file);
    let mut summary = Summary::default();
    // The service's settings: in the local profile they carry the data folder's signing key,
    // which is what tells a signed output from an upload.
    let work = job::plan(
        &state.settings,
        &options,
        objects,
        cursor.as_deref(),
        &mut summary,
    );
    if options.dry_run {
        print_dry_run(&options, &summary);
    } else {
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| object_bar(work.len() as u64));
        let report = |h: &job::Handled| match &bar {
            Some(bar) => bar.inc(1),
            None => println!("{}", serde_json::to_string(h).unwrap_or_default()),
        };
        let work = job::Work {
            objects: work,
            cursor_file: &cursor_file,
            interrupt,
        };
        job::run_work(&state, &options, work, &mut summary, report).await?;
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        if let Some(local) = &local {
            interrupt
                .settle(local, job::IDLE_TIMEOUT, running.drain())
                .await?;
        }
        if summary.is_complete() {
            // All done: the next run starts from the beginning (and the ledger skips it all).
            let _ = std::fs::remove_file(&cursor_file);
        }
        println!("{}", serde_json::json!({ "summary": summary }));
    }
    if let Some(local) = &local {
        local.stop();
    }
    running.stop().await;
    Ok(summary)
}

fn object_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = "{bar:30} {pos}/{len} objects  {per_sec}  ETA {eta}  {elapsed}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

fn print_dry_run(options: &Options, summary: &Summary) {
    let prefix = if options.prefix.is_empty() {
        String::new()
    } else {
        options.prefix.clone()
    };
    println!(
        "dry run: gs://{}/{prefix}: {} objects listed, {} derived (skipped), {} done by an \
         earlier run (cursor), {} to process ({} bytes)",
        options.bucket,
        summary.listed,
        summary.derived_skipped,
        summary.before_cursor,
        summary.candidates,
        summary.candidate_bytes,
    );
    println!(
        "Vision SafeSearch calls: {} (list price ${:.2}: first 1,000 units/month free, then \
         $1.50 per 1,000; {VISION_PRICING_URL})",
        summary.vision_calls,
        vision_cost_usd(summary.vision_calls)
    );
}
