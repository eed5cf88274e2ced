//! Typed Google event payloads carried in a [`CloudEvent`]'s data: Cloud Storage,
//! Pub/Sub, Firestore (JSON and protobuf) and Audit Logs (gcp-contracts.md §2).
//!
//! Owns: the `ce-type` constants, turning an event's bytes into a typed payload, turning a
//! Pub/Sub push message (and a Cloud Storage notification in it) into the CloudEvent
//! Eventarc would deliver (`push`, `notification`; reading it off HTTP is `router::push`),
//! and THE storage CloudEvent builder (`storage_event`).
//! Must not decide what a route does with an event, nor touch HTTP.

pub mod audit;
pub mod firestore;
pub(crate) mod int64;
pub mod notification;
pub mod pubsub;
pub mod push;
pub mod storage;
pub mod storage_event;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod fixture_tests;

use crate::cloudevent::CloudEvent;

pub use audit::LogEntryData;
pub use firestore::DocumentEventData;
pub use pubsub::MessagePublishedData;
pub use storage::StorageObjectData;

/// The `ce-type` values this service knows.
pub mod types {
    pub const STORAGE_FINALIZED: &str = "google.cloud.storage.object.v1.finalized";
    pub const STORAGE_DELETED: &str = "google.cloud.storage.object.v1.deleted";
    pub const STORAGE_ARCHIVED: &str = "google.cloud.storage.object.v1.archived";
    pub const STORAGE_METADATA_UPDATED: &str = "google.cloud.storage.object.v1.metadataUpdated";
    pub const PUBSUB_PUBLISHED: &str = "google.cloud.pubsub.topic.v1.messagePublished";
    pub const FIRESTORE_CREATED: &str = "google.cloud.firestore.document.v1.created";
    pub const FIRESTORE_UPDATED: &str = "google.cloud.firestore.document.v1.updated";
    pub const FIRESTORE_DELETED: &str = "google.cloud.firestore.document.v1.deleted";
    pub const FIRESTORE_WRITTEN: &str = "google.cloud.firestore.document.v1.written";
    pub const AUDIT_LOG_WRITTEN: &str = "google.cloud.audit.log.v1.written";

    /// Every storage object event type starts with this.
    pub const STORAGE_PREFIX: &str = "google.cloud.storage.object.v1.";
    /// Every Firestore document event type starts with this (including the
    /// `.withAuthContext` variants).
    pub const FIRESTORE_PREFIX: &str = "google.cloud.firestore.document.v1.";
    pub const PUBSUB_PREFIX: &str = "google.cloud.pubsub.topic.v1.";
    pub const AUDIT_PREFIX: &str = "google.cloud.audit.log.v1.";
}

/// A parsed payload, by product.
#[derive(Debug, Clone, PartialEq)]
pub enum EventData {
    Storage(StorageObjectData),
    PubSub(MessagePublishedData),
    Firestore(DocumentEventData),
    Audit(LogEntryData),
}

/// Why an event's data could not be read. Each message is a sentence for the operator;
/// it becomes the `detail` of a `rejected` response.
#[derive(Debug, thiserror::Error)]
pub enum EventDataError {
    #[error(
        "the event type `{ty}` is not one this service understands (expected \
         google.cloud.storage.object.v1.*, google.cloud.pubsub.topic.v1.messagePublished, \
         google.cloud.firestore.document.v1.* or google.cloud.audit.log.v1.written)"
    )]
    UnknownType { ty: String },
    #[error("the {ty} event has no data, but a {payload} body is required")]
    EmptyData { ty: String, payload: &'static str },
    #[error(
        "the {ty} event's data has media type `{media_type}`, but {payload} is only read as {supported}"
    )]
    UnsupportedMediaType {
        ty: String,
        media_type: String,
        payload: &'static str,
        supported: &'static str,
    },
    #[error("the event data is not a valid {payload} JSON document: {source}")]
    InvalidJson {
        payload: &'static str,
        source: serde_json::Error,
    },
    #[error("the Firestore event data is not valid DocumentEventData JSON at `{path}`: {reason}")]
    InvalidFirestoreJson { path: String, reason: String },
    #[error("the event data is not a valid Firestore DocumentEventData protobuf message: {source}")]
    InvalidProtobuf { source: prost::DecodeError },
    #[error("the Pub/Sub message data is not valid base64: {source}")]
    InvalidBase64 { source: base64::DecodeError },
}

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/protobuf";
/// Some senders spell protobuf this way; both mean the binary wire format.
const PROTOBUF_ALIASES: [&str; 2] = [PROTOBUF, "application/x-protobuf"];

