//! Lease stealing between processes sharing a data dir (issue 13): a live runner must keep
//! its in-flight deliveries even when its heartbeat is late for a reason the design itself
//! allows, namely an SQLite busy wait or its own process's queue for the shared connection.
//! Only a runner silent for longer than that is taken for dead.

use super::db::{self, BUSY_TIMEOUT};
use super::heartbeat::HEARTBEAT_EVERY_MS;
use super::queue::{self, RUNNER_DEAD_AFTER_MS};
use super::test_support::open;
use bytes::Bytes;
use rusqlite::params;
use std::time::Duration;

/// A lease far longer than any of the delays below (delivery timeout + margin).
const LEASE_MS: i64 = 305_000;

/// Queues delivery `d1` and lets runner "a", beating at `now`, claim it.
fn runner_a_claims_one_delivery(conn: &mut rusqlite::Connection, now: i64) {
    let event = crate::cloudevent::CloudEvent::new("e1", "//s", "t", Bytes::new(), None);
    queue::insert(conn, "d1", &event, "/resize", now, "t").unwrap();
    queue::heartbeat(conn, "a", now).unwrap();
    assert_eq!(queue::claim(conn, "a", now, LEASE_MS, 1).unwrap().len(), 1);
}

#[test]
fn a_runner_whose_heartbeat_waited_out_a_whole_busy_timeout_keeps_its_leases() {
    // Arrange: "a" beats and claims; then its next heartbeat waits behind another process's
    // write lock for the whole busy timeout, fails, and the one after comes a period later.
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let now = db::now_ms();
    let busy_ms = i64::try_from(BUSY_TIMEOUT.as_millis()).unwrap();
    let late = now + busy_ms + HEARTBEAT_EVERY_MS + 500;
    runtime
        .shared
        .db
        .call_blocking(|conn| {
            runner_a_claims_one_delivery(conn, now);

            // Act
            let stolen = queue::claim(conn, "b", late, LEASE_MS, 1).unwrap();
            let after_death =
                queue::claim(conn, "b", now + RUNNER_DEAD_AFTER_MS + 1, LEASE_MS, 1).unwrap();

            // Assert
            assert!(stolen.is_empty(), "a live runner's lease was taken over");
            assert_eq!(after_death.len(), 1, "a dead runner's lease is still freed");
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_heartbeat_waits_for_another_process_write_lock() {
    // The delay the threshold above must cover is real: a heartbeat is a write.
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let db_path = dir.path().join("pipeline.sqlite");
    let hold = Duration::from_millis(300);
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut other = rusqlite::Connection::open(db_path).unwrap();
        let lock = other
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(hold);
        lock.commit().unwrap();
    });
    locked_rx.recv().unwrap();
    let started = std::time::Instant::now();
    runtime
        .shared
        .db
        .call_blocking(|conn| {
            queue::heartbeat(conn, "a", db::now_ms()).unwrap();
            Ok(())
        })
        .unwrap();
    let released = started.elapsed();
    holder.join().unwrap();

    assert!(
        released >= hold / 2,
        "the heartbeat did not wait: {released:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_go_on_while_the_process_shared_connection_is_busy() {
    // Arrange: a running delivery loop, then a long job holding the shared connection (as
    // store writes queued behind a busy wait would).
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    runtime.start_delivery("http://127.0.0.1:9".to_owned());
    let db_path = dir.path().join("pipeline.sqlite");
    let beat_of = |runner: &str| -> Option<i64> {
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        conn.query_row(
            "SELECT heartbeat_ms FROM runners WHERE runner_id = ?1",
            params![runner],
            |row| row.get(0),
        )
        .ok()
    };
    let runner = runtime.runner_id.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while beat_of(&runner).is_none() {
        assert!(std::time::Instant::now() < deadline, "no first heartbeat");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shared = runtime.shared.clone();

    // Act
    let before = beat_of(&runner).unwrap();
    let held = tokio::task::spawn_blocking(move || {
        shared.db.call_blocking(|_conn| {
            std::thread::sleep(Duration::from_millis(2_500));
            Ok(())
        })
    });
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let during = beat_of(&runner).unwrap();
    held.await.unwrap().unwrap();

    // Assert
    assert!(
        during - before >= HEARTBEAT_EVERY_MS,
        "the heartbeat stalled behind the shared connection: {before} -> {during}"
    );
}

#[test]
fn the_bookkeeping_of_a_runner_that_lost_its_lease_leaves_the_new_owners_delivery_alone() {
    // Arrange: "a" claims; its attempt outlives the lease and "b" takes the delivery over.
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let now = db::now_ms();
    let later = now + LEASE_MS + 1;
    runtime
        .shared
        .db
        .call_blocking(|conn| {
            runner_a_claims_one_delivery(conn, now);
            queue::heartbeat(conn, "b", later).unwrap();
            assert_eq!(
                queue::claim(conn, "b", later, LEASE_MS, 1).unwrap().len(),
                1
            );

            // Act: a's late answer comes in (a failure, then a success).
            let rescheduled = queue::reschedule(conn, "d1", "a", 1, later, "late").unwrap();
            let removed = queue::remove(conn, "d1", "a").unwrap();

            // Assert
            assert!(!rescheduled && !removed, "a's bookkeeping counted");
            let (owner, attempts): (Option<String>, i64) = conn
                .query_row(
                    "SELECT lease_owner, attempts FROM deliveries WHERE delivery_id = 'd1'",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .unwrap();
            assert_eq!((owner.as_deref(), attempts), (Some("b"), 0));
            assert!(
                queue::remove(conn, "d1", "b").unwrap(),
                "the owner removes it"
            );
            Ok(())
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_delivery_keeps_the_leases_of_sends_still_in_flight() {
    // Arrange: a receiver that answers only after 2 s; a delivery loop sending to it.
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    runtime.start_delivery(server.uri());
    let body = Bytes::from("x");
    let meta = super::test_support::meta("image/jpeg");
    let store = runtime.store();
    store
        .put(
            "uploads",
            "a.jpg",
            body,
            &meta,
            crate::domain::WriteCondition::Overwrite,
        )
        .await
        .unwrap();
    let leased = || {
        let conn = rusqlite::Connection::open(dir.path().join(db::DB_FILE)).unwrap();
        let sql = "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL";
        conn.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while leased() < 2 {
        assert!(std::time::Instant::now() < deadline, "nothing was claimed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Act: stop while the sends wait for their answers; another process then looks.
    runtime.stop_delivery();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken = runtime
        .shared
        .db
        .call_blocking(|conn| Ok(queue::claim(conn, "other", db::now_ms(), LEASE_MS, 10).unwrap()))
        .unwrap();

    // Assert
    assert!(
        taken.is_empty(),
        "leases of sends in flight were freed: {taken:?}"
    );
    assert!(
        runtime.wait_idle(Duration::from_secs(10)).await.unwrap(),
        "the sends ended"
    );
}
