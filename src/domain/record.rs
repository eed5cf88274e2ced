//! One record per source image and the rules that merge stage updates into it. Both record
//! backends (Firestore, SQLite) read a record, call [`ImageRecord::apply`] and write it back
//! with an optimistic precondition, so the merge rules live here once and nowhere else.

use super::moderation::{Moderation, Verdict};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// `Moderation::action` of the quarantine policy: the original was moved, not deleted by a
/// user, so the record stays `flagged` when the move's `deleted` event arrives.
pub const QUARANTINED_ACTION: &str = "quarantined";
/// `Moderation::action` of the blur policy.
pub const BLURRED_ACTION: &str = "blurred";
/// The size label of the thumbnail in records and events.
pub const THUMBNAIL_LABEL: &str = "thumbnail";

/// Firestore document ids must be at most 1500 bytes (gcp-contracts.md §5.4).
const MAX_DOCUMENT_ID_BYTES: usize = 1500;

/// Identifies a record: the source object's bucket and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    pub bucket: String,
    pub name: String,
}

impl RecordKey {
    pub fn new(bucket: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            name: name.into(),
        }
    }

    /// A Firestore-safe document id: `bucket/name` with `%` and `/` percent-encoded, so it
    /// stays readable in the console; a SHA-256 hex digest when that would exceed 1500 bytes.
    /// Bucket names start with a letter or digit, so the id never is `.`, `..` or `__x__`.
    pub fn document_id(&self) -> String {
        let raw = format!("{}/{}", self.bucket, self.name);
        let encoded = raw.replace('%', "%25").replace('/', "%2F");
        if encoded.len() <= MAX_DOCUMENT_ID_BYTES {
            encoded
        } else {
            let digest = Sha256::digest(raw.as_bytes());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// The record's lifecycle status, derived from its fields by [`ImageRecord::derive_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    #[default]
    Pending,
    Processed,
    Flagged,
    Failed,
    Deleted,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processed => "processed",
            Self::Flagged => "flagged",
            Self::Failed => "failed",
            Self::Deleted => "deleted",
        }
    }
}

/// What a frontend shows before an image loads (design.md §2 "Records": `placeholder`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placeholder {
    /// Standard base64 of the ThumbHash bytes (keeps alpha).
    pub thumbhash: String,
    /// BlurHash, 4x3 components for a 4:3 landscape (scaled with the aspect).
    pub blurhash: String,
    /// The average colour on `imaging.background`, `#rrggbb`.
    pub color: String,
}

/// What the resize route learns about the source as a whole, besides its sizes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSummary {
    /// `sha256:<hex>` of the uploaded bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// 64-bit difference hash (dHash) as 16 hex digits; copies a few bits apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<Placeholder>,
}

/// One derived image (a resized size or the thumbnail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantInfo {
    /// The size label: `large`, `medium`, `small`, `thumbnail`, ...
    pub size: String,
    pub bucket: String,
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub format: String,
    /// Frames of an animated variant (an animated GIF or WebP kept animated); absent for a
    /// still.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<u32>,
}

/// What one pipeline stage learned about an image. Each variant touches only its own
/// fields (see [`StageUpdate::field_names`]), so stages can arrive in any order; a stage's
/// success also clears the error that stage's own failure left (and no other stage's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum StageUpdate {
    /// The object was finalized (written).
    Uploaded {
        content_type: Option<String>,
        size_bytes: u64,
    },
    /// The resize route made its variants.
    Resized {
        width: u32,
        height: u32,
        format: String,
        variants: Vec<VariantInfo>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
        /// Content hash, perceptual hash and placeholders (absent from older events).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<ImageSummary>,
        /// Format → HTML `srcset` of the written widths (`domain::srcset`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        srcset: BTreeMap<String, String>,
    },
    /// The thumbnail route made the thumbnail.
    Thumbnailed {
        /// The thumbnail in the first format of `thumbnail.formats`.
        thumbnail: VariantInfo,
        /// The thumbnail in each further format.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        formats: Vec<VariantInfo>,
        /// The thumbnail's own placeholder (its crop and aspect, not the whole image's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        placeholder: Option<Placeholder>,
        /// What the thumbnail route could not do as asked (an AVIF it could not encode).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The moderate route reached a verdict.
    Moderated { moderation: Moderation },
    /// A stage failed permanently (corrupt image, over limits).
    Failed {
        failed_stage: String,
        reason: String,
    },
    /// The object was deleted.
    Deleted,
}

