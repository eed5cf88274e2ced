//! The local ledger does not grow forever: entries older than the ledger's time to live are
//! deleted when a data dir is opened and periodically by the delivery loop; newer ones stay.

use super::records::LEDGER_TTL;
use super::test_support::open;
use super::{LocalRuntime, db};
use rusqlite::params;
use std::sync::Arc;
use std::time::Duration;

/// Moves `done_key`'s entry back in time by `age`.
fn backdate(runtime: &LocalRuntime, done_key: &str, age: time::Duration) {
    let at = db::rfc3339(time::OffsetDateTime::now_utc() - age);
    runtime
        .shared
        .db
        .call_blocking(|conn| {
            let changed = conn
                .execute(
                    "UPDATE ledger SET done_at = ?1 WHERE done_key = ?2",
                    params![at, done_key],
                )
                .unwrap();
            assert_eq!(changed, 1, "{done_key} was not in the ledger");
            Ok(())
        })
        .unwrap();
}

async fn done(runtime: &Arc<LocalRuntime>, keys: &[&str]) -> Vec<bool> {
    let records = runtime.records();
    let mut out = Vec::new();
    for key in keys {
        out.push(records.is_done(key).await.unwrap());
    }
    out
}

#[tokio::test]
async fn opening_a_data_dir_prunes_entries_past_the_ttl_and_keeps_the_rest() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    for key in ["old", "recent", "just-inside"] {
        first.records().mark_done(key).await.unwrap();
    }
    backdate(&first, "old", LEDGER_TTL + time::Duration::hours(1));
    backdate(&first, "just-inside", LEDGER_TTL - time::Duration::hours(1));
    drop(first);

    // Act
    let reopened = open(dir.path());

    // Assert
    assert_eq!(
        done(&reopened, &["old", "recent", "just-inside"]).await,
        vec![false, true, true]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_delivery_loop_prunes_the_ledger_too() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    runtime.records().mark_done("old").await.unwrap();
    backdate(&runtime, "old", LEDGER_TTL + time::Duration::hours(1));

    runtime.start_delivery("http://127.0.0.1:9".to_owned());

    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while done(&runtime, &["old"]).await[0] {
        assert!(
            std::time::Instant::now() < deadline,
            "the entry was never pruned"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
