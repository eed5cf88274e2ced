//! One download and one decode per request (issue 25). When one dispatch runs several derive
//! routes on the same object generation (`POST /`, `backfill`, a local trigger on `/`), the
//! first of them to reach its load stage runs ONE imaging job whose plan holds its own
//! targets and those of every derive route after it: admitted once by that plan's memory
//! estimate, decoded once under one CPU permit (the thumbnail is cut from the same oriented
//! raster as the sizes). Each route then writes and announces its own outputs from the
//! shared result. However the job ends (outputs, a skip, a permanent or a transient
//! failure), the other routes of the request take that ending rather than downloading and
//! decoding again; a redelivery of the event starts afresh.
//!
//! Owns: which routes share, the combined plan, and handing each route its part. Must not:
//! write, announce or record anything (each route does that itself, so a failed write of
//! one route never costs the other a decode), nor outlive its request (it lives in the
//! `IncomingEvent`).

use super::derive::{self, DeriveSpec, SpecFn};
use super::summary::{Rendered, Summarise};
use super::{Halt, Outcome, Route, Step, halt};
use crate::admission::MemoryPermit;
use crate::domain::ObjectRef;
use crate::error::HandlerError;
use crate::events::storage::StorageObjectData;
use crate::imaging::{Fit, Processed};
use crate::state::AppState;
use std::ops::Range;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The job the derive routes of one dispatch share.
pub struct SharedDerive {
    /// The derive routes of the dispatch, in the order it runs them.
    routes: Vec<(&'static str, SpecFn)>,
    job: OnceCell<JobEnd>,
}

impl std::fmt::Debug for SharedDerive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.routes.iter().map(|(name, _)| *name).collect();
        f.debug_struct("SharedDerive")
            .field("routes", &names)
            .field("ran", &self.job.initialized())
            .finish()
    }
}

/// How the shared job ended, kept for every route of the request.
#[derive(Clone)]
enum JobEnd {
    Made(Arc<Made>),
    /// A skip (not an image, gone before it was read).
    Halted(Outcome),
    Permanent(String),
    Transient(String),
}

