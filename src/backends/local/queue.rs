//! The delivery queue in SQLite: one row per (event, trigger), inserted in the same
//! transaction as the write that caused it, claimed with a lease so that two processes on one
//! data dir never send the same delivery at once, deleted when acknowledged. A lease held by
//! a runner whose heartbeat stopped (a killed process) is taken over; the bookkeeping of an
//! attempt (remove, reschedule) then only counts while its runner still holds the lease, so
//! a runner that lost it never deletes or frees the new owner's delivery in flight. Only SQL
//! lives here.

use super::db::BUSY_TIMEOUT_MS;
use super::heartbeat::HEARTBEAT_EVERY_MS;
use crate::cloudevent::CloudEvent;
use rusqlite::{Connection, params};

/// A runner whose heartbeat is older than this is taken for dead; its leases are free.
/// A live runner's heartbeat (a write) can be late by a whole SQLite busy wait behind
/// another process's write lock, after which the failed beat is retried a period later;
/// the threshold covers that with a margin, so only a runner that really stopped loses its
/// leases (issue 13: at 10 s, below the 15 s busy timeout, live leases could be stolen).
pub(crate) const RUNNER_DEAD_AFTER_MS: i64 = BUSY_TIMEOUT_MS + 2 * HEARTBEAT_EVERY_MS + 5_000;

/// One delivery ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) delivery_id: String,
    pub(crate) event_id: String,
    pub(crate) event_type: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Attempts made before this one.
    pub(crate) attempts: u32,
    /// The runner holding the lease (the one that claimed it).
    pub(crate) lease_owner: String,
}

/// Queues `event` for the trigger at `path`, due now.
pub(crate) fn insert(
    conn: &Connection,
    delivery_id: &str,
    event: &CloudEvent,
    path: &str,
    now_ms: i64,
    created_at: &str,
) -> rusqlite::Result<()> {
    let headers = serde_json::to_string(&event.binary_headers()).unwrap_or_else(|_| "[]".into());
    conn.execute(
        "INSERT INTO deliveries (delivery_id, event_id, event_type, path, headers_json, body,
                                 due_at_ms, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            delivery_id,
            event.id,
            event.ty,
            path,
            headers,
            event.data.as_ref(),
            now_ms,
            created_at
        ],
    )?;
    Ok(())
}

/// Records that `runner_id` is alive (its leases stay valid).
pub(crate) fn heartbeat(conn: &Connection, runner_id: &str, now_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO runners (runner_id, heartbeat_ms) VALUES (?1, ?2)
         ON CONFLICT (runner_id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
        params![runner_id, now_ms],
    )?;
    conn.execute(
        "DELETE FROM runners WHERE heartbeat_ms < ?1",
        params![now_ms - 10 * RUNNER_DEAD_AFTER_MS],
    )?;
    Ok(())
}

/// Forgets a runner that stops cleanly, so its unfinished leases are free at once.
pub(crate) fn retire(conn: &Connection, runner_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM runners WHERE runner_id = ?1",
        params![runner_id],
    )?;
    Ok(())
}

/// Leases up to `limit` due deliveries to `runner_id` until `now_ms + lease_ms`, oldest first.
pub(crate) fn claim(
    conn: &mut Connection,
    runner_id: &str,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Claimed>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let claimed = {
        let mut select = tx.prepare(
            "SELECT delivery_id, event_id, event_type, path, headers_json, body, attempts
             FROM deliveries
             WHERE due_at_ms <= ?1
               AND (lease_owner IS NULL OR lease_until_ms <= ?1
                    OR lease_owner NOT IN
                       (SELECT runner_id FROM runners WHERE heartbeat_ms > ?1 - ?2))
             ORDER BY seq LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = select.query_map(params![now_ms, RUNNER_DEAD_AFTER_MS, limit], |row| {
            let headers_json: String = row.get(4)?;
            let attempts: i64 = row.get(6)?;
            Ok(Claimed {
                delivery_id: row.get(0)?,
                event_id: row.get(1)?,
                event_type: row.get(2)?,
                path: row.get(3)?,
                headers: serde_json::from_str(&headers_json).unwrap_or_default(),
                body: row.get(5)?,
                attempts: u32::try_from(attempts).unwrap_or_default(),
                lease_owner: runner_id.to_owned(),
            })
        })?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for c in &claimed {
        tx.execute(
            "UPDATE deliveries SET lease_owner = ?1, lease_until_ms = ?2 WHERE delivery_id = ?3",
            params![runner_id, now_ms + lease_ms, c.delivery_id],
        )?;
    }
    tx.commit()?;
    Ok(claimed)
}

/// Removes an acknowledged (or dead-lettered) delivery, if `runner_id` still holds its
/// lease; whether it did.
pub(crate) fn remove(
    conn: &Connection,
    delivery_id: &str,
    runner_id: &str,
) -> rusqlite::Result<bool> {
    let removed = conn.execute(
        "DELETE FROM deliveries WHERE delivery_id = ?1 AND lease_owner = ?2",
        params![delivery_id, runner_id],
    )?;
    Ok(removed > 0)
}

/// Counts a failed attempt and makes the delivery due again at `due_at_ms` (freeing the
/// lease), if `runner_id` still holds the lease; whether it did.
pub(crate) fn reschedule(
    conn: &Connection,
    delivery_id: &str,
    runner_id: &str,
    attempts: u32,
    due_at_ms: i64,
    error: &str,
) -> rusqlite::Result<bool> {
    let rescheduled = conn.execute(
        "UPDATE deliveries SET attempts = ?1, due_at_ms = ?2, last_error = ?3,
                               lease_owner = NULL, lease_until_ms = 0
         WHERE delivery_id = ?4 AND lease_owner = ?5",
        params![attempts, due_at_ms, error, delivery_id, runner_id],
    )?;
    Ok(rescheduled > 0)
}

/// Deliveries queued or in flight, in every process sharing the data dir.
pub(crate) fn pending(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM deliveries", [], |row| row.get(0))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

/// The earliest due time of a queued delivery, to sleep exactly until then.
pub(crate) fn next_due_ms(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row("SELECT MIN(due_at_ms) FROM deliveries", [], |row| {
        row.get(0)
    })
}
