//! Pub/Sub message event data, `google.events.cloud.pubsub.v1.MessagePublishedData`
//! (gcp-contracts.md §2.2), for `google.cloud.pubsub.topic.v1.messagePublished`. Real
//! payloads duplicate `messageId`/`publishTime` as snake_case and add `@type`; both
//! spellings are read, the camelCase one wins.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{EventDataError, int64};

/// The `@type` Google puts on the message object.
pub const PUBSUB_MESSAGE_TYPE: &str = "type.googleapis.com/google.pubsub.v1.PubsubMessage";

/// A Pub/Sub push delivered through Eventarc.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePublishedData {
    pub message: PubsubMessage,
    /// `projects/P/subscriptions/S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// Only set when the subscription has a dead-letter policy.
    #[serde(default, with = "int64", skip_serializing_if = "Option::is_none")]
    pub delivery_attempt: Option<i32>,
}

/// The message itself; `data` stays base64 as sent, see
/// [`MessagePublishedData::decoded_data`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "PubsubMessageWire")]
pub struct PubsubMessage {
    /// Base64 (standard alphabet); absent for attribute-only messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordering_key: Option<String>,
}

/// Both spellings as separate fields: a serde `alias` would refuse a payload that
/// carries both as a duplicate field.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PubsubMessageWire {
    #[serde(default)]
    data: Option<String>,
    #[serde(default, deserialize_with = "int64::null_as_default")]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default, rename = "message_id")]
    message_id_snake: Option<String>,
    #[serde(default)]
    publish_time: Option<String>,
    #[serde(default, rename = "publish_time")]
    publish_time_snake: Option<String>,
    #[serde(default)]
    ordering_key: Option<String>,
}

impl From<PubsubMessageWire> for PubsubMessage {
    fn from(wire: PubsubMessageWire) -> Self {
        PubsubMessage {
            data: wire.data.filter(|d| !d.is_empty()),
            attributes: wire.attributes,
            message_id: wire.message_id.or(wire.message_id_snake),
            publish_time: wire.publish_time.or(wire.publish_time_snake),
            ordering_key: wire.ordering_key.filter(|k| !k.is_empty()),
        }
    }
}

impl MessagePublishedData {
    /// The message payload as bytes (empty for attribute-only messages).
    pub fn decoded_data(&self) -> Result<Vec<u8>, EventDataError> {
        let Some(encoded) = &self.message.data else {
            return Ok(Vec::new());
        };
        base64_engine()
            .decode(encoded.trim())
            .map_err(|source| EventDataError::InvalidBase64 { source })
    }

    /// A message attribute, e.g. `eventType` on the pipeline's own events.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.message.attributes.get(name).map(String::as_str)
    }
}

/// Padding is optional on input: some publishers strip it.
fn base64_engine() -> base64::engine::GeneralPurpose {
    base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
}

/// The JSON body Eventarc would POST for a message published to a topic: base64 data,
/// attributes, and both the camelCase and snake_case id/time keys that real pushes carry.
/// The local event router sends this as a `messagePublished` event's data.
pub fn encode(
    data: &[u8],
    attributes: &BTreeMap<String, String>,
    message_id: &str,
    publish_time: &str,
    subscription: &str,
) -> serde_json::Value {
    let mut message = serde_json::Map::new();
    message.insert("@type".into(), PUBSUB_MESSAGE_TYPE.into());
    if !data.is_empty() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        message.insert("data".into(), encoded.into());
    }
    if !attributes.is_empty() {
        let attributes = attributes
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect::<serde_json::Map<_, _>>();
        message.insert("attributes".into(), attributes.into());
    }
    for key in ["messageId", "message_id"] {
        message.insert(key.into(), message_id.into());
    }
    for key in ["publishTime", "publish_time"] {
        message.insert(key.into(), publish_time.into());
    }
    serde_json::json!({ "subscription": subscription, "message": message })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn duplicated_snake_case_keys_are_read_once() {
        let json = r#"{"subscription":"projects/p/subscriptions/s","message":{
            "@type":"type.googleapis.com/google.pubsub.v1.PubsubMessage","data":"AQIDBA==",
            "messageId":"m-1","message_id":"m-1","publishTime":"2021-02-05T04:06:14.109Z",
            "publish_time":"2021-02-05T04:06:14.109Z"}}"#;

        let data: MessagePublishedData = serde_json::from_str(json).unwrap();

        assert_eq!(data.message.message_id.as_deref(), Some("m-1"));
        assert_eq!(
            data.message.publish_time.as_deref(),
            Some("2021-02-05T04:06:14.109Z")
        );
        assert_eq!(data.decoded_data().unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn snake_case_keys_alone_are_enough() {
        let json = r#"{"message":{"message_id":"m-2","publish_time":"t"}}"#;

        let data: MessagePublishedData = serde_json::from_str(json).unwrap();

        assert_eq!(data.message.message_id.as_deref(), Some("m-2"));
        assert_eq!(data.message.publish_time.as_deref(), Some("t"));
        assert_eq!(data.decoded_data().unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn encode_round_trips_through_the_typed_payload() {
        // Arrange
        let attributes = BTreeMap::from([
            ("eventType".to_owned(), "image.resized".to_owned()),
            ("source".to_owned(), "image-pipeline/resize".to_owned()),
        ]);
        let payload = br#"{"bucket":"b","name":"a.png","generation":"7"}"#;

        // Act
        let json = encode(
            payload,
            &attributes,
            "42",
            "2026-11-25T03:00:00Z",
            "local/sub",
        );
        let data: MessagePublishedData = serde_json::from_value(json.clone()).unwrap();

        // Assert
        assert_eq!(json["message"]["message_id"], "42");
        assert_eq!(data.decoded_data().unwrap(), payload.to_vec());
        assert_eq!(data.attribute("eventType"), Some("image.resized"));
        assert_eq!(data.message.message_id.as_deref(), Some("42"));
        assert_eq!(data.subscription.as_deref(), Some("local/sub"));
    }

    #[test]
    fn unpadded_base64_is_accepted_and_garbage_is_refused() {
        let unpadded: MessagePublishedData =
            serde_json::from_str(r#"{"message":{"data":"AQIDBA"}}"#).unwrap();
        let garbage: MessagePublishedData =
            serde_json::from_str(r#"{"message":{"data":"not base64!"}}"#).unwrap();

        assert_eq!(unpadded.decoded_data().unwrap(), vec![1, 2, 3, 4]);
        let error = garbage.decoded_data().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the Pub/Sub message data is not valid base64"),
            "{error}"
        );
    }

    #[test]
    fn a_payload_without_a_message_is_refused() {
        let error =
            serde_json::from_str::<MessagePublishedData>(r#"{"subscription":"s"}"#).unwrap_err();

        assert!(
            error.to_string().contains("missing field `message`"),
            "{error}"
        );
    }
}
