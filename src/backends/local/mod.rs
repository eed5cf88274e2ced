//! PLACEHOLDER: replaced by the local branch (folder store, SQLite, event router).

use super::{ObjectStore, Publisher, Records};
use crate::config::Settings;
use std::sync::Arc;

pub struct LocalRuntime;

impl LocalRuntime {
    pub fn open(_settings: &Settings) -> anyhow::Result<Arc<Self>> {
        anyhow::bail!("the local backends are not built yet")
    }
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        unreachable!()
    }
    pub fn records(&self) -> Arc<dyn Records> {
        unreachable!()
    }
    pub fn publisher(&self) -> Arc<dyn Publisher> {
        unreachable!()
    }
    /// Starts delivering queued events to the server at `base_url`.
    pub fn start_delivery(self: &Arc<Self>, _base_url: String) {}
}
