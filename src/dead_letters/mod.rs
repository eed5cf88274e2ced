//! `image-pipeline dead-letters list|replay [--id ID]`: the events the pipeline gave up on.
//! Local profile: the local router's dead letters (`data/dead-letter/`). Replay starts the
//! server and local delivery (follow-up events must flow, as in `process`), runs each dead
//! letter's route in-process, and removes the file only when the route succeeded
//! (processed, duplicate or skipped); a retry or a rejection keeps it. Gcp profile
//! (`PIPELINE_PROFILE=gcp`): the dead-letter subscription `deploy/` creates (`gcp.rs`).
//! Owns the command's flow, not the handling.

pub mod gcp;
pub mod message;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use crate::backends::DeadLetter;
use crate::config::{EnvMap, Profile, Settings};
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

/// `list`: one line per dead letter, oldest first; `replay`: one line per replayed one.
pub fn run(settings: Settings, replay: bool, id: Option<String>) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        let on_gcp = settings.profile == Profile::Gcp;
        if replay {
            let replayed = match on_gcp {
                true => gcp::replay(settings, id.as_deref()).await?,
                false => replay_local(settings, id.as_deref()).await?,
            };
            for r in &replayed {
                println!("{}", r.line(on_gcp));
            }
            anyhow::Ok(replayed.iter().all(|r| r.removed))
        } else if on_gcp {
            list_gcp(&settings).await
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

/// Settings for the command: the local profile unless `PIPELINE_PROFILE=gcp`; either way
/// the in-process server listens on a free loopback port.
pub fn command_settings(env: &EnvMap) -> anyhow::Result<Settings> {
    if env.get("PIPELINE_PROFILE").map(String::as_str) != Some("gcp") {
        return crate::process::process_settings(env);
    }
    let mut env = env.clone();
    env.insert("PIPELINE_SERVER__HOST".to_owned(), "127.0.0.1".to_owned());
    env.insert("PIPELINE_SERVER__PORT".to_owned(), "0".to_owned());
    env.remove("PORT");
    let settings = Settings::load_from(&env)?;
    settings.validate()?;
    Ok(settings)
}

/// `list` in the gcp profile: one line per message, then where they were read from.
async fn list_gcp(settings: &Settings) -> anyhow::Result<bool> {
    let drained = gcp::list(settings).await?;
    for line in drained.lines() {
        println!("{line}");
    }
    eprintln!("image-pipeline: {}", drained.summary());
    Ok(true)
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
