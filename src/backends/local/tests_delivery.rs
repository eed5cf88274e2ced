//! The event router against a loopback receiver (wiremock on 127.0.0.1): Eventarc's headers
//! and bodies, retries with backoff, dead letters, restarts and two runtimes on one data dir.

use super::test_support::{meta, open, settings, trigger};
use super::{LocalRuntime, db, queue};
use crate::domain::WriteCondition::Overwrite;
use crate::domain::{PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use crate::events::types::STORAGE_FINALIZED;
use base64::Engine;
use bytes::Bytes;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const WAIT: Duration = Duration::from_secs(10);

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_write_is_delivered_as_an_eventarc_finalized_event_to_each_trigger() {
    // Arrange
    let server = receiver(200).await;
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    runtime.start_delivery(server.uri());

    // Act
    let body = Bytes::from("hello");
    runtime
        .store()
        .put(
            "uploads",
            "in/a b.jpg",
            body,
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap();
    let idle = runtime.wait_idle(WAIT).await.unwrap();

    // Assert
    assert!(idle);
    let requests = server.received_requests().await.unwrap();
    let paths: HashSet<&str> = requests.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths, HashSet::from(["/resize", "/record"]));
    let r = &requests[0];
    assert_eq!(header(r, "ce-specversion"), "1.0");
    assert_eq!(header(r, "ce-type"), STORAGE_FINALIZED);
    assert_eq!(
        header(r, "ce-source"),
        "//storage.googleapis.com/projects/_/buckets/uploads"
    );
    assert_eq!(header(r, "ce-subject"), "objects/in/a%20b.jpg");
    assert_eq!(header(r, "ce-bucket"), "uploads");
    assert!(header(r, "ce-time").ends_with('Z'));
    assert_eq!(header(r, "ce-id").len(), 32);
    assert!(header(r, "content-type").starts_with("application/json"));
    let data: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(data["bucket"], "uploads");
    assert_eq!(data["name"], "in/a b.jpg");
    assert_eq!(data["size"], "5");
    assert_eq!(data["metageneration"], "1");
    assert_eq!(data["contentType"], "image/jpeg");
    assert_eq!(data["md5Hash"], "XUFAKrxLKna5cZ2REBfFkg==");
    assert_eq!(data["kind"], "storage#object");
    let generation = data["generation"].as_str().unwrap();
    assert_eq!(data["id"], format!("uploads/in/a b.jpg/{generation}"));
}

#[tokio::test]
async fn a_published_pipeline_event_is_delivered_as_message_published() {
    let server = receiver(200).await;
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    runtime.start_delivery(server.uri());
    let event = PipelineEvent::new(
        PipelineEventType::Failed,
        "resize",
        &RecordKey::new("uploads", "a.jpg"),
        42,
        StageUpdate::Failed {
            failed_stage: "resize".to_owned(),
            reason: "corrupt".to_owned(),
        },
    );

    runtime
        .publisher()
        .publish(std::slice::from_ref(&event))
        .await
        .unwrap();
    assert!(runtime.wait_idle(WAIT).await.unwrap());

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.url.path(), "/record");
    assert_eq!(
        header(r, "ce-type"),
        "google.cloud.pubsub.topic.v1.messagePublished"
    );
    assert_eq!(
        header(r, "ce-source"),
        "//pubsub.googleapis.com/projects/local/topics/image-pipeline-events"
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["message"]["messageId"], header(r, "ce-id"));
    assert_eq!(body["message"]["attributes"]["eventType"], "image.failed");
    assert_eq!(
        body["subscription"],
        "projects/local/subscriptions/local-record"
    );
    let data = base64::engine::general_purpose::STANDARD
        .decode(body["message"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, event.data_json());
}

#[tokio::test]
async fn a_503_is_retried_with_backoff_under_the_same_event_id_until_it_succeeds() {
    // Arrange: the receiver fails twice, then accepts.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.local.triggers = vec![trigger(STORAGE_FINALIZED, Some("uploads"), None, "/resize")];
    let runtime = LocalRuntime::open(&s).unwrap();
    runtime.start_delivery(server.uri());
    let started = Instant::now();

    // Act
    runtime
        .store()
        .put(
            "uploads",
            "a.jpg",
            Bytes::from("x"),
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap();
    let idle = runtime.wait_idle(WAIT).await.unwrap();

    // Assert: 3 attempts, same id; waits of ~40 ms then ~80 ms (±10 % jitter) in between.
    assert!(idle);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    let ids: HashSet<&str> = requests.iter().map(|r| header(r, "ce-id")).collect();
    assert_eq!(ids.len(), 1, "a retry keeps its event id");
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert!(runtime.dead_letters().unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_dead_lettered_after_max_attempts() {
    let server = receiver(500).await;
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(dir.path());
    s.local.triggers = vec![trigger(STORAGE_FINALIZED, Some("uploads"), None, "/resize")];
    let runtime = LocalRuntime::open(&s).unwrap();
    runtime.start_delivery(server.uri());

    runtime
        .store()
        .put(
            "uploads",
            "a.jpg",
            Bytes::from("x"),
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap();
    let idle = runtime.wait_idle(WAIT).await.unwrap();

    assert!(idle, "a dead-lettered delivery leaves the queue");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    let letters = runtime.dead_letters().unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 3);
    assert_eq!(letters[0].path, "/resize");
    assert!(
        letters[0].last_error.contains("HTTP 500"),
        "{}",
        letters[0].last_error
    );
    assert_eq!(letters[0].body["name"], "a.jpg");
    let file = dir
        .path()
        .join("dead-letter")
        .join(format!("{}.json", letters[0].delivery_id));
    assert!(file.is_file());
}

#[tokio::test]
async fn queued_events_survive_a_restart_and_are_delivered_once() {
    // Arrange: a runtime queues events but stops before delivering them.
    let server = receiver(200).await;
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    first
        .store()
        .put(
            "uploads",
            "a.jpg",
            Bytes::from("x"),
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap();
    drop(first);

    // Act
    let second = open(dir.path());
    second.start_delivery(server.uri());
    let idle = second.wait_idle(WAIT).await.unwrap();

    // Assert
    assert!(idle);
    let requests = server.received_requests().await.unwrap();
    let paths: Vec<&str> = requests.iter().map(|r| r.url.path()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths.contains(&"/resize") && paths.contains(&"/record"));
}

#[test]
fn a_lease_held_by_a_killed_process_is_taken_over_but_a_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let db = runtime.shared.db.clone();
    let event = crate::cloudevent::CloudEvent::new("e1", "//s", "t", Bytes::new(), None);
    let now = db::now_ms();
    db.call_blocking(|conn| {
        queue::insert(conn, "d1", &event, "/resize", now, "t").unwrap();
        queue::insert(conn, "d2", &event, "/record", now, "t").unwrap();
        // "dead" stopped heartbeating a second past the threshold; "live" beat just now.
        queue::heartbeat(conn, "dead", now - queue::RUNNER_DEAD_AFTER_MS - 1_000).unwrap();
        queue::heartbeat(conn, "live", now).unwrap();
        let by_live = queue::claim(conn, "live", now, 600_000, 1).unwrap();
        let by_dead = queue::claim(conn, "dead", now, 600_000, 1).unwrap();
        assert_eq!(
            (
                by_live[0].delivery_id.as_str(),
                by_dead[0].delivery_id.as_str()
            ),
            ("d1", "d2")
        );

        let taken = queue::claim(conn, "restarted", now + 1, 600_000, 10).unwrap();

        let ids: Vec<&str> = taken.iter().map(|c| c.delivery_id.as_str()).collect();
        assert_eq!(ids, vec!["d2"], "only the dead runner's lease is free");
        Ok(())
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runtimes_on_one_data_dir_deliver_each_event_exactly_once() {
    // Arrange
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resize"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(20)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (open(dir.path()), open(dir.path()));
    one.start_delivery(server.uri());
    two.start_delivery(server.uri());

    // Act: both write, both deliver.
    for i in 0..10 {
        let runtime = if i % 2 == 0 { &one } else { &two };
        let name = format!("img-{i}.jpg");
        runtime
            .store()
            .put(
                "uploads",
                &name,
                Bytes::from("x"),
                &meta("image/jpeg"),
                Overwrite,
            )
            .await
            .unwrap();
    }
    assert!(one.wait_idle(WAIT).await.unwrap());

    // Assert: 10 objects x 2 triggers, no (event, path) twice.
    let requests = server.received_requests().await.unwrap();
    let pairs: HashSet<(String, String)> = requests
        .iter()
        .map(|r| (header(r, "ce-id").to_owned(), r.url.path().to_owned()))
        .collect();
    assert_eq!(requests.len(), 20);
    assert_eq!(pairs.len(), 20);
}

#[test]
fn leases_of_a_runtime_that_was_dropped_are_free_at_once() {
    // Arrange: a runtime holds a lease on an in-flight delivery, then shuts down.
    let dir = tempfile::tempdir().unwrap();
    let first = open(dir.path());
    let event = crate::cloudevent::CloudEvent::new("e1", "//s", "t", Bytes::new(), None);
    let now = db::now_ms();
    let runner = first.runner_id.clone();
    first
        .shared
        .db
        .call_blocking(|conn| {
            queue::insert(conn, "d1", &event, "/resize", now, "t").unwrap();
            queue::heartbeat(conn, &runner, now).unwrap();
            assert_eq!(
                queue::claim(conn, &runner, now, 600_000, 1).unwrap().len(),
                1
            );
            Ok(())
        })
        .unwrap();
    drop(first);

    // Act
    let second = open(dir.path());
    let taken = second
        .shared
        .db
        .call_blocking(|conn| Ok(queue::claim(conn, "next", now + 1, 600_000, 1).unwrap()))
        .unwrap();

    // Assert
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].event_id, "e1", "the same event id is redelivered");
}
