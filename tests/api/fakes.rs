//! In-memory fakes of the four seams, with call counters and fault injection.

use async_trait::async_trait;
use bytes::Bytes;
use image_pipeline::backends::{
    BackendError, BackendResult, ModerationImage, Moderator, ObjectPage, ObjectStore, Publisher,
    Records,
};
use image_pipeline::domain::record::{ApplyResult, StageEvent};
use image_pipeline::domain::{
    ImageRecord, ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent, PutOutcome, RecordKey,
    SafeSearch, WriteCondition,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<(String, String), (ObjectInfo, Bytes)>>,
    next_generation: AtomicI64,
    pub reads: AtomicUsize,
    pub puts: AtomicUsize,
    /// The next N writes fail with a transient 503.
    pub fail_next_puts: AtomicUsize,
    /// The next write of this object name fails with a transient 503.
    pub fail_once_for: Mutex<Option<String>>,
    /// When set, every whole-object read waits for one permit of this gate (a download
    /// that stalls until the test lets it go).
    pub read_gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

fn unavailable() -> BackendError {
    BackendError::Http {
        service: "fake storage",
        status: 503,
        message: "injected fault".into(),
        retry_after: None,
    }
}

impl MemoryStore {
    pub fn insert(&self, bucket: &str, name: &str, body: &[u8], meta: &ObjectMeta) -> ObjectInfo {
        let generation = 1_000 + self.next_generation.fetch_add(1, Ordering::SeqCst);
        let info = ObjectInfo {
            bucket: bucket.into(),
            name: name.into(),
            generation,
            size_bytes: body.len() as u64,
            content_type: Some(meta.content_type.clone()),
            md5_base64: None,
            metadata: meta.metadata.clone(),
        };
        self.objects.lock().unwrap().insert(
            (bucket.into(), name.into()),
            (info.clone(), Bytes::copy_from_slice(body)),
        );
        info
    }

    pub fn get(&self, bucket: &str, name: &str) -> Option<(ObjectInfo, Bytes)> {
        self.objects
            .lock()
            .unwrap()
            .get(&(bucket.into(), name.into()))
            .cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.objects
            .lock()
            .unwrap()
            .keys()
            .map(|(_, n)| n.clone())
            .collect()
    }

    fn live(&self, obj: &ObjectRef) -> BackendResult<(ObjectInfo, Bytes)> {
        let found = self.get(&obj.bucket, &obj.name);
        match found {
            Some((info, body)) if obj.generation.is_none_or(|g| g == info.generation) => {
                Ok((info, body))
            }
            _ => Err(BackendError::NotFound {
                what: obj.to_string(),
            }),
        }
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo> {
        Ok(self.live(obj)?.0)
    }
    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes> {
        self.read_within(obj, u64::MAX).await
    }
    async fn read_within(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let gate = self.read_gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.acquire().await.unwrap().forget();
        }
        let body = self.live(obj)?.1;
        match body.len() as u64 > max_bytes {
            true => Err(BackendError::Invalid(format!(
                "{obj} is over {max_bytes} bytes"
            ))),
            false => Ok(body),
        }
    }
    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        let body = self.live(obj)?.1;
        Ok(body.slice(..body.len().min(max_bytes as usize)))
    }
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<PutOutcome> {
        if take_one(&self.fail_next_puts) {
            return Err(unavailable());
        }
        {
            let mut fail_once = self.fail_once_for.lock().unwrap();
            if fail_once.as_deref() == Some(name) {
                *fail_once = None;
                return Err(unavailable());
            }
        }
        let existing = self.get(bucket, name).map(|(info, _)| info.generation);
        let allowed = match condition {
            WriteCondition::CreateOnly => existing.is_none(),
            WriteCondition::IfGenerationMatch(g) => existing == Some(g),
            WriteCondition::Overwrite => true,
        };
        if !allowed {
            return Ok(PutOutcome::ConditionNotMet);
        }
        self.puts.fetch_add(1, Ordering::SeqCst);
        Ok(PutOutcome::Written(self.insert(bucket, name, &body, meta)))
    }
    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool> {
        if self.live(obj).is_err() {
            return Ok(false);
        }
        let key = (obj.bucket.clone(), obj.name.clone());
        Ok(self.objects.lock().unwrap().remove(&key).is_some())
    }
    /// One page with everything (the fake needs no paging).
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        _page_token: Option<&str>,
    ) -> BackendResult<ObjectPage> {
        let objects = self.objects.lock().unwrap();
        let matching = objects
            .iter()
            .filter(|((b, n), _)| b == bucket && n.starts_with(prefix));
        Ok(ObjectPage {
            objects: matching.map(|(_, (info, _))| info.clone()).collect(),
            next_page_token: None,
        })
    }
}

