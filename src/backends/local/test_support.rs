//! Helpers for the local backends' tests: settings on a temp data dir with fast retries, and
//! triggers pointing wherever a test wants.

use super::LocalRuntime;
use crate::config::{EnvMap, LocalTrigger, Settings};
use crate::domain::ObjectMeta;
use crate::events::types::{PUBSUB_PUBLISHED, STORAGE_DELETED, STORAGE_FINALIZED};
use std::path::Path;
use std::sync::Arc;

/// Local settings on `data_dir`: compiled-in defaults only, retries in milliseconds.
pub(crate) fn settings(data_dir: &Path) -> Settings {
    let env = EnvMap::from([
        ("PIPELINE_PROFILE".to_owned(), "local".to_owned()),
        (
            "PIPELINE_CONFIG_DIR".to_owned(),
            data_dir.join("no-config").display().to_string(),
        ),
        (
            "PIPELINE_LOCAL__DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        ),
    ]);
    let mut settings = Settings::load_from(&env).unwrap();
    settings.local.delivery_initial_backoff_ms = 40;
    settings.local.delivery_max_backoff_ms = 200;
    settings.local.delivery_max_attempts = 3;
    settings.local.delivery_timeout_secs = 5;
    settings.local.triggers = vec![
        trigger(STORAGE_FINALIZED, Some("uploads"), None, "/resize"),
        trigger(STORAGE_FINALIZED, Some("uploads"), None, "/record"),
        trigger(STORAGE_DELETED, Some("uploads"), None, "/record"),
        trigger(
            PUBSUB_PUBLISHED,
            None,
            Some("image-pipeline-events"),
            "/record",
        ),
    ];
    settings
}

pub(crate) fn trigger(
    event_type: &str,
    bucket: Option<&str>,
    topic: Option<&str>,
    path: &str,
) -> LocalTrigger {
    LocalTrigger {
        event_type: event_type.parse().unwrap(),
        bucket: bucket.map(str::to_owned),
        topic: topic.map(str::to_owned),
        path: path.to_owned(),
    }
}

pub(crate) fn open(data_dir: &Path) -> Arc<LocalRuntime> {
    LocalRuntime::open(&settings(data_dir)).unwrap()
}

pub(crate) fn meta(content_type: &str) -> ObjectMeta {
    ObjectMeta {
        content_type: content_type.to_owned(),
        ..ObjectMeta::default()
    }
}

/// Files under `dir` (recursively) whose name starts with the store's temp prefix.
pub(crate) fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(temp_files(&path));
        } else if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(super::names::TEMP_PREFIX))
        {
            found.push(path);
        }
    }
    found
}
