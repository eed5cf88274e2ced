//! The Firestore verdict index against wiremock: the upsert it commits (id, fields, the
//! server's `judgedAt`), reading an entry back, an entry of another basis under a clashing
//! id read as none, and errors classified like every Firestore call.

use super::FirestoreVerdicts;
use super::test_support::context;
use crate::backends::VerdictIndex;
use crate::domain::{IndexedVerdict, Likelihood, SafeSearch, SafeSearchCategory, Verdict};
use crate::domain::{VerdictBasis, VerdictKey};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ROOT: &str = "/v1/projects/test-project/databases/(default)/documents";
const HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn key() -> VerdictKey {
    let thresholds = BTreeMap::from([(SafeSearchCategory::Racy, Likelihood::Likely)]);
    let basis = VerdictBasis::new("vision", "resized:medium", &thresholds);
    VerdictKey::new(&format!("sha256:{HEX}"), basis).unwrap()
}

fn entry() -> IndexedVerdict {
    IndexedVerdict {
        content_hash: key().content_hash(),
        basis: key().basis.as_str().to_owned(),
        likelihoods: SafeSearch {
            racy: Likelihood::VeryLikely,
            ..SafeSearch::default()
        },
        verdict: Verdict::Flagged,
        backend: "vision".to_owned(),
        from_record: "uploads%2Fa.jpg".to_owned(),
        from_generation: 7,
        judged_at: None,
    }
}

fn doc_path() -> String {
    format!("{ROOT}/verdicts/{}", key().document_id())
}

/// The entry document the fake Firestore answers with.
async fn mount_entry(server: &MockServer, fields: Value) {
    Mock::given(method("GET"))
        .and(path(doc_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "x", "fields": fields, "updateTime": "2026-12-07T06:00:00.000Z"})))
        .mount(server)
        .await;
}

async fn index(server: &MockServer) -> FirestoreVerdicts {
    FirestoreVerdicts::new(context(&server.uri()).await, "verdicts")
}

#[tokio::test]
async fn remember_upserts_the_entry_with_a_server_timestamp_and_find_reads_it_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{ROOT}:commit")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"writeResults": [{}]})))
        .expect(1)
        .mount(&server)
        .await;
    let index = index(&server).await;

    index.remember(&key(), &entry()).await.unwrap();

    let commit: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    let write = &commit["writes"][0];
    assert!(key().document_id().starts_with(HEX));
    assert_eq!(
        write["update"]["name"],
        format!(
            "projects/test-project/databases/(default)/documents/verdicts/{}",
            key().document_id()
        )
    );
    assert!(write.get("currentDocument").is_none(), "a plain upsert");
    assert_eq!(
        write["updateTransforms"],
        json!([{"fieldPath": "judgedAt", "setToServerValue": "REQUEST_TIME"}])
    );
    let mut fields = write["update"]["fields"].clone();
    fields["judgedAt"] = json!({"timestampValue": "2026-12-07T06:00:00.000Z"});
    mount_entry(&server, fields).await;
    let found = index.find(&key()).await.unwrap().unwrap();
    assert_eq!(
        found,
        IndexedVerdict {
            judged_at: Some("2026-12-07T06:00:00.000Z".to_owned()),
            ..entry()
        }
    );
}

#[tokio::test]
async fn an_entry_of_another_basis_under_the_same_id_is_not_a_match() {
    let server = MockServer::start().await;
    let mut other = entry();
    other.basis = "vision;original;racy>=LIKELY".to_owned();
    let fields = json!({
        "contentHash": {"stringValue": other.content_hash},
        "basis": {"stringValue": other.basis},
        "likelihoods": {"mapValue": {"fields": {"racy": {"stringValue": "VERY_LIKELY"}}}},
    });
    mount_entry(&server, fields).await;

    let found = index(&server).await.find(&key()).await.unwrap();

    assert_eq!(found, None);
}

#[tokio::test]
async fn a_missing_entry_is_none_and_an_unavailable_firestore_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(doc_path()))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(doc_path()))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let index = index(&server).await;

    let missing = index.find(&key()).await.unwrap();
    let unavailable = index.find(&key()).await.unwrap_err();

    assert_eq!(missing, None);
    assert!(unavailable.is_transient(), "{unavailable}");
}
