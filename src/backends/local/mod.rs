//! The embedded local backends (the `local` profile): buckets are folders under the data dir,
//! SQLite (`pipeline.sqlite`) holds object metadata, records, the ledger and the delivery
//! queue, and an in-process event router plays Eventarc and Pub/Sub by POSTing binary-mode
//! CloudEvents to this server's own routes. [`LocalRuntime`] owns all of it.
//!
//! Layout under the data dir: `buckets/<bucket>/<object name>`, `pipeline.sqlite` (WAL),
//! `dead-letter/<delivery id>.json`. Several processes may share one data dir: writes take
//! SQLite's write lock, deliveries are leased. This module never decides HTTP statuses.

mod db;
mod delivery;
mod heartbeat;
mod names;
mod objects;
mod outgoing;
mod publisher;
mod queue;
mod records;
mod store;
mod verdict_index;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod test_support;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_delivery;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_lease;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_ledger;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_records;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_store;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_store_faults;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests_verdict_index;

pub use delivery::DeadLetter;

use super::{BackendResult, LocalControl, ObjectStore, Publisher, Records, VerdictIndex};
use crate::cloudevent::CloudEvent;
use crate::config::{LocalTrigger, Settings};
use crate::domain::PipelineEvent;
use anyhow::Context;
use db::Db;
use objects::ObjectRow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Project id in local event sources when none is configured.
const LOCAL_PROJECT: &str = "local";
/// How often `wait_idle` looks at the queue.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Delivery retry settings (`[local]` in the config).
#[derive(Debug, Clone)]
pub(crate) struct DeliveryConfig {
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff_ms: u64,
    pub(crate) max_backoff_ms: u64,
    pub(crate) timeout_secs: u64,
}

/// What the store, records, publisher and delivery loop share.
pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) data_dir: PathBuf,
    pub(crate) triggers: Vec<LocalTrigger>,
    pub(crate) project_id: String,
    pub(crate) topic: String,
    pub(crate) records_collection: String,
    pub(crate) ledger_collection: String,
    pub(crate) delivery: DeliveryConfig,
    /// Wakes this process's delivery loop when something was queued.
    pub(crate) wake: Notify,
}

