//! The `record` route (the database updater): keeps one record per source image. Storage
//! `finalized` creates it (`pending`), each `image.*` pipeline event merges that stage's
//! fields, `deleted` marks it deleted. Merging is order-free and repeat-safe (domain::record).

use super::guard::{self, sniff_image};
use super::ledger::{self, mark_done, not_done_yet};
use super::{HandlerResult, IncomingEvent, Outcome, Route, Step, finish};
use crate::config::Settings;
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::{RecordKey, StageUpdate};
use crate::error::BackendContext;
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED};
use crate::routes;
use crate::state::AppState;
use futures_util::future::BoxFuture;

pub const NAME: &str = routes::RECORD.name;

pub const ROUTE: Route = Route {
    spec: routes::RECORD,
    accepts,
    handle,
    derive: None,
};

fn accepts(event: &IncomingEvent, _settings: &Settings) -> bool {
    match event.ce.ty.as_str() {
        STORAGE_FINALIZED | STORAGE_DELETED => true,
        PUBSUB_PUBLISHED => event.pipeline_event_type().is_some(),
        _ => false,
    }
}

fn handle<'a>(event: &'a IncomingEvent, state: &'a AppState) -> BoxFuture<'a, HandlerResult> {
    Box::pin(async move { finish(record(event, state).await) })
}

async fn record(event: &IncomingEvent, state: &AppState) -> Step<Outcome> {
    let stage_event = stage_event(event, state).await?;
    let done_key = ledger::event_done_key(NAME, event);
    not_done_yet(state, &[&done_key]).await?;
    let stage = stage_event.update.stage_name();
    let key = &stage_event.key;
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
}

/// The update an event carries, or the outcome when there is nothing to record.
async fn stage_event(event: &IncomingEvent, state: &AppState) -> Step<StageEvent> {
    let event_id = event.ce.id.clone();
    let Some((data, obj)) = guard::source_object(event, &state.derived)? else {
        let data = event.pipeline_event_data()?;
        return Ok(StageEvent {
            key: RecordKey::new(&data.bucket, &data.name),
            generation: data.generation,
            event_id,
            update: data.update,
        });
    };
    let update = if event.ce.ty == STORAGE_DELETED {
        StageUpdate::Deleted
    } else {
        sniff_image(state, &obj, || {
            format!("{obj} is not an image; no record is kept")
        })
        .await?;
        StageUpdate::Uploaded {
            content_type: data.content_type.clone(),
            size_bytes: data.size.unwrap_or_default(),
        }
    };
    Ok(StageEvent {
        key: RecordKey::new(&obj.bucket, &obj.name),
        generation: obj.generation.unwrap_or_default(),
        event_id,
        update,
    })
}
