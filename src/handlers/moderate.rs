//! The `moderate` route: asks the `Moderator` for SafeSearch likelihoods of a resized variant
//! (on `image.resized`) or of the original (on `finalized`), decides the verdict from the
//! configured thresholds, applies the policy for flagged images (record / quarantine / blur,
//! see `moderation_policy`), and publishes `image.moderated`. No moderator configured gives
//! the verdict `unmoderated`, never a silent `safe`.

use super::common::{self, already_done, mark_done, sniff_object};
use super::moderation_policy::apply_policy;
use super::record::{pipeline_event_data, pipeline_event_type};
use super::{HandlerResult, IncomingEvent, Outcome, Route};
use crate::backends::ModerationImage;
use crate::config::{ModerationTrigger, Settings};
use crate::domain::{Likelihood, Moderation, ObjectRef, PipelineEvent, PipelineEventType};
use crate::domain::{RecordKey, SafeSearchCategory, StageUpdate, VariantInfo, Verdict};
use crate::error::{BackendContext, HandlerError};
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_FINALIZED};
use crate::state::AppState;
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;

pub const NAME: &str = "moderate";
/// Originals up to this size are sent inline; larger ones by `gs://` URI (Vision's request
/// size limit, gcp-contracts.md §4).
const MAX_INLINE_BYTES: u64 = 4 << 20;

pub const ROUTE: Route = Route {
    name: NAME,
    accepts,
    handle,
};

fn accepts(event: &IncomingEvent, settings: &Settings) -> bool {
    match (settings.moderation.trigger, event.ce.ty.as_str()) {
        (ModerationTrigger::Resized, PUBSUB_PUBLISHED) => {
            pipeline_event_type(event) == Some(PipelineEventType::Resized)
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
    Box::pin(async move {
        let done_key = common::event_done_key(NAME, event);
        if let Some(duplicate) = already_done(state, &[&done_key]).await? {
            return Ok(duplicate);
        }
        let subject = match subject(event, state).await? {
            Ok(subject) => subject,
            Err(outcome) => return Ok(outcome),
        };
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
    })
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

/// Thresholds from the settings (validated at start-up).
fn thresholds(settings: &Settings) -> BTreeMap<SafeSearchCategory, Likelihood> {
    settings
        .moderation
        .thresholds
        .iter()
        .filter_map(|(c, l)| Some((SafeSearchCategory::parse(c)?, Likelihood::from_api_name(l))))
        .collect()
}

async fn subject(
    event: &IncomingEvent,
    state: &AppState,
) -> Result<Result<Subject, Outcome>, HandlerError> {
    if let Some((data, source)) = common::storage_object(event) {
        if let Some(reason) = common::derived_reason(data, &state.settings) {
            return Ok(Err(Outcome::skipped(reason)));
        }
        match sniff_object(state, &source).await? {
            Err(gone) => return Ok(Err(gone)),
            Ok(None) => {
                return Ok(Err(Outcome::skipped_warn(format!(
                    "{source} is not an image"
                ))));
            }
            Ok(Some(_)) => {}
        }
        let image = if data.size.is_some_and(|s| s <= MAX_INLINE_BYTES) {
            ModerationImage::Bytes(state.backends.store.read(&source).await?)
        } else {
            ModerationImage::StorageUri {
                bucket: source.bucket.clone(),
                name: source.name.clone(),
            }
        };
        return Ok(Ok(Subject {
            source,
            image,
            variants: Vec::new(),
        }));
    }
    let data = pipeline_event_data(event)?;
    let StageUpdate::Resized { variants, .. } = data.update else {
        return Ok(Err(Outcome::skipped("not an image.resized event")));
    };
    let wanted = &state.settings.moderation.variant;
    let Some(variant) = variants
        .iter()
        .find(|v| &v.size == wanted)
        .or_else(|| variants.iter().min_by_key(|v| v.bytes))
    else {
        return Ok(Err(Outcome::skipped("image.resized carried no variants")));
    };
    let bytes = match state
        .backends
        .store
        .read(&ObjectRef::new(&variant.bucket, &variant.name))
        .await
    {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            return Ok(Err(Outcome::skipped(format!(
                "variant gs://{}/{} no longer exists",
                variant.bucket, variant.name
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Ok(Subject {
        source: ObjectRef::new(&data.bucket, &data.name).at_generation(data.generation),
        image: ModerationImage::Bytes(bytes),
        variants,
    }))
}
