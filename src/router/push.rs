//! HTTP ingress of every event: a CloudEvent (binary or structured mode), else a plain
//! Pub/Sub push, without Eventarc, turned into the CloudEvent Eventarc would have delivered
//! for the same message (`events::push`), so routes never know the difference.
//!
//! Owns: recognising a push (wrapped `{"message":{...},"subscription":"..."}` or unwrapped
//! with `--push-no-wrapper-write-metadata`) and turning it into a `messagePublished` event,
//! or into a storage event when it is a Cloud Storage notification (`events::notification`).
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

use std::collections::BTreeMap;

use actix_web::http::header::{CONTENT_TYPE, HeaderMap};
use bytes::Bytes;

use crate::cloudevent::{CloudEvent, CloudEventError};
use crate::domain::pipeline_event::{EVENT_TYPE_ATTRIBUTE, SOURCE_ATTRIBUTE};
use crate::events::notification;
pub use crate::events::push::PushError;
use crate::events::push::{PushedMessage, looks_wrapped, non_empty, to_event, wrapped};

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

fn is_json_or_absent(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_none_or(|ct| {
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        ct.trim_start().starts_with("application/json")
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

#[cfg(test)]
#[path = "push_tests.rs"]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod tests;
