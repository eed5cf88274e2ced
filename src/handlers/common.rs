//! Helpers every route shares: the loop guard for derived objects, the idempotency ledger
//! keys, sniffing, CPU work under the semaphore, and the imaging plan from settings. Still
//! domain logic only: everything goes through the seams. Settings arrive typed, so nothing
//! here parses a setting string.

use super::{IncomingEvent, Outcome, Step, halt};
use crate::config::Settings;
use crate::domain::naming::derived_prefix_of;
use crate::domain::object::is_derived_metadata;
use crate::domain::{ObjectRef, PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use crate::error::{BackendContext, HandlerError};
use crate::events::storage::StorageObjectData;
use crate::imaging::{self, EncodeOptions, ImageFormat, Limits};
use crate::state::AppState;
use crate::telemetry::spawn_blocking_with_span;

/// Enough leading bytes to recognise every supported format.
pub const SNIFF_BYTES: u64 = 64;

/// Why an object must not be processed (it is one of the pipeline's own outputs), if so.
/// Checked before anything is downloaded: the name under a derived prefix, or the marker.
pub fn derived_reason(data: &StorageObjectData, settings: &Settings) -> Option<String> {
    if is_derived_metadata(&data.metadata) {
        return Some(format!(
            "{} is a derived object (metadata marker)",
            data.name
        ));
    }
    let prefixes = [
        settings.resize.prefix.as_str(),
        &settings.thumbnail.prefix,
        &settings.moderation.quarantine_prefix,
    ];
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
    match state.backends.store.read_prefix(obj, SNIFF_BYTES).await {
        Ok(head) => match imaging::sniff(&head) {
            Some(format) => Ok(format),
            None => halt(Outcome::skipped_warn(not_an_image())),
        },
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
    let _permit = state.cpu.acquire().await.map_err(|e| {
        HandlerError::Transient(anyhow::anyhow!("the CPU semaphore is closed: {e}"))
    })?;
    spawn_blocking_with_span(work)
        .await
        .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("image processing crashed: {e}")))
}

/// Publishes `image.failed` so the record shows a permanent failure, then returns it.
pub async fn publish_failure(
    state: &AppState,
    route: &str,
    obj: &ObjectRef,
    reason: String,
) -> HandlerError {
    let event = PipelineEvent::new(
        PipelineEventType::Failed,
        route,
        &RecordKey::new(&obj.bucket, &obj.name),
        obj.generation.unwrap_or_default(),
        StageUpdate::Failed {
            failed_stage: route.to_owned(),
            reason: reason.clone(),
        },
    );
    match state.backends.publisher.publish(&[event]).await {
        Ok(()) => HandlerError::Permanent(anyhow::anyhow!("{obj}: {reason}")),
        Err(e) => HandlerError::from(e),
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
