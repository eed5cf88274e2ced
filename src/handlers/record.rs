//! The `record` route (the database updater): keeps one record per source image. Storage
//! `finalized` creates it (`pending`), each `image.*` pipeline event merges that stage's
//! fields, `deleted` marks it deleted. Merging is order-free and repeat-safe (domain::record).

use super::common::{self, already_done, mark_done, sniff_object};
use super::{HandlerResult, IncomingEvent, Outcome, Route};
use crate::config::Settings;
use crate::domain::pipeline_event::{EVENT_TYPE_ATTRIBUTE, PipelineEventData};
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::{PipelineEventType, RecordKey, StageUpdate};
use crate::error::{BackendContext, Classify, HandlerError};
use crate::events::EventData;
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED};
use crate::state::AppState;
use futures_util::future::BoxFuture;

pub const NAME: &str = "record";

pub const ROUTE: Route = Route {
    name: NAME,
    accepts,
    handle,
};

fn accepts(event: &IncomingEvent, _settings: &Settings) -> bool {
    match event.ce.ty.as_str() {
        STORAGE_FINALIZED | STORAGE_DELETED => true,
        PUBSUB_PUBLISHED => pipeline_event_type(event).is_some(),
        _ => false,
    }
}

/// The `eventType` attribute of a pipeline event carried by Pub/Sub, if it is one of ours.
pub fn pipeline_event_type(event: &IncomingEvent) -> Option<PipelineEventType> {
    match &event.data {
        EventData::PubSub(data) => data
            .message
            .attributes
            .get(EVENT_TYPE_ATTRIBUTE)
            .and_then(|t| PipelineEventType::parse(t)),
        _ => None,
    }
}

/// The pipeline event data carried by a Pub/Sub event.
pub fn pipeline_event_data(event: &IncomingEvent) -> Result<PipelineEventData, HandlerError> {
    let EventData::PubSub(data) = &event.data else {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "not a Pub/Sub event"
        )));
    };
    let bytes = data
        .decoded_data()
        .permanent("the Pub/Sub message data is not valid base64")?;
    serde_json::from_slice(&bytes).permanent("the pipeline event data is not the expected JSON")
}

fn handle<'a>(event: &'a IncomingEvent, state: &'a AppState) -> BoxFuture<'a, HandlerResult> {
    Box::pin(async move {
        let stage_event = match stage_event(event, state).await? {
            Ok(stage_event) => stage_event,
            Err(outcome) => return Ok(outcome),
        };
        let done_key = common::event_done_key(NAME, event);
        if let Some(duplicate) = already_done(state, &[&done_key]).await? {
            return Ok(duplicate);
        }
        let stage = stage_event.update.stage_name();
        let key = stage_event.key.clone();
        let result = state
            .backends
            .records
            .apply(&stage_event)
            .await
            .context_for(|| {
                format!(
                    "could not update the record of gs://{}/{}",
                    key.bucket, key.name
                )
            })?;
        mark_done(state, &[&done_key]).await?;
        Ok(match result {
            ApplyResult::Applied => Outcome::processed(format!(
                "record of gs://{}/{} updated with stage {stage}",
                key.bucket, key.name
            )),
            ApplyResult::Stale => Outcome::skipped(format!(
                "stage {stage} for generation {} of gs://{}/{} is older than the record",
                stage_event.generation, key.bucket, key.name
            )),
        })
    })
}

/// The update an event carries, or the outcome when there is nothing to record.
async fn stage_event(
    event: &IncomingEvent,
    state: &AppState,
) -> Result<Result<StageEvent, Outcome>, HandlerError> {
    let event_id = event.ce.id.clone();
    if let Some((data, obj)) = common::storage_object(event) {
        if let Some(reason) = common::derived_reason(data, &state.settings) {
            return Ok(Err(Outcome::skipped(reason)));
        }
        let update = if event.ce.ty == STORAGE_DELETED {
            StageUpdate::Deleted
        } else {
            match sniff_object(state, &obj).await? {
                Err(gone) => return Ok(Err(gone)),
                Ok(None) => {
                    return Ok(Err(Outcome::skipped_warn(format!(
                        "{obj} is not an image; no record is kept"
                    ))));
                }
                Ok(Some(_)) => StageUpdate::Uploaded {
                    content_type: data.content_type.clone(),
                    size_bytes: data.size.unwrap_or_default(),
                },
            }
        };
        return Ok(Ok(StageEvent {
            key: RecordKey::new(&obj.bucket, &obj.name),
            generation: obj.generation.unwrap_or_default(),
            event_id,
            update,
        }));
    }
    let data = pipeline_event_data(event)?;
    Ok(Ok(StageEvent {
        key: RecordKey::new(&data.bucket, &data.name),
        generation: data.generation,
        event_id,
        update: data.update,
    }))
}
