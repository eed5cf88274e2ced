use super::*;
use crate::admission::MemoryAdmission;
use std::sync::Arc;

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn stages_outside_a_route_are_labelled_none_and_inside_with_the_route() {
    let metrics = Metrics::new();

    metrics.stage(Stage::upload, Duration::from_millis(3));
    ROUTE
        .scope("resize", async {
            metrics.stage(Stage::download, Duration::ZERO)
        })
        .await;
    let text = metrics.render(&None).await;

    let none = r#"image_pipeline_stage_duration_seconds_count{route="none",stage="upload"}"#;
    let resize = r#"image_pipeline_stage_duration_seconds_count{route="resize",stage="download"}"#;
    assert_eq!(value(&text, none), Some(1.0), "{text}");
    assert_eq!(value(&text, resize), Some(1.0), "{text}");
}

#[tokio::test]
async fn imaging_timings_land_in_the_decode_resize_and_encode_stages() {
    let metrics = Metrics::new();
    let timings = StageTimings {
        decode: Duration::from_millis(40),
        resize: Duration::from_millis(20),
        encode: Duration::from_millis(10),
    };

    ROUTE
        .scope("thumbnail", async { metrics.imaging(&timings) })
        .await;
    let text = metrics.render(&None).await;

    for (stage, seconds) in [("decode", 0.04), ("resize", 0.02), ("encode", 0.01)] {
        let series = format!(
            r#"image_pipeline_stage_duration_seconds_sum{{route="thumbnail",stage="{stage}"}}"#
        );
        assert_eq!(value(&text, &series), Some(seconds), "{text}");
    }
}

#[tokio::test]
async fn the_memory_gauge_reads_the_admission_budget_in_use_at_each_scrape() {
    let metrics = Metrics::new();
    let admission = MemoryAdmission::new(1 << 30);
    let budget = admission.clone();
    metrics.set_memory_provider(move || budget.in_use_bytes());
    let series = "image_pipeline_memory_budget_in_use_bytes ";
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);

    let permit = admission.acquire(48 << 20, deadline).await.unwrap();
    let first = metrics.render(&None).await;
    drop(permit);
    let second = metrics.render(&None).await;

    assert_eq!(
        value(&first, series),
        Some(f64::from(48u32 << 20)),
        "{first}"
    );
    assert_eq!(value(&second, series), Some(0.0), "{second}");
}

#[tokio::test]
async fn requests_in_flight_go_back_down_when_the_guard_is_dropped() {
    let metrics = Metrics::new();
    let series = "image_pipeline_requests_in_flight ";

    let guard = metrics.in_flight();
    let during = metrics.render(&None).await;
    drop(guard);
    let after = metrics.render(&None).await;

    assert_eq!(value(&during, series), Some(1.0));
    assert_eq!(value(&after, series), Some(0.0));
}

/// A local runtime with a fixed queue and dead-letter count.
struct FixedLocal {
    pending: u64,
    dead: usize,
}

#[async_trait::async_trait]
impl crate::backends::LocalControl for FixedLocal {
    fn start(&self, _base_url: String) {}
    fn stop(&self) {}
    async fn pending(&self) -> crate::backends::BackendResult<u64> {
        Ok(self.pending)
    }
    async fn wait_idle(&self, _timeout: Duration) -> crate::backends::BackendResult<bool> {
        Ok(true)
    }
    fn dead_letters(&self) -> std::io::Result<Vec<crate::backends::DeadLetter>> {
        Ok((0..self.dead).map(|_| dead_letter()).collect())
    }
    fn dead_letter_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::new()
    }
    fn remove_dead_letter(&self, _delivery_id: &str) -> std::io::Result<bool> {
        Ok(false)
    }
}

fn dead_letter() -> crate::backends::DeadLetter {
    crate::backends::DeadLetter {
        delivery_id: "d1".into(),
        event_id: "e1".into(),
        event_type: "google.cloud.storage.object.v1.finalized".into(),
        path: "/resize".into(),
        attempts: 5,
        last_error: "HTTP 503".into(),
        dead_at: "2026-11-26T12:00:00Z".into(),
        headers: Vec::new(),
        body: serde_json::Value::Null,
    }
}

#[tokio::test]
async fn the_local_queue_depth_and_dead_letters_are_read_at_each_scrape() {
    let metrics = Metrics::new();
    let local: LocalHandle = Some(Arc::new(FixedLocal {
        pending: 7,
        dead: 2,
    }));

    let text = metrics.render(&local).await;

    assert_eq!(value(&text, "image_pipeline_local_queue_depth "), Some(7.0));
    assert_eq!(
        value(&text, "image_pipeline_local_dead_letters "),
        Some(2.0)
    );
}
