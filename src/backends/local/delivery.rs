//! The delivery loop, Eventarc's stand-in: claims due deliveries from the queue, POSTs each as
//! a binary-mode CloudEvent to `base_url + trigger path`, deletes it on 2xx, and on a non-2xx
//! answer or a timeout reschedules it with exponential backoff (plus a little jitter), until
//! `delivery_max_attempts`, after which it goes to `dead-letter/<delivery id>.json`. The same
//! delivery keeps its event id on every attempt, so handlers can spot repeats. Stopping
//! waits for the sends in flight (each bounded by the send timeout) before the runner
//! retires, so their leases, and the heartbeat that keeps them, last until they end.

use super::db::{self, sql_error};
use super::heartbeat::{self, HEARTBEAT_EVERY_MS};
use super::{DeliveryConfig, Shared, queue, records};
use crate::backends::BackendError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Deliveries sent at once by one process.
const MAX_IN_FLIGHT: u32 = 8;
/// How often the loop looks at the queue when nothing woke it.
const POLL: Duration = Duration::from_millis(100);
/// How often the loop prunes expired ledger entries (also done when a data dir is opened).
const LEDGER_PRUNE_EVERY_MS: i64 = 3_600_000;
/// Longest answer body kept as the error of a failed attempt.
const MAX_ERROR_CHARS: usize = 500;

/// A delivery that gave up, as written to `dead-letter/<delivery id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub delivery_id: String,
    pub event_id: String,
    pub event_type: String,
    /// The trigger's destination path.
    pub path: String,
    pub attempts: u32,
    pub last_error: String,
    pub dead_at: String,
    /// The `ce-*` and content-type headers, as sent.
    pub headers: Vec<(String, String)>,
    /// The event data: JSON when it is JSON, else a string of lossy UTF-8.
    pub body: serde_json::Value,
}

/// The backoff before attempt `attempts + 1`: `initial` doubled per failed attempt, capped.
pub(crate) fn backoff_ms(config: &DeliveryConfig, attempts: u32) -> u64 {
    let doublings = attempts.saturating_sub(1).min(32);
    config
        .initial_backoff_ms
        .saturating_mul(1u64 << doublings)
        .min(config.max_backoff_ms)
}

/// Runs until `stop` is set. Leases last the send timeout plus a margin.
pub(crate) async fn run(
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    runner_id: String,
    base_url: String,
) {
    let Some((client, heartbeat)) = start(&shared, &runner_id) else {
        return;
    };
    let timeout_ms = i64::try_from(shared.delivery.timeout_secs.saturating_mul(1000));
    let lease_ms = timeout_ms.unwrap_or(i64::MAX / 4) + 5_000;
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT as usize));
    let mut last_heartbeat_ms = 0;
    let mut last_prune_ms = 0;
    while !stop.load(Ordering::SeqCst) {
        let now = db::now_ms();
        if now - last_prune_ms >= LEDGER_PRUNE_EVERY_MS {
            last_prune_ms = now;
            prune_ledger(&shared).await;
        }
        let heartbeat = now - last_heartbeat_ms >= HEARTBEAT_EVERY_MS;
        let round = Claim {
            runner: runner_id.clone(),
            now,
            heartbeat,
            free: permits.available_permits(),
            lease_ms,
        };
        let claimed = claim_due(&shared, round).await;
        if heartbeat {
            last_heartbeat_ms = now;
        }
        match claimed {
            Ok(claimed) => {
                for delivery in claimed {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        break;
                    };
                    let (shared, client, base_url) =
                        (shared.clone(), client.clone(), base_url.clone());
                    tokio::spawn(async move {
                        send_one(&shared, &client, &base_url, delivery).await;
                        drop(permit);
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "Local event delivery will retry: {e}"),
        }
        tokio::select! {
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
    // The sends in flight keep their leases until they end; past the lease they are free anyway.
    let drained = permits.acquire_many(MAX_IN_FLIGHT);
    let lease = Duration::from_millis(lease_ms.unsigned_abs());
    let _ = tokio::time::timeout(lease, drained).await;
    drop(heartbeat);
    retire(&shared, runner_id).await;
}

/// Stops the heartbeat thread when dropped: once the sends in flight drained, or when the
/// loop's task is dropped with its runtime (nothing of this runner is in flight then).
struct HeartbeatStop(Arc<AtomicBool>);

impl Drop for HeartbeatStop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The HTTP client and the heartbeat thread; `None` (logged) when either cannot start.
fn start(shared: &Shared, runner_id: &str) -> Option<(reqwest::Client, HeartbeatStop)> {
    crate::backends::install_tls_provider();
    let timeout = Duration::from_secs(shared.delivery.timeout_secs);
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "Local event delivery cannot start: {e}");
            return None;
        }
    };
    let db_path = shared.data_dir.join(db::DB_FILE);
    let heartbeat_stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = heartbeat::spawn(&db_path, runner_id.to_owned(), heartbeat_stop.clone()) {
        tracing::error!(error = %e, "Local event delivery cannot start its heartbeat: {e}");
        return None;
    }
    Some((client, HeartbeatStop(heartbeat_stop)))
}

