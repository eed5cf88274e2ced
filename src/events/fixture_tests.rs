//! Every reference fixture under `../shared/gcp-event-fixtures/` (read in place, never
//! copied into the repo) must parse into its typed payload: the data-only files as
//! binary-mode bodies, the full CloudEvents through structured mode and back through
//! binary mode. A fixture missing from the table fails `every_fixture_file_is_covered`.

use std::path::{Path, PathBuf};

use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;

use super::{EventData, parse, types};
use crate::cloudevent::CloudEvent;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/gcp-event-fixtures");

/// How a fixture file is delivered.
enum Mode {
    /// Only the data: sent as a binary-mode body with this `ce-type`.
    Data(&'static str),
    /// A full CloudEvent JSON object: sent in structured mode.
    Structured,
}

/// What the parsed payload must contain.
enum Expect {
    Storage {
        bucket: &'static str,
        name: &'static str,
        generation: i64,
        size: u64,
    },
    PubSub {
        message_id: &'static str,
        data: &'static [u8],
        attr1: Option<&'static str>,
    },
    Firestore {
        document: &'static str,
        value_fields: usize,
    },
    Audit {
        service: &'static str,
        method: &'static str,
    },
}

use Expect::*;
use Mode::*;

const GCE: &str = "google-cloudevents";
const CONF: &str = "functions-framework-conformance/events/generate/data";

const fn storage(bucket: &'static str, name: &'static str, generation: i64, size: u64) -> Expect {
    Storage {
        bucket,
        name,
        generation,
        size,
    }
}
const fn message(id: &'static str, data: &'static [u8], attr1: Option<&'static str>) -> Expect {
    PubSub {
        message_id: id,
        data,
        attr1,
    }
}

const SIMPLE_OBJECT: Expect = storage("some-bucket", "folder/Test.cs", 1_587_627_537_231_057, 352);
const SAMPLE_OBJECT: Expect = storage(
    "sample-bucket",
    "folder/Test.cs",
    1_587_627_537_231_057,
    352,
);
const COMPLEX_OBJECT: Expect = storage("sample-bucket", "MyFile", 96_883_251, 0);
const BINARY_MESSAGE: Expect = message("message-id", &[1, 2, 3, 4], None);
const TEXT_MESSAGE: Expect = message("message-id", b"test message 3", Some("attr1-value"));
const CONFORMANCE_ID: &str = "aaaaaa-1111-bbbb-2222-cccccccccccc";
const CONFORMANCE_BINARY: Expect = message(CONFORMANCE_ID, &[1, 2, 3, 4], None);
const CONFORMANCE_TEXT: Expect = message(CONFORMANCE_ID, b"test message 3", Some("attr1-value"));
const SIMPLE_DOC: Expect = Firestore {
    document: "projects/project-id/databases/(default)/documents/gcf-test/2Vm2mI1d0wIaK2Waj5to",
    value_fields: 3,
};
const COMPLEX_DOC: Expect = Firestore {
    document: "projects/project-id/databases/(default)/documents/gcf-test/IH75dRdeYJKd4uuQiqch",
    value_fields: 10,
};
const BIGQUERY: Expect = Audit {
    service: "bigquery.googleapis.com",
    method: "jobservice.jobcompleted",
};
const CREATE_TOPIC: Expect = Audit {
    service: "pubsub.googleapis.com",
    method: "google.pubsub.v1.Publisher.CreateTopic",
};
const MONITORING: Expect = Audit {
    service: "monitoring.googleapis.com",
    method: "google.monitoring.v3.MetricService.CreateTimeSeries",
};

/// Every fixture file (the `-legacy-` ones aside), how it is sent and what it holds.
#[rustfmt::skip]
fn fixtures() -> Vec<(String, Mode, Expect)> {
    use types::{AUDIT_LOG_WRITTEN as AUDIT, PUBSUB_PUBLISHED as PUBSUB};
    let t = |p: &str| format!("{GCE}/testdata/google/events/cloud/{p}");
    let b = |p: &str| format!("{GCE}/examples/binary/{p}");
    let s = |p: &str| format!("{GCE}/examples/structured/{p}");
    let c = |p: &str| format!("{CONF}/{p}");
    let mut table = vec![
        (t("storage/v1/StorageObjectData-simple.json"), Data(types::STORAGE_FINALIZED), SIMPLE_OBJECT),
        (t("storage/v1/StorageObjectData-complex.json"), Data(types::STORAGE_DELETED), COMPLEX_OBJECT),
        (b("storage/StorageObjectData-simple.json"), Data(types::STORAGE_FINALIZED), SAMPLE_OBJECT),
        (b("storage/StorageObjectData-complex.json"), Data(types::STORAGE_ARCHIVED), COMPLEX_OBJECT),
        (t("pubsub/v1/MessagePublishedData-binary.json"), Data(PUBSUB), BINARY_MESSAGE),
        (t("pubsub/v1/MessagePublishedData-text.json"), Data(PUBSUB), TEXT_MESSAGE),
        (t("pubsub/v1/MessagePublishedData-duplicatedFields.json"), Data(PUBSUB), BINARY_MESSAGE),
        (b("pubsub/MessagePublishedData-simple.json"), Data(PUBSUB), BINARY_MESSAGE),
        (b("pubsub/MessagePublishedData-complex.json"), Data(PUBSUB), TEXT_MESSAGE),
        (t("firestore/v1/DocumentEventData-simple.json"), Data(types::FIRESTORE_UPDATED), SIMPLE_DOC),
        (t("firestore/v1/DocumentEventData-complex.json"), Data(types::FIRESTORE_WRITTEN), COMPLEX_DOC),
        (b("firestore/DocumentEventData-simple.json"), Data(types::FIRESTORE_UPDATED), SIMPLE_DOC),
        (b("firestore/DocumentEventData-complex.json"), Data(types::FIRESTORE_CREATED), COMPLEX_DOC),
        (t("audit/v1/LogEntryData-bigqueryjobcompleted.json"), Data(AUDIT), BIGQUERY),
        (t("audit/v1/LogEntryData-pubsubCreateTopic.json"), Data(AUDIT), CREATE_TOPIC),
        (t("audit/v1/LogEntryData-monitoringCreateTimeSeries.json"), Data(AUDIT), MONITORING),
        (b("audit/LogEntryData-bigqueryjobcompleted.json"), Data(AUDIT), BIGQUERY),
        (b("audit/LogEntryData-pubsubCreateTopic.json"), Data(AUDIT), CREATE_TOPIC),
        (s("storage/StorageObjectDataWorkflows.json"), Structured, COMPLEX_OBJECT),
        (s("pubsub/MessagePublishedData.json"), Structured, TEXT_MESSAGE),
        (s("audit/LogEntryData-bigqueryjobcompleted.json"), Structured, BIGQUERY),
    ];
    // The conformance outputs are what a framework hands back after a round trip (the
    // Pub/Sub ones lose `subscription`); they are full CloudEvents too.
    for side in ["input", "output"] {
        table.extend([
            (c(&format!("storage-cloudevent-{side}.json")), Structured, SIMPLE_OBJECT),
            (c(&format!("pubsub_text-cloudevent-{side}.json")), Structured, CONFORMANCE_TEXT),
            (c(&format!("pubsub_binary-cloudevent-{side}.json")), Structured, CONFORMANCE_BINARY),
            (c(&format!("firestore_simple-cloudevent-{side}.json")), Structured, SIMPLE_DOC),
            (c(&format!("firestore_complex-cloudevent-{side}.json")), Structured, COMPLEX_DOC),
        ]);
    }
    table
}

fn read(relative: &str) -> Bytes {
    let path = Path::new(ROOT).join(relative);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("fixture {} must be readable: {e}", path.display()));
    Bytes::from(bytes)
}

