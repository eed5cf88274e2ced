//! The bench protocol of compare.py: four JPEGs in OUTDIR and one JSON statistics line.

use super::*;
use crate::imaging::bench;

#[test]
fn bench_run_writes_the_four_outputs_and_a_json_line() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("photo.jpg");
    std::fs::write(&input, jpeg(&gradient(2400, 1600), 85)).unwrap();
    let outdir = dir.path().join("out");

    // Act
    let line = bench::run(&input, &outdir, 3, false).unwrap();

    // Assert
    let stats: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(stats["n"], 2, "the first of 3 runs is left out");
    assert!(stats["median_ms"].as_f64().unwrap() > 0.0);
    assert!(stats["cpu_median_ms"].as_f64().is_some());
    for (label, w, h) in [
        ("large", 1620, 1080),
        ("medium", 800, 533),
        ("small", 400, 267),
        ("thumb", 200, 133),
    ] {
        let bytes = std::fs::read(outdir.join(format!("{label}.jpg"))).unwrap();
        assert_eq!(decode_rgba(&bytes).dimensions(), (w, h), "{label}");
    }
}
