//! `process`' wait for the pipeline to go quiet: a progress bar over the files (a file is
//! done once its record is final) with rate and ETA on a terminal; on a pipe, a plain line
//! every few seconds. Only reads records and the queue; stderr only.

use crate::backends::LocalControl;
use crate::domain::{RecordKey, RecordStatus};
use crate::startup::Interrupt;
use crate::state::AppState;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the queue and the records are looked at.
const POLL: Duration = Duration::from_millis(250);
/// On a pipe: the first progress line after this long, then one per interval.
const QUIET_FOR: Duration = Duration::from_secs(1);
const LINE_EVERY: Duration = Duration::from_secs(5);

/// How long to wait.
pub(crate) struct Wait<'a> {
    /// When the run started (for the progress lines).
    pub started: Instant,
    /// The longest wait.
    pub timeout: Duration,
    /// Once raised, the wait ends within `drain`.
    pub interrupt: &'a Interrupt,
    pub drain: Duration,
}

/// Waits until nothing is queued or in flight; `Ok(false)` when `timeout` (or, once
/// interrupted, the drain) passed first.
pub(crate) async fn wait(
    state: &AppState,
    local: &Arc<dyn LocalControl>,
    keys: &[RecordKey],
    wait: Wait<'_>,
) -> anyhow::Result<bool> {
    let Wait {
        started,
        timeout,
        interrupt,
        drain,
    } = wait;
    let bar = std::io::stderr()
        .is_terminal()
        .then(|| file_bar(keys.len()));
    let mut done = vec![false; keys.len()];
    let mut deadline = Instant::now() + timeout;
    let mut draining = false;
    let mut last_line: Option<Instant> = None;
    loop {
        if interrupt.is_raised() && !draining {
            draining = true;
            deadline = deadline.min(Instant::now() + drain);
        }
        if local.wait_idle(POLL).await? {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Ok(true);
        }
        if Instant::now() >= deadline {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            eprintln!("image-pipeline: the pipeline did not go quiet in {timeout:?}");
            return Ok(false);
        }
        let finished = count_finished(state, keys, &mut done).await;
        match &bar {
            Some(bar) => bar.set_position(finished as u64),
            None if started.elapsed() >= QUIET_FOR
                && last_line.is_none_or(|at| at.elapsed() >= LINE_EVERY) =>
            {
                let pending = local.pending().await.unwrap_or_default();
                eprintln!(
                    "image-pipeline: {finished}/{} files done, {pending} events in flight ({}s)",
                    keys.len(),
                    started.elapsed().as_secs()
                );
                last_line = Some(Instant::now());
            }
            None => {}
        }
    }
}

fn file_bar(files: usize) -> ProgressBar {
    let bar = ProgressBar::new(files as u64);
    let template = "{bar:30} {pos}/{len} files  {per_sec}  ETA {eta}  {elapsed}";
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Files whose record is final (processed, flagged, failed); looks only at the others.
async fn count_finished(state: &AppState, keys: &[RecordKey], done: &mut [bool]) -> usize {
    for (key, done) in keys.iter().zip(done.iter_mut()).filter(|(_, d)| !**d) {
        if let Ok(Some(record)) = state.backends.records.get(key).await {
            *done = record.status != RecordStatus::Pending;
        }
    }
    done.iter().filter(|d| **d).count()
}
