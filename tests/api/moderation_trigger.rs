//! `moderation.trigger = original` on the local profile with the built-in model, as a user
//! runs it (`image-pipeline process`), issue 22: the local triggers deliver the upload to
//! `moderate`, and a photo over Vision's inline size is judged by the model under the
//! memory budget, not flagged by an error (`fail_closed`, the default).

use crate::builtin_moderation::{model_root, run_process};
use std::path::Path;

/// A PNG of noise (it hardly compresses): `width * height * 3` bytes and a little more.
fn noise_png(path: &Path, width: u32, height: u32) {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let img = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let [r, g, b, ..] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    img.save(path).unwrap();
}

#[test]
fn with_trigger_original_a_seven_megabyte_photo_is_judged_by_the_model() {
    let Some(root) = model_root() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("big.png");
    noise_png(&photo, 1600, 1500);
    let size = std::fs::metadata(&photo).unwrap().len();
    assert!(size > 7_000_000, "the photo has {size} bytes");

    let env = [("PIPELINE_MODERATION__TRIGGER", "original")];
    let (records, stderr) = run_process(dir.path(), &root, &env, &[photo]);

    let record = &records[0];
    let moderation = &record["moderation"];
    assert_eq!(
        moderation["backend"], "builtin:nsfwjs-4.4.0/mobilenet_v2",
        "{record} {stderr}"
    );
    assert!(moderation["error"].is_null(), "{record}");
    assert_ne!(moderation["verdict"], "unmoderated", "{record}");
    assert_ne!(moderation["likelihoods"]["adult"], "UNKNOWN", "{record}");
    assert!(
        ["processed", "flagged"].contains(&record["status"].as_str().unwrap_or_default()),
        "{record} {stderr}"
    );
}
