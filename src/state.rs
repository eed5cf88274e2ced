//! Shared state handed to every handler: settings, the backends, and the CPU semaphore that
//! bounds how many images are decoded at once.

use crate::backends::Backends;
use crate::config::Settings;
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub backends: Backends,
    /// Permits for CPU-heavy work; taken before decoding, released before network I/O.
    pub cpu: Arc<Semaphore>,
}

impl AppState {
    pub fn new(settings: Arc<Settings>, backends: Backends) -> Self {
        let permits = match settings.server.cpu_concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Self {
            settings,
            backends,
            cpu: Arc::new(Semaphore::new(permits)),
        }
    }
}
