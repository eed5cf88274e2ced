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

/// The largest variant this page decodes for the probabilities.
const MAX_PICTURE_BYTES: u64 = 4 << 20;

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
    // Only a variant, and read within a bound: the original may be any size the limits
    // allow, and this page decodes outside the memory budget.
    let variant = record
        .variants
        .iter()
        .find(|v| &v.size == wanted)
        .ok_or_else(|| {
            format!("the {wanted} variant the probabilities are shown for is missing")
        })?;
    let (picture, obj) = (
        variant.size.clone(),
        ObjectRef::new(&variant.bucket, &variant.name),
    );
    let bytes = state
        .backends
        .store
        .read_within(&obj, MAX_PICTURE_BYTES)
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
