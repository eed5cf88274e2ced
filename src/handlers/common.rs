//! Helpers every route shares: the loop guard for derived objects, the idempotency ledger
//! keys, sniffing, CPU work under the semaphore, and the imaging plan from settings. Still
//! domain logic only: everything goes through the seams. Settings arrive typed, so nothing
//! here parses a setting string.

use super::{Halt, IncomingEvent, Outcome, Step, halt};
use crate::config::Settings;
use crate::domain::naming::derived_prefix_of;
use crate::domain::object::is_derived_metadata;
use crate::domain::record::StageEvent;
use crate::domain::{ObjectRef, PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use crate::error::{BackendContext, HandlerError};
use crate::events::storage::StorageObjectData;
use crate::imaging::{self, EncodeOptions, ImageFormat, Limits};
use crate::state::AppState;
use crate::telemetry::spawn_blocking_with_span;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Semaphore;

/// Enough leading bytes to recognise every supported format.
pub const SNIFF_BYTES: u64 = 64;

/// Why an object must not be processed (it is one of the pipeline's own outputs), if so.
/// Checked before anything is downloaded: the name under a derived prefix, or the marker.
/// Both are trusted only in a bucket we write outputs to: an uploader can set any metadata
/// and pick any name, so in an upload-only bucket they would skip every route (moderation
/// included).
pub fn derived_reason(data: &StorageObjectData, settings: &Settings) -> Option<String> {
    let ours = |configured: &str| configured.is_empty() || configured == data.bucket;
    let outputs = [
        (
            settings.resize.prefix.as_str(),
            settings.resize.bucket.as_str(),
        ),
        (&settings.thumbnail.prefix, &settings.thumbnail.bucket),
        (
            &settings.moderation.quarantine_prefix,
            &settings.moderation.quarantine_bucket,
        ),
    ];
    if is_derived_metadata(&data.metadata) && outputs.iter().any(|(_, bucket)| ours(bucket)) {
        return Some(format!(
            "{} is a derived object (metadata marker)",
            data.name
        ));
    }
    let prefixes: Vec<&str> = outputs
        .iter()
        .filter(|(_, bucket)| ours(bucket))
        .map(|(prefix, _)| *prefix)
        .collect();
    derived_prefix_of(&prefixes, &data.name)
        .map(|p| format!("{} is under the derived prefix {p}", data.name))
}

/// The storage object a storage event names, unless it is one of the pipeline's own outputs
/// (then the step halts with `skipped`). `None` for other events.
pub fn source_object<'e>(
    event: &'e IncomingEvent,
    settings: &Settings,
) -> Step<Option<(&'e StorageObjectData, ObjectRef)>> {
    let Some((data, obj)) = event.storage_object() else {
        return Ok(None);
    };
    match derived_reason(data, settings) {
        Some(reason) => halt(Outcome::skipped(reason)),
        None => Ok(Some((data, obj))),
    }
}

/// Ledger key for one delivery of one event to one route (`ce-source` + `ce-id`).
pub fn event_done_key(route: &str, event: &IncomingEvent) -> String {
    format!("{route}|event|{}|{}", event.ce.source, event.ce.id)
}

/// Ledger key for one object generation handled by one route (catches replays under new ids).
pub fn generation_done_key(route: &str, obj: &ObjectRef) -> String {
    format!(
        "{route}|generation|{}/{}#{}",
        obj.bucket,
        obj.name,
        obj.generation.unwrap_or_default()
    )
}

/// Halts with `duplicate` when any of the keys was marked done.
pub async fn not_done_yet(state: &AppState, keys: &[&str]) -> Step<()> {
    for key in keys {
        let done = state
            .backends
            .records
            .is_done(key)
            .await
            .context_for(|| "could not read the idempotency ledger".to_owned())?;
        if done {
            return halt(Outcome::duplicate(format!("already handled ({key})")));
        }
    }
    Ok(())
}

pub async fn mark_done(state: &AppState, keys: &[&str]) -> Result<(), HandlerError> {
    for key in keys {
        state
            .backends
            .records
            .mark_done(key)
            .await
            .context_for(|| "could not write the idempotency ledger".to_owned())?;
    }
    Ok(())
}

