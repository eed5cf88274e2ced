//! What recording metrics costs per event: one event counter and latency observation plus
//! the eight stage observations a resize event makes, against an image job of ~10-200 ms.
//! Run: `cargo bench --bench metrics`.

use image_pipeline::domain::WireOutcome;
use image_pipeline::imaging::StageTimings;
use image_pipeline::metrics::{Metrics, ROUTE, Stage};
use std::time::Duration;

fn main() {
    divan::main();
}

/// Everything one resize event records: its stages and its outcome.
#[divan::bench]
fn record_one_event(bencher: divan::Bencher) {
    let metrics = Metrics::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let timings = StageTimings {
        decode: Duration::from_millis(40),
        resize: Duration::from_millis(12),
        encode: Duration::from_millis(20),
    };
    bencher.bench_local(|| {
        runtime.block_on(ROUTE.scope("resize", async {
            let _in_flight = metrics.in_flight();
            metrics.stage(Stage::download, Duration::from_millis(30));
            metrics.imaging(&timings);
            metrics.stage(Stage::upload, Duration::from_millis(25));
            metrics.stage(Stage::publish, Duration::from_millis(5));
            metrics.event("resize", WireOutcome::Processed, Duration::from_millis(130));
        }))
    });
}

/// One scrape of a registry with every route and stage filled in (not per event).
#[divan::bench]
fn render_a_scrape(bencher: divan::Bencher) {
    let metrics = Metrics::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    for route in ["resize", "thumbnail", "moderate", "record"] {
        runtime.block_on(ROUTE.scope(route, async {
            metrics.imaging(&StageTimings::default());
            metrics.event(route, WireOutcome::Processed, Duration::from_millis(1));
        }));
    }
    bencher.bench_local(|| runtime.block_on(metrics.render(&None)).len());
}
