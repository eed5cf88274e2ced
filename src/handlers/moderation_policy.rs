//! What happens to a flagged image (`moderation.policy`): `record` only flags it,
//! `quarantine` moves the original and its outputs under the quarantine prefix/bucket,
//! `blur` replaces the outputs with strongly blurred ones (the original is left alone).

use super::common::{self, run_cpu};
use crate::config::ModerationPolicy;
use crate::domain::naming::{quarantine_name, thumbnail_name};
use crate::domain::record::{BLURRED_ACTION, QUARANTINED_ACTION};
use crate::domain::{ObjectMeta, ObjectRef, PutOutcome, VariantInfo, WriteCondition};
use crate::error::{BackendContext, HandlerError};
use crate::imaging;
use crate::state::AppState;
use bytes::Bytes;

/// Applies the configured policy; the action taken, recorded in `Moderation::action`.
pub async fn apply_policy(
    state: &AppState,
    source: &ObjectRef,
    variants: &[VariantInfo],
) -> Result<Option<String>, HandlerError> {
    let mut outputs: Vec<ObjectRef> = variants
        .iter()
        .map(|v| ObjectRef::new(&v.bucket, &v.name))
        .collect();
    let settings = &state.settings;
    let thumb_bucket = common::output_bucket(&settings.thumbnail.bucket, source);
    outputs.push(ObjectRef::new(
        thumb_bucket,
        thumbnail_name(&settings.thumbnail.prefix, &source.name),
    ));
    match settings.moderation.policy {
        ModerationPolicy::Record => Ok(None),
        ModerationPolicy::Quarantine => {
            for obj in outputs.iter().chain(std::iter::once(source)) {
                quarantine(state, obj, source).await?;
            }
            Ok(Some(QUARANTINED_ACTION.to_owned()))
        }
        ModerationPolicy::Blur => {
            for obj in &outputs {
                blur(state, obj, source).await?;
            }
            Ok(Some(BLURRED_ACTION.to_owned()))
        }
    }
}

/// Copies `obj` to `<quarantine prefix>/<name>` (create-only), then deletes that generation.
async fn quarantine(
    state: &AppState,
    obj: &ObjectRef,
    source: &ObjectRef,
) -> Result<(), HandlerError> {
    let store = &state.backends.store;
    let info = match store.stat(obj).await {
        Ok(info) => info,
        Err(e) if e.is_not_found() => return Ok(()), // already moved or never made
        Err(e) => return Err(e.into()),
    };
    let pinned = ObjectRef::new(&obj.bucket, &obj.name).at_generation(info.generation);
    let bytes = match store.read(&pinned).await {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let moderation = &state.settings.moderation;
    let bucket = common::output_bucket(&moderation.quarantine_bucket, source).to_owned();
    let name = quarantine_name(&moderation.quarantine_prefix, &obj.name);
    let content_type = info
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let meta = ObjectMeta::derived_from(source, content_type);
    store
        .put(&bucket, &name, bytes, &meta, WriteCondition::CreateOnly)
        .await
        .context_for(|| format!("could not copy {obj} into quarantine"))?;
    store
        .delete(&pinned)
        .await
        .context_for(|| format!("could not remove {obj} after quarantining it"))?;
    Ok(())
}

/// Replaces an output with a blurred re-encode, only if it is still the generation we read.
async fn blur(state: &AppState, obj: &ObjectRef, source: &ObjectRef) -> Result<(), HandlerError> {
    let store = &state.backends.store;
    let info = match store.stat(obj).await {
        Ok(info) => info,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let pinned = ObjectRef::new(&obj.bucket, &obj.name).at_generation(info.generation);
    let bytes = store.read(&pinned).await?;
    let sigma = state.settings.moderation.blur_sigma;
    let encode = common::encode_options(&state.settings);
    let blurred = run_cpu(state, move || imaging::blur(&bytes, sigma, &encode))
        .await?
        .map_err(|e| HandlerError::Permanent(anyhow::anyhow!("could not blur {obj}: {e}")))?;
    let meta = ObjectMeta::derived_from(source, blurred.format.content_type());
    let written = store
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
