//! `dead-letters list|replay` in the gcp profile: the dead-letter subscription is a wiremock
//! serving `:pull`, `:acknowledge` and `:modifyAckDeadline` (and `:publish` for the routes'
//! follow-up events); Cloud Storage and Firestore are fake-gcs-server and the harness fakes.
//! The mocks count: one ack per replay that succeeded, none for a failure, and a bounded
//! number of pulls.

use crate::gcp_fakes::{self, DERIVED, GcpFakes, PROJECT, UPLOADS};
use crate::helpers::{FINALIZED, jpeg};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image_pipeline::dead_letters::Replayed;
use image_pipeline::dead_letters::gcp::{self, MAX_PULLS, PULL_BATCH};
use image_pipeline::domain::WireOutcome;
use serde_json::{Value, json};
use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod pulls;

const SUBSCRIPTION: &str = "image-pipeline-dead-letter-sub";

fn sub_path(verb: &str) -> String {
    format!("/v1/projects/{PROJECT}/subscriptions/{SUBSCRIPTION}:{verb}")
}

/// Answers each pull with the next batch, then with nothing.
struct Pulls(Mutex<VecDeque<Vec<Value>>>);

impl Respond for Pulls {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let batch = self.0.lock().unwrap().pop_front().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(json!({ "receivedMessages": batch }))
    }
}

/// Answers a publish with one id per message.
struct Published;

impl Respond for Published {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let n = body["messages"].as_array().map_or(0, Vec::len);
        let ids: Vec<String> = (0..n).map(|i| format!("pub-{i}")).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "messageIds": ids }))
    }
}

/// The dead-letter subscription: `batches` pulled in turn, acks and leases answered 200.
async fn dead_letter_subscription(batches: Vec<Vec<Value>>) -> MockServer {
    subscription_pulling(Pulls(Mutex::new(batches.into()))).await
}

/// A subscription whose pulls `pull` answers; acks, leases and publishes answered 200.
async fn subscription_pulling(pull: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(sub_path("pull")))
        .respond_with(pull)
        .mount(&server)
        .await;
    for verb in ["acknowledge", "modifyAckDeadline"] {
        Mock::given(method("POST"))
            .and(path(sub_path(verb)))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path_regex(r"/topics/[^/]+:publish$"))
        .respond_with(Published)
        .mount(&server)
        .await;
    server
}

/// A dead-lettered message as Pub/Sub forwards it from `source_subscription`.
fn dead_letter(ack_id: &str, data: &[u8], mut attributes: Value, source: &str) -> Value {
    attributes["CloudPubSubDeadLetterSourceDeliveryCount"] = json!("10");
    attributes["CloudPubSubDeadLetterSourceSubscription"] = json!(source);
    attributes["CloudPubSubDeadLetterSourceSubscriptionProject"] = json!(PROJECT);
    json!({
        "ackId": ack_id,
        "message": {
            "data": STANDARD.encode(data),
            "attributes": attributes,
            "messageId": format!("dl-{ack_id}"),
            "publishTime": "2026-11-26T10:00:00.000Z",
        }
    })
}

/// Eventarc's storage event on its transport topic (Pub/Sub binding, binary mode).
fn eventarc_storage_event(ack_id: &str, id: &str, object: &Value, trigger: &str) -> Value {
    let attributes = json!({
        "ce-id": id,
        "ce-source": format!("//storage.googleapis.com/projects/_/buckets/{UPLOADS}"),
        "ce-specversion": "1.0",
        "ce-type": FINALIZED,
        "ce-subject": format!("objects/{}", object["name"].as_str().unwrap()),
        "ce-bucket": UPLOADS,
        "content-type": "application/json",
    });
    let source = format!("eventarc-us-central1-image-pipeline-{trigger}-sub-042");
    dead_letter(ack_id, object.to_string().as_bytes(), attributes, &source)
}

