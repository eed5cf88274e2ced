//! Pipeline events to a Pub/Sub topic over REST (gcp-contracts.md §6): one `:publish` request
//! carrying every ready message (split at 1000), data = the event's JSON in base64,
//! attributes = `eventType`, `source`. Publish is not idempotent, so only answers that say
//! "not served" (429/503/504) are retried; a duplicate downstream is harmless (records merge).

use super::retry::Idempotency;
use super::storage::PATH_SEGMENT;
use super::{GcpContext, Service, base_url};
use crate::backends::{BackendError, BackendResult, Publisher};
use crate::domain::PipelineEvent;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Messages per publish request, the API's limit.
pub(crate) const MAX_MESSAGES_PER_REQUEST: usize = 1000;

/// Publishes pipeline events to one topic.
pub struct PubSubPublisher {
    ctx: Arc<GcpContext>,
    topic: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishResponse {
    #[serde(default)]
    message_ids: Vec<String>,
}

impl PubSubPublisher {
    /// `topic` is a topic id (`image-pipeline-events`) in the context's project, or a full
    /// `projects/P/topics/T` name.
    pub fn new(ctx: Arc<GcpContext>, topic: &str) -> Self {
        Self {
            ctx,
            topic: topic.to_owned(),
        }
    }

    fn publish_url(&self) -> BackendResult<String> {
        let base = base_url(&self.ctx.settings.pubsub_endpoint);
        Ok(match self.topic.strip_prefix("projects/") {
            Some(full) => format!("{base}/v1/projects/{full}:publish"),
            None => format!(
                "{base}/v1/projects/{}/topics/{}:publish",
                utf8_percent_encode(self.ctx.require_project()?, PATH_SEGMENT),
                utf8_percent_encode(&self.topic, PATH_SEGMENT)
            ),
        })
    }
}

fn message(event: &PipelineEvent) -> Value {
    json!({
        "data": STANDARD.encode(event.data_json()),
        "attributes": event.attributes(),
    })
}

#[async_trait]
impl Publisher for PubSubPublisher {
    async fn publish(&self, events: &[PipelineEvent]) -> BackendResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let url = self.publish_url()?;
        for batch in events.chunks(MAX_MESSAGES_PER_REQUEST) {
            let body = json!({ "messages": batch.iter().map(message).collect::<Vec<_>>() });
            let answer = self
                .ctx
                .send(Service::PubSub, Idempotency::NotIdempotent, || {
                    self.ctx.client.post(&url).json(&body)
                })
                .await?;
            let answer: PublishResponse = answer.json(Service::PubSub)?;
            if answer.message_ids.len() != batch.len() {
                return Err(BackendError::Malformed {
                    service: Service::PubSub.display_name(),
                    message: format!(
                        "published {} messages but got {} message ids",
                        batch.len(),
                        answer.message_ids.len()
                    ),
                });
            }
        }
        Ok(())
    }
}
