//! Memory admission over HTTP: a job takes its estimated peak from the budget before it
//! downloads anything; a bomb never downloads, a download never goes past the size admitted,
//! a job larger than this instance's budget answers 503 (a valid image: another instance may
//! run it), and a job that finds the budget busy answers 503 and succeeds when it comes back.

use crate::helpers::*;
use crate::metrics::{sample, scrape};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The smallest budget the settings allow; every job needs at least 8 MiB of fixed overhead,
/// so two jobs never fit at once.
const BUDGET: &str = "16777216";
const IN_USE: &str = "image_pipeline_memory_budget_in_use_bytes ";

/// A real 4x4 PNG whose header is patched to declare `width`x`height`.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = png_with_alpha(4, 4);
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    png
}

#[actix_web::test]
async fn a_bomb_is_rejected_from_its_header_without_being_downloaded() {
    // Arrange
    let app = spawn_app(&[]).await;
    let bomb = png_declaring(100_000, 100_000);

    // Act
    let (_, status, body) = app
        .upload_and_notify("/resize", "bomb.png", &bomb, "image/png")
        .await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected", "{body}");
    assert_eq!(
        app.store.reads.load(Ordering::SeqCst),
        0,
        "never downloaded"
    );
    assert_eq!(app.publisher.types(), vec!["image.failed"]);
}

#[actix_web::test]
async fn a_job_larger_than_this_instances_budget_comes_back_instead_of_failing_for_good() {
    // Arrange: a 2500x2500 raster alone is 18.75 MB, over the 16 MiB budget, but within
    // the configured limits: a service with more memory makes it.
    let app = spawn_app(&[("PIPELINE_SERVER__MEMORY_BUDGET_BYTES", BUDGET)]).await;

    // Act
    let (_, status, body) = app
        .upload_and_notify("/resize", "huge.jpg", &jpeg(2500, 2500), "image/jpeg")
        .await;

    // Assert
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("memory_budget_bytes"),
        "{body}"
    );
    assert_eq!(
        app.store.reads.load(Ordering::SeqCst),
        0,
        "never downloaded"
    );
    assert!(app.publisher.take().is_empty(), "no image.failed");
}

#[actix_web::test]
async fn an_object_larger_than_its_event_said_is_rejected_not_downloaded_whole() {
    // Arrange: the event says 100 bytes; the object has thousands (a transcoded gzip, a
    // server that sends more than the object).
    let app = spawn_app(&[]).await;
    let meta = jpeg_meta();
    let mut info = app.store.insert(BUCKET, "liar.jpg", &jpeg(64, 64), &meta);
    info.size_bytes = 100;

    // Act
    let (status, body) = app
        .storage_event("/resize", FINALIZED, &info, &next_event_id())
        .await;

    // Assert
    assert_eq!(status, 200);
    assert_eq!(body["outcome"], "rejected", "{body}");
    assert_eq!(app.publisher.types(), vec!["image.failed"]);
}

#[actix_web::test]
async fn a_job_that_finds_the_budget_busy_answers_503_and_succeeds_when_redelivered() {
    // Arrange: downloads stall until the test opens the gate; waits for room last 2 s.
    let app = spawn_app(&[
        ("PIPELINE_SERVER__MEMORY_BUDGET_BYTES", BUDGET),
        ("PIPELINE_SERVER__HANDLER_DEADLINE_SECS", "4"),
    ])
    .await;
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    *app.store.read_gate.lock().unwrap() = Some(gate.clone());
    let info = app
        .store
        .insert(BUCKET, "first.jpg", &jpeg(64, 64), &jpeg_meta());
    let first = {
        let app = app.clone();
        let id = next_event_id();
        actix_web::rt::spawn(
            async move { app.storage_event("/resize", FINALIZED, &info, &id).await },
        )
    };
    wait_until_admitted(&app).await;

    // Act
    let (second, busy, busy_body) = app
        .upload_and_notify("/resize", "second.jpg", &jpeg(64, 64), "image/jpeg")
        .await;
    gate.add_permits(2);
    let (first_status, first_body) = first.await.unwrap();
    let (again, again_body) = app
        .storage_event("/resize", FINALIZED, &second, &next_event_id())
        .await;

    // Assert
    assert_eq!(busy, 503, "{busy_body}");
    assert!(
        busy_body.to_string().contains("memory budget busy"),
        "{busy_body}"
    );
    assert_eq!(
        (first_status, first_body["outcome"].as_str()),
        (200, Some("processed"))
    );
    assert_eq!(
        (again, again_body["outcome"].as_str()),
        (200, Some("processed"))
    );
    assert_eq!(
        sample(&scrape(&app).await, IN_USE),
        Some(0.0),
        "all given back"
    );
}

fn jpeg_meta() -> image_pipeline::domain::ObjectMeta {
    image_pipeline::domain::ObjectMeta {
        content_type: "image/jpeg".into(),
        ..Default::default()
    }
}

/// Polls `/metrics` until some of the budget is in use (bounded: 5 s).
async fn wait_until_admitted(app: &TestApp) {
    for _ in 0..500 {
        if sample(&scrape(app).await, IN_USE).is_some_and(|b| b > 0.0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the first job was never admitted");
}
