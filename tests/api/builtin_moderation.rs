//! The built-in moderator end to end on the local profile (folder bucket, SQLite, the event
//! router): `image-pipeline process --json` as a user runs it, with the real model where CI
//! fetched it (`MODERATION_MODEL_CACHE`, else the default cache; a missing model FAILS these
//! tests unless `SKIP_MODERATION_MODEL_TESTS=1`). Flagging uses a threshold the model always
//! reaches (adult at `VERY_UNLIKELY`): any image it judges is then flagged.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_image-pipeline");
const MODEL_FOLDER: &str = "nsfwjs-4.4.0-mobilenet_v2";

/// The cache root holding the real model, or `None` when told to skip on purpose.
pub(crate) fn model_root() -> Option<PathBuf> {
    let explicit = std::env::var_os("MODERATION_MODEL_CACHE").filter(|v| !v.is_empty());
    let root = explicit.clone().map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is set");
        PathBuf::from(home).join(".cache/image-pipeline/models")
    });
    if root.join(MODEL_FOLDER).join("model.json").is_file() {
        return Some(root);
    }
    if explicit.is_none() && std::env::var("SKIP_MODERATION_MODEL_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED on purpose (SKIP_MODERATION_MODEL_TESTS=1): needs the real model");
        return None;
    }
    panic!(
        "no model in {}: run .ci/fetch-model.sh and set MODERATION_MODEL_CACHE, \
         or set SKIP_MODERATION_MODEL_TESTS=1 to skip on purpose",
        root.display()
    );
}

fn png(path: &Path, width: u32, height: u32) {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    img.save(path).unwrap();
}

/// Runs `process --json` on PNGs named `names` in `dir` with the local profile's defaults plus
/// `env`; the records and stderr.
fn process_all(
    dir: &Path,
    model_root: &Path,
    env: &[(&str, &str)],
    names: &[&str],
) -> (Vec<Value>, String) {
    let photos: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    photos.iter().for_each(|p| png(p, 640, 480));
    run_process(dir, model_root, env, &photos)
}

/// Runs `process --json` on `photos` (already written); the records and stderr.
pub(crate) fn run_process(
    dir: &Path,
    model_root: &Path,
    env: &[(&str, &str)],
    photos: &[PathBuf],
) -> (Vec<Value>, String) {
    let output = Command::new(BIN)
        // --verbose: the service's log, where the model warning goes, on stderr.
        .args(["process", "--json", "--verbose"])
        .args(photos)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_CONFIG_DIR", "/nonexistent")
        .env("PIPELINE_LOCAL__DATA_DIR", dir.join("data"))
        .env("PIPELINE_MODERATION__MODEL_DIR", model_root)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}")))
        .collect::<Vec<Value>>();
    assert_eq!(
        records.len(),
        photos.len(),
        "stdout {stdout}, stderr {stderr}"
    );
    (records, stderr)
}

/// `process --json photo.png`: the record and stderr.
fn process(dir: &Path, model_root: &Path, env: &[(&str, &str)]) -> (Value, String) {
    let (mut records, stderr) = process_all(dir, model_root, env, &["photo.png"]);
    (records.remove(0), stderr)
}

fn uploads(dir: &Path) -> PathBuf {
    dir.join("data/buckets/uploads")
}

const FLAG_EVERYTHING: (&str, &str) = ("PIPELINE_MODERATION__THRESHOLDS__ADULT", "VERY_UNLIKELY");

#[test]
fn the_local_default_judges_with_the_fetched_model_and_records_each_likelihood() {
    let Some(root) = model_root() else { return };
    let dir = tempfile::tempdir().unwrap();

    let (record, stderr) = process(dir.path(), &root, &[]);

    let moderation = &record["moderation"];
    assert_eq!(moderation["verdict"], "safe", "{record} {stderr}");
    assert_eq!(moderation["backend"], "builtin:nsfwjs-4.4.0/mobilenet_v2");
    let likelihoods = &moderation["likelihoods"];
    for unseen in ["violence", "medical", "spoof"] {
        assert_eq!(likelihoods[unseen], "UNKNOWN", "{likelihoods}");
    }
    for seen in ["adult", "racy"] {
        assert_ne!(likelihoods[seen], "UNKNOWN", "{likelihoods}");
    }
}

#[test]
fn an_image_the_model_flags_is_recorded_flagged_with_every_output_kept() {
    let Some(root) = model_root() else { return };
    let dir = tempfile::tempdir().unwrap();

    let (record, stderr) = process(dir.path(), &root, &[FLAG_EVERYTHING]);

    assert_eq!(
        record["moderation"]["verdict"], "flagged",
        "{record} {stderr}"
    );
    assert_eq!(record["status"], "flagged");
    assert!(
        uploads(dir.path())
            .join("resized/medium/photo.png")
            .is_file()
    );
}

#[test]
fn quarantine_moves_what_the_model_flags() {
    let Some(root) = model_root() else { return };
    let dir = tempfile::tempdir().unwrap();

    let (record, stderr) = process(
        dir.path(),
        &root,
        &[
            FLAG_EVERYTHING,
            ("PIPELINE_MODERATION__POLICY", "quarantine"),
        ],
    );

    assert_eq!(
        record["moderation"]["action"], "quarantined",
        "{record} {stderr}"
    );
    let bucket = uploads(dir.path());
    assert!(bucket.join("quarantine/photo.png").is_file());
    assert!(bucket.join("quarantine/resized/medium/photo.png").is_file());
    assert!(!bucket.join("photo.png").exists());
    assert!(!bucket.join("resized/medium/photo.png").exists());
}

#[test]
fn blur_replaces_the_variants_of_what_the_model_flags() {
    let Some(root) = model_root() else { return };
    let (plain_dir, blur_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let medium = |dir: &Path| std::fs::read(uploads(dir).join("resized/medium/photo.png")).unwrap();
    process(plain_dir.path(), &root, &[]);

    let (record, stderr) = process(
        blur_dir.path(),
        &root,
        &[FLAG_EVERYTHING, ("PIPELINE_MODERATION__POLICY", "blur")],
    );

    assert_eq!(
        record["moderation"]["action"], "blurred",
        "{record} {stderr}"
    );
    assert_ne!(medium(blur_dir.path()), medium(plain_dir.path()));
    assert!(
        uploads(blur_dir.path()).join("photo.png").is_file(),
        "the original stays"
    );
}

#[test]
fn without_the_model_images_are_unmoderated_and_the_fetch_command_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let empty_cache = dir.path().join("no-models");

    let (records, stderr) = process_all(dir.path(), &empty_cache, &[], &["a.png", "b.png"]);

    for record in &records {
        assert_eq!(record["moderation"]["verdict"], "unmoderated", "{record}");
        assert_eq!(record["status"], "processed");
    }
    assert_eq!(
        stderr.matches("image-pipeline models fetch").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_corrupt_model_leaves_images_unmoderated_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("models");
    let folder = cache.join(MODEL_FOLDER);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("model.json"), b"{\"modelTopology\": ").unwrap();
    std::fs::write(folder.join("group1-shard1of1"), b"").unwrap();

    let (record, stderr) = process(dir.path(), &cache, &[]);

    assert_eq!(record["moderation"]["verdict"], "unmoderated", "{record}");
    assert!(stderr.contains("corrupt or unsupported"), "{stderr}");
    assert!(stderr.contains("models fetch"), "{stderr}");
}
