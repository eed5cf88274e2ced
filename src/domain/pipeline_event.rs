//! Pipeline events: what a stage announces on the pipeline topic (design.md §2 "Routes").
//! The JSON data is `{bucket, name, generation, stage, ...stage fields}`; the attributes
//! carry `eventType` and `source` so Eventarc filters and humans can read them.

use super::record::{RecordKey, StageUpdate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Pub/Sub attribute naming the pipeline event type.
pub const EVENT_TYPE_ATTRIBUTE: &str = "eventType";
/// Pub/Sub attribute naming the route that published the event.
pub const SOURCE_ATTRIBUTE: &str = "source";

/// The pipeline's own event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PipelineEventType {
    #[serde(rename = "image.resized")]
    Resized,
    #[serde(rename = "image.thumbnailed")]
    Thumbnailed,
    #[serde(rename = "image.moderated")]
    Moderated,
    #[serde(rename = "image.failed")]
    Failed,
}

impl PipelineEventType {
    pub const ALL: [Self; 4] = [
        Self::Resized,
        Self::Thumbnailed,
        Self::Moderated,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resized => "image.resized",
            Self::Thumbnailed => "image.thumbnailed",
            Self::Moderated => "image.moderated",
            Self::Failed => "image.failed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The type named by a Pub/Sub message's `eventType` attribute, if it is one of ours.
    pub fn from_attributes(attributes: &BTreeMap<String, String>) -> Option<Self> {
        attributes
            .get(EVENT_TYPE_ATTRIBUTE)
            .and_then(|t| Self::parse(t))
    }
}

/// The data of a pipeline event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineEventData {
    pub bucket: String,
    pub name: String,
    /// int64 as a decimal string, like Google's own event payloads.
    #[serde(with = "crate::events::int64::required")]
    pub generation: i64,
    #[serde(flatten)]
    pub update: StageUpdate,
}

impl PipelineEventData {
    /// Decodes the JSON data of a pipeline event (the Pub/Sub message data, base64-decoded).
    pub fn from_json(bytes: &[u8]) -> serde_json::Result<Self> {
        serde_json::from_slice(bytes)
    }
}

/// One pipeline event, ready for a `Publisher`.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineEvent {
    pub event_type: PipelineEventType,
    /// The route that produced it (`resize`, ...); becomes `source=image-pipeline/<route>`.
    pub route: String,
    pub data: PipelineEventData,
}

impl PipelineEvent {
    pub fn new(
        event_type: PipelineEventType,
        route: &str,
        key: &RecordKey,
        generation: i64,
        update: StageUpdate,
    ) -> Self {
        Self {
            event_type,
            route: route.to_owned(),
            data: PipelineEventData {
                bucket: key.bucket.clone(),
                name: key.name.clone(),
                generation,
                update,
            },
        }
    }

    /// The message attributes (`eventType`, `source`).
    pub fn attributes(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                EVENT_TYPE_ATTRIBUTE.to_owned(),
                self.event_type.as_str().to_owned(),
            ),
            (
                SOURCE_ATTRIBUTE.to_owned(),
                format!("image-pipeline/{}", self.route),
            ),
        ])
    }

    /// The message data as JSON bytes.
    pub fn data_json(&self) -> Vec<u8> {
        // Serialising plain structs with string keys cannot fail.
        serde_json::to_vec(&self.data).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_event_data_round_trips_through_json_with_a_string_generation() {
        let event = PipelineEvent::new(
            PipelineEventType::Failed,
            "resize",
            &RecordKey::new("b", "n.jpg"),
            42,
            StageUpdate::Failed {
                failed_stage: "resize".to_owned(),
                reason: "corrupt".to_owned(),
            },
        );

        let json: serde_json::Value = serde_json::from_slice(&event.data_json()).unwrap();
        let back: PipelineEventData = serde_json::from_value(json.clone()).unwrap();

        assert_eq!(json["generation"], "42");
        assert_eq!(json["stage"], "failed");
        assert_eq!(back, event.data);
        assert_eq!(event.attributes()["source"], "image-pipeline/resize");
        assert_eq!(event.attributes()["eventType"], "image.failed");
        assert_eq!(
            PipelineEventType::from_attributes(&event.attributes()),
            Some(PipelineEventType::Failed)
        );
    }

    #[test]
    fn a_numeric_generation_is_read_too() {
        let json = br#"{"bucket":"b","name":"n","generation":7,"stage":"deleted"}"#;

        let data = PipelineEventData::from_json(json).unwrap();

        assert_eq!(data.generation, 7);
    }
}
