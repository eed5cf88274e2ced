//! `process`: input checks, the report's formats, and whole runs on a temp data dir (the
//! server on a loopback port, the real routes, the local router).

use super::report::{self, FileOutcome, Status};
use super::{process_files, process_files_until, process_settings, read_input};
use crate::config::{EnvMap, StorageBackend};
use crate::domain::{ImageRecord, Moderation, RecordKey, RecordStatus, VariantInfo, Verdict};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn env_for(data_dir: &Path) -> EnvMap {
    EnvMap::from([
        (
            "PIPELINE_CONFIG_DIR".to_owned(),
            data_dir.join("no-config").display().to_string(),
        ),
        (
            "PIPELINE_LOCAL__DATA_DIR".to_owned(),
            data_dir.join("data").display().to_string(),
        ),
        (
            // No built-in model here, whatever the user's cache holds: runs stay `unmoderated`.
            "PIPELINE_MODERATION__MODEL_DIR".to_owned(),
            data_dir.join("no-model").display().to_string(),
        ),
        (
            "PIPELINE_LOCAL__DELIVERY_INITIAL_BACKOFF_MS".to_owned(),
            "50".to_owned(),
        ),
        (
            "PIPELINE_LOCAL__DELIVERY_MAX_BACKOFF_MS".to_owned(),
            "200".to_owned(),
        ),
    ])
}

fn run(dir: &Path, files: &[PathBuf]) -> Vec<FileOutcome> {
    let settings = process_settings(&env_for(dir)).unwrap();
    actix_web::rt::System::new()
        .block_on(process_files(settings, files))
        .unwrap()
}

fn variant(size: &str, width: u32, height: u32) -> VariantInfo {
    VariantInfo {
        size: size.to_owned(),
        bucket: "uploads".to_owned(),
        name: format!("resized/{size}/photo.jpg"),
        width,
        height,
        bytes: 1000,
        format: "jpeg".to_owned(),
        frames: None,
    }
}

#[test]
fn a_directory_a_missing_file_and_an_empty_file_are_refused_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();

    let as_dir = read_input(dir.path()).unwrap_err();
    let missing = read_input(&dir.path().join("nope.jpg")).unwrap_err();
    let zero = read_input(&empty).unwrap_err();

    assert_eq!(as_dir, "is a folder with no images in it");
    assert_eq!(missing, "no such file");
    assert_eq!(zero, "is empty (0 bytes)");
}

#[test]
fn process_settings_bind_a_free_loopback_port_whatever_the_environment_says() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env_for(dir.path());
    env.insert("PORT".to_owned(), "8080".to_owned());
    env.insert("PIPELINE_SERVER__HOST".to_owned(), "0.0.0.0".to_owned());

    let settings = process_settings(&env).unwrap();

    assert_eq!(settings.server.host, "127.0.0.1");
    assert_eq!(settings.server.port, 0);
    assert_eq!(settings.storage.backend, StorageBackend::Local);
}

#[test]
fn process_refuses_to_run_without_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env_for(dir.path());
    env.insert("PIPELINE_STORAGE__BACKEND".to_owned(), "gcs".to_owned());
    env.insert("GOOGLE_CLOUD_PROJECT".to_owned(), "p".to_owned());

    let error = process_settings(&env).unwrap_err();

    assert!(error.to_string().contains("storage.backend"), "{error:#}");
}

#[test]
fn the_table_shows_variants_thumbnail_verdict_time_and_each_reason() {
    // Arrange
    let mut record = ImageRecord::new(&RecordKey::new("uploads", "photo.jpg"), 1);
    record.variants = vec![variant("large", 1920, 1280), variant("medium", 800, 533)];
    let mut thumbnail = variant("thumbnail", 200, 200);
    thumbnail.name = "thumbnails/photo.jpg".to_owned();
    record.thumbnail = Some(thumbnail);
    record.moderation = Some(Moderation {
        verdict: Verdict::Unmoderated,
        likelihoods: None,
        backend: "none".to_owned(),
        action: None,
        error: None,
        reused_from: None,
    });
    record.status = RecordStatus::Processed;
    let mut done = FileOutcome::new(Path::new("photo.jpg"));
    done.apply_record(Some(record), true, Duration::from_millis(1500));
    let mut bad = FileOutcome::new(Path::new("dir"));
    bad.set(
        Status::BadInput,
        "is a folder with no images in it".to_owned(),
    );
    let mut out = Vec::new();

    // Act
    report::write_table(&mut out, &[done, bad]).unwrap();

    // Assert
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("FILE"));
    for part in [
        "photo.jpg",
        "processed",
        "large 1920x1280, medium 800x533",
        "200x200 thumbnails/photo.jpg",
        "unmoderated",
        "1.5s",
    ] {
        assert!(
            lines[1].contains(part),
            "{part:?} missing in {:?}",
            lines[1]
        );
    }
    assert!(
        lines[2].contains("bad input: is a folder with no images in it"),
        "{}",
        lines[2]
    );
}