impl StageUpdate {
    /// The update with `new` as its summary: `Resized` carries all of it, `Thumbnailed`
    /// the placeholder (of the thumbnail it was made from).
    pub fn with_summary(mut self, new: Option<ImageSummary>) -> Self {
        match &mut self {
            Self::Resized { summary, .. } => *summary = new,
            Self::Thumbnailed { placeholder, .. } => {
                *placeholder = new.and_then(|s| s.placeholder);
            }
            _ => {}
        }
        self
    }

    /// The record fields this stage writes (Firestore update mask); `status`, `updatedAt`
    /// and `lastEventId` are written by every stage as well. A stage that can clear its own
    /// failure writes `error` too (unchanged unless it was that stage's).
    pub fn field_names(&self) -> &'static [&'static str] {
        match self {
            Self::Uploaded { .. } => &["contentType", "sizeBytes"],
            Self::Resized { .. } => &[
                "width",
                "height",
                "format",
                "variants",
                "warnings",
                "contentHash",
                "phash",
                "placeholder",
                "srcset",
                "error",
            ],
            Self::Thumbnailed { .. } => &[
                "thumbnail",
                "thumbnailFormats",
                "thumbnailPlaceholder",
                "thumbnailWarnings",
                "error",
            ],
            Self::Moderated { .. } => &["moderation", "error"],
            Self::Failed { .. } => &["error"],
            Self::Deleted => &["deleted"],
        }
    }

    /// The `failed_stage` a failure of the route making this update carries (the route's
    /// name, `routes.rs`): its success clears exactly that failure.
    pub fn failed_stage_it_succeeds(&self) -> Option<&'static str> {
        match self {
            Self::Resized { .. } => Some("resize"),
            Self::Thumbnailed { .. } => Some("thumbnail"),
            Self::Moderated { .. } => Some("moderate"),
            Self::Uploaded { .. } | Self::Failed { .. } | Self::Deleted => None,
        }
    }

    pub fn stage_name(&self) -> &'static str {
        match self {
            Self::Uploaded { .. } => "uploaded",
            Self::Resized { .. } => "resized",
            Self::Thumbnailed { .. } => "thumbnailed",
            Self::Moderated { .. } => "moderated",
            Self::Failed { .. } => "failed",
            Self::Deleted => "deleted",
        }
    }
}

/// A stage update for one object generation, as a record backend receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageEvent {
    pub key: RecordKey,
    pub generation: i64,
    /// The CloudEvent id that carried this update (kept as `lastEventId`).
    pub event_id: String,
    pub update: StageUpdate,
}

/// The record kept for every source image (design.md §2 "Records").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    pub bucket: String,
    pub name: String,
    pub generation: i64,
    pub content_type: Option<String>,
    pub size_bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub format: Option<String>,
    pub status: RecordStatus,
    #[serde(default)]
    pub variants: Vec<VariantInfo>,
    pub thumbnail: Option<VariantInfo>,
    pub moderation: Option<Moderation>,
    pub error: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// `sha256:<hex>` of the uploaded bytes (resize).
    #[serde(default)]
    pub content_hash: Option<String>,
    /// Perceptual hash, 16 hex digits (resize).
    #[serde(default)]
    pub phash: Option<String>,
    #[serde(default)]
    pub placeholder: Option<Placeholder>,
    /// Format → HTML `srcset` of the resized widths written (resize).
    #[serde(default)]
    pub srcset: BTreeMap<String, String>,
    /// The thumbnail in the further formats of `thumbnail.formats`.
    #[serde(default)]
    pub thumbnail_formats: Vec<VariantInfo>,
    /// The thumbnail's own placeholder (its crop; `placeholder` is the whole image's).
    #[serde(default)]
    pub thumbnail_placeholder: Option<Placeholder>,
    /// What the thumbnail route could not do as asked (`warnings` are resize's).
    #[serde(default)]
    pub thumbnail_warnings: Vec<String>,
    #[serde(default)]
    pub deleted: bool,
    /// RFC 3339; set by the backend (Firestore: server time).
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub last_event_id: Option<String>,
}

