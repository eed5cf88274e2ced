//! The local verdict index: an entry written is found by its key (full hash and basis
//! compared), replaced by a later one, and a data dir from before the index gains its table.

use super::test_support::open;
use crate::backends::VerdictIndex;
use crate::domain::{IndexedVerdict, Likelihood, SafeSearch, SafeSearchCategory, Verdict};
use crate::domain::{VerdictBasis, VerdictKey};
use std::collections::BTreeMap;
use std::sync::Arc;

const HASH: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn basis(threshold: Likelihood) -> VerdictBasis {
    let thresholds = BTreeMap::from([(SafeSearchCategory::Racy, threshold)]);
    VerdictBasis::new("vision", "resized:medium", &thresholds)
}

fn entry(key: &VerdictKey, from: &str) -> IndexedVerdict {
    IndexedVerdict {
        content_hash: key.content_hash(),
        basis: key.basis.as_str().to_owned(),
        likelihoods: SafeSearch {
            racy: Likelihood::Possible,
            ..SafeSearch::default()
        },
        verdict: Verdict::Safe,
        backend: "vision".to_owned(),
        from_record: from.to_owned(),
        from_generation: 7,
        judged_at: None,
    }
}

async fn remember(index: &Arc<dyn VerdictIndex>, key: &VerdictKey, from: &str) {
    index.remember(key, &entry(key, from)).await.unwrap();
}

#[tokio::test]
async fn a_remembered_verdict_is_found_by_the_same_bytes_and_basis_only() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path()).verdicts();
    let key = VerdictKey::new(HASH, basis(Likelihood::Likely)).unwrap();
    let other_thresholds = VerdictKey::new(HASH, basis(Likelihood::Possible)).unwrap();

    let before = index.find(&key).await.unwrap();
    remember(&index, &key, "uploads%2Fa.jpg").await;
    let found = index.find(&key).await.unwrap().unwrap();

    assert_eq!(before, None);
    assert_eq!(found.from_record, "uploads%2Fa.jpg");
    assert_eq!(found.likelihoods.racy, Likelihood::Possible);
    assert!(found.judged_at.is_some(), "the index says when");
    assert_eq!(index.find(&other_thresholds).await.unwrap(), None);
}

#[tokio::test]
async fn a_later_judgement_of_the_same_key_replaces_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let index = open(dir.path()).verdicts();
    let key = VerdictKey::new(HASH, basis(Likelihood::Likely)).unwrap();

    remember(&index, &key, "uploads%2Fa.jpg").await;
    remember(&index, &key, "uploads%2Fb.jpg").await;

    let found = index.find(&key).await.unwrap().unwrap();
    assert_eq!(found.from_record, "uploads%2Fb.jpg");
}

#[tokio::test]
async fn a_data_dir_of_schema_version_three_gains_the_verdict_table_on_open() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("pipeline.sqlite")).unwrap();
    conn.execute_batch("DROP TABLE verdicts").unwrap();
    conn.pragma_update(None, "user_version", 3).unwrap();
    drop(conn);

    let index = open(dir.path()).verdicts();
    let key = VerdictKey::new(HASH, basis(Likelihood::Likely)).unwrap();
    remember(&index, &key, "uploads%2Fa.jpg").await;

    assert!(index.find(&key).await.unwrap().is_some());
}
