//! The peak-memory estimate against measured peaks. Each image is processed in a child
//! process (this test binary running the ignored `peak_child` test) that resets its peak
//! RSS (`/proc/self/clear_refs`), reads the file, processes it and reports `VmHWM` minus
//! its RSS before the read: what the job really touched, C libraries included.

use std::path::Path;
use std::process::Command;

use image::{DynamicImage, ImageBuffer, Luma, Rgb, Rgba};

use super::*;
use crate::imaging::estimate::MAX_OVERESTIMATE;
use crate::imaging::{Anchor, PeakEstimate, estimate_peak, process};

const INPUT_ENV: &str = "IMAGING_PEAK_CHILD_INPUT";
const PLAN_ENV: &str = "IMAGING_PEAK_CHILD_PLAN";

/// The routes' default plans: three fit-inside sizes, or one cover thumbnail.
fn named_plan(name: &str) -> Plan {
    match name {
        "resize" => plan(vec![
            target("large", 1920, 1080, Fit::Inside, OutputFormat::Original),
            target("medium", 800, 600, Fit::Inside, OutputFormat::Original),
            target("small", 400, 300, Fit::Inside, OutputFormat::Original),
        ]),
        "resize avif" => plan(vec![
            target("large", 1440, 1080, Fit::Inside, OutputFormat::Avif),
            target("medium", 800, 600, Fit::Inside, OutputFormat::Avif),
            target("small", 400, 300, Fit::Inside, OutputFormat::Avif),
        ]),
        "resize webp" => plan(vec![
            target("large", 1920, 1080, Fit::Inside, OutputFormat::WebP),
            target("medium", 800, 600, Fit::Inside, OutputFormat::WebP),
            target("small", 400, 300, Fit::Inside, OutputFormat::WebP),
        ]),
        _ => plan(vec![target(
            "thumb",
            200,
            200,
            Fit::Cover {
                anchor: Anchor::Centre,
            },
            OutputFormat::Original,
        )]),
    }
}

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
#[ignore = "the child process of the peak-memory tests; run by them"]
fn peak_child() {
    let path = std::env::var(INPUT_ENV).expect("run by the peak-memory tests");
    let plan = named_plan(&std::env::var(PLAN_ENV).unwrap());
    std::fs::write("/proc/self/clear_refs", "5").expect("peak RSS reset (Linux 4.0+)");
    let before = status_bytes("VmRSS:");

    let input = std::fs::read(path).unwrap();
    let result = process(&input, &plan);
    let peak = status_bytes("VmHWM:");
    drop(input);

    assert!(result.is_ok(), "{result:?}");
    println!("PEAK_DELTA_BYTES={}", peak.saturating_sub(before));
}

/// Peak bytes the job touched, measured in a fresh child process.
/// What the child's RSS delta counts beyond the job on a loaded machine (a thread's stack,
/// allocator pages touched by the test harness): a 10 MB thumbnail job measured 2 % over
/// its estimate once in a full parallel run, and alone within it.
const MEASUREMENT_NOISE_BYTES: u64 = 512 << 10;

fn measured_peak(input: &Path, plan: &str) -> u64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "imaging::tests::peak_memory::peak_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INPUT_ENV, input)
        .env(PLAN_ENV, plan)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split("PEAK_DELTA_BYTES=").nth(1))
        .map(|v| v.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .unwrap_or_else(|| {
            panic!(
                "child failed: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .parse()
        .unwrap()
}

fn estimated(input: &[u8], plan: &str) -> u64 {
    match estimate_peak(input, input.len() as u64, &named_plan(plan)).unwrap() {
        PeakEstimate::Bytes(b) => b,
        PeakEstimate::NeedMoreBytes => panic!("the whole file was given"),
    }
}

fn rgba16(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgba16(ImageBuffer::from_fn(w, h, |x, y| {
        Rgba([
            (x * 31) as u16,
            (y * 29) as u16,
            ((x ^ y) * 17) as u16,
            40_000,
        ])
    }))
}

/// A real `side`×`side` GIF frame on a 16x16 logical screen (decoded into its own buffer).
fn gif_on_small_screen(side: u32) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(gradient(side, side));
    let mut gif = encoded(&img, image::ImageFormat::Gif);
    gif[6..10].copy_from_slice(&[16, 0, 16, 0]);
    gif
}

fn cmyk_jpeg(w: usize, h: usize) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 251) as u8).collect();
    compressed_jpeg(&pixels, (w, h), JCS_CMYK, (1, 1), false, 85)
}

