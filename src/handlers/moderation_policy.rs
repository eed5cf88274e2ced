//! What happens to a flagged image (`moderation.policy`): `record` only flags it,
//! `quarantine` moves the original and its outputs under the quarantine prefix/bucket,
//! `blur` replaces the outputs with strongly blurred ones (the original is left alone).
//! Every step is idempotent, so moderation and a late derive stage may both apply it:
//! a source is deleted only once a copy of exactly its bytes is known to exist, and an
//! output already blurred (marked in its metadata) is not blurred again. A verdict acts
//! only on outputs made from its own source generation (their metadata says which): an
//! overwrite's outputs carry the same names, and one upload's verdict must not move or
//! blur another's (issue 22).

use super::cpu::{self, run_cpu};
use super::outputs::{read_live, read_output};
use crate::config::{ModerationPolicy, Settings};
use crate::domain::derived::output_bucket;
use crate::domain::naming::{quarantine_name, quarantine_name_for_generation};
use crate::domain::naming::{thumbnail_name, variant_name};
use crate::domain::record::{BLURRED_ACTION, QUARANTINED_ACTION};
use crate::domain::{ObjectInfo, ObjectMeta, ObjectRef, PutOutcome, WriteCondition};
use crate::error::{BackendContext, HandlerError};
use crate::imaging;
use crate::state::AppState;
use bytes::Bytes;

/// Custom-metadata key on an output the blur policy replaced (value `"true"`).
pub const BLURRED_MARKER_KEY: &str = "image-pipeline-blurred";

/// The `Moderation::action` the configured policy takes on a flagged image (known before
/// anything is moved, so the verdict can be made durable first).
pub fn planned_action(policy: ModerationPolicy) -> Option<String> {
    match policy {
        ModerationPolicy::Record => None,
        ModerationPolicy::Quarantine => Some(QUARANTINED_ACTION.to_owned()),
        ModerationPolicy::Blur => Some(BLURRED_ACTION.to_owned()),
    }
}

/// Every output the configured routes make of `source` (whether or not it exists yet).
fn all_outputs(settings: &Settings, source: &ObjectRef) -> Vec<ObjectRef> {
    let resize_bucket = output_bucket(settings.resize.bucket.as_deref(), source);
    let mut outputs: Vec<ObjectRef> = settings
        .resize
        .sizes
        .keys()
        .map(|size| {
            let name = variant_name(&settings.resize.prefix, size, &source.name);
            ObjectRef::new(resize_bucket, name)
        })
        .collect();
    let thumb_bucket = output_bucket(settings.thumbnail.bucket.as_deref(), source);
    outputs.push(ObjectRef::new(
        thumb_bucket,
        thumbnail_name(&settings.thumbnail.prefix, &source.name),
    ));
    outputs
}

/// Applies the configured policy to the source (this generation only) and every output of
/// it that exists now.
pub async fn apply_policy(state: &AppState, source: &ObjectRef) -> Result<(), HandlerError> {
    let outputs = all_outputs(&state.settings, source);
    apply_to_outputs(state, source, &outputs).await?;
    if state.settings.moderation.policy == ModerationPolicy::Quarantine
        && let Some(live) = read_live(state, source, |_| true).await?
    {
        quarantine(state, source, source, live).await?;
    }
    Ok(())
}

/// Applies the configured policy to those of `outputs` made from `source`'s generation
/// (a late derive stage's own, or every output moderation knows of).
pub async fn apply_to_outputs(
    state: &AppState,
    source: &ObjectRef,
    outputs: &[ObjectRef],
) -> Result<(), HandlerError> {
    let policy = state.settings.moderation.policy;
    if policy == ModerationPolicy::Record {
        return Ok(());
    }
    for obj in outputs {
        // Gone, never made, or another upload's: not this verdict's business.
        let Some(live) = read_output(state, obj, source).await? else {
            continue;
        };
        match policy {
            ModerationPolicy::Record => {}
            ModerationPolicy::Quarantine => quarantine(state, obj, source, live).await?,
            ModerationPolicy::Blur => blur(state, obj, source, live).await?,
        }
    }
    Ok(())
}