/// One polling round's claim: who claims, when, and how many deliveries it can take.
struct Claim {
    runner: String,
    now: i64,
    heartbeat: bool,
    free: usize,
    lease_ms: i64,
}

/// Claims up to `free` due deliveries (none when nothing is due), beating the heartbeat first.
async fn claim_due(shared: &Shared, round: Claim) -> Result<Vec<queue::Claimed>, BackendError> {
    let Claim {
        runner,
        now,
        heartbeat,
        free,
        lease_ms,
    } = round;
    shared
        .db
        .call("could not claim queued events".to_owned(), move |conn| {
            let sql = sql_error("could not claim queued events");
            // Also beaten by the heartbeat thread; this one makes it fresh before a claim.
            if heartbeat {
                queue::heartbeat(conn, &runner, now).map_err(sql)?;
            }
            // A cheap read first: only take the write lock when something is due.
            let due =
                queue::next_due_ms(conn).map_err(sql_error("could not read the delivery queue"))?;
            if free == 0 || due.is_none_or(|d| d > now) {
                return Ok(Vec::new());
            }
            queue::claim(conn, &runner, now, lease_ms, free)
                .map_err(sql_error("could not claim queued events"))
        })
        .await
}

/// Frees this runner's leases at once, so another process need not wait for them to expire.
async fn retire(shared: &Shared, runner: String) {
    let _ = shared
        .db
        .call(
            "could not retire the delivery runner".to_owned(),
            move |conn| {
                queue::retire(conn, &runner).map_err(sql_error("could not retire the runner"))
            },
        )
        .await;
}

async fn prune_ledger(shared: &Shared) {
    let context = "could not prune the ledger";
    let pruned = shared
        .db
        .call(context.to_owned(), move |conn| {
            records::prune_ledger(conn, time::OffsetDateTime::now_utc()).map_err(sql_error(context))
        })
        .await;
    match pruned {
        Ok(n) => tracing::debug!(pruned = n, "Pruned expired ledger entries"),
        // Harmless: the next round tries again.
        Err(e) => tracing::warn!(error = %e, "{e}"),
    }
}