/// Parses the event's data into its typed payload, picked by `ce-type` and decoded as
/// JSON or protobuf according to the media type (absent means JSON).
pub fn parse(event: &CloudEvent) -> Result<EventData, EventDataError> {
    let ty = event.ty.as_str();
    if ty.starts_with(types::STORAGE_PREFIX) {
        json_payload(event, "Cloud Storage StorageObjectData").map(EventData::Storage)
    } else if ty == types::PUBSUB_PUBLISHED {
        json_payload(event, "Pub/Sub MessagePublishedData").map(EventData::PubSub)
    } else if ty.starts_with(types::AUDIT_PREFIX) {
        json_payload(event, "Audit Log LogEntryData").map(EventData::Audit)
    } else if ty.starts_with(types::FIRESTORE_PREFIX) {
        firestore_payload(event).map(EventData::Firestore)
    } else {
        Err(EventDataError::UnknownType { ty: ty.to_owned() })
    }
}

fn json_payload<T: serde::de::DeserializeOwned>(
    event: &CloudEvent,
    payload: &'static str,
) -> Result<T, EventDataError> {
    check_present(event, payload)?;
    if let Some(media) = event.media_type().filter(|m| !is_json(m)) {
        return Err(EventDataError::UnsupportedMediaType {
            ty: event.ty.clone(),
            media_type: media.to_owned(),
            payload,
            supported: JSON,
        });
    }
    serde_json::from_slice(&event.data)
        .map_err(|source| EventDataError::InvalidJson { payload, source })
}

fn firestore_payload(event: &CloudEvent) -> Result<DocumentEventData, EventDataError> {
    const PAYLOAD: &str = "Firestore DocumentEventData";
    check_present(event, PAYLOAD)?;
    match event.media_type() {
        None => firestore::from_json(&event.data),
        Some(m) if is_json(m) => firestore::from_json(&event.data),
        Some(m) if PROTOBUF_ALIASES.iter().any(|p| m.eq_ignore_ascii_case(p)) => {
            firestore::from_protobuf(&event.data)
        }
        Some(m) => Err(EventDataError::UnsupportedMediaType {
            ty: event.ty.clone(),
            media_type: m.to_owned(),
            payload: PAYLOAD,
            supported: "application/json or application/protobuf",
        }),
    }
}

fn check_present(event: &CloudEvent, payload: &'static str) -> Result<(), EventDataError> {
    if event.data.is_empty() {
        return Err(EventDataError::EmptyData {
            ty: event.ty.clone(),
            payload,
        });
    }
    Ok(())
}

