//! PLACEHOLDER: replaced by the gcp branch (Google Cloud REST backends).

use super::{BackendResult, ModerationImage, Moderator, ObjectStore, Publisher, Records};
use crate::config::GcpSettings;
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::*;
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

pub struct GcpContext;

impl GcpContext {
    pub async fn new(_settings: &GcpSettings) -> anyhow::Result<Arc<Self>> {
        anyhow::bail!("the Google Cloud backends are not built yet")
    }
}

pub struct GcsStore;
impl GcsStore {
    pub fn new(_ctx: Arc<GcpContext>) -> Self {
        Self
    }
}
pub struct FirestoreRecords;
impl FirestoreRecords {
    pub fn new(_ctx: Arc<GcpContext>, _collection: &str) -> Self {
        Self
    }
}
pub struct PubSubPublisher;
impl PubSubPublisher {
    pub fn new(_ctx: Arc<GcpContext>, _topic: &str) -> Self {
        Self
    }
}
pub struct VisionModerator;
impl VisionModerator {
    pub fn new(_ctx: Arc<GcpContext>) -> Self {
        Self
    }
}

fn unbuilt<T>() -> BackendResult<T> {
    Err(super::BackendError::Invalid("not built yet".into()))
}

#[async_trait]
impl ObjectStore for GcsStore {
    async fn stat(&self, _: &ObjectRef) -> BackendResult<ObjectInfo> {
        unbuilt()
    }
    async fn read(&self, _: &ObjectRef) -> BackendResult<Bytes> {
        unbuilt()
    }
    async fn read_prefix(&self, _: &ObjectRef, _: u64) -> BackendResult<Bytes> {
        unbuilt()
    }
    async fn put(
        &self,
        _: &str,
        _: &str,
        _: Bytes,
        _: &ObjectMeta,
        _: WriteCondition,
    ) -> BackendResult<PutOutcome> {
        unbuilt()
    }
    async fn delete(&self, _: &ObjectRef) -> BackendResult<bool> {
        unbuilt()
    }
}
#[async_trait]
impl Records for FirestoreRecords {
    async fn apply(&self, _: &StageEvent) -> BackendResult<ApplyResult> {
        unbuilt()
    }
    async fn get(&self, _: &RecordKey) -> BackendResult<Option<ImageRecord>> {
        unbuilt()
    }
    async fn is_done(&self, _: &str) -> BackendResult<bool> {
        unbuilt()
    }
    async fn mark_done(&self, _: &str) -> BackendResult<()> {
        unbuilt()
    }
}
#[async_trait]
impl Publisher for PubSubPublisher {
    async fn publish(&self, _: &[PipelineEvent]) -> BackendResult<()> {
        unbuilt()
    }
}
#[async_trait]
impl Moderator for VisionModerator {
    async fn assess(&self, _: &ModerationImage) -> BackendResult<SafeSearch> {
        unbuilt()
    }
    fn name(&self) -> &'static str {
        "vision"
    }
}
