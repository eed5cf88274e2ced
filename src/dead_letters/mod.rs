//! `image-pipeline dead-letters list|replay [--id ID]`: the events the pipeline gave up on.
//! Local profile: the local router's dead letters (`data/dead-letter/`). Replay starts the
//! server and local delivery (follow-up events must flow, as in `process`), hands each dead
//! letter's event (a CloudEvent value) to the dispatcher for the route it was meant for,
//! and removes the file only when that route ran and succeeded (processed, duplicate or
//! skipped); a retry, a rejection, or no route to run it (not enabled) keeps it. A letter
//! of a type no route understands is dropped, with the reason: it could never succeed
//! (HTTP answers such an event `skipped` too). Ctrl-C stops before the next letter. Gcp profile
//! (`PIPELINE_PROFILE=gcp`): the dead-letter subscription `deploy/` creates (`gcp.rs`).
//! Owns the job's flow, not the handling (`dispatch`) nor the printing (`commands`).

pub mod gcp;
pub mod message;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use crate::backends::DeadLetter;
use crate::cloudevent::CloudEvent;
use crate::config::Settings;
use crate::dispatch::{self, EventResponse, NotRun, Target};
use crate::domain::WireOutcome;
use crate::startup::{InProcess, Interrupt};
use crate::state::AppState;
use anyhow::Context;
use std::time::Duration;

/// Longest wait for the follow-up events of the replayed ones.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// What replaying one dead letter did.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub delivery_id: String,
    pub path: String,
    pub outcome: WireOutcome,
    pub detail: String,
    /// The file was removed (the route succeeded).
    pub removed: bool,
}

impl Replayed {
    /// The line `replay` prints for it.
    pub fn line(&self, on_gcp: bool) -> String {
        let kept = match (self.removed, on_gcp) {
            (true, false) => "removed",
            (false, false) => "kept",
            (true, true) => "acknowledged",
            (false, true) => "released (still dead-lettered)",
        };
        let outcome = serde_json::to_value(self.outcome).unwrap_or_default();
        format!(
            "{}  {}  {}  {kept}: {}",
            self.delivery_id,
            self.path,
            outcome.as_str().unwrap_or_default(),
            self.detail
        )
    }
}

/// The dead letters of the local data dir, oldest first.
pub async fn list_local(settings: &Settings) -> anyhow::Result<Vec<DeadLetter>> {
    let (_, local) = crate::backends::Backends::from_settings(settings).await?;
    let local = local.context("dead letters are the local profile's (storage.backend = local)")?;
    Ok(local.dead_letters()?)
}

/// Replays every dead letter (or the one with `id`), then waits for their follow-ups.
pub async fn replay_local(settings: Settings, id: Option<&str>) -> anyhow::Result<Vec<Replayed>> {
    replay_local_until(settings, id, &Interrupt::never()).await
}

/// [`replay_local`], replaying no further letter once `interrupt` is raised.
pub async fn replay_local_until(
    settings: Settings,
    id: Option<&str>,
    interrupt: &Interrupt,
) -> anyhow::Result<Vec<Replayed>> {
    let running = InProcess::start(settings).await?;
    let state = running.state.clone();
    let local = state
        .local
        .clone()
        .context("dead letters are the local profile's (storage.backend = local)")?;
    let letters: Vec<DeadLetter> = local
        .dead_letters()?
        .into_iter()
        .filter(|l| id.is_none_or(|id| l.delivery_id == id))
        .collect();
    if let (Some(id), true) = (id, letters.is_empty()) {
        anyhow::bail!(
            "no dead letter {id} in {}",
            local.dead_letter_dir().display()
        );
    }
    let mut replayed = Vec::new();
    for letter in letters {
        if interrupt.is_raised() {
            break;
        }
        let response = replay_event(&state, &letter.path, event_of(&letter)).await;
        let (remove, detail) = disposition(&response);
        let removed = remove && local.remove_dead_letter(&letter.delivery_id)?;
        replayed.push(Replayed {
            delivery_id: letter.delivery_id,
            path: letter.path,
            outcome: response.outcome,
            detail,
            removed,
        });
    }
    interrupt
        .settle(&local, IDLE_TIMEOUT, running.drain())
        .await?;
    local.stop();
    running.stop().await;
    Ok(replayed)
}

/// The event the router sent, from the letter's headers and body.
fn event_of(letter: &DeadLetter) -> Result<CloudEvent, String> {
    // The body was kept as JSON when it was JSON, else as a string of its text.
    let body = match &letter.body {
        serde_json::Value::String(text) => text.clone().into_bytes(),
        other => serde_json::to_vec(other).map_err(|e| e.to_string())?,
    };
    CloudEvent::from_header_pairs(&letter.headers, bytes::Bytes::from(body))
        .map_err(|e| format!("malformed CloudEvent: {e}"))
}

/// Runs a letter's event on the route it was meant for: its path (`/resize`), `/` meaning
/// every route that takes it. A path this binary has no route for runs nothing (kept).
pub(crate) async fn replay_event(
    state: &AppState,
    path: &str,
    received: Result<CloudEvent, String>,
) -> EventResponse {
    match Target::from_path(path) {
        Some(target) => dispatch::handle_received(state, received, target, None).await,
        None => EventResponse::not_run(
            path,
            NotRun::NoRoute,
            format!("this binary has no route {path}"),
            true,
        ),
    }
}

/// Whether replay removes (or acknowledges) a letter, and the detail it prints. Removed
/// only when the route it was meant for ran and succeeded; dropped when its type is one no
/// route of this binary handles (it could never succeed); kept otherwise.
pub(crate) fn disposition(response: &EventResponse) -> (bool, String) {
    match response.not_run {
        _ if response.route_succeeded() => (true, response.detail.clone()),
        Some(NotRun::UnknownType) => (
            true,
            format!("dropped, no replay can handle it: {}", response.detail),
        ),
        _ => (false, response.detail.clone()),
    }
}
