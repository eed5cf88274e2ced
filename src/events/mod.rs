//! PLACEHOLDER: replaced by the events branch (typed Google event payloads).

use crate::cloudevent::CloudEvent;
use std::collections::BTreeMap;

pub mod types {
    pub const STORAGE_FINALIZED: &str = "google.cloud.storage.object.v1.finalized";
    pub const STORAGE_DELETED: &str = "google.cloud.storage.object.v1.deleted";
    pub const PUBSUB_PUBLISHED: &str = "google.cloud.pubsub.topic.v1.messagePublished";
}

pub mod storage {
    use std::collections::BTreeMap;
    #[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
    pub struct StorageObjectData {
        pub bucket: String,
        pub name: String,
        pub generation: Option<i64>,
        pub size: Option<u64>,
        pub content_type: Option<String>,
        pub metadata: BTreeMap<String, String>,
    }
}

pub mod pubsub {
    use std::collections::BTreeMap;
    #[derive(Debug, Clone, Default)]
    pub struct PubsubMessage {
        pub data: Option<String>,
        pub attributes: BTreeMap<String, String>,
        pub message_id: Option<String>,
    }
    #[derive(Debug, Clone, Default)]
    pub struct MessagePublishedData {
        pub message: PubsubMessage,
    }
    impl MessagePublishedData {
        pub fn decoded_data(&self) -> Result<Vec<u8>, super::EventDataError> {
            Ok(Vec::new())
        }
    }
}

#[derive(Debug, Clone)]
pub enum EventData {
    Storage(storage::StorageObjectData),
    PubSub(pubsub::MessagePublishedData),
}

#[derive(Debug, thiserror::Error)]
pub enum EventDataError {
    #[error("unknown event type {0}")]
    UnknownType(String),
    #[error("bad data {0}")]
    Invalid(String),
}

pub fn parse(event: &CloudEvent) -> Result<EventData, EventDataError> {
    let _ = BTreeMap::<String, String>::new();
    Err(EventDataError::UnknownType(event.ty.clone()))
}
