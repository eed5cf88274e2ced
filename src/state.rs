//! Shared state handed to every handler: settings, the backends, the CPU semaphore that
//! bounds how many images are decoded at once, and the local runtime's control handle when
//! one runs (start-up and `process` use it; handlers never do).

use crate::backends::{Backends, LocalHandle};
use crate::config::Settings;
use crate::metrics::{self, Metrics};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub backends: Backends,
    /// Permits for CPU-heavy work; taken before decoding, released before network I/O.
    pub cpu: Arc<Semaphore>,
    /// The embedded local runtime (event router, SQLite), when a local backend is in use.
    pub local: LocalHandle,
    /// What `GET /metrics` reports; the backends above already record their stages into it.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The state for `backends`, wrapped so their I/O stages are timed into fresh metrics.
    pub fn new(settings: Arc<Settings>, backends: Backends) -> Self {
        let metrics = Arc::new(Metrics::new());
        let permits = match settings.server.cpu_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Self {
            settings,
            backends: metrics::instrument::backends(backends, &metrics),
            metrics,
            cpu: Arc::new(Semaphore::new(permits)),
            local: None,
        }
    }

    /// The same state with the local runtime's handle.
    pub fn with_local(mut self, local: LocalHandle) -> Self {
        self.local = local;
        self
    }
}