/// Whether [`ImageRecord::apply`] changed the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyResult {
    Applied,
    /// The update is for an older generation than the record holds: ignored.
    Stale,
}

impl ImageRecord {
    /// An empty pending record for a key and generation.
    pub fn new(key: &RecordKey, generation: i64) -> Self {
        Self {
            bucket: key.bucket.clone(),
            name: key.name.clone(),
            generation,
            ..Self::default()
        }
    }

    /// Merges one stage's update. An older generation never overwrites a newer record; a
    /// newer generation starts the record afresh (the object was overwritten).
    pub fn apply(&mut self, event: &StageEvent) -> ApplyResult {
        if event.generation < self.generation {
            return ApplyResult::Stale;
        }
        if event.generation > self.generation {
            let created_at = self.created_at.take();
            *self = Self::new(&event.key, event.generation);
            self.created_at = created_at;
        }
        match &event.update {
            StageUpdate::Uploaded {
                content_type,
                size_bytes,
            } => {
                self.content_type.clone_from(content_type);
                self.size_bytes = Some(*size_bytes);
            }
            StageUpdate::Resized {
                width,
                height,
                format,
                variants,
                warnings,
                summary,
                srcset,
            } => {
                self.width = Some(*width);
                self.height = Some(*height);
                self.format = Some(format.clone());
                self.variants.clone_from(variants);
                self.warnings.clone_from(warnings);
                let summary = summary.clone().unwrap_or_default();
                self.content_hash = summary.content_hash;
                self.phash = summary.phash;
                self.placeholder = summary.placeholder;
                self.srcset.clone_from(srcset);
            }
            StageUpdate::Thumbnailed {
                thumbnail,
                formats,
                placeholder,
                warnings,
            } => {
                self.thumbnail = Some(thumbnail.clone());
                self.thumbnail_formats.clone_from(formats);
                self.thumbnail_placeholder.clone_from(placeholder);
                self.thumbnail_warnings.clone_from(warnings);
            }
            StageUpdate::Moderated { moderation } => self.moderation = Some(moderation.clone()),
            StageUpdate::Failed {
                failed_stage,
                reason,
            } => self.error = Some(failure_text(failed_stage, reason)),
            StageUpdate::Deleted => self.deleted = true,
        }
        if let Some(stage) = event.update.failed_stage_it_succeeds() {
            self.clear_error_of(stage);
        }
        self.last_event_id = Some(event.event_id.clone());
        self.status = self.derive_status();
        ApplyResult::Applied
    }

    /// Clears the error when `stage`'s failure left it (a later run of that stage, e.g. a
    /// backfill or a replayed dead letter, succeeded); another stage's error stays.
    fn clear_error_of(&mut self, stage: &str) {
        let prefix = failure_text(stage, "");
        if self
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(&prefix))
        {
            self.error = None;
        }
    }

    /// Status from fields, so it is the same whatever order the stages came in.
    pub fn derive_status(&self) -> RecordStatus {
        let verdict = self.moderation.as_ref().map(|m| m.verdict);
        let quarantined = self
            .moderation
            .as_ref()
            .is_some_and(|m| m.action.as_deref() == Some(QUARANTINED_ACTION));
        if self.deleted && !quarantined {
            RecordStatus::Deleted
        } else if self.error.is_some() {
            RecordStatus::Failed
        } else if verdict == Some(Verdict::Flagged) {
            RecordStatus::Flagged
        } else if !self.variants.is_empty() && self.thumbnail.is_some() && verdict.is_some() {
            RecordStatus::Processed
        } else {
            RecordStatus::Pending
        }
    }
}

/// The record's `error` for a failure of `stage`: `"<stage>: <reason>"`.
fn failure_text(stage: &str, reason: &str) -> String {
    format!("{stage}: {reason}")
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
