//! The seams the handlers speak to (`ObjectStore`, `Records`, `Publisher`, `Moderator`, and
//! the optional `VerdictIndex`), the error every backend returns (classified with `is_transient`), and
//! [`Backends::from_settings`], the ONE place that picks implementations from the settings,
//! and [`LocalControl`], the narrow handle on the embedded local runtime (the only way the
//! CLI, start-up and router reach it: `local` is private to this module).
//! Handlers never see which implementation they got; backends never decide HTTP statuses.

pub mod builtin;
pub mod gcp;
mod local;

pub use local::DeadLetter;

use crate::config::{
    ModerationBackend, PublisherBackend, RecordsBackend, Settings, StorageBackend,
};
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::{ImageRecord, ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent, PutOutcome};
use crate::domain::{IndexedVerdict, RecordKey, SafeSearch, VerdictKey, WriteCondition};
use async_trait::async_trait;
use bytes::Bytes;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Installs ring as rustls' process-wide crypto provider (reqwest is built without a default
/// one). Every HTTP client calls this first; a second install is a harmless no-op.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error from any backend. `is_transient` decides between `retry` (503) and `rejected`.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The object, document or topic does not exist (for a source object: it was deleted).
    #[error("{what} was not found")]
    NotFound { what: String },
    /// The service answered with an HTTP error status.
    #[error("{service} answered HTTP {status}: {message}")]
    Http {
        service: &'static str,
        status: u16,
        message: String,
        /// `Retry-After`, when the service sent one.
        retry_after: Option<Duration>,
    },
    #[error("{service} did not answer within {timeout_secs}s")]
    Timeout {
        service: &'static str,
        timeout_secs: u64,
    },
    #[error("could not reach {service}: {message}")]
    Connection {
        service: &'static str,
        message: String,
    },
    #[error("could not get a Google access token: {0}")]
    Auth(String),
    /// The service answered something we cannot read (permanent: retrying won't fix it).
    #[error("{service} sent an answer that could not be read: {message}")]
    Malformed {
        service: &'static str,
        message: String,
    },
    /// The request itself is invalid (bad object name, image too big for Vision, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A per-item error inside a successful answer (Vision's `responses[i].error`).
    #[error("{service} refused the item (code {code}): {message}")]
    ItemError {
        service: &'static str,
        code: i32,
        message: String,
        transient: bool,
    },
    /// A local resource (disk, SQLite) is busy or failing; worth retrying.
    #[error("{context}: {message}")]
    LocalUnavailable { context: String, message: String },
    /// The service refuses this deployment, not the request (an API not enabled, a missing
    /// IAM role): transient, so the work waits for an operator's fix instead of being judged.
    #[error("{service} refuses this service's calls (an operator must fix it): {message}")]
    Misconfigured {
        service: &'static str,
        message: String,
    },
}

impl BackendError {
    /// Transient errors answer `retry` so Eventarc redelivers; others are permanent.
    /// 408, 429, 5xx, timeouts, connection failures and token failures are transient.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Http { status, .. } => matches!(*status, 408 | 429 | 500..=599),
            Self::Timeout { .. } | Self::Connection { .. } | Self::Auth(_) => true,
            Self::LocalUnavailable { .. } | Self::Misconfigured { .. } => true,
            Self::ItemError { transient, .. } => *transient,
            Self::NotFound { .. } | Self::Malformed { .. } | Self::Invalid(_) => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. }) || matches!(self, Self::Http { status: 404, .. })
    }
}

pub type BackendResult<T> = Result<T, BackendError>;

/// `body` (read with a bound of `max_bytes + 1`) when it holds at most `max_bytes`.
pub(crate) fn whole_within(obj: &ObjectRef, body: Bytes, max_bytes: u64) -> BackendResult<Bytes> {
    match body.len() as u64 > max_bytes {
        true => Err(BackendError::Invalid(format!(
            "{obj} has more than the {max_bytes} bytes admitted for it (its event or \
             metadata said less, or it is stored compressed)"
        ))),
        false => Ok(body),
    }
}

