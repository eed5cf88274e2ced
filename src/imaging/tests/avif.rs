//! AVIF outputs: an AVIF container (ftyp `avif`) whose image size (`ispe`) is the output's,
//! smaller than the JPEG of the same size, alpha kept where the source has it.

use image::RgbaImage;

use super::*;
use crate::imaging::{Fit, ImageFormat, OutputFormat, process};

/// The first `ispe` (image spatial extents) box's width and height.
fn ispe(avif: &[u8]) -> (u32, u32) {
    let at = avif
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("an ispe box");
    let be = |i: usize| u32::from_be_bytes(avif[i..i + 4].try_into().unwrap());
    // type, then version/flags (4 bytes), then width and height.
    (be(at + 8), be(at + 12))
}

fn textured(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let v = ((x as f32 / 37.0).sin() * 60.0 + (y as f32 / 23.0).cos() * 60.0 + 128.0) as u8;
        image::Rgb([v, (x * 255 / w) as u8, (y * 255 / h) as u8])
    })
}

#[test]
fn every_size_is_written_as_an_avif_of_the_outputs_dimensions_and_smaller_than_jpeg() {
    let input = jpeg(&textured(1600, 1200), 92);
    let sizes = [(1440, 1080), (800, 600), (400, 300)];
    let targets = |format| {
        sizes
            .iter()
            .map(|&(w, h)| target("t", w, h, Fit::Inside, format))
            .collect::<Vec<_>>()
    };

    let avif = process(&input, &plan(targets(OutputFormat::Avif))).unwrap();
    let jpegs = process(&input, &plan(targets(OutputFormat::Jpeg))).unwrap();

    for (a, j) in avif.outputs.iter().zip(&jpegs.outputs) {
        assert_eq!(a.format, ImageFormat::Avif);
        assert_eq!(&a.bytes[4..12], b"ftypavif");
        assert_eq!(ispe(&a.bytes), (a.width, a.height));
        assert_eq!((a.width, a.height), (j.width, j.height));
        assert!(
            a.bytes.len() < j.bytes.len(),
            "{} vs {}",
            a.bytes.len(),
            j.bytes.len()
        );
    }
}

#[test]
fn an_rgba_source_keeps_its_alpha_in_avif_and_an_opaque_one_has_none() {
    let translucent =
        RgbaImage::from_fn(300, 200, |x, y| image::Rgba([200, 100, 50, (x + y) as u8]));
    let opaque = RgbaImage::from_fn(300, 200, |_, _| image::Rgba([200, 100, 50, 255]));
    let one = plan(vec![target("t", 150, 150, Fit::Inside, OutputFormat::Avif)]);
    let alpha_marker: &[u8] = b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha";
    let has_alpha = |img: &RgbaImage| {
        let out = process(&png_rgba(img), &one).unwrap();
        out.outputs[0]
            .bytes
            .windows(alpha_marker.len())
            .any(|w| w == alpha_marker)
    };

    assert!(has_alpha(&translucent));
    assert!(!has_alpha(&opaque));
}

#[test]
fn an_avif_the_encoder_fails_on_is_a_warning_naming_it_and_every_other_output_is_made() {
    let input = jpeg(&textured(1600, 1200), 92);
    let mut targets = Vec::new();
    for format in [OutputFormat::Jpeg, OutputFormat::Avif] {
        for (size, w, h) in [("large", 800, 600), ("small", 400, 300)] {
            let label = match format {
                OutputFormat::Avif => format!("{size}@avif"),
                _ => size.to_owned(),
            };
            targets.push(target(&label, w, h, Fit::Inside, format));
        }
    }
    crate::imaging::avif::tests::fail_at_width(Some(800));

    let processed = process(&input, &plan(targets));
    crate::imaging::avif::tests::fail_at_width(None);

    let processed = processed.expect("the job succeeds without the large AVIF");
    let labels: Vec<&str> = processed.outputs.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["large", "small", "small@avif"]);
    assert_eq!(processed.warnings.len(), 1, "{:?}", processed.warnings);
    let warning = &processed.warnings[0];
    assert!(
        warning.starts_with("large@avif: no AVIF was written"),
        "{warning}"
    );
    assert!(warning.contains("crashed on a 800x600 image"), "{warning}");
}
