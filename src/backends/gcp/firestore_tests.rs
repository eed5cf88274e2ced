//! Firestore records and ledger against wiremock: the exact commit bodies (update masks per
//! stage, server timestamps, preconditions), the generation guard, and conflict re-reads.

use super::FirestoreRecords;
use super::firestore::ledger_id;
use super::firestore_value::RECORD_FIELDS;
use super::test_support::context;
use crate::backends::Records;
use crate::domain::{
    ApplyResult, ImageRecord, RecordKey, RecordStatus, StageEvent, StageUpdate, VariantInfo,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROOT: &str = "/v1/projects/test-project/databases/(default)/documents";
const NAME: &str =
    "projects/test-project/databases/(default)/documents/images/uploads%2Fdir%2Fa.png";
/// The document id `uploads%2Fdir%2Fa.png` escaped once more as a URL path segment.
const DOC_PATH: &str =
    "/v1/projects/test-project/databases/(default)/documents/images/uploads%252Fdir%252Fa.png";
const UPDATE_TIME: &str = "2026-11-25T04:00:00.123456Z";

fn key() -> RecordKey {
    RecordKey::new("uploads", "dir/a.png")
}

fn event(generation: i64, update: StageUpdate) -> StageEvent {
    StageEvent {
        key: key(),
        generation,
        event_id: "evt-1".to_owned(),
        update,
    }
}

fn thumbnailed() -> StageUpdate {
    StageUpdate::Thumbnailed {
        thumbnail: VariantInfo {
            size: "thumbnail".to_owned(),
            bucket: "uploads".to_owned(),
            name: "thumbnails/dir/a.png".to_owned(),
            width: 200,
            height: 200,
            bytes: 1234,
            format: "png".to_owned(),
            frames: None,
        },
        formats: vec![],
        placeholder: None,
        warnings: vec![],
    }
}

fn thumbnail_value() -> Value {
    json!({"mapValue": {"fields": {
        "size": {"stringValue": "thumbnail"}, "bucket": {"stringValue": "uploads"},
        "name": {"stringValue": "thumbnails/dir/a.png"}, "width": {"integerValue": "200"},
        "height": {"integerValue": "200"}, "bytes": {"integerValue": "1234"},
        "format": {"stringValue": "png"}}}})
}

/// A stored document for generation 10 with an upload stage applied.
fn stored(generation: i64) -> Value {
    json!({
        "name": NAME,
        "fields": {
            "bucket": {"stringValue": "uploads"}, "name": {"stringValue": "dir/a.png"},
            "generation": {"integerValue": generation.to_string()},
            "contentType": {"stringValue": "image/png"}, "sizeBytes": {"integerValue": "999"},
            "status": {"stringValue": "pending"}, "variants": {"arrayValue": {}},
            "warnings": {"arrayValue": {}}, "deleted": {"booleanValue": false},
            "createdAt": {"timestampValue": "2026-11-25T03:00:00Z"},
            "updatedAt": {"timestampValue": UPDATE_TIME},
        },
        "createTime": "2026-11-25T03:00:00Z",
        "updateTime": UPDATE_TIME,
    })
}

async fn records(server: &MockServer) -> FirestoreRecords {
    FirestoreRecords::new(context(&server.uri()).await, "images")
}

async fn mount_get(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(DOC_PATH))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn first_stage_creates_the_record_with_every_field_and_server_timestamps() {
    let server = MockServer::start().await;
    mount_get(&server, ResponseTemplate::new(404)).await;
    let expected = json!({"writes": [{
        "update": {"name": NAME, "fields": {
            "bucket": {"stringValue": "uploads"}, "name": {"stringValue": "dir/a.png"},
            "generation": {"integerValue": "10"}, "status": {"stringValue": "pending"},
            "variants": {"arrayValue": {}}, "thumbnail": thumbnail_value(),
            "warnings": {"arrayValue": {}}, "deleted": {"booleanValue": false},
            "lastEventId": {"stringValue": "evt-1"},
        }},
        "updateMask": {"fieldPaths": RECORD_FIELDS},
        "updateTransforms": [
            {"fieldPath": "updatedAt", "setToServerValue": "REQUEST_TIME"},
            {"fieldPath": "createdAt", "setToServerValue": "REQUEST_TIME"},
        ],
        "currentDocument": {"exists": false},
    }]});
    Mock::given(method("POST"))
        .and(path(format!("{ROOT}:commit")))
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;

    let result = records(&server)
        .await
        .apply(&event(10, thumbnailed()))
        .await
        .unwrap();

    assert_eq!(result, ApplyResult::Applied);
}

#[tokio::test]
async fn a_later_stage_writes_only_its_fields_guarded_by_the_read_update_time() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        ResponseTemplate::new(200).set_body_json(stored(10)),
    )
    .await;
    let expected = json!({"writes": [{
        "update": {"name": NAME, "fields": {
            "thumbnail": thumbnail_value(), "status": {"stringValue": "pending"},
            "lastEventId": {"stringValue": "evt-1"},
        }},
        "updateMask": {"fieldPaths": [
            "thumbnail", "thumbnailFormats", "thumbnailPlaceholder", "thumbnailWarnings",
            "error", "status", "lastEventId",
        ]},
        "updateTransforms": [{"fieldPath": "updatedAt", "setToServerValue": "REQUEST_TIME"}],
        "currentDocument": {"updateTime": UPDATE_TIME},
    }]});
    Mock::given(method("POST"))
        .and(path(format!("{ROOT}:commit")))
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;

    let result = records(&server)
        .await
        .apply(&event(10, thumbnailed()))
        .await
        .unwrap();

    assert_eq!(result, ApplyResult::Applied);
}

