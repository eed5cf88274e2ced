//! The settings sections. Every field is documented in `config/default.toml`, which is also
//! compiled into the binary as its defaults; these types only give the values shape.

use super::values::{
    AnchorSetting, BoxSize, Colour, EmulatedService, Endpoint, FilterSetting, FormatSetting,
    MalformedStatus, Threshold, TriggerEventType,
};
use crate::domain::{SafeSearchCategory, SigningKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which defaults the backends take (`PIPELINE_PROFILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// A folder as the bucket, SQLite, the in-process event router.
    Local,
    /// Cloud Storage, Firestore, Pub/Sub, Vision.
    Gcp,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Gcp => "gcp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when stdout is not a terminal, pretty when it is.
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind; Cloud Run needs `0.0.0.0`.
    pub host: String,
    /// Port; Cloud Run's `PORT` overrides it.
    pub port: u16,
    /// Largest request body accepted; larger ones get 413 without being read.
    pub body_limit_bytes: usize,
    /// A request body not received in full within this many seconds fails (the connection
    /// is not held by a client that sends its headers and then trickles the body).
    pub body_read_timeout_secs: u64,
    /// Status for a malformed event: 200 (`rejected`, acked) or 400 (redelivered by Eventarc).
    pub malformed_status: MalformedStatus,
    /// Deadline for one event's handling; keep it below the push ack deadline.
    pub handler_deadline_secs: u64,
    /// Grace period for in-flight requests after SIGTERM (Cloud Run kills at 10 s).
    pub shutdown_timeout_secs: u64,
    /// Images decoded at once; 0 means the number of CPU cores.
    pub cpu_concurrency: usize,
    /// Memory all images in work may hold at once (`crate::admission`); each job is admitted
    /// by its estimated peak before it downloads anything. Unset: 3/4 of the cgroup memory
    /// limit (Cloud Run's `--memory`), else 768 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_budget_bytes: Option<u64>,
    /// `GET /images/<bucket>/<name>` (the record as JSON) in the gcp profile; the local
    /// profile always serves it.
    #[serde(default)]
    pub status_api: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagingSettings {
    pub max_input_bytes: u64,
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
    pub max_frames: u32,
    /// Largest frames × canvas area of an animated GIF or WebP kept animated (a GIF or WebP
    /// output); checked from the container before any decode. The default's reasoning is at
    /// `imaging::DEFAULT_MAX_ANIMATION_PIXELS`.
    pub max_animation_pixels: u64,
    /// `lanczos3`, `catmull_rom`, `mitchell`, `bilinear` or `box`.
    pub filter: FilterSetting,
    pub jpeg_quality: u8,
    pub jpeg_progressive: bool,
    pub webp_quality: f32,
    /// AVIF quality 1-100 (ravif's scale), for `avif` in `resize.formats`/`thumbnail.formats`.
    pub avif_quality: f32,
    /// Background for flattening alpha into formats without it, as `#rrggbb`.
    pub background: Colour,
    /// Keep EXIF copyright/artist tags (everything else, GPS included, is stripped).
    pub keep_copyright: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResizeSettings {
    /// Output bucket; unset (empty) means the source object's bucket.
    #[serde(
        default,
        with = "super::fields::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket: Option<String>,
    /// Outputs go to `<prefix>/<size>/<name>`.
    pub prefix: String,
    /// Size label → `WIDTHxHEIGHT` box (fit inside, never enlarged).
    pub sizes: BTreeMap<String, BoxSize>,
    /// `original`, `jpeg`, `png`, `webp` or `webp_lossless`.
    pub format: FormatSetting,
    /// Every size in each of these formats (comma list; `avif` too). The first keeps the
    /// name `<prefix>/<size>/<name>`, the others go to `<prefix>/<size>@<format>/<name>.<ext>`
    /// (`domain::naming`). Empty: `format` alone.
    #[serde(default, deserialize_with = "super::format_list")]
    pub formats: Vec<FormatSetting>,
    /// Where outputs are served from, for the record's `srcset`; `{bucket}` stands for the
    /// output bucket. Empty: resolved at load (`config::outputs`): Cloud Storage's public
    /// URL on `gcp`, the console's file route on `local`.
    #[serde(default)]
    pub public_base_url: String,
}

impl ResizeSettings {
    /// The formats every size is written in, the first one under the plain name.
    pub fn output_formats(&self) -> Vec<FormatSetting> {
        match self.formats.is_empty() {
            true => vec![self.format],
            false => self.formats.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThumbnailSettings {
    /// Output bucket; unset (empty) means the source object's bucket.
    #[serde(
        default,
        with = "super::fields::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket: Option<String>,
    /// Output goes to `<prefix>/<name>`.
    pub prefix: String,
    /// `WIDTHxHEIGHT`, cover-cropped to exactly that box.
    pub size: BoxSize,
    /// `centre` or `smart` (keeps the most detailed region).
    pub anchor: AnchorSetting,
    pub format: FormatSetting,
    /// The thumbnail in each of these formats (comma list), as `resize.formats`: the first
    /// keeps `<prefix>/<name>`, the others go to `<prefix>@<format>/<name>.<ext>`. Empty:
    /// `format` alone.
    #[serde(default, deserialize_with = "super::format_list")]
    pub formats: Vec<FormatSetting>,
}

impl ThumbnailSettings {
    /// The formats the thumbnail is written in, the first one under the plain name.
    pub fn output_formats(&self) -> Vec<FormatSetting> {
        match self.formats.is_empty() {
            true => vec![self.format],
            false => self.formats.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModerationBackend {
    /// No moderator: every verdict is `unmoderated`.
    None,
    /// Cloud Vision SafeSearch.
    Vision,
    /// nsfwjs's MobileNetV2 in-process (`crate::backends::builtin`); `unmoderated` without the model.
    Builtin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModerationPolicy {
    Record,
    Quarantine,
    Blur,
}

/// What the moderate route concludes when the moderator fails permanently (a 4xx, an
/// image it cannot read). Either way the error is recorded in the record's `moderation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModerationOnError {
    /// Verdict `unmoderated`: the image stays public, unjudged.
    FailOpen,
    /// Treated as flagged: the policy (record / quarantine / blur) applies. The default:
    /// an image nobody could judge is never shown as if it had been judged.
    #[default]
    FailClosed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModerationTrigger {
    /// Moderate on `image.resized`, looking at a variant (cheap, within Vision's limits).
    Resized,
    /// Moderate on `finalized`, looking at the original.
    Original,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationSettings {
    pub backend: ModerationBackend,
    pub trigger: ModerationTrigger,
    /// The resized variant sent to the moderator when `trigger = "resized"`.
    pub variant: String,
    /// Category → likelihood at or above which the image is flagged.
    pub thresholds: BTreeMap<SafeSearchCategory, Threshold>,
    pub policy: ModerationPolicy,
    /// `fail_open` | `fail_closed`: the verdict when the moderator fails permanently.
    #[serde(default)]
    pub on_error: ModerationOnError,
    /// Where `quarantine` moves flagged originals and variants.
    pub quarantine_prefix: String,
    /// Unset (empty) means the source bucket.
    #[serde(
        default,
        with = "super::fields::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub quarantine_bucket: Option<String>,
    /// Gaussian sigma of the `blur` policy.
    pub blur_sigma: f32,
    /// Reuse a verdict for bytes already judged by the same moderator on the same basis
    /// (what it was shown, the thresholds) instead of asking it again; recorded as reused.
    pub reuse_verdict_for_same_content: bool,
    /// Cache folder of the `builtin` model (`image-pipeline models fetch` fills it);
    /// unset (empty) means `~/.cache/image-pipeline/models`.
    #[serde(
        default,
        with = "super::fields::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_dir: Option<PathBuf>,
}

/// How the pipeline recognises its own outputs (`crate::domain::derived`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DerivedSettings {
    /// Signs every output (HMAC of bucket, name and source generation), so outputs that
    /// share a bucket with uploads are told apart from uploads that only look like them.
    /// At least 32 bytes; empty = unset. A secret: `check-config` prints `REDACTED`.
    /// The gcp profile refuses outputs in the upload bucket without it; the local profile
    /// then uses `<data_dir>/derived-signing.key` (made on first start).
    #[serde(
        default,
        with = "super::fields::signing_key_setting",
        skip_serializing_if = "Option::is_none"
    )]
    pub signing_key: Option<SigningKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSettings {
    /// Topic that carries `image.*` events.
    pub topic: String,
    /// The subscription on the dead-letter topic that `deploy/` creates (config.sh
    /// `DLQ_SUBSCRIPTION`); `dead-letters` reads it in the gcp profile.
    pub dead_letter_subscription: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Gcs,
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub backend: StorageBackend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordsBackend {
    Firestore,
    Sqlite,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsSettings {
    pub backend: RecordsBackend,
    /// Collection (table) of image records.
    pub collection: String,
    /// Collection of handled-event markers (idempotency ledger).
    pub ledger_collection: String,
    /// Collection of the verdict index (judgements by content hash; Firestore only, the
    /// local profile keeps them in a SQLite table).
    pub verdict_collection: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublisherBackend {
    Pubsub,
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublisherSettings {
    pub backend: PublisherBackend,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcpAuth {
    /// gcp_auth's provider chain (key file, gcloud ADC, metadata server).
    Auto,
    /// No tokens (emulators, tests).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpSettings {
    /// Empty: `GOOGLE_CLOUD_PROJECT`, then the metadata server on Cloud Run.
    pub project_id: String,
    pub auth: GcpAuth,
    pub storage_endpoint: Endpoint,
    pub firestore_endpoint: Endpoint,
    pub pubsub_endpoint: Endpoint,
    pub vision_endpoint: Endpoint,
    pub firestore_database: String,
    pub request_timeout_secs: u64,
    pub connect_timeout_secs: u64,
    /// Attempts per idempotent call, the first included.
    pub retry_max_attempts: u32,
    pub retry_initial_backoff_ms: u64,
    /// Total time one call may spend retrying; longer outages are Eventarc's to retry.
    pub retry_budget_secs: u64,
    /// Services pointed at an emulator by `*_EMULATOR_HOST` (no tokens sent to them).
    #[serde(default)]
    pub emulated: Vec<EmulatedService>,
}

/// One local trigger: like an Eventarc trigger, an event filter and a destination path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalTrigger {
    pub event_type: TriggerEventType,
    /// For storage events: the bucket to watch.
    #[serde(default)]
    pub bucket: Option<String>,
    /// For Pub/Sub events: the topic to watch.
    #[serde(default)]
    pub topic: Option<String>,
    /// Destination path on this server (`/resize`, ...).
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalSettings {
    /// Buckets are folders here; SQLite lives here too.
    pub data_dir: PathBuf,
    /// The bucket `process` uploads into.
    pub upload_bucket: String,
    pub delivery_max_attempts: u32,
    pub delivery_initial_backoff_ms: u64,
    pub delivery_max_backoff_ms: u64,
    pub delivery_timeout_secs: u64,
    pub triggers: Vec<LocalTrigger>,
}
