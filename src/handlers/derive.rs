//! What resize and thumbnail share: turn one source generation into derived objects and
//! announce them, or remove them when the source is deleted. Create-only writes make a crash
//! between "wrote a variant" and "published" safe to retry; variants of an older source
//! generation are replaced, variants of a newer one are never touched.
//! `finalized` runs in stages: guard → load (admitted by its memory, `admit`) → render →
//! write → re-check that the source generation is still live (else remove what it wrote) →
//! announce. When one dispatch runs both derive routes, load and render are one job they
//! share (`shared_job`); the stages after them are each route's own.

use super::admit::{self, Admitted};
use super::cpu::{self, run_cpu_stoppable};
use super::ledger::{self, mark_done, not_done_yet};
use super::outputs::{made_from, remove_output_if, stat_live};
use super::shared_job::Held;
use super::summary::{self, Rendered, Summarise};
use super::verdict::enforce_verdict;
use super::{HandlerResult, IncomingEvent, Outcome, Route, Step, finish, halt};
use super::{failure, guard};
use crate::admission::MemoryPermit;
use crate::config::Settings;
use crate::domain::PutOutcome;
use crate::domain::derived::output_bucket;
use crate::domain::naming::size_of_label;
use crate::domain::{ObjectInfo, ObjectMeta, ObjectRef, PipelineEvent, PipelineEventType};
use crate::domain::{RecordKey, StageUpdate, VariantInfo, WriteCondition};
use crate::error::{BackendContext, HandlerError};
use crate::events::storage::StorageObjectData;
use crate::events::types::{STORAGE_DELETED, STORAGE_FINALIZED};
use crate::imaging::{self, ImagingError, Output, Plan, SourceInfo, Target};
use crate::routes::RouteSpec;
use crate::state::AppState;
use bytes::Bytes;
use futures_util::future::{BoxFuture, try_join_all};
use std::sync::atomic::AtomicBool;

/// Cloud Storage's limit on an object name: 1024 bytes of UTF-8 ("Object naming" in the
/// Cloud Storage docs); a longer derived name can never be written, so it is permanent.
const MAX_OBJECT_NAME_BYTES: usize = 1024;

/// A route that derives objects from a source (resize, thumbnail).
pub trait DeriveRoute: 'static {
    /// The route's registry entry.
    const SPEC: RouteSpec;
    /// What to make and how to name and announce it, from the settings.
    fn spec(settings: &Settings) -> DeriveSpec;
}

/// A derive route's [`DeriveRoute::spec`], as its registry entry carries it.
pub type SpecFn = fn(&Settings) -> DeriveSpec;

/// How one route derives objects from a source.
pub struct DeriveSpec {
    pub route: &'static str,
    pub event_type: PipelineEventType,
    /// Output bucket (`None`: the source's).
    pub bucket: Option<String>,
    pub targets: Vec<Target>,
    /// Output object name for a target label and the source name.
    pub name_for: fn(&Settings, &str, &str) -> String,
    /// The record update announcing the outputs (and imaging's warnings).
    pub update: fn(&Settings, &SourceInfo, Vec<VariantInfo>, Vec<String>) -> StageUpdate,
    /// What else to compute about the source (`summary`).
    pub summarise: Summarise,
}

/// The registry entry of a derive route.
pub const fn route<R: DeriveRoute>() -> Route {
    Route {
        spec: R::SPEC,
        accepts,
        handle: handle::<R>,
        derive: Some(R::spec),
    }
}

/// Both derive routes accept storage `finalized` (make outputs) and `deleted` (remove them).
fn accepts(event: &IncomingEvent, _settings: &Settings) -> bool {
    matches!(event.ce.ty.as_str(), STORAGE_FINALIZED | STORAGE_DELETED)
}

fn handle<'a, R: DeriveRoute>(
    event: &'a IncomingEvent,
    state: &'a AppState,
) -> BoxFuture<'a, HandlerResult> {
    Box::pin(async move {
        let spec = R::spec(&state.settings);
        finish(if event.ce.ty == STORAGE_DELETED {
            on_deleted(event, state, &spec).await
        } else {
            on_finalized(event, state, &spec).await
        })
    })
}

/// The source object the event names, unless it must be skipped (not a storage event, or
/// one of the pipeline's own outputs: checked before anything is downloaded).
fn guard<'e>(
    event: &'e IncomingEvent,
    state: &AppState,
) -> Step<(&'e StorageObjectData, ObjectRef)> {
    match guard::source_object(event, &state.derived)? {
        Some(found) => Ok(found),
        None => halt(Outcome::skipped("not a Cloud Storage event")),
    }
}

