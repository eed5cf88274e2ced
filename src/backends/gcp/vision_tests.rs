//! Cloud Vision SafeSearch against wiremock: exact requests, likelihood mapping, and the
//! per-image errors that arrive inside an HTTP 200.

use super::VisionModerator;
use super::test_support::context;
use super::vision::MAX_INLINE_IMAGE_BYTES;
use crate::backends::{BackendError, ModerationImage, Moderator};
use crate::domain::{Likelihood, SafeSearch};
use bytes::Bytes;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn moderator(server: &MockServer) -> VisionModerator {
    VisionModerator::new(context(&server.uri()).await)
}

fn answer(response: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "responses": [response] }))
}

/// The error `assess` returns when Vision answers `response` to its one call.
async fn refusal(response: ResponseTemplate, image: ModerationImage) -> BackendError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    moderator(&server).await.assess(&image).await.unwrap_err()
}

fn some_bytes() -> ModerationImage {
    ModerationImage::Bytes(Bytes::from_static(b"x"))
}

#[tokio::test]
async fn bytes_are_sent_base64_and_missing_likelihoods_read_as_unknown() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images:annotate"))
        .and(body_json(json!({"requests": [{
            "image": {"content": "iVBORw=="},
            "features": [{"type": "SAFE_SEARCH_DETECTION"}],
        }]})))
        .respond_with(answer(json!({"safeSearchAnnotation": {
            "adult": "VERY_UNLIKELY", "violence": "POSSIBLE", "racy": "VERY_LIKELY"}})))
        .expect(1)
        .mount(&server)
        .await;
    let image = ModerationImage::Bytes(Bytes::from_static(&[0x89, 0x50, 0x4e, 0x47]));

    let verdict = moderator(&server).await.assess(&image).await.unwrap();

    assert_eq!(
        verdict,
        SafeSearch {
            adult: Likelihood::VeryUnlikely,
            spoof: Likelihood::Unknown,
            medical: Likelihood::Unknown,
            violence: Likelihood::Possible,
            racy: Likelihood::VeryLikely,
        }
    );
}

#[tokio::test]
async fn a_storage_object_is_sent_as_a_gs_uri() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images:annotate"))
        .and(body_json(json!({"requests": [{
            "image": {"source": {"imageUri": "gs://uploads/dir/a b.png"}},
            "features": [{"type": "SAFE_SEARCH_DETECTION"}],
        }]})))
        .respond_with(answer(
            json!({"safeSearchAnnotation": {"medical": "LIKELY"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let image = ModerationImage::StorageUri {
        bucket: "uploads".to_owned(),
        name: "dir/a b.png".to_owned(),
    };

    let verdict = moderator(&server).await.assess(&image).await.unwrap();

    assert_eq!(verdict.medical, Likelihood::Likely);
}

#[tokio::test]
async fn a_per_image_invalid_argument_inside_a_200_is_a_permanent_item_error() {
    let too_large = json!({"error": {
        "code": 3, "message": "Image too large. Please limit to 75 megapixels."}});

    let error = refusal(answer(too_large), some_bytes()).await;

    assert!(
        matches!(error, BackendError::ItemError { code: 3, .. }),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(error.to_string().contains("75 megapixels"));
}

#[tokio::test]
async fn a_per_image_unavailable_is_reported_as_transient_for_eventarc_to_redeliver() {
    let unavailable = json!({"error": {"code": 14, "message": "try later"}});

    let error = refusal(answer(unavailable), some_bytes()).await;

    assert!(
        matches!(error, BackendError::ItemError { code: 14, .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
}

#[tokio::test]
async fn an_image_over_the_inline_limit_is_refused_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer(json!({})))
        .expect(0)
        .mount(&server)
        .await;
    let image = ModerationImage::Bytes(Bytes::from(vec![0u8; MAX_INLINE_IMAGE_BYTES + 1]));

    let error = moderator(&server).await.assess(&image).await.unwrap_err();

    assert!(matches!(error, BackendError::Invalid(_)), "{error:?}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn an_answer_without_responses_is_malformed_and_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let image = ModerationImage::Bytes(Bytes::from_static(b"x"));

    let error = moderator(&server).await.assess(&image).await.unwrap_err();

    assert!(matches!(error, BackendError::Malformed { .. }), "{error:?}");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_403_is_a_misconfiguration_retried_later_not_a_verdict_failure() {
    let api_disabled = ResponseTemplate::new(403).set_body_json(json!({"error": {
        "code": 403, "status": "PERMISSION_DENIED",
        "message": "Cloud Vision API has not been used in project 1 or it is disabled."}}));

    let error = refusal(api_disabled, some_bytes()).await;

    assert!(
        matches!(error, BackendError::Misconfigured { .. }),
        "{error:?}"
    );
    assert!(error.is_transient(), "fail_closed must not judge on it");
    assert!(error.to_string().contains("disabled"), "{error}");
}

#[tokio::test]
async fn a_per_image_permission_denied_on_a_gs_uri_is_a_misconfiguration_too() {
    let no_access = json!({"error": {
        "code": 7, "message": "Error opening file: gs://uploads/a.png."}});
    let image = ModerationImage::StorageUri {
        bucket: "uploads".to_owned(),
        name: "a.png".to_owned(),
    };

    let error = refusal(answer(no_access), image).await;

    assert!(
        matches!(error, BackendError::Misconfigured { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
}
