//! Recording a permanent failure on the image's record, so it never stays `pending`:
//! through the pipeline topic (`image.failed`), or straight into the record when
//! publishing is itself refused for good.

use super::{Halt, Outcome, Step};
use crate::domain::record::StageEvent;
use crate::domain::{ObjectRef, PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use crate::error::HandlerError;
use crate::state::AppState;

/// Records a permanent failure of `route` on `obj`'s record: publishes `image.failed`;
/// when publishing is itself refused for good (a Pub/Sub 4xx), writes the failure to the
/// record directly. Returns the permanent error to answer with (transient when neither
/// could be written yet, so the event comes back).
pub async fn publish_failure(
    state: &AppState,
    route: &str,
    obj: &ObjectRef,
    reason: String,
) -> HandlerError {
    let update = StageUpdate::Failed {
        failed_stage: route.to_owned(),
        reason: reason.clone(),
    };
    let key = RecordKey::new(&obj.bucket, &obj.name);
    let generation = obj.generation.unwrap_or_default();
    let event = PipelineEvent::new(PipelineEventType::Failed, route, &key, generation, update);
    let published = match state
        .backends
        .publisher
        .publish(std::slice::from_ref(&event))
        .await
    {
        Err(e) if !e.is_transient() => {
            let stage_event = StageEvent {
                key,
                generation,
                event_id: format!("{route}-failure-written-directly"),
                update: event.data.update.clone(),
            };
            state.backends.records.apply(&stage_event).await.map(|_| ())
        }
        other => other,
    };
    match published {
        Ok(()) => HandlerError::Permanent(anyhow::anyhow!("{obj}: {reason}")),
        Err(e) => HandlerError::from(e),
    }
}

/// Ends a route's work on `obj`: a permanent failure is recorded ([`publish_failure`]) so
/// the record never stays `pending`; outcomes and transient errors pass through.
pub async fn recorded(
    state: &AppState,
    route: &str,
    obj: &ObjectRef,
    step: Step<Outcome>,
) -> Step<Outcome> {
    match step {
        Err(Halt::Failed(HandlerError::Permanent(e))) => {
            Err(publish_failure(state, route, obj, format!("{e:#}"))
                .await
                .into())
        }
        other => other,
    }
}
