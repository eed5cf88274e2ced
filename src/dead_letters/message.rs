//! A message on the dead-letter subscription read back as the request its route was sent.
//! Owns the shapes a dead letter can have; must not run routes or talk to Pub/Sub.
//!
//! When a subscription gives up on a message, Pub/Sub "wraps the original message in a new
//! one and adds attributes that identify the source subscription"
//! (https://cloud.google.com/pubsub/docs/handling-failures): the `CloudPubSubDeadLetter*`
//! attributes below, next to the original data and attributes. What the original was
//! depends on the transport `deploy/` set up (gcp-contracts.md §1, §3.1):
//! - Eventarc triggers on Cloud Storage: the message on Eventarc's transport topic is the
//!   CloudEvent in the Pub/Sub protocol binding (googleapis/google-cloudevents
//!   docs/spec/pubsub.md §3): binary mode puts every attribute in a `ce-<name>` Pub/Sub
//!   attribute, the data as the message data and its media type in `content-type`;
//!   structured mode puts the whole JSON event in the data, with `content-type:
//!   application/cloudevents+json`. Both are read.
//! - Eventarc triggers on the pipeline topic (`--transport-topic`) and the notifications
//!   transport's push subscriptions: the topic's own message (an `image.*` event, or a Cloud
//!   Storage notification), which the service receives as a Pub/Sub push. It is replayed as
//!   that push, so `events::push` makes the same CloudEvent of it; its id is the message id.

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "message_tests.rs"]
mod tests;

use crate::backends::gcp::ReceivedMessage;
use crate::cloudevent::{CloudEvent, pubsub_binding};
use crate::events::push;
use crate::events::types::PUBSUB_PUBLISHED;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::json;
use std::collections::BTreeMap;

/// Attributes Pub/Sub adds when it dead-letters a message (handling-failures page).
pub const DELIVERY_COUNT: &str = "CloudPubSubDeadLetterSourceDeliveryCount";
pub const SOURCE_SUBSCRIPTION: &str = "CloudPubSubDeadLetterSourceSubscription";
pub const SOURCE_PROJECT: &str = "CloudPubSubDeadLetterSourceSubscriptionProject";
const DEAD_LETTER_PREFIX: &str = "CloudPubSubDeadLetter";

/// How the original event travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// CloudEvent, Pub/Sub binding, binary mode (`ce-*` attributes).
    Binary,
    /// CloudEvent, Pub/Sub binding, structured mode (the JSON event is the data).
    Structured,
    /// A plain Pub/Sub message, replayed as a push.
    Plain,
}

