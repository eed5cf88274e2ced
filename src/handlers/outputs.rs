//! Reading an output of one source generation. Outputs of every upload of a name share
//! their names, so whatever acts on an output for a source (the moderation policy, the
//! variant moderation reads, a derive stage cleaning up after itself) first checks the
//! source generation its metadata records (issue 22), then works on exactly the object
//! generation it checked (a read or a delete pinned to it). Goes through the `ObjectStore`
//! seam only.

use crate::domain::{DerivedOutputs, ObjectInfo, ObjectRef};
use crate::error::{BackendContext, HandlerError};
use crate::state::AppState;
use bytes::Bytes;

/// Whether an output was made from exactly `source`'s generation, by the source generation
/// it records where `derived` recognises it as ours (an uploader's object claims nothing).
pub fn made_from(derived: &DerivedOutputs, output: &ObjectInfo, source: &ObjectRef) -> bool {
    derived.source_generation_of(output) == source.generation
}

/// The live output `obj` when it was made from `source`'s generation; `None` when it is
/// gone or was made from another generation (the source was overwritten since).
pub async fn stat_output(
    state: &AppState,
    obj: &ObjectRef,
    source: &ObjectRef,
) -> Result<Option<ObjectInfo>, HandlerError> {
    Ok(stat_live(state, obj)
        .await?
        .filter(|info| made_from(&state.derived, info, source)))
}

/// [`stat_output`] and the output's bytes, read pinned to the generation checked.
pub async fn read_output(
    state: &AppState,
    obj: &ObjectRef,
    source: &ObjectRef,
) -> Result<Option<(ObjectInfo, Bytes)>, HandlerError> {
    read_live(state, obj, |info| made_from(&state.derived, info, source)).await
}

/// What the store knows of `obj`; `None` when it does not exist.
pub async fn stat_live(
    state: &AppState,
    obj: &ObjectRef,
) -> Result<Option<ObjectInfo>, HandlerError> {
    match state.backends.store.stat(obj).await {
        Ok(info) => Ok(Some(info)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The object and its bytes, pinned to the generation `wanted` accepted; `None` when it is
/// gone or not wanted.
pub async fn read_live(
    state: &AppState,
    obj: &ObjectRef,
    wanted: impl FnOnce(&ObjectInfo) -> bool,
) -> Result<Option<(ObjectInfo, Bytes)>, HandlerError> {
    let Some(info) = stat_live(state, obj).await?.filter(wanted) else {
        return Ok(None);
    };
    let pinned = ObjectRef::new(&obj.bucket, &obj.name).at_generation(info.generation);
    // Bounded: a gzip-encoded object inflates past its stored size (gcp-contracts.md §7.1).
    let max_bytes = info.size_bytes.max(state.settings.imaging.max_input_bytes);
    match state.backends.store.read_within(&pinned, max_bytes).await {
        Ok(bytes) => Ok(Some((info, bytes))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the live `output`, pinned to the generation `remove` accepted; whether it did.
pub async fn remove_output_if(
    state: &AppState,
    output: &ObjectRef,
    remove: impl FnOnce(&ObjectInfo) -> bool,
) -> Result<bool, HandlerError> {
    let Some(existing) = stat_live(state, output).await?.filter(remove) else {
        return Ok(false);
    };
    state
        .backends
        .store
        .delete(&output.clone().at_generation(existing.generation))
        .await
        .context_for(|| format!("could not delete {output}"))
}
