//! Animated GIF and WebP sources: GIF and WebP outputs keep every frame, its duration and
//! the loop count, resized like stills; JPEG, PNG and AVIF outputs are the first frame;
//! `max_animation_pixels` refuses a long animation from its container alone.

use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::webp::WebPDecoder;
use image::metadata::LoopCount;
use image::{AnimationDecoder, Delay, Frame, RgbaImage};

use super::*;
use crate::imaging::container;
use crate::imaging::{
    Anchor, ImageFormat, ImagingError, Output, PeakEstimate, estimate_peak, process,
};

/// Four frames of different colours and durations (GIF counts in 10 ms steps).
const FRAMES: [([u8; 4], u32); 4] = [
    ([250, 20, 20, 255], 100),
    ([20, 250, 20, 255], 200),
    ([20, 20, 250, 255], 300),
    ([240, 240, 30, 255], 50),
];

/// A `w`×`h` frame of `colour`; with `hole`, its left half is fully transparent.
fn frame_image(w: u32, h: u32, colour: [u8; 4], hole: bool) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, _| match hole && x < w / 2 {
        true => image::Rgba([0, 0, 0, 0]),
        false => image::Rgba(colour),
    })
}

fn animated_gif(w: u32, h: u32, hole: bool, repeat: Repeat) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(repeat).unwrap();
        for (colour, ms) in FRAMES {
            let delay = Delay::from_numer_denom_ms(ms, 1);
            let frame = Frame::from_parts(frame_image(w, h, colour, hole), 0, 0, delay);
            encoder.encode_frame(frame).unwrap();
        }
    }
    out
}

/// A lossless animated WebP of [`FRAMES`], durations in milliseconds, playing `loops` times.
fn animated_webp(w: u32, h: u32, hole: bool, loops: i32) -> Vec<u8> {
    let images: Vec<RgbaImage> = FRAMES
        .iter()
        .map(|(colour, _)| frame_image(w, h, *colour, hole))
        .collect();
    let mut config = webp::WebPConfig::new().unwrap();
    config.lossless = 1;
    let mut encoder = webp::AnimEncoder::new(w, h, &config);
    encoder.set_loop_count(loops);
    let mut start = 0;
    for (image, (_, ms)) in images.iter().zip(FRAMES) {
        encoder.add_frame(webp::AnimFrame::from_rgba(image.as_raw(), w, h, start));
        start += ms as i32;
    }
    let mut bytes = encoder.try_encode().unwrap().to_vec();
    container::set_webp_total_duration(&mut bytes, start as u64);
    bytes
}

/// Every frame of an animated output, with its duration in ms, and its loop count (`None`:
/// forever).
fn frames_of(output: &Output) -> (Vec<(RgbaImage, u32)>, Option<u32>) {
    let cursor = std::io::Cursor::new(output.bytes.as_slice());
    let (frames, loops) = match output.format {
        ImageFormat::Gif => {
            let decoder = GifDecoder::new(cursor).unwrap();
            let loops = decoder.loop_count();
            (decoder.into_frames().collect_frames().unwrap(), loops)
        }
        ImageFormat::WebP => {
            let decoder = WebPDecoder::new(cursor).unwrap();
            let loops = decoder.loop_count();
            (decoder.into_frames().collect_frames().unwrap(), loops)
        }
        other => panic!("{} is not animated: {other}", output.label),
    };
    let frames = frames
        .into_iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            (f.into_buffer(), n / d)
        })
        .collect();
    let loops = match loops {
        LoopCount::Infinite => None,
        LoopCount::Finite(n) => Some(n.get()),
    };
    (frames, loops)
}

fn centre(image: &RgbaImage) -> [u8; 4] {
    image.get_pixel(image.width() * 3 / 4, image.height() / 2).0
}

fn near(a: [u8; 4], b: [u8; 4], tolerance: u8) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= tolerance)
}

/// Asserts `output` holds every frame of [`FRAMES`] in order, at its size, with its duration.
fn assert_every_frame(output: &Output, width: u32, height: u32, tolerance: u8) {
    let (frames, _) = frames_of(output);
    assert_eq!(output.frames, 4, "{}", output.label);
    assert_eq!(frames.len(), 4, "{}", output.label);
    assert_eq!(
        (output.width, output.height),
        (width, height),
        "{}",
        output.label
    );
    for ((image, ms), (colour, want_ms)) in frames.iter().zip(FRAMES) {
        assert_eq!(image.dimensions(), (width, height), "{}", output.label);
        assert_eq!(*ms, want_ms, "{} durations", output.label);
        let got = centre(image);
        assert!(
            near(got, colour, tolerance),
            "{}: {got:?} vs {colour:?}",
            output.label
        );
    }
}

fn cover() -> Fit {
    Fit::Cover {
        anchor: Anchor::Centre,
    }
}

