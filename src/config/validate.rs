//! `Settings::validate`: the rules a single value's type cannot hold (numeric ranges) and the
//! cross-field rules, run at start-up and by `check-config`. Closed sets, boxes, colours,
//! thresholds and URLs are already typed, so they failed at load if they were wrong. Pure:
//! no I/O (a project id from the metadata server is resolved later, on Cloud Run).

use super::{Profile, PublisherBackend, RecordsBackend, Settings, StorageBackend};
use crate::domain::DerivedOutputs;
use crate::routes;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be loaded: {0}")]
    Load(String),
    #[error("configuration is invalid: {0}")]
    Invalid(String),
}

/// Every problem found, so the operator sees them all at once.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    /// `key = value must be <rule>` unless `ok`.
    fn range(&mut self, ok: bool, key: &str, value: impl std::fmt::Display, rule: &str) {
        self.check(ok, || format!("{key} = {value} {rule}"));
    }
}

impl Settings {
    /// Checks ranges and cross-field rules; the error lists all problems at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        self.check_routes(&mut problems);
        self.check_server(&mut problems);
        self.check_imaging(&mut problems);
        self.check_outputs(&mut problems);
        self.check_gcp(&mut problems);
        self.check_local(&mut problems);
        if problems.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems.0.join("; ")))
        }
    }

    fn check_routes(&self, p: &mut Problems) {
        p.check(!self.routes.is_empty(), || {
            format!(
                "PIPELINE_ROUTES is empty; name at least one of {}",
                routes::names()
            )
        });
    }

    fn check_server(&self, p: &mut Problems) {
        let s = &self.server;
        let key = |k: &str| format!("server.{k}");
        let body = s.body_limit_bytes;
        p.range(
            (1024..=1 << 30).contains(&body),
            &key("body_limit_bytes"),
            body,
            "must be between 1 KiB and 1 GiB",
        );
        let deadline = s.handler_deadline_secs;
        let ok = (1..=3600).contains(&deadline);
        p.range(
            ok,
            &key("handler_deadline_secs"),
            deadline,
            "must be 1..=3600",
        );
        let body_secs = s.body_read_timeout_secs;
        let rule = "must be between 1 and 3600";
        p.range(
            (1..=3600).contains(&body_secs),
            &key("body_read_timeout_secs"),
            body_secs,
            rule,
        );
        let shutdown = s.shutdown_timeout_secs;
        let rule = "must stay below Cloud Run's 10 s kill";
        p.range(shutdown <= 9, &key("shutdown_timeout_secs"), shutdown, rule);
        let cpus = s.cpu_concurrency;
        let rule = "is absurd (0 = number of cores)";
        p.range(cpus <= 1024, &key("cpu_concurrency"), cpus, rule);
        if let Some(budget) = s.memory_budget_bytes {
            let rule = "must be at least 16 MiB";
            p.range(
                budget >= 16 << 20,
                &key("memory_budget_bytes"),
                budget,
                rule,
            );
        }
    }

    fn check_imaging(&self, p: &mut Problems) {
        let i = &self.imaging;
        let ok = (1..=1 << 32).contains(&i.max_input_bytes);
        let bytes = i.max_input_bytes;
        p.range(ok, "imaging.max_input_bytes", bytes, "must be 1..=4 GiB");
        let sides = (1..=65_535).contains(&i.max_width) && (1..=65_535).contains(&i.max_height);
        let both = format!("{}/{}", i.max_width, i.max_height);
        p.range(
            sides,
            "imaging.max_width/max_height",
            both,
            "must be 1..=65535",
        );
        let ok = (1..=2_000_000_000).contains(&i.max_pixels);
        p.range(ok, "imaging.max_pixels", i.max_pixels, "must be 1..=2e9");
        let ok = (1..=100_000).contains(&i.max_frames);
        p.range(ok, "imaging.max_frames", i.max_frames, "must be 1..=100000");
        let (ok, animation) = (
            (1..=1 << 40).contains(&i.max_animation_pixels),
            "must be 1..=2^40",
        );
        p.range(
            ok,
            "imaging.max_animation_pixels",
            i.max_animation_pixels,
            animation,
        );
        let ok = (1..=100).contains(&i.jpeg_quality);
        p.range(
            ok,
            "imaging.jpeg_quality",
            i.jpeg_quality,
            "must be 1..=100",
        );
        let ok = (0.0..=100.0).contains(&i.webp_quality);
        p.range(
            ok,
            "imaging.webp_quality",
            i.webp_quality,
            "must be 0..=100",
        );
        let ok = (1.0..=100.0).contains(&i.avif_quality);
        p.range(
            ok,
            "imaging.avif_quality",
            i.avif_quality,
            "must be 1..=100",
        );
    }

    /// Outputs and where they go: derived objects must live apart from uploads.
    fn check_outputs(&self, p: &mut Problems) {
        p.check(!self.resize.sizes.is_empty(), || {
            "resize.sizes is empty".to_owned()
        });
        // `@` separates a size from a format in output names (domain::naming).
        for label in self.resize.sizes.keys() {
            p.check(!label.contains('@'), || {
                format!("resize.sizes label {label:?} must not contain '@'")
            });
        }
        for (setting, formats) in [
            ("resize.formats", self.resize.output_formats()),
            ("thumbnail.formats", self.thumbnail.output_formats()),
        ] {
            let distinct: std::collections::BTreeSet<&str> =
                formats.iter().map(|f| f.as_str()).collect();
            p.check(distinct.len() == formats.len(), || {
                format!("{setting} lists a format twice")
            });
        }
        for prefix in [
            &self.resize.prefix,
            &self.thumbnail.prefix,
            &self.moderation.quarantine_prefix,
        ] {
            p.check(!prefix.trim_matches('/').is_empty(), || {
                "resize.prefix, thumbnail.prefix and moderation.quarantine_prefix must not be \
                 empty (derived objects must live apart from uploads)"
                    .to_owned()
            });
        }
        self.check_thumbnail_folders(p);
        self.check_derived(p);
        let sigma = self.moderation.blur_sigma;
        let ok = sigma > 0.0 && sigma <= 500.0;
        p.range(ok, "moderation.blur_sigma", sigma, "must be in (0, 500]");
        p.check(!self.pipeline.topic.is_empty(), || {
            "pipeline.topic is empty".to_owned()
        });
        p.check(!self.records.collection.is_empty(), || {
            "records.collection is empty".to_owned()
        });
    }

    /// The thumbnail's further formats go to `<thumbnail prefix>@<format>/`
    /// (`domain::naming`): no other prefix may lie there, or two outputs could share a name.
    fn check_thumbnail_folders(&self, p: &mut Problems) {
        let thumbnail = self.thumbnail.prefix.trim_matches('/');
        if self.thumbnail.output_formats().len() < 2 {
            return;
        }
        for prefix in [&self.resize.prefix, &self.moderation.quarantine_prefix] {
            p.check(
                !prefix
                    .trim_matches('/')
                    .starts_with(&format!("{thumbnail}@")),
                || {
                    format!(
                        "the prefix {prefix:?} lies in {thumbnail}@<format>/, where \
                         thumbnail.formats writes the thumbnail's further formats"
                    )
                },
            );
        }
    }

    /// Outputs in the upload bucket need a signing key, or an uploader could make any
    /// upload pass for an output (and be skipped by every route, moderation included). The
    /// local profile makes a key for its data folder at start instead.
    fn check_derived(&self, p: &mut Problems) {
        let derived = DerivedOutputs::from_settings(self);
        p.check(
            self.profile != Profile::Gcp || !derived.needs_signing_key(),
            || {
                "outputs share the upload bucket (resize.bucket, thumbnail.bucket or \
                 moderation.quarantine_bucket is empty), where uploads could pass for outputs: \
                 give outputs a bucket of their own, or set derived.signing_key \
                 (PIPELINE_DERIVED__SIGNING_KEY, at least 32 bytes)"
                    .to_owned()
            },
        );
    }

    fn check_gcp(&self, p: &mut Problems) {
        let g = &self.gcp;
        p.check(
            (1..=3600).contains(&g.request_timeout_secs)
                && (1..=600).contains(&g.connect_timeout_secs),
            || {
                "gcp.request_timeout_secs must be 1..=3600 and gcp.connect_timeout_secs 1..=600"
                    .to_owned()
            },
        );
        let attempts = g.retry_max_attempts;
        let ok = (1..=10).contains(&attempts);
        p.range(ok, "gcp.retry_max_attempts", attempts, "must be 1..=10");
        let budget = g.retry_budget_secs;
        p.range(
            budget <= 600,
            "gcp.retry_budget_secs",
            budget,
            "must be at most 600",
        );
        let needs_project = self.storage.backend == StorageBackend::Gcs
            || self.records.backend == RecordsBackend::Firestore
            || self.publisher.backend == PublisherBackend::Pubsub;
        p.check(
            !needs_project || !g.project_id.is_empty() || self.on_cloud_run,
            || {
                "the Google Cloud backends need a project id: set GOOGLE_CLOUD_PROJECT or \
                 PIPELINE_GCP__PROJECT_ID"
                    .to_owned()
            },
        );
    }

    /// Delivery ranges, and every trigger aims at a route that accepts its event type.
    fn check_local(&self, p: &mut Problems) {
        let l = &self.local;
        let attempts = l.delivery_max_attempts;
        let ok = (1..=100).contains(&attempts);
        p.range(
            ok,
            "local.delivery_max_attempts",
            attempts,
            "must be 1..=100",
        );
        p.check(
            l.delivery_initial_backoff_ms <= l.delivery_max_backoff_ms,
            || {
                "local.delivery_initial_backoff_ms must not exceed local.delivery_max_backoff_ms"
                    .to_owned()
            },
        );
        for t in &l.triggers {
            let name = t.path.trim_start_matches('/');
            match routes::by_name(name) {
                // `/` is the dispatcher: it takes whatever some route takes.
                None if name.is_empty() => {}
                None => p.check(false, || {
                    format!("local trigger path {:?} is not a route of this binary", t.path)
                }),
                Some(route) => p.check(route.accepts_type(t.event_type.as_str()), || {
                    format!(
                        "local trigger {} -> {:?}: the {name} route does not accept that event type",
                        t.event_type, t.path
                    )
                }),
            }
        }
    }
}
