//! Unit tests for plain Pub/Sub push: wrapped and unwrapped, pipeline messages and Cloud
//! Storage notifications, and every refusal naming its field or attribute.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Value, json};

use super::*;
use crate::events::types;
use crate::events::{EventData, parse};

const SUBSCRIPTION: &str = "projects/p/subscriptions/image-pipeline-resize";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn object_resource(generation: Option<&str>) -> Value {
    let mut object = json!({
        "kind": "storage#object",
        "bucket": "uploads",
        "name": "incoming/cat photo.jpg",
        "metageneration": "1",
        "size": "48213",
        "contentType": "image/jpeg",
    });
    if let Some(g) = generation {
        object["generation"] = g.into();
    }
    object
}

fn notification_attributes(event_type: &str) -> Value {
    json!({
        "notificationConfig": "projects/_/buckets/uploads/notificationConfigs/1",
        "eventType": event_type,
        "payloadFormat": "JSON_API_V1",
        "bucketId": "uploads",
        "objectId": "incoming/cat photo.jpg",
        "objectGeneration": "1746544455917163",
        "eventTime": "2026-11-25T10:00:00.123456Z",
    })
}

fn wrapped_body(data: &[u8], attributes: Value) -> Bytes {
    let body = json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "attributes": attributes,
            "messageId": "2070443601311540",
            "message_id": "2070443601311540",
            "publishTime": "2026-11-25T10:00:01.000Z",
        },
        "subscription": SUBSCRIPTION,
    });
    Bytes::from(body.to_string())
}

fn wrapped(data: &[u8], attributes: Value) -> Result<CloudEvent, PushError> {
    let map = headers(&[("content-type", "application/json")]);
    from_http(&map, wrapped_body(data, attributes))
}

fn notification(attributes: Value) -> Result<CloudEvent, PushError> {
    let data = object_resource(Some("1746544455917163")).to_string();
    wrapped(data.as_bytes(), attributes)
}

fn unwrapped(data: &[u8], attributes: &[(&str, &str)]) -> Result<CloudEvent, PushError> {
    let mut pairs = vec![
        ("content-type", "application/json"),
        (MESSAGE_ID_HEADER, "2070443601311540"),
        (SUBSCRIPTION_HEADER, SUBSCRIPTION),
        (PUBLISH_TIME_HEADER, "2026-11-25T10:00:01.000Z"),
        ("user-agent", "APIs-Google"),
        ("x-forwarded-for", "10.0.0.1"),
    ];
    pairs.extend_from_slice(attributes);
    from_http(&headers(&pairs), Bytes::copy_from_slice(data))
}

#[test]
fn a_wrapped_push_becomes_the_message_published_event_eventarc_would_send() {
    // Arrange
    let data = br#"{"bucket":"uploads","name":"a.png","generation":"7"}"#;
    let attributes = json!({"eventType": "image.resized", "source": "image-pipeline/resize"});

    // Act
    let event = wrapped(data, attributes).unwrap();

    // Assert
    assert_eq!(event.ty, types::PUBSUB_PUBLISHED);
    assert_eq!(event.id, "2070443601311540");
    assert_eq!(
        event.source,
        format!("//pubsub.googleapis.com/{SUBSCRIPTION}")
    );
    assert_eq!(event.time.as_deref(), Some("2026-11-25T10:00:01.000Z"));
    let EventData::PubSub(published) = parse(&event).unwrap() else {
        panic!("expected a Pub/Sub payload");
    };
    assert_eq!(published.decoded_data().unwrap(), data.to_vec());
    assert_eq!(published.attribute("eventType"), Some("image.resized"));
    assert_eq!(published.subscription.as_deref(), Some(SUBSCRIPTION));
}

