//! The `builtin` moderator: nsfwjs's MobileNetV2 (see `crate::moderation_model`) run in this
//! process; its probabilities become SafeSearch likelihoods by the domain's mapping
//! (`domain::moderation::NudityScores`). No network, no account: the model files come from
//! `image-pipeline models fetch`. Without them (or with damaged ones) there is no moderator:
//! the start-up says why, once, and verdicts stay `unmoderated`.
//!
//! It computes on this instance, so it offers itself as a [`LocalModerator`]: the moderate
//! route then hands it a small image it made under the memory budget and runs it under the
//! CPU permit with its [`WORKING_BYTES`] admitted (never the original, never a `gs://` URI).

use super::{BackendError, BackendResult, LocalModerator, ModerationImage, Moderator};
use crate::config::ModerationSettings;
use crate::domain::SafeSearch;
use crate::moderation_model::{Classifier, ModelError, default_cache_root, model_dir};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

/// The name recorded as the verdict's `backend`: the engine and the exact model.
pub const BACKEND_NAME: &str = "builtin:nsfwjs-4.4.0/mobilenet_v2";

/// What one assessment holds besides the image it is given: the decoded raster of an image
/// of at most the route's moderation box, the 224x224 input, and the network's largest live
/// activations (MobileNetV2 at 224: 112x112x96 f32, about 4.6 MiB, a few alive at once).
pub const WORKING_BYTES: u64 = 32 << 20;

/// The model folder the settings point at (`moderation.model_dir`, else the default cache).
pub fn model_dir_for(settings: &ModerationSettings) -> PathBuf {
    let root = settings
        .model_dir
        .clone()
        .unwrap_or_else(default_cache_root);
    model_dir(&root)
}

/// Runs the model on the image bytes the moderate route hands over.
pub struct BuiltinModerator {
    runner: Arc<ModelRunner>,
}

/// The model, run on the calling thread (the route's blocking CPU work).
struct ModelRunner {
    classifier: Arc<Classifier>,
}

impl LocalModerator for ModelRunner {
    fn working_bytes(&self) -> u64 {
        WORKING_BYTES
    }

    fn assess_now(&self, image: &[u8]) -> BackendResult<SafeSearch> {
        let probabilities = self
            .classifier
            .classify_encoded(image)
            .map_err(|e| BackendError::Invalid(e.to_string()))?;
        Ok(probabilities.safe_search())
    }
}

impl BuiltinModerator {
    pub fn new(classifier: Arc<Classifier>) -> Self {
        Self {
            runner: Arc::new(ModelRunner { classifier }),
        }
    }

    /// Loads the model from `dir`; `None` (having said why, once per process) when it is
    /// missing or damaged, so moderation runs as `unmoderated`. Never fails start-up.
    pub fn load_or_explain(dir: &Path) -> Option<Arc<dyn Moderator>> {
        let started = std::time::Instant::now();
        match Classifier::load(dir) {
            Ok(classifier) => {
                tracing::info!(
                    model = BACKEND_NAME,
                    load_ms = started.elapsed().as_millis() as u64,
                    "moderation model loaded from {}",
                    dir.display()
                );
                Some(Arc::new(Self::new(Arc::new(classifier))))
            }
            Err(e) => {
                explain_once(&e);
                None
            }
        }
    }
}

static EXPLAINED: Once = Once::new();

fn explain_once(error: &ModelError) {
    EXPLAINED.call_once(|| match error {
        ModelError::Missing { .. } => tracing::warn!(
            "the built-in moderator has no model, so images stay unmoderated: {error}"
        ),
        // The files are there but unusable: an operator must fetch them again.
        _ => tracing::error!(
            error = %error,
            "the built-in moderator could not load its model, so images stay unmoderated: {error}"
        ),
    });
}

#[async_trait]
impl Moderator for BuiltinModerator {
    async fn assess(&self, image: &ModerationImage) -> BackendResult<SafeSearch> {
        let bytes = match image {
            ModerationImage::Bytes(bytes) => bytes.clone(),
            ModerationImage::StorageUri { bucket, name } => {
                return Err(BackendError::Invalid(format!(
                    "the builtin moderator needs the image's bytes, not gs://{bucket}/{name} \
                     (an original too big to send inline): moderate on `resized`"
                )));
            }
        };
        let runner = Arc::clone(&self.runner);
        tokio::task::spawn_blocking(move || runner.assess_now(&bytes))
            .await
            .map_err(|e| BackendError::LocalUnavailable {
                context: "the builtin moderator".to_owned(),
                message: e.to_string(),
            })?
    }

    fn name(&self) -> &'static str {
        BACKEND_NAME
    }

    fn local(&self) -> Option<Arc<dyn LocalModerator>> {
        Some(self.runner.clone())
    }
}

#[cfg(test)]
#[path = "builtin_tests.rs"]
mod tests;
