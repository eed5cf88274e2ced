//! Pub/Sub push's ack rule for every outcome (gcp-contracts.md §3.1: 102, 200, 201, 202 and
//! 204 ack, anything else is redelivered), and refusals that name what is wrong.

use super::*;

/// A finalize notification for a small upload, with one attribute set to `value`.
fn notification_with(app: &TestApp, attribute: &str, value: &str) -> Message {
    let info = upload(app, "incoming/x.jpg", 10, 10);
    let mut message = notification(&info, "OBJECT_FINALIZE");
    message.attributes.insert(attribute.into(), value.into());
    message
}

#[actix_web::test]
async fn a_malformed_notification_is_acked_as_rejected_naming_the_attribute() {
    let app = spawn_app(&[]).await;
    let message = notification_with(&app, "objectGeneration", "12x");

    let (status, body) = push(&app.address, "/resize", Mode::Wrapped, &message).await;

    assert!(
        acknowledges(status),
        "a malformed push must not be redelivered: {status}"
    );
    assert_eq!(body["outcome"], "rejected", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`objectGeneration` is `12x`"),
        "{body}"
    );
    assert_eq!(app.store.puts.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn with_malformed_status_400_a_malformed_push_is_left_to_redelivery_and_dead_letters() {
    let app = spawn_app(&[("PIPELINE_SERVER__MALFORMED_STATUS", "400")]).await;
    let message = notification_with(&app, "payloadFormat", "NONE");

    let (status, body) = push(&app.address, "/resize", Mode::Unwrapped, &message).await;

    assert_eq!(
        (status, body["outcome"].as_str()),
        (400, Some("rejected")),
        "{body}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("`payloadFormat` is `NONE`"),
        "{body}"
    );
    assert!(!acknowledges(status));
}

#[actix_web::test]
async fn a_transient_failure_is_a_nack_and_the_redelivery_succeeds() {
    let app = spawn_app(&[]).await;
    let info = upload(&app, "incoming/flaky.jpg", 600, 400);
    let message = notification(&info, "OBJECT_FINALIZE");
    app.store.fail_next_puts.store(1, Ordering::SeqCst);

    let (first, body) = push(&app.address, "/thumbnail", Mode::Wrapped, &message).await;
    let (second, again) = push(&app.address, "/thumbnail", Mode::Wrapped, &message).await;

    assert_eq!(
        (first, body["outcome"].as_str()),
        (503, Some("retry")),
        "{body}"
    );
    assert!(
        !acknowledges(first),
        "Pub/Sub must redeliver a transient failure"
    );
    assert_eq!(again["outcome"], "processed", "{again}");
    assert!(acknowledges(second));
}

#[actix_web::test]
async fn skipped_and_duplicate_answers_are_acks_so_pub_sub_stops_delivering() {
    let app = spawn_app(&[]).await;
    let info = upload(&app, "incoming/a.jpg", 300, 200);
    let resized = notification(&info, "OBJECT_FINALIZE");

    let (processed, _) = push(&app.address, "/resize", Mode::Wrapped, &resized).await;
    let (duplicate, _) = push(&app.address, "/resize", Mode::Wrapped, &resized).await;
    let published = app.publisher.take();
    let (skipped, body) = push(
        &app.address,
        "/thumbnail",
        Mode::Wrapped,
        &pipeline_message(&published[0]),
    )
    .await;

    assert_eq!(body["outcome"], "skipped", "{body}");
    for status in [processed, duplicate, skipped] {
        assert!(acknowledges(status), "{status}");
    }
}

#[actix_web::test]
async fn a_post_that_is_neither_a_cloudevent_nor_a_push_is_rejected_with_the_way_out() {
    let app = spawn_app(&[]).await;

    let response = app
        .client
        .post(format!("{}/record", app.address))
        .header("content-type", "application/json")
        .body(r#"{"bucket":"uploads","name":"a.jpg"}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "rejected");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("--push-no-wrapper-write-metadata"),
        "{body}"
    );
}
