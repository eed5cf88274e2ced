//! What the moderate route shows its moderator, read and made under the same gate as every
//! other route: bounded reads, the header limits (bytes, pixels, frames), admitted memory
//! and the CPU permit, all decided before the image's bytes arrive.
//!
//! - A remote moderator (Vision) gets the original (trigger `original`) or the configured
//!   variant (`resized`) as bytes, read no further than [`MAX_INLINE_BYTES`], or, larger, as
//!   a `gs://` URI it reads itself. Nothing is decoded here.
//! - A local moderator (the built-in model) decodes on this instance, so it never gets the
//!   source itself: the route loads it through `admit` (with the moderator's working memory
//!   admitted too; [`load_here`]), makes a copy that fits [`LOCAL_BOX_PIXELS`], and runs the
//!   moderator on it in the same blocking CPU work, holding the permits until that work
//!   really ends ([`assess_loaded`]). Between the two the route may find the verdict
//!   already made for these bytes (`verdict_reuse`) and never run the model.

use super::admit::{self, Admitted, Declared};
use super::cpu::{self, run_cpu_stoppable};
use super::guard::{self, sniff_image};
use super::outputs;
use super::{IncomingEvent, Outcome, Step, halt};
use crate::backends::{BackendError, BackendResult, LocalModerator, ModerationImage};
use crate::domain::{ObjectRef, SafeSearch, StageUpdate, VariantInfo};
use crate::error::HandlerError;
use crate::imaging::{self, Fit, ImagingError, OutputFormat, Plan, Target};
use crate::state::AppState;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Originals up to this size are sent inline; larger ones by `gs://` URI (Vision's request
/// size limit, gcp-contracts.md §4).
pub const MAX_INLINE_BYTES: u64 = 4 << 20;

/// The box a local moderator's copy fits inside: Vision's recommended SafeSearch size
/// (640x480, gcp-contracts.md §4), and still more than the model's 224x224 input, which
/// it samples from this copy.
pub const LOCAL_BOX_PIXELS: u32 = 640;

/// The image for a remote moderator.
pub async fn remote_subject(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
) -> Step<ModerationImage> {
    let (object, declared) = subject_object(event, state, source).await?;
    sniff_image(state, &object, || format!("{object} is not an image")).await?;
    let small = declared.size_bytes.is_some_and(|s| s <= MAX_INLINE_BYTES) && !declared.gzip;
    if !small {
        return Ok(ModerationImage::StorageUri {
            bucket: object.bucket,
            name: object.name,
        });
    }
    let store = &state.backends.store;
    match store.read_within(&object, MAX_INLINE_BYTES).await {
        Ok(bytes) => Ok(ModerationImage::Bytes(bytes)),
        Err(e) if e.is_not_found() => halt(Outcome::skipped(format!(
            "{object} no longer exists (deleted before it was moderated)"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What a local moderator will judge: the original or the variant, loaded under admission
/// (its working memory admitted too) and pinned to the generation read.
pub struct LocalSubject {
    object: ObjectRef,
    admitted: Admitted,
}

impl LocalSubject {
    /// The loaded bytes (shared, not copied).
    pub fn bytes(&self) -> Bytes {
        self.admitted.input.clone()
    }
}

/// Loads what a local moderator judges, under the memory budget.
pub async fn load_here(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
    moderator: &dyn LocalModerator,
) -> Step<LocalSubject> {
    let (object, declared) = subject_object(event, state, source).await?;
    let plan = local_plan(state);
    let working_bytes = moderator.working_bytes();
    let admitted = admit::load_declared(state, &declared, &object, &plan, working_bytes).await?;
    Ok(LocalSubject { object, admitted })
}

/// A local moderator's answer on a loaded subject: fit a copy into the box and run the
/// moderator on it, in one blocking CPU work that holds the memory permit to its end.
pub async fn assess_loaded(
    state: &AppState,
    subject: LocalSubject,
    moderator: Arc<dyn LocalModerator>,
) -> Step<BackendResult<SafeSearch>> {
    let LocalSubject { object, admitted } = subject;
    let Admitted { input, mut permit } = admitted;
    let plan = local_plan(state);
    let working_bytes = moderator.working_bytes();
    let work = move |stop: &AtomicBool| {
        let processed = imaging::process_until(&input, &plan, stop);
        drop(input);
        let copy = processed.map(|p| p.outputs.into_iter().next().map(|o| o.bytes));
        let copy_bytes = copy.as_ref().map_or(0, |c| c.as_ref().map_or(0, Vec::len));
        permit.shrink_to(copy_bytes as u64 + working_bytes);
        let answer = copy.map(|c| c.map(|bytes| moderator.assess_now(&bytes)));
        drop(permit);
        answer
    };
    match run_cpu_stoppable(state, work).await? {
        Ok(Some(answer)) => Ok(answer),
        Ok(None) => Ok(Err(BackendError::Invalid(
            "imaging made no copy to moderate (a bug)".to_owned(),
        ))),
        Err(e) if e.is_not_an_image() => halt(Outcome::skipped_warn(format!("{object}: {e}"))),
        Err(e @ ImagingError::Stopped { .. }) => {
            Err(HandlerError::Transient(anyhow::anyhow!("{e}")).into())
        }
        Err(e) => Err(HandlerError::Permanent(anyhow::anyhow!("{object}: {e}")).into()),
    }
}

/// One target: the image fitted into the box, as JPEG, under the configured limits.
fn local_plan(state: &AppState) -> Plan {
    Plan {
        limits: cpu::imaging_limits(&state.settings),
        encode: cpu::encode_options(&state.settings),
        targets: vec![Target {
            label: "moderation".to_owned(),
            width: LOCAL_BOX_PIXELS,
            height: LOCAL_BOX_PIXELS,
            fit: Fit::Inside,
            format: OutputFormat::Jpeg,
        }],
    }
}

/// The object to moderate and what is known of it: the original of a storage event, else
/// the configured variant of an `image.resized` event, pinned to the generation checked to
/// be made from `source`'s (an overwrite's variant carries the same name; `outputs`).
async fn subject_object(
    event: &IncomingEvent,
    state: &AppState,
    source: &ObjectRef,
) -> Step<(ObjectRef, Declared)> {
    if let Some((data, _)) = guard::source_object(event, &state.derived)? {
        return Ok((source.clone(), Declared::of(data)));
    }
    let variant = resized_variant(event, state)?;
    let output = ObjectRef::new(&variant.bucket, &variant.name);
    let Some(live) = outputs::stat_output(state, &output, source).await? else {
        let why = format!("{output} no longer exists or was made from another upload of {source}");
        return halt(Outcome::skipped(why));
    };
    let declared = Declared {
        size_bytes: Some(variant.bytes),
        gzip: false,
        content_type: None,
    };
    Ok((output.at_generation(live.generation), declared))
}

/// The configured variant of an `image.resized` event (else the smallest one).
fn resized_variant(event: &IncomingEvent, state: &AppState) -> Step<VariantInfo> {
    let data = event.pipeline_event_data()?;
    let StageUpdate::Resized { mut variants, .. } = data.update else {
        return halt(Outcome::skipped("not an image.resized event"));
    };
    let wanted = &state.settings.moderation.variant;
    let chosen = variants
        .iter()
        .position(|v| &v.size == wanted)
        .or_else(|| (0..variants.len()).min_by_key(|i| variants[*i].bytes));
    match chosen.map(|i| variants.swap_remove(i)) {
        Some(variant) => Ok(variant),
        None => halt(Outcome::skipped("image.resized carried no variants")),
    }
}
