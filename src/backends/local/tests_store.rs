//! Store semantics on a real temp data dir: create-only, generations, atomic writes, refused
//! names, deletes, and the deliveries a write queues.

use super::test_support::{meta, open, temp_files};
use crate::backends::BackendError;
use crate::domain::WriteCondition::{CreateOnly, IfGenerationMatch, Overwrite};
use crate::domain::{ObjectRef, PutOutcome};
use bytes::Bytes;

fn written(outcome: PutOutcome) -> crate::domain::ObjectInfo {
    match outcome {
        PutOutcome::Written(info) => info,
        PutOutcome::ConditionNotMet => panic!("the write was refused"),
    }
}

#[tokio::test]
async fn create_only_refuses_an_existing_object_and_keeps_its_content() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    let first = store
        .put(
            "uploads",
            "a.jpg",
            Bytes::from("first"),
            &meta("image/jpeg"),
            CreateOnly,
        )
        .await
        .unwrap();

    // Act
    let second = store
        .put(
            "uploads",
            "a.jpg",
            Bytes::from("second"),
            &meta("image/jpeg"),
            CreateOnly,
        )
        .await
        .unwrap();

    // Assert
    assert!(matches!(first, PutOutcome::Written(_)));
    assert_eq!(second, PutOutcome::ConditionNotMet);
    let content = store
        .read(&ObjectRef::new("uploads", "a.jpg"))
        .await
        .unwrap();
    assert_eq!(content, Bytes::from("first"));
    assert!(
        temp_files(dir.path()).is_empty(),
        "the refused write left a temp file"
    );
}

#[tokio::test]
async fn generations_increase_on_every_write_and_old_ones_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    let mut generations = Vec::new();

    for i in 0..20 {
        let body = Bytes::from(format!("version {i}"));
        let info = written(
            store
                .put("uploads", "a.txt", body, &meta("text/plain"), Overwrite)
                .await
                .unwrap(),
        );
        generations.push(info.generation);
    }

    assert!(
        generations.windows(2).all(|w| w[0] < w[1]),
        "{generations:?}"
    );
    let old = ObjectRef::new("uploads", "a.txt").at_generation(generations[0]);
    let live = ObjectRef::new("uploads", "a.txt").at_generation(generations[19]);
    assert!(store.read(&old).await.unwrap_err().is_not_found());
    assert_eq!(store.read(&live).await.unwrap(), Bytes::from("version 19"));
}

#[tokio::test]
async fn if_generation_match_replaces_only_the_named_generation() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    let info = written(
        store
            .put(
                "uploads",
                "a.txt",
                Bytes::from("v1"),
                &meta("text/plain"),
                CreateOnly,
            )
            .await
            .unwrap(),
    );

    let stale = store
        .put(
            "uploads",
            "a.txt",
            Bytes::from("v2"),
            &meta("text/plain"),
            IfGenerationMatch(info.generation - 1),
        )
        .await
        .unwrap();
    let current = store
        .put(
            "uploads",
            "a.txt",
            Bytes::from("v3"),
            &meta("text/plain"),
            IfGenerationMatch(info.generation),
        )
        .await
        .unwrap();

    assert_eq!(stale, PutOutcome::ConditionNotMet);
    assert!(matches!(current, PutOutcome::Written(_)));
    assert_eq!(
        store
            .read(&ObjectRef::new("uploads", "a.txt"))
            .await
            .unwrap(),
        Bytes::from("v3")
    );
}

#[tokio::test]
async fn stat_reports_size_content_type_md5_and_custom_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();
    let mut object_meta = meta("text/plain");
    object_meta.metadata.insert("k".to_owned(), "v".to_owned());
    store
        .put(
            "uploads",
            "dir/hello.txt",
            Bytes::from("hello"),
            &object_meta,
            Overwrite,
        )
        .await
        .unwrap();

    let info = store
        .stat(&ObjectRef::new("uploads", "dir/hello.txt"))
        .await
        .unwrap();
    let prefix = store
        .read_prefix(&ObjectRef::new("uploads", "dir/hello.txt"), 3)
        .await
        .unwrap();

    assert_eq!(info.size_bytes, 5);
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    // MD5("hello"), base64, as Cloud Storage reports it.
    assert_eq!(info.md5_base64.as_deref(), Some("XUFAKrxLKna5cZ2REBfFkg=="));
    assert_eq!(info.metadata["k"], "v");
    assert_eq!(prefix, Bytes::from("hel"));
    assert!(dir.path().join("buckets/uploads/dir/hello.txt").is_file());
}

