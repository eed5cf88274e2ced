//! `dead-letters list|replay` in the gcp profile: the messages on the dead-letter
//! subscription `deploy/` creates (`pipeline.dead_letter_subscription`, deploy/config.sh
//! `DLQ_SUBSCRIPTION`). Owns the pull/lease/ack flow; reading a message is `message.rs`,
//! handling it is the dispatcher's (in-process, with the operator's credentials).
//!
//! Both commands first drain the subscription into memory, holding every message's lease,
//! so no message is seen twice and the pulls end: at most [`MAX_PULLS`] pulls of
//! [`PULL_BATCH`], stopping at the first pull that brings nothing new. `list` then releases
//! them all (`modifyAckDeadline` 0, so they are available again at once instead of after
//! the lease). `replay` runs each selected one and acknowledges it only after the route it
//! was meant for ran and succeeded (processed, duplicate or skipped), or when its type is
//! one no route understands (dropped, with the reason); anything else is released for a
//! later replay and reported, as is every message not selected by `--id`. While it
//! replays, it renews the leases it still holds every [`RENEW_EVERY`].

use super::Replayed;
use super::message::GcpDeadLetter;
use crate::backends::gcp::{GcpContext, PubSubSubscriber, ReceivedMessage};
use crate::config::Settings;
use crate::domain::WireOutcome;
use crate::routes::RouteName;
use crate::startup::{InProcess, Interrupt};
use anyhow::Context as _;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

/// Messages asked for per pull.
pub const PULL_BATCH: u32 = 100;
/// Most pulls per command: dead letters beyond `MAX_PULLS * PULL_BATCH` wait for the next run.
pub const MAX_PULLS: usize = 20;
/// Lease while the command holds the messages (Pub/Sub's maximum is 600 s). A replay of one
/// image takes seconds; the lease only has to outlast the whole run's handling.
const LEASE_SECS: u32 = 600;
/// How often a replay renews the leases it holds: well inside [`LEASE_SECS`].
const RENEW_EVERY: Duration = Duration::from_secs(LEASE_SECS as u64 / 3);

/// What the subscription held: the readable letters and what could not be read.
pub struct Drained {
    pub subscription: String,
    pub letters: Vec<GcpDeadLetter>,
    /// (ack id, message id, why it cannot be replayed).
    pub unreadable: Vec<(String, String, String)>,
    /// Every ack id held (re-pulled duplicates included), to release at the end.
    held: Vec<String>,
}

impl Drained {
    /// `list`'s lines: one per dead letter, then one per unreadable message.
    pub fn lines(&self) -> Vec<String> {
        let letters = self.letters.iter().map(|l| {
            let attempts = l.attempts.map_or("?".to_owned(), |n| n.to_string());
            format!(
                "{}  {}  {}  {attempts} attempts  {}  from {}",
                l.event_id, l.dead_at, l.path, l.event_type, l.source_subscription
            )
        });
        let unreadable = self
            .unreadable
            .iter()
            .map(|(_, message_id, why)| format!("{message_id}  unreadable: {why}"));
        letters.chain(unreadable).collect()
    }

    /// The closing line.
    pub fn summary(&self) -> String {
        format!(
            "{} dead letter(s) on {} (left there)",
            self.letters.len() + self.unreadable.len(),
            self.subscription
        )
    }
}

async fn subscriber(settings: &Settings) -> anyhow::Result<(PubSubSubscriber, String)> {
    let ctx = GcpContext::new(&settings.gcp).await?;
    let project = ctx.require_project()?.to_owned();
    let subscriber = PubSubSubscriber::new(ctx, &settings.pipeline.dead_letter_subscription);
    Ok((subscriber, project))
}

/// Pulls everything there is (bounded), leasing it for [`LEASE_SECS`].
async fn drain(subscriber: &PubSubSubscriber, project: &str) -> anyhow::Result<Drained> {
    let name = subscriber.name()?;
    // Every route the binary has, enabled or not: a letter of a disabled route is kept for
    // that route, never handed to the others through `/`.
    let routes = RouteName::ALL.map(RouteName::as_str);
    let mut drained = Drained {
        subscription: name.clone(),
        letters: Vec::new(),
        unreadable: Vec::new(),
        held: Vec::new(),
    };
    let mut seen = HashSet::new();
    for _ in 0..MAX_PULLS {
        let pulled: Vec<ReceivedMessage> = match subscriber.pull(PULL_BATCH).await {
            Ok(pulled) => pulled,
            Err(e) => {
                let error = anyhow::Error::new(e).context(format!("could not pull from {name}"));
                return Err(give_back(subscriber, &drained.held, error).await);
            }
        };
        let ack_ids: Vec<String> = pulled.iter().map(|m| m.ack_id.clone()).collect();
        drained.held.extend(ack_ids.iter().cloned());
        if !ack_ids.is_empty()
            && let Err(e) = subscriber.modify_ack_deadline(&ack_ids, LEASE_SECS).await
        {
            return Err(give_back(subscriber, &drained.held, e.into()).await);
        }
        let mut new = 0;
        for received in pulled {
            if !seen.insert(received.message.message_id.clone()) {
                continue;
            }
            new += 1;
            match GcpDeadLetter::read(&received, project, &routes) {
                Ok(letter) => drained.letters.push(letter),
                Err(why) => {
                    drained
                        .unreadable
                        .push((received.ack_id, received.message.message_id, why))
                }
            }
        }
        if new == 0 {
            break;
        }
    }
    Ok(drained)
}

/// `list`: every dead letter on the subscription, released again afterwards.
pub async fn list(settings: &Settings) -> anyhow::Result<Drained> {
    let (subscriber, project) = subscriber(settings).await?;
    let drained = drain(&subscriber, &project).await?;
    release(&subscriber, &drained.held).await?;
    Ok(drained)
}

