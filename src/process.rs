//! `image-pipeline process [--json] [-v] PATH...`, the local main job: starts the server on a
//! loopback port with the local backends, puts each file (folders: their images, see
//! `inputs`) into the upload bucket, waits until the event router has nothing queued or in
//! flight (a progress bar on a terminal), then prints each file's outcome from its record, a
//! summary line, and exits non-zero if any file failed. Bad input (a missing, unreadable or
//! empty file) is reported without uploading; the other files still run. The service's own
//! log goes to `<data dir>/process.log` (to stderr with `-v`), never between the table rows.
//! It owns the job's flow and nothing of the pipeline itself; the command's face (the log,
//! printing the report) is `commands::process`.

mod inputs;
mod progress;
pub mod report;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;

use crate::config::{EnvMap, Settings, StorageBackend};
use crate::domain::{ImageRecord, ObjectMeta, PutOutcome, RecordKey, WriteCondition};
use crate::imaging::content_type_of;
use crate::startup::{InProcess, Interrupt};
use crate::state::AppState;
use anyhow::Context;
use bytes::Bytes;
pub use report::FileOutcome;
use report::Status;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest wait for the pipeline to go quiet; what is still running then is reported.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// The settings `process` runs with ([`Settings::in_process`]: the local profile unless
/// another is named, the server on a free loopback port), which must store and publish
/// locally (the rest may be cloud, e.g. Vision).
pub fn process_settings(env: &EnvMap) -> anyhow::Result<Settings> {
    let settings = Settings::in_process(env)?;
    require_local_pipeline(&settings)?;
    Ok(settings)
}

/// Refuses settings whose pipeline does not run on this machine.
pub fn require_local_pipeline(settings: &Settings) -> anyhow::Result<()> {
    if settings.storage.backend != StorageBackend::Local || settings.local.triggers.is_empty() {
        anyhow::bail!(
            "`process` runs the pipeline on this machine: it needs storage.backend = \"local\" \
             and local triggers (the `local` profile has both; PIPELINE_PROFILE is {})",
            settings.profile.as_str()
        );
    }
    Ok(())
}

/// One file checked and read, ready to upload.
struct Input {
    index: usize,
    name: String,
    body: Bytes,
}

/// Reads a file as `process` accepts it, or says why not (a sentence for the user).
pub(crate) fn read_input(path: &Path) -> Result<Bytes, String> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => format!("cannot be read: {e}"),
    })?;
    if meta.is_dir() {
        // Folders arrive here only when they hold no image (see `inputs::expand`).
        return Err("is a folder with no images in it".to_owned());
    }
    if meta.len() == 0 {
        return Err("is empty (0 bytes)".to_owned());
    }
    let body = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    if body.is_empty() {
        return Err("is empty (0 bytes)".to_owned());
    }
    Ok(Bytes::from(body))
}

/// Runs the whole job inside an actix system; the outcome of each file, in argument order.
pub async fn process_files(
    settings: Settings,
    files: &[PathBuf],
) -> anyhow::Result<Vec<FileOutcome>> {
    process_files_until(settings, files, &Interrupt::never()).await
}

/// [`process_files`], stopping early when `interrupt` is raised: no file is uploaded after
/// it, and the pipeline gets the in-process server's drain to finish what is in flight.
pub async fn process_files_until(
    settings: Settings,
    files: &[PathBuf],
    interrupt: &Interrupt,
) -> anyhow::Result<Vec<FileOutcome>> {
    let (outcomes, running) = run_files(settings, files, interrupt).await?;
    if let Some(running) = running {
        stop(running).await;
    }
    Ok(outcomes)
}

