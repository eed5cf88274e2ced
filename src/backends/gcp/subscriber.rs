//! Pulling from a Pub/Sub subscription over REST, for the `dead-letters` command: `:pull`,
//! `:acknowledge` and `:modifyAckDeadline` (GAPIS google/pubsub/v1/pubsub.proto;
//! https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions). Speaks
//! the wire and classifies errors; what a message means is `dead_letters`' business.
//!
//! Pull sets only `maxMessages`: `returnImmediately` is deprecated ("adversely impacts the
//! performance of Pull operations"), so an empty subscription may hold the request open.
//! [`PULL_WAIT_SECS`] bounds that wait, and a pull that times out means "nothing more".

use super::retry::Idempotency;
use super::storage::PATH_SEGMENT;
use super::{GcpContext, Service, base_url};
use crate::backends::{BackendError, BackendResult};
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait of one `:pull` on a subscription that has nothing to give.
pub const PULL_WAIT_SECS: u64 = 10;
/// Pub/Sub's limit of ack ids per `:acknowledge`/`:modifyAckDeadline` request.
const MAX_ACK_IDS_PER_REQUEST: usize = 2500;

/// One message as `:pull` returns it (`ReceivedMessage`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedMessage {
    pub ack_id: String,
    pub message: PubsubMessage,
    /// Set only when the subscription has a dead-letter policy (this one has none).
    #[serde(default)]
    pub delivery_attempt: Option<u32>,
}

/// `PubsubMessage`: data (base64), attributes, id and publish time.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PubsubMessage {
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub message_id: String,
    #[serde(default)]
    pub publish_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PullResponse {
    #[serde(default)]
    received_messages: Vec<ReceivedMessage>,
}

/// Pulls, acknowledges and releases the messages of one subscription.
pub struct PubSubSubscriber {
    ctx: Arc<GcpContext>,
    subscription: String,
}

impl PubSubSubscriber {
    /// `subscription` is an id in the context's project or a full
    /// `projects/P/subscriptions/S` name.
    pub fn new(ctx: Arc<GcpContext>, subscription: &str) -> Self {
        Self {
            ctx,
            subscription: subscription.to_owned(),
        }
    }

    /// `projects/P/subscriptions/S`.
    pub fn name(&self) -> BackendResult<String> {
        Ok(match self.subscription.strip_prefix("projects/") {
            Some(_) => self.subscription.clone(),
            None => format!(
                "projects/{}/subscriptions/{}",
                self.ctx.require_project()?,
                self.subscription
            ),
        })
    }

    fn url(&self, method: &str) -> BackendResult<String> {
        let name = self.name()?;
        let encoded: Vec<String> = name
            .split('/')
            .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
            .collect();
        let base = base_url(&self.ctx.settings.pubsub_endpoint);
        Ok(format!("{base}/v1/{}:{method}", encoded.join("/")))
    }

    /// Up to `max_messages` messages, leased for the subscription's ack deadline; empty when
    /// the subscription has none (or none arrived within [`PULL_WAIT_SECS`]). Not retried
    /// after a lost answer: its messages stay leased until their deadline, then come back.
    pub async fn pull(&self, max_messages: u32) -> BackendResult<Vec<ReceivedMessage>> {
        let url = self.url("pull")?;
        let body = json!({ "maxMessages": max_messages.max(1) });
        let wait = Duration::from_secs(PULL_WAIT_SECS);
        let answer = self
            .ctx
            .send(Service::PubSub, Idempotency::NotIdempotent, || {
                self.ctx.client.post(&url).json(&body).timeout(wait)
            })
            .await;
        match answer {
            Ok(answer) => Ok(answer
                .json::<PullResponse>(Service::PubSub)?
                .received_messages),
            Err(BackendError::Timeout { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Acknowledges: the messages are gone from the subscription.
    pub async fn acknowledge(&self, ack_ids: &[String]) -> BackendResult<()> {
        self.post_ack_ids("acknowledge", ack_ids, None).await
    }

    /// Sets the lease of the messages to `seconds` from now; 0 releases them (a nack), so
    /// they can be pulled again at once.
    pub async fn modify_ack_deadline(&self, ack_ids: &[String], seconds: u32) -> BackendResult<()> {
        self.post_ack_ids("modifyAckDeadline", ack_ids, Some(seconds))
            .await
    }

    async fn post_ack_ids(
        &self,
        method: &str,
        ack_ids: &[String],
        deadline_secs: Option<u32>,
    ) -> BackendResult<()> {
        let url = self.url(method)?;
        for batch in ack_ids.chunks(MAX_ACK_IDS_PER_REQUEST) {
            let mut body = json!({ "ackIds": batch });
            if let Some(seconds) = deadline_secs {
                body["ackDeadlineSeconds"] = json!(seconds);
            }
            // Both are idempotent: acking or re-leasing twice changes nothing.
            self.ctx
                .send(Service::PubSub, Idempotency::Idempotent, || {
                    self.ctx.client.post(&url).json(&body)
                })
                .await?;
        }
        Ok(())
    }
}
