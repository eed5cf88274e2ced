//! Service core: route enablement, CloudEvent validation, outcome mapping, limits.

use crate::helpers::*;
use serde_json::{Value, json};

async fn post_raw(app: &TestApp, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request = app.client.post(format!("{}{path}", app.address));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.body(body.to_owned()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const VALID: [(&str, &str); 5] = [
    ("ce-id", "1"),
    (
        "ce-source",
        "//storage.googleapis.com/projects/_/buckets/uploads",
    ),
    ("ce-specversion", "1.0"),
    ("ce-type", FINALIZED),
    ("content-type", "application/json"),
];

fn without(name: &str) -> Vec<(&'static str, &'static str)> {
    VALID.iter().copied().filter(|(k, _)| *k != name).collect()
}

#[actix_web::test]
async fn healthz_reports_ok_the_enabled_routes_and_the_version() {
    let app = spawn_app(&[("PIPELINE_ROUTES", "resize,record")]).await;

    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["routes"], json!(["resize", "record"]));
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[actix_web::test]
async fn route_not_in_pipeline_routes_is_not_mounted() {
    let app = spawn_app(&[("PIPELINE_ROUTES", "record")]).await;

    let (status, _) = post_raw(&app, "/resize", &VALID, "{}").await;

    assert_eq!(status, 404);
}

#[actix_web::test]
async fn missing_ce_id_is_acknowledged_as_rejected() {
    let app = spawn_app(&[]).await;

    let (status, body) = post_raw(&app, "/record", &without("ce-id"), "{}").await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected");
    assert_eq!(body["route"], "record");
    assert!(body["detail"].as_str().unwrap().contains("id"), "{body}");
}

#[actix_web::test]
async fn malformed_event_gets_400_when_configured() {
    let app = spawn_app(&[("PIPELINE_SERVER__MALFORMED_STATUS", "400")]).await;

    let (status, body) = post_raw(&app, "/record", &without("ce-type"), "{}").await;

    assert_eq!(status, 400);
    assert_eq!(body["outcome"], "rejected");
}

#[actix_web::test]
async fn every_missing_or_bad_required_attribute_is_rejected_with_a_reason() {
    let app = spawn_app(&[]).await;
    let mut cases: Vec<(String, Vec<(&str, &str)>)> =
        ["ce-id", "ce-source", "ce-specversion", "ce-type"]
            .iter()
            .map(|h| (format!("missing {h}"), without(h)))
            .collect();
    let mut empty_id = without("ce-id");
    empty_id.push(("ce-id", ""));
    cases.push(("empty ce-id".into(), empty_id));
    let mut wrong_version = without("ce-specversion");
    wrong_version.push(("ce-specversion", "0.3"));
    cases.push(("specversion 0.3".into(), wrong_version));
    let mut bad_escape = without("ce-source");
    bad_escape.push(("ce-source", "%C0%A0bad"));
    cases.push(("invalid UTF-8 escape".into(), bad_escape));

    for (case, headers) in cases {
        let (status, body) = post_raw(&app, "/record", &headers, "{}").await;

        assert_eq!(status, 200, "{case}");
        assert_eq!(body["outcome"], "rejected", "{case}: {body}");
        assert!(!body["detail"].as_str().unwrap_or("").is_empty(), "{case}");
    }
}

#[actix_web::test]
async fn body_that_is_not_the_declared_json_is_rejected() {
    let app = spawn_app(&[]).await;

    let (status, body) = post_raw(&app, "/record", &VALID, "{not json").await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected");
}

#[actix_web::test]
async fn unknown_ce_type_is_skipped_not_failed() {
    let app = spawn_app(&[]).await;
    let mut headers = without("ce-type");
    headers.push(("ce-type", "com.example.unknown"));

    let (status, body) = post_raw(&app, "/resize", &headers, "{}").await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "skipped");
}

#[actix_web::test]
async fn batch_mode_is_rejected() {
    let app = spawn_app(&[]).await;

    let (status, body) = post_raw(
        &app,
        "/record",
        &[("content-type", "application/cloudevents-batch+json")],
        "[]",
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected");
    assert!(body["detail"].as_str().unwrap().contains("batch"), "{body}");
}

#[actix_web::test]
async fn structured_mode_event_is_accepted() {
    let app = spawn_app(&[]).await;
    let info = app
        .store
        .insert(BUCKET, "s.jpg", &jpeg(8, 8), &Default::default());
    let event = json!({
        "specversion": "1.0", "id": "s-1", "type": FINALIZED,
        "source": "//storage.googleapis.com/projects/_/buckets/uploads",
        "datacontenttype": "application/json",
        "data": storage_data(&info),
    });

    let (status, body) = post_raw(
        &app,
        "/record",
        &[(
            "content-type",
            "application/cloudevents+json; charset=UTF-8",
        )],
        &event.to_string(),
    )
    .await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "processed", "{body}");
}

#[actix_web::test]
async fn body_over_the_limit_gets_413() {
    let app = spawn_app(&[("PIPELINE_SERVER__BODY_LIMIT_BYTES", "2048")]).await;

    let (status, _) = post_raw(&app, "/record", &VALID, &"x".repeat(4096)).await;

    assert_eq!(status, 413);
}

#[actix_web::test]
async fn root_path_dispatches_a_storage_event_to_every_route_that_accepts_it() {
    let app = spawn_app(&[]).await;

    let (_, status, body) = app
        .upload_and_notify("/", "dispatch.jpg", &jpeg(64, 48), "image/jpeg")
        .await;

    assert_eq!(status, 200);
    assert_eq!(body["route"], "resize,thumbnail,record", "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn root_path_with_no_accepting_route_is_skipped() {
    let app = spawn_app(&[("PIPELINE_ROUTES", "moderate")]).await;

    let (_, status, body) = app
        .upload_and_notify("/", "nobody.jpg", &jpeg(8, 8), "image/jpeg")
        .await;

    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "skipped");
}

#[actix_web::test]
async fn transient_backend_failure_answers_retry_with_503() {
    let app = spawn_app(&[]).await;
    app.store
        .fail_next_puts
        .store(1, std::sync::atomic::Ordering::SeqCst);

    let (_, status, body) = app
        .upload_and_notify("/resize", "flaky.jpg", &jpeg(64, 48), "image/jpeg")
        .await;

    assert_eq!(status, 503);
    assert_eq!(body["outcome"], "retry");
}

#[actix_web::test]
async fn in_the_local_profile_a_push_without_a_json_content_type_is_refused() {
    // Arrange: a wrapped push, which a web page can POST cross-origin with no preflight
    // as long as it sends no Content-Type (or a "simple" one).
    let app = spawn_app(&[("PIPELINE_PROFILE", "local")]).await;
    let push = json!({
        "message": {"data": "e30=", "messageId": "m-1", "attributes": {}},
        "subscription": "projects/p/subscriptions/s",
    })
    .to_string();

    // Act
    let (status, refused) = post_raw(&app, "/", &[], &push).await;
    let (_, as_text) = post_raw(&app, "/", &[("content-type", "text/plain")], &push).await;
    let (_, as_json) = post_raw(&app, "/", &[("content-type", "application/json")], &push).await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(refused["outcome"], "rejected", "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("local profile"), "{refused}");
    assert_eq!(as_text["outcome"], "rejected", "{as_text}");
    assert_ne!(as_json["outcome"], "rejected", "{as_json}");
}
