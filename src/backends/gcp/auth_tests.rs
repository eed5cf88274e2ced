//! gcp_auth's service-account path against a loopback token endpoint: the bearer token
//! reaches every service, is fetched once and cached; emulators get no token; a failing
//! token endpoint is a transient `Auth` error.

use super::test_support::{service_account_json, settings};
use super::{FirestoreRecords, GcpContext, GcsStore, PubSubPublisher, VisionModerator};
use crate::backends::{BackendError, ModerationImage, Moderator, ObjectStore, Publisher, Records};
use crate::domain::{ObjectRef, PipelineEvent, PipelineEventType, RecordKey, StageUpdate};
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn token_endpoint(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
        ))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

fn service_account(server: &MockServer) -> Arc<dyn gcp_auth::TokenProvider> {
    let key = service_account_json(&format!("{}/token", server.uri()));
    Arc::new(gcp_auth::CustomServiceAccount::from_json(&key).unwrap())
}

fn deleted_event() -> PipelineEvent {
    let key = RecordKey::new("uploads", "a.png");
    PipelineEvent::new(
        PipelineEventType::Failed,
        "resize",
        &key,
        1,
        StageUpdate::Deleted,
    )
}

fn token_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": "ya29.test-token", "expires_in": 3600, "token_type": "Bearer"}))
}

#[tokio::test]
async fn the_service_account_token_reaches_all_four_services_and_is_fetched_once() {
    let server = MockServer::start().await;
    token_endpoint(&server, token_ok(), 1).await;
    Mock::given(header("authorization", "Bearer ya29.test-token"))
        .and(path("/storage/v1/b/uploads/o/a.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"bucket": "uploads", "name": "a.png", "generation": "1"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(header("authorization", "Bearer ya29.test-token"))
        .and(method("GET"))
        .and(path(
            "/v1/projects/test-project/databases/(default)/documents/images/uploads%252Fa.png",
        ))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(header("authorization", "Bearer ya29.test-token"))
        .and(path("/v1/projects/test-project/topics/t:publish"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"messageIds": ["1"]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(header("authorization", "Bearer ya29.test-token"))
        .and(path("/v1/images:annotate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"responses": [{}]})))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = GcpContext::with_token_provider(&settings(&server.uri()), service_account(&server))
        .await
        .unwrap();

    GcsStore::new(ctx.clone())
        .stat(&ObjectRef::new("uploads", "a.png"))
        .await
        .unwrap();
    FirestoreRecords::new(ctx.clone(), "images")
        .get(&RecordKey::new("uploads", "a.png"))
        .await
        .unwrap();
    PubSubPublisher::new(ctx.clone(), "t")
        .publish(&[deleted_event()])
        .await
        .unwrap();
    let verdict = VisionModerator::new(ctx)
        .assess(&ModerationImage::Bytes(Bytes::from_static(b"x")))
        .await;

    assert!(verdict.is_ok(), "{verdict:?}");
}

#[tokio::test]
async fn the_project_id_comes_from_the_key_when_settings_have_none() {
    let server = MockServer::start().await;
    let mut s = settings(&server.uri());
    s.project_id = String::new();

    let ctx = GcpContext::with_token_provider(&s, service_account(&server))
        .await
        .unwrap();

    assert_eq!(ctx.project_id.as_deref(), Some("key-project"));
}

#[tokio::test]
async fn an_emulated_firestore_gets_bearer_owner_and_no_token_is_fetched() {
    let server = MockServer::start().await;
    token_endpoint(&server, token_ok(), 0).await;
    Mock::given(header("authorization", "Bearer owner"))
        .and(method("GET"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = settings(&server.uri());
    s.emulated = vec![crate::config::EmulatedService::Firestore];
    let ctx = GcpContext::with_token_provider(&s, service_account(&server))
        .await
        .unwrap();

    let record = FirestoreRecords::new(ctx, "images")
        .get(&RecordKey::new("uploads", "a.png"))
        .await
        .unwrap();

    assert_eq!(record, None);
}

#[tokio::test]
async fn a_failing_token_endpoint_is_a_transient_auth_error_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/v1/projects/test-project/topics/t:publish"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let mut s = settings(&server.uri());
    s.retry_max_attempts = 1;
    let ctx = GcpContext::with_token_provider(&s, service_account(&server))
        .await
        .unwrap();
    let error = PubSubPublisher::new(ctx, "t")
        .publish(&[deleted_event()])
        .await
        .unwrap_err();

    assert!(matches!(error, BackendError::Auth(_)), "{error:?}");
    assert!(error.is_transient());
}