/// The ack ids the requests to `verb` carried (with `ackDeadlineSeconds`, when set).
async fn ack_ids(server: &MockServer, verb: &str) -> Vec<(String, Option<u64>)> {
    let mut ids = Vec::new();
    for request in server.received_requests().await.unwrap() {
        if request.url.path() != sub_path(verb) {
            continue;
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let deadline = body["ackDeadlineSeconds"].as_u64();
        for id in body["ackIds"].as_array().unwrap() {
            ids.push((id.as_str().unwrap().to_owned(), deadline));
        }
    }
    ids
}

async fn pulls(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap();
    requests
        .iter()
        .filter(|r| r.url.path() == sub_path("pull"))
        .count()
}

/// Nothing was acknowledged, and exactly `ids` were released (deadline 0).
async fn assert_none_acked_and_released(server: &MockServer, ids: &[&str]) {
    assert!(ack_ids(server, "acknowledge").await.is_empty());
    let leases = ack_ids(server, "modifyAckDeadline").await;
    let want: BTreeSet<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    assert_eq!(released(&leases), want);
}

fn released(ids: &[(String, Option<u64>)]) -> BTreeSet<String> {
    ids.iter()
        .filter(|(_, deadline)| *deadline == Some(0))
        .map(|(id, _)| id.clone())
        .collect()
}

/// The path, outcome and removal of the one letter replayed.
fn the_one(replayed: &[Replayed]) -> (&str, WireOutcome, bool) {
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    let r = &replayed[0];
    (r.path.as_str(), r.outcome, r.removed)
}

async fn fakes_with_photo() -> (GcpFakes, Value) {
    let fakes = gcp_fakes::start().await;
    let object = fakes.upload(UPLOADS, "a.jpg", jpeg(640, 480)).await;
    (fakes, object)
}

#[actix_web::test]
async fn replay_acknowledges_each_dead_letter_only_after_its_route_succeeded() {
    // Arrange: the resize and record deliveries of one upload, a storage event whose data
    // is not JSON (rejected), and a message whose data is not base64 (unreadable).
    let (fakes, object) = fakes_with_photo().await;
    let mut broken_data = eventarc_storage_event("ack-3", "evt-x", &object, "resize-finalized");
    broken_data["message"]["data"] = json!(STANDARD.encode("{not json"));
    let mut unreadable = dead_letter("ack-4", b"", json!({"eventType": "image.resized"}), "x");
    unreadable["message"]["data"] = json!("%%% not base64");
    let subscription = dead_letter_subscription(vec![vec![
        eventarc_storage_event("ack-1", "evt-a", &object, "resize-finalized"),
        eventarc_storage_event("ack-2", "evt-a", &object, "record-finalized"),
        broken_data,
        unreadable,
    ]])
    .await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let replayed = gcp::replay(settings, None).await.unwrap();

    // Assert: acked exactly the two that succeeded, once each; the others released.
    for r in &replayed {
        eprintln!("{}", r.line(true));
    }
    let outcomes: Vec<(&str, WireOutcome, bool)> = replayed
        .iter()
        .map(|r| (r.path.as_str(), r.outcome, r.removed))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("/resize", WireOutcome::Processed, true),
            ("/record", WireOutcome::Processed, true),
            ("/resize", WireOutcome::Rejected, false),
            ("", WireOutcome::Rejected, false),
        ]
    );
    let acked = ack_ids(&subscription, "acknowledge").await;
    assert_eq!(
        acked,
        [("ack-1".to_owned(), None), ("ack-2".to_owned(), None)]
    );
    let leases = ack_ids(&subscription, "modifyAckDeadline").await;
    assert_eq!(
        released(&leases),
        BTreeSet::from(["ack-3".into(), "ack-4".into()])
    );
    assert_eq!(
        pulls(&subscription).await,
        2,
        "one pull with the letters, one empty"
    );
    // The record and outputs are those of a delivery that never failed.
    assert!(fakes.exists(DERIVED, "resized/large/a.jpg").await);
    assert_eq!(
        fakes.record_status(UPLOADS, "a.jpg").as_deref(),
        Some("pending")
    );
}

#[actix_web::test]
async fn a_replay_that_fails_is_released_not_acknowledged_and_id_selects_one_event() {
    // Arrange: Cloud Storage unreachable (a closed loopback port): the route answers retry.
    let (fakes, object) = fakes_with_photo().await;
    let subscription = dead_letter_subscription(vec![vec![
        eventarc_storage_event("ack-1", "evt-a", &object, "resize-finalized"),
        eventarc_storage_event("ack-2", "evt-b", &object, "thumbnail-finalized"),
    ]])
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let settings = fakes.settings(
        &subscription.uri(),
        &[("PIPELINE_GCP__STORAGE_ENDPOINT", closed_url.as_str())],
    );

    // Act
    let replayed = gcp::replay(settings, Some("evt-a")).await.unwrap();

    // Assert: only evt-a ran; nothing acked; both released for a later replay.
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(replayed[0].delivery_id, "evt-a");
    assert_eq!(replayed[0].outcome, WireOutcome::Retry);
    assert!(!replayed[0].removed);
    assert_none_acked_and_released(&subscription, &["ack-1", "ack-2"]).await;
}

