//! The `moderate` route: asks the `Moderator` for SafeSearch likelihoods of a resized variant
//! (on `image.resized`) or of the original (on `finalized`), decides the verdict from the
//! configured thresholds, applies the policy for flagged images (record / quarantine / blur,
//! see `moderation_policy`), and publishes `image.moderated`. No moderator configured gives
//! the verdict `unmoderated`, never a silent `safe`. A moderator's permanent error is
//! recorded in the verdict (`moderation.on_error` decides flagged or `unmoderated`); the
//! verdict is made durable before the policy acts (`verdict`). What the moderator sees is
//! read and made under the same gate as every other route (`moderation_subject`). Identical
//! bytes judged before on the same basis reuse that judgement (`verdict_reuse`).

use super::failure;
use super::guard;
use super::ledger::{self, mark_done, not_done_yet};
use super::moderation_policy::{apply_policy, planned_action};
use super::verdict::{durable_verdict, persist_verdict};
use super::verdict_reuse::{Judgement, judge_here, judge_remote, remember, thresholds};
use super::{HandlerResult, IncomingEvent, Outcome, Route, Step, finish};
use crate::backends::{BackendResult, Moderator};
use crate::config::{ModerationOnError, ModerationTrigger, Settings};
use crate::domain::{Moderation, ObjectRef, PipelineEvent, PipelineEventType};
use crate::domain::{RecordKey, SafeSearch, StageUpdate, Verdict, VerdictKey};
use crate::error::{BackendContext, HandlerError};
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_FINALIZED};
use crate::routes;
use crate::state::AppState;
use futures_util::future::BoxFuture;

pub const NAME: &str = routes::MODERATE.name;

pub const ROUTE: Route = Route {
    spec: routes::MODERATE,
    accepts,
    handle,
    derive: None,
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

fn handle<'a>(event: &'a IncomingEvent, state: &'a AppState) -> BoxFuture<'a, HandlerResult> {
    Box::pin(async move { finish(moderate(event, state).await) })
}

/// The verdict is made durable (on the record, for this source generation) before anything
/// is moved or blurred; a redelivery reuses it, re-applies the idempotent policy and
/// publishes the same result. A permanent failure is recorded on the image.
async fn moderate(event: &IncomingEvent, state: &AppState) -> Step<Outcome> {
    let done_key = ledger::event_done_key(NAME, event);
    not_done_yet(state, &[&done_key]).await?;
    let source = source_of(event, state)?;
    let step = judge_and_publish(event, state, &source).await;
    let step = failure::recorded(state, NAME, &source, step).await?;
    mark_done(state, &[&done_key]).await?;
    Ok(step)
}

async fn judge_and_publish(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
) -> Step<Outcome> {
    let moderation = match durable_verdict(state, source).await? {
        Some(moderation) => moderation,
        None => {
            let (moderation, file_under) = judge(event, state, source).await?;
            persist_verdict(state, &event.ce.id, source, &moderation).await?;
            if let Some(key) = file_under {
                remember(state, key, source, &moderation).await;
            }
            moderation
        }
    };
    if moderation.verdict == Verdict::Flagged {
        apply_policy(state, source).await?;
    }
    let verdict = moderation.verdict;
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
    Ok(Outcome::processed(format!(
        "{source} is {}",
        verdict.as_str()
    )))
}

/// The verdict on the event's image, and the key to file it under in the verdict index
/// when it is a fresh judgement that may be filed. No moderator is `unmoderated`, never
/// `safe`, and nothing is read for it.
async fn judge(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
) -> Step<(Moderation, Option<VerdictKey>)> {
    let Some(moderator) = state.backends.moderator.clone() else {
        let unmoderated = Moderation {
            verdict: Verdict::Unmoderated,
            likelihoods: None,
            backend: "none".to_owned(),
            action: None,
            error: None,
            reused_from: None,
        };
        return Ok((unmoderated, None));
    };
    let judgement = match moderator.local() {
        Some(local) => judge_here(event, state, source, local, moderator.name()).await?,
        None => judge_remote(event, state, source, moderator.as_ref()).await?,
    };
    match judgement {
        Judgement::Reused(entry) => {
            tracing::info!(
                from = %entry.from_record,
                "{source}: the same bytes were judged before; verdict reused, moderator not asked"
            );
            let mut moderation = moderation_of(state, moderator.as_ref(), Ok(entry.likelihoods))?;
            moderation.reused_from = Some(entry.from_record);
            Ok((moderation, None))
        }
        Judgement::Asked { answer, file_under } => Ok((
            moderation_of(state, moderator.as_ref(), answer)?,
            file_under,
        )),
    }
}

/// The moderator's answer as a verdict: a permanent error is recorded in it (`on_error`
/// decides flagged or `unmoderated`); a transient one comes back as an error (retry).
fn moderation_of(
    state: &AppState,
    moderator: &dyn Moderator,
    answer: BackendResult<SafeSearch>,
) -> Result<Moderation, HandlerError> {
    let settings = &state.settings.moderation;
    let mut moderation = match answer {
        Ok(likelihoods) => Moderation {
            verdict: likelihoods.verdict(&thresholds(&state.settings)),
            likelihoods: Some(likelihoods),
            backend: moderator.name().to_owned(),
            action: None,
            error: None,
            reused_from: None,
        },
        Err(e) if e.is_transient() => {
            let context = format!("the {} moderator failed", moderator.name());
            return Err(HandlerError::Transient(
                anyhow::Error::new(e).context(context),
            ));
        }
        Err(e) => Moderation {
            verdict: match settings.on_error {
                ModerationOnError::FailOpen => Verdict::Unmoderated,
                ModerationOnError::FailClosed => Verdict::Flagged,
            },
            likelihoods: None,
            backend: moderator.name().to_owned(),
            action: None,
            error: Some(format!("the {} moderator failed: {e}", moderator.name())),
            reused_from: None,
        },
    };
    if moderation.verdict == Verdict::Flagged {
        moderation.action = planned_action(settings.policy);
    }
    Ok(moderation)
}

/// The source object the event is about, pinned to its generation (halts with `skipped`
/// for derived objects and events without variants).
fn source_of(event: &IncomingEvent, state: &AppState) -> Step<ObjectRef> {
    if let Some((_, source)) = guard::source_object(event, &state.derived)? {
        return Ok(source);
    }
    let data = event.pipeline_event_data()?;
    Ok(ObjectRef::new(&data.bucket, &data.name).at_generation(data.generation))
}
