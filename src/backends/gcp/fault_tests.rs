//! The fault classes for Firestore and Vision against wiremock (Pub/Sub's are in
//! `pubsub_tests.rs`, Storage's in `storage_tests.rs`): 503 then 200 is retried, 429 waits
//! for `Retry-After`, a hanging server times out (transient), 403 is permanent for
//! Firestore (Vision's 403 is a misconfiguration, retried: `vision_tests.rs`).

use super::test_support::{context, settings};
use super::{FirestoreRecords, GcpContext, VisionModerator};
use crate::backends::{BackendError, BackendResult, ModerationImage, Moderator, Records};
use crate::domain::RecordKey;
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One call to `service` (a Firestore read or a Vision annotate) against the mock.
async fn call(service: &str, ctx: Arc<GcpContext>) -> BackendResult<()> {
    match service {
        "firestore" => FirestoreRecords::new(ctx, "images")
            .get(&RecordKey::new("uploads", "a.png"))
            .await
            .map(drop),
        _ => VisionModerator::new(ctx)
            .assess(&ModerationImage::Bytes(Bytes::from_static(b"x")))
            .await
            .map(drop),
    }
}

fn ok(service: &str) -> ResponseTemplate {
    let body = if service == "firestore" {
        json!({"fields": {}, "updateTime": "2026-11-25T04:00:00Z"})
    } else {
        json!({"responses": [{"safeSearchAnnotation": {}}]})
    };
    ResponseTemplate::new(200).set_body_json(body)
}

async fn then_ok(server: &MockServer, first: ResponseTemplate, service: &str) {
    Mock::given(wiremock::matchers::any())
        .respond_with(first)
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ok(service))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_503_then_200_is_retried_to_success() {
    for service in ["firestore", "vision"] {
        let server = MockServer::start().await;
        then_ok(&server, ResponseTemplate::new(503), service).await;

        let result = call(service, context(&server.uri()).await).await;

        assert!(result.is_ok(), "{service}: {result:?}");
    }
}

#[tokio::test]
async fn a_429_with_retry_after_waits_that_long_then_succeeds() {
    for service in ["firestore", "vision"] {
        let server = MockServer::start().await;
        let busy = ResponseTemplate::new(429).insert_header("Retry-After", "1");
        then_ok(&server, busy, service).await;
        let started = Instant::now();

        let result = call(service, context(&server.uri()).await).await;

        assert!(result.is_ok(), "{service}: {result:?}");
        assert!(started.elapsed() >= Duration::from_secs(1), "{service}");
    }
}

#[tokio::test]
async fn a_hanging_server_is_a_transient_timeout_within_the_budget() {
    for service in ["firestore", "vision"] {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ok(service).set_delay(Duration::from_secs(30)))
            .mount(&server)
            .await;
        let mut s = settings(&server.uri());
        s.retry_budget_secs = 2;
        let started = Instant::now();

        let error = call(service, GcpContext::new(&s).await.unwrap())
            .await
            .unwrap_err();

        assert!(
            matches!(error, BackendError::Timeout { .. }),
            "{service}: {error:?}"
        );
        assert!(error.is_transient());
        assert!(started.elapsed() < Duration::from_secs(4), "{service}");
    }
}

#[tokio::test]
async fn a_firestore_403_is_permanent_and_not_retried() {
    let service = "firestore";
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
                "code": 403, "message": "Missing or insufficient permissions.",
                "status": "PERMISSION_DENIED"}})))
        .expect(1)
        .mount(&server)
        .await;

    let error = call(service, context(&server.uri()).await)
        .await
        .unwrap_err();

    assert!(
        matches!(error, BackendError::Http { status: 403, .. }),
        "{service}"
    );
    assert!(!error.is_transient());
    assert!(error.to_string().contains("PERMISSION_DENIED"), "{error}");
}
