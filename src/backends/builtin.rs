//! The `builtin` moderator: nsfwjs's MobileNetV2 (see `crate::moderation_model`) run in this
//! process, mapped to SafeSearch likelihoods. No network, no account: the model files come
//! from `image-pipeline models fetch`. Without them (or with damaged ones) there is no
//! moderator: the start-up says why, once, and verdicts stay `unmoderated`.
//!
//! Mapping (the model sees only nudity and drawings):
//! - `adult` = max(Porn, Hentai), `racy` = Sexy, each through [`likelihood`];
//! - `violence`, `medical`, `spoof` are `UNKNOWN`: the model cannot see them, and `UNKNOWN`
//!   ranks below every threshold the configuration accepts (`VERY_UNLIKELY` .. `VERY_LIKELY`),
//!   so it never flags an image, and it is recorded as "not judged", never as "very unlikely".

use super::{BackendError, BackendResult, ModerationImage, Moderator};
use crate::config::ModerationSettings;
use crate::domain::{Likelihood, SafeSearch};
use crate::moderation_model::{
    Classifier, ModelError, Probabilities, default_cache_root, model_dir,
};
use async_trait::async_trait;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

/// The name recorded as the verdict's `backend`: the engine and the exact model.
pub const BACKEND_NAME: &str = "builtin:nsfwjs-4.4.0/mobilenet_v2";

/// Probability -> likelihood cut-offs (lower bounds of each step).
///
/// nsfwjs's authors publish about 90 % accuracy for this (MobileNetV2, 224x224) model and
/// 93 % for the mid-sized one (nsfwjs README, 4.4.0): the top class is wrong about one time
/// in ten, so one class score is evidence, not proof. `LIKELY` starts at 0.5, where the class
/// outweighs all the others together (the model's own answer when nsfwjs users take the top
/// class); `VERY_LIKELY` at 0.8; `POSSIBLE` from 0.2; below 0.05 is `VERY_UNLIKELY`. With
/// the default thresholds (`adult`/`racy` at `LIKELY`) an image is flagged when Porn, Hentai
/// or Sexy is at least 0.5. On the bench photos the largest of those is far below (see
/// scripts/moderation-reference).
pub const CUTOFFS: [(f32, Likelihood); 4] = [
    (0.8, Likelihood::VeryLikely),
    (0.5, Likelihood::Likely),
    (0.2, Likelihood::Possible),
    (0.05, Likelihood::Unlikely),
];

/// One class probability as a SafeSearch likelihood.
pub fn likelihood(p: f32) -> Likelihood {
    CUTOFFS
        .iter()
        .find(|(at_least, _)| p >= *at_least)
        .map_or(Likelihood::VeryUnlikely, |(_, l)| *l)
}

/// The SafeSearch answer for the model's class probabilities.
pub fn safe_search(p: &Probabilities) -> SafeSearch {
    SafeSearch {
        adult: likelihood(p.porn().max(p.hentai())),
        racy: likelihood(p.sexy()),
        violence: Likelihood::Unknown,
        medical: Likelihood::Unknown,
        spoof: Likelihood::Unknown,
    }
}

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
    classifier: Arc<Classifier>,
}

impl BuiltinModerator {
    pub fn new(classifier: Arc<Classifier>) -> Self {
        Self { classifier }
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
        let classifier = Arc::clone(&self.classifier);
        let probabilities =
            tokio::task::spawn_blocking(move || classifier.classify_encoded(&bytes))
                .await
                .map_err(|e| BackendError::LocalUnavailable {
                    context: "the builtin moderator".to_owned(),
                    message: e.to_string(),
                })?
                .map_err(|e| BackendError::Invalid(e.to_string()))?;
        Ok(safe_search(&probabilities))
    }

    fn name(&self) -> &'static str {
        BACKEND_NAME
    }
}

#[cfg(test)]
#[path = "builtin_tests.rs"]
mod tests;
