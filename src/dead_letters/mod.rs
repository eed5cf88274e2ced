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

pub use crate::dispatch::replay::Replayed;
pub(crate) use crate::dispatch::replay::{disposition, replay_event};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use crate::backends::DeadLetter;
use crate::config::Settings;
use crate::dispatch::replay;
use crate::startup::{InProcess, Interrupt};
use anyhow::Context;
use std::time::Duration;

/// Longest wait for the follow-up events of the replayed ones.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

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
    let replayed =
        replay::replay_letters(&state, local.as_ref(), id, || interrupt.is_raised()).await?;
    interrupt
        .settle(&local, IDLE_TIMEOUT, running.drain())
        .await?;
    local.stop();
    running.stop().await;
    Ok(replayed)
}
