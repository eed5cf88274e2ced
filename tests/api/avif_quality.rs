//! The AVIF outputs' quality as the done-when states it: decoded by a real AVIF
//! decoder, each AVIF size is at least 32 dB PSNR against a Lanczos-3 reference of the
//! source at the same size, and smaller than the JPEG of that size. Our build writes AVIF
//! but has no decoder, so Pillow 13 (libavif + dav1d) decodes it: `.ci/install-avif-decoder.sh`
//! puts it in a venv outside the repo (`AVIF_DECODER_PYTHON`, else the default cache).
//! When it is missing this test FAILS with the command to run; it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::imageops::FilterType;
use image::{ImageDecoder, ImageReader, RgbImage};

/// The bar for an AVIF output, against a Lanczos reference.
const MIN_AVIF_PSNR_DB: f64 = 32.0;

fn avif_decoder() -> PathBuf {
    let python = std::env::var_os("AVIF_DECODER_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            image_pipeline::cache_dir::project_cache_dir()
                .expect("neither XDG_CACHE_HOME nor HOME is set")
                .join("avif-decoder/bin/python")
        });
    assert!(
        python.is_file(),
        "no AVIF decoder at {}: run AVIF_DECODER_PYTHON=\"$(.ci/install-avif-decoder.sh)\"",
        python.display()
    );
    python
}

/// `avif` decoded by Pillow's libavif to RGB (through a lossless PNG).
fn decode_avif(avif: &Path, scratch: &Path) -> RgbImage {
    let png = scratch.join("decoded.png");
    let out = Command::new(avif_decoder())
        .args([
            "-c",
            "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('RGB').save(sys.argv[2])",
        ])
        .arg(avif)
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "decoding {}: {}",
        avif.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    image::open(&png).unwrap().to_rgb8()
}

/// The source as a viewer shows it: decoded and turned upright by its EXIF orientation.
pub(crate) fn upright_source(path: &Path) -> RgbImage {
    let mut decoder = ImageReader::open(path).unwrap().into_decoder().unwrap();
    let orientation = decoder.orientation().unwrap();
    let mut image = image::DynamicImage::from_decoder(decoder).unwrap();
    image.apply_orientation(orientation);
    image.to_rgb8()
}

fn psnr_db(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let squared: f64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let mse = squared / a.as_raw().len() as f64;
    10.0 * (255.0_f64 * 255.0 / mse.max(1e-9)).log10()
}

/// Checks every AVIF variant of a `process --json` record against a Lanczos-3 reference of
/// `source` at its size: at least [`MIN_AVIF_PSNR_DB`], and fewer bytes than the JPEG
/// variant of the same size. Returns `(size, AVIF dB, JPEG dB, AVIF bytes, JPEG bytes)`.
pub(crate) fn check_avif_quality(
    data: &Path,
    source: &Path,
    record: &serde_json::Value,
) -> Vec<(String, f64, f64, u64, u64)> {
    let scratch = tempfile::tempdir().unwrap();
    let upright = upright_source(source);
    let variants = record["variants"].as_array().unwrap();
    let of = |size: &serde_json::Value, format: &str| {
        variants
            .iter()
            .find(|v| &v["size"] == size && v["format"] == format)
            .unwrap_or_else(|| panic!("no {format} variant of {size} in {record}"))
    };
    let mut measured = Vec::new();
    for avif in variants.iter().filter(|v| v["format"] == "avif") {
        let jpeg = of(&avif["size"], "jpeg");
        let file = |v: &serde_json::Value| {
            data.join("buckets/uploads")
                .join(v["name"].as_str().unwrap())
        };
        let decoded = decode_avif(&file(avif), scratch.path());
        let (w, h) = decoded.dimensions();
        let reference = image::imageops::resize(&upright, w, h, FilterType::Lanczos3);
        let jpeg_pixels = image::open(file(jpeg)).unwrap().to_rgb8();
        let row = (
            avif["size"].as_str().unwrap().to_owned(),
            psnr_db(&decoded, &reference),
            psnr_db(&jpeg_pixels, &reference),
            avif["bytes"].as_u64().unwrap(),
            jpeg["bytes"].as_u64().unwrap(),
        );
        eprintln!("{}: {row:?}", source.display());
        assert!(row.1 >= MIN_AVIF_PSNR_DB, "{}: {row:?}", source.display());
        assert!(
            row.3 < row.4,
            "{}: the AVIF is not smaller: {row:?}",
            source.display()
        );
        measured.push(row);
    }
    assert!(!measured.is_empty(), "no AVIF variant in {record}");
    measured
}
