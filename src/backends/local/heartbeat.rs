//! The delivery runner's heartbeat: a thread of its own, on a database connection of its
//! own, writes `runners.heartbeat_ms` every [`HEARTBEAT_EVERY_MS`]. So neither a busy async
//! runtime nor this process's queue for the shared connection can make a live runner look
//! dead to another process (which would then send its in-flight deliveries a second time).
//! It stops when the delivery loop sets its flag (once the sends in flight ended), and then
//! retires the runner.

use super::db::{Db, sql_error};
use super::queue;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the heartbeat is written.
pub(crate) const HEARTBEAT_EVERY_MS: i64 = 1_000;

/// Starts the heartbeat thread of `runner_id` on its own connection to the database.
pub(crate) fn spawn(
    db_path: &Path,
    runner_id: String,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let db = Db::open(db_path)?;
    std::thread::Builder::new()
        .name("delivery-heartbeat".to_owned())
        .spawn(move || {
            let period = Duration::from_millis(HEARTBEAT_EVERY_MS.unsigned_abs());
            while !stop.load(Ordering::SeqCst) {
                let beat = db.call_blocking(|conn| {
                    queue::heartbeat(conn, &runner_id, super::db::now_ms())
                        .map_err(sql_error("could not write the delivery heartbeat"))
                });
                if let Err(e) = beat {
                    tracing::warn!(error = %e, "Delivery heartbeat failed; retrying: {e}");
                }
                std::thread::sleep(period);
            }
            // A beat may have landed after the runtime retired this runner: retire again.
            let _ = db.call_blocking(|conn| {
                queue::retire(conn, &runner_id).map_err(sql_error("could not retire the runner"))
            });
        })?;
    Ok(())
}
