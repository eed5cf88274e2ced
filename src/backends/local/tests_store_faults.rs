//! How the folder store classifies file-system failures: a name the disk can never hold
//! (an object in the way of a folder, a path segment over the file system's limit) is
//! permanent for that name and leaves other names alone; a full disk is transient.

use super::store::classify_io;
use super::test_support::{meta, open, temp_files};
use crate::backends::{BackendError, ObjectStore};
use crate::domain::PutOutcome;
use crate::domain::WriteCondition::{CreateOnly, Overwrite};
use bytes::Bytes;
use std::io::Write;

async fn put(store: &dyn ObjectStore, name: &str) -> Result<PutOutcome, BackendError> {
    store
        .put(
            "uploads",
            name,
            Bytes::from("x"),
            &meta("image/jpeg"),
            CreateOnly,
        )
        .await
}

#[tokio::test]
async fn an_object_in_the_way_of_a_folder_is_a_permanent_error_for_that_name_only() {
    // Arrange: an object named like the thumbnail folder.
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    put(store.as_ref(), "thumbnails").await.unwrap();

    // Act
    let below = put(store.as_ref(), "thumbnails/cat.jpg").await.unwrap_err();
    let deeper = put(store.as_ref(), "thumbnails/a/cat.jpg")
        .await
        .unwrap_err();
    let elsewhere = put(store.as_ref(), "resized/small/cat.jpg").await;

    // Assert
    for error in [&below, &deeper] {
        assert!(matches!(error, BackendError::Invalid(_)), "{error:?}");
        assert!(!error.is_transient(), "{error}");
        assert!(error.to_string().contains("thumbnails"), "{error}");
    }
    assert!(
        matches!(elsewhere, Ok(PutOutcome::Written(_))),
        "{elsewhere:?}"
    );
    assert!(temp_files(dir.path()).is_empty());
}

#[tokio::test]
async fn a_path_segment_longer_than_the_file_system_allows_is_permanent_for_that_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    let long = format!("incoming/{}.jpg", "a".repeat(300));

    let error = put(store.as_ref(), &long).await.unwrap_err();
    let short = put(store.as_ref(), "incoming/b.jpg").await;

    assert!(matches!(error, BackendError::Invalid(_)), "{error:?}");
    assert!(!error.is_transient(), "{error}");
    assert!(error.to_string().contains("255"), "{error}");
    assert!(matches!(short, Ok(PutOutcome::Written(_))), "{short:?}");
}

#[tokio::test]
async fn an_overwrite_of_a_folder_holding_objects_stays_permanent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    put(store.as_ref(), "resized/small/cat.jpg").await.unwrap();

    let error = store
        .put(
            "uploads",
            "resized",
            Bytes::from("x"),
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap_err();

    assert!(matches!(error, BackendError::Invalid(_)), "{error:?}");
}

#[test]
fn a_full_disk_is_transient_so_the_event_comes_back_once_space_is_freed() {
    // A real ENOSPC: /dev/full refuses every write with it.
    let mut full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let enospc = full.write_all(&[0u8; 16]).and_then(|()| full.flush());
    let enospc = enospc.unwrap_err();
    assert_eq!(enospc.kind(), std::io::ErrorKind::StorageFull);

    let error = classify_io("could not write gs://uploads/a.jpg".to_owned())(enospc);

    assert!(
        matches!(error, BackendError::LocalUnavailable { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
}

#[test]
fn a_name_too_long_for_the_file_system_is_permanent_whatever_the_check_allowed() {
    // Some file systems (eCryptfs: 143 bytes) hold less than the 255 the names check allows.
    let enametoolong = std::io::Error::from_raw_os_error(36);
    assert_eq!(enametoolong.kind(), std::io::ErrorKind::InvalidFilename);

    let error = classify_io("could not write gs://uploads/a.jpg".to_owned())(enametoolong);

    assert!(matches!(error, BackendError::Invalid(_)), "{error:?}");
}
