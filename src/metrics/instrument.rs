//! Seam wrappers that time the I/O stages (download, upload, publish, moderate, record) and
//! delegate everything else unchanged. Applied once, in [`AppState::new`]
//! (crate::state::AppState::new), so handlers and backends know nothing of metrics.

use super::{Metrics, Stage};
use crate::backends::{
    BackendResult, Backends, ModerationImage, Moderator, ObjectPage, ObjectStore, Publisher,
    Records,
};
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::{ImageRecord, ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent, PutOutcome};
use crate::domain::{RecordKey, SafeSearch, WriteCondition};
use async_trait::async_trait;
use bytes::Bytes;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// The same backends, with their stages timed into `metrics`.
pub fn backends(backends: Backends, metrics: &Arc<Metrics>) -> Backends {
    fn wrap<T: ?Sized>(inner: Arc<T>, metrics: &Arc<Metrics>) -> Timed<T> {
        Timed {
            inner,
            metrics: metrics.clone(),
        }
    }
    Backends {
        store: Arc::new(wrap(backends.store, metrics)),
        records: Arc::new(wrap(backends.records, metrics)),
        publisher: Arc::new(wrap(backends.publisher, metrics)),
        moderator: backends
            .moderator
            .map(|m| Arc::new(wrap(m, metrics)) as Arc<dyn Moderator>),
        verdicts: backends.verdicts,
    }
}

struct Timed<T: ?Sized> {
    inner: Arc<T>,
    metrics: Arc<Metrics>,
}

impl<T: ?Sized> Timed<T> {
    async fn time<R>(&self, stage: Stage, work: impl Future<Output = R>) -> R {
        let started = Instant::now();
        let result = work.await;
        self.metrics.stage(stage, started.elapsed());
        result
    }
}

#[async_trait]
impl ObjectStore for Timed<dyn ObjectStore> {
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo> {
        self.inner.stat(obj).await
    }
    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes> {
        self.time(Stage::download, self.inner.read(obj)).await
    }
    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        self.inner.read_prefix(obj, max_bytes).await
    }
    async fn read_within(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        let read = self.inner.read_within(obj, max_bytes);
        self.time(Stage::download, read).await
    }
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<PutOutcome> {
        let put = self.inner.put(bucket, name, body, meta, condition);
        self.time(Stage::upload, put).await
    }
    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool> {
        self.inner.delete(obj).await
    }
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
    ) -> BackendResult<ObjectPage> {
        self.inner.list(bucket, prefix, page_token).await
    }
}

#[async_trait]
impl Records for Timed<dyn Records> {
    async fn apply(&self, event: &StageEvent) -> BackendResult<ApplyResult> {
        self.time(Stage::record, self.inner.apply(event)).await
    }
    async fn get(&self, key: &RecordKey) -> BackendResult<Option<ImageRecord>> {
        self.inner.get(key).await
    }
    async fn is_done(&self, done_key: &str) -> BackendResult<bool> {
        self.inner.is_done(done_key).await
    }
    async fn mark_done(&self, done_key: &str) -> BackendResult<()> {
        self.inner.mark_done(done_key).await
    }
}

#[async_trait]
impl Publisher for Timed<dyn Publisher> {
    async fn publish(&self, events: &[PipelineEvent]) -> BackendResult<()> {
        self.time(Stage::publish, self.inner.publish(events)).await
    }
}

#[async_trait]
impl Moderator for Timed<dyn Moderator> {
    async fn assess(&self, image: &ModerationImage) -> BackendResult<SafeSearch> {
        self.time(Stage::moderate, self.inner.assess(image)).await
    }
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn local(&self) -> Option<std::sync::Arc<dyn crate::backends::LocalModerator>> {
        self.inner.local()
    }
}