fn progressive_jpeg(img: &RgbImage) -> Vec<u8> {
    let dims = (img.width() as usize, img.height() as usize);
    compressed_jpeg(img.as_raw(), dims, JCS_RGB, (2, 2), true, 85)
}

/// An animation of `frames` noisy `w`×`h` frames (the worst case for GIF's LZW), with a
/// transparent band, in `format` (GIF, or lossy WebP through libwebp).
fn noisy_animation(w: u32, h: u32, frames: u32, format: image::ImageFormat) -> Vec<u8> {
    use image::{Delay, Frame};
    let images: Vec<image::RgbaImage> = (0..frames)
        .map(|f| {
            ImageBuffer::from_fn(w, h, |x, y| {
                let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ (f * 97)) >> 7;
                let alpha = if y < h / 10 { 0 } else { 255 };
                Rgba([n as u8, (n >> 8) as u8, (x + f * 9) as u8, alpha])
            })
        })
        .collect();
    if format == image::ImageFormat::Gif {
        let mut out = Vec::new();
        let mut encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 30);
        for image in images {
            let delay = Delay::from_numer_denom_ms(40, 1);
            encoder
                .encode_frame(Frame::from_parts(image, 0, 0, delay))
                .unwrap();
        }
        drop(encoder);
        return out;
    }
    let config = webp::WebPConfig::new().unwrap();
    let mut encoder = webp::AnimEncoder::new(w, h, &config);
    for (i, image) in images.iter().enumerate() {
        encoder.add_frame(webp::AnimFrame::from_rgba(
            image.as_raw(),
            w,
            h,
            i as i32 * 40,
        ));
    }
    encoder.try_encode().unwrap().to_vec()
}

/// Every decoder path and both routes, at sizes where the pixel buffers dominate.
fn mix() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let photo = gradient(3000, 2000);
    let grey16 = DynamicImage::ImageLuma16(ImageBuffer::from_fn(2000, 2000, |x, y| {
        Luma([(x * 13 + y * 7) as u16])
    }));
    let rgb16 = DynamicImage::ImageRgb16(ImageBuffer::from_fn(1500, 1000, |x, y| {
        Rgb([(x * 40) as u16, (y * 60) as u16, 9_000])
    }));
    let alpha = DynamicImage::ImageRgba8(ImageBuffer::from_fn(2000, 1500, |x, y| {
        Rgba([(x % 256) as u8, (y % 256) as u8, 90, ((x + y) % 256) as u8])
    }));
    let fits = with_segment(&jpeg(&gradient(1200, 800), 85), &exif_app1(1, None));
    vec![
        ("baseline jpeg", jpeg(&photo, 85), "resize"),
        ("baseline jpeg", jpeg(&photo, 85), "thumbnail"),
        ("baseline jpeg", jpeg(&photo, 85), "resize avif"),
        ("baseline jpeg", jpeg(&photo, 85), "resize webp"),
        ("progressive jpeg", progressive_jpeg(&photo), "resize"),
        ("progressive jpeg", progressive_jpeg(&photo), "thumbnail"),
        ("cmyk jpeg", cmyk_jpeg(1500, 1000), "resize"),
        ("jpeg that fits", fits, "resize"),
        ("png rgb", png_rgb(&gradient(2500, 2000)), "resize"),
        (
            "png 16-bit rgba",
            encoded(&rgba16(2000, 2000), image::ImageFormat::Png),
            "resize",
        ),
        (
            "png 16-bit grey",
            encoded(&grey16, image::ImageFormat::Png),
            "thumbnail",
        ),
        (
            "gif frame bigger than its screen",
            gif_on_small_screen(1500),
            "resize",
        ),
        (
            "webp lossy",
            encoded(
                &DynamicImage::ImageRgb8(gradient(2000, 1500)),
                image::ImageFormat::WebP,
            ),
            "resize",
        ),
        (
            "webp lossless alpha",
            encoded(&alpha, image::ImageFormat::WebP),
            "thumbnail",
        ),
        (
            "tiff 16-bit",
            encoded(&rgb16, image::ImageFormat::Tiff),
            "resize",
        ),
        (
            "animated gif",
            noisy_animation(800, 600, 12, image::ImageFormat::Gif),
            "resize",
        ),
        (
            "animated gif",
            noisy_animation(800, 600, 12, image::ImageFormat::Gif),
            "resize webp",
        ),
        (
            "animated webp",
            noisy_animation(640, 480, 16, image::ImageFormat::WebP),
            "resize",
        ),
        (
            "animated gif",
            noisy_animation(600, 400, 8, image::ImageFormat::Gif),
            "thumbnail",
        ),
        (
            "bmp",
            encoded(
                &DynamicImage::ImageRgb8(gradient(2000, 1500)),
                image::ImageFormat::Bmp,
            ),
            "resize",
        ),
    ]
}