/// Copies `obj` (as read: `live`) under the quarantine prefix, then deletes that
/// generation, but only once a copy of exactly its bytes exists there. An unrelated object
/// already at the quarantine name (an earlier upload of the same name, a decoy) is left
/// alone: the copy goes to `<prefix>/generation-<g>/<name>` instead. If that is taken by
/// other bytes too, the original is kept and the error is permanent (an operator must look).
async fn quarantine(
    state: &AppState,
    obj: &ObjectRef,
    source: &ObjectRef,
    (info, bytes): (ObjectInfo, Bytes),
) -> Result<(), HandlerError> {
    let moderation = &state.settings.moderation;
    let bucket = output_bucket(moderation.quarantine_bucket.as_deref(), source).to_owned();
    let prefix = &moderation.quarantine_prefix;
    let names = [
        quarantine_name(prefix, &obj.name),
        quarantine_name_for_generation(prefix, &obj.name, info.generation),
    ];
    let content_type = info
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    for name in &names {
        let meta = state
            .derived
            .output_meta(source, &bucket, name, content_type.clone());
        if copy_exists(state, &bucket, name, &bytes, &meta).await? {
            let pinned = ObjectRef::new(&obj.bucket, &obj.name).at_generation(info.generation);
            state
                .backends
                .store
                .delete(&pinned)
                .await
                .context_for(|| format!("could not remove {obj} after quarantining it"))?;
            return Ok(());
        }
    }
    Err(HandlerError::Permanent(anyhow::anyhow!(
        "{obj} was NOT quarantined: gs://{bucket}/{} and gs://{bucket}/{} hold other bytes; \
         the original is kept",
        names[0],
        names[1]
    )))
}

/// Writes `bytes` create-only at `name`; true when the object there now holds exactly them.
async fn copy_exists(
    state: &AppState,
    bucket: &str,
    name: &str,
    bytes: &Bytes,
    meta: &ObjectMeta,
) -> Result<bool, HandlerError> {
    let store = &state.backends.store;
    let written = store
        .put(
            bucket,
            name,
            bytes.clone(),
            meta,
            WriteCondition::CreateOnly,
        )
        .await
        .context_for(|| format!("could not copy into quarantine at gs://{bucket}/{name}"))?;
    if let PutOutcome::Written(_) = written {
        return Ok(true);
    }
    let existing = ObjectRef::new(bucket, name);
    Ok(read_live(state, &existing, |_| true)
        .await?
        .is_some_and(|(_, theirs)| theirs == *bytes))
}

/// Replaces an output with a blurred re-encode, only if it is still the generation we read
/// and not blurred already.
async fn blur(
    state: &AppState,
    obj: &ObjectRef,
    source: &ObjectRef,
    (info, bytes): (ObjectInfo, Bytes),
) -> Result<(), HandlerError> {
    if info
        .metadata
        .get(BLURRED_MARKER_KEY)
        .is_some_and(|v| v == "true")
    {
        return Ok(());
    }
    let sigma = state.settings.moderation.blur_sigma;
    let encode = cpu::encode_options(&state.settings);
    let blurred = run_cpu(state, move || imaging::blur(&bytes, sigma, &encode))
        .await?
        .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("could not blur {obj}: {e}")))?;
    let content_type = blurred.format.content_type();
    let mut meta = state
        .derived
        .output_meta(source, &obj.bucket, &obj.name, content_type);
    meta.metadata
        .insert(BLURRED_MARKER_KEY.to_owned(), "true".to_owned());
    let written = state
        .backends
        .store
        .put(
            &obj.bucket,
            &obj.name,
            Bytes::from(blurred.bytes),
            &meta,
            WriteCondition::IfGenerationMatch(info.generation),
        )
        .await
        .context_for(|| format!("could not replace {obj} with its blurred version"))?;
    match written {
        PutOutcome::Written(_) => Ok(()),
        PutOutcome::ConditionNotMet => Err(HandlerError::Transient(anyhow::anyhow!(
            "{obj} changed while it was being blurred; will retry"
        ))),
    }
}
