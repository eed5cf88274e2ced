//! The benchmark protocol of `../shared/bench/compare.py` (`image-pipeline bench INPUT
//! OUTDIR [N]`): fit inside 1920x1080, 800x600, 400x300 and 200x200, JPEG quality 85,
//! alpha onto white, metadata stripped, N runs in one process, one JSON line of statistics.
//! The only part of `imaging` that touches files. It calls [`process`] exactly as the
//! routes do: no benchmark-only shortcuts.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use cpu_time::ProcessTime;

use super::{EncodeOptions, Fit, Limits, OutputFormat, Plan, Target, process, process_summarised};
use std::sync::atomic::AtomicBool;

/// The four outputs every contestant writes.
const BOXES: [(&str, u32, u32); 4] = [
    ("large", 1920, 1080),
    ("medium", 800, 600),
    ("small", 400, 300),
    ("thumb", 200, 200),
];

/// Runs the job `iterations` times on `input`, writes `<label>.jpg` into `outdir` and
/// returns the JSON statistics line (`median_ms`, `cpu_median_ms`, the first run left out
/// when there are 3 or more). With `summary`, each run also makes the summary the resize
/// route adds (placeholders and perceptual hash; [`process_summarised`]).
pub fn run(input: &Path, outdir: &Path, iterations: u32, summary: bool) -> anyhow::Result<String> {
    let plan = Plan {
        limits: Limits::default(),
        encode: EncodeOptions {
            jpeg_quality: 85,
            ..EncodeOptions::default()
        },
        targets: BOXES
            .iter()
            .map(|&(label, width, height)| Target {
                label: label.to_owned(),
                width,
                height,
                fit: Fit::Inside,
                format: OutputFormat::Jpeg,
            })
            .collect(),
    };
    let iterations = iterations.max(1);
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut last = None;
    for _ in 0..iterations {
        let (wall, cpu) = (Instant::now(), ProcessTime::now());
        // Reading the file is part of the job, as it is for the peers.
        let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
        let processed = match summary {
            true => process_summarised(&bytes, &plan, &AtomicBool::new(false)),
            false => process(&bytes, &plan),
        };
        let processed = processed.with_context(|| format!("processing {}", input.display()))?;
        walls.push(wall.elapsed().as_secs_f64() * 1e3);
        cpus.push(cpu.elapsed().as_secs_f64() * 1e3);
        last = Some(processed);
    }
    std::fs::create_dir_all(outdir).with_context(|| format!("creating {}", outdir.display()))?;
    for output in last.map(|p| p.outputs).unwrap_or_default() {
        let path = outdir.join(format!("{}.jpg", output.label));
        std::fs::write(&path, &output.bytes)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if iterations >= 3 {
        walls.remove(0);
        cpus.remove(0);
    }
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let line = serde_json::json!({
        "peer": "image-pipeline",
        "input": name,
        "n": walls.len(),
        "median_ms": round2(median(&mut walls.clone())),
        "min_ms": round2(walls.iter().copied().fold(f64::INFINITY, f64::min)),
        "cpu_median_ms": round2(median(&mut cpus)),
        "summary": summary,
    });
    Ok(line.to_string())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