#[actix_web::test]
async fn list_shows_every_dead_letter_and_releases_them_all() {
    // Arrange: an Eventarc storage event, and a pipeline event dead-lettered by the
    // moderator's Pub/Sub trigger (a plain message of the pipeline topic).
    let fakes = gcp_fakes::start().await;
    let object = json!({"bucket": UPLOADS, "name": "b.jpg", "generation": "7"});
    let resized = dead_letter(
        "ack-2",
        br#"{"image":"b.jpg"}"#,
        json!({"eventType": "image.resized", "source": "image-resizer"}),
        &format!(
            "projects/{PROJECT}/subscriptions/eventarc-us-central1-image-pipeline-moderate-events-sub-7"
        ),
    );
    let subscription = dead_letter_subscription(vec![vec![
        eventarc_storage_event("ack-1", "evt-b", &object, "thumbnail-finalized"),
        resized,
    ]])
    .await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let drained = gcp::list(&settings).await.unwrap();

    // Assert
    let lines = drained.lines();
    for line in &lines {
        eprintln!("{line}");
    }
    eprintln!("{}", drained.summary());
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("evt-b  2026-11-26T10:00:00.000Z  /thumbnail  10 attempts  google.cloud.storage.object.v1.finalized"), "{}", lines[0]);
    assert!(
        lines[1].starts_with(
            "dl-ack-2  2026-11-26T10:00:00.000Z  /moderate  10 attempts  image.resized"
        ),
        "{}",
        lines[1]
    );
    assert_none_acked_and_released(&subscription, &["ack-1", "ack-2"]).await;
}

#[actix_web::test]
async fn a_notification_transport_dead_letter_is_replayed_as_its_push_to_the_route_it_came_from() {
    // Arrange: a Cloud Storage notification (deploy.sh --transport notifications) that
    // the thumbnailer's push subscription gave up on.
    let (fakes, object) = fakes_with_photo().await;
    let attributes = json!({
        "notificationConfig": format!("projects/_/buckets/{UPLOADS}/notificationConfigs/1"),
        "eventType": "OBJECT_FINALIZE",
        "payloadFormat": "JSON_API_V1",
        "bucketId": UPLOADS,
        "objectId": "a.jpg",
        "objectGeneration": object["generation"],
        "eventTime": "2026-11-26T09:59:00.000Z",
    });
    let letter = dead_letter(
        "ack-1",
        object.to_string().as_bytes(),
        attributes,
        "image-pipeline-thumbnail-uploads",
    );
    let subscription = dead_letter_subscription(vec![vec![letter]]).await;
    let settings = fakes.settings(&subscription.uri(), &[]);

    // Act
    let replayed = gcp::replay(settings, None).await.unwrap();

    // Assert
    assert_eq!(
        the_one(&replayed),
        ("/thumbnail", WireOutcome::Processed, true),
        "{replayed:?}"
    );
    assert_eq!(
        replayed[0].delivery_id, "dl-ack-1",
        "the message id is the event id"
    );
    assert_eq!(
        ack_ids(&subscription, "acknowledge").await,
        [("ack-1".to_owned(), None)]
    );
    assert!(fakes.exists(DERIVED, "thumbnails/a.jpg").await);
    assert!(
        !fakes.exists(DERIVED, "resized/large/a.jpg").await,
        "only its route ran"
    );
}

#[actix_web::test]
async fn a_dead_letter_of_a_disabled_route_is_released_not_handed_to_the_other_routes() {
    // Arrange: the resize subscription's letter, with resize switched off here.
    let (fakes, object) = fakes_with_photo().await;
    let subscription = dead_letter_subscription(vec![vec![eventarc_storage_event(
        "ack-1",
        "evt-a",
        &object,
        "resize-finalized",
    )]])
    .await;
    let settings = fakes.settings(
        &subscription.uri(),
        &[("PIPELINE_ROUTES", "thumbnail,record")],
    );

    // Act
    let replayed = gcp::replay(settings, None).await.unwrap();

    // Assert: meant for resize, run by nobody, kept for a replay with resize enabled.
    assert_eq!(
        the_one(&replayed),
        ("/resize", WireOutcome::Skipped, false),
        "{replayed:?}"
    );
    assert_none_acked_and_released(&subscription, &["ack-1"]).await;
    assert!(
        !fakes.exists(DERIVED, "thumbnails/a.jpg").await,
        "no other route ran"
    );
}

#[actix_web::test]
async fn a_long_replay_renews_the_leases_it_still_holds() {
    // Arrange: two letters, and a renewal interval far shorter than one replay.
    let (fakes, object) = fakes_with_photo().await;
    let subscription = dead_letter_subscription(vec![vec![
        eventarc_storage_event("ack-1", "evt-a", &object, "resize-finalized"),
        eventarc_storage_event("ack-2", "evt-a", &object, "thumbnail-finalized"),
    ]])
    .await;
    let settings = fakes.settings(&subscription.uri(), &[]);
    let interrupt = image_pipeline::startup::Interrupt::never();

    // Act
    let renew_every = std::time::Duration::from_millis(1);
    let replayed = gcp::replay_renewing(settings, None, &interrupt, renew_every)
        .await
        .unwrap();

    // Assert: besides the lease taken at the pull, the held leases were extended again.
    assert!(replayed.iter().all(|r| r.removed), "{replayed:?}");
    let leases = ack_ids(&subscription, "modifyAckDeadline").await;
    let extended = leases.iter().filter(|(_, d)| *d == Some(600)).count();
    assert!(
        extended > 2,
        "only the pull's leases were taken: {leases:?}"
    );
}