#[test]
fn an_animated_gif_keeps_every_frame_and_duration_in_its_gif_and_webp_outputs() {
    // Arrange: 300x200, 3:2.
    let gif = animated_gif(300, 200, false, Repeat::Infinite);
    let plan = plan(vec![
        target("large", 1920, 1080, Fit::Inside, OutputFormat::Original),
        target("medium", 150, 150, Fit::Inside, OutputFormat::Original),
        target("medium@webp", 150, 150, Fit::Inside, OutputFormat::WebP),
        target(
            "lossless",
            120,
            120,
            Fit::Inside,
            OutputFormat::WebPLossless,
        ),
        target("thumb", 64, 64, cover(), OutputFormat::Original),
    ]);

    // Act
    let processed = process(&gif, &plan).unwrap();

    // Assert: not enlarged, aspect kept, GIF for `original`, WebP where asked.
    let o = &processed.outputs;
    let formats: Vec<ImageFormat> = o.iter().map(|o| o.format).collect();
    use ImageFormat::{Gif, WebP};
    assert_eq!(formats, [Gif, Gif, WebP, WebP, Gif]);
    assert_every_frame(&o[0], 300, 200, 8);
    assert_every_frame(&o[1], 150, 100, 8);
    assert_every_frame(&o[2], 150, 100, 12);
    assert_every_frame(&o[3], 120, 80, 2);
    assert_every_frame(&o[4], 64, 64, 8);
}

#[test]
fn an_animated_webp_stays_an_animated_webp_with_its_durations_and_loop_count() {
    // Arrange: durations in plain milliseconds, played 3 times.
    let webp = animated_webp(240, 160, false, 3);
    let plan = plan(vec![
        target("medium", 120, 120, Fit::Inside, OutputFormat::Original),
        target("gif", 120, 120, Fit::Inside, OutputFormat::WebPLossless),
    ]);

    // Act
    let processed = process(&webp, &plan).unwrap();

    // Assert
    for output in &processed.outputs {
        assert_eq!(output.format, ImageFormat::WebP);
        assert_every_frame(output, 120, 80, 12);
        let durations = container::webp_frame_durations(&output.bytes);
        assert_eq!(durations, [100, 200, 300, 50]);
        let (_, loops) = frames_of(output);
        assert_eq!(loops, Some(3));
    }
}

#[test]
fn jpeg_png_and_avif_outputs_of_an_animation_are_its_first_frame() {
    // Arrange
    let gif = animated_gif(300, 200, false, Repeat::Infinite);
    let plan = plan(vec![
        target("jpeg", 150, 150, Fit::Inside, OutputFormat::Jpeg),
        target("gif", 150, 150, Fit::Inside, OutputFormat::Original),
        target("png", 150, 150, Fit::Inside, OutputFormat::Png),
        target("avif", 150, 150, Fit::Inside, OutputFormat::Avif),
    ]);

    // Act
    let processed = process(&gif, &plan).unwrap();

    // Assert: the plan's order; stills of frame 0 (red) at the same size.
    let labels: Vec<&str> = processed.outputs.iter().map(|o| o.label.as_str()).collect();
    assert_eq!(labels, ["jpeg", "gif", "png", "avif"]);
    for output in [0, 2, 3].map(|i| &processed.outputs[i]) {
        assert_eq!(output.frames, 1, "{}", output.label);
        assert_eq!(
            (output.width, output.height),
            (150, 100),
            "{}",
            output.label
        );
    }
    let first = FRAMES[0].0;
    for i in [0, 2] {
        let still = decode_rgba(&processed.outputs[i].bytes);
        assert!(near(centre(&still), first, 10), "{:?}", centre(&still));
    }
    assert_eq!(processed.outputs[1].frames, 4);
}

#[test]
fn transparency_survives_in_animated_gif_and_webp_outputs() {
    // Arrange: the left half of every frame is transparent.
    let gif = animated_gif(200, 100, true, Repeat::Infinite);
    let webp = animated_webp(200, 100, true, 0);
    let plan = plan(vec![
        target("gif", 100, 100, Fit::Inside, OutputFormat::Original),
        target("webp", 100, 100, Fit::Inside, OutputFormat::WebP),
    ]);

    for (name, source) in [("gif", gif), ("webp", webp)] {
        // Act
        let processed = process(&source, &plan).unwrap();

        // Assert
        for output in &processed.outputs {
            let (frames, _) = frames_of(output);
            assert_eq!(frames.len(), 4, "{}", output.label);
            for (image, _) in &frames {
                let (left, right) = (image.get_pixel(10, 25), image.get_pixel(90, 25));
                assert_eq!(left[3], 0, "{name} to {}: {left:?}", output.label);
                assert_eq!(right[3], 255, "{name} to {}: {right:?}", output.label);
            }
        }
    }
}

