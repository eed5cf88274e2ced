//! An animated GIF through `image-pipeline process --json`, as a user runs it: with
//! `resize.formats = original,webp` every size is an animated GIF and an animated WebP with
//! every frame and its duration, the thumbnail an animated GIF, and the record says how
//! many frames each variant has.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, Delay, Frame, RgbaImage};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");

/// Frame colours and durations (ms; GIF keeps 10 ms steps).
const FRAMES: [([u8; 4], u32); 3] = [
    ([230, 30, 30, 255], 80),
    ([30, 230, 30, 255], 160),
    ([30, 30, 230, 255], 240),
];

fn animated_gif(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        encoder.set_repeat(Repeat::Infinite).unwrap();
        for (colour, ms) in FRAMES {
            let image = RgbaImage::from_pixel(w, h, image::Rgba(colour));
            let delay = Delay::from_numer_denom_ms(ms, 1);
            encoder
                .encode_frame(Frame::from_parts(image, 0, 0, delay))
                .unwrap();
        }
    }
    out
}

/// Each frame's size, centre colour and duration in ms.
fn frames_of(bytes: &[u8]) -> Vec<((u32, u32), [u8; 4], u32)> {
    let cursor = std::io::Cursor::new(bytes);
    let frames = match &bytes[..4] {
        b"GIF8" => GifDecoder::new(cursor).unwrap().into_frames(),
        _ => WebPDecoder::new(cursor).unwrap().into_frames(),
    };
    frames
        .collect_frames()
        .unwrap()
        .into_iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            let image = f.into_buffer();
            let centre = image.get_pixel(image.width() / 2, image.height() / 2).0;
            (image.dimensions(), centre, n / d)
        })
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn process_json(dir: &Path, file: &Path) -> (Value, String) {
    let output = Command::new(BIN)
        .args(["process", "--json"])
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_LOCAL__DATA_DIR", dir.join("data"))
        .env("PIPELINE_MODERATION__MODEL_DIR", dir.join("no-model"))
        .env("PIPELINE_RESIZE__FORMATS", "original,webp")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let record = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: stdout {stdout}, stderr {stderr}"));
    (record, stderr)
}

fn assert_every_frame(path: &Path, size: (u32, u32)) {
    let frames = frames_of(&std::fs::read(path).unwrap());
    assert_eq!(frames.len(), FRAMES.len(), "{}", path.display());
    for ((dims, centre, ms), (colour, want_ms)) in frames.into_iter().zip(FRAMES) {
        assert_eq!(dims, size, "{}", path.display());
        assert_eq!(ms, want_ms, "{} durations", path.display());
        let near = centre.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 12);
        assert!(near, "{}: {centre:?} vs {colour:?}", path.display());
    }
}

#[test]
fn process_keeps_an_animated_gif_animated_in_every_gif_and_webp_output() {
    // Arrange: 600x400 (3:2): large and medium are not enlarged, small is 400x267.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clip.gif");
    std::fs::write(&file, animated_gif(600, 400)).unwrap();

    // Act
    let (record, stderr) = process_json(dir.path(), &file);

    // Assert: the record.
    assert_eq!(record["status"], "processed", "{record} {stderr}");
    let variants = record["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 6, "{record}");
    for variant in variants {
        assert!(["gif", "webp"].contains(&variant["format"].as_str().unwrap()));
        assert_eq!(variant["frames"], 3, "{variant}");
    }
    assert_eq!(record["thumbnail"]["format"], "gif", "{record}");
    assert_eq!(record["thumbnail"]["frames"], 3, "{record}");
    // Assert: the files, found by their content (names on disk are escaped).
    let bucket = dir.path().join("data/buckets/uploads");
    let resized = files_under(&bucket.join("resized"));
    assert_eq!(resized.len(), 6, "{resized:?}");
    for path in &resized {
        let folder = path.strip_prefix(bucket.join("resized")).unwrap();
        let size = match folder.to_string_lossy() {
            f if f.starts_with("small") => (400, 267),
            _ => (600, 400),
        };
        assert_every_frame(path, size);
    }
    let webps = resized
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "webp"));
    assert_eq!(webps.count(), 3);
    let thumbnails = files_under(&bucket.join("thumbnails"));
    assert_eq!(thumbnails.len(), 1, "{thumbnails:?}");
    assert_every_frame(&thumbnails[0], (200, 200));
}

/// A GIF89a whose logical screen is `side`×`side`, holding `frames` frames of one pixel:
/// each a 1x1 image descriptor with a two-colour local table and the classic 1x1 LZW data.
fn screen_of_tiny_frames(side: u16, frames: usize) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&side.to_le_bytes());
    gif.extend_from_slice(&side.to_le_bytes());
    gif.extend_from_slice(&[0x00, 0, 0]);
    let frame = [
        0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0x80, // descriptor: 1x1 at 0,0, local table of 2
        255, 0, 0, 0, 0, 255, // the table
        2, 2, 0x44, 0x01, 0, // LZW: minimum code size 2, one sub-block, terminator
    ];
    for _ in 0..frames {
        gif.extend_from_slice(&frame);
    }
    gif.push(0x3B);
    gif
}

#[test]
fn process_records_a_3000_frame_2000x2000_gif_as_failed_naming_max_animation_pixels() {
    // Arrange: 12 billion pixels of animation in a 66 KB file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("long.gif");
    std::fs::write(&file, screen_of_tiny_frames(2000, 3000)).unwrap();

    // Act
    let (record, stderr) = process_json(dir.path(), &file);

    // Assert
    assert_eq!(record["status"], "failed", "{record} {stderr}");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(error.contains("imaging.max_animation_pixels"), "{record}");
    assert!(error.contains("12000000000"), "{record}");
    let bucket = dir.path().join("data/buckets/uploads");
    assert!(!bucket.join("resized").exists(), "no output was written");
}