/// Buckets of objects (Cloud Storage, or folders locally).
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Metadata of the object (of `obj.generation` if set). `NotFound` if it is gone.
    async fn stat(&self, obj: &ObjectRef) -> BackendResult<ObjectInfo>;
    /// The whole content (of `obj.generation` if set), unbounded: only for objects whose
    /// size is already known to be small. Reads of uploads use [`Self::read_within`].
    async fn read(&self, obj: &ObjectRef) -> BackendResult<Bytes>;
    /// At most the first `max_bytes` bytes (a ranged read, for sniffing the format); never
    /// reads further, whatever the server sends.
    async fn read_prefix(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes>;
    /// The whole content when it has at most `max_bytes` (the size admitted for it); more
    /// is a permanent `Invalid`, found without reading past `max_bytes + 1`.
    async fn read_within(&self, obj: &ObjectRef, max_bytes: u64) -> BackendResult<Bytes> {
        let body = self.read_prefix(obj, max_bytes.saturating_add(1)).await?;
        whole_within(obj, body, max_bytes)
    }
    /// Writes an object under a precondition; `ConditionNotMet` is not an error.
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
        condition: WriteCondition,
    ) -> BackendResult<PutOutcome>;
    /// Deletes the object (that generation if set). `Ok(false)` when it did not exist.
    async fn delete(&self, obj: &ObjectRef) -> BackendResult<bool>;
    /// One page of the live objects whose names start with `prefix`, in name order; pass
    /// the previous page's `next_page_token` for the next (gcp-contracts.md §7).
    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        page_token: Option<&str>,
    ) -> BackendResult<ObjectPage>;
}

/// One page of [`ObjectStore::list`].
#[derive(Debug, Clone, Default)]
pub struct ObjectPage {
    pub objects: Vec<ObjectInfo>,
    /// `None` on the last page.
    pub next_page_token: Option<String>,
}

/// One record per source image, plus a small ledger of handled events.
#[async_trait]
pub trait Records: Send + Sync {
    /// Merges a stage update into the record (creating it), atomically with respect to other
    /// stages: read, [`ImageRecord::apply`], write with an optimistic precondition, retry on
    /// conflict. Only the stage's own fields (plus status/updatedAt/lastEventId) are written.
    async fn apply(&self, event: &StageEvent) -> BackendResult<ApplyResult>;
    /// The record, if any.
    async fn get(&self, key: &RecordKey) -> BackendResult<Option<ImageRecord>>;
    /// True when `done_key` was marked done before (idempotency ledger).
    async fn is_done(&self, done_key: &str) -> BackendResult<bool>;
    /// Marks `done_key` done after the work for it succeeded.
    async fn mark_done(&self, done_key: &str) -> BackendResult<()>;
}

/// Judgements already made, by the content they judged, so identical bytes are not sent to
/// the moderator twice (`moderation.reuse_verdict_for_same_content`). An index, not the
/// truth: the record holds each image's verdict; losing an entry only costs a call.
#[async_trait]
pub trait VerdictIndex: Send + Sync {
    /// The judgement stored under `key`, if any (an entry whose full hash or basis differs
    /// from the key's is `None`).
    async fn find(&self, key: &VerdictKey) -> BackendResult<Option<IndexedVerdict>>;
    /// Stores `verdict` under `key`, replacing what was there (an equal key means the same
    /// bytes judged on the same basis, so any entry is as good as another).
    async fn remember(&self, key: &VerdictKey, verdict: &IndexedVerdict) -> BackendResult<()>;
}

/// Announces pipeline events (Pub/Sub, or the local event router).
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes all events (batched where the transport allows); all or error.
    async fn publish(&self, events: &[PipelineEvent]) -> BackendResult<()>;
}

/// The image a moderator should look at.
#[derive(Debug, Clone)]
pub enum ModerationImage {
    /// Encoded image bytes (a downscaled variant, within Vision's limits).
    Bytes(Bytes),
    /// An object the moderator reads itself (`gs://bucket/name`).
    StorageUri { bucket: String, name: String },
}

/// Content moderation (Cloud Vision SafeSearch, or the built-in model).
#[async_trait]
pub trait Moderator: Send + Sync {
    /// Per-category likelihoods for one image.
    async fn assess(&self, image: &ModerationImage) -> BackendResult<SafeSearch>;
    /// Name recorded in the verdict (`vision`, ...).
    fn name(&self) -> &'static str;
    /// A moderator that computes on this instance's CPU and memory; `None` for a remote
    /// service. The route then runs it itself, under the CPU permit and the memory budget.
    fn local(&self) -> Option<Arc<dyn LocalModerator>> {
        None
    }
}

/// A moderator's work on this instance, run by the route as blocking CPU work.
pub trait LocalModerator: Send + Sync {
    /// Memory one assessment holds besides the encoded image it is given.
    fn working_bytes(&self) -> u64;
    /// Likelihoods for a small encoded image, computed on the calling thread.
    fn assess_now(&self, image: &[u8]) -> BackendResult<SafeSearch>;
}

