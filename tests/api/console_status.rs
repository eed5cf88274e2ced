//! `GET /images/<bucket>/<name>` (the record as JSON) in both profiles, and which profile
//! serves the console at all.

use crate::derived_marker::TEST_SIGNING_KEY;
use crate::helpers::{BUCKET, TestApp, jpeg, spawn_app};

async fn get(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// An app whose record route has seen `photo.jpg` uploaded (a pending record).
async fn app_with_a_record(env: &[(&str, &str)]) -> TestApp {
    let app = spawn_app(env).await;
    let (_, status, _) = app
        .upload_and_notify("/record", "in/photo.jpg", &jpeg(64, 48), "image/jpeg")
        .await;
    assert_eq!(status, 200);
    app
}

#[actix_web::test]
async fn the_status_api_answers_the_images_record_as_json() {
    // Arrange
    let app = app_with_a_record(&[]).await;

    // Act
    let (status, body) = get(&app, "/images/uploads/in/photo.jpg").await;

    // Assert
    assert_eq!(status, 200);
    let record = app.records.record(BUCKET, "in/photo.jpg").unwrap();
    assert_eq!(body, serde_json::to_value(&record).unwrap());
    assert_eq!(body["status"], "pending");
}

#[actix_web::test]
async fn the_status_api_answers_404_for_an_image_without_a_record() {
    let app = app_with_a_record(&[]).await;

    let (status, body) = get(&app, "/images/uploads/unknown.jpg").await;

    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("unknown.jpg"),
        "{body}"
    );
}

#[actix_web::test]
async fn the_gcp_profile_serves_no_console_and_no_status_api_unless_enabled() {
    let env = [
        ("PIPELINE_PROFILE", "gcp"),
        ("PIPELINE_GCP__PROJECT_ID", "p"),
        ("PIPELINE_DERIVED__SIGNING_KEY", TEST_SIGNING_KEY),
    ];
    let app = app_with_a_record(&env).await;

    let (console, _) = get(&app, "/console").await;
    let (status_api, _) = get(&app, "/images/uploads/in/photo.jpg").await;

    assert_eq!(console, 404);
    assert_eq!(status_api, 404, "the record exists, the route must not");
}

#[actix_web::test]
async fn the_gcp_profile_serves_the_status_api_with_server_status_api_true() {
    let env = [
        ("PIPELINE_PROFILE", "gcp"),
        ("PIPELINE_GCP__PROJECT_ID", "p"),
        ("PIPELINE_DERIVED__SIGNING_KEY", TEST_SIGNING_KEY),
        ("PIPELINE_SERVER__STATUS_API", "true"),
    ];
    let app = app_with_a_record(&env).await;

    let (status, body) = get(&app, "/images/uploads/in/photo.jpg").await;
    let (console, _) = get(&app, "/console").await;

    assert_eq!(status, 200);
    assert_eq!(body["name"], "in/photo.jpg");
    assert_eq!(console, 404);
}