/// The job up to its report: each file's outcome, and the server while it still runs
/// (`None` when no input could be read, so none was started). `process --open` keeps it
/// serving the console; otherwise [`stop`] it.
pub async fn run_files(
    settings: Settings,
    files: &[PathBuf],
    interrupt: &Interrupt,
) -> anyhow::Result<(Vec<FileOutcome>, Option<InProcess>)> {
    let started = Instant::now();
    let bucket = settings.local.upload_bucket.clone();
    let files = inputs::expand(files);
    let mut outcomes: Vec<FileOutcome> = files.iter().map(|f| FileOutcome::new(&f.path)).collect();
    let inputs = check_inputs(&files, &mut outcomes);
    if inputs.is_empty() {
        return Ok((outcomes, None));
    }

    let running = InProcess::start(settings).await?;
    let state = running.state.clone();
    let local = state
        .local
        .clone()
        .context("the local runtime is not running (a bug)")?;
    let dead_before = local.dead_letters().map(|d| d.len()).unwrap_or_default();

    let uploaded = upload_all(&state, &bucket, inputs, &mut outcomes, interrupt).await;
    let keys: Vec<RecordKey> = uploaded
        .iter()
        .map(|u| RecordKey::new(&bucket, &u.name))
        .collect();
    let wait = progress::Wait {
        started,
        timeout: IDLE_TIMEOUT,
        interrupt,
        drain: running.drain(),
    };
    let idle = progress::wait(&state, &local, &keys, wait).await?;
    for upload in uploaded {
        let record = state
            .backends
            .records
            .get(&RecordKey::new(&bucket, &upload.name))
            .await?
            .filter(|r| r.generation >= upload.generation);
        outcomes[upload.index].apply_record(record, idle, upload.at.elapsed());
    }
    let dead_after = local.dead_letters().map(|d| d.len()).unwrap_or_default();
    if dead_after > dead_before {
        eprintln!(
            "image-pipeline: {} event deliveries gave up during this run; see {}",
            dead_after - dead_before,
            local.dead_letter_dir().display()
        );
    }

    Ok((outcomes, Some(running)))
}

/// Stops the job's local delivery, then its server.
pub async fn stop(running: InProcess) {
    if let Some(local) = &running.state.local {
        local.stop();
    }
    running.stop().await;
}

/// Reads every file; a bad one (or a second file of the same name) gets its reason in
/// `outcomes` and is left out.
fn check_inputs(files: &[inputs::InputFile], outcomes: &mut [FileOutcome]) -> Vec<Input> {
    let mut inputs: Vec<Input> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let name = file.name.clone();
        let checked = read_input(&file.path).and_then(|body| {
            if inputs.iter().any(|i| i.name == name) {
                Err(format!("has the same name as an earlier file ({name})"))
            } else {
                Ok(body)
            }
        });
        match checked {
            Ok(body) => inputs.push(Input { index, name, body }),
            Err(reason) => outcomes[index].set(Status::BadInput, reason),
        }
    }
    inputs
}

/// One file in the upload bucket.
struct Uploaded {
    index: usize,
    name: String,
    generation: i64,
    at: Instant,
}

/// Puts each input into the upload bucket (which starts its pipeline); what was written.
async fn upload_all(
    state: &AppState,
    bucket: &str,
    inputs: Vec<Input>,
    outcomes: &mut [FileOutcome],
    interrupt: &Interrupt,
) -> Vec<Uploaded> {
    let mut uploaded = Vec::new();
    for input in inputs {
        if interrupt.is_raised() {
            let reason = "not uploaded: the run was interrupted".to_owned();
            outcomes[input.index].set(Status::Incomplete, reason);
            continue;
        }
        let meta = ObjectMeta {
            content_type: content_type_of(&input.body).to_owned(),
            ..ObjectMeta::default()
        };
        let put = state
            .backends
            .store
            .put(
                bucket,
                &input.name,
                input.body,
                &meta,
                WriteCondition::Overwrite,
            )
            .await;
        match put {
            Ok(PutOutcome::Written(info)) => uploaded.push(Uploaded {
                index: input.index,
                name: input.name,
                generation: info.generation,
                at: Instant::now(),
            }),
            Ok(PutOutcome::ConditionNotMet) => outcomes[input.index].set(
                Status::Failed,
                "the upload collided with another writer".to_owned(),
            ),
            Err(e) => outcomes[input.index].set(Status::BadInput, format!("upload refused: {e}")),
        }
    }
    uploaded
}

/// What a record says about one file (used by the report).
pub(crate) fn record_status(record: &ImageRecord) -> Status {
    use crate::domain::RecordStatus;
    match record.status {
        RecordStatus::Processed => Status::Processed,
        RecordStatus::Flagged => Status::Flagged,
        RecordStatus::Failed => Status::Failed,
        RecordStatus::Pending => Status::Incomplete,
        RecordStatus::Deleted => Status::Failed,
    }
}
