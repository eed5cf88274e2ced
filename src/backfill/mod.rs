//! `image-pipeline backfill --bucket B [--prefix P] [--dry-run] [--rate N] [--concurrency N]
//! [--limit N]`: runs the configured routes on objects that already exist, in-process, as if
//! each had just been uploaded (a synthetic `finalized` event), for either profile.
//!
//! Why it cannot loop: the listing is a snapshot taken before anything runs, derived
//! objects (outputs) are skipped, and event ids derive from bucket/name/generation so the
//! ledger answers `duplicate` for work done before. Why it cannot exceed `--rate`: every
//! event takes a token from [`rate::RateLimiter`]. A cursor file (the last name finished,
//! in name order) lets an interrupted run resume. Owns the job's flow, not the handling.

mod rate;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use crate::cloudevent::CloudEvent;
use crate::config::{ModerationBackend, Settings};
use crate::dispatch::{self, Target};
use crate::domain::WireOutcome;
use crate::domain::{DerivedOutputs, ObjectInfo};
use crate::events::storage::StorageObjectData;
use crate::events::storage_event::storage_event;
use crate::events::types::STORAGE_FINALIZED;
use crate::startup::Interrupt;
use crate::state::AppState;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

/// Google's list price for Cloud Vision SafeSearch, and where it is published.
pub const VISION_PRICING_URL: &str = "https://cloud.google.com/vision/pricing";
const VISION_FREE_UNITS_PER_MONTH: u64 = 1_000;
const VISION_USD_PER_1000_UNITS: f64 = 1.50;

/// What the operator asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub bucket: String,
    pub prefix: String,
    pub dry_run: bool,
    /// Events per second (0 = unlimited).
    pub rate_per_sec: f64,
    pub concurrency: usize,
    pub limit: Option<usize>,
}

/// What a run (or a dry run) found and did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub listed: u64,
    pub derived_skipped: u64,
    pub before_cursor: u64,
    /// Objects whose listed content type is not an image's (no route would make anything).
    pub not_images: u64,
    pub candidates: u64,
    pub candidate_bytes: u64,
    /// Candidates left for the next run by `--limit`.
    pub beyond_limit: u64,
    pub processed: u64,
    pub duplicate: u64,
    pub skipped: u64,
    pub failed: u64,
    pub vision_calls: u64,
}

impl Summary {
    /// Every candidate was handled without a failure and `--limit` left none for later:
    /// the run is done and its cursor can go.
    pub fn is_complete(&self) -> bool {
        let handled = self.processed + self.duplicate + self.skipped;
        self.failed == 0 && self.beyond_limit == 0 && handled == self.candidates
    }
}

/// Lists a snapshot of the bucket (all pages, before any work).
pub async fn snapshot(state: &AppState, options: &Options) -> anyhow::Result<Vec<ObjectInfo>> {
    let mut objects = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = state
            .backends
            .store
            .list(&options.bucket, &options.prefix, token.as_deref())
            .await?;
        objects.extend(page.objects);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(objects),
        }
    }
}