#[test]
fn the_estimate_covers_the_measured_peak_of_every_format_within_the_documented_margin() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let mut report = Vec::new();

    for (i, (name, input, plan)) in mix().into_iter().enumerate() {
        let path = dir.path().join(format!("{i}"));
        std::fs::write(&path, &input).unwrap();

        // Act
        let estimate = estimated(&input, plan);
        let measured = measured_peak(&path, plan);

        report.push((name, plan, estimate, measured));
    }

    // Assert
    let table: Vec<String> = report
        .iter()
        .map(|(n, p, e, m)| {
            format!(
                "{n} ({p}): estimate {e}, measured {m}, ratio {:.2}",
                *e as f64 / *m as f64
            )
        })
        .collect();
    let table = table.join("\n");
    println!("{table}");
    for (name, plan, estimate, measured) in report {
        assert!(
            estimate + MEASUREMENT_NOISE_BYTES >= measured,
            "{name} ({plan}) under-estimated:\n{table}"
        );
        assert!(
            estimate as f64 <= measured as f64 * MAX_OVERESTIMATE,
            "{name} ({plan}) over-estimated:\n{table}"
        );
    }
}

#[test]
fn a_16_bit_png_peaks_no_higher_than_the_same_png_in_8_bits() {
    // Arrange: a smooth 12.5 MP RGB image (small files, so the rasters dominate the peak).
    let dir = tempfile::tempdir().unwrap();
    let deep = DynamicImage::ImageRgb16(ImageBuffer::from_fn(5000, 2500, |x, y| {
        image::Rgb([(x * 13) as u16, (y * 26) as u16, 30_000])
    }));
    let (p16, p8) = (dir.path().join("16"), dir.path().join("8"));
    std::fs::write(&p16, encoded(&deep, image::ImageFormat::Png)).unwrap();
    let shallow = DynamicImage::ImageRgb8(deep.to_rgb8());
    std::fs::write(&p8, encoded(&shallow, image::ImageFormat::Png)).unwrap();

    // Act
    let peak16 = measured_peak(&p16, "thumbnail");
    let peak8 = measured_peak(&p8, "thumbnail");

    // Assert: a 16-bit raster and its 8-bit copy would be 112 MB over the 8-bit job's 37 MB.
    assert!(
        peak16 <= peak8 + peak8 / 5,
        "16-bit peak {peak16} vs 8-bit peak {peak8}"
    );
}

#[test]
fn an_rgba_job_holds_its_raster_once_not_a_premultiplied_copy_beside_it() {
    // Arrange: the same smooth 12.5 MP image with a varying alpha (kept: PNG out) and in RGB.
    let dir = tempfile::tempdir().unwrap();
    let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_fn(5000, 2500, |x, y| {
        Rgba([(x / 20) as u8, (y / 10) as u8, 90, (64 + x / 40) as u8])
    }));
    let (p4, p3) = (dir.path().join("rgba"), dir.path().join("rgb"));
    std::fs::write(&p4, encoded(&rgba, image::ImageFormat::Png)).unwrap();
    let rgb = DynamicImage::ImageRgb8(rgba.to_rgb8());
    std::fs::write(&p3, encoded(&rgb, image::ImageFormat::Png)).unwrap();

    // Act
    let peak4 = measured_peak(&p4, "resize");
    let peak3 = measured_peak(&p3, "resize");

    // Assert: 4/3 of the RGB job's rasters, plus slack; a premultiplied copy of the 50 MB
    // source would double the RGBA job's.
    assert!(
        peak4 <= peak3 * 8 / 5,
        "RGBA peak {peak4} vs RGB peak {peak3}"
    );
}
