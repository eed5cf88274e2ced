//! Memory admission: every job takes its estimated peak bytes from one budget before it
//! downloads anything, and gives them back only when its work has really ended. Owns the
//! budget (a semaphore counted in KiB), its default from the cgroup memory limit, and the
//! in-use figure for metrics. Must not estimate (that is `imaging::estimate_peak`) and must
//! not choose HTTP statuses: [`AdmissionError::is_transient`] tells the caller they are all
//! "try later" (503). Even a job larger than this instance's whole budget is: the image
//! passed the configured limits, which are the same on every instance, so it is valid; only
//! this instance is too small (a thumbnailer with less memory than the resizer, a budget set
//! low). Refusing it for good would make an image's fate depend on which service read it.
//! The operator is told (the caller logs it at ERROR) and the event comes back.
//!
//! Typical use in a handler:
//! ```ignore
//! let permit = state.admission.acquire(peak_bytes, deadline).await?; // before the download
//! let input = store.read_within(&obj, admitted_input_bytes).await?;
//! run_cpu(state, move || { let _held = permit; imaging::process(&input, &plan) }).await?;
//! ```
//! Moving the permit into the blocking closure is what keeps it held until the decode
//! really ends, even when the awaiting request is cancelled (a timeout, a client gone).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The budget's unit: permits are KiB, so a u32 request covers up to 4 TiB.
const UNIT_BYTES: u64 = 1024;

/// The budget when neither the setting nor a cgroup limit gives one: what a 1 GiB
/// instance can spare after the binary, the runtime and the HTTP buffers.
pub const FALLBACK_BUDGET_BYTES: u64 = 768 << 20;

/// Why a job was not admitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdmissionError {
    /// The job needs more than this instance's whole budget: waiting here never helps, but
    /// an instance with more memory can run it.
    #[error(
        "the job needs about {needed_bytes} bytes of memory, more than this instance's whole budget of {budget_bytes} bytes: give the service more memory"
    )]
    LargerThanBudget {
        needed_bytes: u64,
        budget_bytes: u64,
    },
    /// The budget stayed busy until the deadline: try again later.
    #[error(
        "memory budget busy: {needed_bytes} bytes were not free within {waited_ms} ms ({in_use_bytes} of {budget_bytes} bytes in use)"
    )]
    Busy {
        needed_bytes: u64,
        waited_ms: u64,
        in_use_bytes: u64,
        budget_bytes: u64,
    },
}

impl AdmissionError {
    /// Always true: "try later" (answer 503 so the event comes back). Whether an image is
    /// acceptable is decided by the configured limits, never by one instance's memory.
    pub fn is_transient(&self) -> bool {
        true
    }

    /// True when waiting on this instance cannot help (an operator must act).
    pub fn needs_more_memory(&self) -> bool {
        matches!(self, Self::LargerThanBudget { .. })
    }
}

/// A budget of bytes shared by every job of the process.
#[derive(Debug, Clone)]
pub struct MemoryAdmission {
    semaphore: Arc<Semaphore>,
    budget_units: u32,
}

/// Bytes held by one admitted job; returned to the budget when dropped, after the allocator
/// has been told to give back what it keeps beyond its bound (`memory::bound_retained_free`):
/// admission counts live buffers, so freed ones must not linger unseen.
#[derive(Debug)]
pub struct MemoryPermit {
    _trim: TrimOnDrop,
    permit: OwnedSemaphorePermit,
}

/// Bounds the allocator's retained free memory when dropped (declared first in
/// [`MemoryPermit`], so it runs before the bytes go back to the budget).
#[derive(Debug)]
struct TrimOnDrop;

impl Drop for TrimOnDrop {
    fn drop(&mut self) {
        crate::memory::bound_retained_free();
    }
}

impl MemoryPermit {
    /// The bytes this permit holds (rounded up to KiB).
    pub fn bytes(&self) -> u64 {
        self.permit.num_permits() as u64 * UNIT_BYTES
    }

    /// Gives back all but `bytes` (rounded up to KiB): the decode is over and only its
    /// encoded outputs are still held while they are written.
    pub fn shrink_to(&mut self, bytes: u64) {
        let keep = usize::try_from(bytes.div_ceil(UNIT_BYTES)).unwrap_or(usize::MAX);
        let release = self.permit.num_permits().saturating_sub(keep.max(1));
        drop(self.permit.split(release));
    }
}

