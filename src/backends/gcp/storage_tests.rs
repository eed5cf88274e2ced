//! Cloud Storage against a real emulator (fake-gcs-server, started per test), plus the
//! fault paths the emulator cannot show (wiremock).

use super::GcsStore;
use super::storage_upload::MAX_MULTIPART_BYTES;
use super::test_support::{FakeGcs, context};
use crate::backends::{BackendError, ObjectStore};
use crate::domain::object::{DERIVED_MARKER_KEY, SOURCE_GENERATION_KEY};
use crate::domain::{ObjectMeta, ObjectRef, PutOutcome, WriteCondition};
use bytes::Bytes;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BUCKET: &str = "uploads";
/// A name with a slash, a space, `%`, `#` and non-ASCII: one path segment on the wire.
const ODD_NAME: &str = "dir/cat photo 100%#1 é.png";

fn meta() -> ObjectMeta {
    ObjectMeta::derived_from(
        &ObjectRef::new(BUCKET, "src.png").at_generation(42),
        "image/png",
    )
}

async fn put(store: &GcsStore, name: &str, body: &[u8], c: WriteCondition) -> PutOutcome {
    store
        .put(BUCKET, name, Bytes::copy_from_slice(body), &meta(), c)
        .await
        .unwrap()
}

fn written(outcome: PutOutcome) -> crate::domain::ObjectInfo {
    match outcome {
        PutOutcome::Written(info) => info,
        PutOutcome::ConditionNotMet => panic!("expected the object to be written"),
    }
}

#[tokio::test]
async fn create_only_upload_writes_once_and_reports_the_second_as_condition_not_met() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);

    let first = put(&store, ODD_NAME, b"first", WriteCondition::CreateOnly).await;
    let second = put(&store, ODD_NAME, b"second", WriteCondition::CreateOnly).await;

    let info = written(first);
    assert_eq!(info.name, ODD_NAME);
    assert_eq!(second, PutOutcome::ConditionNotMet);
    let content = store.read(&ObjectRef::new(BUCKET, ODD_NAME)).await.unwrap();
    assert_eq!(&content[..], b"first");
}

#[tokio::test]
async fn upload_carries_content_type_cache_control_and_the_derived_marker() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);

    let info = written(put(&store, "thumbs/a.png", b"png", WriteCondition::CreateOnly).await);
    let stat = store
        .stat(&ObjectRef::new(BUCKET, "thumbs/a.png"))
        .await
        .unwrap();

    assert_eq!(stat, info);
    assert_eq!(stat.content_type.as_deref(), Some("image/png"));
    assert_eq!(stat.size_bytes, 3);
    assert!(stat.is_derived());
    assert_eq!(stat.metadata[DERIVED_MARKER_KEY], "true");
    assert_eq!(stat.metadata[SOURCE_GENERATION_KEY], "42");
    assert!(stat.md5_base64.is_some());
}

#[tokio::test]
async fn if_generation_match_replaces_only_the_named_generation() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    let v1 = written(put(&store, "a.jpg", b"one", WriteCondition::CreateOnly).await);

    let stale = put(
        &store,
        "a.jpg",
        b"x",
        WriteCondition::IfGenerationMatch(v1.generation + 1),
    )
    .await;
    let v2 = written(
        put(
            &store,
            "a.jpg",
            b"two",
            WriteCondition::IfGenerationMatch(v1.generation),
        )
        .await,
    );

    assert_eq!(stale, PutOutcome::ConditionNotMet);
    assert_ne!(v2.generation, v1.generation);
    let live = store.read(&ObjectRef::new(BUCKET, "a.jpg")).await.unwrap();
    assert_eq!(&live[..], b"two");
}

#[tokio::test]
async fn read_of_a_generation_and_a_prefix_return_those_bytes() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    let info = written(put(&store, ODD_NAME, b"0123456789", WriteCondition::Overwrite).await);
    let obj = ObjectRef::new(BUCKET, ODD_NAME).at_generation(info.generation);

    let whole = store.read(&obj).await.unwrap();
    let prefix = store.read_prefix(&obj, 4).await.unwrap();
    let stat = store.stat(&obj).await.unwrap();

    assert_eq!(&whole[..], b"0123456789");
    assert_eq!(&prefix[..], b"0123");
    assert_eq!(stat.generation, info.generation);
}

#[tokio::test]
async fn prefix_of_a_zero_byte_object_is_empty_and_an_untyped_upload_is_octet_stream() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    let untyped = ObjectMeta::default();
    store
        .put(
            BUCKET,
            "empty",
            Bytes::new(),
            &untyped,
            WriteCondition::CreateOnly,
        )
        .await
        .unwrap();
    let obj = ObjectRef::new(BUCKET, "empty");

    let prefix = store.read_prefix(&obj, 16).await.unwrap();
    let stat = store.stat(&obj).await.unwrap();

    assert!(prefix.is_empty());
    assert_eq!(stat.size_bytes, 0);
    assert_eq!(
        stat.content_type.as_deref(),
        Some("application/octet-stream")
    );
}

