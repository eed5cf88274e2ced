//! `GET /metrics`: the counters move with events and the histograms have every stage.

use crate::helpers::*;
use image_pipeline::domain::SafeSearch;

pub async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample line that starts with `series` (name and labels), if any.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[actix_web::test]
async fn the_event_counter_moves_with_each_event_by_route_and_outcome() {
    let app = spawn_app(&[]).await;
    let processed = r#"image_pipeline_events_total{route="resize",outcome="processed"}"#;
    let duplicate = r#"image_pipeline_events_total{route="resize",outcome="duplicate"}"#;
    assert_eq!(sample(&scrape(&app).await, processed), None);

    let (info, _, _) = app
        .upload_and_notify("/resize", "a.jpg", &jpeg(640, 480), "image/jpeg")
        .await;
    let after_one = scrape(&app).await;
    app.storage_event("/resize", FINALIZED, &info, &next_event_id())
        .await;
    let after_two = scrape(&app).await;

    assert_eq!(sample(&after_one, processed), Some(1.0), "{after_one}");
    assert_eq!(sample(&after_two, processed), Some(1.0), "{after_two}");
    assert_eq!(sample(&after_two, duplicate), Some(1.0), "{after_two}");
    let handled = r#"image_pipeline_event_duration_seconds_count{route="resize"}"#;
    assert_eq!(sample(&after_two, handled), Some(2.0), "{after_two}");
}

#[actix_web::test]
async fn the_stage_histograms_have_every_stage_of_the_pipeline() {
    let app = spawn_app_with_moderator(&[], Some(SafeSearch::default())).await;

    let (info, status, _) = app
        .upload_and_notify("/resize", "b.jpg", &jpeg(1200, 800), "image/jpeg")
        .await;
    assert_eq!(status, 200);
    app.storage_event("/record", FINALIZED, &info, &next_event_id())
        .await;
    for event in app.publisher.take() {
        for path in ["/moderate", "/record"] {
            let (status, _) = app.deliver(path, &event, &next_event_id()).await;
            assert_eq!(status, 200);
        }
    }
    let text = scrape(&app).await;

    for (route, stage) in [
        ("resize", "download"),
        ("resize", "decode"),
        ("resize", "resize"),
        ("resize", "encode"),
        ("resize", "upload"),
        ("resize", "publish"),
        ("moderate", "moderate"),
        ("record", "record"),
    ] {
        let series = format!(
            r#"image_pipeline_stage_duration_seconds_count{{route="{route}",stage="{stage}"}}"#
        );
        let count = sample(&text, &series).unwrap_or(0.0);
        assert!(count >= 1.0, "no {stage} timing for {route}:\n{text}");
    }
}

#[actix_web::test]
async fn a_malformed_event_is_counted_as_rejected_and_nothing_stays_in_flight() {
    let app = spawn_app(&[]).await;

    let response = app
        .client
        .post(format!("{}/resize", app.address))
        .header("ce-specversion", "1.0")
        .body("{}")
        .send()
        .await
        .unwrap();
    let text = scrape(&app).await;

    assert_eq!(response.status(), 200);
    let rejected = r#"image_pipeline_events_total{route="resize",outcome="rejected"}"#;
    assert_eq!(sample(&text, rejected), Some(1.0), "{text}");
    // The scrape itself is not an event request.
    assert_eq!(
        sample(&text, "image_pipeline_requests_in_flight "),
        Some(0.0)
    );
    assert!(
        text.contains("image_pipeline_memory_budget_in_use_bytes"),
        "{text}"
    );
}