impl MemoryAdmission {
    /// A budget of `budget_bytes` (rounded down to KiB, at least 1 KiB).
    pub fn new(budget_bytes: u64) -> Self {
        let units = u32::try_from(budget_bytes / UNIT_BYTES)
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Self {
            semaphore: Arc::new(Semaphore::new(units as usize)),
            budget_units: units,
        }
    }

    pub fn budget_bytes(&self) -> u64 {
        u64::from(self.budget_units) * UNIT_BYTES
    }

    /// Bytes currently held by admitted jobs (for `/metrics`).
    pub fn in_use_bytes(&self) -> u64 {
        let free = self.semaphore.available_permits() as u64;
        (u64::from(self.budget_units) - free.min(u64::from(self.budget_units))) * UNIT_BYTES
    }

    /// Takes `bytes` from the budget, waiting (first come, first served) until `deadline`.
    /// A job larger than the whole budget fails at once with
    /// [`AdmissionError::LargerThanBudget`].
    pub async fn acquire(
        &self,
        bytes: u64,
        deadline: Instant,
    ) -> Result<MemoryPermit, AdmissionError> {
        let units = self.units_for(bytes)?;
        let started = Instant::now();
        let acquired = tokio::time::timeout_at(
            deadline,
            Arc::clone(&self.semaphore).acquire_many_owned(units),
        )
        .await;
        match acquired {
            Ok(Ok(permit)) => Ok(MemoryPermit {
                _trim: TrimOnDrop,
                permit,
            }),
            // The semaphore is never closed; a timeout is the only other way out.
            Ok(Err(_)) | Err(_) => Err(self.busy(bytes, started.elapsed())),
        }
    }

    /// Adds `extra_bytes` to a permit (a job that first admitted only its download and then
    /// learnt its real size from the whole header). Same waiting rules as [`Self::acquire`];
    /// on failure the permit keeps what it had.
    pub async fn grow(
        &self,
        permit: &mut MemoryPermit,
        extra_bytes: u64,
        deadline: Instant,
    ) -> Result<(), AdmissionError> {
        let total = permit.bytes().saturating_add(extra_bytes);
        self.units_for(total)?;
        let more = self.acquire(extra_bytes, deadline).await?;
        permit.permit.merge(more.permit);
        Ok(())
    }

    fn units_for(&self, bytes: u64) -> Result<u32, AdmissionError> {
        let units = bytes.div_ceil(UNIT_BYTES).max(1);
        match u32::try_from(units) {
            Ok(u) if u <= self.budget_units => Ok(u),
            _ => Err(AdmissionError::LargerThanBudget {
                needed_bytes: bytes,
                budget_bytes: self.budget_bytes(),
            }),
        }
    }

    fn busy(&self, bytes: u64, waited: Duration) -> AdmissionError {
        AdmissionError::Busy {
            needed_bytes: bytes,
            waited_ms: waited.as_millis() as u64,
            in_use_bytes: self.in_use_bytes(),
            budget_bytes: self.budget_bytes(),
        }
    }
}

/// The budget to use: the configured one, else 3/4 of the cgroup memory limit (Cloud Run
/// sets it to the instance's memory), else [`FALLBACK_BUDGET_BYTES`]. The other quarter is
/// for what admission does not count: the binary, the runtime, connections and buffers.
pub fn resolve_budget_bytes(configured: Option<u64>) -> u64 {
    budget_from(configured, Path::new("/sys/fs/cgroup"))
}

fn budget_from(configured: Option<u64>, cgroup_root: &Path) -> u64 {
    configured
        .or_else(|| cgroup_memory_limit_bytes(cgroup_root).map(|l| l / 4 * 3))
        .unwrap_or(FALLBACK_BUDGET_BYTES)
}

/// The memory limit of the cgroup mounted at `root`: v2 `memory.max`, else v1
/// `memory/memory.limit_in_bytes`. `None` when unlimited, absent or unreadable.
pub fn cgroup_memory_limit_bytes(root: &Path) -> Option<u64> {
    let read = |p: &Path| std::fs::read_to_string(p).ok();
    let v2 = read(&root.join("memory.max"));
    let v1 = || read(&root.join("memory").join("memory.limit_in_bytes"));
    parse_limit(&v2.or_else(v1)?)
}

/// "max" (v2) and the page-rounded i64::MAX that v1 reports mean "no limit".
fn parse_limit(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value > 0 && value < 1 << 60).then_some(value)
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