/// `finalized`: make every target from the exact generation the event names. A permanent
/// failure after the guard is recorded on the image (`failure::recorded`).
async fn on_finalized(event: &IncomingEvent, state: &AppState, spec: &DeriveSpec) -> Step<Outcome> {
    let (data, source) = guard(event, state)?;
    let event_key = ledger::event_done_key(spec.route, event);
    let generation_key = ledger::generation_done_key(spec.route, &source);
    not_done_yet(state, &[&event_key, &generation_key]).await?;
    let step = make(state, event, spec, data, &source).await;
    let outcome = failure::recorded(state, spec.route, &source, step).await?;
    mark_done(state, &[&event_key, &generation_key]).await?;
    Ok(outcome)
}

/// load → render → write → source still live → (late) policy → announce.
async fn make(
    state: &AppState,
    event: &IncomingEvent,
    spec: &DeriveSpec,
    data: &StorageObjectData,
    source: &ObjectRef,
) -> Step<Outcome> {
    let shared = event.shared.as_deref();
    let (rendered, outputs_permit) = match shared.filter(|s| s.includes(spec.route)) {
        Some(shared) => shared.outputs_for(state, spec, data, source).await?,
        None => {
            let plan = plan_for(state, spec.targets.clone());
            let job = run_job(state, data, source, plan, spec.summarise).await?;
            (job.0, Held::Own(job.1))
        }
    };
    let summary = summary::of(&rendered);
    let processed = rendered.processed;
    let bucket = output_bucket(spec.bucket.as_deref(), source).to_owned();
    let variants = write(state, spec, source, &bucket, processed.outputs).await?;
    drop(outputs_permit);
    let written: Vec<ObjectRef> = variants
        .iter()
        .map(|v| ObjectRef::new(&v.bucket, &v.name))
        .collect();
    still_live(state, source, &written).await?;
    enforce_verdict(state, source, &written).await?;
    let count = variants.len();
    let update = (spec.update)(
        &state.settings,
        &processed.source,
        variants,
        processed.warnings,
    );
    let update = update.with_summary(summary);
    announce(state, spec, source, update).await?;
    Ok(Outcome::processed(format!(
        "wrote {count} output(s) of {source} to gs://{bucket}"
    )))
}

/// The imaging plan of `targets` under the configured limits and encoder options.
pub(super) fn plan_for(state: &AppState, targets: Vec<Target>) -> Plan {
    Plan {
        limits: cpu::imaging_limits(&state.settings),
        encode: cpu::encode_options(&state.settings),
        targets,
    }
}

/// load → render: one imaging job, admitted by `plan`'s memory and run under one CPU permit.
pub(super) async fn run_job(
    state: &AppState,
    data: &StorageObjectData,
    source: &ObjectRef,
    plan: Plan,
    summarise: Summarise,
) -> Step<(Rendered, MemoryPermit)> {
    let admitted = admit::load(state, data, source, &plan).await?;
    render(state, source, plan, admitted, summarise).await
}

/// Decodes once and makes every target under the CPU semaphore, holding the job's share of
/// the memory budget until the decode really ends, then only what its outputs take while
/// they are written. Not an image after all is a skip; a job stopped because its request
/// was abandoned is transient; any other imaging error (a decoder panic included) is
/// permanent.
async fn render(
    state: &AppState,
    source: &ObjectRef,
    plan: Plan,
    admitted: Admitted,
    summarise: Summarise,
) -> Step<(Rendered, MemoryPermit)> {
    let Admitted { input, mut permit } = admitted;
    let work = move |stop: &AtomicBool| {
        let processed = match summarise {
            Summarise::WithContentHash => imaging::process_summarised(&input, &plan, stop)
                .map(|p| Rendered::with_hash(p, &input)),
            Summarise::Placeholders => {
                imaging::process_summarised(&input, &plan, stop).map(Rendered::from)
            }
            Summarise::No => imaging::process_until(&input, &plan, stop).map(Rendered::from),
        };
        drop(input);
        let output_bytes = processed.as_ref().map_or(0, |p| {
            p.processed
                .outputs
                .iter()
                .map(|o| o.bytes.len() as u64)
                .sum::<u64>()
        });
        permit.shrink_to(output_bytes);
        (processed, permit)
    };
    match run_cpu_stoppable(state, work).await? {
        (Ok(processed), permit) => {
            state.metrics.imaging(&processed.processed.timings);
            Ok((processed, permit))
        }
        (Err(e), _) if e.is_not_an_image() => halt(Outcome::skipped_warn(format!("{source}: {e}"))),
        (Err(e @ ImagingError::Stopped { .. }), _) => {
            Err(HandlerError::Transient(anyhow::anyhow!("{e}")).into())
        }
        (Err(e), _) => Err(HandlerError::Permanent(anyhow::anyhow!("{e}")).into()),
    }
}