#[test]
fn an_unwrapped_push_reads_metadata_and_known_attributes_from_headers() {
    // Arrange: HTTP lowers header names, so the attribute arrives as `eventtype`.
    let data = br#"{"bucket":"uploads","name":"a.png","generation":"7"}"#;
    let attributes = [
        ("eventtype", "image.resized"),
        ("source", "image-pipeline/resize"),
    ];

    // Act
    let event = unwrapped(data, &attributes).unwrap();

    // Assert
    assert_eq!(event.ty, types::PUBSUB_PUBLISHED);
    assert_eq!(event.id, "2070443601311540");
    let EventData::PubSub(published) = parse(&event).unwrap() else {
        panic!("expected a Pub/Sub payload");
    };
    assert_eq!(published.decoded_data().unwrap(), data.to_vec());
    assert_eq!(published.attribute("eventType"), Some("image.resized"));
    assert_eq!(published.attribute("source"), Some("image-pipeline/resize"));
    assert_eq!(
        published.message.attributes.len(),
        2,
        "other headers are not attributes: {:?}",
        published.message.attributes
    );
}

#[test]
fn a_wrapped_finalize_notification_becomes_a_storage_finalized_event() {
    // Act
    let event = notification(notification_attributes("OBJECT_FINALIZE")).unwrap();

    // Assert
    assert_eq!(event.ty, types::STORAGE_FINALIZED);
    assert_eq!(event.id, "2070443601311540");
    assert_eq!(
        event.source,
        "//storage.googleapis.com/projects/_/buckets/uploads"
    );
    assert_eq!(
        event.subject.as_deref(),
        Some("objects/incoming/cat photo.jpg")
    );
    assert_eq!(event.time.as_deref(), Some("2026-11-25T10:00:00.123456Z"));
    assert_eq!(
        event.extensions.get("bucket").map(String::as_str),
        Some("uploads")
    );
    let EventData::Storage(object) = parse(&event).unwrap() else {
        panic!("expected a storage payload");
    };
    assert_eq!(object.name, "incoming/cat photo.jpg");
    assert_eq!(object.generation, Some(1_746_544_455_917_163));
    assert_eq!(object.content_type.as_deref(), Some("image/jpeg"));
}

#[test]
fn an_unwrapped_delete_notification_becomes_a_storage_deleted_event() {
    // Arrange
    let data = object_resource(Some("1746544455917163")).to_string();
    let attributes = [
        ("eventtype", "OBJECT_DELETE"),
        ("payloadformat", "JSON_API_V1"),
        ("bucketid", "uploads"),
        ("objectid", "incoming/cat photo.jpg"),
        ("objectgeneration", "1746544455917163"),
        ("overwrittenbygeneration", "1746544455917999"),
    ];

    // Act
    let event = unwrapped(data.as_bytes(), &attributes).unwrap();

    // Assert
    assert_eq!(event.ty, types::STORAGE_DELETED);
    assert_eq!(
        event.time.as_deref(),
        Some("2026-11-25T10:00:01.000Z"),
        "publish time without eventTime"
    );
    assert!(matches!(parse(&event), Ok(EventData::Storage(ref o)) if o.bucket == "uploads"));
}

#[test]
fn a_notification_payload_without_a_generation_takes_it_from_the_attribute() {
    let data = object_resource(None).to_string();

    let event = wrapped(data.as_bytes(), notification_attributes("OBJECT_FINALIZE")).unwrap();

    let EventData::Storage(object) = parse(&event).unwrap() else {
        panic!("expected a storage payload");
    };
    assert_eq!(object.generation, Some(1_746_544_455_917_163));
}

#[test]
fn each_faulty_notification_attribute_is_named_in_the_refusal() {
    let cases: [(&str, Value, &str); 7] = [
        ("bucketId", Value::Null, "attribute `bucketId` is missing"),
        (
            "eventType",
            "OBJECT_EXPLODE".into(),
            "attribute `eventType` is `OBJECT_EXPLODE`",
        ),
        (
            "objectGeneration",
            "12x".into(),
            "attribute `objectGeneration` is `12x`, not an integer",
        ),
        (
            "objectGeneration",
            "99".into(),
            "attribute `objectGeneration` is 99, but the message data has generation 1746544455917163",
        ),
        (
            "payloadFormat",
            "NONE".into(),
            "attribute `payloadFormat` is `NONE`",
        ),
        (
            "eventTime",
            "yesterday".into(),
            "attribute `eventTime` is `yesterday`, not an RFC 3339",
        ),
        (
            "objectId",
            "other.jpg".into(),
            "attribute `objectId` is `other.jpg`, but the message data names object",
        ),
    ];
    for (attribute, value, expected) in cases {
        let mut attributes = notification_attributes("OBJECT_FINALIZE");
        match value {
            Value::Null => attributes.as_object_mut().unwrap().remove(attribute),
            value => attributes
                .as_object_mut()
                .unwrap()
                .insert(attribute.into(), value),
        };

        let error = notification(attributes).unwrap_err();

        assert!(error.to_string().contains(expected), "{attribute}: {error}");
    }
}