impl Shared {
    /// Queues a storage event for every trigger on its type and bucket, inside the caller's
    /// transaction; the number queued.
    pub(crate) fn enqueue_storage(
        &self,
        conn: &rusqlite::Connection,
        ty: &str,
        row: &ObjectRow,
        time_deleted: Option<&str>,
    ) -> rusqlite::Result<usize> {
        let event_id = db::random_hex_id();
        let time = db::now_rfc3339();
        let event = outgoing::storage_event(ty, row, &event_id, &time, time_deleted);
        let mut queued = 0;
        for trigger in outgoing::storage_triggers(&self.triggers, ty, &row.bucket) {
            queue_now(conn, &event, &trigger.path, &time)?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Queues a pipeline event for every trigger on the pipeline topic.
    pub(crate) fn enqueue_pipeline(
        &self,
        conn: &rusqlite::Connection,
        event: &PipelineEvent,
    ) -> rusqlite::Result<usize> {
        let message_id = db::random_hex_id();
        let time = db::now_rfc3339();
        let mut queued = 0;
        for trigger in outgoing::topic_triggers(&self.triggers, &self.topic) {
            let ce = outgoing::pubsub_event(
                event,
                &self.project_id,
                &self.topic,
                &trigger.path,
                &message_id,
                &time,
            );
            queue_now(conn, &ce, &trigger.path, &time)?;
            queued += 1;
        }
        Ok(queued)
    }
}

/// Queues one delivery of `event` to `path`, due now, under a fresh delivery id.
fn queue_now(
    conn: &rusqlite::Connection,
    event: &CloudEvent,
    path: &str,
    created_at: &str,
) -> rusqlite::Result<()> {
    queue::insert(
        conn,
        &db::random_hex_id(),
        event,
        path,
        db::now_ms(),
        created_at,
    )
}

/// The embedded runtime: SQLite, the folder store and the event router of one process.
pub struct LocalRuntime {
    shared: Arc<Shared>,
    runner_id: String,
    started: AtomicBool,
    stopped: Arc<AtomicBool>,
}

impl LocalRuntime {
    /// Opens the data dir (creating it), the database (migrating its schema) and the router.
    pub fn open(settings: &Settings) -> anyhow::Result<Arc<Self>> {
        let local = &settings.local;
        let data_dir = local.data_dir.clone();
        std::fs::create_dir_all(data_dir.join("buckets")).with_context(|| {
            format!(
                "could not create the local data dir {} (local.data_dir, PIPELINE_LOCAL__DATA_DIR)",
                data_dir.display()
            )
        })?;
        let db_path = data_dir.join(db::DB_FILE);
        let db = Db::open(&db_path)
            .with_context(|| format!("could not open the database {}", db_path.display()))?;
        // The ledger does not grow forever; failing to prune is no reason not to start.
        let pruned = db.call_blocking(|conn| {
            records::prune_ledger(conn, time::OffsetDateTime::now_utc())
                .map_err(db::sql_error("could not prune the ledger"))
        });
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "{e}");
        }
        let project_id = match settings.gcp.project_id.as_str() {
            "" => LOCAL_PROJECT.to_owned(),
            p => p.to_owned(),
        };
        let shared = Shared {
            db,
            data_dir,
            triggers: local.triggers.clone(),
            project_id,
            topic: settings.pipeline.topic.clone(),
            records_collection: settings.records.collection.clone(),
            ledger_collection: settings.records.ledger_collection.clone(),
            delivery: DeliveryConfig {
                max_attempts: local.delivery_max_attempts.max(1),
                initial_backoff_ms: local.delivery_initial_backoff_ms,
                max_backoff_ms: local.delivery_max_backoff_ms,
                timeout_secs: local.delivery_timeout_secs.max(1),
            },
            wake: Notify::new(),
        };
        Ok(Arc::new(Self {
            shared: Arc::new(shared),
            runner_id: db::random_hex_id(),
            started: AtomicBool::new(false),
            stopped: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// The folder store.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(store::LocalStore::new(self.shared.clone()))
    }

    /// Records and the idempotency ledger in SQLite.
    pub fn records(&self) -> Arc<dyn Records> {
        Arc::new(records::SqliteRecords::new(self.shared.clone()))
    }

    /// The verdict index in SQLite.
    pub fn verdicts(&self) -> Arc<dyn VerdictIndex> {
        Arc::new(verdict_index::SqliteVerdicts::new(self.shared.clone()))
    }

    /// The publisher that routes pipeline events to the topic's triggers.
    pub fn publisher(&self) -> Arc<dyn Publisher> {
        Arc::new(publisher::LocalPublisher::new(self.shared.clone()))
    }

    /// Starts delivering queued events to the server at `base_url` (once; later calls are
    /// no-ops). Must be called inside a tokio runtime. Stops when the runtime is dropped.
    pub fn start_delivery(&self, base_url: String) {
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        tokio::spawn(delivery::run(
            self.shared.clone(),
            self.stopped.clone(),
            self.runner_id.clone(),
            base_url,
        ));
    }

    /// Stops the delivery loop (in-flight sends finish; their leases are released).
    pub fn stop_delivery(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }

    /// Deliveries queued or in flight, counting every process on this data dir.
    pub async fn pending_deliveries(&self) -> BackendResult<u64> {
        self.shared
            .db
            .call("could not read the delivery queue".to_owned(), |conn| {
                queue::pending(conn).map_err(db::sql_error("could not read the delivery queue"))
            })
            .await
    }

    /// Waits until nothing is queued or in flight; `Ok(false)` if `timeout` passed first.
    pub async fn wait_idle(&self, timeout: Duration) -> BackendResult<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.pending_deliveries().await? == 0 {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(IDLE_POLL).await;
        }
    }

    /// Deliveries that gave up after `delivery_max_attempts`, oldest first.
    pub fn dead_letters(&self) -> std::io::Result<Vec<DeadLetter>> {
        delivery::read_dead_letters(&self.shared.data_dir)
    }
}

#[async_trait::async_trait]
impl LocalControl for LocalRuntime {
    fn start(&self, base_url: String) {
        self.start_delivery(base_url);
    }

    fn stop(&self) {
        self.stop_delivery();
    }

    async fn pending(&self) -> BackendResult<u64> {
        self.pending_deliveries().await
    }

    async fn wait_idle(&self, timeout: Duration) -> BackendResult<bool> {
        LocalRuntime::wait_idle(self, timeout).await
    }

    fn dead_letters(&self) -> std::io::Result<Vec<DeadLetter>> {
        LocalRuntime::dead_letters(self)
    }

    fn dead_letter_dir(&self) -> PathBuf {
        self.shared.data_dir.join("dead-letter")
    }

    fn remove_dead_letter(&self, delivery_id: &str) -> std::io::Result<bool> {
        // Ids are hex (db::random_hex_id); anything else cannot name one of our files.
        if delivery_id.is_empty() || !delivery_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(false);
        }
        let file = self.dead_letter_dir().join(format!("{delivery_id}.json"));
        match std::fs::remove_file(file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LocalRuntime {
    /// Stops delivery and frees this runner's leases at once, so whatever was in flight is
    /// redelivered by the next process without waiting for the heartbeat to go stale.
    fn drop(&mut self) {
        self.stop_delivery();
        let runner = &self.runner_id;
        let _ = self.shared.db.call_blocking(|conn| {
            queue::retire(conn, runner).map_err(db::sql_error("could not retire the runner"))
        });
    }
}
