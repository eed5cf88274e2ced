//! `image-pipeline process [--json] [-v] PATH...`, the local main job: starts the server on a
//! loopback port with the local backends, puts each file (folders: their images, see
//! `inputs`) into the upload bucket, waits until the event router has nothing queued or in
//! flight (a progress bar on a terminal), then prints each file's outcome from its record, a
//! summary line, and exits non-zero if any file failed. Bad input (a missing, unreadable or
//! empty file) is reported without uploading; the other files still run. The service's own
//! log goes to `<data dir>/process.log` (to stderr with `-v`), never between the table rows.
//! It owns the command's flow and nothing of the pipeline itself.

mod inputs;
mod progress;
mod report;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;

use crate::config::{EnvMap, LogFormat, Settings, StorageBackend};
use crate::domain::{ImageRecord, ObjectMeta, PutOutcome, RecordKey, WriteCondition};
use crate::router::upload::content_type_for;
use crate::startup::InProcess;
use crate::state::AppState;
use anyhow::Context;
use bytes::Bytes;
use report::{FileOutcome, Status};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The service's log inside the data dir (without `-v`).
const LOG_FILE: &str = "process.log";
/// Longest wait for the pipeline to go quiet; what is still running then is reported.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Runs the command with the process's environment; the exit code.
pub fn run(json: bool, verbose: bool, open: bool, files: Vec<PathBuf>) -> ExitCode {
    let env: EnvMap = std::env::vars().collect();
    let settings = match process_settings(&env) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("image-pipeline: {e:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = install_log(&settings, verbose) {
        eprintln!("image-pipeline: {e:#}");
        return ExitCode::FAILURE;
    }

    let started = Instant::now();
    let system = actix_web::rt::System::new();
    let (outcomes, running) = match system.block_on(run_files(settings, &files)) {
        Ok(done) => done,
        Err(e) => {
            eprintln!("image-pipeline: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let code = print_report(&outcomes, json, started.elapsed());
    if let Some(running) = running {
        system.block_on(crate::console::after_process(running, open));
    }
    code
}

/// Prints the report on stdout (the summary on stderr with `--json`); the exit code.
fn print_report(outcomes: &[FileOutcome], json: bool, elapsed: Duration) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let summary = report::summary(outcomes, elapsed);
    let printed = if json {
        eprintln!("image-pipeline: {summary}");
        report::write_json(&mut out, outcomes)
    } else {
        report::write_table(&mut out, outcomes).and_then(|()| writeln!(out, "{summary}"))
    };
    if let Err(e) = printed.and_then(|()| out.flush()) {
        eprintln!("image-pipeline: could not write the report: {e}");
        return ExitCode::FAILURE;
    }
    if outcomes.iter().all(|o| !o.status.is_failure()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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

/// The settings `process` runs with: the local profile unless another is named, the server on
/// a free loopback port, and local storage and publishing (the rest may be cloud, e.g. Vision).
pub fn process_settings(env: &EnvMap) -> anyhow::Result<Settings> {
    let mut env = env.clone();
    env.entry("PIPELINE_PROFILE".to_owned())
        .or_insert_with(|| "local".to_owned());
    env.insert("PIPELINE_SERVER__HOST".to_owned(), "127.0.0.1".to_owned());
    env.insert("PIPELINE_SERVER__PORT".to_owned(), "0".to_owned());
    env.remove("PORT");
    let settings = Settings::load_from(&env)?;
    settings.validate()?;
    if settings.storage.backend != StorageBackend::Local || settings.local.triggers.is_empty() {
        anyhow::bail!(
            "`process` runs the pipeline on this machine: it needs storage.backend = \"local\" \
             and local triggers (the `local` profile has both; PIPELINE_PROFILE is {})",
            settings.profile.as_str()
        );
    }
    Ok(settings)
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
    let (outcomes, running) = run_files(settings, files).await?;
    if let Some(running) = running {
        crate::console::after_process(running, false).await;
    }
    Ok(outcomes)
}

/// The job up to its report: the outcomes, and the server while it still runs (`None` when
/// no input could be read, so none was started).
async fn run_files(
    settings: Settings,
    files: &[PathBuf],
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

    let uploaded = upload_all(&state, &bucket, inputs, &mut outcomes).await;
    let keys: Vec<RecordKey> = uploaded
        .iter()
        .map(|u| RecordKey::new(&bucket, &u.name))
        .collect();
    let idle = progress::wait(&state, &local, &keys, started, IDLE_TIMEOUT).await?;
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
) -> Vec<Uploaded> {
    let mut uploaded = Vec::new();
    for input in inputs {
        let meta = ObjectMeta {
            content_type: content_type_for(None, &input.body),
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
