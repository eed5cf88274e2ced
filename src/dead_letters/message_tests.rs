//! Reading dead letters: the three shapes, the source subscription, the route.

use super::*;
use crate::backends::gcp::PubsubMessage;

fn received(data: &[u8], attributes: &[(&str, &str)]) -> ReceivedMessage {
    ReceivedMessage {
        ack_id: "ack".into(),
        message: PubsubMessage {
            data: Some(STANDARD.encode(data)),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            message_id: "m-1".into(),
            publish_time: Some("2026-11-26T10:00:00Z".into()),
        },
        delivery_attempt: None,
    }
}

const ROUTES: [&str; 4] = ["resize", "thumbnail", "moderate", "record"];

#[test]
fn a_structured_cloudevent_is_replayed_whole_with_its_media_type() {
    // Arrange
    let event = br#"{"specversion":"1.0","id":"e-9","type":"t","source":"s","data":{}}"#;
    let message = received(
        event,
        &[
            (
                "content-type",
                "application/cloudevents+json; charset=utf-8",
            ),
            (SOURCE_SUBSCRIPTION, "image-pipeline-record-uploads"),
        ],
    );

    // Act
    let letter = GcpDeadLetter::read(&message, "p", &ROUTES).unwrap();

    // Assert
    assert_eq!(letter.shape, Shape::Structured);
    assert_eq!(
        (letter.event_id.as_str(), letter.event_type.as_str()),
        ("e-9", "t")
    );
    assert_eq!(letter.body.as_ref(), event);
    assert_eq!(
        letter.headers,
        [(
            "content-type".to_owned(),
            "application/cloudevents+json; charset=utf-8".to_owned()
        )]
    );
    assert_eq!(
        letter.source_subscription,
        "projects/p/subscriptions/image-pipeline-record-uploads"
    );
    assert_eq!(letter.path, "/record");
}

#[test]
fn a_binary_cloudevent_keeps_its_ce_attributes_as_headers_and_datacontenttype_as_content_type() {
    // Arrange
    let message = received(
        b"{}",
        &[
            ("ce-id", "e-1"),
            ("ce-type", "google.cloud.storage.object.v1.finalized"),
            ("ce-datacontenttype", "application/json; charset=utf-8"),
            (DELIVERY_COUNT, "7"),
            (SOURCE_SUBSCRIPTION, "projects/q/subscriptions/x"),
        ],
    );

    // Act
    let letter = GcpDeadLetter::read(&message, "p", &ROUTES).unwrap();

    // Assert: Pub/Sub's own attributes are not part of the event.
    assert_eq!(letter.shape, Shape::Binary);
    assert_eq!(letter.attempts, Some(7));
    let names: Vec<&str> = letter.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ce-id", "ce-type", "content-type"]);
    assert_eq!(letter.headers[2].1, "application/json; charset=utf-8");
    assert_eq!(letter.source_subscription, "projects/q/subscriptions/x");
    assert_eq!(
        letter.path, "/",
        "a subscription that names no route goes to POST /"
    );
}

#[test]
fn a_subscription_that_names_two_routes_is_replayed_to_every_route() {
    assert_eq!(
        route_path("projects/p/subscriptions/resize-and-record", &ROUTES),
        "/"
    );
    assert_eq!(
        route_path(
            "projects/p/subscriptions/eventarc-us-central1-image-pipeline-record-events-sub-1",
            &ROUTES
        ),
        "/record"
    );
    assert_eq!(route_path("", &ROUTES), "/");
}

#[test]
fn a_plain_message_drops_the_dead_letter_attributes_from_its_push() {
    // Arrange
    let message = received(
        b"{\"image\":1}",
        &[("eventType", "image.resized"), (DELIVERY_COUNT, "5")],
    );

    // Act
    let letter = GcpDeadLetter::read(&message, "p", &ROUTES).unwrap();

    // Assert: no source subscription given, so the push names a placeholder one.
    let push: serde_json::Value = serde_json::from_slice(&letter.body).unwrap();
    assert_eq!(letter.shape, Shape::Plain);
    assert_eq!(
        push["message"]["attributes"],
        json!({"eventType": "image.resized"})
    );
    assert_eq!(push["subscription"], "projects/p/subscriptions/unknown");
    assert_eq!(letter.event_id, "m-1");
}