/// The shared job's result: every participant's outputs, in plan order.
pub struct Made {
    processed: Processed,
    content_hash: Option<String>,
    /// Which outputs are whose.
    parts: Vec<(&'static str, Range<usize>)>,
    /// What the outputs take of the memory budget, until the last route has written them.
    _outputs_permit: MemoryPermit,
}

/// What keeps a route's outputs admitted while it writes them: its own job's permit, or
/// the shared job.
pub enum Held {
    Own(MemoryPermit),
    Shared(Arc<Made>),
}

impl SharedDerive {
    /// The shared job for `routes` (the ones one dispatch runs), when two or more of them
    /// are derive routes; one derive route alone keeps its own job, exactly as before.
    pub fn for_routes(routes: &[&'static Route]) -> Option<Arc<Self>> {
        let derive: Vec<(&'static str, SpecFn)> = routes
            .iter()
            .filter_map(|route| Some((route.name(), route.derive?)))
            .collect();
        (derive.len() > 1).then(|| {
            Arc::new(Self {
                routes: derive,
                job: OnceCell::new(),
            })
        })
    }

    /// Whether `route` takes part in this job.
    pub fn includes(&self, route: &str) -> bool {
        self.routes.iter().any(|(name, _)| *name == route)
    }

    /// `spec`'s route's outputs of the shared job: runs the job when no route ran it yet,
    /// else takes how it ended.
    pub async fn outputs_for(
        &self,
        state: &AppState,
        spec: &DeriveSpec,
        data: &StorageObjectData,
        source: &ObjectRef,
    ) -> Step<(Rendered, Held)> {
        let run = || self.run(state, spec.route, data, source);
        let made = match self.job.get_or_init(run).await.clone() {
            JobEnd::Made(made) => made,
            JobEnd::Halted(outcome) => return halt(outcome),
            JobEnd::Permanent(reason) => return Err(permanent(reason)),
            JobEnd::Transient(reason) => {
                return Err(HandlerError::Transient(anyhow::anyhow!(reason)).into());
            }
        };
        let cover = spec
            .targets
            .iter()
            .all(|t| matches!(t.fit, Fit::Cover { .. }));
        match made.part_of(spec.route, spec.summarise, cover) {
            Some(rendered) => Ok((rendered, Held::Shared(made))),
            // The job was planned without this route (not possible while a dispatch runs
            // its routes one after the other): it makes its own.
            None => {
                let plan = derive::plan_for(state, spec.targets.clone());
                let job = derive::run_job(state, data, source, plan, spec.summarise).await?;
                Ok((job.0, Held::Own(job.1)))
            }
        }
    }

    /// One job for `first` and every derive route after it (the ones before it ran
    /// already, without needing it: a duplicate, a skip).
    async fn run(
        &self,
        state: &AppState,
        first: &str,
        data: &StorageObjectData,
        source: &ObjectRef,
    ) -> JobEnd {
        let start = self.routes.iter().position(|(name, _)| *name == first);
        let mut targets = Vec::new();
        let mut parts = Vec::new();
        let mut summarise = Summarise::No;
        for (name, spec_of) in &self.routes[start.unwrap_or_default()..] {
            let spec = spec_of(&state.settings);
            let range = targets.len()..targets.len() + spec.targets.len();
            targets.extend(spec.targets);
            parts.push((*name, range));
            summarise = summarise.max(spec.summarise);
        }
        let plan = derive::plan_for(state, targets);
        match derive::run_job(state, data, source, plan, summarise).await {
            Ok((rendered, permit)) => JobEnd::Made(Arc::new(Made {
                processed: rendered.processed,
                content_hash: rendered.content_hash,
                parts,
                _outputs_permit: permit,
            })),
            Err(Halt::Done(outcome)) => JobEnd::Halted(outcome),
            Err(Halt::Failed(HandlerError::Permanent(e))) => JobEnd::Permanent(format!("{e:#}")),
            Err(Halt::Failed(HandlerError::Transient(e))) => JobEnd::Transient(format!("{e:#}")),
        }
    }
}

impl Made {
    /// `route`'s outputs as if it had run the job alone; the summary only if it summarises,
    /// and for a route of cover outputs alone (the thumbnail) its crop's summary.
    fn part_of(&self, route: &str, summarise: Summarise, cover: bool) -> Option<Rendered> {
        let (_, range) = self.parts.iter().find(|(name, _)| *name == route)?;
        let p = &self.processed;
        Some(Rendered {
            processed: Processed {
                source: p.source,
                outputs: p.outputs.get(range.clone())?.to_vec(),
                warnings: p.warnings.clone(),
                timings: p.timings,
                summary: match cover {
                    true => p.cover_summary.clone().or_else(|| p.summary.clone()),
                    false => p.summary.clone(),
                }
                .filter(|_| summarise.placeholders()),
                cover_summary: None,
            },
            content_hash: self
                .content_hash
                .clone()
                .filter(|_| summarise.content_hash()),
        })
    }
}

fn permanent(reason: String) -> Halt {
    HandlerError::Permanent(anyhow::anyhow!(reason)).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::RouteName;

    fn routes(names: &[RouteName]) -> Vec<&'static Route> {
        names
            .iter()
            .map(|name| crate::handlers::route(*name))
            .collect()
    }

    #[test]
    fn only_a_dispatch_with_both_derive_routes_shares_a_job() {
        use RouteName::*;
        let shared = SharedDerive::for_routes(&routes(&[Resize, Thumbnail, Record])).unwrap();

        assert!(shared.includes("resize") && shared.includes("thumbnail"));
        assert!(!shared.includes("record"));
        assert!(SharedDerive::for_routes(&routes(&[Resize, Record, Moderate])).is_none());
        assert!(SharedDerive::for_routes(&routes(&[Thumbnail])).is_none());
    }

    fn summary(colour: &str) -> crate::imaging::Summary {
        crate::imaging::Summary {
            placeholder: crate::imaging::Placeholder {
                thumbhash: "th".into(),
                blurhash: "bh".into(),
                color: colour.into(),
            },
            phash: 7,
        }
    }

    #[tokio::test]
    async fn the_thumbnail_s_part_of_a_shared_job_has_its_crop_s_placeholder_and_no_content_hash() {
        // Arrange: a job that made resize's output and the thumbnail's, with the hash.
        let admission = crate::admission::MemoryAdmission::new(1 << 20);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        let made = Made {
            processed: Processed {
                source: crate::imaging::SourceInfo {
                    format: crate::imaging::ImageFormat::Jpeg,
                    width: 4,
                    height: 3,
                    orientation: 1,
                },
                outputs: Vec::new(),
                warnings: Vec::new(),
                timings: Default::default(),
                summary: Some(summary("#whole")),
                cover_summary: Some(summary("#square")),
            },
            content_hash: Some("sha256:00".into()),
            parts: vec![("resize", 0..0), ("thumbnail", 0..0)],
            _outputs_permit: admission.acquire(1024, deadline).await.unwrap(),
        };

        // Act
        let thumbnail = made
            .part_of("thumbnail", Summarise::Placeholders, true)
            .unwrap();
        let resize = made
            .part_of("resize", Summarise::WithContentHash, false)
            .unwrap();

        // Assert
        let colour = |r: &Rendered| {
            r.processed
                .summary
                .as_ref()
                .unwrap()
                .placeholder
                .color
                .clone()
        };
        assert_eq!(colour(&thumbnail), "#square");
        assert_eq!(thumbnail.content_hash, None);
        assert_eq!(colour(&resize), "#whole");
        assert_eq!(resize.content_hash.as_deref(), Some("sha256:00"));
    }
}