/// `application/json`, `text/json` and `*/*+json`, compared case-insensitively.
fn is_json(media: &str) -> bool {
    media.split_once('/').is_some_and(|(_, sub)| {
        sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use bytes::Bytes;
    use prost::Message as _;

    use super::*;

    fn event(ty: &str, data: &'static [u8], media: Option<&str>) -> CloudEvent {
        CloudEvent::new(
            "1",
            "//test",
            ty,
            Bytes::from_static(data),
            media.map(str::to_owned),
        )
    }

    #[test]
    fn a_storage_event_without_content_type_is_read_as_json() {
        let ev = event(
            types::STORAGE_FINALIZED,
            br#"{"bucket":"b","name":"a.png","size":"3"}"#,
            None,
        );

        let data = parse(&ev).unwrap();

        assert!(
            matches!(data, EventData::Storage(ref o) if o.name == "a.png" && o.size == Some(3))
        );
    }

    #[test]
    fn a_firestore_protobuf_event_is_decoded_by_its_media_type() {
        // Arrange
        let doc = firestore::Document {
            name: "projects/p/databases/(default)/documents/images/x".into(),
            ..Default::default()
        };
        let body = DocumentEventData {
            value: Some(doc),
            ..Default::default()
        }
        .encode_to_vec();
        let ev = CloudEvent::new(
            "1",
            "//firestore",
            types::FIRESTORE_CREATED,
            Bytes::from(body),
            Some("application/protobuf".into()),
        );

        // Act
        let data = parse(&ev).unwrap();

        // Assert
        let EventData::Firestore(d) = data else {
            panic!("expected Firestore, got {data:?}")
        };
        assert_eq!(d.document_path(), Some("images/x"));
    }

    #[test]
    fn a_with_auth_context_firestore_type_is_accepted() {
        let ev = event(
            "google.cloud.firestore.document.v1.deleted.withAuthContext",
            br#"{"oldValue":{"name":"n"}}"#,
            Some("application/json"),
        );

        assert!(matches!(parse(&ev), Ok(EventData::Firestore(_))));
    }

    #[test]
    fn a_firestore_protobuf_body_that_does_not_decode_is_refused() {
        let ev = event(
            types::FIRESTORE_UPDATED,
            b"\x0a\x05ab",
            Some("application/protobuf"),
        );

        let error = parse(&ev).unwrap_err();

        assert!(
            matches!(error, EventDataError::InvalidProtobuf { .. }),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_type_is_named_in_the_error() {
        let ev = event("com.example.thing.v1.happened", b"{}", None);

        let error = parse(&ev).unwrap_err();

        assert!(
            matches!(error, EventDataError::UnknownType { ref ty } if ty == "com.example.thing.v1.happened")
        );
        assert!(error.to_string().starts_with(
            "the event type `com.example.thing.v1.happened` is not one this service understands"
        ));
    }

    #[test]
    fn bodies_that_are_not_the_declared_json_are_refused() {
        let cases = [
            event(
                types::STORAGE_FINALIZED,
                b"not json",
                Some("application/json"),
            ),
            event(types::STORAGE_FINALIZED, br#"{"bucket":"b"}"#, None),
            event(types::PUBSUB_PUBLISHED, br#"["a"]"#, None),
            event(types::AUDIT_LOG_WRITTEN, br#"{"protoPayload":"x"}"#, None),
        ];
        for ev in cases {
            let error = parse(&ev).unwrap_err();

            assert!(
                matches!(error, EventDataError::InvalidJson { .. }),
                "{}: {error}",
                ev.ty
            );
            assert!(
                error
                    .to_string()
                    .starts_with("the event data is not a valid "),
                "{error}"
            );
        }
    }

    #[test]
    fn an_empty_body_is_refused_as_missing_data() {
        let ev = event(types::STORAGE_DELETED, b"", Some("application/json"));

        let error = parse(&ev).unwrap_err();

        assert_eq!(
            error.to_string(),
            "the google.cloud.storage.object.v1.deleted event has no data, but a Cloud Storage StorageObjectData body is required"
        );
    }

    #[test]
    fn a_storage_event_in_protobuf_is_refused_with_the_supported_type() {
        let ev = event(
            types::STORAGE_FINALIZED,
            b"\x0a\x01x",
            Some("application/protobuf"),
        );

        let error = parse(&ev).unwrap_err();

        assert!(
            error
                .to_string()
                .contains("is only read as application/json"),
            "{error}"
        );
    }

    #[test]
    fn json_media_types_with_suffixes_and_parameters_are_json() {
        let ev = event(
            types::STORAGE_FINALIZED,
            br#"{"bucket":"b","name":"n"}"#,
            Some("application/cloudevents-data+json; charset=utf-8"),
        );

        assert!(parse(&ev).is_ok());
    }
}