/// One dead letter, ready to replay.
#[derive(Debug, Clone)]
pub struct GcpDeadLetter {
    pub ack_id: String,
    pub message_id: String,
    /// The CloudEvent id (`--id` selects by it).
    pub event_id: String,
    pub event_type: String,
    /// `/route` named by the source subscription, or `/` (every route that takes the event).
    pub path: String,
    /// `projects/P/subscriptions/S` that gave up on it (empty if Pub/Sub did not say).
    pub source_subscription: String,
    pub attempts: Option<u32>,
    /// When it was dead-lettered (the publish time on the dead-letter topic).
    pub dead_at: String,
    pub shape: Shape,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl GcpDeadLetter {
    /// Reads a pulled message; `project` completes a bare source subscription id and
    /// `routes` are the enabled route names. An error says why it cannot be replayed.
    pub fn read(
        received: &ReceivedMessage,
        project: &str,
        routes: &[&str],
    ) -> Result<Self, String> {
        let message = &received.message;
        let data = match &message.data {
            Some(encoded) => STANDARD
                .decode(encoded.trim())
                .map_err(|e| format!("message {}: data is not base64: {e}", message.message_id))?,
            None => Vec::new(),
        };
        let attributes = &message.attributes;
        let source_subscription = source_subscription(attributes, project);
        let mut letter = Self {
            ack_id: received.ack_id.clone(),
            message_id: message.message_id.clone(),
            event_id: String::new(),
            event_type: String::new(),
            path: route_path(&source_subscription, routes),
            attempts: attributes.get(DELIVERY_COUNT).and_then(|n| n.parse().ok()),
            dead_at: message.publish_time.clone().unwrap_or_default(),
            source_subscription,
            shape: shape_of(attributes),
            headers: Vec::new(),
            body: Bytes::new(),
        };
        match letter.shape {
            Shape::Binary => letter.binary(attributes, data),
            Shape::Structured => letter.structured(attributes, data)?,
            Shape::Plain => letter.plain(received, data, project),
        }
        Ok(letter)
    }

    fn binary(&mut self, attributes: &BTreeMap<String, String>, data: Vec<u8>) {
        self.headers = pubsub_binding::http_headers(attributes);
        let attribute = |name| pubsub_binding::attribute(attributes, name).unwrap_or_default();
        self.event_id = attribute("id").to_owned();
        self.event_type = attribute("type").to_owned();
        self.body = Bytes::from(data);
    }

    fn structured(
        &mut self,
        attributes: &BTreeMap<String, String>,
        data: Vec<u8>,
    ) -> Result<(), String> {
        let event: serde_json::Value = serde_json::from_slice(&data).map_err(|e| {
            format!(
                "message {}: structured CloudEvent is not JSON: {e}",
                self.message_id
            )
        })?;
        let text = |key: &str| event.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        self.event_id = text("id").to_owned();
        self.event_type = text("type").to_owned();
        let content_type = attributes.get("content-type").cloned().unwrap_or_default();
        self.headers.push(("content-type".to_owned(), content_type));
        self.body = Bytes::from(data);
        Ok(())
    }

    /// The push Pub/Sub would have sent for the original message (wrapped format).
    fn plain(&mut self, received: &ReceivedMessage, data: Vec<u8>, project: &str) {
        let message = &received.message;
        // A push always names its subscription; Pub/Sub names the source one.
        let subscription = match self.source_subscription.as_str() {
            "" => format!("projects/{project}/subscriptions/unknown"),
            known => known.to_owned(),
        };
        let attributes: BTreeMap<&String, &String> = message
            .attributes
            .iter()
            .filter(|(k, _)| !k.starts_with(DEAD_LETTER_PREFIX))
            .collect();
        let envelope = json!({
            "subscription": subscription,
            "message": {
                "data": STANDARD.encode(data),
                "attributes": attributes,
                "messageId": message.message_id,
                "message_id": message.message_id,
                "publishTime": message.publish_time,
                "publish_time": message.publish_time,
            }
        });
        self.event_id = message.message_id.clone();
        self.event_type = message
            .attributes
            .get(crate::domain::pipeline_event::EVENT_TYPE_ATTRIBUTE)
            .cloned()
            .unwrap_or_else(|| PUBSUB_PUBLISHED.to_owned());
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        self.body = Bytes::from(envelope.to_string());
    }

    /// The event to replay, or why it cannot be read (a `malformed` answer).
    pub fn event(&self) -> Result<CloudEvent, String> {
        let event = match self.shape {
            Shape::Plain => push::from_wrapped_push(self.body.clone()).map_err(|e| e.to_string()),
            _ => CloudEvent::from_header_pairs(&self.headers, self.body.clone())
                .map_err(|e| e.to_string()),
        };
        event.map_err(|e| format!("malformed CloudEvent: {e}"))
    }
}

fn shape_of(attributes: &BTreeMap<String, String>) -> Shape {
    let structured = attributes.get("content-type").is_some_and(|ct| {
        ct.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/cloudevents")
    });
    if structured {
        Shape::Structured
    } else if pubsub_binding::is_binary(attributes) {
        Shape::Binary
    } else {
        Shape::Plain
    }
}

/// `projects/P/subscriptions/S` from the dead-letter attributes (the subscription may come
/// as a bare id next to its project).
fn source_subscription(attributes: &BTreeMap<String, String>, project: &str) -> String {
    let Some(name) = attributes.get(SOURCE_SUBSCRIPTION) else {
        return String::new();
    };
    if name.starts_with("projects/") {
        return name.clone();
    }
    let project = attributes
        .get(SOURCE_PROJECT)
        .map_or(project, String::as_str);
    format!("projects/{project}/subscriptions/{name}")
}

/// The route a subscription delivered to: `deploy/` names every subscription after its
/// route (`image-pipeline-resize-uploads`; Eventarc's `eventarc-REGION-image-pipeline-
/// resize-finalized-sub-NNN`). `/` when no single route name is a word of it.
fn route_path(subscription: &str, routes: &[&str]) -> String {
    let id = subscription.rsplit('/').next().unwrap_or_default();
    let words: Vec<&str> = id.split(['-', '_', '.']).collect();
    let named: Vec<&&str> = routes.iter().filter(|r| words.contains(r)).collect();
    match named.as_slice() {
        [route] => format!("/{route}"),
        _ => "/".to_owned(),
    }
}
