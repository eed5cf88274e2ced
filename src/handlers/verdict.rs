//! The durable verdict: the moderate route writes it to the image's record (for one source
//! generation) before its policy moves or blurs anything, and reads it back on redelivery;
//! a derive stage reads it after writing its outputs. So a retry converges to the same
//! published result, and whichever of moderation and a derive stage finishes last sees the
//! other's work. Goes through the `Records` seam only.

use super::moderation_policy::apply_to_outputs;
use crate::domain::record::StageEvent;
use crate::domain::{Moderation, ObjectRef, RecordKey, StageUpdate, Verdict};
use crate::error::{BackendContext, HandlerError};
use crate::state::AppState;

/// The verdict the moderate route made durable for exactly this source generation.
pub async fn durable_verdict(
    state: &AppState,
    source: &ObjectRef,
) -> Result<Option<Moderation>, HandlerError> {
    let key = RecordKey::new(&source.bucket, &source.name);
    let record = state
        .backends
        .records
        .get(&key)
        .await
        .context_for(|| format!("could not read the record of {source}"))?;
    Ok(record
        .filter(|r| Some(r.generation) == source.generation)
        .and_then(|r| r.moderation))
}

/// For a derive stage that just wrote `outputs`: when the image was already flagged, the
/// policy is applied to them here (moderation may have run before they existed). Moderation
/// makes its verdict durable before applying the policy, and this reads it after writing,
/// so whichever of the two finishes last sees the other.
pub async fn enforce_verdict(
    state: &AppState,
    source: &ObjectRef,
    outputs: &[ObjectRef],
) -> Result<(), HandlerError> {
    match durable_verdict(state, source).await? {
        Some(m) if m.verdict == Verdict::Flagged => apply_to_outputs(state, source, outputs).await,
        _ => Ok(()),
    }
}

/// Writes the verdict (with the action the policy is about to take) to the record first.
pub async fn persist_verdict(
    state: &AppState,
    event_id: &str,
    source: &ObjectRef,
    moderation: &Moderation,
) -> Result<(), HandlerError> {
    let stage_event = StageEvent {
        key: RecordKey::new(&source.bucket, &source.name),
        generation: source.generation.unwrap_or_default(),
        event_id: event_id.to_owned(),
        update: StageUpdate::Moderated {
            moderation: moderation.clone(),
        },
    };
    state
        .backends
        .records
        .apply(&stage_event)
        .await
        .context_for(|| format!("could not record the verdict on {source}"))?;
    Ok(())
}
