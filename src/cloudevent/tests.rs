//! Unit tests for the HTTP binding: binary and structured mode, and every refusal.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;

use super::*;

pub(super) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        map.append(name, HeaderValue::from_bytes(value.as_bytes()).unwrap());
    }
    map
}

pub(super) fn storage_headers() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ce-id", "8861234567890123"),
        (
            "ce-source",
            "//storage.googleapis.com/projects/_/buckets/uploads",
        ),
        ("ce-specversion", "1.0"),
        ("ce-type", "google.cloud.storage.object.v1.finalized"),
        ("content-type", "application/json; charset=utf-8"),
    ]
}

pub(super) fn without(name: &str) -> Vec<(&'static str, &'static str)> {
    storage_headers()
        .into_iter()
        .filter(|(n, _)| *n != name)
        .collect()
}

fn structured(body: &str) -> Result<CloudEvent, CloudEventError> {
    let map = headers(&[(
        "content-type",
        "application/cloudevents+json; charset=UTF-8",
    )]);
    CloudEvent::from_http(&map, Bytes::from(body.to_owned()))
}

#[test]
fn a_binary_mode_event_keeps_attributes_extensions_and_body() {
    // Arrange
    let mut pairs = storage_headers();
    pairs.push(("ce-subject", "objects/incoming/a%20b.png"));
    pairs.push(("ce-time", "2025-05-06T15:14:15.917Z"));
    pairs.push(("CE-Bucket", "uploads"));
    pairs.push(("traceparent", "00-abc-def-01"));
    let body = Bytes::from_static(br#"{"bucket":"uploads"}"#);

    // Act
    let event = CloudEvent::from_http(&headers(&pairs), body.clone()).unwrap();

    // Assert
    assert_eq!(event.id, "8861234567890123");
    assert_eq!(event.ty, "google.cloud.storage.object.v1.finalized");
    assert_eq!(event.subject.as_deref(), Some("objects/incoming/a b.png"));
    assert_eq!(event.time.as_deref(), Some("2025-05-06T15:14:15.917Z"));
    assert_eq!(
        event.extensions.get("bucket").map(String::as_str),
        Some("uploads")
    );
    assert_eq!(
        event.extensions.len(),
        1,
        "non-ce headers are not extensions"
    );
    assert_eq!(event.media_type(), Some("application/json"));
    assert_eq!(event.data, body);
}

#[test]
fn each_missing_required_header_is_named_in_the_error() {
    for (header, attribute) in [
        ("ce-id", "id"),
        ("ce-source", "source"),
        ("ce-specversion", "specversion"),
        ("ce-type", "type"),
    ] {
        let result = CloudEvent::from_http(&headers(&without(header)), Bytes::new());

        match result {
            Err(CloudEventError::MissingAttribute { name }) => assert_eq!(name, attribute),
            other => panic!("expected MissingAttribute for {header}, got {other:?}"),
        }
    }
}

#[test]
fn an_empty_type_is_refused() {
    let mut pairs = without("ce-type");
    pairs.push(("ce-type", ""));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(matches!(
        error,
        CloudEventError::EmptyAttribute { name: "type" }
    ));
    assert_eq!(
        error.to_string(),
        "the CloudEvent attribute `type` is empty, and it must be a non-empty string"
    );
}

#[test]
fn a_specversion_other_than_1_0_is_refused() {
    let mut pairs = without("ce-specversion");
    pairs.push(("ce-specversion", "0.3"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(error.to_string().contains("specversion `0.3`"), "{error}");
}

#[test]
fn a_ce_datacontenttype_header_is_refused_in_binary_mode() {
    let mut pairs = storage_headers();
    pairs.push(("ce-datacontenttype", "application/json"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(matches!(error, CloudEventError::DataContentTypeHeader));
}

#[test]
fn an_undecodable_percent_escape_names_its_header() {
    let mut pairs = without("ce-id");
    pairs.push(("ce-id", "objects/a%G1.png"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert_eq!(
        error.to_string(),
        "the header ce-id has a malformed percent-escape at byte 9: `%` must be followed by two hex digits"
    );
}

#[test]
fn percent_escapes_that_are_not_utf8_are_refused() {
    let mut pairs = without("ce-id");
    pairs.push(("ce-id", "objects/%C0%A0"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(matches!(error, CloudEventError::InvalidUtf8 { ref header } if header == "ce-id"));
}

#[test]
fn a_subject_sent_unencoded_with_a_percent_sign_keeps_its_raw_text() {
    let mut pairs = storage_headers();
    pairs.push(("ce-subject", "objects/50%off.jpg"));

    let event = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap();

    assert_eq!(event.subject.as_deref(), Some("objects/50%off.jpg"));
}

#[test]
fn a_subject_whose_escapes_decode_to_no_utf8_keeps_its_raw_text() {
    let mut pairs = storage_headers();
    pairs.push(("ce-subject", "objects/%C0%A0"));

    let event = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap();

    assert_eq!(event.subject.as_deref(), Some("objects/%C0%A0"));
}

#[test]
fn an_extension_with_a_bad_percent_escape_keeps_its_raw_text() {
    let mut pairs = storage_headers();
    pairs.push(("ce-bucket", "sale%zz"));

    let event = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap();

    assert_eq!(event.extensions["bucket"], "sale%zz");
}

#[test]
fn raw_bytes_that_are_not_utf8_are_refused() {
    let mut map = headers(&storage_headers());
    map.insert(
        HeaderName::from_static("ce-subject"),
        HeaderValue::from_bytes(b"objects/\xff.png").unwrap(),
    );

    let error = CloudEvent::from_http(&map, Bytes::new()).unwrap_err();

    assert!(matches!(error, CloudEventError::InvalidUtf8 { .. }));
}

#[test]
fn a_repeated_attribute_header_is_refused_as_ambiguous() {
    let mut pairs = storage_headers();
    pairs.push(("ce-id", "other"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(matches!(error, CloudEventError::DuplicateHeader { ref header } if header == "ce-id"));
}

#[test]
fn a_plain_json_post_is_reported_as_not_a_cloudevent() {
    let map = headers(&[("content-type", "application/json")]);

    let error = CloudEvent::from_http(&map, Bytes::from_static(b"{}")).unwrap_err();

    assert!(matches!(error, CloudEventError::NotACloudEvent));
}

#[test]
fn quoted_header_values_are_accepted() {
    let mut pairs = without("ce-id");
    pairs.push(("ce-id", r#""abc-1""#));

    let event = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap();

    assert_eq!(event.id, "abc-1");
}

#[test]
fn binary_headers_round_trip_through_from_http() {
    // Arrange
    let original = CloudEvent::new(
        "id 1",
        "image-pipeline/resize",
        "google.cloud.pubsub.topic.v1.messagePublished",
        Bytes::from_static(b"{\"a\":1}"),
        Some("Application/JSON".to_owned()),
    )
    .with_subject("objects/Ünïcode 100% \"odd\".png")
    .with_time("2026-11-25T03:00:00Z")
    .with_extension("Bucket", "uploads € 😀");

    // Act
    let mut map = HeaderMap::new();
    for (name, value) in original.binary_headers() {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    let parsed = CloudEvent::from_http(&map, original.data.clone()).unwrap();

    // Assert
    assert_eq!(parsed, original);
    assert_eq!(parsed.media_type(), Some("application/json"));
    assert_eq!(
        parsed.extensions.get("bucket").map(String::as_str),
        Some("uploads € 😀")
    );
}

#[test]
fn a_structured_event_with_json_data_carries_the_data_as_bytes() {
    let body = r#"{"specversion":"1.0","type":"google.cloud.storage.object.v1.finalized",
        "source":"//storage.googleapis.com/projects/_/buckets/b","id":"42",
        "subject":"objects/a.png","bucket":"b","sequence":7,"flag":true,
        "data":{"bucket":"b","name":"a.png"}}"#;

    let event = structured(body).unwrap();

    assert_eq!(event.id, "42");
    assert_eq!(event.subject.as_deref(), Some("objects/a.png"));
    assert_eq!(
        event.media_type(),
        Some("application/json"),
        "absent means JSON"
    );
    let data: serde_json::Value = serde_json::from_slice(&event.data).unwrap();
    assert_eq!(data["name"], "a.png");
    assert_eq!(
        event.extensions.get("bucket").map(String::as_str),
        Some("b")
    );
    assert_eq!(
        event.extensions.get("sequence").map(String::as_str),
        Some("7")
    );
    assert_eq!(
        event.extensions.get("flag").map(String::as_str),
        Some("true")
    );
}

#[test]
fn a_structured_event_with_data_base64_is_decoded() {
    let body = r#"{"specversion":"1.0","type":"t","source":"s","id":"1",
        "datacontenttype":"application/protobuf","data_base64":"CgIIAQ=="}"#;

    let event = structured(body).unwrap();

    assert_eq!(event.data.as_ref(), &[0x0a, 0x02, 0x08, 0x01]);
    assert_eq!(event.media_type(), Some("application/protobuf"));
}

#[test]
fn a_structured_event_with_text_data_keeps_the_string() {
    let body = r#"{"specversion":"1.0","type":"t","source":"s","id":"1",
        "datacontenttype":"text/plain","data":"hello"}"#;

    let event = structured(body).unwrap();

    assert_eq!(event.data.as_ref(), b"hello");
}

#[test]
fn a_structured_event_with_object_data_for_a_text_type_is_refused() {
    let body = r#"{"specversion":"1.0","type":"t","source":"s","id":"1",
        "datacontenttype":"text/plain","data":{"a":1}}"#;

    let error = structured(body).unwrap_err();

    assert!(
        matches!(error, CloudEventError::DataNotString { .. }),
        "{error}"
    );
}

#[test]
fn a_structured_event_with_both_data_forms_is_refused() {
    let body = r#"{"specversion":"1.0","type":"t","source":"s","id":"1",
        "data":{},"data_base64":"AA=="}"#;

    let error = structured(body).unwrap_err();

    assert!(matches!(error, CloudEventError::DataAndDataBase64));
}

#[test]
fn structured_refusals_say_what_is_wrong() {
    let cases = [
        (
            "[1,2]",
            "must be one JSON object holding the event's attributes, but it is an array",
        ),
        ("{not json", "the structured-mode body is not valid JSON"),
        (
            r#"{"specversion":1.0,"type":"t","source":"s","id":"1"}"#,
            "attribute `specversion` must be a JSON string, but it is a number",
        ),
        (
            r#"{"specversion":"1.0","type":"t","id":"1"}"#,
            "has no `source` attribute",
        ),
        (
            r#"{"specversion":"1.0","type":"t","source":"s","id":"1","data_base64":"%%"}"#,
            "`data_base64` is not valid base64",
        ),
        (
            r#"{"specversion":"1.0","type":"t","source":"s","id":"1","ext":{"a":1}}"#,
            "extension attribute `ext` is an object, but an extension value must be",
        ),
    ];
    for (body, expected) in cases {
        let error = structured(body).unwrap_err();

        assert!(error.to_string().contains(expected), "{body}: {error}");
    }
}

#[test]
fn batch_mode_is_refused_as_unsupported() {
    let map = headers(&[("content-type", "application/cloudevents-batch+json")]);

    let error = CloudEvent::from_http(&map, Bytes::from_static(b"[]")).unwrap_err();

    assert!(matches!(error, CloudEventError::BatchMode));
    assert!(error.to_string().starts_with("batch mode is not supported"));
}

#[test]
fn a_structured_format_other_than_json_is_refused() {
    let map = headers(&[("content-type", "application/cloudevents+xml")]);

    let error = CloudEvent::from_http(&map, Bytes::from_static(b"<x/>")).unwrap_err();

    assert!(matches!(error, CloudEventError::UnsupportedFormat { .. }));
}

#[test]
fn media_type_drops_parameters() {
    let event = CloudEvent::new(
        "1",
        "s",
        "t",
        Bytes::new(),
        Some("Application/Protobuf; x=1".into()),
    );

    assert_eq!(event.media_type(), Some("application/protobuf"));
    assert_eq!(
        event.datacontenttype.as_deref(),
        Some("application/protobuf; x=1")
    );
}

#[test]
fn headers_of_a_real_actix_request_parse_like_a_header_map() {
    // Arrange: the way the server hands over a request (HttpRequest::headers()).
    let request = actix_web::test::TestRequest::post()
        .uri("/resize")
        .insert_header(("ce-id", "evt-7"))
        .insert_header(("ce-source", "//storage.googleapis.com/projects/_/buckets/b"))
        .insert_header(("ce-specversion", "1.0"))
        .insert_header(("ce-type", "google.cloud.storage.object.v1.deleted"))
        .insert_header(("ce-subject", "objects/caf%C3%A9.png"))
        .insert_header(("content-type", "application/json"))
        .to_http_request();

    // Act
    let event = CloudEvent::from_http(request.headers(), Bytes::from_static(b"{}")).unwrap();

    // Assert
    assert_eq!(event.id, "evt-7");
    assert_eq!(event.subject.as_deref(), Some("objects/café.png"));
}
