//! The SQLite database under the data dir (`pipeline.sqlite`): opening it in WAL mode with a
//! busy timeout (so several processes can share one data dir), creating and migrating the
//! schema, and running blocking statements off the async executor. It knows tables, not
//! objects, records or events.

use crate::backends::{BackendError, BackendResult};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The database file under the data dir.
pub(crate) const DB_FILE: &str = "pipeline.sqlite";
/// How long a statement waits for another process's write lock before giving up.
pub(crate) const BUSY_TIMEOUT_MS: i64 = 15_000;
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_millis(BUSY_TIMEOUT_MS.unsigned_abs());

/// The schema version this binary writes; older databases are migrated on open.
const SCHEMA_VERSION: i64 = 4;

/// Version 1: object metadata (live generation only), records, the ledger, the delivery
/// queue, the delivery runners' heartbeats and the generation counter.
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    generation INTEGER NOT NULL,
    metageneration INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    content_type TEXT,
    md5_base64 TEXT,
    cache_control TEXT,
    metadata_json TEXT NOT NULL,
    time_created TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (bucket, name)
);
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    name TEXT NOT NULL,
    record_json TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
CREATE TABLE IF NOT EXISTS ledger (
    collection TEXT NOT NULL,
    done_key TEXT NOT NULL,
    done_at TEXT NOT NULL,
    PRIMARY KEY (collection, done_key)
);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL UNIQUE,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    path TEXT NOT NULL,
    headers_json TEXT NOT NULL,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at_ms INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (due_at_ms);
CREATE TABLE IF NOT EXISTS runners (
    runner_id TEXT PRIMARY KEY,
    heartbeat_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Version 2: an index for pruning the ledger by age.
const SCHEMA_V2: &str = "
CREATE INDEX IF NOT EXISTS ledger_done_at ON ledger (done_at);
";

/// Version 4: the verdict index (`verdict_index.rs`), one row per content hash and basis.
const SCHEMA_V4: &str = "
CREATE TABLE IF NOT EXISTS verdicts (
    doc_id TEXT PRIMARY KEY,
    entry_json TEXT NOT NULL,
    judged_at TEXT NOT NULL
);
";

/// Version 3 changes no table: object files moved to their encoded names on disk
/// (`names::disk_segment`; `store::move_to_disk_names`).
const FILES_MOVED_IN_VERSION: i64 = 3;

/// One connection per runtime, shared by its store, records, publisher and delivery loop.
/// Other processes (another `serve` on the same data dir) have their own.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the database and brings its schema up to date. Another
    /// process opening the same new file at the same moment makes SQLite answer "locked"
    /// without waiting (switching to WAL takes an exclusive lock), so that is retried.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let started = std::time::Instant::now();
        loop {
            match open_once(path) {
                Ok(conn) => {
                    return Ok(Self {
                        conn: Arc::new(Mutex::new(conn)),
                    });
                }
                Err(e) if is_busy(&e) && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `work` on the blocking pool with the connection; `context` names the operation
    /// in errors ("could not write gs://b/n").
    pub(crate) async fn call<F, R>(&self, context: String, work: F) -> BackendResult<R>
    where
        F: FnOnce(&mut Connection) -> BackendResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let conn = self.conn.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| BackendError::LocalUnavailable {
                context: context.clone(),
                message: "the database connection was poisoned by a crashed task".to_owned(),
            })?;
            work(&mut guard)
        })
        .await;
        joined.unwrap_or_else(|e| {
            Err(BackendError::LocalUnavailable {
                context: "local database task".to_owned(),
                message: e.to_string(),
            })
        })
    }

    /// Runs `work` on the calling thread (tests and start-up only).
    pub(crate) fn call_blocking<R>(
        &self,
        work: impl FnOnce(&mut Connection) -> BackendResult<R>,
    ) -> BackendResult<R> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| BackendError::LocalUnavailable {
                context: "local database".to_owned(),
                message: "the database connection was poisoned by a crashed task".to_owned(),
            })?;
        work(&mut guard)
    }
}

fn open_once(path: &Path) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers and one writer work at once, across processes.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate(&mut conn, path.parent().unwrap_or(Path::new(".")))?;
    Ok(conn)
}

fn is_busy(error: &anyhow::Error) -> bool {
    matches!(
        error
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Creates or upgrades the schema (and the data dir's files, `data_dir`) in one write
/// transaction, so two processes starting together do not both migrate; a crash midway
/// leaves the old version, and the next open finishes the work.
fn migrate(conn: &mut Connection, data_dir: &Path) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version < SCHEMA_VERSION {
        // Every statement is IF NOT EXISTS, so any older version just runs them all.
        tx.execute_batch(SCHEMA_V1)?;
        tx.execute_batch(SCHEMA_V2)?;
        tx.execute_batch(SCHEMA_V4)?;
        if version < FILES_MOVED_IN_VERSION {
            super::store::move_to_disk_names(&tx, data_dir)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(())
}

/// A SQLite error as a backend error: busy and I/O trouble are worth retrying, so all of
/// them are `LocalUnavailable` (a malformed row would be a bug, not the event's fault).
pub(crate) fn sql_error(
    context: impl Into<String>,
) -> impl FnOnce(rusqlite::Error) -> BackendError {
    let context = context.into();
    move |e| BackendError::LocalUnavailable {
        context,
        message: format!("SQLite: {e}"),
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Microseconds since the Unix epoch (Cloud Storage generations are in this unit).
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Now as RFC 3339 UTC with milliseconds, the way Google's APIs write timestamps.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// `at` (UTC) as RFC 3339 with milliseconds. Fixed width, so text order is time order.
pub(crate) fn rfc3339(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// A random id in lower-case hex (event and delivery ids; unique enough across processes).
pub(crate) fn random_hex_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
