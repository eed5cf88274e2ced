//! All eight EXIF orientations, with generated images carrying known corner markers.

use super::*;
use crate::imaging::{ImageFormat, probe, process};

const RED: [u8; 3] = [230, 20, 20];
const GREEN: [u8; 3] = [20, 200, 20];
const BLUE: [u8; 3] = [20, 20, 230];

/// A 96x64 upright image: grey with a red top-left, green top-right and blue bottom-left block.
fn upright() -> RgbImage {
    RgbImage::from_fn(96, 64, |x, y| {
        let block = match (x < 24, x >= 72, y < 16, y >= 48) {
            (true, _, true, _) => RED,
            (_, true, true, _) => GREEN,
            (true, _, _, true) => BLUE,
            _ => [128, 128, 128],
        };
        image::Rgb(block)
    })
}

/// The stored pixels that display as `img` under `orientation` (6 and 8 are each other's
/// inverse; every other orientation is its own).
fn stored_for(img: &RgbImage, orientation: u8) -> RgbImage {
    let inverse = match orientation {
        6 => 8,
        8 => 6,
        o => o,
    };
    // The `image` crate's implementation is the oracle, independent of `orient::apply`.
    let mut d = image::DynamicImage::ImageRgb8(img.clone());
    d.apply_orientation(image::metadata::Orientation::from_exif(inverse).unwrap());
    d.to_rgb8()
}

fn close(px: &image::Rgba<u8>, want: [u8; 3]) -> bool {
    (0..3).all(|c| (i32::from(px[c]) - i32::from(want[c])).abs() < 40)
}

#[test]
fn every_orientation_is_applied_so_the_markers_land_in_their_corners() {
    for orientation in 1..=8u8 {
        // Arrange
        let stored = stored_for(&upright(), orientation);
        let input = with_segment(&jpeg(&stored, 95), &exif_app1(u16::from(orientation), None));
        let plan = plan(vec![target("t", 48, 48, Fit::Inside, OutputFormat::Png)]);

        // Act
        let out = process(&input, &plan).unwrap();

        // Assert
        assert_eq!(out.source.orientation, orientation);
        assert_eq!(
            (out.source.width, out.source.height),
            (96, 64),
            "orientation {orientation}"
        );
        let o = &out.outputs[0];
        assert_eq!((o.width, o.height), (48, 32), "orientation {orientation}");
        let img = decode_rgba(&o.bytes);
        assert_eq!(img.dimensions(), (48, 32));
        assert!(
            close(img.get_pixel(4, 3), RED),
            "orientation {orientation}: top-left {:?}",
            img.get_pixel(4, 3)
        );
        assert!(
            close(img.get_pixel(43, 3), GREEN),
            "orientation {orientation}: top-right {:?}",
            img.get_pixel(43, 3)
        );
        assert!(
            close(img.get_pixel(4, 28), BLUE),
            "orientation {orientation}: bottom-left {:?}",
            img.get_pixel(4, 28)
        );
    }
}

#[test]
fn rotated_jpeg_output_carries_no_orientation_tag() {
    // Arrange
    let stored = stored_for(&upright(), 6);
    let input = with_segment(&jpeg(&stored, 90), &exif_app1(6, None));
    let plan = plan(vec![target(
        "t",
        48,
        48,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let out = process(&input, &plan).unwrap();

    // Assert
    let bytes = &out.outputs[0].bytes;
    assert_eq!(out.outputs[0].format, ImageFormat::Jpeg);
    assert!(
        !bytes.windows(6).any(|w| w == b"Exif\0\0"),
        "EXIF left in the output"
    );
    let img = decode_rgba(bytes);
    assert!(close(img.get_pixel(4, 3), RED));
}

#[test]
fn probe_reports_the_displayed_size_of_a_rotated_photo() {
    // Arrange
    let input = with_segment(&jpeg(&gradient(120, 80), 80), &exif_app1(8, None));

    // Act
    let info = probe(&input, &Limits::default()).unwrap();

    // Assert
    assert_eq!((info.width, info.height, info.orientation), (80, 120, 8));
}

#[test]
fn a_rotated_box_is_fitted_in_display_orientation() {
    // Arrange: stored 200x100, displayed 100x200 (orientation 6), box 50x50.
    let input = with_segment(&jpeg(&gradient(200, 100), 90), &exif_app1(6, None));
    let plan = plan(vec![target("t", 60, 40, Fit::Inside, OutputFormat::Jpeg)]);

    // Act
    let out = process(&input, &plan).unwrap();

    // Assert
    let o = &out.outputs[0];
    assert_eq!((o.width, o.height), (20, 40));
    assert_eq!(decode_rgba(&o.bytes).dimensions(), (20, 40));
}
