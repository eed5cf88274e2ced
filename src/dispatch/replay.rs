//! Replaying dead letters through the dispatcher, the one code path for `dead-letters
//! replay` (its own in-process server) and the console's Replay button (the server it runs
//! in): a letter's event goes to the route it was meant for, and the letter is removed only
//! when that route ran and succeeded. Owns the rule, not the job around it (`dead_letters`).

use crate::backends::{DeadLetter, LocalControl};
use crate::cloudevent::CloudEvent;
use crate::dispatch::{self, EventResponse, NotRun, Target};
use crate::domain::WireOutcome;
use crate::state::AppState;

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

/// Replays every local dead letter (or the one with `id`) on `state`'s routes, oldest first,
/// until `stop()` says so; each is removed only when its route succeeded ([`disposition`]).
pub async fn replay_letters(
    state: &AppState,
    local: &dyn LocalControl,
    id: Option<&str>,
    stop: impl Fn() -> bool,
) -> anyhow::Result<Vec<Replayed>> {
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
        if stop() {
            break;
        }
        let response = replay_event(state, &letter.path, event_of(&letter)).await;
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