/// Where an interrupted run of this bucket and prefix resumes from.
pub fn cursor_path(settings: &Settings, options: &Options) -> PathBuf {
    let key = hex(&Sha256::digest(format!(
        "{}/{}",
        options.bucket, options.prefix
    )))[..16]
        .to_owned();
    settings
        .local
        .data_dir
        .join("backfill")
        .join(format!("{}-{key}.cursor", options.bucket))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The work of a run: the snapshot minus derived objects and what the cursor says is done,
/// up to `--limit`. Counts go into `summary`.
pub fn plan(
    settings: &Settings,
    options: &Options,
    objects: Vec<ObjectInfo>,
    cursor: Option<&str>,
    summary: &mut Summary,
) -> Vec<ObjectInfo> {
    summary.listed = objects.len() as u64;
    // The routes' own rule (a signed marker or an output place), so backfill and the routes
    // agree on what is an output, whichever bucket holds it.
    let derived = DerivedOutputs::from_settings(settings);
    let mut work = Vec::new();
    for object in objects {
        if derived.is_derived_object(&object) {
            summary.derived_skipped += 1;
        } else if cursor.is_some_and(|c| object.name.as_str() <= c) {
            summary.before_cursor += 1;
        } else if !may_be_image(&object) {
            summary.not_images += 1;
        } else if options.limit.is_none_or(|limit| work.len() < limit) {
            summary.candidate_bytes += object.size_bytes;
            work.push(object);
        } else {
            summary.beyond_limit += 1;
        }
    }
    summary.candidates = work.len() as u64;
    if settings.moderation.backend == ModerationBackend::Vision {
        // One SafeSearch call per image (on its image.resized event).
        summary.vision_calls = summary.candidates;
    }
    work
}

/// Whether the listing leaves open that the object is an image: its content type is
/// `image/*`, or absent or generic (then only its bytes can tell).
fn may_be_image(object: &ObjectInfo) -> bool {
    let Some(content_type) = object.content_type.as_deref() else {
        return true;
    };
    let media = content_type.split(';').next().unwrap_or_default().trim();
    media.is_empty()
        || media.eq_ignore_ascii_case("application/octet-stream")
        || media.to_ascii_lowercase().starts_with("image/")
}

/// Vision's list price for `calls` in one month, free tier first (see [`VISION_PRICING_URL`]).
pub fn vision_cost_usd(calls: u64) -> f64 {
    calls.saturating_sub(VISION_FREE_UNITS_PER_MONTH) as f64 / 1000.0 * VISION_USD_PER_1000_UNITS
}

/// The synthetic `finalized` CloudEvent for an object, as Eventarc would send it; its id is
/// derived from bucket/name/generation so a second run is a ledger `duplicate`. The listing
/// has no metageneration, so the event carries none (no route reads it).
pub fn finalized_event(object: &ObjectInfo) -> CloudEvent {
    let id = format!(
        "backfill-{}",
        &hex(&Sha256::digest(format!(
            "{}/{}#{}",
            object.bucket, object.name, object.generation
        )))[..32]
    );
    let mut data = StorageObjectData::new(&object.bucket, &object.name);
    data.kind = Some("storage#object".to_owned());
    data.generation = Some(object.generation);
    data.size = Some(object.size_bytes);
    data.content_type.clone_from(&object.content_type);
    data.md5_hash.clone_from(&object.md5_base64);
    data.metadata.clone_from(&object.metadata);
    storage_event(STORAGE_FINALIZED, id, &data, None)
}

/// One object handled, reported per line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Handled {
    pub name: String,
    pub outcome: WireOutcome,
    pub detail: String,
}

/// What [`run_work`] works through.
pub struct Work<'a> {
    /// The plan, in name order.
    pub objects: Vec<ObjectInfo>,
    /// Where the cursor is kept.
    pub cursor_file: &'a std::path::Path,
    /// Once raised, no further object is started (those in flight finish).
    pub interrupt: &'a Interrupt,
}

/// Runs the routes on the work's objects under the rate and concurrency limits, in name
/// order; the cursor moves past each object once it and all before it are done (a `retry`
/// stops it, so the next run starts there). `report` sees each result as it comes.
pub async fn run_work(
    state: &AppState,
    options: &Options,
    work: Work<'_>,
    summary: &mut Summary,
    mut report: impl FnMut(&Handled),
) -> anyhow::Result<()> {
    let limiter = tokio::sync::Mutex::new(rate::RateLimiter::new(options.rate_per_sec));
    let limiter = &limiter;
    let interrupt = work.interrupt;
    let mut results = futures_util::stream::iter(work.objects)
        .take_while(|_| std::future::ready(!interrupt.is_raised()))
        .map(|object| async move {
            limiter.lock().await.acquire().await;
            // Interrupted while waiting for a token: not started.
            if interrupt.is_raised() {
                return None;
            }
            let event = finalized_event(&object);
            let response = dispatch::handle(state, event, Target::All).await;
            Some(Handled {
                name: object.name,
                outcome: response.outcome,
                detail: response.detail,
            })
        })
        .buffered(options.concurrency.max(1));
    let mut cursor_moves = true;
    if let Some(dir) = work.cursor_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    while let Some(handled) = results.next().await {
        let Some(handled) = handled else {
            cursor_moves = false;
            continue;
        };
        match handled.outcome {
            WireOutcome::Processed => summary.processed += 1,
            WireOutcome::Duplicate => summary.duplicate += 1,
            WireOutcome::Skipped => summary.skipped += 1,
            WireOutcome::Rejected | WireOutcome::Retry => summary.failed += 1,
        }
        cursor_moves &= handled.outcome != WireOutcome::Retry;
        if cursor_moves {
            std::fs::write(work.cursor_file, &handled.name)?;
        }
        report(&handled);
    }
    Ok(())
}

/// The cursor of an earlier, interrupted run, if any.
pub fn read_cursor(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path).ok().filter(|c| !c.is_empty())
}

/// Poll interval while waiting for local follow-up events.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
