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
        frames: None,
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
                summary: None,
                srcset: Default::default(),
            },
        ),
        event(
            7,
            "c",
            StageUpdate::Thumbnailed {
                thumbnail: variant("thumbnail"),
                formats: vec![],
                placeholder: None,
                warnings: vec![],
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
                    reused_from: None,
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

fn failed(stage: &str, id: &str) -> StageEvent {
    event(
        7,
        id,
        StageUpdate::Failed {
            failed_stage: stage.to_owned(),
            reason: "out of memory budget".to_owned(),
        },
    )
}

#[test]
fn a_later_successful_run_of_the_failed_stage_clears_its_error() {
    // Arrange: resize failed; a later run of resize (a backfill, a replayed dead letter)
    // succeeds, and the other stages were fine all along.
    let mut run = full_run(Verdict::Safe);
    let resized = run.remove(1);
    run.insert(0, failed("resize", "f"));
    run.push(resized);

    // Act
    let record = replay(&run);

    // Assert
    assert_eq!(record.error, None);
    assert_eq!(record.status, RecordStatus::Processed);
}

#[test]
fn a_success_of_another_stage_keeps_the_error() {
    let mut run = vec![failed("thumbnail", "f")];
    run.extend(
        full_run(Verdict::Safe)
            .into_iter()
            .filter(|e| !matches!(e.update, StageUpdate::Thumbnailed { .. })),
    );

    let record = replay(&run);

    assert_eq!(
        record.error.as_deref(),
        Some("thumbnail: out of memory budget")
    );
    assert_eq!(record.status, RecordStatus::Failed);
}

#[test]
fn every_stage_that_clears_its_error_names_its_route_and_writes_the_error_field() {
    use crate::routes::{MODERATE, RESIZE, THUMBNAIL};
    let run = full_run(Verdict::Safe);
    let stages = [(&run[1], RESIZE), (&run[2], THUMBNAIL), (&run[3], MODERATE)];

    for (stage_event, route) in stages {
        let update = &stage_event.update;
        assert_eq!(update.failed_stage_it_succeeds(), Some(route.name));
        // The Firestore update mask: a cleared error must be written too.
        assert!(update.field_names().contains(&"error"), "{update:?}");
    }
    assert_eq!(run[0].update.failed_stage_it_succeeds(), None);
}