#[test]
fn json_output_is_one_record_per_line_and_an_error_object_for_files_without_one() {
    let mut done = FileOutcome::new(Path::new("photo.jpg"));
    let mut record = ImageRecord::new(&RecordKey::new("uploads", "photo.jpg"), 7);
    record.error = Some("resize: corrupt".to_owned());
    record.status = RecordStatus::Failed;
    done.apply_record(Some(record), true, Duration::from_secs(1));
    let mut missing = FileOutcome::new(Path::new("nope.jpg"));
    missing.set(Status::BadInput, "no such file".to_owned());
    let mut out = Vec::new();

    report::write_json(&mut out, &[done.clone(), missing]).unwrap();

    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["name"], "photo.jpg");
    assert_eq!(lines[0]["status"], "failed");
    assert_eq!(lines[1]["file"], "nope.jpg");
    assert_eq!(lines[1]["error"], "no such file");
    assert!(done.status.is_failure());
}

#[test]
fn a_whole_run_reports_every_file_and_bad_input_does_not_stop_the_others() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not an image at all").unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    let files = vec![folder, dir.path().join("missing.jpg"), empty, notes];

    // Act
    let outcomes = run(dir.path(), &files);

    // Assert
    let statuses: Vec<(Status, Option<&str>)> = outcomes
        .iter()
        .map(|o| (o.status, o.detail.as_deref()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (Status::BadInput, Some("is a folder with no images in it")),
            (Status::BadInput, Some("no such file")),
            (Status::BadInput, Some("is empty (0 bytes)")),
            (Status::Skipped, Some("not an image")),
        ]
    );
    let data = dir.path().join("data");
    assert!(data.join("buckets/uploads/notes.txt").is_file());
    assert!(!data.join("buckets/uploads/empty.jpg").exists());
    assert!(data.join("pipeline.sqlite").is_file());
}

/// A PNG made in code (no committed binaries).
fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn a_real_image_is_processed_end_to_end_and_a_corrupt_one_fails_with_its_reason() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    std::fs::write(&photo, png_bytes(640, 480)).unwrap();
    let corrupt = dir.path().join("corrupt.png");
    let mut truncated = png_bytes(64, 48);
    truncated.truncate(60);
    std::fs::write(&corrupt, truncated).unwrap();

    // Act
    let outcomes = run(dir.path(), &[photo, corrupt]);

    // Assert
    assert_eq!(outcomes[0].status, Status::Processed, "{:?}", outcomes[0]);
    let record = outcomes[0].record.as_ref().unwrap();
    assert_eq!(record.variants.len(), 3);
    assert_eq!(record.thumbnail.as_ref().unwrap().width, 200);
    assert_eq!(
        record.moderation.as_ref().unwrap().verdict,
        Verdict::Unmoderated
    );
    let data = dir.path().join("data/buckets/uploads");
    assert!(data.join("resized/large/photo.png").is_file());
    assert!(data.join("thumbnails/photo.png").is_file());
    assert_eq!(outcomes[1].status, Status::Failed, "{:?}", outcomes[1]);
}

#[test]
fn a_folder_is_run_recursively_on_its_images_and_skips_hidden_and_other_files() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let shoot = dir.path().join("shoot");
    std::fs::create_dir_all(shoot.join("day2")).unwrap();
    std::fs::create_dir_all(shoot.join(".thumbs")).unwrap();
    std::fs::write(shoot.join("a.png"), png_bytes(320, 240)).unwrap();
    std::fs::write(shoot.join("day2/b.png"), png_bytes(240, 320)).unwrap();
    std::fs::write(shoot.join(".hidden.png"), png_bytes(8, 8)).unwrap();
    std::fs::write(shoot.join(".thumbs/c.png"), png_bytes(8, 8)).unwrap();
    std::fs::write(shoot.join("notes.txt"), "not an image").unwrap();

    // Act
    let outcomes = run(dir.path(), std::slice::from_ref(&shoot));

    // Assert
    let files: Vec<(String, Status)> = outcomes
        .iter()
        .map(|o| (o.file.clone(), o.status))
        .collect();
    assert_eq!(
        files,
        vec![
            (shoot.join("a.png").display().to_string(), Status::Processed),
            (
                shoot.join("day2/b.png").display().to_string(),
                Status::Processed
            ),
        ]
    );
    let uploads = dir.path().join("data/buckets/uploads");
    assert!(uploads.join("shoot/day2/b.png").is_file());
    assert!(uploads.join("thumbnails/shoot/day2/b.png").is_file());
    assert!(!uploads.join("shoot/.hidden.png").exists());
    let summary = report::summary(&outcomes, Duration::from_millis(1500));
    assert_eq!(summary, "processed 2, flagged 0, failed 0 in 1.5s");
}

#[test]
fn an_interrupted_run_uploads_nothing_more_and_says_so() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
    image.save(&photo).unwrap();
    let settings = process_settings(&env_for(dir.path())).unwrap();

    // Act: Ctrl-C came before the first upload.
    let interrupt = crate::startup::Interrupt::raised_already();
    let outcomes = actix_web::rt::System::new()
        .block_on(process_files_until(settings, &[photo], &interrupt))
        .unwrap();

    // Assert
    assert_eq!(outcomes[0].status, Status::Incomplete);
    let detail = outcomes[0].detail.as_deref().unwrap_or_default();
    assert!(detail.contains("interrupted"), "{detail}");
}
