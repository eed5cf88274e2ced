//! Backfill on the local profile (temp data dir): dry run, idempotence, derived skip, no
//! loop, resume. The rate limit's own tests are in `rate.rs` (paused clock).

use super::command::backfill;
use super::*;
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
    let objects = actix_web::rt::System::new().block_on(async {
        let app = crate::startup::Application::build(settings.clone())
            .await
            .unwrap();
        snapshot(app.state(), &options(true)).await.unwrap()
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
    let id = |g| {
        finalized_event(&object(g))
            .0
            .get("ce-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };

    assert_eq!(id(1), id(1));
    assert_ne!(id(1), id(2));
}
