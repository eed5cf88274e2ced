//! Backfill on the local profile (temp data dir): dry run, idempotence, derived skip, no
//! loop, resume. The rate limit's own tests are in `rate.rs` (paused clock).

use super::*;
use crate::commands::backfill::backfill;
use crate::config::EnvMap;
use std::path::Path;

fn settings(dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut env = EnvMap::from([
        (
            "PIPELINE_CONFIG_DIR".into(),
            dir.join("none").display().to_string(),
        ),
        (
            "PIPELINE_LOCAL__DATA_DIR".into(),
            dir.join("data").display().to_string(),
        ),
    ]);
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    crate::process::process_settings(&env).unwrap()
}

fn options(dry_run: bool) -> Options {
    Options {
        bucket: "uploads".into(),
        prefix: String::new(),
        dry_run,
        rate_per_sec: 0.0,
        concurrency: 2,
        limit: None,
    }
}

fn png(seed: u8) -> Vec<u8> {
    let image = image::RgbImage::from_fn(200, 150, |x, y| image::Rgb([x as u8, y as u8, seed]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// Puts images straight into the bucket's folder and metadata, as if uploaded long ago
/// (`process` delivers their events; the local store is the only way in).
fn existing_images(dir: &Path, names: &[&str]) -> Vec<std::path::PathBuf> {
    let files: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let path = dir.join(name);
            std::fs::write(&path, png(i as u8)).unwrap();
            path
        })
        .collect();
    let settings = settings(dir, &[]);
    actix_web::rt::System::new()
        .block_on(crate::process::process_files(settings, &files))
        .unwrap();
    files
}

#[test]
fn a_second_run_makes_no_outputs_and_outputs_are_never_fed_back_in() {
    let dir = tempfile::tempdir().unwrap();
    existing_images(dir.path(), &["a.png", "b.png"]);
    let settings = settings(dir.path(), &[]);

    let first = actix_web::rt::System::new()
        .block_on(backfill(settings.clone(), options(false)))
        .unwrap();
    let second = actix_web::rt::System::new()
        .block_on(backfill(settings, options(false)))
        .unwrap();

    // a.png, b.png and their 3 variants + 1 thumbnail each: 10 objects, 8 derived.
    assert_eq!((first.listed, first.derived_skipped), (10, 8), "{first:?}");
    // The uploads were already handled by `process`: resize and thumbnail answer from the
    // ledger (the record route re-merges its idempotent `uploaded` stage).
    assert_eq!((first.candidates, first.failed), (2, 0), "{first:?}");
    assert_eq!(
        second.listed, 10,
        "no output of either run was added: {second:?}"
    );
    assert_eq!((second.candidates, second.failed), (2, 0), "{second:?}");
}

#[test]
fn the_dry_run_counts_objects_bytes_and_vision_calls_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = existing_images(dir.path(), &["a.png"]);
    let size = std::fs::metadata(&files[0]).unwrap().len();
    let settings = settings(dir.path(), &[]);

    let mut summary = Summary::default();
    // The service's settings carry the data folder's signing key (outputs share the bucket).
    let (objects, settings) = actix_web::rt::System::new().block_on(async {
        let app = crate::startup::Application::build(settings.clone())
            .await
            .unwrap();
        let objects = snapshot(app.state(), &options(true)).await.unwrap();
        (objects, app.state().settings.clone())
    });
    let work = plan(&settings, &options(true), objects, None, &mut summary);

    assert_eq!(work.len(), 1);
    assert_eq!(summary.candidate_bytes, size);
    assert_eq!(
        summary.vision_calls, 0,
        "moderation.backend = none calls no one"
    );
    assert_eq!(vision_cost_usd(1_000), 0.0);
    assert_eq!(vision_cost_usd(11_000), 15.0);
}

#[test]
fn an_interrupted_run_resumes_after_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    existing_images(dir.path(), &["a.png", "b.png", "c.png"]);
    let settings = settings(dir.path(), &[]);
    let cursor = cursor_path(&settings, &options(false));
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(&cursor, "b.png").unwrap();

    let summary = actix_web::rt::System::new()
        .block_on(backfill(settings, options(false)))
        .unwrap();

    assert_eq!(summary.before_cursor, 2, "{summary:?}");
    assert_eq!(summary.candidates, 1, "{summary:?}");
    assert!(!cursor.exists(), "a completed run removes its cursor");
}