#[test]
fn a_gif_loop_count_is_kept() {
    // Arrange
    let gif = animated_gif(60, 40, false, Repeat::Finite(2));
    let plan = plan(vec![target(
        "gif",
        30,
        30,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let processed = process(&gif, &plan).unwrap();

    // Assert
    let (_, loops) = frames_of(&processed.outputs[0]);
    assert_eq!(loops, Some(2));
}

#[test]
fn a_gif_of_one_frame_is_still_a_png_for_original() {
    // Arrange
    let mut out = Vec::new();
    GifEncoder::new(&mut out)
        .encode_frame(Frame::new(frame_image(40, 40, FRAMES[0].0, false)))
        .unwrap();
    let plan = plan(vec![target(
        "s",
        20,
        20,
        Fit::Inside,
        OutputFormat::Original,
    )]);

    // Act
    let processed = process(&out, &plan).unwrap();

    // Assert
    assert_eq!(processed.outputs[0].format, ImageFormat::Png);
    assert_eq!(processed.outputs[0].frames, 1);
}

/// A GIF whose logical screen is `w`×`h` with `frames` frames of one pixel each: what the
/// container declares is a long, large animation; the file is a few dozen KB.
fn long_gif(w: u16, h: u16, frames: usize) -> Vec<u8> {
    let mut one = Vec::new();
    GifEncoder::new(&mut one)
        .encode_frame(Frame::new(frame_image(1, 1, FRAMES[0].0, false)))
        .unwrap();
    // The first frame's blocks: from its graphic control extension to the trailer.
    let start = one.windows(2).position(|w| w == [0x21, 0xF9]).unwrap();
    let blocks = &one[start..one.len() - 1];
    let mut gif = one[..start].to_vec();
    gif[6..8].copy_from_slice(&w.to_le_bytes());
    gif[8..10].copy_from_slice(&h.to_le_bytes());
    for _ in 0..frames {
        gif.extend_from_slice(blocks);
    }
    gif.push(0x3B);
    gif
}

#[test]
fn a_3000_frame_2000x2000_gif_is_refused_by_max_animation_pixels_before_any_decode() {
    // Arrange
    let gif = long_gif(2000, 2000, 3000);
    let plan = plan(vec![target("s", 400, 400, Fit::Inside, OutputFormat::WebP)]);

    // Act: the estimate reads only the container; process refuses before decoding.
    let estimated = estimate_peak(&gif, gif.len() as u64, &plan);
    let processed = process(&gif, &plan);

    // Assert
    for result in [estimated.map(|_| ()), processed.map(|_| ())] {
        let error = result.unwrap_err();
        assert!(
            matches!(
                error,
                ImagingError::TooLarge {
                    actual: 12_000_000_000,
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("max_animation_pixels"),
            "{error}"
        );
    }
}

#[test]
fn a_still_output_of_a_long_animation_is_not_bound_by_the_animation_limit() {
    // Arrange: only the first frame is decoded for a JPEG output.
    let gif = long_gif(2000, 2000, 3000);
    let plan = plan(vec![target("s", 400, 400, Fit::Inside, OutputFormat::Jpeg)]);

    // Act
    let processed = process(&gif, &plan).unwrap();

    // Assert
    assert_eq!(processed.outputs[0].frames, 1);
    assert_eq!(
        (processed.outputs[0].width, processed.outputs[0].height),
        (400, 400)
    );
}

#[test]
fn an_animated_webp_prefix_asks_for_the_whole_file_when_an_output_keeps_the_animation() {
    // Arrange
    let webp = animated_webp(64, 64, false, 0);
    let animated = plan(vec![target("s", 32, 32, Fit::Inside, OutputFormat::WebP)]);
    let still = plan(vec![target("s", 32, 32, Fit::Inside, OutputFormat::Jpeg)]);
    let size = webp.len() as u64;

    // Act
    let from_prefix = estimate_peak(&webp[..40], size, &animated).unwrap();
    let from_whole = estimate_peak(&webp, size, &animated).unwrap();
    let still_from_prefix = estimate_peak(&webp[..40], size, &still).unwrap();

    // Assert: a still output does not need the frame count.
    assert_eq!(from_prefix, PeakEstimate::NeedMoreBytes);
    assert!(matches!(from_whole, PeakEstimate::Bytes(_)));
    assert!(matches!(still_from_prefix, PeakEstimate::Bytes(_)));
}

#[test]
fn an_animation_at_the_default_limit_fits_the_memory_budget_of_a_512_mib_instance() {
    // Arrange: 65 frames of 640x360 (15.0 MP): the large and medium outputs are the canvas,
    // each size written as GIF and as WebP (`resize.formats = original,webp`).
    let gif = long_gif(640, 360, 65);
    let mut targets = Vec::new();
    for (label, w, h) in [
        ("large", 1920, 1080),
        ("medium", 800, 600),
        ("small", 400, 300),
    ] {
        for format in [OutputFormat::Original, OutputFormat::WebP] {
            targets.push(target(label, w, h, Fit::Inside, format));
        }
    }
    let plan = plan(targets);
    let budget_of_512_mib_instance = 384u64 << 20;

    // Act
    let estimate = estimate_peak(&gif, gif.len() as u64, &plan).unwrap();

    // Assert
    match estimate {
        PeakEstimate::Bytes(bytes) => assert!(
            (budget_of_512_mib_instance * 3 / 4..=budget_of_512_mib_instance).contains(&bytes),
            "{bytes}"
        ),
        PeakEstimate::NeedMoreBytes => panic!("the whole file was given"),
    }
}
