//! What resize and thumbnail share: turn one source generation into derived objects and
//! announce them, or remove them when the source is deleted. Create-only writes make a crash
//! between "wrote a variant" and "published" safe to retry; variants of an older source
//! generation are replaced, variants of a newer one are never touched.

use super::common::{self, already_done, mark_done, publish_failure, run_cpu, sniff_object};
use super::{HandlerResult, IncomingEvent, Outcome};
use crate::config::Settings;
use crate::domain::object::SOURCE_GENERATION_KEY;
use crate::domain::{ObjectMeta, ObjectRef, PipelineEvent, PipelineEventType, PutOutcome};
use crate::domain::{RecordKey, StageUpdate, VariantInfo, WriteCondition};
use crate::error::{BackendContext, HandlerError};
use crate::events::storage::StorageObjectData;
use crate::events::types::{STORAGE_DELETED, STORAGE_FINALIZED};
use crate::imaging::{self, Plan, SourceInfo, Target};
use crate::state::AppState;
use bytes::Bytes;
use futures_util::future::try_join_all;

/// How one route derives objects from a source.
pub struct DeriveSpec {
    pub route: &'static str,
    pub event_type: PipelineEventType,
    /// Output bucket ("" = the source's).
    pub bucket: String,
    pub targets: Vec<Target>,
    /// Output object name for a target label and the source name.
    pub name_for: fn(&Settings, &str, &str) -> String,
    /// The record update announcing the outputs.
    pub update: fn(&SourceInfo, Vec<VariantInfo>, Vec<String>) -> StageUpdate,
}

/// Both derive routes accept storage `finalized` (make outputs) and `deleted` (remove them).
pub fn accepts(event: &IncomingEvent, _settings: &Settings) -> bool {
    matches!(event.ce.ty.as_str(), STORAGE_FINALIZED | STORAGE_DELETED)
}

/// Handles an accepted storage event with the route's spec.
pub async fn handle(event: &IncomingEvent, state: &AppState, spec: DeriveSpec) -> HandlerResult {
    if event.ce.ty == STORAGE_DELETED {
        on_deleted(event, state, spec).await
    } else {
        on_finalized(event, state, spec).await
    }
}

/// The source object the event names, or why it must be skipped (not a storage event, or
/// one of the pipeline's own outputs: checked before anything is downloaded).
fn source_object<'e>(
    event: &'e IncomingEvent,
    state: &AppState,
) -> Result<(&'e StorageObjectData, ObjectRef), Outcome> {
    let (data, source) = common::storage_object(event)
        .ok_or_else(|| Outcome::skipped("not a Cloud Storage event"))?;
    match common::derived_reason(data, &state.settings) {
        Some(reason) => Err(Outcome::skipped(reason)),
        None => Ok((data, source)),
    }
}

/// `finalized`: make every target from the exact generation the event names.
async fn on_finalized(event: &IncomingEvent, state: &AppState, spec: DeriveSpec) -> HandlerResult {
    let (data, source) = match source_object(event, state) {
        Ok(found) => found,
        Err(skip) => return Ok(skip),
    };
    let event_key = common::event_done_key(spec.route, event);
    let generation_key = common::generation_done_key(spec.route, &source);
    if let Some(duplicate) = already_done(state, &[&event_key, &generation_key]).await? {
        return Ok(duplicate);
    }
    match sniff_object(state, &source).await? {
        Err(gone) => return Ok(gone),
        Ok(None) => {
            return Ok(Outcome::skipped_warn(format!(
                "{source} is not an image this service reads (content type {:?})",
                data.content_type.as_deref().unwrap_or("none")
            )));
        }
        Ok(Some(_)) => {}
    }
    let max_bytes = state.settings.imaging.max_input_bytes;
    if let Some(size) = data.size.filter(|s| *s > max_bytes) {
        let reason =
            format!("the object has {size} bytes, over imaging.max_input_bytes = {max_bytes}");
        return Err(publish_failure(state, spec.route, &source, reason).await);
    }
    let input = match state.backends.store.read(&source).await {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            return Ok(Outcome::skipped(format!("{source} no longer exists")));
        }
        Err(e) => return Err(e.into()),
    };

    let plan = Plan {
        limits: common::imaging_limits(&state.settings),
        encode: common::encode_options(&state.settings),
        targets: spec.targets.clone(),
    };
    let processed = match run_cpu(state, move || imaging::process(&input, &plan)).await? {
        Ok(processed) => processed,
        Err(e) if e.is_not_an_image() => {
            return Ok(Outcome::skipped_warn(format!("{source}: {e}")));
        }
        Err(e) => return Err(publish_failure(state, spec.route, &source, e.to_string()).await),
    };

    let bucket = common::output_bucket(&spec.bucket, &source).to_owned();
    let source = &source;
    let writes = processed.outputs.into_iter().map(|output| {
        let name = (spec.name_for)(&state.settings, &output.label, &source.name);
        let meta = ObjectMeta::derived_from(source, output.format.content_type());
        let variant = VariantInfo {
            size: output.label.clone(),
            bucket: bucket.clone(),
            name: name.clone(),
            width: output.width,
            height: output.height,
            bytes: output.bytes.len() as u64,
            format: output.format.as_str().to_owned(),
        };
        let bucket = bucket.clone();
        async move {
            write_variant(
                state,
                &bucket,
                &name,
                Bytes::from(output.bytes),
                &meta,
                source,
            )
            .await
            .map(|()| variant)
        }
    });
    let variants = try_join_all(writes).await?;

    let count = variants.len();
    let update = (spec.update)(&processed.source, variants, processed.warnings);
    let key = RecordKey::new(&source.bucket, &source.name);
    let generation = source.generation.unwrap_or_default();
    let announcement = PipelineEvent::new(spec.event_type, spec.route, &key, generation, update);
    state
        .backends
        .publisher
        .publish(&[announcement])
        .await
        .context_for(|| format!("could not publish {}", spec.event_type.as_str()))?;
    mark_done(state, &[&event_key, &generation_key]).await?;
    Ok(Outcome::processed(format!(
        "wrote {count} output(s) of {source} to gs://{bucket}"
    )))
}

