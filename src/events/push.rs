//! Plain Pub/Sub push, without Eventarc: the request becomes the CloudEvent Eventarc would
//! have delivered for the same message, so routes never know the difference.
//!
//! Owns: recognising a push (wrapped `{"message":{...},"subscription":"..."}` or unwrapped
//! with `--push-no-wrapper-write-metadata`) and turning it into a `messagePublished` event,
//! or into a storage event when it is a Cloud Storage notification (`notification`).
//! Must not decide what a route does, nor pick a status code (that is `router::respond`).
//!
//! Acknowledgement (gcp-contracts.md §0.1, §3.1; https://cloud.google.com/pubsub/docs/push):
//! "The endpoint acknowledges the message by returning an HTTP success status code"; earlier
//! revisions of that page list the codes as 102, 200, 201, 202 and 204, and any other status,
//! or no answer within the ack deadline, is a nack: the message is redelivered with backoff
//! until retention ends or the dead-letter policy takes it. (The code list is confirmed only
//! through secondary copies, gcp-contracts.md Appendix B, so the service answers 200, never
//! an edge of the list.) `router::respond` answers 200 for `processed`, `duplicate`,
//! `skipped` and `rejected` and 503 for `retry`, so a push is acked or redelivered exactly
//! as an Eventarc delivery is. With `server.malformed_status = 400` a malformed push is
//! redelivered until it is dead-lettered. [`acknowledges`] is the list; the tests in
//! `tests/api/push` hold every outcome's status to it.
//!
//! Idempotency: the event `id` is the message id (unique per topic, the same on every
//! redelivery), so the routes' (`source`, `id`) ledger catches redeliveries; storage
//! events also carry the object generation, which the routes key on as well.

use std::collections::BTreeMap;

use actix_web::http::header::{CONTENT_TYPE, HeaderMap};
use base64::Engine as _;
use bytes::Bytes;

use super::notification;
use super::pubsub::{self, MessagePublishedData};
use super::types;
use crate::cloudevent::{CloudEvent, CloudEventError};
use crate::domain::pipeline_event::{EVENT_TYPE_ATTRIBUTE, SOURCE_ATTRIBUTE};

/// Headers Pub/Sub writes for an unwrapped push with write metadata (the `NoWrapper`
/// `write_metadata` field of GAPIS google/pubsub/v1/pubsub.proto: metadata as
/// `x-goog-pubsub-<KEY>` headers, attributes as `<KEY>` headers;
/// https://cloud.google.com/pubsub/docs/payload-unwrapping).
pub const MESSAGE_ID_HEADER: &str = "x-goog-pubsub-message-id";
pub const SUBSCRIPTION_HEADER: &str = "x-goog-pubsub-subscription-name";
pub const PUBLISH_TIME_HEADER: &str = "x-goog-pubsub-publish-time";

/// The statuses Pub/Sub push counts as an ack (gcp-contracts.md §3.1); anything else is
/// redelivered.
pub const ACK_STATUSES: [u16; 5] = [102, 200, 201, 202, 204];

/// Whether Pub/Sub push treats this answer as an ack.
pub fn acknowledges(status: u16) -> bool {
    ACK_STATUSES.contains(&status)
}

/// Why a request is neither a CloudEvent nor a usable Pub/Sub push. Each message is a
/// sentence for the operator and names the field or attribute at fault.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    CloudEvent(#[from] CloudEventError),
    #[error(
        "the request carries no CloudEvent (no ce-* headers, Content-Type not \
         application/cloudevents+json) and is not a Pub/Sub push (no {{\"message\": ...}} \
         body, no {MESSAGE_ID_HEADER} header: an unwrapped push subscription needs \
         --push-no-wrapper-write-metadata)"
    )]
    NotAnEvent,
    #[error("the Pub/Sub push body is not a valid push envelope: {source}")]
    InvalidEnvelope { source: serde_json::Error },
    #[error("the Pub/Sub push has no `{field}`, and Pub/Sub always sends it")]
    MissingField { field: &'static str },
    #[error("the Pub/Sub message `data` is not valid base64: {source}")]
    InvalidData { source: base64::DecodeError },
    #[error("the Pub/Sub push header {header} appears more than once")]
    DuplicateHeader { header: String },
    #[error("the Pub/Sub push header {header} is not valid UTF-8 text")]
    HeaderNotUtf8 { header: String },
    #[error("the Cloud Storage notification attribute `{attribute}` {problem}")]
    Notification {
        attribute: &'static str,
        problem: String,
    },
}

/// One pushed message, however it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushedMessage {
    pub data: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
    pub message_id: String,
    pub publish_time: Option<String>,
    /// `projects/P/subscriptions/S`.
    pub subscription: String,
    /// The wrapped body as sent (it is already the `MessagePublishedData` Eventarc sends).
    pub wrapped_body: Option<Bytes>,
}

