//! The local Pub/Sub: publishing queues one `messagePublished` delivery per trigger on the
//! pipeline topic, all events of one call in one transaction (all or nothing). A topic with
//! no trigger drops the message, as a Pub/Sub topic without subscriptions does.

use super::Shared;
use super::db::sql_error;
use crate::backends::{BackendResult, Publisher};
use crate::domain::PipelineEvent;
use async_trait::async_trait;
use rusqlite::TransactionBehavior;
use std::sync::Arc;

pub(crate) struct LocalPublisher {
    shared: Arc<Shared>,
}

impl LocalPublisher {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[async_trait]
impl Publisher for LocalPublisher {
    async fn publish(&self, events: &[PipelineEvent]) -> BackendResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let shared = self.shared.clone();
        let events = events.to_vec();
        let context = format!("could not publish to the local topic {}", shared.topic);
        self.shared
            .db
            .call(context.clone(), move |conn| {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(sql_error(&context))?;
                for event in &events {
                    shared
                        .enqueue_pipeline(&tx, event)
                        .map_err(sql_error(&context))?;
                }
                tx.commit().map_err(sql_error(&context))
            })
            .await?;
        self.shared.wake.notify_one();
        Ok(())
    }
}