/// Writes every output (concurrently), each create-only; what was written, as variants.
async fn write(
    state: &AppState,
    spec: &DeriveSpec,
    source: &ObjectRef,
    bucket: &str,
    outputs: Vec<Output>,
) -> Result<Vec<VariantInfo>, HandlerError> {
    let writes = outputs.into_iter().map(|output| {
        let name = (spec.name_for)(&state.settings, &output.label, &source.name);
        let content_type = output.format.content_type();
        let meta = state
            .derived
            .output_meta(source, bucket, &name, content_type);
        let variant = VariantInfo {
            size: size_of_label(&output.label).to_owned(),
            bucket: bucket.to_owned(),
            name: name.clone(),
            width: output.width,
            height: output.height,
            bytes: output.bytes.len() as u64,
            format: output.format.as_str().to_owned(),
            frames: (output.frames > 1).then_some(output.frames),
        };
        let body = Bytes::from(output.bytes);
        async move {
            write_variant(state, bucket, &name, body, &meta, source)
                .await
                .map(|()| variant)
        }
    });
    try_join_all(writes).await
}

/// Publishes the route's event announcing the outputs.
async fn announce(
    state: &AppState,
    spec: &DeriveSpec,
    source: &ObjectRef,
    update: StageUpdate,
) -> Result<(), HandlerError> {
    let key = RecordKey::new(&source.bucket, &source.name);
    let generation = source.generation.unwrap_or_default();
    let announcement = PipelineEvent::new(spec.event_type, spec.route, &key, generation, update);
    state
        .backends
        .publisher
        .publish(&[announcement])
        .await
        .context_for(|| format!("could not publish {}", spec.event_type.as_str()))
}

/// Writes one output create-only. An existing output made from the same source generation
/// means an earlier attempt already wrote it; one from an older generation is replaced.
async fn write_variant(
    state: &AppState,
    bucket: &str,
    name: &str,
    body: Bytes,
    meta: &ObjectMeta,
    source: &ObjectRef,
) -> Result<(), HandlerError> {
    if name.len() > MAX_OBJECT_NAME_BYTES {
        return Err(HandlerError::Permanent(anyhow::anyhow!(
            "the output name {name:?} has {} bytes, over Cloud Storage's {MAX_OBJECT_NAME_BYTES}",
            name.len()
        )));
    }
    let store = &state.backends.store;
    let context = || format!("could not write gs://{bucket}/{name}");
    let mut condition = WriteCondition::CreateOnly;
    for _ in 0..3 {
        match store
            .put(bucket, name, body.clone(), meta, condition)
            .await
            .context_for(context)?
        {
            PutOutcome::Written(_) => return Ok(()),
            PutOutcome::ConditionNotMet => {}
        }
        let existing = match store.stat(&ObjectRef::new(bucket, name)).await {
            Ok(info) => info,
            Err(e) if e.is_not_found() => {
                condition = WriteCondition::CreateOnly;
                continue;
            }
            Err(e) => return Err(e).context_for(context),
        };
        match (
            state.derived.source_generation_of(&existing),
            source.generation,
        ) {
            (Some(theirs), Some(ours)) if theirs >= ours => return Ok(()),
            _ => condition = WriteCondition::IfGenerationMatch(existing.generation),
        }
    }
    Err(HandlerError::Transient(anyhow::anyhow!(
        "gs://{bucket}/{name} kept changing while being written; will retry"
    )))
}

/// Halts when the source generation stopped being the live object while its outputs were
/// written (deleted or overwritten meanwhile): the `deleted` event's handler may have looked
/// for outputs before they existed, so the outputs of this generation are removed here, and
/// nothing is announced. Outputs of a newer generation are never touched. A delete after
/// this check is found by the `deleted` event's handler, which runs after the delete.
async fn still_live(state: &AppState, source: &ObjectRef, written: &[ObjectRef]) -> Step<()> {
    let live = ObjectRef::new(&source.bucket, &source.name);
    let live = stat_live(state, &live).await?;
    // An event without a generation can only be checked for the object's existence.
    if live.is_some_and(|info| source.generation.is_none_or(|g| g == info.generation)) {
        return Ok(());
    }
    let mut removed = 0;
    for output in written {
        removed += usize::from(
            remove_output_if(state, output, |info| {
                made_from(&state.derived, info, source)
            })
            .await?,
        );
    }
    halt(Outcome::skipped(format!(
        "{source} was deleted or replaced while it was processed; removed the {removed} \
         output(s) made from it"
    )))
}

/// `deleted`: remove the outputs made from this (or an older) source generation.
async fn on_deleted(event: &IncomingEvent, state: &AppState, spec: &DeriveSpec) -> Step<Outcome> {
    let (_, source) = guard(event, state)?;
    let bucket = output_bucket(spec.bucket.as_deref(), &source).to_owned();
    let mut removed = 0;
    for target in &spec.targets {
        let name = (spec.name_for)(&state.settings, &target.label, &source.name);
        let output = ObjectRef::new(&bucket, &name);
        // One made from a newer upload of the same name is kept.
        let not_newer = |existing: &ObjectInfo| match (
            state.derived.source_generation_of(existing),
            source.generation,
        ) {
            (Some(made_from), Some(deleted)) => made_from <= deleted,
            _ => true,
        };
        removed += usize::from(remove_output_if(state, &output, not_newer).await?);
    }
    Ok(Outcome::processed(format!(
        "removed {removed} output(s) of deleted {source}"
    )))
}
