//! The built-in model's class probabilities for an image's page. Records keep only the
//! likelihoods the probabilities were mapped to, so the page runs the same model on the
//! same picture the moderate route judged (the configured variant) when it is shown; the
//! model is loaded once per process, on first use, and only for built-in verdicts.

use super::Console;
use crate::backends::builtin::{BACKEND_NAME, model_dir_for};
use crate::domain::{ImageRecord, ObjectRef};
use crate::moderation_model::{CLASSES, Classifier};
use crate::state::AppState;
use actix_web::web;
use std::sync::{Arc, OnceLock};

/// The model, once loaded (`None`: it could not be).
pub(crate) type Model = OnceLock<Option<Arc<Classifier>>>;

/// What the page shows: the picture judged, then each class and its probability.
pub(crate) struct ClassProbabilities {
    pub(crate) picture: String,
    pub(crate) classes: Vec<(&'static str, f32)>,
}

/// The class probabilities of the picture the built-in model judged; `None` when the
/// verdict is not the built-in model's; `Err` (a sentence) when they cannot be computed.
pub(crate) async fn for_record(
    state: &AppState,
    record: &ImageRecord,
) -> Option<Result<ClassProbabilities, String>> {
    let moderation = record.moderation.as_ref()?;
    if moderation.backend != BACKEND_NAME || moderation.likelihoods.is_none() {
        return None;
    }
    Some(compute(state, record).await)
}

async fn compute(state: &AppState, record: &ImageRecord) -> Result<ClassProbabilities, String> {
    let wanted = &state.settings.moderation.variant;
    let (picture, obj) = match record.variants.iter().find(|v| &v.size == wanted) {
        Some(v) => (v.size.clone(), ObjectRef::new(&v.bucket, &v.name)),
        None => (
            "original".to_owned(),
            ObjectRef::new(&record.bucket, &record.name),
        ),
    };
    let bytes = state
        .backends
        .store
        .read(&obj)
        .await
        .map_err(|e| format!("the {picture} picture could not be read: {e}"))?;
    let console = Console::get();
    let dir = model_dir_for(&state.settings.moderation);
    let _permit = state.cpu.acquire().await.map_err(|e| e.to_string())?;
    let probabilities = web::block(move || {
        let model = console
            .model
            .get_or_init(|| Classifier::load(&dir).ok().map(Arc::new));
        let model = model
            .as_ref()
            .ok_or_else(|| "the built-in model could not be loaded".to_owned())?;
        model.classify_encoded(&bytes).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(ClassProbabilities {
        picture,
        classes: CLASSES.into_iter().zip(probabilities.0).collect(),
    })
}
