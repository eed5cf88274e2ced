//! `GET /console/queue`: what the pipeline is doing: route runs in flight, deliveries still
//! queued, recent runs that asked for a retry, and every dead letter with its last error and
//! a Replay button. `POST /console/dead-letters/{id}/replay` replays one through
//! `dispatch::replay::replay_letters`, the very code of `dead-letters replay --id`, in this server.

use super::events::events_table;
use super::layout::{frame, html_response, image_url};
use super::{Authorized, Loopback};
use crate::backends::DeadLetter;
use crate::dispatch::replay;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

/// Recent retries shown.
const RETRIES_SHOWN: usize = 20;

pub(crate) async fn page(_: Loopback, state: web::Data<AppState>) -> HttpResponse {
    let body = html! {
        h1 { "Queue and dead letters" }
        p #replay-result role="status" {}
        div #live data-poll="/console/queue/live" { (live_markup(&state).await) }
    };
    html_response(frame("Queue", body))
}

pub(crate) async fn live(_: Loopback, state: web::Data<AppState>) -> HttpResponse {
    html_response(live_markup(&state).await)
}

pub(crate) async fn replay(
    _: Authorized,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let id = id.into_inner();
    // In this server, through the code `dead-letters replay --id` runs.
    let Some(local) = state.local.clone() else {
        return HttpResponse::NotFound().finish();
    };
    match replay::replay_letters(&state, local.as_ref(), Some(&id), || false).await {
        Ok(replayed) => {
            let removed = replayed.iter().all(|r| r.removed);
            let lines: Vec<String> = replayed.iter().map(|r| r.line(false)).collect();
            HttpResponse::Ok().json(serde_json::json!({"removed": removed, "lines": lines}))
        }
        Err(e) => {
            tracing::warn!(delivery_id = id, "Console replay failed: {e:#}");
            HttpResponse::UnprocessableEntity().json(serde_json::json!({"error": format!("{e:#}")}))
        }
    }
}

async fn live_markup(state: &AppState) -> Markup {
    let in_flight = state.journal.in_flight();
    let retries = state.journal.recent_retries(RETRIES_SHOWN);
    let (pending, letters) = match &state.local {
        Some(local) => (
            local.pending().await.map_err(|e| e.to_string()),
            local.dead_letters().map_err(|e| e.to_string()),
        ),
        None => {
            let absent = || "the local runtime is not running".to_owned();
            (Err(absent()), Err(absent()))
        }
    };
    html! {
        section #queue {
            h2 { "Queue" }
            p {
                @match &pending {
                    Ok(n) => { strong #pending { (n) } " deliveries queued or in flight \
                               (every process on this data dir)." }
                    Err(e) => span.error { "The queue could not be read: " (e) },
                }
            }
            h3 { "In flight in this process" }
            (events_table(&in_flight, "Nothing is running."))
            h3 { "Recent runs that asked for a retry" }
            (events_table(&retries, "None: no run asked for a retry."))
        }
        section #dead-letters {
            h2 { "Dead letters" }
            @match &letters {
                Ok(letters) => (dead_letter_table(letters)),
                Err(e) => p.error { "The dead letters could not be read: " (e) },
            }
        }
    }
}

fn dead_letter_table(letters: &[DeadLetter]) -> Markup {
    if letters.is_empty() {
        return html! { p { "No dead letters." } };
    }
    html! {
        table.dead-letters {
            thead { tr { th { "Dead since" } th { "Event" } th { "Object" } th { "Route" }
                         th { "Attempts" } th { "Last error" } th {} } }
            tbody {
                @for l in letters {
                    tr data-delivery=(l.delivery_id) {
                        td { time { (l.dead_at) } }
                        td { (l.event_type) br; small { (l.event_id) } }
                        td { @if let Some(name) = l.body.get("name").and_then(|n| n.as_str()) {
                            a href=(image_url(name)) { (name) }
                        } }
                        td { (l.path) }
                        td { (l.attempts) }
                        td.detail { (l.last_error) }
                        td { button.replay type="button" data-replay=(l.delivery_id) { "Replay" } }
                    }
                }
            }
        }
    }
}
