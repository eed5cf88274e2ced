//! The CNCF CloudEvents JSON-format conformance cases (`cloudevents/conformance`
//! `format/json/`), read in place from `../shared/cloudevents-conformance/` and never
//! copied into the repository: every valid case is accepted and every invalid case
//! refused, in structured mode and, where the case can be expressed there, binary mode.
//! Then the same attribute rules through binary-mode headers.

use std::path::PathBuf;

use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::encoding::encode_header_value;
use super::tests::{headers, storage_headers, without};
use super::{CloudEvent, CloudEventError};

const ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/cloudevents-conformance"
);

/// Invalid cases whose fault only exists in the JSON format, each with why binary mode
/// cannot carry it: there, every attribute is a header string and header names are
/// case-insensitive.
const JSON_ONLY: [(&str, &str); 4] = [
    ("invalidNumericId", "a header value is always a string"),
    ("invalidObjectId", "a header value is always a string"),
    (
        "invalidCapitalizedExtension",
        "header names are case-insensitive, ce-MyExtension is ce-myextension",
    ),
    (
        "invalidBothDataAndDataBase64",
        "binary mode has one body and no data_base64",
    ),
];

struct Case {
    id: String,
    event: Map<String, Value>,
}

fn cases(file: &str) -> Vec<Case> {
    let path = PathBuf::from(ROOT).join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let suite: Value = serde_json::from_str(&text).unwrap();
    let cases: Vec<Case> = suite["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| Case {
            id: case["id"].as_str().unwrap().to_owned(),
            event: case["event"].as_object().unwrap().clone(),
        })
        .collect();
    assert!(!cases.is_empty(), "{} has no cases", path.display());
    cases
}

fn structured(event: &Map<String, Value>) -> Result<CloudEvent, CloudEventError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/cloudevents+json; charset=UTF-8"),
    );
    let body = serde_json::to_vec(event).unwrap();
    CloudEvent::from_http(&headers, Bytes::from(body))
}

/// The same event in binary mode, or `None` when the case is JSON-only.
fn binary(case: &Case) -> Option<Result<CloudEvent, CloudEventError>> {
    if JSON_ONLY.iter().any(|(id, _)| *id == case.id) {
        return None;
    }
    let mut headers = HeaderMap::new();
    let mut body = Bytes::new();
    for (name, value) in &case.event {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            other => panic!(
                "{}: `{name}` is {other} and the case is not JSON-only",
                case.id
            ),
        };
        match name.as_str() {
            "data" => body = Bytes::from(text),
            "data_base64" => {
                let decoded = base64::engine::general_purpose::STANDARD.decode(text);
                body = Bytes::from(decoded.unwrap());
            }
            "datacontenttype" => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_str(&text).unwrap());
            }
            _ => {
                let header = HeaderName::from_bytes(format!("ce-{name}").as_bytes()).unwrap();
                let value = HeaderValue::from_str(&encode_header_value(&text)).unwrap();
                headers.insert(header, value);
            }
        }
    }
    Some(CloudEvent::from_http(&headers, body))
}

#[test]
fn every_valid_conformance_event_is_accepted_in_both_content_modes() {
    // Arrange
    let cases = cases("valid-events.json");

    for case in &cases {
        // Act
        let from_json = structured(&case.event);
        let from_headers = binary(case).expect("every valid case has a binary form");

        // Assert
        for (mode, result) in [("structured", from_json), ("binary", from_headers)] {
            let event = result.unwrap_or_else(|e| panic!("{} ({mode}): refused: {e}", case.id));
            assert_eq!(
                Some(event.id.as_str()),
                case.event["id"].as_str(),
                "{}",
                case.id
            );
            assert_eq!(Some(event.ty.as_str()), case.event["type"].as_str());
            for (name, value) in event.extensions.iter() {
                let sent = &case.event[name.as_str()];
                let sent = sent
                    .as_str()
                    .map_or_else(|| sent.to_string(), str::to_owned);
                assert_eq!(value, &sent, "{} ({mode}): extension {name}", case.id);
            }
        }
    }
}

