//! Pub/Sub publish against wiremock: the exact request, batching, and the fault classes.

use super::GcpContext;
use super::PubSubPublisher;
use super::test_support::{PROJECT, context, settings};
use crate::backends::{BackendError, Publisher};
use crate::domain::{PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use std::time::{Duration, Instant};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PUBLISH_PATH: &str = "/v1/projects/test-project/topics/image-pipeline-events:publish";

fn event(name: &str) -> PipelineEvent {
    PipelineEvent::new(
        PipelineEventType::Failed,
        "resize",
        &RecordKey::new("uploads", name),
        42,
        StageUpdate::Failed {
            failed_stage: "resize".to_owned(),
            reason: "corrupt".to_owned(),
        },
    )
}

/// Answers with as many message ids as the request carried messages.
struct MessageIds;

impl Respond for MessageIds {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let count = body["messages"].as_array().map_or(0, Vec::len);
        let ids: Vec<String> = (0..count).map(|i| i.to_string()).collect();
        ResponseTemplate::new(200).set_body_json(json!({ "messageIds": ids }))
    }
}

async fn publisher(server: &MockServer) -> PubSubPublisher {
    PubSubPublisher::new(context(&server.uri()).await, "image-pipeline-events")
}

#[tokio::test]
async fn publish_sends_every_event_in_one_request_with_base64_json_and_attributes() {
    let server = MockServer::start().await;
    let events = [event("a.png"), event("b.png")];
    let expected = json!({ "messages": events.iter().map(|e| json!({
        "data": STANDARD.encode(e.data_json()),
        "attributes": { "eventType": "image.failed", "source": "image-pipeline/resize" },
    })).collect::<Vec<_>>() });
    Mock::given(method("POST"))
        .and(path(PUBLISH_PATH))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(MessageIds)
        .expect(1)
        .mount(&server)
        .await;

    publisher(&server).await.publish(&events).await.unwrap();

    let sent = &server.received_requests().await.unwrap()[0];
    assert!(
        sent.headers.get("authorization").is_none(),
        "auth=none sends no token"
    );
    let data = STANDARD
        .decode(expected["messages"][0]["data"].as_str().unwrap())
        .unwrap();
    let decoded: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(decoded["generation"], "42");
    assert_eq!(decoded["name"], "a.png");
}

#[tokio::test]
async fn more_than_a_thousand_events_are_split_into_two_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(PUBLISH_PATH))
        .respond_with(MessageIds)
        .expect(2)
        .mount(&server)
        .await;
    let events: Vec<_> = (0..1001).map(|i| event(&format!("{i}.png"))).collect();

    publisher(&server).await.publish(&events).await.unwrap();

    let sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.body_json::<serde_json::Value>().unwrap()["messages"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [1000, 1]);
}

#[tokio::test]
async fn publish_503_then_200_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(MessageIds)
        .expect(1)
        .mount(&server)
        .await;

    let result = publisher(&server).await.publish(&[event("a.png")]).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn publish_500_is_not_repeated_because_publish_is_not_idempotent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;

    let error = publisher(&server)
        .await
        .publish(&[event("a.png")])
        .await
        .unwrap_err();

    assert!(
        matches!(error, BackendError::Http { status: 500, .. }),
        "{error:?}"
    );
    assert!(error.is_transient(), "Eventarc redelivers it instead");
}

#[tokio::test]
async fn publish_429_waits_for_retry_after_within_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(MessageIds)
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();

    publisher(&server)
        .await
        .publish(&[event("a.png")])
        .await
        .unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_beyond_the_budget_gives_up_at_once_as_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .expect(1)
        .mount(&server)
        .await;
    let started = Instant::now();

    let error = publisher(&server)
        .await
        .publish(&[event("a.png")])
        .await
        .unwrap_err();

    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(error.is_transient());
    assert!(matches!(
        error,
        BackendError::Http { status: 429, retry_after: Some(d), .. } if d == Duration::from_secs(60)
    ));
}

#[tokio::test]
async fn a_hanging_server_times_out_as_transient_within_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        // Accepts the request and answers long after the 1 s client timeout.
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let mut s = settings(&server.uri());
    s.retry_budget_secs = 2;
    let publisher =
        PubSubPublisher::new(GcpContext::new(&s).await.unwrap(), "image-pipeline-events");
    let started = Instant::now();

    let error = publisher.publish(&[event("a.png")]).await.unwrap_err();

    assert!(
        matches!(
            error,
            BackendError::Timeout {
                timeout_secs: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn publish_403_is_permanent_with_the_service_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": 403, "message": "User not authorized to perform this action.",
            "status": "PERMISSION_DENIED"}})))
        .expect(1)
        .mount(&server)
        .await;

    let error = publisher(&server)
        .await
        .publish(&[event("a.png")])
        .await
        .unwrap_err();

    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        "Pub/Sub answered HTTP 403: PERMISSION_DENIED: User not authorized to perform this action."
    );
}

#[tokio::test]
async fn a_full_topic_name_is_used_as_given() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/projects/other/topics/t:publish"))
        .respond_with(MessageIds)
        .expect(1)
        .mount(&server)
        .await;
    let publisher = PubSubPublisher::new(context(&server.uri()).await, "projects/other/topics/t");

    let result = publisher.publish(&[event("a.png")]).await;

    assert!(result.is_ok(), "not sent to {PROJECT}: {result:?}");
}
