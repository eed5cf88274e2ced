//! Helpers every route shares: reading the storage object an event names, the loop guard for
//! derived objects, the idempotency ledger keys, sniffing, CPU work under the semaphore, and
//! the imaging plan from settings. Still domain logic only: everything goes through the seams.

use super::{IncomingEvent, Outcome};
use crate::config::{Settings, parse_box, parse_rgb};
use crate::domain::object::is_derived_metadata;
use crate::domain::{ObjectRef, PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use crate::error::{BackendContext, HandlerError};
use crate::events::EventData;
use crate::events::storage::StorageObjectData;
use crate::imaging::{self, EncodeOptions, ImageFormat, Limits, OutputFormat, ResizeFilter};
use crate::state::AppState;
use crate::telemetry::spawn_blocking_with_span;

/// Enough leading bytes to recognise every supported format.
pub const SNIFF_BYTES: u64 = 64;

/// The storage object a storage event names, pinned to the event's generation.
pub fn storage_object(event: &IncomingEvent) -> Option<(&StorageObjectData, ObjectRef)> {
    match &event.data {
        EventData::Storage(data) => {
            let mut obj = ObjectRef::new(&data.bucket, &data.name);
            obj.generation = data.generation;
            Some((data, obj))
        }
        _ => None,
    }
}

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
        &settings.resize.prefix,
        &settings.thumbnail.prefix,
        &settings.moderation.quarantine_prefix,
    ];
    prefixes
        .iter()
        .map(|p| format!("{}/", p.trim_matches('/')))
        .find(|p| data.name.starts_with(p.as_str()))
        .map(|p| format!("{} is under the derived prefix {p}", data.name))
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

/// `Some(duplicate outcome)` when any of the keys was marked done.
pub async fn already_done(
    state: &AppState,
    keys: &[&str],
) -> Result<Option<Outcome>, HandlerError> {
    for key in keys {
        let done = state
            .backends
            .records
            .is_done(key)
            .await
            .context_for(|| "could not read the idempotency ledger".to_owned())?;
        if done {
            return Ok(Some(Outcome::duplicate(format!("already handled ({key})"))));
        }
    }
    Ok(None)
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

/// The object's format from its first bytes, `None` if it is not an image we read.
/// `Err(Outcome)` when the object is already gone (deleted before we got to it).
pub async fn sniff_object(
    state: &AppState,
    obj: &ObjectRef,
) -> Result<Result<Option<ImageFormat>, Outcome>, HandlerError> {
    match state.backends.store.read_prefix(obj, SNIFF_BYTES).await {
        Ok(head) => Ok(Ok(imaging::sniff(&head))),
        Err(e) if e.is_not_found() => Ok(Err(Outcome::skipped(format!(
            "{obj} no longer exists (deleted before it was processed)"
        )))),
        Err(e) => Err(HandlerError::from(e)),
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

/// Limits and encoder options from the settings (validated at start-up).
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

pub fn encode_options(settings: &Settings) -> EncodeOptions {
    let i = &settings.imaging;
    EncodeOptions {
        jpeg_quality: i.jpeg_quality,
        jpeg_progressive: i.jpeg_progressive,
        webp_quality: i.webp_quality,
        background_rgb: parse_rgb(&i.background).unwrap_or([255, 255, 255]),
        keep_copyright: i.keep_copyright,
        filter: match i.filter.as_str() {
            "catmull_rom" => ResizeFilter::CatmullRom,
            "mitchell" => ResizeFilter::Mitchell,
            "bilinear" => ResizeFilter::Bilinear,
            "box" => ResizeFilter::Box,
            _ => ResizeFilter::Lanczos3,
        },
    }
}

pub fn output_format(name: &str) -> OutputFormat {
    match name {
        "jpeg" => OutputFormat::Jpeg,
        "png" => OutputFormat::Png,
        "webp" => OutputFormat::WebP,
        "webp_lossless" => OutputFormat::WebPLossless,
        _ => OutputFormat::Original,
    }
}

/// A `WIDTHxHEIGHT` setting (validated at start-up; the fallback is never used in practice).
pub fn box_size(text: &str) -> (u32, u32) {
    parse_box(text).unwrap_or((200, 200))
}

/// The bucket outputs go to: the configured one, or the source's.
pub fn output_bucket<'a>(configured: &'a str, source: &'a ObjectRef) -> &'a str {
    if configured.is_empty() {
        &source.bucket
    } else {
        configured
    }
}