#[test]
fn every_invalid_conformance_event_is_refused_in_each_mode_that_can_carry_it() {
    // Arrange
    let cases = cases("invalid-events.json");
    let mut binary_cases = 0;

    for case in &cases {
        // Act
        let from_json = structured(&case.event);
        let from_headers = binary(case);

        // Assert
        if let Ok(event) = from_json {
            panic!("{} (structured): accepted as {event:?}", case.id);
        }
        if let Some(result) = from_headers {
            binary_cases += 1;
            if let Ok(event) = result {
                panic!("{} (binary): accepted as {event:?}", case.id);
            }
        }
    }
    assert_eq!(
        binary_cases,
        cases.len() - JSON_ONLY.len(),
        "every JSON-only exemption names a real case"
    );
}

#[test]
fn each_invalid_attribute_is_named_in_the_refusal() {
    let expectations = [
        ("invalidTimeGarbage", "attribute `time` is `lunchtime`"),
        ("invalidTimeOffsetOutOfRange", "RFC 3339"),
        (
            "invalidNonRfc2046DataContentType",
            "`datacontenttype` is `xyz`",
        ),
        ("invalidEmptyDataContentType", "`datacontenttype` is empty"),
        ("invalidEmptyDataSchema", "`dataschema` is empty"),
        ("invalidEmptySubject", "`subject` is empty"),
        (
            "invalidCapitalizedExtension",
            "name `MyExtension` is not allowed",
        ),
        (
            "invalidPunctuatedExtension",
            "name `my.extension` is not allowed",
        ),
    ];
    let cases = cases("invalid-events.json");
    for (id, expected) in expectations {
        let case = cases.iter().find(|c| c.id == id).unwrap();

        let error = structured(&case.event).unwrap_err();

        assert!(error.to_string().contains(expected), "{id}: {error}");
    }
}

#[test]
fn a_fractional_or_out_of_range_extension_value_is_refused_and_named() {
    // The suite's own case also has a bad name; this one isolates the value rule.
    for value in ["1.5", "2147483648", "[1]"] {
        let body = format!(
            r#"{{"specversion":"1.0","id":"1","type":"t","source":"s","myextension":{value}}}"#
        );
        let event: Map<String, Value> = serde_json::from_str(&body).unwrap();

        let error = structured(&event).unwrap_err();

        assert!(
            matches!(error, CloudEventError::InvalidExtensionValue { ref name, .. } if name == "myextension"),
            "{value}: {error}"
        );
    }
}

#[test]
fn binary_mode_applies_the_same_attribute_rules_as_structured_mode() {
    let cases = [
        (
            "ce-time",
            "2018-04-05T18:31Z",
            "attribute `time` is `2018-04-05T18:31Z`",
        ),
        ("ce-subject", "", "attribute `subject` is empty"),
        (
            "ce-dataschema",
            "not a uri",
            "attribute `dataschema` is `not a uri`",
        ),
        (
            "ce-my_ext",
            "x",
            "extension attribute name `my_ext` is not allowed",
        ),
    ];
    for (header, value, expected) in cases {
        let mut pairs = storage_headers();
        pairs.push((header, value));

        let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

        assert!(error.to_string().contains(expected), "{header}: {error}");
    }
}

#[test]
fn a_content_type_that_is_not_a_media_type_is_refused_as_datacontenttype() {
    let mut pairs = without("content-type");
    pairs.push(("content-type", "json"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(
        error
            .to_string()
            .contains("attribute `datacontenttype` is `json`, which is not an RFC 2046 media type"),
        "{error}"
    );
}

#[test]
fn a_source_with_a_space_is_not_a_uri_reference() {
    let mut pairs = without("ce-source");
    pairs.push(("ce-source", "my%20source"));

    let error = CloudEvent::from_http(&headers(&pairs), Bytes::new()).unwrap_err();

    assert!(
        matches!(
            error,
            CloudEventError::InvalidAttribute { name: "source", .. }
        ),
        "{error}"
    );
}
