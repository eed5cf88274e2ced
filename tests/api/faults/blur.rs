//! The `blur` policy's end state: every public output of a flagged upload is blurred,
//! whenever it was written (outputs written late by a retry included: the check reads the
//! final objects after the run went quiet). Blurred means its high-frequency energy (mean
//! absolute difference between neighbouring pixels) is well below that of the sharp
//! rendering of the same original at the same size.

use image::{DynamicImage, GrayImage, imageops::FilterType};

/// A blurred output keeps at most this share of the sharp rendering's energy. The flagged
/// uploads are striped (see [`striped_red_jpeg`]); the policy's sigma (40) leaves a few %.
pub const MAX_ENERGY_SHARE: f64 = 0.25;

/// Red with dark-red stripes 16 px wide: "racy" for the Vision fake (mostly red), and full
/// of edges that survive a resize to thumbnail size (5 px stripes at 200 px) but not a blur.
pub fn striped_red_jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, _| {
        if (x / 16) % 2 == 0 {
            image::Rgb([250, 20, 30])
        } else {
            image::Rgb([170, 0, 10])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// Mean absolute difference between horizontal and vertical neighbours (0..255).
pub fn edge_energy(gray: &GrayImage) -> f64 {
    let (w, h) = gray.dimensions();
    let mut sum = 0u64;
    let mut n = 0u64;
    for y in 0..h {
        for x in 0..w {
            let p = i64::from(gray.get_pixel(x, y)[0]);
            if x + 1 < w {
                sum += p.abs_diff(i64::from(gray.get_pixel(x + 1, y)[0]));
                n += 1;
            }
            if y + 1 < h {
                sum += p.abs_diff(i64::from(gray.get_pixel(x, y + 1)[0]));
                n += 1;
            }
        }
    }
    sum as f64 / n.max(1) as f64
}

/// What is wrong with one public output of a flagged upload under `blur` (None if blurred).
pub fn check_blurred(name: &str, original: &[u8], output: &[u8]) -> Option<String> {
    let output = match image::load_from_memory(output) {
        Ok(image) => image,
        Err(e) => return Some(format!("{name}: does not decode: {e}")),
    };
    let original = image::load_from_memory(original).ok()?;
    let sharp = sharp_rendering(&original, output.width(), output.height());
    let (got, reference) = (edge_energy(&output.to_luma8()), edge_energy(&sharp));
    (got > reference * MAX_ENERGY_SHARE).then(|| {
        format!(
            "{name}: is sharp (edge energy {got:.2}, sharp rendering {reference:.2}, blurred \
             must be below {:.0} %)",
            MAX_ENERGY_SHARE * 100.0
        )
    })
}

/// The original resized to `width`x`height` (a thumbnail's square crop is close enough:
/// vertical stripes look the same cropped).
fn sharp_rendering(original: &DynamicImage, width: u32, height: u32) -> GrayImage {
    original
        .resize_to_fill(width, height, FilterType::Lanczos3)
        .to_luma8()
}

#[test]
fn the_measure_tells_a_blurred_rendering_from_a_sharp_one() {
    // Arrange
    let original = striped_red_jpeg(640, 480);
    let decoded = image::load_from_memory(&original).unwrap();
    let sharp = decoded.resize_to_fill(200, 200, FilterType::Lanczos3);
    let blurred = sharp.blur(40.0);
    let encode = |image: &DynamicImage| {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };

    // Act
    let on_sharp = check_blurred("sharp", &original, &encode(&sharp));
    let on_blurred = check_blurred("blurred", &original, &encode(&blurred));

    // Assert
    assert!(on_sharp.is_some(), "a sharp output must be reported");
    assert_eq!(on_blurred, None);
}