/// `replay`: runs the route of every dead letter (or those whose CloudEvent id is `id`) and
/// acknowledges each that succeeded; everything else is released.
pub async fn replay(settings: Settings, id: Option<&str>) -> anyhow::Result<Vec<Replayed>> {
    replay_until(settings, id, &Interrupt::never()).await
}

/// [`replay`], replaying no further letter once `interrupt` is raised (the rest are
/// released).
pub async fn replay_until(
    settings: Settings,
    id: Option<&str>,
    interrupt: &Interrupt,
) -> anyhow::Result<Vec<Replayed>> {
    replay_renewing(settings, id, interrupt, RENEW_EVERY).await
}

/// [`replay_until`], renewing the leases of the letters still held every `renew_every`
/// while it replays (so a long replay does not hand them to another puller).
pub async fn replay_renewing(
    settings: Settings,
    id: Option<&str>,
    interrupt: &Interrupt,
    renew_every: Duration,
) -> anyhow::Result<Vec<Replayed>> {
    let (subscriber, project) = subscriber(&settings).await?;
    let drained = drain(&subscriber, &project).await?;
    let chosen: Vec<&GcpDeadLetter> = drained
        .letters
        .iter()
        .filter(|l| id.is_none_or(|id| l.event_id == id))
        .collect();
    if let (Some(id), true) = (id, chosen.is_empty()) {
        release(&subscriber, &drained.held).await?;
        anyhow::bail!(
            "no dead letter with CloudEvent id {id} on {}",
            drained.subscription
        );
    }
    let running = match InProcess::start(settings).await {
        Ok(running) => running,
        Err(e) => return Err(give_back(&subscriber, &drained.held, e).await),
    };
    let held = Mutex::new(drained.held.clone());
    let replaying = replay_chosen(&running, &subscriber, &chosen, &held, interrupt);
    let mut replayed = tokio::select! {
        replayed = replaying => replayed,
        never = keep_leases(&subscriber, &held, renew_every) => match never {},
    };
    if id.is_none() {
        replayed.extend(
            drained
                .unreadable
                .iter()
                .map(|(_, message_id, why)| Replayed {
                    delivery_id: message_id.clone(),
                    path: String::new(),
                    outcome: WireOutcome::Rejected,
                    detail: why.clone(),
                    removed: false,
                }),
        );
    }
    running.stop().await;
    let rest = held.into_inner().unwrap_or_default();
    release(&subscriber, &rest).await?;
    Ok(replayed)
}

/// Replays the chosen letters in turn; an acknowledged one leaves `held`.
async fn replay_chosen(
    running: &InProcess,
    subscriber: &PubSubSubscriber,
    chosen: &[&GcpDeadLetter],
    held: &Mutex<Vec<String>>,
    interrupt: &Interrupt,
) -> Vec<Replayed> {
    let mut replayed = Vec::new();
    for letter in chosen {
        if interrupt.is_raised() {
            break;
        }
        let result = replay_one(running, subscriber, letter).await;
        if result.removed
            && let Ok(mut held) = held.lock()
        {
            held.retain(|ack_id| *ack_id != letter.ack_id);
        }
        replayed.push(result);
    }
    replayed
}

/// Every `renew_every`, extends the lease of what is still held to [`LEASE_SECS`]. A failed
/// renewal is logged and tried again next time (the lease may still hold).
async fn keep_leases(
    subscriber: &PubSubSubscriber,
    held: &Mutex<Vec<String>>,
    renew_every: Duration,
) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(renew_every).await;
        let ack_ids = held.lock().map(|h| h.clone()).unwrap_or_default();
        if ack_ids.is_empty() {
            continue;
        }
        if let Err(e) = subscriber.modify_ack_deadline(&ack_ids, LEASE_SECS).await {
            tracing::warn!("could not renew the dead letters' leases: {e}");
        }
    }
}

/// Runs one letter's route; acknowledges it if the route succeeded.
async fn replay_one(
    running: &InProcess,
    subscriber: &PubSubSubscriber,
    letter: &GcpDeadLetter,
) -> Replayed {
    let mut result = Replayed {
        delivery_id: letter.event_id.clone(),
        path: letter.path.clone(),
        outcome: WireOutcome::Rejected,
        detail: String::new(),
        removed: false,
    };
    let response = super::replay_event(&running.state, &letter.path, letter.event()).await;
    result.outcome = response.outcome;
    let (succeeded, detail) = super::disposition(&response);
    result.detail = detail;
    if succeeded {
        match subscriber
            .acknowledge(std::slice::from_ref(&letter.ack_id))
            .await
        {
            Ok(()) => result.removed = true,
            Err(e) => {
                result.detail = format!(
                    "{} (but the ack failed: {e}; the next replay will find it done)",
                    result.detail
                );
            }
        }
    }
    result
}

/// On the way out with `error`: what is held goes back at once, not after the lease.
async fn give_back(
    subscriber: &PubSubSubscriber,
    held: &[String],
    error: anyhow::Error,
) -> anyhow::Error {
    match release(subscriber, held).await {
        Ok(()) => error,
        Err(also) => error.context(format!("{also:#}")),
    }
}

/// Releases leases (a nack), so the messages can be pulled again at once.
async fn release(subscriber: &PubSubSubscriber, ack_ids: &[String]) -> anyhow::Result<()> {
    if ack_ids.is_empty() {
        return Ok(());
    }
    subscriber
        .modify_ack_deadline(ack_ids, 0)
        .await
        .context("could not release the dead letters' leases (they return after 600 s)")
}
