//! Verdict reuse (`moderation.reuse_verdict_for_same_content`): identical bytes already
//! judged on the same basis (the moderator and its model, what it was shown, the
//! thresholds: `VerdictBasis`) get that judgement again instead of another moderator call.
//! The stored likelihoods are reused and the decision is made again from them under the
//! current rule and policy (`moderate::moderation_of`); the basis holds the thresholds, so
//! changing them judges afresh. The index is a cache, never the truth: a failed read asks
//! the moderator, a failed write leaves the verdict (already on the record) as it is; both
//! are logged at WARN.
//!
//! Which content hash is trusted, and when an entry may be written:
//! - trigger `resized`: the `summary.contentHash` of the `image.resized` event. Our resize
//!   route computed it from the bytes of exactly this generation, and that event reaches the
//!   route only from the pipeline's own topic (Pub/Sub IAM and Eventarc's authenticated push;
//!   locally, the loopback router): whoever could forge it could as well publish an
//!   `image.moderated`, which the record route takes as the verdict. The variant judged was
//!   checked to be made from this generation (`outputs::stat_output`).
//! - trigger `original`: the SHA-256 this route computes of the bytes it read itself, pinned
//!   to the generation (inline for Vision, the admitted load for the built-in model). A large
//!   original Vision reads by `gs://` URI is not downloaded, so it has no hash here: it is
//!   judged afresh, never reused.
//! - An entry is written only when the moderator judged bytes this route read, pinned to
//!   the generation. Vision reading a `gs://` URI reads whatever is live by then, which an
//!   overwrite may have changed: filing that verdict under the earlier bytes' hash would
//!   let one upload's verdict stand for another's content.

use super::cpu::run_cpu;
use super::moderation_subject::{assess_loaded, load_here, remote_subject};
use super::summary::content_hash;
use super::{IncomingEvent, Step};
use crate::backends::{BackendResult, LocalModerator, ModerationImage, Moderator};
use crate::config::{ModerationTrigger, Settings};
use crate::domain::{IndexedVerdict, Likelihood, Moderation, ObjectRef, RecordKey};
use crate::domain::{SafeSearch, SafeSearchCategory, StageUpdate, VerdictBasis, VerdictKey};
use crate::state::AppState;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How the route came by the likelihoods of this image.
pub enum Judgement {
    /// A judgement of identical bytes on the same basis, from the index.
    Reused(IndexedVerdict),
    /// The moderator's answer, and the key to file it under when it may be filed.
    Asked {
        answer: BackendResult<SafeSearch>,
        file_under: Option<VerdictKey>,
    },
}

/// Thresholds from the settings (typed at load).
pub fn thresholds(settings: &Settings) -> BTreeMap<SafeSearchCategory, Likelihood> {
    settings
        .moderation
        .thresholds
        .iter()
        .map(|(category, threshold)| (*category, threshold.0))
        .collect()
}

/// What a verdict of `backend` is made on with these settings.
fn basis(settings: &Settings, backend: &str) -> VerdictBasis {
    let moderation = &settings.moderation;
    let subject = match moderation.trigger {
        ModerationTrigger::Original => "original".to_owned(),
        ModerationTrigger::Resized => format!("resized:{}", moderation.variant),
    };
    VerdictBasis::new(backend, &subject, &thresholds(settings))
}

/// The `summary.contentHash` of an `image.resized` event (trusted: see the module header).
fn announced_hash(event: &IncomingEvent) -> Option<String> {
    match event.pipeline_event_data().ok()?.update {
        StageUpdate::Resized { summary, .. } => summary?.content_hash,
        _ => None,
    }
}

/// Whether the subject is the upload itself (a storage event, trigger `original`), whose
/// bytes' hash is the content hash; a variant's bytes hash to something else.
fn is_the_upload(event: &IncomingEvent) -> bool {
    event.pipeline_event_type().is_none()
}

