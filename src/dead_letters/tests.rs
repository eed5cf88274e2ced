//! Local replay on a temp data dir: deliveries dead-lettered while nothing listened are
//! replayed in-process, and the record ends as a run without failures leaves it.

use super::*;
use crate::backends::Backends;
use crate::config::EnvMap;
use crate::domain::WireOutcome;
use crate::domain::{ObjectMeta, RecordKey, RecordStatus, Verdict, WriteCondition};
use std::path::Path;

fn settings(dir: &Path) -> Settings {
    let env = EnvMap::from([
        (
            "PIPELINE_CONFIG_DIR".into(),
            dir.join("none").display().to_string(),
        ),
        (
            "PIPELINE_LOCAL__DATA_DIR".into(),
            dir.join("data").display().to_string(),
        ),
        ("PIPELINE_LOCAL__DELIVERY_MAX_ATTEMPTS".into(), "1".into()),
        ("PIPELINE_LOCAL__DELIVERY_TIMEOUT_SECS".into(), "2".into()),
        // No model here: the expected verdict is `unmoderated` whatever the machine's cache holds.
        (
            "PIPELINE_MODERATION__MODEL_DIR".into(),
            dir.join("no-model").display().to_string(),
        ),
    ]);
    crate::process::process_settings(&env).unwrap()
}

fn png() -> bytes::Bytes {
    let image = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    bytes::Bytes::from(out.into_inner())
}

/// Uploads a photo while the event router can reach nobody: every delivery dies.
async fn upload_while_the_server_is_down(settings: &Settings) {
    let (backends, local) = Backends::from_settings(settings).await.unwrap();
    let local = local.unwrap();
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    local.start("http://127.0.0.1:9".to_owned());
    let meta = ObjectMeta {
        content_type: "image/png".into(),
        ..ObjectMeta::default()
    };
    backends
        .store
        .put("uploads", "p.png", png(), &meta, WriteCondition::Overwrite)
        .await
        .unwrap();
    assert!(local.wait_idle(Duration::from_secs(30)).await.unwrap());
    local.stop();
}

#[test]
fn replayed_dead_letters_are_removed_and_the_record_is_as_if_nothing_had_failed() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    actix_web::rt::System::new().block_on(async {
        upload_while_the_server_is_down(&settings).await;
        let before = list_local(&settings).await.unwrap();
        let paths: Vec<&str> = before.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(paths.len(), 3, "{paths:?}");

        // Act
        let replayed = replay_local(settings.clone(), None).await.unwrap();

        // Assert
        assert!(replayed.iter().all(|r| r.removed), "{replayed:?}");
        assert!(list_local(&settings).await.unwrap().is_empty());
        let (backends, _) = Backends::from_settings(&settings).await.unwrap();
        let record = backends
            .records
            .get(&RecordKey::new("uploads", "p.png"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.status, RecordStatus::Processed);
        assert_eq!(record.variants.len(), 3);
        assert!(record.thumbnail.is_some());
        assert_eq!(record.moderation.unwrap().verdict, Verdict::Unmoderated);
        assert_eq!(record.error, None);
    });
}

/// The oldest dead letter and its file.
async fn first_letter(settings: &Settings, dir: &Path) -> (DeadLetter, std::path::PathBuf) {
    let letter = list_local(settings).await.unwrap().remove(0);
    let file = dir.join(format!("data/dead-letter/{}.json", letter.delivery_id));
    (letter, file)
}

#[test]
fn a_dead_letter_whose_route_still_fails_is_kept() {
    // Arrange: the letter's route is not one this server has.
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    actix_web::rt::System::new().block_on(async {
        upload_while_the_server_is_down(&settings).await;
        let (letter, file) = first_letter(&settings, dir.path()).await;
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        json["headers"] = serde_json::json!([]);
        std::fs::write(&file, serde_json::to_vec(&json).unwrap()).unwrap();

        // Act
        let replayed = replay_local(settings.clone(), Some(&letter.delivery_id))
            .await
            .unwrap();

        // Assert
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].outcome, WireOutcome::Rejected, "{replayed:?}");
        assert!(!replayed[0].removed);
        assert!(file.is_file(), "a failed replay must keep the dead letter");
    });
}

/// Rewrites one header of a letter's file (or adds it).
fn set_header(file: &Path, name: &str, value: &str) {
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let headers = json["headers"].as_array_mut().unwrap();
    headers.retain(|pair| pair[0] != name);
    headers.push(serde_json::json!([name, value]));
    std::fs::write(file, serde_json::to_vec(&json).unwrap()).unwrap();
}

#[test]
fn a_dead_letter_of_a_type_no_route_understands_is_dropped_with_the_reason() {
    // Arrange: a letter whose event type this binary has no route for.
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    actix_web::rt::System::new().block_on(async {
        upload_while_the_server_is_down(&settings).await;
        let (letter, file) = first_letter(&settings, dir.path()).await;
        set_header(&file, "ce-type", "com.example.unknown");

        // Act
        let replayed = replay_local(settings.clone(), Some(&letter.delivery_id))
            .await
            .unwrap();

        // Assert: skipped as over HTTP, and removed: no replay could ever handle it.
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].outcome, WireOutcome::Skipped, "{replayed:?}");
        assert!(replayed[0].removed, "{replayed:?}");
        assert!(replayed[0].detail.contains("dropped"), "{replayed:?}");
        assert!(replayed[0].detail.contains("com.example.unknown"));
        assert!(!file.exists());
    });
}

#[test]
fn a_dead_letter_whose_route_is_disabled_is_kept_not_counted_as_replayed() {
    // Arrange: the letters' routes are resize, thumbnail and record; resize is switched off.
    let dir = tempfile::tempdir().unwrap();
    let all_routes = settings(dir.path());
    let mut settings = all_routes.clone();
    settings
        .routes
        .retain(|r| *r != crate::routes::RouteName::Resize);
    actix_web::rt::System::new().block_on(async {
        upload_while_the_server_is_down(&all_routes).await;
        let letter = list_local(&settings)
            .await
            .unwrap()
            .into_iter()
            .find(|l| l.path == "/resize")
            .unwrap();

        // Act
        let replayed = replay_local(settings.clone(), Some(&letter.delivery_id))
            .await
            .unwrap();

        // Assert: nothing ran for it, so it stays for when resize is back.
        assert_eq!(replayed.len(), 1);
        assert!(!replayed[0].removed, "{replayed:?}");
        assert!(replayed[0].detail.contains("not enabled"), "{replayed:?}");
        assert_eq!(list_local(&settings).await.unwrap().len(), 3);
    });
}

#[test]
fn an_interrupted_replay_replays_nothing_more_and_keeps_the_letters() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    actix_web::rt::System::new().block_on(async {
        upload_while_the_server_is_down(&settings).await;

        // Act: Ctrl-C came before the first letter.
        let interrupt = crate::startup::Interrupt::raised_already();
        let replayed = replay_local_until(settings.clone(), None, &interrupt)
            .await
            .unwrap();

        // Assert
        assert!(replayed.is_empty(), "{replayed:?}");
        assert_eq!(list_local(&settings).await.unwrap().len(), 3);
    });
}
