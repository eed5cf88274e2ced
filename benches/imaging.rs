//! Quick local iterations on the imaging engine over a generated 12 MP JPEG:
//! `nice cargo bench --bench imaging`. The authoritative comparison with libvips, Pillow and
//! sharp is `../shared/bench/compare.py`; this only tracks our own changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use image_pipeline::imaging::{self, Anchor, Fit, OutputFormat, Plan, Target};

fn main() {
    divan::main();
}

/// A 4032x3024 JPEG with photo-like gradients and fine texture.
fn photo() -> Vec<u8> {
    let (w, h) = (4032u32, 3024u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let t = ((x ^ y) % 7) as u8 * 6;
        image::Rgb([
            ((x * 255 / w) as u8).saturating_add(t / 2),
            (y * 255 / h) as u8,
            120u8.wrapping_add(t),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

fn service_plan() -> Plan {
    let fit = |label: &str, width, height, fit| Target {
        label: label.to_owned(),
        width,
        height,
        fit,
        format: OutputFormat::Original,
    };
    Plan {
        targets: vec![
            fit("large", 1920, 1080, Fit::Inside),
            fit("medium", 800, 600, Fit::Inside),
            fit("small", 400, 300, Fit::Inside),
            fit(
                "thumb",
                200,
                200,
                Fit::Cover {
                    anchor: Anchor::Centre,
                },
            ),
        ],
        ..Plan::default()
    }
}

#[divan::bench(sample_count = 10)]
fn process_12mp_jpeg_four_sizes(bencher: divan::Bencher) {
    let input = photo();
    let plan = service_plan();
    bencher.bench(|| imaging::process(divan::black_box(&input), &plan).unwrap());
}

#[divan::bench(sample_count = 20)]
fn probe_12mp_jpeg(bencher: divan::Bencher) {
    let input = photo();
    let limits = imaging::Limits::default();
    bencher.bench(|| imaging::probe(divan::black_box(&input), &limits).unwrap());
}