#[test]
fn the_event_id_is_the_same_for_the_same_generation_and_differs_for_another() {
    let object = |generation| ObjectInfo {
        bucket: "uploads".into(),
        name: "a.png".into(),
        generation,
        size_bytes: 1,
        content_type: None,
        md5_base64: None,
        metadata: Default::default(),
    };
    let id = |g| finalized_event(&object(g)).id;

    assert_eq!(id(1), id(1));
    assert_ne!(id(1), id(2));
}

#[test]
fn a_limited_run_leaves_its_cursor_so_the_next_run_goes_on_after_it() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    existing_images(dir.path(), &["a.png", "b.png", "c.png"]);
    let settings = settings(dir.path(), &[]);
    let limited = Options {
        limit: Some(1),
        ..options(false)
    };
    let cursor = cursor_path(&settings, &limited);
    let run = || {
        actix_web::rt::System::new()
            .block_on(backfill(settings.clone(), limited.clone()))
            .unwrap()
    };

    // Act
    let first = run();
    let after_first = read_cursor(&cursor);
    let second = run();
    let after_second = read_cursor(&cursor);
    let third = run();

    // Assert: a, then b, then c; the run that reaches the end removes the cursor.
    assert_eq!(
        (first.before_cursor, first.beyond_limit),
        (0, 2),
        "{first:?}"
    );
    assert_eq!(after_first.as_deref(), Some("a.png"));
    assert_eq!(
        (second.before_cursor, second.beyond_limit),
        (1, 1),
        "{second:?}"
    );
    assert_eq!(after_second.as_deref(), Some("b.png"));
    assert_eq!(
        (third.before_cursor, third.beyond_limit),
        (2, 0),
        "{third:?}"
    );
    assert!(
        !cursor.exists(),
        "the run that finished the bucket removes its cursor"
    );
}

#[test]
fn the_plan_leaves_out_objects_whose_listed_type_is_not_an_image() {
    // Arrange: an image, a text file, a file of unknown type, one with no type at all.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path(), &[]);
    settings.moderation.backend = ModerationBackend::Vision;
    let object = |name: &str, content_type: Option<&str>| ObjectInfo {
        bucket: "uploads".into(),
        name: name.into(),
        generation: 1,
        size_bytes: 100,
        content_type: content_type.map(str::to_owned),
        md5_base64: None,
        metadata: Default::default(),
    };
    let objects = vec![
        object("a.jpg", Some("image/jpeg")),
        object("notes.txt", Some("text/plain; charset=utf-8")),
        object("blob", Some("application/octet-stream")),
        object("bare", None),
    ];
    let mut summary = Summary::default();

    // Act
    let work = plan(&settings, &options(true), objects, None, &mut summary);

    // Assert: the text file is neither a candidate, nor bytes, nor a Vision call.
    let names: Vec<&str> = work.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["a.jpg", "blob", "bare"]);
    assert_eq!(summary.not_images, 1);
    assert_eq!(summary.candidate_bytes, 300);
    assert_eq!(summary.vision_calls, 3);
}

#[test]
fn an_interrupted_run_starts_no_object_and_keeps_its_cursor() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    existing_images(dir.path(), &["a.png", "b.png"]);
    let settings = settings(dir.path(), &[]);
    let cursor = cursor_path(&settings, &options(false));

    // Act
    let summary = actix_web::rt::System::new()
        .block_on(crate::commands::backfill::backfill_until(
            settings,
            options(false),
            &crate::startup::Interrupt::raised_already(),
        ))
        .unwrap();

    // Assert
    assert_eq!(summary.candidates, 2, "{summary:?}");
    assert_eq!(summary.processed + summary.duplicate + summary.skipped, 0);
    assert!(!summary.is_complete());
    assert!(!cursor.exists() || read_cursor(&cursor).is_none());
}