#[test]
fn a_notification_whose_data_is_not_an_object_resource_is_refused() {
    let error = wrapped(b"not json", notification_attributes("OBJECT_FINALIZE")).unwrap_err();

    assert!(
        error
            .to_string()
            .contains("the message data is not an object resource"),
        "{error}"
    );
}

#[test]
fn a_push_without_its_message_id_or_subscription_is_refused() {
    // Wrapped: no messageId.
    let body = json!({"message": {"data": "e30="}, "subscription": SUBSCRIPTION}).to_string();
    let error = from_http(&HeaderMap::new(), Bytes::from(body)).unwrap_err();
    assert!(
        matches!(
            error,
            PushError::MissingField {
                field: "message.messageId"
            }
        ),
        "{error}"
    );

    // Unwrapped: no subscription header.
    let map = headers(&[(MESSAGE_ID_HEADER, "1")]);
    let error = from_http(&map, Bytes::from_static(b"{}")).unwrap_err();
    assert!(
        matches!(
            error,
            PushError::MissingField {
                field: SUBSCRIPTION_HEADER
            }
        ),
        "{error}"
    );
}

#[test]
fn wrapped_data_that_is_not_base64_is_refused() {
    let body =
        json!({"message": {"data": "not base64!", "messageId": "1"}, "subscription": SUBSCRIPTION});

    let error = from_http(&HeaderMap::new(), Bytes::from(body.to_string())).unwrap_err();

    assert!(matches!(error, PushError::InvalidData { .. }), "{error}");
}

#[test]
fn a_request_that_is_neither_a_cloudevent_nor_a_push_says_how_to_fix_an_unwrapped_push() {
    for (content_type, body) in [("application/json", "{}"), ("text/plain", "hello")] {
        let map = headers(&[("content-type", content_type)]);

        let error = from_http(&map, Bytes::from_static(body.as_bytes())).unwrap_err();

        assert!(matches!(error, PushError::NotAnEvent), "{body}: {error}");
        assert!(
            error
                .to_string()
                .contains("--push-no-wrapper-write-metadata"),
            "{error}"
        );
    }
}

#[test]
fn ce_headers_win_over_a_body_that_looks_like_a_push() {
    // Eventarc's own messagePublished delivery has this very body, with ce-* headers.
    let mut map = headers(&[
        ("ce-id", "eventarc-1"),
        ("ce-source", "//pubsub.googleapis.com/projects/p/topics/t"),
        ("ce-specversion", "1.0"),
        ("ce-type", types::PUBSUB_PUBLISHED),
    ]);
    map.insert(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("application/json"),
    );

    let event = from_http(&map, wrapped_body(b"x", json!({}))).unwrap();

    assert_eq!(event.id, "eventarc-1");
    assert_eq!(event.source, "//pubsub.googleapis.com/projects/p/topics/t");
}

#[test]
fn a_malformed_cloudevent_is_refused_as_one_and_never_read_as_a_push() {
    let map = headers(&[("ce-id", "1"), ("ce-specversion", "1.0"), ("ce-type", "t")]);

    let error = from_http(&map, wrapped_body(b"x", json!({}))).unwrap_err();

    assert!(
        matches!(
            error,
            PushError::CloudEvent(CloudEventError::MissingAttribute { name: "source" })
        ),
        "{error}"
    );
}

#[test]
fn a_redelivery_carries_the_same_idempotency_key() {
    let first = notification(notification_attributes("OBJECT_FINALIZE")).unwrap();
    let again = notification(notification_attributes("OBJECT_FINALIZE")).unwrap();

    assert_eq!((first.source, first.id), (again.source, again.id));
}

#[test]
fn only_the_documented_push_success_codes_acknowledge() {
    for status in ACK_STATUSES {
        assert!(acknowledges(status), "{status}");
    }
    for status in [100, 203, 205, 206, 301, 400, 404, 429, 500, 503] {
        assert!(!acknowledges(status), "{status}");
    }
}