#[tokio::test]
async fn an_event_for_an_older_generation_writes_nothing() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        ResponseTemplate::new(200).set_body_json(stored(10)),
    )
    .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;

    let result = records(&server)
        .await
        .apply(&event(9, thumbnailed()))
        .await
        .unwrap();

    assert_eq!(result, ApplyResult::Stale);
}

#[tokio::test]
async fn a_newer_generation_rewrites_every_field_so_old_stage_fields_are_cleared() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        ResponseTemplate::new(200).set_body_json(stored(10)),
    )
    .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;

    records(&server)
        .await
        .apply(&event(11, thumbnailed()))
        .await
        .unwrap();

    let commit: Value = server.received_requests().await.unwrap()[1]
        .body_json()
        .unwrap();
    let write = &commit["writes"][0];
    assert_eq!(write["updateMask"]["fieldPaths"], json!(RECORD_FIELDS));
    assert_eq!(
        write["update"]["fields"]["generation"],
        json!({"integerValue": "11"})
    );
    assert!(
        write["update"]["fields"].get("contentType").is_none(),
        "cleared by the mask"
    );
    assert_eq!(write["currentDocument"], json!({"updateTime": UPDATE_TIME}));
    assert_eq!(
        write["updateTransforms"].as_array().unwrap().len(),
        1,
        "createdAt kept"
    );
}

#[tokio::test]
async fn a_precondition_conflict_re_reads_and_commits_again() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DOC_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(stored(10)))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": 400, "message": "the stored version does not match", "status": "FAILED_PRECONDITION"}})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;

    let result = records(&server)
        .await
        .apply(&event(10, thumbnailed()))
        .await
        .unwrap();

    assert_eq!(result, ApplyResult::Applied);
}

#[tokio::test]
async fn losing_the_race_to_create_re_reads_and_updates_the_winner_document() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DOC_PATH))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_get(
        &server,
        ResponseTemplate::new(200).set_body_json(stored(10)),
    )
    .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"error": {
            "code": 409, "message": "Document already exists", "status": "ALREADY_EXISTS"}})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_string_contains(UPDATE_TIME))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;

    let result = records(&server)
        .await
        .apply(&event(10, thumbnailed()))
        .await
        .unwrap();

    assert_eq!(result, ApplyResult::Applied);
}

#[tokio::test]
async fn get_maps_the_document_back_to_the_record() {
    let server = MockServer::start().await;
    mount_get(
        &server,
        ResponseTemplate::new(200).set_body_json(stored(10)),
    )
    .await;

    let record = records(&server).await.get(&key()).await.unwrap().unwrap();

    assert_eq!(
        record,
        ImageRecord {
            bucket: "uploads".to_owned(),
            name: "dir/a.png".to_owned(),
            generation: 10,
            content_type: Some("image/png".to_owned()),
            size_bytes: Some(999),
            status: RecordStatus::Pending,
            created_at: Some("2026-11-25T03:00:00Z".to_owned()),
            updated_at: Some(UPDATE_TIME.to_owned()),
            ..ImageRecord::default()
        }
    );
}

#[tokio::test]
async fn a_missing_record_is_none() {
    let server = MockServer::start().await;
    mount_get(&server, ResponseTemplate::new(404)).await;

    let record = records(&server).await.get(&key()).await.unwrap();

    assert_eq!(record, None);
}

#[tokio::test]
async fn the_ledger_marks_keys_done_with_a_ttl_and_reads_them_back() {
    let server = MockServer::start().await;
    let id = ledger_id("resize:evt-1");
    let ledger_path = format!("{ROOT}/image-pipeline-ledger/{id}");
    Mock::given(method("GET"))
        .and(path(ledger_path.as_str()))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ledger_path.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"updateTime": UPDATE_TIME})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{ROOT}:commit")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;
    let records = records(&server).await;

    let before = records.is_done("resize:evt-1").await.unwrap();
    records.mark_done("resize:evt-1").await.unwrap();
    let after = records.is_done("resize:evt-1").await.unwrap();

    assert!(!before);
    assert!(after);
    assert_eq!(id.len(), 64);
    let commit: Value = server.received_requests().await.unwrap()[1]
        .body_json()
        .unwrap();
    let write = &commit["writes"][0];
    assert_eq!(
        write["update"]["name"],
        format!("projects/test-project/databases/(default)/documents/image-pipeline-ledger/{id}")
    );
    assert_eq!(
        write["update"]["fields"]["key"],
        json!({"stringValue": "resize:evt-1"})
    );
    assert!(write["update"]["fields"]["expireAt"]["timestampValue"].is_string());
    assert_eq!(
        write["updateTransforms"],
        json!([{"fieldPath": "doneAt", "setToServerValue": "REQUEST_TIME"}])
    );
}

#[test]
fn an_animated_variants_frame_count_round_trips_and_a_still_has_none() {
    let StageUpdate::Thumbnailed {
        thumbnail: still, ..
    } = thumbnailed()
    else {
        unreachable!()
    };
    let animated = VariantInfo {
        frames: Some(12),
        ..still.clone()
    };
    let record = ImageRecord {
        variants: vec![animated, still],
        ..ImageRecord::default()
    };

    let fields = super::firestore_value::record_fields(&record);
    let back = super::firestore_value::record_from_fields(&fields);

    assert_eq!(back.variants, record.variants);
    let written = &fields["variants"]["arrayValue"]["values"];
    assert_eq!(
        written[0]["mapValue"]["fields"]["frames"]["integerValue"],
        "12"
    );
    assert!(written[1]["mapValue"]["fields"].get("frames").is_none());
}
