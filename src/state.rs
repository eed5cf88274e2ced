//! Shared state handed to every handler: settings, the backends, the CPU semaphore that
//! bounds how many images are decoded at once, the memory budget that bounds what they hold,
//! and the local runtime's control handle when one runs (start-up and `process` use it;
//! handlers never do).

use crate::admission::{MemoryAdmission, resolve_budget_bytes};
use crate::backends::{Backends, LocalHandle};
use crate::config::Settings;
use crate::domain::DerivedOutputs;
use crate::metrics::{self, Metrics};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// Which objects are the pipeline's own outputs, and how new ones are signed.
    pub derived: Arc<DerivedOutputs>,
    pub backends: Backends,
    /// Permits for CPU-heavy work; taken before decoding, released before network I/O.
    pub cpu: Arc<Semaphore>,
    /// The memory budget: a job takes its estimated peak before it downloads its source.
    pub admission: MemoryAdmission,
    /// The embedded local runtime (event router, SQLite), when a local backend is in use.
    pub local: LocalHandle,
    /// What `GET /metrics` reports; the backends above already record their stages into it.
    pub metrics: Arc<Metrics>,
    /// Route runs of this server, for the local console (`metrics::journal`).
    pub journal: Arc<metrics::journal::Journal>,
}

impl AppState {
    /// The state for `backends`, wrapped so their I/O stages are timed into fresh metrics.
    pub fn new(settings: Arc<Settings>, backends: Backends) -> Self {
        let metrics = Arc::new(Metrics::new());
        let permits = match settings.server.cpu_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let admission =
            MemoryAdmission::new(resolve_budget_bytes(settings.server.memory_budget_bytes));
        let budget = admission.clone();
        metrics.set_memory_provider(move || budget.in_use_bytes());
        Self {
            derived: Arc::new(DerivedOutputs::for_service(&settings)),
            settings,
            backends: metrics::instrument::backends(backends, &metrics),
            metrics,
            cpu: Arc::new(Semaphore::new(permits)),
            admission,
            local: None,
            journal: Arc::default(),
        }
    }

    /// The same state with the local runtime's handle.
    pub fn with_local(mut self, local: LocalHandle) -> Self {
        self.local = local;
        self
    }
}
