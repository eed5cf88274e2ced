use super::*;
use crate::domain::moderation::SafeSearch;

fn key() -> RecordKey {
    RecordKey::new("uploads", "cats/tom.jpg")
}

fn event(generation: i64, id: &str, update: StageUpdate) -> StageEvent {
    StageEvent {
        key: key(),
        generation,
        event_id: id.to_owned(),
        update,
    }
}

fn variant(size: &str) -> VariantInfo {
    VariantInfo {
        size: size.to_owned(),
        bucket: "uploads".to_owned(),
        name: format!("resized/{size}/cats/tom.jpg"),
        width: 10,
        height: 8,
        bytes: 100,
        format: "jpeg".to_owned(),
    }
}

fn full_run(verdict: Verdict) -> Vec<StageEvent> {
    vec![
        event(
            7,
            "a",
            StageUpdate::Uploaded {
                content_type: Some("image/jpeg".to_owned()),
                size_bytes: 1234,
            },
        ),
        event(
            7,
            "b",
            StageUpdate::Resized {
                width: 40,
                height: 30,
                format: "jpeg".to_owned(),
                variants: vec![variant("large"), variant("small")],
                warnings: vec![],
            },
        ),
        event(
            7,
            "c",
            StageUpdate::Thumbnailed {
                thumbnail: variant("thumbnail"),
            },
        ),
        event(
            7,
            "d",
            StageUpdate::Moderated {
                moderation: Moderation {
                    verdict,
                    likelihoods: Some(SafeSearch::default()),
                    backend: "test".to_owned(),
                    action: None,
                    error: None,
                },
            },
        ),
    ]
}

fn permutations(items: &[StageEvent]) -> Vec<Vec<StageEvent>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

fn replay(events: &[StageEvent]) -> ImageRecord {
    let mut record = ImageRecord::new(&key(), 0);
    for e in events {
        record.apply(e);
    }
    record
}

#[test]
fn every_ordering_of_stage_events_reaches_the_same_processed_record() {
    let orders = permutations(&full_run(Verdict::Safe));
    let reference = replay(&orders[0]);

    for order in &orders {
        let record = replay(order);
        assert_eq!(record.status, RecordStatus::Processed);
        assert_eq!(record.variants, reference.variants);
        assert_eq!(record.thumbnail, reference.thumbnail);
        assert_eq!(record.size_bytes, Some(1234));
    }
    assert_eq!(orders.len(), 24);
}

#[test]
fn repeated_stage_events_change_nothing() {
    let run = full_run(Verdict::Unmoderated);
    let once = replay(&run);

    let twice: Vec<StageEvent> = run.iter().chain(run.iter()).cloned().collect();

    assert_eq!(replay(&twice).status, once.status);
    assert_eq!(replay(&twice).variants, once.variants);
    assert_eq!(once.status, RecordStatus::Processed);
}

#[test]
fn flagged_verdict_makes_the_record_flagged() {
    assert_eq!(
        replay(&full_run(Verdict::Flagged)).status,
        RecordStatus::Flagged
    );
}

#[test]
fn record_stays_pending_until_thumbnail_and_verdict_are_in() {
    let run = full_run(Verdict::Safe);
    assert_eq!(replay(&run[..2]).status, RecordStatus::Pending);
    assert_eq!(replay(&run[..3]).status, RecordStatus::Pending);
}

#[test]
fn failure_is_recorded_with_its_reason() {
    let record = replay(&[event(
        7,
        "x",
        StageUpdate::Failed {
            failed_stage: "resize".to_owned(),
            reason: "corrupt JPEG".to_owned(),
        },
    )]);
    assert_eq!(record.status, RecordStatus::Failed);
    assert_eq!(record.error.as_deref(), Some("resize: corrupt JPEG"));
}

#[test]
fn older_generation_never_overwrites_a_newer_record() {
    let mut record = replay(&full_run(Verdict::Safe));

    let result = record.apply(&event(3, "old", StageUpdate::Deleted));

    assert_eq!(result, ApplyResult::Stale);
    assert_eq!(record.status, RecordStatus::Processed);
    assert_eq!(record.generation, 7);
}

#[test]
fn newer_generation_starts_the_record_afresh() {
    let mut record = replay(&full_run(Verdict::Safe));
    record.created_at = Some("2026-01-01T00:00:00Z".to_owned());

    record.apply(&event(
        9,
        "new",
        StageUpdate::Uploaded {
            content_type: None,
            size_bytes: 5,
        },
    ));

    assert_eq!(record.generation, 9);
    assert_eq!(record.status, RecordStatus::Pending);
    assert!(record.variants.is_empty());
    assert_eq!(record.created_at.as_deref(), Some("2026-01-01T00:00:00Z"));
}

#[test]
fn delete_marks_the_record_deleted() {
    let mut run = full_run(Verdict::Safe);
    run.push(event(7, "del", StageUpdate::Deleted));
    assert_eq!(replay(&run).status, RecordStatus::Deleted);
}

#[test]
fn document_ids_have_no_slash_and_stay_within_firestore_limits() {
    let id = RecordKey::new("b", "a/b%c.jpg").document_id();
    assert_eq!(id, "b%2Fa%2Fb%25c.jpg");

    let long = RecordKey::new("b", "x/".repeat(1000)).document_id();
    assert_eq!(long.len(), 64);
    assert!(!long.contains('/'));
}
