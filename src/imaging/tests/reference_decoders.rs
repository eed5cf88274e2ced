//! Our ThumbHash and BlurHash decoded by their reference decoders (npm `thumbhash` 0.1.1 and
//! `blurhash` 2.0.5, run with node): they must give back the image's colours, where they
//! are, and its aspect. The packages come from `.ci/fetch-placeholder-decoders.sh`
//! (`PLACEHOLDER_DECODERS_DIR`, else the default cache); when they are missing this test
//! FAILS with the command to run, it is never skipped.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use image::RgbImage;

use super::*;
use crate::imaging::{Fit, OutputFormat, process_summarised};

const LEFT: [u8; 3] = [200, 60, 40];
const RIGHT: [u8; 3] = [40, 80, 190];

fn decoders_dir() -> PathBuf {
    let dir = std::env::var_os("PLACEHOLDER_DECODERS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::cache_dir::project_cache_dir()
                .expect("neither XDG_CACHE_HOME nor HOME is set")
                .join("placeholder-decoders")
        });
    assert!(
        dir.join("node_modules/thumbhash/package.json").is_file()
            && dir.join("node_modules/blurhash/package.json").is_file(),
        "no reference decoders in {}: run PLACEHOLDER_DECODERS_DIR=\"$(.ci/fetch-placeholder-decoders.sh)\"",
        dir.display()
    );
    dir
}

fn decode_with_node(thumbhash: &str, blurhash: &str, (w, h): (u32, u32)) -> serde_json::Value {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/imaging/tests/reference_decoders.mjs");
    let out = Command::new("node")
        .arg(script)
        .arg(decoders_dir())
        .args([thumbhash, blurhash, &w.to_string(), &h.to_string()])
        .output()
        .expect("node runs (apt-get install nodejs)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rgb(v: &serde_json::Value) -> [f64; 3] {
    let c = |i: usize| v[i].as_f64().unwrap();
    [c(0), c(1), c(2)]
}

/// Within `percent` of full scale on every channel.
fn close(got: [f64; 3], want: [f64; 3], percent: f64) -> bool {
    got.iter()
        .zip(want)
        .all(|(g, w)| (g - w).abs() <= 2.55 * percent)
}

#[test]
fn reference_decoders_give_back_the_colours_where_they_are_and_the_aspect() {
    let img = RgbImage::from_fn(900, 450, |x, _| {
        image::Rgb(if x < 450 { LEFT } else { RIGHT })
    });
    let plan = plan(vec![target(
        "s",
        400,
        400,
        Fit::Inside,
        OutputFormat::Original,
    )]);
    let processed = process_summarised(&png_rgb(&img), &plan, &AtomicBool::new(false)).unwrap();
    let placeholder = processed.summary.unwrap().placeholder;

    let decoded = decode_with_node(&placeholder.thumbhash, &placeholder.blurhash, (900, 450));

    let srgb_mean = [0, 1, 2].map(|c| (f64::from(LEFT[c]) + f64::from(RIGHT[c])) / 2.0);
    let (thumb, blur) = (&decoded["thumbhash"], &decoded["blurhash"]);
    assert_eq!(decoded["blurhashValid"], true);
    for d in [thumb, blur] {
        assert!(close(rgb(&d["all"]), srgb_mean, 5.0), "all: {d}");
        assert!(
            close(rgb(&d["left"]), LEFT.map(f64::from), 20.0),
            "left: {d}"
        );
        assert!(
            close(rgb(&d["right"]), RIGHT.map(f64::from), 20.0),
            "right: {d}"
        );
    }
    let aspect = thumb["width"].as_f64().unwrap() / thumb["height"].as_f64().unwrap();
    // ThumbHash stores the aspect coarsely (its decodings are at most 32 px a side).
    assert!(
        (aspect / 2.0 - 1.0).abs() < 0.15,
        "ThumbHash aspect {aspect}"
    );
    let colour = u32::from_str_radix(&placeholder.color[1..], 16).unwrap();
    let ours = [colour >> 16, (colour >> 8) & 255, colour & 255].map(f64::from);
    assert!(close(ours, srgb_mean, 5.0), "{}", placeholder.color);
}
