//! `Settings::validate`: pure checks of values and cross-field rules, run at start-up and by
//! `check-config`. No I/O: a project id from the metadata server is resolved later, on Cloud Run.

use super::{PublisherBackend, ROUTE_NAMES, RecordsBackend, Settings, StorageBackend};
use crate::domain::{Likelihood, SafeSearchCategory};

/// Largest box side accepted for an output size.
const MAX_OUTPUT_SIDE_PX: u32 = 16_384;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be loaded: {0}")]
    Load(String),
    #[error("configuration is invalid: {0}")]
    Invalid(String),
}

/// Parses a `WIDTHxHEIGHT` box such as `1920x1080`.
pub fn parse_box(text: &str) -> Option<(u32, u32)> {
    let (w, h) = text.trim().split_once(['x', 'X'])?;
    let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0 && w <= MAX_OUTPUT_SIDE_PX && h <= MAX_OUTPUT_SIDE_PX).then_some((w, h))
}

/// Parses `#rrggbb`.
pub fn parse_rgb(text: &str) -> Option<[u8; 3]> {
    let hex = text.trim().strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

const OUTPUT_FORMATS: [&str; 5] = ["original", "jpeg", "png", "webp", "webp_lossless"];
const FILTERS: [&str; 5] = ["lanczos3", "catmull_rom", "mitchell", "bilinear", "box"];

impl Settings {
    /// Checks every value and cross-field rule; the error lists all problems at once.
    pub fn validate(&self) -> Result<(), super::ConfigError> {
        let mut problems: Vec<String> = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };

        check(
            !self.routes.is_empty(),
            "PIPELINE_ROUTES is empty; name at least one of resize, thumbnail, moderate, record"
                .to_owned(),
        );
        for route in &self.routes {
            check(
                ROUTE_NAMES.contains(&route.as_str()),
                format!(
                    "unknown route {route:?} in PIPELINE_ROUTES; known routes: resize, thumbnail, moderate, record"
                ),
            );
        }

        let s = &self.server;
        check(
            (1024..=1 << 30).contains(&s.body_limit_bytes),
            format!(
                "server.body_limit_bytes = {} must be between 1 KiB and 1 GiB",
                s.body_limit_bytes
            ),
        );
        check(
            matches!(s.malformed_status, 200 | 400),
            format!(
                "server.malformed_status = {} must be 200 or 400",
                s.malformed_status
            ),
        );
        check(
            (1..=3600).contains(&s.handler_deadline_secs),
            format!(
                "server.handler_deadline_secs = {} must be 1..=3600",
                s.handler_deadline_secs
            ),
        );
        check(
            s.shutdown_timeout_secs <= 9,
            format!(
                "server.shutdown_timeout_secs = {} must stay below Cloud Run's 10 s kill",
                s.shutdown_timeout_secs
            ),
        );
        check(
            s.cpu_concurrency <= 1024,
            format!(
                "server.cpu_concurrency = {} is absurd (0 = number of cores)",
                s.cpu_concurrency
            ),
        );
        check(
            s.memory_budget_bytes >= 16 << 20,
            format!(
                "server.memory_budget_bytes = {} must be at least 16 MiB",
                s.memory_budget_bytes
            ),
        );

        let i = &self.imaging;
        check(
            (1..=1 << 32).contains(&i.max_input_bytes),
            format!(
                "imaging.max_input_bytes = {} must be 1..=4 GiB",
                i.max_input_bytes
            ),
        );
        check(
            (1..=65_535).contains(&i.max_width) && (1..=65_535).contains(&i.max_height),
            format!(
                "imaging.max_width/max_height = {}/{} must be 1..=65535",
                i.max_width, i.max_height
            ),
        );
        check(
            (1..=2_000_000_000).contains(&i.max_pixels),
            format!("imaging.max_pixels = {} must be 1..=2e9", i.max_pixels),
        );
        check(
            (1..=100_000).contains(&i.max_frames),
            format!("imaging.max_frames = {} must be 1..=100000", i.max_frames),
        );
        check(
            FILTERS.contains(&i.filter.as_str()),
            format!("imaging.filter = {:?} is not one of {FILTERS:?}", i.filter),
        );
        check(
            (1..=100).contains(&i.jpeg_quality),
            format!("imaging.jpeg_quality = {} must be 1..=100", i.jpeg_quality),
        );
        check(
            (0.0..=100.0).contains(&i.webp_quality),
            format!("imaging.webp_quality = {} must be 0..=100", i.webp_quality),
        );
        check(
            parse_rgb(&i.background).is_some(),
            format!(
                "imaging.background = {:?} is not a #rrggbb colour",
                i.background
            ),
        );

        check(
            !self.resize.sizes.is_empty(),
            "resize.sizes is empty".to_owned(),
        );
        for (label, size) in &self.resize.sizes {
            check(
                parse_box(size).is_some(),
                format!(
                    "resize.sizes.{label} = {size:?} is not WIDTHxHEIGHT (1..={MAX_OUTPUT_SIDE_PX})"
                ),
            );
        }
        check(
            parse_box(&self.thumbnail.size).is_some(),
            format!(
                "thumbnail.size = {:?} is not WIDTHxHEIGHT",
                self.thumbnail.size
            ),
        );
        check(
            matches!(
                self.thumbnail.anchor.as_str(),
                "centre" | "center" | "smart"
            ),
            format!(
                "thumbnail.anchor = {:?} must be centre or smart",
                self.thumbnail.anchor
            ),
        );
        for (key, format) in [
            ("resize.format", &self.resize.format),
            ("thumbnail.format", &self.thumbnail.format),
        ] {
            check(
                OUTPUT_FORMATS.contains(&format.as_str()),
                format!("{key} = {format:?} is not one of {OUTPUT_FORMATS:?}"),
            );
        }
        for prefix in [
            &self.resize.prefix,
            &self.thumbnail.prefix,
            &self.moderation.quarantine_prefix,
        ] {
            check(
                !prefix.trim_matches('/').is_empty(),
                "resize.prefix, thumbnail.prefix and moderation.quarantine_prefix must not be empty (derived objects must live apart from uploads)".to_owned(),
            );
        }

        let m = &self.moderation;
        for (category, likelihood) in &m.thresholds {
            check(
                SafeSearchCategory::parse(category).is_some(),
                format!(
                    "moderation.thresholds.{category}: unknown category (adult, spoof, medical, violence, racy)"
                ),
            );
            check(
                Likelihood::from_api_name(likelihood) != Likelihood::Unknown,
                format!(
                    "moderation.thresholds.{category} = {likelihood:?} is not a likelihood (VERY_UNLIKELY .. VERY_LIKELY)"
                ),
            );
        }
        check(
            m.blur_sigma > 0.0 && m.blur_sigma <= 500.0,
            format!(
                "moderation.blur_sigma = {} must be in (0, 500]",
                m.blur_sigma
            ),
        );

        check(
            !self.pipeline.topic.is_empty(),
            "pipeline.topic is empty".to_owned(),
        );
        check(
            !self.records.collection.is_empty(),
            "records.collection is empty".to_owned(),
        );

        let g = &self.gcp;
        check(
            (1..=3600).contains(&g.request_timeout_secs)
                && (1..=600).contains(&g.connect_timeout_secs),
            "gcp.request_timeout_secs must be 1..=3600 and gcp.connect_timeout_secs 1..=600"
                .to_owned(),
        );
        check(
            (1..=10).contains(&g.retry_max_attempts),
            format!(
                "gcp.retry_max_attempts = {} must be 1..=10",
                g.retry_max_attempts
            ),
        );
        check(
            g.retry_budget_secs <= 600,
            format!(
                "gcp.retry_budget_secs = {} must be at most 600",
                g.retry_budget_secs
            ),
        );
        for (key, url) in [
            ("storage_endpoint", &g.storage_endpoint),
            ("firestore_endpoint", &g.firestore_endpoint),
            ("pubsub_endpoint", &g.pubsub_endpoint),
            ("vision_endpoint", &g.vision_endpoint),
        ] {
            check(
                url.starts_with("http://") || url.starts_with("https://"),
                format!("gcp.{key} = {url:?} must be an http(s) base URL"),
            );
        }
        let needs_project = self.storage.backend == StorageBackend::Gcs
            || self.records.backend == RecordsBackend::Firestore
            || self.publisher.backend == PublisherBackend::Pubsub;
        check(
            !needs_project || !g.project_id.is_empty() || self.on_cloud_run,
            "the Google Cloud backends need a project id: set GOOGLE_CLOUD_PROJECT or PIPELINE_GCP__PROJECT_ID".to_owned(),
        );

        let l = &self.local;
        check(
            (1..=100).contains(&l.delivery_max_attempts),
            format!(
                "local.delivery_max_attempts = {} must be 1..=100",
                l.delivery_max_attempts
            ),
        );
        check(
            l.delivery_initial_backoff_ms <= l.delivery_max_backoff_ms,
            "local.delivery_initial_backoff_ms must not exceed local.delivery_max_backoff_ms"
                .to_owned(),
        );
        for t in &l.triggers {
            let route = t.path.trim_start_matches('/');
            check(
                route.is_empty() || ROUTE_NAMES.contains(&route),
                format!(
                    "local trigger path {:?} is not a route of this binary",
                    t.path
                ),
            );
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(super::ConfigError::Invalid(problems.join("; ")))
        }
    }
}