/// THE parse entry point for every request: a CloudEvent (binary or structured mode,
/// strictly validated), else a Pub/Sub push turned into the CloudEvent Eventarc would send.
pub fn from_http(headers: &HeaderMap, body: Bytes) -> Result<CloudEvent, PushError> {
    match CloudEvent::from_http(headers, body.clone()) {
        Err(CloudEventError::NotACloudEvent) => {}
        other => return Ok(other?),
    }
    let message = if headers.contains_key(MESSAGE_ID_HEADER) {
        unwrapped(headers, body)?
    } else if is_json_or_absent(headers) && looks_wrapped(&body) {
        wrapped(body)?
    } else {
        return Err(PushError::NotAnEvent);
    };
    to_event(message)
}

fn to_event(message: PushedMessage) -> Result<CloudEvent, PushError> {
    if notification::is_notification(&message.attributes) {
        return notification::to_event(&message);
    }
    let source = format!("//pubsub.googleapis.com/{}", message.subscription);
    let data = match message.wrapped_body {
        Some(body) => body,
        None => Bytes::from(
            pubsub::encode(
                &message.data,
                &message.attributes,
                &message.message_id,
                message.publish_time.as_deref().unwrap_or_default(),
                &message.subscription,
            )
            .to_string(),
        ),
    };
    // Decision: Eventarc's `source` names the topic, which a push does not carry; the
    // subscription names the same stream of deliveries, and stays stable across
    // redeliveries, which is what the (`source`, `id`) idempotency key needs.
    let mut event = CloudEvent::new(
        message.message_id,
        source,
        types::PUBSUB_PUBLISHED,
        data,
        Some("application/json".to_owned()),
    );
    event.time = message.publish_time;
    event.check()?;
    Ok(event)
}

fn is_json_or_absent(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_none_or(|ct| {
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        ct.trim_start().starts_with("application/json")
    })
}

/// A JSON object with a `message` object: the shape of a wrapped push.
fn looks_wrapped(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("message").is_some_and(serde_json::Value::is_object))
}

/// `{"message": {...}, "subscription": "..."}`, the default push format.
fn wrapped(body: Bytes) -> Result<PushedMessage, PushError> {
    let envelope: MessagePublishedData =
        serde_json::from_slice(&body).map_err(|source| PushError::InvalidEnvelope { source })?;
    let data = match &envelope.message.data {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|source| PushError::InvalidData { source })?,
        None => Vec::new(),
    };
    let message = envelope.message;
    Ok(PushedMessage {
        data,
        attributes: message.attributes,
        message_id: non_empty(message.message_id, "message.messageId")?,
        publish_time: message.publish_time,
        subscription: non_empty(envelope.subscription, "subscription")?,
        wrapped_body: Some(body),
    })
}

/// The attribute names read back from headers in an unwrapped push. Decision: only these,
/// because HTTP loses the case of a header name (an attribute `eventType` arrives as
/// `eventtype`) and other headers cannot be told apart from those Cloud Run and proxies add.
const KNOWN_ATTRIBUTES: [&str; 10] = [
    EVENT_TYPE_ATTRIBUTE,
    SOURCE_ATTRIBUTE,
    notification::NOTIFICATION_CONFIG,
    notification::PAYLOAD_FORMAT,
    notification::BUCKET_ID,
    notification::OBJECT_ID,
    notification::OBJECT_GENERATION,
    notification::EVENT_TIME,
    notification::OVERWROTE_GENERATION,
    notification::OVERWRITTEN_BY_GENERATION,
];

/// `--push-no-wrapper`: the body is the message data, metadata and attributes are headers.
fn unwrapped(headers: &HeaderMap, body: Bytes) -> Result<PushedMessage, PushError> {
    let mut attributes = BTreeMap::new();
    for name in KNOWN_ATTRIBUTES {
        if let Some(value) = header(headers, &name.to_ascii_lowercase())? {
            attributes.insert(name.to_owned(), value);
        }
    }
    Ok(PushedMessage {
        data: body.to_vec(),
        attributes,
        message_id: non_empty(header(headers, MESSAGE_ID_HEADER)?, MESSAGE_ID_HEADER)?,
        publish_time: header(headers, PUBLISH_TIME_HEADER)?,
        subscription: non_empty(header(headers, SUBSCRIPTION_HEADER)?, SUBSCRIPTION_HEADER)?,
        wrapped_body: None,
    })
}

fn header(headers: &HeaderMap, name: &str) -> Result<Option<String>, PushError> {
    let mut values = headers.get_all(name);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(PushError::DuplicateHeader {
            header: name.to_owned(),
        });
    }
    let text = std::str::from_utf8(first.as_bytes()).map_err(|_| PushError::HeaderNotUtf8 {
        header: name.to_owned(),
    })?;
    Ok(Some(text.to_owned()))
}

fn non_empty(value: Option<String>, field: &'static str) -> Result<String, PushError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or(PushError::MissingField { field })
}

#[cfg(test)]
#[path = "push_tests.rs"]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;
