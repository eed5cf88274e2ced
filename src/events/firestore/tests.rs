//! Firestore payload tests: protobuf round trip, refusals, and the JSON mapping.

use std::collections::BTreeMap;

use prost::Message as _;

use super::value::Kind;
use super::*;

fn value(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

fn sample_event() -> DocumentEventData {
    let nested = MapValue {
        fields: BTreeMap::from([
            ("flag".to_owned(), value(Kind::BooleanValue(true))),
            ("raw".to_owned(), value(Kind::BytesValue(vec![0, 159, 255]))),
        ]),
    };
    let fields = BTreeMap::from([
        ("count".to_owned(), value(Kind::IntegerValue(-4))),
        ("ratio".to_owned(), value(Kind::DoubleValue(0.25))),
        (
            "title".to_owned(),
            value(Kind::StringValue("Ünïcode".to_owned())),
        ),
        ("nothing".to_owned(), value(Kind::NullValue(0))),
        (
            "seen".to_owned(),
            value(Kind::TimestampValue(Timestamp {
                seconds: 1_700_000_000,
                nanos: 5,
            })),
        ),
        (
            "where".to_owned(),
            value(Kind::GeoPointValue(LatLng {
                latitude: 51.45,
                longitude: -0.97,
            })),
        ),
        (
            "tags".to_owned(),
            value(Kind::ArrayValue(ArrayValue {
                values: vec![
                    value(Kind::StringValue("a".to_owned())),
                    value(Kind::IntegerValue(1)),
                ],
            })),
        ),
        ("meta".to_owned(), value(Kind::MapValue(nested))),
        (
            "link".to_owned(),
            value(Kind::ReferenceValue(
                "projects/p/databases/(default)/documents/a/b".to_owned(),
            )),
        ),
    ]);
    let document = Document {
        name: "projects/p/databases/(default)/documents/images/abc".to_owned(),
        fields,
        create_time: Some(Timestamp {
            seconds: 1_600_000_000,
            nanos: 0,
        }),
        update_time: Some(Timestamp {
            seconds: 1_600_000_100,
            nanos: 123_000_000,
        }),
    };
    DocumentEventData {
        value: Some(document.clone()),
        old_value: Some(Document {
            fields: BTreeMap::new(),
            ..document
        }),
        update_mask: Some(DocumentMask {
            field_paths: vec!["count".to_owned()],
        }),
    }
}

#[test]
fn a_protobuf_document_event_decodes_back_to_what_was_encoded() {
    // Arrange
    let original = sample_event();
    let bytes = original.encode_to_vec();

    // Act
    let decoded = from_protobuf(&bytes).unwrap();

    // Assert
    assert_eq!(decoded, original);
    assert_eq!(decoded.document_path(), Some("images/abc"));
}

#[test]
fn the_protobuf_field_numbers_match_the_published_schema() {
    // value (1) → Document.name (1) = "x": 0a 03 | 0a 01 78
    let event = DocumentEventData {
        value: Some(Document {
            name: "x".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    };
    // integerValue is field 2 of Value, stringValue 17 (two-byte tag 0x8a 0x01).
    let int = value(Kind::IntegerValue(3)).encode_to_vec();
    let text = value(Kind::StringValue("a".to_owned())).encode_to_vec();

    assert_eq!(event.encode_to_vec(), vec![0x0a, 0x03, 0x0a, 0x01, b'x']);
    assert_eq!(int, vec![0x10, 0x03]);
    assert_eq!(text, vec![0x8a, 0x01, 0x01, b'a']);
}

#[test]
fn a_truncated_protobuf_body_is_refused_with_a_clear_message() {
    let mut bytes = sample_event().encode_to_vec();
    bytes.truncate(bytes.len() / 2);

    let error = from_protobuf(&bytes).unwrap_err();

    assert!(
        error.to_string().starts_with(
            "the event data is not a valid Firestore DocumentEventData protobuf message"
        ),
        "{error}"
    );
}

#[test]
fn json_values_map_to_the_same_structs_as_protobuf() {
    // Arrange
    let json = r#"{"value":{"name":"projects/p/databases/(default)/documents/images/abc",
        "createTime":"2020-09-13T12:26:40Z","updateTime":"2020-09-13T12:28:20.123Z",
        "fields":{
          "count":{"integerValue":"-4"},"ratio":{"doubleValue":0.25},
          "title":{"stringValue":"Ünïcode"},"nothing":{"nullValue":null},
          "seen":{"timestampValue":"2023-11-14T22:13:20.000000005Z"},
          "where":{"geoPointValue":{"latitude":51.45,"longitude":-0.97}},
          "tags":{"arrayValue":{"values":[{"stringValue":"a"},{"integerValue":1}]}},
          "meta":{"mapValue":{"fields":{"flag":{"booleanValue":true},"raw":{"bytesValue":"AJ//"}}}},
          "link":{"referenceValue":"projects/p/databases/(default)/documents/a/b"}}},
        "oldValue":{"name":"projects/p/databases/(default)/documents/images/abc",
        "createTime":"2020-09-13T12:26:40Z","updateTime":"2020-09-13T12:28:20.123Z"},
        "updateMask":{"fieldPaths":["count"]}}"#;

    // Act
    let parsed = from_json(json.as_bytes()).unwrap();

    // Assert
    assert_eq!(parsed, sample_event());
}

#[test]
fn timestamps_before_1970_keep_nanos_positive() {
    let json = br#"{"value":{"createTime":"1969-12-31T23:59:59.5Z"}}"#;

    let parsed = from_json(json).unwrap();

    let created = parsed.value.and_then(|d| d.create_time);
    assert_eq!(
        created,
        Some(Timestamp {
            seconds: -1,
            nanos: 500_000_000
        })
    );
}

#[test]
fn bad_json_values_are_refused_with_their_path() {
    let cases: [(&[u8], &str); 5] = [
        (
            br#"{"value":{"fields":{"n":{"integerValue":"four"}}}}"#,
            "at `value.fields.n.integerValue`: `four` is not an integer",
        ),
        (
            br#"{"value":{"createTime":"yesterday"}}"#,
            "at `value.createTime`: `yesterday` is not an RFC 3339 timestamp",
        ),
        (
            br#"{"value":{"fields":{"n":{"stringValue":"a","integerValue":"1"}}}}"#,
            "a value sets both",
        ),
        (br#"[1]"#, "at `(top level)`: expected a JSON object"),
        (
            br#"{"value":"#,
            "is not a valid Firestore DocumentEventData JSON document",
        ),
    ];
    for (json, expected) in cases {
        let error = from_json(json).unwrap_err();

        assert!(error.to_string().contains(expected), "{error}");
    }
}