fn structured_event(body: Bytes) -> CloudEvent {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/cloudevents+json"),
    );
    CloudEvent::from_http(&headers, body).unwrap()
}

/// Sends the event again in binary mode, as the local router would, and parses it back.
fn through_binary_mode(event: &CloudEvent) -> CloudEvent {
    let mut headers = HeaderMap::new();
    for (name, value) in event.binary_headers() {
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    CloudEvent::from_http(&headers, event.data.clone()).unwrap()
}

fn check(file: &str, data: EventData, expect: &Expect) {
    match (data, expect) {
        (
            EventData::Storage(o),
            Storage {
                bucket,
                name,
                generation,
                size,
            },
        ) => {
            assert_eq!(
                (o.bucket.as_str(), o.name.as_str()),
                (*bucket, *name),
                "{file}"
            );
            assert_eq!(
                (o.generation, o.size),
                (Some(*generation), Some(*size)),
                "{file}"
            );
        }
        (
            EventData::PubSub(m),
            PubSub {
                message_id,
                data,
                attr1,
            },
        ) => {
            assert_eq!(m.message.message_id.as_deref(), Some(*message_id), "{file}");
            assert_eq!(m.decoded_data().unwrap(), data.to_vec(), "{file}");
            assert_eq!(m.attribute("attr1"), *attr1, "{file}");
        }
        (
            EventData::Firestore(d),
            Firestore {
                document,
                value_fields,
            },
        ) => {
            let value = d.value.unwrap_or_else(|| panic!("{file}: value"));
            assert_eq!(value.name, *document, "{file}");
            assert_eq!(value.fields.len(), *value_fields, "{file}");
            assert!(value.update_time.is_some(), "{file}");
        }
        (EventData::Audit(a), Audit { service, method }) => {
            let payload = a
                .proto_payload
                .unwrap_or_else(|| panic!("{file}: protoPayload"));
            assert_eq!(payload.service_name.as_deref(), Some(*service), "{file}");
            assert_eq!(payload.method_name.as_deref(), Some(*method), "{file}");
            assert!(a.timestamp.is_some(), "{file}");
        }
        (other, _) => panic!("{file}: parsed into the wrong payload kind: {other:?}"),
    }
}

#[test]
fn every_reference_fixture_parses_into_its_typed_payload() {
    for (file, mode, expect) in fixtures() {
        // Arrange
        let body = read(&file);
        let event = match mode {
            Data(ty) => {
                CloudEvent::new("1", "//fixture", ty, body, Some("application/json".into()))
            }
            Structured => through_binary_mode(&structured_event(body)),
        };

        // Act
        let data = parse(&event).unwrap_or_else(|e| panic!("{file}: {e}"));

        // Assert
        check(&file, data, &expect);
    }
}

#[test]
fn structured_fixtures_keep_their_attributes_and_extensions() {
    let audit = structured_event(read(&format!(
        "{GCE}/examples/structured/audit/LogEntryData-bigqueryjobcompleted.json"
    )));
    let storage = structured_event(read(&format!("{CONF}/storage-cloudevent-input.json")));

    assert_eq!(audit.ty, types::AUDIT_LOG_WRITTEN);
    assert_eq!(audit.media_type(), Some("application/json"));
    assert_eq!(
        audit.extensions.get("servicename").map(String::as_str),
        Some("bigquery.googleapis.com")
    );
    assert!(audit.dataschema.is_some());
    assert_eq!(storage.id, "aaaaaa-1111-bbbb-2222-cccccccccccc");
    assert_eq!(storage.subject.as_deref(), Some("objects/folder/Test.cs"));
    assert_eq!(storage.time.as_deref(), Some("2020-09-29T11:32:00.123Z"));
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("fixture folder {} must exist: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_file_is_covered() {
    let mut found = Vec::new();
    json_files(Path::new(ROOT), &mut found);
    let covered: Vec<String> = fixtures().into_iter().map(|(file, _, _)| file).collect();

    let missing: Vec<_> = found
        .iter()
        .filter_map(|p| {
            p.strip_prefix(ROOT)
                .ok()?
                .to_str()
                .map(|s| s.trim_start_matches('/').to_owned())
        })
        // The legacy files are the pre-CloudEvents GCF background format (README there).
        .filter(|rel| !rel.contains("-legacy-"))
        .filter(|rel| !covered.contains(rel))
        .collect();

    assert!(
        found.len() > 30,
        "expected the whole fixture tree, found {}",
        found.len()
    );
    assert!(missing.is_empty(), "fixtures with no test: {missing:?}");
}