#[tokio::test]
async fn missing_object_is_not_found_and_permanent() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    let obj = ObjectRef::new(BUCKET, "gone.png");

    let read = store.read(&obj).await.unwrap_err();
    let stat = store.stat(&obj).await.unwrap_err();

    assert!(matches!(read, BackendError::NotFound { .. }), "{read:?}");
    assert!(matches!(stat, BackendError::NotFound { .. }), "{stat:?}");
    assert!(!read.is_transient());
}

#[tokio::test]
async fn delete_removes_the_object_and_reports_a_second_delete_as_false() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    let info = written(put(&store, ODD_NAME, b"bye", WriteCondition::CreateOnly).await);
    let obj = ObjectRef::new(BUCKET, ODD_NAME).at_generation(info.generation);

    let first = store.delete(&obj).await.unwrap();
    let second = store.delete(&obj).await.unwrap();

    assert!(first);
    assert!(!second);
    let gone = store
        .stat(&ObjectRef::new(BUCKET, ODD_NAME))
        .await
        .unwrap_err();
    assert!(gone.is_not_found());
}

#[tokio::test]
async fn uploads_over_eight_mib_go_resumable_and_arrive_whole() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    let body: Vec<u8> = (0..MAX_MULTIPART_BYTES + 1000)
        .map(|i| (i % 251) as u8)
        .collect();

    let info = written(put(&store, "big/raw.bin", &body, WriteCondition::CreateOnly).await);
    let back = store
        .read(&ObjectRef::new(BUCKET, "big/raw.bin"))
        .await
        .unwrap();

    assert_eq!(info.size_bytes, body.len() as u64);
    assert_eq!(back.len(), body.len());
    assert!(back[..] == body[..]);
    assert!(info.is_derived());
}

#[tokio::test]
async fn the_object_name_is_sent_as_one_encoded_segment_with_the_generation() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/b/uploads/o/dir%2Fa%20b.png"))
        .and(query_param("alt", "media"))
        .and(query_param("generation", "7"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"ok".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let store = GcsStore::new(context(&server.uri()).await);

    let body = store
        .read(&ObjectRef::new(BUCKET, "dir/a b.png").at_generation(7))
        .await
        .unwrap();

    assert_eq!(&body[..], b"ok");
}

#[tokio::test]
async fn storage_503_is_retried_and_403_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/b/uploads/o/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let object =
        serde_json::json!({"bucket": BUCKET, "name": "flaky", "generation": "5", "size": "1"});
    Mock::given(method("GET"))
        .and(path("/storage/v1/b/uploads/o/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/b/uploads/o/secret"))
        .respond_with(ResponseTemplate::new(403).set_body_json(serde_json::json!(
            {"error": {"code": 403, "message": "no storage.objects.get"}})))
        .expect(1)
        .mount(&server)
        .await;
    let store = GcsStore::new(context(&server.uri()).await);

    let flaky = store.stat(&ObjectRef::new(BUCKET, "flaky")).await.unwrap();
    let denied = store
        .stat(&ObjectRef::new(BUCKET, "secret"))
        .await
        .unwrap_err();

    assert_eq!(flaky.generation, 5);
    assert!(
        matches!(denied, BackendError::Http { status: 403, .. }),
        "{denied:?}"
    );
    assert!(!denied.is_transient());
    assert!(denied.to_string().contains("no storage.objects.get"));
}

#[tokio::test]
async fn list_returns_the_objects_under_the_prefix_with_their_metadata() {
    let gcs = FakeGcs::start(&[BUCKET]).await;
    let store = GcsStore::new(context(&gcs.url).await);
    for name in ["cats/a.png", "cats/b.png", "dogs/c.png"] {
        put(&store, name, b"png", WriteCondition::CreateOnly).await;
    }

    let page = store.list(BUCKET, "cats/", None).await.unwrap();

    let names: Vec<&str> = page.objects.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["cats/a.png", "cats/b.png"]);
    assert!(
        page.objects
            .iter()
            .all(|o| o.is_derived() && o.generation > 0)
    );
    assert_eq!(page.next_page_token, None);
}

#[tokio::test]
async fn list_sends_the_page_token_and_hands_back_the_next_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/v1/b/uploads/o"))
        .and(query_param("prefix", "p/"))
        .and(query_param("pageToken", "t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "items": [{"bucket": "uploads", "name": "p/z.png", "generation": "7"}],
            "nextPageToken": "t2"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let store = GcsStore::new(context(&server.uri()).await);

    let page = store.list(BUCKET, "p/", Some("t1")).await.unwrap();

    assert_eq!(page.objects[0].name, "p/z.png");
    assert_eq!(page.objects[0].generation, 7);
    assert_eq!(page.next_page_token.as_deref(), Some("t2"));
}