/// The embedded local runtime (folder store, SQLite, the in-process event router), as the
/// CLI, start-up and router may use it: start, stop, wait until idle, dead letters.
#[async_trait]
pub trait LocalControl: Send + Sync {
    /// Starts delivering queued events to the server at `base_url` (once; later calls are
    /// no-ops). Must be called inside a tokio runtime.
    fn start(&self, base_url: String);
    /// Stops delivering (in-flight sends finish; their leases are released).
    fn stop(&self);
    /// Deliveries queued or in flight, counting every process on this data dir.
    async fn pending(&self) -> BackendResult<u64>;
    /// Waits until nothing is queued or in flight; `Ok(false)` if `timeout` passed first.
    async fn wait_idle(&self, timeout: Duration) -> BackendResult<bool>;
    /// Deliveries that gave up after `local.delivery_max_attempts`, oldest first.
    fn dead_letters(&self) -> std::io::Result<Vec<DeadLetter>>;
    /// The folder dead letters are written to.
    fn dead_letter_dir(&self) -> PathBuf;
    /// Removes a dead letter (after it was replayed); `Ok(false)` when it was not there.
    fn remove_dead_letter(&self, delivery_id: &str) -> std::io::Result<bool>;
}

/// The implementations in use; cloned into every handler call.
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn ObjectStore>,
    pub records: Arc<dyn Records>,
    pub publisher: Arc<dyn Publisher>,
    /// `None` when no moderator is configured: verdicts are `unmoderated`.
    pub moderator: Option<Arc<dyn Moderator>>,
    /// `None` when `moderation.reuse_verdict_for_same_content` is off: every upload is judged.
    pub verdicts: Option<Arc<dyn VerdictIndex>>,
}

/// The local runtime's handle, when any local backend is in use.
pub type LocalHandle = Option<Arc<dyn LocalControl>>;

impl Backends {
    /// The ONE place that picks implementations from the settings; also hands back the
    /// local runtime's control when a local backend runs.
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<(Self, LocalHandle)> {
        let uses_local = settings.storage.backend == StorageBackend::Local
            || settings.records.backend == RecordsBackend::Sqlite
            || settings.publisher.backend == PublisherBackend::Local;
        let uses_gcp = settings.storage.backend == StorageBackend::Gcs
            || settings.records.backend == RecordsBackend::Firestore
            || settings.publisher.backend == PublisherBackend::Pubsub
            || settings.moderation.backend == ModerationBackend::Vision;
        let local = match uses_local {
            true => Some(local::LocalRuntime::open(settings)?),
            false => None,
        };
        let gcp_context = match uses_gcp {
            true => Some(gcp::GcpContext::new(&settings.gcp).await?),
            false => None,
        };
        let missing = || anyhow::anyhow!("backend selection is inconsistent (a bug)");
        let cloud = || gcp_context.clone().ok_or_else(missing);
        let local_ref = || local.as_ref().ok_or_else(missing);

        let store: Arc<dyn ObjectStore> = match settings.storage.backend {
            StorageBackend::Gcs => Arc::new(gcp::GcsStore::new(cloud()?)),
            StorageBackend::Local => local_ref()?.store(),
        };
        let records: Arc<dyn Records> = match settings.records.backend {
            RecordsBackend::Firestore => Arc::new(
                gcp::FirestoreRecords::new(cloud()?, &settings.records.collection)
                    .with_ledger_collection(&settings.records.ledger_collection),
            ),
            RecordsBackend::Sqlite => local_ref()?.records(),
        };
        let publisher: Arc<dyn Publisher> = match settings.publisher.backend {
            PublisherBackend::Pubsub => Arc::new(gcp::PubSubPublisher::new(
                cloud()?,
                &settings.pipeline.topic,
            )),
            PublisherBackend::Local => local_ref()?.publisher(),
        };
        let moderator: Option<Arc<dyn Moderator>> = match settings.moderation.backend {
            ModerationBackend::None => None,
            ModerationBackend::Vision => Some(Arc::new(gcp::VisionModerator::new(cloud()?))),
            ModerationBackend::Builtin => builtin::BuiltinModerator::load_or_explain(
                &builtin::model_dir_for(&settings.moderation),
            ),
        };
        let verdicts: Option<Arc<dyn VerdictIndex>> = match (
            settings.moderation.reuse_verdict_for_same_content,
            settings.records.backend,
        ) {
            (false, _) => None,
            (true, RecordsBackend::Firestore) => Some(Arc::new(gcp::FirestoreVerdicts::new(
                cloud()?,
                &settings.records.verdict_collection,
            ))),
            (true, RecordsBackend::Sqlite) => Some(local_ref()?.verdicts()),
        };
        let backends = Self {
            store,
            records,
            publisher,
            moderator,
            verdicts,
        };
        Ok((backends, local.map(|l| l as Arc<dyn LocalControl>)))
    }
}
