//! The service's Prometheus metrics (`GET /metrics`): events by route and outcome, latency
//! histograms by route and by stage, requests in flight, the memory budget in use, and the
//! local queue's depth and dead letters. Owns the registry and the names; recording is a
//! few atomic operations (see `benches/metrics.rs`). Must not decide anything: it only counts.
//!
//! Stages are timed where they happen without the handlers knowing: the seams are wrapped
//! ([`instrument`]) and read the route from a task-local set by the router ([`ROUTE`]);
//! imaging reports decode/resize/encode in its result ([`crate::imaging::StageTimings`]).

pub mod instrument;
pub mod journal;

use crate::backends::LocalHandle;
use crate::domain::WireOutcome;
use crate::imaging::StageTimings;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::RwLock;
use std::time::Duration;

tokio::task_local! {
    /// The route whose handler runs on this task (set by the router), for stage labels.
    pub static ROUTE: &'static str;
}

/// The route label for work outside any handler (`process` uploads, backfill listing).
const NO_ROUTE: &str = "none";

/// The route running on this task, or `none`.
pub fn current_route() -> &'static str {
    ROUTE.try_with(|r| *r).unwrap_or(NO_ROUTE)
}

/// Latency buckets in seconds: 1 ms to 60 s, roughly ×2.5 apart (image work spans 3 decades).
const LATENCY_BUCKETS_SECS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// A stage of handling one event (the `stage` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
#[allow(non_camel_case_types)] // the label values are the variant names
pub enum Stage {
    download,
    decode,
    resize,
    encode,
    upload,
    publish,
    moderate,
    record,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EventLabels {
    route: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StageLabels {
    route: &'static str,
    stage: Stage,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_SECS)
}

/// Reads the memory budget in use, in bytes (hooked up by whoever owns admission).
type MemoryProvider = Box<dyn Fn() -> u64 + Send + Sync>;

/// All metrics of one server. Cheap to share (`Arc`); recording never blocks on a scrape.
pub struct Metrics {
    registry: Registry,
    events: Family<EventLabels, Counter>,
    event_seconds: Histograms<RouteLabels>,
    stage_seconds: Histograms<StageLabels>,
    in_flight: Gauge,
    memory_in_use_bytes: Gauge,
    queue_depth: Gauge,
    dead_letters: Gauge,
    memory_provider: RwLock<Option<MemoryProvider>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("image_pipeline");
        let metrics = Self {
            events: Family::default(),
            event_seconds: Family::new_with_constructor(latency_histogram),
            stage_seconds: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
            memory_in_use_bytes: Gauge::default(),
            queue_depth: Gauge::default(),
            dead_letters: Gauge::default(),
            memory_provider: RwLock::new(None),
            registry: Registry::default(),
        };
        registry.register(
            "events",
            "Events handled, by route and outcome",
            metrics.events.clone(),
        );
        registry.register(
            "event_duration_seconds",
            "Time to handle one event, by route",
            metrics.event_seconds.clone(),
        );
        registry.register(
            "stage_duration_seconds",
            "Time spent in one stage of an event, by route and stage",
            metrics.stage_seconds.clone(),
        );
        registry.register(
            "requests_in_flight",
            "Event requests being handled now",
            metrics.in_flight.clone(),
        );
        registry.register(
            "memory_budget_in_use_bytes",
            "Bytes of the decode memory budget held by images in work",
            metrics.memory_in_use_bytes.clone(),
        );
        registry.register(
            "local_queue_depth",
            "Local deliveries queued or in flight (local profile)",
            metrics.queue_depth.clone(),
        );
        registry.register(
            "local_dead_letters",
            "Local deliveries that gave up (files in data/dead-letter/)",
            metrics.dead_letters.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    /// One finished event of `route` with its wire outcome and how long it took.
    pub fn event(&self, route: &'static str, outcome: WireOutcome, elapsed: Duration) {
        let outcome = outcome.as_str();
        self.events
            .get_or_create(&EventLabels { route, outcome })
            .inc();
        self.event_seconds
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Time spent in one stage, for the route running on this task.
    pub fn stage(&self, stage: Stage, elapsed: Duration) {
        let route = current_route();
        self.stage_seconds
            .get_or_create(&StageLabels { route, stage })
            .observe(elapsed.as_secs_f64());
    }

    /// Imaging's own decode/resize/encode times.
    pub fn imaging(&self, timings: &StageTimings) {
        self.stage(Stage::decode, timings.decode);
        self.stage(Stage::resize, timings.resize);
        self.stage(Stage::encode, timings.encode);
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Where the memory budget in use is read from at each scrape.
    pub fn set_memory_provider(&self, provider: impl Fn() -> u64 + Send + Sync + 'static) {
        if let Ok(mut slot) = self.memory_provider.write() {
            *slot = Some(Box::new(provider));
        }
    }

    /// The text exposition, with the gauges read now. Errors of the local runtime leave
    /// its gauges at their last value (a scrape must not fail because SQLite is busy).
    pub async fn render(&self, local: &LocalHandle) -> String {
        if let Ok(slot) = self.memory_provider.read()
            && let Some(provider) = slot.as_ref()
        {
            self.memory_in_use_bytes.set(gauge_value(provider()));
        }
        if let Some(local) = local {
            if let Ok(pending) = local.pending().await {
                self.queue_depth.set(gauge_value(pending));
            }
            if let Ok(dead) = local.dead_letters() {
                self.dead_letters.set(gauge_value(dead.len() as u64));
            }
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Decrements the in-flight gauge when dropped (also when the request is cancelled).
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