#[derive(Default)]
pub struct MemoryRecords {
    records: Mutex<HashMap<RecordKey, ImageRecord>>,
    done: Mutex<HashSet<String>>,
    pub applies: AtomicUsize,
}

impl MemoryRecords {
    pub fn record(&self, bucket: &str, name: &str) -> Option<ImageRecord> {
        self.records
            .lock()
            .unwrap()
            .get(&RecordKey::new(bucket, name))
            .cloned()
    }
}

#[async_trait]
impl Records for MemoryRecords {
    async fn apply(&self, event: &StageEvent) -> BackendResult<ApplyResult> {
        self.applies.fetch_add(1, Ordering::SeqCst);
        let mut records = self.records.lock().unwrap();
        let record = records
            .entry(event.key.clone())
            .or_insert_with(|| ImageRecord::new(&event.key, event.generation));
        Ok(record.apply(event))
    }
    async fn get(&self, key: &RecordKey) -> BackendResult<Option<ImageRecord>> {
        Ok(self.records.lock().unwrap().get(key).cloned())
    }
    async fn is_done(&self, done_key: &str) -> BackendResult<bool> {
        Ok(self.done.lock().unwrap().contains(done_key))
    }
    async fn mark_done(&self, done_key: &str) -> BackendResult<()> {
        self.done.lock().unwrap().insert(done_key.to_owned());
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryPublisher {
    pub published: Mutex<Vec<PipelineEvent>>,
    /// The next N publishes fail with a transient 503.
    pub fail_next: AtomicUsize,
    /// Every publish is refused for good (a Pub/Sub 403: no permission on the topic).
    pub refuse_all: AtomicBool,
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl MemoryPublisher {
    pub fn take(&self) -> Vec<PipelineEvent> {
        std::mem::take(&mut *self.published.lock().unwrap())
    }
    pub fn types(&self) -> Vec<&'static str> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.event_type.as_str())
            .collect()
    }
}

#[async_trait]
impl Publisher for MemoryPublisher {
    async fn publish(&self, events: &[PipelineEvent]) -> BackendResult<()> {
        if self.refuse_all.load(Ordering::SeqCst) {
            return Err(BackendError::Http {
                service: "fake pubsub",
                status: 403,
                message: "injected: permission denied on the topic".into(),
                retry_after: None,
            });
        }
        if take_one(&self.fail_next) {
            return Err(BackendError::Http {
                service: "fake pubsub",
                status: 503,
                message: "injected fault".into(),
                retry_after: None,
            });
        }
        self.published.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}

#[derive(Default)]
pub struct FakeModerator {
    pub answer: SafeSearch,
    pub calls: AtomicUsize,
    /// Every call is refused for good (a Vision 400: the image cannot be read).
    pub refuse_all: AtomicBool,
    /// The `gs://` URIs it was asked to read itself (images too big to send inline).
    pub uris: Mutex<Vec<String>>,
}

#[async_trait]
impl Moderator for FakeModerator {
    async fn assess(&self, image: &ModerationImage) -> BackendResult<SafeSearch> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let ModerationImage::StorageUri { bucket, name } = image {
            self.uris
                .lock()
                .unwrap()
                .push(format!("gs://{bucket}/{name}"));
        }
        if self.refuse_all.load(Ordering::SeqCst) {
            return Err(BackendError::Http {
                service: "fake vision",
                status: 400,
                message: "injected: bad image data".into(),
                retry_after: None,
            });
        }
        Ok(self.answer.clone())
    }
    fn name(&self) -> &'static str {
        "fake"
    }
}
