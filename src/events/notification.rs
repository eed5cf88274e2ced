//! Cloud Storage Pub/Sub notifications (https://cloud.google.com/storage/docs/pubsub-notifications)
//! as the storage CloudEvent Eventarc would deliver for the same change: `OBJECT_FINALIZE`
//! becomes `google.cloud.storage.object.v1.finalized`, `OBJECT_DELETE` `...deleted` (and
//! archive / metadata update their Eventarc types, which no route accepts today).
//!
//! Owns the notification attributes and their checks. Must not touch HTTP.
//!
//! The message data of a `JSON_API_V1` notification is the object resource of the JSON API,
//! which is what Eventarc sends as `StorageObjectData` (gcp-contracts.md §2.1), so it is
//! passed on as the event data unchanged.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::push::{PushError, PushedMessage};
use super::storage::StorageObjectData;
use super::storage_event::storage_event_with_data;
use super::types;
use crate::cloudevent::{CloudEvent, is_rfc3339};

pub const NOTIFICATION_CONFIG: &str = "notificationConfig";
pub const EVENT_TYPE: &str = "eventType";
pub const PAYLOAD_FORMAT: &str = "payloadFormat";
pub const BUCKET_ID: &str = "bucketId";
pub const OBJECT_ID: &str = "objectId";
pub const OBJECT_GENERATION: &str = "objectGeneration";
pub const EVENT_TIME: &str = "eventTime";
pub const OVERWROTE_GENERATION: &str = "overwroteGeneration";
pub const OVERWRITTEN_BY_GENERATION: &str = "overwrittenByGeneration";
/// The payload format that carries the object resource (`gcloud ... --payload-format=json`).
pub const JSON_API_V1: &str = "JSON_API_V1";

/// Notification `eventType` → the Eventarc `ce-type` of the same change.
const EVENT_TYPES: [(&str, &str); 4] = [
    ("OBJECT_FINALIZE", types::STORAGE_FINALIZED),
    ("OBJECT_DELETE", types::STORAGE_DELETED),
    ("OBJECT_ARCHIVE", types::STORAGE_ARCHIVED),
    ("OBJECT_METADATA_UPDATE", types::STORAGE_METADATA_UPDATED),
];

/// Whether a message's attributes are a Cloud Storage notification's (the pipeline's own
/// messages carry `eventType` = `image.*` and `source`, never these).
pub(crate) fn is_notification(attributes: &BTreeMap<String, String>) -> bool {
    attributes.contains_key(BUCKET_ID)
        || attributes.contains_key(OBJECT_ID)
        || attributes.contains_key(PAYLOAD_FORMAT)
        || attributes
            .get(EVENT_TYPE)
            .is_some_and(|t| t.starts_with("OBJECT_"))
}

fn problem(attribute: &'static str, problem: impl Into<String>) -> PushError {
    PushError::Notification {
        attribute,
        problem: problem.into(),
    }
}

/// The storage event for a notification; every attribute is checked and a fault names it.
pub(crate) fn to_event(message: &PushedMessage) -> Result<CloudEvent, PushError> {
    let required = |name: &'static str| {
        message
            .attributes
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                problem(
                    name,
                    "is missing, and Cloud Storage sets it on every notification",
                )
            })
    };
    let kind = required(EVENT_TYPE)?;
    let ty = EVENT_TYPES
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, ty)| *ty)
        .ok_or_else(|| {
            problem(
                EVENT_TYPE,
                format!("is `{kind}`, not a Cloud Storage notification event type"),
            )
        })?;
    let bucket = required(BUCKET_ID)?;
    let name = required(OBJECT_ID)?;
    let generation_text = required(OBJECT_GENERATION)?;
    let generation: i64 = generation_text.parse().map_err(|_| {
        problem(
            OBJECT_GENERATION,
            format!("is `{generation_text}`, not an integer"),
        )
    })?;
    let format = required(PAYLOAD_FORMAT)?;
    if format != JSON_API_V1 {
        // Decision: `NONE` is refused, not guessed around. Without the object resource the
        // routes cannot see the derived-object marker, the content type or the size.
        return Err(problem(
            PAYLOAD_FORMAT,
            format!(
                "is `{format}`, but only {JSON_API_V1} carries the object metadata the routes need (create the notification with --payload-format=json)"
            ),
        ));
    }
    let time = match message.attributes.get(EVENT_TIME) {
        Some(t) if !is_rfc3339(t) => {
            return Err(problem(
                EVENT_TIME,
                format!("is `{t}`, not an RFC 3339 timestamp"),
            ));
        }
        Some(t) => Some(t.clone()),
        None => message.publish_time.clone(),
    };
    let (object, data) = object_data(message, bucket, name, generation)?;
    let event = storage_event_with_data(ty, message.message_id.clone(), &object, data, time);
    event.check()?;
    Ok(event)
}

/// The message data, checked to describe the object the attributes name.
fn object_data(
    message: &PushedMessage,
    bucket: &str,
    name: &str,
    generation: i64,
) -> Result<(StorageObjectData, Bytes), PushError> {
    let object: StorageObjectData = serde_json::from_slice(&message.data).map_err(|e| {
        problem(
            PAYLOAD_FORMAT,
            format!("is {JSON_API_V1}, but the message data is not an object resource: {e}"),
        )
    })?;
    if object.bucket != bucket {
        let found = &object.bucket;
        return Err(problem(
            BUCKET_ID,
            format!("is `{bucket}`, but the message data names bucket `{found}`"),
        ));
    }
    if object.name != name {
        let found = &object.name;
        return Err(problem(
            OBJECT_ID,
            format!("is `{name}`, but the message data names object `{found}`"),
        ));
    }
    match object.generation {
        Some(g) if g != generation => Err(problem(
            OBJECT_GENERATION,
            format!("is {generation}, but the message data has generation {g}"),
        )),
        Some(_) => Ok((object, Bytes::from(message.data.clone()))),
        None => {
            // The attribute is authoritative; the routes key idempotency on the generation.
            let object = StorageObjectData {
                generation: Some(generation),
                ..object
            };
            let data = Bytes::from(serde_json::to_vec(&object).unwrap_or_default());
            Ok((object, data))
        }
    }
}