#[tokio::test]
async fn names_that_would_escape_the_bucket_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).store();

    for name in [
        "../escape.txt",
        "/abs.txt",
        "a\0b",
        "a\\b",
        "C:evil.txt",
        "x/../../y",
    ] {
        let error = store
            .put(
                "uploads",
                name,
                Bytes::from("x"),
                &meta("text/plain"),
                Overwrite,
            )
            .await
            .unwrap_err();

        assert!(
            matches!(error, BackendError::Invalid(_)),
            "{name:?}: {error:?}"
        );
        assert!(!error.is_transient());
    }
    assert!(!dir.path().join("escape.txt").exists());
    assert!(!dir.path().join("buckets/escape.txt").exists());
}

#[tokio::test]
async fn delete_removes_file_and_metadata_and_a_second_delete_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let store = runtime.store();
    store
        .put(
            "uploads",
            "a.jpg",
            Bytes::from("x"),
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap();
    let queued_by_write = runtime.pending_deliveries().await.unwrap();

    let first = store
        .delete(&ObjectRef::new("uploads", "a.jpg"))
        .await
        .unwrap();
    let second = store
        .delete(&ObjectRef::new("uploads", "a.jpg"))
        .await
        .unwrap();

    assert!(first);
    assert!(!second);
    assert!(!dir.path().join("buckets/uploads/a.jpg").exists());
    assert!(
        store
            .stat(&ObjectRef::new("uploads", "a.jpg"))
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Two finalized triggers and one deleted trigger watch `uploads`.
    assert_eq!(queued_by_write, 2);
    assert_eq!(runtime.pending_deliveries().await.unwrap(), 3);
}

#[tokio::test]
async fn a_write_to_a_bucket_no_trigger_watches_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());

    runtime
        .store()
        .put(
            "other",
            "a.jpg",
            Bytes::from("x"),
            &meta("image/jpeg"),
            Overwrite,
        )
        .await
        .unwrap();

    assert_eq!(runtime.pending_deliveries().await.unwrap(), 0);
}

#[tokio::test]
async fn list_pages_through_the_prefix_in_name_order_and_ends_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = open(dir.path());
    let store = runtime.store();
    // One more than a page, under the prefix, plus one outside it.
    for i in 0..=super::store::LIST_PAGE_SIZE {
        let name = format!("p/{i:05}.png");
        store
            .put(
                "uploads",
                &name,
                Bytes::from("x"),
                &meta("image/png"),
                Overwrite,
            )
            .await
            .unwrap();
    }
    store
        .put(
            "uploads",
            "q.png",
            Bytes::from("x"),
            &meta("image/png"),
            Overwrite,
        )
        .await
        .unwrap();

    let first = store.list("uploads", "p/", None).await.unwrap();
    let token = first.next_page_token.clone().unwrap();
    let second = store.list("uploads", "p/", Some(&token)).await.unwrap();

    assert_eq!(first.objects.len(), super::store::LIST_PAGE_SIZE);
    assert_eq!(first.objects[0].name, "p/00000.png");
    let names: Vec<&str> = second.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [format!("p/{:05}.png", super::store::LIST_PAGE_SIZE)]
    );
    assert_eq!(second.next_page_token, None);
}

#[tokio::test]
async fn a_data_dir_from_before_encoded_disk_names_is_moved_on_open_and_reads_the_same() {
    // Arrange: an object written, then put back where schema version 2 kept it.
    let dir = tempfile::tempdir().unwrap();
    let name = "Trips/Photo 1.jpg";
    {
        let store = open(dir.path()).store();
        let body = Bytes::from("old bytes");
        store
            .put("uploads", name, body, &meta("image/jpeg"), Overwrite)
            .await
            .unwrap();
    }
    let bucket = dir.path().join("buckets/uploads");
    let encoded = bucket.join("%54rips/%50hoto 1.jpg");
    let raw = bucket.join("Trips/Photo 1.jpg");
    assert!(encoded.is_file(), "written under its encoded name");
    std::fs::create_dir_all(raw.parent().unwrap()).unwrap();
    std::fs::rename(&encoded, &raw).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("pipeline.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 2).unwrap();
    drop(conn);

    // Act
    let store = open(dir.path()).store();
    let read = store.read(&ObjectRef::new("uploads", name)).await;

    // Assert
    assert_eq!(read.unwrap(), Bytes::from("old bytes"));
    assert!(encoded.is_file() && !raw.exists());
}
