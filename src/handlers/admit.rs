//! Loading a source under the memory budget (`crate::admission`): read its first 64 KiB,
//! estimate the job's peak from them and the object size (`imaging::estimate_peak`), take
//! that much from the budget, and only then download. A bomb is refused from its header
//! before anything else is read (permanent: the limits are the same on every instance); a
//! job larger than this instance's whole budget, or a budget still busy after
//! [`admission_wait`], is transient (503, so the event comes back). No read goes past what was asked or admitted: an object that turns
//! out larger than its event said is refused, never buffered. Must not decode, and must not let go of the permit: the caller moves
//! it into the CPU work, which holds it until the decode really ends.

use super::guard::read_or_skip;
use super::{Halt, Outcome, Step, halt};
use crate::admission::{AdmissionError, MemoryPermit};
use crate::domain::ObjectRef;
use crate::error::HandlerError;
use crate::events::storage::StorageObjectData;
use crate::imaging::{self, HEADER_PREFIX_BYTES, PeakEstimate, Plan};
use crate::state::AppState;
use bytes::Bytes;
use std::time::Duration;
use tokio::time::Instant;

/// A downloaded source and the share of the memory budget its processing may use.
pub struct Admitted {
    pub input: Bytes,
    pub permit: MemoryPermit,
}

/// How long a job waits for room in the budget: half the handler's deadline, so the work
/// itself still has the other half once admitted.
pub fn admission_wait(handler_deadline_secs: u64) -> Duration {
    Duration::from_millis(handler_deadline_secs.saturating_mul(500))
}

/// What is known of an object before any of it is read.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// The size as stored (the event's `size`), when known.
    pub size_bytes: Option<u64>,
    /// Stored `Content-Encoding: gzip`: the content is inflated from the stored bytes, so
    /// it may be larger than `size_bytes` (a gzip bomb is cut at `imaging.max_input_bytes`).
    pub gzip: bool,
    /// For the log line when it is not an image.
    pub content_type: Option<String>,
}

impl Declared {
    pub fn of(data: &StorageObjectData) -> Self {
        let coding = data.content_encoding.as_deref().unwrap_or_default();
        Self {
            size_bytes: data.size,
            gzip: coding.trim().eq_ignore_ascii_case("gzip"),
            content_type: data.content_type.clone(),
        }
    }
}

/// Sniffs, estimates, admits and downloads exactly the generation the event names.
pub async fn load(
    state: &AppState,
    data: &StorageObjectData,
    source: &ObjectRef,
    plan: &Plan,
) -> Step<Admitted> {
    load_declared(state, &Declared::of(data), source, plan, 0).await
}

/// [`load`] for an object known by what `declared` says of it, admitting `extra_bytes` more
/// for what the caller's own work holds besides the job (a local moderator). Every read is
/// bounded: the prefix by [`HEADER_PREFIX_BYTES`], the download by the input size admitted.
pub async fn load_declared(
    state: &AppState,
    declared: &Declared,
    source: &ObjectRef,
    plan: &Plan,
    extra_bytes: u64,
) -> Step<Admitted> {
    let max_bytes = state.settings.imaging.max_input_bytes;
    if let Some(size) = declared.size_bytes.filter(|s| *s > max_bytes) {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "the object has {size} bytes, over imaging.max_input_bytes = {max_bytes}"
        ))
        .into());
    }
    let prefix = read_or_skip(state, source, HEADER_PREFIX_BYTES).await?;
    if imaging::sniff(&prefix).is_none() {
        return halt(Outcome::skipped_warn(format!(
            "{source} is not an image this service reads (content type {:?})",
            declared.content_type.as_deref().unwrap_or("none")
        )));
    }
    let object_bytes = input_bound(declared, prefix.len() as u64, max_bytes);
    let deadline = Instant::now() + admission_wait(state.settings.server.handler_deadline_secs);
    match estimate(&prefix, object_bytes, plan, source)? {
        PeakEstimate::Bytes(peak_bytes) => {
            let permit = admit(state, peak_bytes + extra_bytes, deadline).await?;
            let input = download(state, source, object_bytes).await?;
            Ok(Admitted { input, permit })
        }
        // The header lies past the prefix: admit the download, then the rest from all of it.
        PeakEstimate::NeedMoreBytes => {
            let mut permit = admit(state, object_bytes, deadline).await?;
            let input = download(state, source, object_bytes).await?;
            let peak_bytes = match estimate(&input, input.len() as u64, plan, source)? {
                PeakEstimate::Bytes(peak_bytes) => peak_bytes,
                PeakEstimate::NeedMoreBytes => {
                    return Err(permanent(format!(
                        "{source}: the image header is incomplete"
                    )));
                }
            };
            let missing_bytes = (peak_bytes + extra_bytes).saturating_sub(permit.bytes());
            let grown = state.admission.grow(&mut permit, missing_bytes, deadline);
            grown.await.map_err(admission_failed)?;
            Ok(Admitted { input, permit })
        }
    }
}

/// The most input bytes the job may download: the declared size; for a gzip-encoded object
/// (its content is larger than its stored size) or an unknown size, `max_input_bytes`,
/// unless a short prefix already was the whole object.
fn input_bound(declared: &Declared, prefix_bytes: u64, max_input_bytes: u64) -> u64 {
    match (declared.gzip, declared.size_bytes) {
        (false, Some(size)) => size,
        _ if prefix_bytes < HEADER_PREFIX_BYTES && !declared.gzip => prefix_bytes,
        _ => max_input_bytes,
    }
}

/// The whole object, read no further than `max_bytes` (the size admitted): more is
/// permanent, an object gone since the event is a skip.
async fn download(state: &AppState, source: &ObjectRef, max_bytes: u64) -> Step<Bytes> {
    match state.backends.store.read_within(source, max_bytes).await {
        Ok(input) => Ok(input),
        Err(e) if e.is_not_found() => halt(Outcome::skipped(format!(
            "{source} no longer exists (deleted before it was processed)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The job's peak memory; a header over a limit (a bomb) is permanent, not an image a skip.
fn estimate(
    bytes: &[u8],
    object_bytes: u64,
    plan: &Plan,
    source: &ObjectRef,
) -> Step<PeakEstimate> {
    match imaging::estimate_peak(bytes, object_bytes, plan) {
        Ok(estimate) => Ok(estimate),
        Err(e) if e.is_not_an_image() => halt(Outcome::skipped_warn(format!("{source}: {e}"))),
        Err(e) => Err(permanent(format!("{source}: {e}"))),
    }
}

async fn admit(state: &AppState, bytes: u64, deadline: Instant) -> Step<MemoryPermit> {
    let acquired = state.admission.acquire(bytes, deadline).await;
    acquired.map_err(|e| admission_failed(e).into())
}

/// Transient, whatever the reason: a job over this instance's whole budget is a valid image
/// (it passed the configured limits) that this instance is too small for, so it comes back
/// rather than being refused here and accepted by a larger service; an operator must act.
fn admission_failed(e: AdmissionError) -> HandlerError {
    if e.needs_more_memory() {
        tracing::error!(error = %e, "an image is larger than this instance's memory budget \
            allows; raise the instance's memory or server.memory_budget_bytes");
    }
    HandlerError::Transient(anyhow::anyhow!("{e} (server.memory_budget_bytes)"))
}

fn permanent(reason: String) -> Halt {
    HandlerError::Permanent(anyhow::anyhow!(reason)).into()
}
