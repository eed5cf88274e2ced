//! What a route checks before it works on an object: that it is not one of the pipeline's
//! own outputs (the loop guard, `DerivedOutputs`, decided before anything is downloaded),
//! that it still exists, and that it is an image. Each ends the handler with `skipped`.

use super::{IncomingEvent, Outcome, Step, halt};
use crate::domain::{DerivedOutputs, ObjectRef};
use crate::events::storage::StorageObjectData;
use crate::imaging::{self, ImageFormat};
use crate::state::AppState;

/// Enough leading bytes to recognise every supported format.
pub const SNIFF_BYTES: u64 = 64;

/// The storage object a storage event names, unless it is one of the pipeline's own outputs
/// (then the step halts with `skipped`). `None` for other events.
pub fn source_object<'e>(
    event: &'e IncomingEvent,
    derived: &DerivedOutputs,
) -> Step<Option<(&'e StorageObjectData, ObjectRef)>> {
    let Some((data, obj)) = event.storage_object() else {
        return Ok(None);
    };
    match derived.reason(&data.bucket, &data.name, &data.metadata) {
        Some(reason) => halt(Outcome::skipped(reason)),
        None => Ok(Some((data, obj))),
    }
}

/// The object's format from its first bytes. Halts with `skipped` when the object is already
/// gone (deleted before we got to it), and with a logged skip saying `not_an_image()` when
/// it is not an image we read.
pub async fn sniff_image(
    state: &AppState,
    obj: &ObjectRef,
    not_an_image: impl FnOnce() -> String,
) -> Step<ImageFormat> {
    let head = read_or_skip(state, obj, SNIFF_BYTES).await?;
    match imaging::sniff(&head) {
        Some(format) => Ok(format),
        None => halt(Outcome::skipped_warn(not_an_image())),
    }
}

/// The object's first `max_bytes`, or all of it; an object gone since the event (deleted
/// before we got to it) is a skip.
pub async fn read_or_skip(state: &AppState, obj: &ObjectRef, max_bytes: u64) -> Step<bytes::Bytes> {
    match state.backends.store.read_prefix(obj, max_bytes).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.is_not_found() => halt(Outcome::skipped(format!(
            "{obj} no longer exists (deleted before it was processed)"
        ))),
        Err(e) => Err(e.into()),
    }
}
