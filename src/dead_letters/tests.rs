//! Local replay on a temp data dir: deliveries dead-lettered while nothing listened are
//! replayed in-process, and the record ends as a run without failures leaves it.

use super::*;
use crate::backends::Backends;
use crate::config::EnvMap;
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
        assert_eq!(paths.len(), 4, "{paths:?}");

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

#[test]
fn a_dead_letter_whose_route_still_fails_is_kept() {
    // Arrange: the letter's route is not one this server has.
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path());
    actix_web::rt::System::new().block_on(async {
        upload_while_the_server_is_down(&settings).await;
        let letter = list_local(&settings).await.unwrap().remove(0);
        let file = dir
            .path()
            .join(format!("data/dead-letter/{}.json", letter.delivery_id));
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
