//! Records and the ledger through SQLite: merges in any order, stale generations, concurrent
//! writers on one database, reopening.

use super::test_support::open;
use crate::domain::record::{ApplyResult, StageEvent};
use crate::domain::{RecordKey, RecordStatus, StageUpdate, VariantInfo};

fn stage(generation: i64, event_id: &str, update: StageUpdate) -> StageEvent {
    StageEvent {
        key: RecordKey::new("uploads", "a.jpg"),
        generation,
        event_id: event_id.to_owned(),
        update,
    }
}

fn variant(size: &str) -> VariantInfo {
    VariantInfo {
        size: size.to_owned(),
        bucket: "uploads".to_owned(),
        name: format!("resized/{size}/a.jpg"),
        width: 40,
        height: 30,
        bytes: 100,
        format: "jpeg".to_owned(),
        frames: None,
    }
}

#[tokio::test]
async fn record_stages_merge_through_sqlite_in_any_order_and_old_generations_are_stale() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let records = open(dir.path()).records();
    let thumbnailed = StageUpdate::Thumbnailed {
        thumbnail: variant("thumbnail"),
        formats: vec![],
        placeholder: None,
        warnings: vec![],
    };
    let resized = StageUpdate::Resized {
        width: 80,
        height: 60,
        format: "jpeg".to_owned(),
        variants: vec![variant("small")],
        warnings: vec![],
        summary: None,
        srcset: Default::default(),
    };

    // Act
    let a = records.apply(&stage(5, "e1", thumbnailed)).await.unwrap();
    let b = records.apply(&stage(5, "e2", resized)).await.unwrap();
    let c = records
        .apply(&stage(4, "e0", StageUpdate::Deleted))
        .await
        .unwrap();
    let record = records
        .get(&RecordKey::new("uploads", "a.jpg"))
        .await
        .unwrap()
        .unwrap();

    // Assert
    assert_eq!(
        (a, b, c),
        (
            ApplyResult::Applied,
            ApplyResult::Applied,
            ApplyResult::Stale
        )
    );
    assert_eq!(record.generation, 5);
    assert_eq!(record.width, Some(80));
    assert_eq!(record.thumbnail.unwrap().size, "thumbnail");
    assert_eq!(record.status, RecordStatus::Pending, "no verdict yet");
    assert!(!record.deleted);
    assert_eq!(record.last_event_id.as_deref(), Some("e2"));
    assert!(record.created_at.is_some() && record.updated_at.is_some());
    assert!(
        records
            .get(&RecordKey::new("uploads", "none.jpg"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn concurrent_stage_updates_from_two_processes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (open(dir.path()).records(), open(dir.path()).records());
    let mut tasks = Vec::new();

    for i in 0..10 {
        let records = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let update = match i {
                0 => StageUpdate::Thumbnailed {
                    thumbnail: variant("thumbnail"),
                    formats: vec![],
                    placeholder: None,
                    warnings: vec![],
                },
                1 => StageUpdate::Uploaded {
                    content_type: Some("image/jpeg".to_owned()),
                    size_bytes: 9,
                },
                _ => StageUpdate::Resized {
                    width: 80,
                    height: 60,
                    format: "jpeg".to_owned(),
                    variants: vec![variant("small")],
                    warnings: vec![],
                    summary: None,
                    srcset: Default::default(),
                },
            };
            records
                .apply(&stage(7, &format!("e{i}"), update))
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let record = one
        .get(&RecordKey::new("uploads", "a.jpg"))
        .await
        .unwrap()
        .unwrap();
    assert!(record.thumbnail.is_some());
    assert_eq!(record.size_bytes, Some(9));
    assert_eq!(record.variants.len(), 1);
}

#[tokio::test]
async fn the_ledger_remembers_done_keys_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let records = open(dir.path()).records();

    let before = records.is_done("resize|event|s|1").await.unwrap();
    records.mark_done("resize|event|s|1").await.unwrap();
    records.mark_done("resize|event|s|1").await.unwrap();
    let reopened = open(dir.path()).records();

    assert!(!before);
    assert!(reopened.is_done("resize|event|s|1").await.unwrap());
    assert!(!reopened.is_done("resize|event|s|2").await.unwrap());
}

#[test]
fn several_processes_opening_a_new_data_dir_at_once_all_succeed() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let path = dir.path().to_owned();
                std::thread::spawn(move || {
                    super::LocalRuntime::open(&super::test_support::settings(&path)).map(|_| ())
                })
            })
            .collect();

        for opener in openers {
            opener.join().unwrap().unwrap();
        }
    }
}