/// The object's format from its first bytes. Halts with `skipped` when the object is already
/// gone (deleted before we got to it), and with a logged skip saying `not_an_image()` when
/// it is not an image we read.
pub async fn sniff_image(
    state: &AppState,
    obj: &ObjectRef,
    not_an_image: impl FnOnce() -> String,
) -> Step<ImageFormat> {
    let head = read_or_skip(state, obj, Some(SNIFF_BYTES)).await?;
    match imaging::sniff(&head) {
        Some(format) => Ok(format),
        None => halt(Outcome::skipped_warn(not_an_image())),
    }
}

/// The object's first `max_bytes`, or all of it; an object gone since the event (deleted
/// before we got to it) is a skip.
pub async fn read_or_skip(
    state: &AppState,
    obj: &ObjectRef,
    max_bytes: Option<u64>,
) -> Step<bytes::Bytes> {
    let store = &state.backends.store;
    let read = match max_bytes {
        Some(max_bytes) => store.read_prefix(obj, max_bytes).await,
        None => store.read(obj).await,
    };
    match read {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.is_not_found() => halt(Outcome::skipped(format!(
            "{obj} no longer exists (deleted before it was processed)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Runs CPU-heavy work off the executor under the CPU semaphore, keeping the event's span.
pub async fn run_cpu<F, R>(state: &AppState, work: F) -> Result<R, HandlerError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    run_blocking(&state.cpu, move |_| work()).await
}

/// [`run_cpu`] for work that checks, between its stages, whether it is still wanted: the
/// flag turns true once the awaiting request is gone (its deadline passed), so a long job
/// stops at its next stage instead of running on unseen while redeliveries start more.
pub async fn run_cpu_stoppable<F, R>(state: &AppState, work: F) -> Result<R, HandlerError>
where
    F: FnOnce(&AtomicBool) -> R + Send + 'static,
    R: Send + 'static,
{
    run_blocking(&state.cpu, work).await
}

/// Sets the flag when the awaiting future is dropped (the handler deadline passed).
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// [`run_cpu`] on a given semaphore. The permit moves into the blocking closure, so it is
/// held until the work really ends even when the handler's future is dropped at its
/// deadline (the blocking thread cannot be stopped); then nothing not yet started starts:
/// work the deadline overtook before it began is skipped, and work that began sees the
/// flag it is given turn true. A panic is permanent (the same input panics again); a
/// cancelled or aborted task is transient.
pub(crate) async fn run_blocking<F, R>(cpu: &Arc<Semaphore>, work: F) -> Result<R, HandlerError>
where
    F: FnOnce(&AtomicBool) -> R + Send + 'static,
    R: Send + 'static,
{
    let permit = cpu.clone().acquire_owned().await.map_err(|e| {
        HandlerError::Transient(anyhow::anyhow!("the CPU semaphore is closed: {e}"))
    })?;
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
    let joined = spawn_blocking_with_span(move || {
        let _permit = permit;
        (!cancelled.load(Ordering::Relaxed)).then(|| work(&cancelled))
    })
    .await;
    match joined {
        Ok(Some(result)) => Ok(result),
        Ok(None) => Err(HandlerError::Transient(anyhow::anyhow!(
            "the CPU work was cancelled before it started"
        ))),
        Err(e) if e.is_panic() => Err(HandlerError::Permanent(anyhow::anyhow!(
            "image processing crashed (panic): {e}"
        ))),
        Err(e) => Err(HandlerError::Transient(anyhow::anyhow!(
            "the CPU work did not finish: {e}"
        ))),
    }
}

/// Records a permanent failure of `route` on `obj`'s record: publishes `image.failed`;
/// when publishing is itself refused for good (a Pub/Sub 4xx), writes the failure to the
/// record directly. Returns the permanent error to answer with (transient when neither
/// could be written yet, so the event comes back).
pub async fn publish_failure(
    state: &AppState,
    route: &str,
    obj: &ObjectRef,
    reason: String,
) -> HandlerError {
    let update = StageUpdate::Failed {
        failed_stage: route.to_owned(),
        reason: reason.clone(),
    };
    let key = RecordKey::new(&obj.bucket, &obj.name);
    let generation = obj.generation.unwrap_or_default();
    let event = PipelineEvent::new(PipelineEventType::Failed, route, &key, generation, update);
    let published = match state
        .backends
        .publisher
        .publish(std::slice::from_ref(&event))
        .await
    {
        Err(e) if !e.is_transient() => {
            let stage_event = StageEvent {
                key,
                generation,
                event_id: format!("{route}-failure-written-directly"),
                update: event.data.update.clone(),
            };
            state.backends.records.apply(&stage_event).await.map(|_| ())
        }
        other => other,
    };
    match published {
        Ok(()) => HandlerError::Permanent(anyhow::anyhow!("{obj}: {reason}")),
        Err(e) => HandlerError::from(e),
    }
}

/// Ends a route's work on `obj`: a permanent failure is recorded ([`publish_failure`]) so
/// the record never stays `pending`; outcomes and transient errors pass through.
pub async fn recorded(
    state: &AppState,
    route: &str,
    obj: &ObjectRef,
    step: Step<Outcome>,
) -> Step<Outcome> {
    match step {
        Err(Halt::Failed(HandlerError::Permanent(e))) => {
            Err(publish_failure(state, route, obj, format!("{e:#}"))
                .await
                .into())
        }
        other => other,
    }
}

/// Limits from the settings.
pub fn imaging_limits(settings: &Settings) -> Limits {
    let i = &settings.imaging;
    Limits {
        max_input_bytes: i.max_input_bytes,
        max_width: i.max_width,
        max_height: i.max_height,
        max_pixels: i.max_pixels,
        max_frames: i.max_frames,
    }
}

/// Encoder options from the settings.
pub fn encode_options(settings: &Settings) -> EncodeOptions {
    let i = &settings.imaging;
    EncodeOptions {
        jpeg_quality: i.jpeg_quality,
        jpeg_progressive: i.jpeg_progressive,
        webp_quality: i.webp_quality,
        background_rgb: i.background.0,
        keep_copyright: i.keep_copyright,
        filter: i.filter.resize_filter(),
    }
}

/// The bucket outputs go to: the configured one, or the source's.
pub fn output_bucket<'a>(configured: &'a str, source: &'a ObjectRef) -> &'a str {
    if configured.is_empty() {
        &source.bucket
    } else {
        configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Blocking work that counts how many copies of it run at once.
    fn instrumented(
        running: Arc<AtomicUsize>,
        peak: Arc<AtomicUsize>,
    ) -> impl FnOnce(&AtomicBool) + Send {
        move |_| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(300));
            running.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_whose_handler_missed_its_deadline_keeps_the_permit_until_it_really_ends() {
        let cpu = Arc::new(Semaphore::new(1));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));

        for _ in 0..3 {
            let work = instrumented(running.clone(), peak.clone());
            let deadline = Duration::from_millis(20);
            let _ = tokio::time::timeout(deadline, run_blocking(&cpu, work)).await;
        }
        let last = instrumented(running.clone(), peak.clone());
        run_blocking(&cpu, last).await.unwrap();

        assert_eq!(peak.load(Ordering::SeqCst), 1, "never two at once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_that_began_sees_its_stop_flag_once_the_handler_gives_up() {
        let cpu = Arc::new(Semaphore::new(1));
        let (tx, rx) = std::sync::mpsc::channel();
        // Stages of 10 ms, checking the flag between them (bounded: 500 stages at most).
        let work = move |stop: &AtomicBool| {
            let stages_done = (0..500)
                .find(|_| {
                    std::thread::sleep(Duration::from_millis(10));
                    stop.load(Ordering::Relaxed)
                })
                .unwrap_or(500);
            tx.send(stages_done).unwrap();
        };

        let gave_up = tokio::time::timeout(Duration::from_millis(50), run_blocking(&cpu, work));
        assert!(gave_up.await.is_err(), "the handler gave up first");
        let wait = move || rx.recv_timeout(Duration::from_secs(10));
        let stages_done = tokio::task::spawn_blocking(wait).await.unwrap().unwrap();

        assert!(
            stages_done < 100,
            "stopped after {stages_done} of 500 stages"
        );
    }

    #[tokio::test]
    async fn a_panic_in_blocking_work_is_permanent() {
        let cpu = Arc::new(Semaphore::new(1));

        let result = run_blocking(&cpu, |_| -> u8 { panic!("decoder bug") }).await;

        assert!(result.is_err_and(|e| !e.is_transient()));
        assert_eq!(cpu.available_permits(), 1, "the permit came back");
    }
}
