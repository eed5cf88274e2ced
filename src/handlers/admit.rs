//! Loading a source under the memory budget (`crate::admission`): read its first 64 KiB,
//! estimate the job's peak from them and the object size (`imaging::estimate_peak`), take
//! that much from the budget, and only then download. A bomb is refused from its header
//! before anything else is read; a job larger than the whole budget is permanent (recorded
//! by the caller); a budget still busy after [`admission_wait`] is transient (503, so the
//! event comes back). Must not decode, and must not let go of the permit: the caller moves
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

/// Sniffs, estimates, admits and downloads exactly the generation the event names.
pub async fn load(
    state: &AppState,
    data: &StorageObjectData,
    source: &ObjectRef,
    plan: &Plan,
) -> Step<Admitted> {
    let max_bytes = state.settings.imaging.max_input_bytes;
    if let Some(size) = data.size.filter(|s| *s > max_bytes) {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "the object has {size} bytes, over imaging.max_input_bytes = {max_bytes}"
        ))
        .into());
    }
    let prefix = read_or_skip(state, source, Some(HEADER_PREFIX_BYTES)).await?;
    if imaging::sniff(&prefix).is_none() {
        return halt(Outcome::skipped_warn(format!(
            "{source} is not an image this service reads (content type {:?})",
            data.content_type.as_deref().unwrap_or("none")
        )));
    }
    // Without a size in the event, a short prefix is the whole object; else assume the most.
    let whole = (prefix.len() as u64) < HEADER_PREFIX_BYTES;
    let object_bytes = data.size.unwrap_or(if whole {
        prefix.len() as u64
    } else {
        max_bytes
    });
    let deadline = Instant::now() + admission_wait(state.settings.server.handler_deadline_secs);
    match estimate(&prefix, object_bytes, plan, source)? {
        PeakEstimate::Bytes(peak_bytes) => {
            let permit = admit(state, peak_bytes, deadline).await?;
            let input = read_or_skip(state, source, None).await?;
            Ok(Admitted { input, permit })
        }
        // The header lies past the prefix: admit the download, then the rest from all of it.
        PeakEstimate::NeedMoreBytes => {
            let mut permit = admit(state, object_bytes, deadline).await?;
            let input = read_or_skip(state, source, None).await?;
            let peak_bytes = match estimate(&input, input.len() as u64, plan, source)? {
                PeakEstimate::Bytes(peak_bytes) => peak_bytes,
                PeakEstimate::NeedMoreBytes => {
                    return Err(permanent(format!(
                        "{source}: the image header is incomplete"
                    )));
                }
            };
            let extra_bytes = peak_bytes.saturating_sub(permit.bytes());
            let grown = state.admission.grow(&mut permit, extra_bytes, deadline);
            grown.await.map_err(admission_failed)?;
            Ok(Admitted { input, permit })
        }
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

fn admission_failed(e: AdmissionError) -> HandlerError {
    let reason = anyhow::anyhow!("{e} (server.memory_budget_bytes)");
    match e.is_transient() {
        true => HandlerError::Transient(reason),
        false => HandlerError::Permanent(reason),
    }
}

fn permanent(reason: String) -> Halt {
    HandlerError::Permanent(anyhow::anyhow!(reason)).into()
}
