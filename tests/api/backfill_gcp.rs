//! `backfill` in the gcp profile, end to end: Cloud Storage is fake-gcs-server (listing with
//! `objects.list`), Firestore and Pub/Sub the harness fakes, the handlers in-process. Objects
//! are listed, outputs written (to their own bucket); a second run writes and publishes
//! nothing. An upload named like an output is an upload here, as the routes see it.

use crate::gcp_fakes::{self, DERIVED, UPLOADS};
use crate::helpers::jpeg;
use image_pipeline::backfill::Options;
use image_pipeline::commands::backfill::backfill;

const OUTPUTS: [&str; 4] = [
    "resized/large",
    "resized/medium",
    "resized/small",
    "thumbnails",
];

fn options() -> Options {
    Options {
        bucket: UPLOADS.into(),
        prefix: String::new(),
        dry_run: false,
        rate_per_sec: 0.0,
        concurrency: 2,
        limit: None,
    }
}

#[actix_web::test]
async fn backfill_on_google_cloud_processes_each_original_once_and_a_second_run_does_nothing() {
    // Arrange: two originals, and one upload named like an output. Outputs live in their own
    // bucket, so in the upload bucket that name proves nothing: the routes process it, and
    // backfill (which once skipped it by name alone) agrees with them.
    let fakes = gcp_fakes::start().await;
    for name in ["a.jpg", "b.jpg", "thumbnails/old.jpg"] {
        fakes.upload(UPLOADS, name, jpeg(640, 480)).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data").display().to_string();
    let settings = fakes.settings(
        &fakes.url,
        &[("PIPELINE_LOCAL__DATA_DIR", data_dir.as_str())],
    );

    // Act
    let first = backfill(settings.clone(), options()).await.unwrap();
    let mut generations = Vec::new();
    for original in ["a.jpg", "b.jpg"] {
        for prefix in OUTPUTS {
            let output = format!("{prefix}/{original}");
            generations.push((output.clone(), fakes.generation(DERIVED, &output).await));
        }
    }
    let published_after_first = fakes.sink.published.lock().unwrap().len();
    let second = backfill(settings, options()).await.unwrap();

    // Assert: the first run listed 3, took all three as uploads, made every output.
    assert_eq!(
        (first.listed, first.derived_skipped, first.candidates),
        (3, 0, 3)
    );
    assert_eq!((first.processed, first.failed), (3, 0), "{first:?}");
    for (output, generation) in &generations {
        assert!(generation.is_some(), "{output} was not written");
    }
    for original in ["a.jpg", "b.jpg"] {
        assert!(fakes.record_status(UPLOADS, original).is_some());
    }
    assert!(
        fakes.exists(DERIVED, "thumbnails/thumbnails/old.jpg").await,
        "an upload named like an output was skipped by backfill but not by the routes"
    );
    assert_eq!(
        published_after_first, 6,
        "image.resized and image.thumbnailed for each upload"
    );
    // The second run: nothing failed, no output rewritten, nothing published.
    assert_eq!((second.listed, second.failed), (3, 0), "{second:?}");
    for (output, generation) in &generations {
        assert_eq!(
            &fakes.generation(DERIVED, output).await,
            generation,
            "{output}"
        );
    }
    assert_eq!(
        fakes.sink.published.lock().unwrap().len(),
        published_after_first
    );
}