/// Writes one output create-only. An existing output made from the same source generation
/// means an earlier attempt already wrote it; one from an older generation is replaced.
async fn write_variant(
    state: &AppState,
    bucket: &str,
    name: &str,
    body: Bytes,
    meta: &ObjectMeta,
    source: &ObjectRef,
) -> Result<(), HandlerError> {
    let store = &state.backends.store;
    let context = || format!("could not write gs://{bucket}/{name}");
    let mut condition = WriteCondition::CreateOnly;
    for _ in 0..3 {
        match store
            .put(bucket, name, body.clone(), meta, condition)
            .await
            .context_for(context)?
        {
            PutOutcome::Written(_) => return Ok(()),
            PutOutcome::ConditionNotMet => {}
        }
        let existing = match store.stat(&ObjectRef::new(bucket, name)).await {
            Ok(info) => info,
            Err(e) if e.is_not_found() => {
                condition = WriteCondition::CreateOnly;
                continue;
            }
            Err(e) => return Err(e).context_for(context),
        };
        let existing_source: Option<i64> = existing
            .metadata
            .get(SOURCE_GENERATION_KEY)
            .and_then(|g| g.parse().ok());
        match (existing_source, source.generation) {
            (Some(theirs), Some(ours)) if theirs >= ours => return Ok(()),
            _ => condition = WriteCondition::IfGenerationMatch(existing.generation),
        }
    }
    Err(HandlerError::Transient(anyhow::anyhow!(
        "gs://{bucket}/{name} kept changing while being written; will retry"
    )))
}

/// `deleted`: remove the outputs made from this (or an older) source generation.
async fn on_deleted(event: &IncomingEvent, state: &AppState, spec: DeriveSpec) -> HandlerResult {
    let (_, source) = match source_object(event, state) {
        Ok(found) => found,
        Err(skip) => return Ok(skip),
    };
    let bucket = common::output_bucket(&spec.bucket, &source).to_owned();
    let mut removed = 0;
    for target in &spec.targets {
        let name = (spec.name_for)(&state.settings, &target.label, &source.name);
        let output = ObjectRef::new(&bucket, &name);
        let existing = match state.backends.store.stat(&output).await {
            Ok(info) => info,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e.into()),
        };
        let made_from: Option<i64> = existing
            .metadata
            .get(SOURCE_GENERATION_KEY)
            .and_then(|g| g.parse().ok());
        if let (Some(made_from), Some(deleted)) = (made_from, source.generation)
            && made_from > deleted
        {
            continue; // made from a newer upload of the same name: keep it
        }
        let deleted = state
            .backends
            .store
            .delete(&output.at_generation(existing.generation))
            .await
            .context_for(|| format!("could not delete gs://{bucket}/{name}"))?;
        removed += usize::from(deleted);
    }
    Ok(Outcome::processed(format!(
        "removed {removed} output(s) of deleted {source}"
    )))
}