/// The key for `content_hash` when reuse is on.
fn key_for(state: &AppState, backend: &str, content_hash: Option<&str>) -> Option<VerdictKey> {
    state.backends.verdicts.as_ref()?;
    VerdictKey::new(content_hash?, basis(&state.settings, backend))
}

/// The hash of bytes this route read, computed off the executor; only when reuse is on.
async fn hash_of(state: &AppState, bytes: Bytes) -> Step<Option<String>> {
    if state.backends.verdicts.is_none() {
        return Ok(None);
    }
    Ok(Some(run_cpu(state, move || content_hash(&bytes)).await?))
}

/// The judgement filed under `key`; a failed read is logged and reads as none.
async fn find(state: &AppState, key: Option<&VerdictKey>) -> Option<IndexedVerdict> {
    let (index, key) = (state.backends.verdicts.as_ref()?, key?);
    match index.find(key).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the verdict index; asking the moderator");
            None
        }
    }
}

/// The judgement of a remote moderator (Vision): the index first, else the moderator.
pub async fn judge_remote(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
    moderator: &dyn Moderator,
) -> Step<Judgement> {
    let image = remote_subject(event, state, source).await?;
    let content_hash = match (announced_hash(event), &image) {
        (Some(announced), _) => Some(announced),
        (None, ModerationImage::Bytes(bytes)) if is_the_upload(event) => {
            hash_of(state, bytes.clone()).await?
        }
        (None, _) => None,
    };
    let key = key_for(state, moderator.name(), content_hash.as_deref());
    if let Some(found) = find(state, key.as_ref()).await {
        return Ok(Judgement::Reused(found));
    }
    let answer = moderator.assess(&image).await;
    let file_under = key.filter(|_| matches!(image, ModerationImage::Bytes(_)));
    Ok(Judgement::Asked { answer, file_under })
}

/// The judgement of a local moderator (the built-in model): the index first (before the
/// load when the event names the hash, else right after it), else the model.
pub async fn judge_here(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
    moderator: Arc<dyn LocalModerator>,
    backend: &str,
) -> Step<Judgement> {
    let announced = announced_hash(event);
    let mut key = key_for(state, backend, announced.as_deref());
    if let Some(found) = find(state, key.as_ref()).await {
        return Ok(Judgement::Reused(found));
    }
    let subject = load_here(event, state, source, moderator.as_ref()).await?;
    if announced.is_none() && is_the_upload(event) {
        let computed = hash_of(state, subject.bytes()).await?;
        key = key_for(state, backend, computed.as_deref());
        if let Some(found) = find(state, key.as_ref()).await {
            return Ok(Judgement::Reused(found));
        }
    }
    let answer = assess_loaded(state, subject, moderator).await?;
    Ok(Judgement::Asked {
        answer,
        file_under: key,
    })
}

/// Files a fresh judgement under `key` (only a real answer: an error or `unmoderated` is no
/// judgement of the content). A failure is logged; the verdict on the record stands.
pub async fn remember(state: &AppState, key: VerdictKey, source: &ObjectRef, m: &Moderation) {
    let Some(index) = state.backends.verdicts.as_ref() else {
        return;
    };
    let Some(likelihoods) = m.likelihoods.clone().filter(|_| m.error.is_none()) else {
        return;
    };
    let entry = IndexedVerdict {
        content_hash: key.content_hash(),
        basis: key.basis.as_str().to_owned(),
        likelihoods,
        verdict: m.verdict,
        backend: m.backend.clone(),
        from_record: RecordKey::new(&source.bucket, &source.name).document_id(),
        from_generation: source.generation.unwrap_or_default(),
        judged_at: None,
    };
    if let Err(e) = index.remember(&key, &entry).await {
        tracing::warn!(
            error = %e,
            "could not add the verdict on {source} to the verdict index; the next upload of \
             the same bytes is judged again"
        );
    }
}