/// One attempt of one delivery, and its bookkeeping.
async fn send_one(shared: &Shared, client: &reqwest::Client, base_url: &str, d: queue::Claimed) {
    let url = format!("{}{}", base_url.trim_end_matches('/'), d.path);
    let mut request = client.post(&url).body(d.body.clone());
    for (name, value) in &d.headers {
        request = request.header(name, value);
    }
    let failure = match request.send().await {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            Some(format!(
                "{url} answered HTTP {}: {}",
                status.as_u16(),
                truncate(&text)
            ))
        }
        Err(e) if e.is_timeout() => Some(format!("{url} did not answer in time: {e}")),
        Err(e) => Some(format!("could not reach {url}: {e}")),
    };
    let attempts = d.attempts + 1;
    let logged_id = d.delivery_id.clone();
    let (delivery_id, owner) = (d.delivery_id.clone(), d.lease_owner.clone());
    let result = match failure {
        None => {
            tracing::debug!(delivery = %d.delivery_id, path = %d.path, "Event delivered");
            shared
                .db
                .call(
                    "could not remove a delivered event".to_owned(),
                    move |conn| {
                        queue::remove(conn, &delivery_id, &owner)
                            .map_err(sql_error("could not remove it"))
                    },
                )
                .await
        }
        Some(error) if attempts >= shared.delivery.max_attempts => {
            tracing::error!(delivery = %d.delivery_id, event_type = %d.event_type, path = %d.path,
                attempts, "Event dead-lettered after {attempts} attempts: {error}");
            dead_letter(shared, d, attempts, error).await
        }
        Some(error) => {
            let jitter = 0.9 + rand::random::<f64>() * 0.2;
            let wait_ms = (backoff_ms(&shared.delivery, attempts) as f64 * jitter) as i64;
            tracing::warn!(delivery = %d.delivery_id, path = %d.path, attempts, wait_ms,
                "Event delivery failed, retrying: {error}");
            shared
                .db
                .call("could not reschedule an event".to_owned(), move |conn| {
                    let due_ms = db::now_ms() + wait_ms;
                    queue::reschedule(conn, &delivery_id, &owner, attempts, due_ms, &error)
                        .map_err(sql_error("could not reschedule it"))
                })
                .await
        }
    };
    match result {
        Ok(true) => {}
        // Another runner took the delivery over: its attempt decides; this one must not
        // delete or free the delivery while that attempt is in flight.
        Ok(false) => tracing::warn!(
            delivery = %logged_id,
            "This attempt outlived its lease; the delivery is left to the runner that took it over"
        ),
        // The lease runs out and the delivery is retried: at least once, never lost.
        Err(e) => {
            tracing::warn!(error = %e, "Delivery bookkeeping failed; the event will be resent: {e}");
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// Writes the dead letter (temp file + rename), then removes the delivery from the queue
/// (whether it still held the lease: see `queue::remove`).
async fn dead_letter(
    shared: &Shared,
    d: queue::Claimed,
    attempts: u32,
    error: String,
) -> crate::backends::BackendResult<bool> {
    let dir = shared.data_dir.join("dead-letter");
    let body = serde_json::from_slice(&d.body)
        .unwrap_or_else(|_| serde_json::Value::from(String::from_utf8_lossy(&d.body).into_owned()));
    let letter = DeadLetter {
        delivery_id: d.delivery_id.clone(),
        event_id: d.event_id,
        event_type: d.event_type,
        path: d.path,
        attempts,
        last_error: error,
        dead_at: db::now_rfc3339(),
        headers: d.headers,
        body,
    };
    let json = serde_json::to_vec_pretty(&letter).unwrap_or_default();
    let file = dir.join(format!("{}.json", d.delivery_id));
    let temp = dir.join(format!(".{}.json.tmp", d.delivery_id));
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&temp, &json))
        .and_then(|()| std::fs::rename(&temp, &file));
    if let Err(e) = written {
        return Err(BackendError::LocalUnavailable {
            context: format!("could not write the dead letter {}", file.display()),
            message: e.to_string(),
        });
    }
    let (delivery_id, owner) = (d.delivery_id, d.lease_owner);
    shared
        .db
        .call(
            "could not remove a dead-lettered event".to_owned(),
            move |conn| {
                queue::remove(conn, &delivery_id, &owner).map_err(sql_error("could not remove it"))
            },
        )
        .await
}

/// Reads `dead-letter/*.json`, oldest first; unreadable files are skipped with a warning.
pub(crate) fn read_dead_letters(data_dir: &Path) -> std::io::Result<Vec<DeadLetter>> {
    let dir = data_dir.join("dead-letter");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut letters = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match serde_json::from_slice::<DeadLetter>(&std::fs::read(&path)?) {
            Ok(letter) => letters.push(letter),
            Err(e) => tracing::warn!(file = %path.display(), "Unreadable dead letter: {e}"),
        }
    }
    letters.sort_by(|a, b| a.dead_at.cmp(&b.dead_at));
    Ok(letters)
}
