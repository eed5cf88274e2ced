//! The idempotency ledger: the keys that mark one event, or one object generation, as
//! handled by one route, and the steps that read and write them through the `Records`
//! seam. A marked key makes the route answer `duplicate` (Eventarc redelivers at least once).

use super::{IncomingEvent, Outcome, Step, halt};
use crate::domain::ObjectRef;
use crate::error::{BackendContext, HandlerError};
use crate::state::AppState;

/// Ledger key for one delivery of one event to one route (`ce-source` + `ce-id`).
pub fn event_done_key(route: &str, event: &IncomingEvent) -> String {
    format!("{route}|event|{}|{}", event.ce.source, event.ce.id)
}

/// Ledger key for one object generation handled by one route (catches replays under new ids).
pub fn generation_done_key(route: &str, obj: &ObjectRef) -> String {
    format!(
        "{route}|generation|{}/{}#{}",
        obj.bucket,
        obj.name,
        obj.generation.unwrap_or_default()
    )
}

/// Halts with `duplicate` when any of the keys was marked done.
pub async fn not_done_yet(state: &AppState, keys: &[&str]) -> Step<()> {
    for key in keys {
        let done = state
            .backends
            .records
            .is_done(key)
            .await
            .context_for(|| "could not read the idempotency ledger".to_owned())?;
        if done {
            return halt(Outcome::duplicate(format!("already handled ({key})")));
        }
    }
    Ok(())
}

pub async fn mark_done(state: &AppState, keys: &[&str]) -> Result<(), HandlerError> {
    for key in keys {
        state
            .backends
            .records
            .mark_done(key)
            .await
            .context_for(|| "could not write the idempotency ledger".to_owned())?;
    }
    Ok(())
}
