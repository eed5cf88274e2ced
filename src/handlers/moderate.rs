//! The `moderate` route: asks the `Moderator` for SafeSearch likelihoods of a resized variant
//! (on `image.resized`) or of the original (on `finalized`), decides the verdict from the
//! configured thresholds, applies the policy for flagged images (record / quarantine / blur,
//! see `moderation_policy`), and publishes `image.moderated`. No moderator configured gives
//! the verdict `unmoderated`, never a silent `safe`.

use super::common::{self, mark_done, not_done_yet, sniff_image};
use super::moderation_policy::apply_policy;
use super::{HandlerResult, IncomingEvent, Outcome, Route, Step, finish, halt};
use crate::backends::ModerationImage;
use crate::config::{ModerationTrigger, Settings};
use crate::domain::{Likelihood, Moderation, ObjectRef, PipelineEvent, PipelineEventType};
use crate::domain::{RecordKey, SafeSearchCategory, StageUpdate, VariantInfo, Verdict};
use crate::error::{BackendContext, HandlerError};
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_FINALIZED};
use crate::routes;
use crate::state::AppState;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;

pub const NAME: &str = routes::MODERATE.name;
/// Originals up to this size are sent inline; larger ones by `gs://` URI (Vision's request
/// size limit, gcp-contracts.md §4).
const MAX_INLINE_BYTES: u64 = 4 << 20;

pub const ROUTE: Route = Route {
    spec: routes::MODERATE,
    accepts,
    handle,
};

fn accepts(event: &IncomingEvent, settings: &Settings) -> bool {
    match (settings.moderation.trigger, event.ce.ty.as_str()) {
        (ModerationTrigger::Resized, PUBSUB_PUBLISHED) => {
            event.pipeline_event_type() == Some(PipelineEventType::Resized)
        }
        (ModerationTrigger::Original, STORAGE_FINALIZED) => true,
        _ => false,
    }
}

/// What to moderate: the source object, the image to show the moderator, the known variants.
struct Subject {
    source: ObjectRef,
    image: ModerationImage,
    variants: Vec<VariantInfo>,
}

fn handle<'a>(event: &'a IncomingEvent, state: &'a AppState) -> BoxFuture<'a, HandlerResult> {
    Box::pin(async move { finish(moderate(event, state).await) })
}

async fn moderate(event: &IncomingEvent, state: &AppState) -> Step<Outcome> {
    let done_key = common::event_done_key(NAME, event);
    not_done_yet(state, &[&done_key]).await?;
    let subject = subject(event, state).await?;
    let mut moderation = assess(state, &subject.image).await?;
    if moderation.verdict == Verdict::Flagged {
        moderation.action = apply_policy(state, &subject.source, &subject.variants).await?;
    }
    let verdict = moderation.verdict;
    let source = &subject.source;
    let announcement = PipelineEvent::new(
        PipelineEventType::Moderated,
        NAME,
        &RecordKey::new(&source.bucket, &source.name),
        source.generation.unwrap_or_default(),
        StageUpdate::Moderated { moderation },
    );
    state
        .backends
        .publisher
        .publish(&[announcement])
        .await
        .context_for(|| "could not publish image.moderated".to_owned())?;
    mark_done(state, &[&done_key]).await?;
    Ok(Outcome::processed(format!(
        "{source} is {}",
        verdict.as_str()
    )))
}

async fn assess(state: &AppState, image: &ModerationImage) -> Result<Moderation, HandlerError> {
    let Some(moderator) = &state.backends.moderator else {
        return Ok(Moderation {
            verdict: Verdict::Unmoderated,
            likelihoods: None,
            backend: "none".to_owned(),
            action: None,
        });
    };
    let likelihoods = moderator
        .assess(image)
        .await
        .context_for(|| format!("the {} moderator failed", moderator.name()))?;
    Ok(Moderation {
        verdict: likelihoods.verdict(&thresholds(&state.settings)),
        likelihoods: Some(likelihoods),
        backend: moderator.name().to_owned(),
        action: None,
    })
}

/// Thresholds from the settings (typed at load).
fn thresholds(settings: &Settings) -> BTreeMap<SafeSearchCategory, Likelihood> {
    settings
        .moderation
        .thresholds
        .iter()
        .map(|(category, threshold)| (*category, threshold.0))
        .collect()
}

/// What to moderate: the original (storage `finalized`) or a variant (`image.resized`).
async fn subject(event: &IncomingEvent, state: &AppState) -> Step<Subject> {
    match common::source_object(event, &state.settings)? {
        Some((data, source)) => {
            sniff_image(state, &source, || format!("{source} is not an image")).await?;
            let image = if data.size.is_some_and(|s| s <= MAX_INLINE_BYTES) {
                ModerationImage::Bytes(state.backends.store.read(&source).await?)
            } else {
                ModerationImage::StorageUri {
                    bucket: source.bucket.clone(),
                    name: source.name.clone(),
                }
            };
            Ok(Subject {
                source,
                image,
                variants: Vec::new(),
            })
        }
        None => resized_subject(event, state).await,
    }
}

/// The configured variant of an `image.resized` event (else the smallest one).
async fn resized_subject(event: &IncomingEvent, state: &AppState) -> Step<Subject> {
    let data = event.pipeline_event_data()?;
    let StageUpdate::Resized { variants, .. } = data.update else {
        return halt(Outcome::skipped("not an image.resized event"));
    };
    let wanted = &state.settings.moderation.variant;
    let Some(variant) = variants
        .iter()
        .find(|v| &v.size == wanted)
        .or_else(|| variants.iter().min_by_key(|v| v.bytes))
    else {
        return halt(Outcome::skipped("image.resized carried no variants"));
    };
    let bytes = match state
        .backends
        .store
        .read(&ObjectRef::new(&variant.bucket, &variant.name))
        .await
    {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            return halt(Outcome::skipped(format!(
                "variant gs://{}/{} no longer exists",
                variant.bucket, variant.name
            )));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Subject {
        source: ObjectRef::new(&data.bucket, &data.name).at_generation(data.generation),
        image: ModerationImage::Bytes(bytes),
        variants,
    })
}
