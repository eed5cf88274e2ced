//! `image-pipeline dead-letters list|replay [--id ID]` for the local profile: the events
//! the local router gave up on (`data/dead-letter/`). Replay starts the server and local
//! delivery (follow-up events must flow, as in `process`), runs each dead letter's route
//! in-process, and removes the file only when the route succeeded (processed, duplicate or
//! skipped); a retry or a rejection keeps it. Owns the command's flow, not the handling.

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use crate::backends::DeadLetter;
use crate::config::Settings;
use crate::router::{self, WireOutcome};
use crate::startup::InProcess;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use anyhow::Context;
use std::process::ExitCode;
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

/// `list`: one line per dead letter, oldest first; `replay`: one line per replayed one.
pub fn run(settings: Settings, replay: bool, id: Option<String>) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        if replay {
            let replayed = replay_local(settings, id.as_deref()).await?;
            for r in &replayed {
                let kept = if r.removed { "removed" } else { "kept" };
                let outcome = serde_json::to_value(r.outcome).unwrap_or_default();
                println!(
                    "{}  {}  {}  {kept}: {}",
                    r.delivery_id,
                    r.path,
                    outcome.as_str().unwrap_or_default(),
                    r.detail
                );
            }
            anyhow::Ok(replayed.iter().all(|r| r.removed))
        } else {
            let letters = list_local(&settings).await?;
            for l in &letters {
                println!(
                    "{}  {}  {}  {} attempts  {}  {}",
                    l.delivery_id, l.dead_at, l.path, l.attempts, l.event_type, l.last_error
                );
            }
            eprintln!("image-pipeline: {} dead letter(s)", letters.len());
            anyhow::Ok(true)
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("image-pipeline: {e:#}");
            ExitCode::FAILURE
        }
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
        let (headers, body) = request_of(&letter)?;
        let response = router::handle_in_process(&state, &letter.path, &headers, body).await;
        let succeeded = matches!(
            response.outcome,
            WireOutcome::Processed | WireOutcome::Duplicate | WireOutcome::Skipped
        );
        let removed = succeeded && local.remove_dead_letter(&letter.delivery_id)?;
        replayed.push(Replayed {
            delivery_id: letter.delivery_id,
            path: letter.path,
            outcome: response.outcome,
            detail: response.detail,
            removed,
        });
    }
    local.wait_idle(IDLE_TIMEOUT).await?;
    local.stop();
    running.stop().await;
    Ok(replayed)
}

/// The request the router sent, from the letter's headers and body.
fn request_of(letter: &DeadLetter) -> anyhow::Result<(HeaderMap, bytes::Bytes)> {
    let mut headers = HeaderMap::new();
    for (name, value) in &letter.headers {
        headers.insert(
            HeaderName::try_from(name.as_str())
                .with_context(|| format!("dead letter {}: header {name}", letter.delivery_id))?,
            HeaderValue::try_from(value.as_str())
                .with_context(|| format!("dead letter {}: header {name}", letter.delivery_id))?,
        );
    }
    // The body was kept as JSON when it was JSON, else as a string of its text.
    let body = match &letter.body {
        serde_json::Value::String(text) => text.clone().into_bytes(),
        other => serde_json::to_vec(other)?,
    };
    Ok((headers, bytes::Bytes::from(body)))
}
