//! Stopping a job at a stage boundary: a job whose request is gone gives its CPU back early.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::imaging::{ImagingError, process_until};

fn three_sizes() -> Plan {
    plan(vec![
        target("large", 800, 600, Fit::Inside, OutputFormat::Png),
        target("medium", 400, 300, Fit::Inside, OutputFormat::Png),
        target("small", 100, 75, Fit::Inside, OutputFormat::Png),
    ])
}

#[test]
fn a_job_told_to_stop_stops_after_its_decode_without_rendering_outputs() {
    let input = png_rgb(&gradient(1600, 1200));
    let stop = AtomicBool::new(true);

    let result = process_until(&input, &three_sizes(), &stop);

    assert!(
        matches!(result, Err(ImagingError::Stopped { stage: "decode" })),
        "{result:?}"
    );
}

#[test]
fn a_job_never_told_to_stop_makes_every_output() {
    let input = png_rgb(&gradient(1600, 1200));

    let processed = process_until(&input, &three_sizes(), &AtomicBool::new(false)).unwrap();

    assert_eq!(processed.outputs.len(), 3);
}
