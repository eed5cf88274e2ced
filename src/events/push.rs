//! A Pub/Sub push message as the CloudEvent Eventarc would have delivered for it, so routes
//! never know the difference: a `messagePublished` event, or a storage event when it is a
//! Cloud Storage notification (`notification`). Reading the push off an HTTP request is
//! `router::push`'s; a dead letter replayed as the push it was comes here directly.
//!
//! Idempotency: the event `id` is the message id (unique per topic, the same on every
//! redelivery), so the routes' (`source`, `id`) ledger catches redeliveries; storage
//! events also carry the object generation, which the routes key on as well.
//! Must not decide what a route does, nor touch HTTP.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;

use super::notification;
use super::pubsub::{self, MessagePublishedData};
use super::types;
use crate::cloudevent::{CloudEvent, CloudEventError};

/// Why a request is neither a CloudEvent nor a usable Pub/Sub push. Each message is a
/// sentence for the operator and names the field or attribute at fault.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    CloudEvent(#[from] CloudEventError),
    #[error(
        "the request carries no CloudEvent (no ce-* headers, Content-Type not \
         application/cloudevents+json) and is not a Pub/Sub push (no {{\"message\": ...}} \
         body, no x-goog-pubsub-message-id header: an unwrapped push subscription needs \
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
pub struct PushedMessage {
    pub data: Vec<u8>,
    pub attributes: BTreeMap<String, String>,
    pub message_id: String,
    pub publish_time: Option<String>,
    /// `projects/P/subscriptions/S`.
    pub subscription: String,
    /// The wrapped body as sent (it is already the `MessagePublishedData` Eventarc sends).
    pub wrapped_body: Option<Bytes>,
}

/// The CloudEvent of a wrapped push body (`{"message": {...}, "subscription": "..."}`), as
/// [`from_http`] makes it: for a dead letter replayed as the push it once was.
pub fn from_wrapped_push(body: Bytes) -> Result<CloudEvent, PushError> {
    to_event(wrapped(body)?)
}

/// The CloudEvent of one pushed message.
pub fn to_event(message: PushedMessage) -> Result<CloudEvent, PushError> {
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

/// A JSON object with a `message` object: the shape of a wrapped push.
pub fn looks_wrapped(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|v| v.get("message").is_some_and(serde_json::Value::is_object))
}

/// `{"message": {...}, "subscription": "..."}`, the default push format.
pub fn wrapped(body: Bytes) -> Result<PushedMessage, PushError> {
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

pub fn non_empty(value: Option<String>, field: &'static str) -> Result<String, PushError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or(PushError::MissingField { field })
}
